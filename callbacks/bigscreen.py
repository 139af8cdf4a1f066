"""Callbacks of the big screen: device positions once, then small live updates every tick.

Plain module-level functions reaching the process's services through `current_services()`;
`register()` only wires them (`secured_callback`: the permission, and a Redis outage as the
banner). The acknowledge and clear actions are marked with `notice_in`: on an outage their own
message line says the action was not carried out. Both go through the process's one
`AlarmStore` (`services.alarms`), which also makes the next big-screen snapshot show them.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict

from dash import ALL, Input, Output, State, ctx, html, no_update

from ioc.adapters.alarm_store import AlarmNotFound
from ioc.adapters.event_index import event_index
from ioc.domain.access import allowed
from ioc.domain.alarm_handling import AlarmActionError
from ioc.i18n import STRINGS, resolve_lang, t
from ioc.views.bigscreen import (INDICATORS, POPUP_BADGE, POPUP_HIDDEN, POPUP_OPEN, alarm_board, alarm_words_for,
                                 alarms_geojson, district_hideout, district_values, escalated_count, grid_values,
                                 kpi_texts, kpis, popup_step, ticker, water_alert)
from ioc.views.trends import TREND_PANELS, panel_figures
from ioc.web.auth import client_ip, current_principal
from ioc.web.dash_guard import secured_callback
from ioc.web.outage import notice_in
from ioc.web.people import display_names
from ioc.web.prejson import serialized_with_digest
from ioc.web.services import current_services

from callbacks import case_layer, rewind
from callbacks.rewind import replay_snapshot
from layouts.bigscreen import LEFT, RIGHT, alarm_rows, empty_row, legend_items

KEYS = LEFT + RIGHT
TICKER_ROWS = 8
TICKER_PART = 3  # the ticker's place among the big parts of `frame` (districts, alarms, grid, ticker, legend, board)


def events_live(services) -> bool:
    """Whether linked events are live (the wall is in its event mode): one GET while nothing changed."""
    return bool(event_index(services.events, services.events.store).view().live)


def message(error: Exception, lang: str) -> str:
    """A refusal from the alarm store in the page's language (by the error's code), the English
    message only for a reason without words."""
    code = getattr(error, "code", "")
    return t(code, lang).format(**getattr(error, "params", {})) if code in STRINGS else str(error)


def alarm_text(words) -> list:
    """An alarm's words as the pop-up and the clear dialog show them: the device's id secondary."""
    device = [words.device, html.Span(words.device_id, className="dev-id")] if words.device_id != words.device else [words.device]
    return [" · ".join(p for p in (words.district, words.rule) if p) + " · ", *device, f" · {words.reading_with_threshold}"]


def ticker_items(rows: list[dict], lang: str) -> list:
    """Newest first: time, severity, the device by name (its id in the tooltip) and its reading in
    words first, so a narrow row never cuts them; then what happened, the district and the rule."""
    return [
        html.Li(
            [html.Span(r["time"], className="t-time"), html.Span(t("severity_" + r["severity"], lang) if r["severity"] else "", className=f"t-sev {r['severity']}"),
             html.Span(r["device"], className="t-device", title=r["device_id"]), html.Span(r["reading"], className="t-reading"),
             html.Span(t("event_" + r["event"], lang) if r["event"] in ("raised", "cleared", "acknowledged") else r["event"], className="t-event"),
             html.Span(r["district"], className="t-district"), html.Span(r["rule"], className="t-rule")],
            className=f"ticker-row {r['event']}",
        )
        for r in rows
    ]


def lang_of(lang) -> str:
    return resolve_lang(lang, current_services().settings.lang)


def refresh(_n, indicator, lang, seen, sound, fleet_version, popup_id, popup_class, popup_since, sent=None, at=None, play=None):
    """The cards, the map layers, the ticker, the alarm board and the critical-alarm pop-up. The
    big parts (the map's layers, the ticker, the legend, the board) only when they differ from
    what this screen was last sent (`sent`: their digests, kept by the screen in `bigscreen-sent`).
    While the time control shows a moment (`at`), all of it is that moment's (no pop-up)."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    indicator = indicator if indicator in INDICATORS else INDICATORS[0]  # a forged value is not an error page
    viewer = current_principal()
    rights = (allowed(viewer, "alarm:acknowledge"), allowed(viewer, "alarm:clear"),
              services.rewind is not None and allowed(viewer, "view:rewind"))  # the board's 回溯 links
    replayed = replay_snapshot(services, at, play)
    cache = services.rewind if replayed is not None else services.city_cache
    snapshot = replayed if replayed is not None else cache.snapshot()
    # the recipe is also made ahead by the cache's own thread: it takes its services with it
    shown = cache.derived(snapshot, ("bigscreen", lang, indicator, rights), lambda s: frame(services, s, lang, indicator, *rights))
    # the pop-up follows its alarm: a newer critical replaces it, a clear or an acknowledgement
    # anywhere closes it, and on a kiosk it folds into a badge after IOC_POPUP_SECONDS
    fold_after = services.settings.popup_seconds * 1000 if viewer is not None and viewer.kind == "kiosk" else None
    step = popup_step(snapshot.alarms, seen or [], popup_id, popup_class, popup_since, snapshot.now_ms, fold_after)
    popup = step.alarm
    if replayed is not None:  # a moment of the past raises no pop-up (and closes one on show)
        popup_out = [POPUP_HIDDEN, no_update, None, no_update, None, None]
    elif step.action == "close":
        popup_out = [POPUP_HIDDEN, no_update, None, no_update, None, None]
    elif step.action == "fold":
        popup_out = [POPUP_BADGE, no_update, no_update, no_update, no_update, no_update]
    elif popup is None:
        popup_out = [no_update] * 6
    else:
        device = snapshot.fleet.by_id.get(popup.get("device_id"))
        names = {device.id: device.name} if device else {}
        text = alarm_text(alarm_words_for(popup, names, services.city, lang))
        chime = html.Audio(src="/assets/alert.wav", autoPlay=True, id="alarm-sound") if "on" in (sound or []) else None
        popup_out = [POPUP_OPEN, text, popup["id"], (seen or [])[-200:] + [popup["id"]], chime, snapshot.now_ms]
    # the offline styling (up to thousands of ids) only when the registry changed since this screen got it
    offline = {"offline": snapshot.fleet.offline, "lang": lang} if fleet_version != snapshot.registry_version else no_update
    *parts, digests = shown
    small = 2 * len(KEYS) + 1  # the cards' values, their sub-lines and the water card's class: always sent
    held = sent if isinstance(sent, list) else []
    if events_live(services):  # the wall's event mode hides the ticker: sent again when it shows
        digests = list(digests)
        digests[TICKER_PART] = held[TICKER_PART] if len(held) > TICKER_PART else ""
        parts = parts[:small + TICKER_PART] + [no_update] + parts[small + TICKER_PART + 1:]
    big = [no_update if i < len(held) and held[i] == digest else part
           for i, (part, digest) in enumerate(zip(parts[small:], digests))]
    parts = parts[:small] + big
    return (parts[:small + 1] + [offline] + parts[small + 1:] + popup_out[:5] + [snapshot.registry_version]
            + popup_out[5:] + [no_update if held == digests else digests])


def frame(services, snapshot, lang: str, indicator: str, with_ack: bool, with_clear: bool, with_rewind: bool = False) -> list:
    """What every viewer with the same language, indicator and rights sees of one snapshot:
    made once per snapshot for all of them (`CityCache.derived`, maybe on the cache's thread)."""
    policy = services.settings.escalation_policy()
    figures = kpis(snapshot, lang)
    texts = kpi_texts(figures, lang, services.city)
    values = [texts[k][0] for k in KEYS]
    subs = [texts[k][1] for k in KEYS]
    escalated = escalated_count(snapshot.alarms, snapshot.now_ms, policy)
    if escalated:
        subs[KEYS.index("kpi_alarms")] += f" · {t('escalated', lang)} {escalated}"
    water_class = "kpi-card alert" if water_alert(figures) else "kpi-card"
    hideout = district_hideout(district_values(snapshot, indicator), indicator, lang=lang)
    legend_row = legend_items(indicator, lang)
    alarm_devices = snapshot.fleet.of_alarms(snapshot.alarms)
    board = alarm_rows(alarm_board(snapshot.alarms, alarm_devices, services.city, snapshot.now_ms, policy, lang,
                                   people=display_names(services.users).get()), lang, with_ack=with_ack, with_clear=with_clear,
                       with_rewind=with_rewind)
    board = board or [empty_row("board_empty", lang)]
    # more events than rows: the stream is in write order, the ticker in each event's own time
    events = snapshot.alarm_events if snapshot.alarm_events is not None else services.snapshot.alarm_events(3 * TICKER_ROWS)
    tickers = ticker_items(ticker(events, services.city, lang, TICKER_ROWS, snapshot.fleet.of_alarms(events)), lang)
    made = [serialized_with_digest(v) for v in (  # made once, sent to every viewer as is
        hideout, alarms_geojson(snapshot.alarms, alarm_devices, lang), {"values": grid_values(snapshot.alarms, alarm_devices)},
        tickers or [empty_row("ticker_empty", lang)], legend_row, board,
    )]
    # last: the big parts' digests (what a screen was sent of them is not sent again)
    return values + subs + [water_class] + [part for part, _ in made] + [[digest for _, digest in made]]


@notice_in("ack-message")
def acknowledge(board_clicks, popup_clicks, _later, popup_id, lang):
    """Acknowledge as the signed-in user (name and role recorded, with an audit entry)."""
    lang = lang_of(lang)
    trigger = ctx.triggered_id
    if trigger == "popup-later":
        return no_update, "popup hidden"
    if trigger == "popup-ack":
        alarm_id = popup_id
    elif isinstance(trigger, dict) and ctx.triggered and ctx.triggered[0]["value"]:
        alarm_id = trigger["id"]
    else:
        return no_update, no_update
    user = current_principal()
    try:
        # the one store: it also makes this process's next big-screen snapshot show the ack
        current_services().alarms.acknowledge(alarm_id, user.name, user.acting_role("alarm:acknowledge"), int(time.time() * 1000),
                                              ip=client_ip())
    except (AlarmNotFound, AlarmActionError) as e:
        return message(e, lang), "popup hidden"
    return f"{t('acked_ok', lang)} · {user.label}", "popup hidden"


def open_clear(_clicks, lang):
    """A clear button on the alarm board opens the dialog for that alarm."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not ctx.triggered or not ctx.triggered[0]["value"]:
        return no_update, no_update, no_update, no_update, no_update
    try:
        alarm = services.alarms.get(trigger["id"])
    except AlarmNotFound as e:
        return None, "clear-dialog hidden", "", "", message(e, lang)
    device = services.snapshot.device(str(alarm.get("device_id") or ""))
    name = ((device or {}).get("meta") or {}).get("name") or ""
    text = alarm_text(alarm_words_for(alarm, {alarm.get("device_id"): name} if name else {}, services.city, lang))
    return trigger["id"], "clear-dialog", text, "", ""


@notice_in("clear-error")
def confirm_clear(_confirm, _cancel, alarm_id, note, lang):
    """Clear by hand as the signed-in user; the note is required and kept with the event."""
    lang = lang_of(lang)
    if ctx.triggered_id == "clear-cancel" or not alarm_id:
        return "clear-dialog hidden", "", no_update
    user = current_principal()
    try:
        current_services().alarms.clear(alarm_id, user.name, user.acting_role("alarm:clear"), note or "", int(time.time() * 1000),
                                        ip=client_ip())
    except AlarmNotFound as e:
        return "clear-dialog hidden", "", message(e, lang)
    except AlarmActionError as e:
        return no_update, message(e, lang), no_update
    return "clear-dialog hidden", "", f"{t('cleared_ok', lang)} · {user.label}"


_TREND_FIGURES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # city cache -> {(language, minute): figures}
_REPLAYED_TRENDS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # rewind -> {(language, minute): figures}
REPLAYED_KEPT = 64  # replayed minutes' figures kept per process (every viewer of a moment shares them)


def replayed_trends(rewind, at: int, lang: str) -> list[dict]:
    """The 24 hours up to the replayed minute of `at` from the record, made once per minute and
    language for every viewer (a settled hour is read once: `Rewind.rollup_hours`)."""
    minute = int(at) // 60_000
    made = _REPLAYED_TRENDS.setdefault(rewind, OrderedDict())
    key = (lang, minute)
    figures = made.get(key)
    if figures is None:
        hour = minute // 60
        buckets = rewind.rollup_hours(hour - 23, hour + 1, minute * 60_000)
        hotspots = rewind.fleet_at(minute * 60_000).count(None, "crowd")[0]  # the crowd card's count at the moment
        figures = made[key] = panel_figures(buckets, minute * 60_000, hotspots, lang, replayed=True)
        while len(made) > REPLAYED_KEPT:
            made.popitem(last=False)
    return figures


def trends(_n, lang, at=None, shown=None):
    """The last 24 hours, made once a minute per language for every viewer of the process
    (the panels refresh once a minute); while the time control shows a moment (`at`), the 24
    hours up to it from the record. Figures this screen already shows (`shown`: their key) are
    not sent again (playback moves the moment every second)."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    replaying = at is not None and services.rewind is not None and allowed(current_principal(), "view:rewind")
    minute = int(at) // 60_000 if replaying else int(time.time() // 60)
    key = f"{'replay' if replaying else 'live'}:{lang}:{minute}"
    if key == shown:
        return [no_update] * (len(TREND_PANELS) + 1)
    if replaying:
        return [*replayed_trends(services.rewind, int(at), lang), key]
    made = _TREND_FIGURES.setdefault(services.city_cache, {})
    if (lang, minute) not in made:
        hour = minute // 60
        buckets = services.snapshot.rollup_series("hour", hour - 23, hour + 1)
        # as the crowd card counts them; the registry as it is now (cheap when nothing moved),
        # not a snapshot a process just started may still hold from before the births
        hotspots = services.city_cache.refresh_registry(services.redis).count(None, "crowd")[0]
        for old in [k for k in made if k[1] != minute]:
            made.pop(old, None)
        figures = panel_figures(buckets, minute * 60_000, hotspots, lang)
        if not hotspots:  # no hotspot registered yet: the people panel is gaps; made again next time
            return [*figures, None]
        made[(lang, minute)] = figures
    return [*made[(lang, minute)], key]


def drill_down(click, picked):
    """Click a district on the map, or pick it from the list: open its page."""
    if ctx.triggered_id == "district-picker":
        return f"/district/{picked}" if picked else no_update
    if not click:
        return no_update
    return f"/district/{click['properties']['id']}"


def register(app, services) -> None:
    secured_callback(
        app, "view:bigscreen",
        [Output(f"value-{k}", "children") for k in KEYS] + [Output(f"sub-{k}", "children") for k in KEYS]
        + [Output("card-kpi_water", "className"), Output("map-districts", "hideout"), Output("map-devices", "hideout"),
           Output("map-alarms", "data"), Output("map-grid", "hideout"), Output("ticker", "children"), Output("legend", "children"),
           Output("alarm-board", "children"),
           Output("popup", "className"), Output("popup-text", "children"), Output("popup-alarm", "data"),
           Output("seen-alarms", "data"), Output("sound-slot", "children"), Output("fleet-version", "data"),
           Output("popup-since", "data"), Output("bigscreen-sent", "data")],
        Input("tick", "n_intervals"), Input("indicator", "value"),
        State("lang", "data"), State("seen-alarms", "data"), State("sound", "value"), State("fleet-version", "data"),
        State("popup-alarm", "data"), State("popup", "className"), State("popup-since", "data"), State("bigscreen-sent", "data"),
        Input("rewind-at", "data"), State("rewind-play", "data"),
        running=[(Output("tick", "disabled"), True, False)],  # a slow server never gets ticks piling up
    )(refresh)
    rewind.register(app, services)  # the time control (回溯) of the wall and the district pages
    case_layer.register(app, "map", "", "view:bigscreen")  # the map's open cases (their address)
    secured_callback(
        app, "alarm:acknowledge",
        Output("ack-message", "children"), Output("popup", "className", allow_duplicate=True),
        Input({"type": "ack", "id": ALL}, "n_clicks"), Input("popup-ack", "n_clicks"), Input("popup-later", "n_clicks"),
        State("popup-alarm", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(acknowledge)
    secured_callback(
        app, "alarm:clear",
        Output("clear-alarm", "data"), Output("clear-dialog", "className"), Output("clear-text", "children"),
        Output("clear-note", "value"), Output("clear-error", "children"),
        Input({"type": "clear", "id": ALL}, "n_clicks"), State("lang", "data"),
        prevent_initial_call=True,
    )(open_clear)
    secured_callback(
        app, "alarm:clear",
        Output("clear-dialog", "className", allow_duplicate=True), Output("clear-error", "children", allow_duplicate=True),
        Output("ack-message", "children", allow_duplicate=True),
        Input("clear-confirm", "n_clicks"), Input("clear-cancel", "n_clicks"),
        State("clear-alarm", "data"), State("clear-note", "value"), State("lang", "data"),
        prevent_initial_call=True,
    )(confirm_clear)
    secured_callback(app, "view:bigscreen", [Output(key, "figure") for key, *_ in TREND_PANELS] + [Output("trend-shown", "data")],
                     Input("trend-tick", "n_intervals"), Input("lang", "data"), Input("rewind-at", "data"),
                     State("trend-shown", "data"))(trends)
    secured_callback(app, "view:bigscreen", Output("url", "pathname"), Input("map-districts", "clickData"),
                     Input("district-picker", "value"), prevent_initial_call=True)(drill_down)
