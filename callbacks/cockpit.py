"""Callbacks of the leader cockpit (/cockpit): its cards every `COCKPIT_REFRESH_MS` (and at once
after a 督办), and the 督办 itself — one tap on an overdue case's button is the case action
`urge` through the process's one `CaseService`, answered with its result in words.

The figures are the big screen's of the process's city snapshot (made once per snapshot for every
viewer, `city_cache.derived`), the events the event index's; `ioc.views.cockpit` words them."""

from __future__ import annotations

import time

from dash import ALL, Input, Output, State, ctx, no_update

from ioc.adapters.event_index import event_index
from ioc.casework.service import CASE_REFUSALS
from ioc.domain.clock import local_text
from ioc.i18n import resolve_lang, t
from ioc.views import cockpit as view
from ioc.views.bigscreen import alarm_board, district_ranking, kpis
from ioc.web.auth import client_ip, current_principal
from ioc.web.dash_guard import secured_callback
from ioc.web.outage import notice_in
from ioc.web.people import display_names
from ioc.web.services import current_services

from callbacks.cases import departments_of, district_names, refusal_text
from layouts import cockpit as cards


def city_part(services, snapshot, lang: str) -> tuple[list, list, list]:
    """The city's figures, the districts and the alarm board of one snapshot (made once per snapshot)."""
    figures = view.city_figures(kpis(snapshot, lang), lang, services.city)
    districts = view.district_cards(district_ranking(snapshot, services.city, lang), lang)
    board = alarm_board(snapshot.alarms, snapshot.fleet.of_alarms(snapshot.alarms), services.city, snapshot.now_ms,
                        services.settings.escalation_policy(), lang, limit=view.ALARM_LIMIT,
                        people=display_names(services.users).get())
    return figures, districts, board


def refresh(_n, _changed, lang):
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    cache = services.city_cache
    snapshot = cache.snapshot()
    figures, districts, board = cache.derived(snapshot, ("cockpit", lang), lambda s: city_part(services, s, lang))
    events = event_index(services.events, services.events.store).view().events
    names = district_names(lang)
    now = int(time.time() * 1000)
    alarms = view.alarm_cards(board, events, lang)
    live = view.event_cards(events, services.events.plans, names, now, lang, display_names(services.users).get())
    # the open cases of the snapshot: a leader sees every case
    overdue = view.overdue_cases(snapshot.cases, now, names, departments_of(services.city), lang)
    return (t("cockpit_updated", lang).format(time=local_text(snapshot.now_ms, "%H:%M:%S")),
            view.summary_line(overdue, live, lang),
            cards.figure_cards(figures),
            cards.case_cards(overdue, lang) or [cards.empty("cockpit_cases_none", lang)],
            cards.alarm_cards(alarms, lang) or [cards.empty("cockpit_alarms_none", lang)],
            cards.event_cards(live, lang) or [cards.empty("cockpit_events_none", lang)],
            cards.district_cards(districts))


@notice_in("cockpit-message")
def urge(clicks, changed, lang):
    """督办 of the case whose button was tapped: the case service decides (the leader's right, an
    open case); the answer names the case, its department and how many urges it has had."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    picked = ctx.triggered_id
    if not isinstance(picked, dict) or not any(c for c in (clicks or []) if c):
        return no_update, no_update
    if not (ctx.triggered and ctx.triggered[0].get("value")):  # a button drawn again, not a tap
        return no_update, no_update
    try:
        after = services.cases.act(picked.get("case", ""), "urge", current_principal(), ip=client_ip())
    except CASE_REFUSALS as e:
        return refusal_text(e, lang), no_update
    services.city_cache.invalidate()  # the next snapshot shows the urge count
    return view.urge_done_text(after, departments_of(services.city), lang), (changed or 0) + 1


def register(app, services) -> None:
    secured_callback(
        app, "view:cockpit",
        Output("cockpit-updated", "children"), Output("cockpit-summary", "children"), Output("cockpit-city", "children"),
        Output("cockpit-cases", "children"), Output("cockpit-alarms", "children"), Output("cockpit-events", "children"),
        Output("cockpit-districts", "children"),
        Input("cockpit-tick", "n_intervals"), Input("cockpit-changed", "data"), State("lang", "data"),
    )(refresh)
    secured_callback(
        app, "view:cockpit",
        Output("cockpit-message", "children"), Output("cockpit-changed", "data"),
        Input({"type": "cockpit-urge", "case": ALL}, "n_clicks"), State("cockpit-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(urge)
