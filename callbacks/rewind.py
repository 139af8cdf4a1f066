"""Callbacks of the time control (回溯 / Rewind) on the wall and the district pages.

The control sets `rewind-at` (the moment shown, epoch ms; None: live) and `rewind-play`
(playback's speed and start); the browser moves the moment one step a second while playing
(assets/rewind.js), and the pages' own refresh callbacks draw the moment from
`services.rewind.snapshot_at` instead of the live cache (`replay_snapshot`)."""

from __future__ import annotations

import time

import dash_leaflet as dl
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, html, no_update

from ioc.domain.access import allowed
from ioc.domain.cases import visible_to
from ioc.i18n import resolve_lang, t
from ioc.views.bigscreen import kpis
from ioc.views.rewind import (SPEEDS, banner, case_step_figures, case_step_label, clamp, date_of, moment, next_moments, play_state,
                               range_text, time_of)
from ioc.web.auth import current_principal
from ioc.web.dash_guard import secured_callback
from ioc.web.services import current_services

from layouts.rewind import PREFIXES


def may_replay(services) -> bool:
    """Whether the viewer may see a moment of the past here: holds view:rewind, and the process has a record."""
    return services.rewind is not None and allowed(current_principal(), "view:rewind")


def replay_snapshot(services, at, play=None):
    """The snapshot of the moment `at` when the viewer may rewind and the process has a record,
    with the next frames of playback made ahead; None: draw live."""
    rewind = services.rewind
    if at is None or not may_replay(services):
        return None
    snapshot = rewind.snapshot_at(int(at))
    rewind.prefetch(next_moments(play, int(at)))
    return snapshot


def open_panel(_clicks, panel_class, lang):
    """The rewind button opens (or folds) the panel with the recorded range."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    if services.rewind is None:
        return "rewind-panel hidden", no_update, no_update, no_update, no_update, no_update, no_update, no_update
    if panel_class and "hidden" not in panel_class:
        return "rewind-panel hidden", no_update, no_update, no_update, no_update, no_update, no_update, no_update
    first, last = services.rewind.bounds()
    if not last:
        return "rewind-panel", 0, 1, None, None, None, "", range_text((0, 0), lang)
    return ("rewind-panel", first, last, date_of(first), date_of(last), date_of(last), time_of(last),
            range_text((first, last), lang))


def act(_go, slider, *args):
    """Pick a moment (date and time, or the slider), play at a speed, pause, or go back to live."""
    *_speeds, _pause, _live, date, time_text, at, play, lang = args
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    trigger = ctx.triggered_id
    if services.rewind is None or not isinstance(trigger, str) or "rewind-" not in trigger:
        return no_update, no_update, no_update, no_update
    what = trigger[trigger.index("rewind-") + len("rewind-"):]  # without the page's prefix
    if what == "live":
        return None, None, True, no_update
    bounds = services.rewind.bounds()
    if what == "pause":
        return no_update, None, True, no_update
    if what == "go":
        picked = moment(date, time_text, bounds)
        if picked is None:
            return no_update, no_update, no_update, t("rewind_bad_time", lang)
        return picked, None, True, range_text(bounds, lang)
    if what == "slider":
        picked = clamp(slider, bounds)
        return (picked, None, True, no_update) if picked is not None else (no_update,) * 4
    if what.startswith("speed-") and bounds[1]:
        state = play_state(int(what.rsplit("-", 1)[1]), at, bounds, int(time.time() * 1000))
        return state["t0"], state, False, no_update
    return no_update, no_update, no_update, no_update


def show_banner(at, play, lang):
    """回放 / Replay and the moment while one is shown (with the way back to live)."""
    lang = resolve_lang(lang, current_services().settings.lang)
    if at is None:
        return "rewind-banner hidden", ""
    return "rewind-banner", banner(int(at), play, lang)


# ---- one case's rewind (the case page) ------------------------------------------------------------

def _case_steps(case_id):
    """The case's steps from the record when the viewer may rewind and may see the case (as the
    record last holds it); else None."""
    services = current_services()
    p = current_principal()
    if not case_id or services.rewind is None or not allowed(p, "view:rewind"):
        return None
    steps = services.rewind.case_steps(str(case_id))
    cases = [s["case"] for s in steps if s["case"] is not None]
    if not cases or not visible_to(cases[-1], p):
        return None
    return steps


def case_step_list(case_id, lang):
    """The step buttons of 回溯此案件 (oldest first)."""
    lang = resolve_lang(lang, current_services().settings.lang)
    steps = _case_steps(case_id)
    if steps is None:
        return t("case_rewind_none", lang) if current_services().rewind is not None else ""
    return [html.Button(case_step_label(step, lang), id={"type": "case-rewind-step", "index": i}, n_clicks=0,
                        className="btn case-rewind-step") for i, step in enumerate(steps)]


def show_case_step(clicks, case_id, lang):
    """A step clicked: the case where it stood then (marker coloured as overdue then or not) and the
    city's and its district's figures of that moment (`Rewind.snapshot_at`)."""
    picked = ctx.triggered_id
    if not isinstance(picked, dict) or not any(clicks or ()):
        return no_update, no_update
    lang = resolve_lang(lang, current_services().settings.lang)
    steps = _case_steps(case_id)
    index = picked.get("index")
    if steps is None or not isinstance(index, int) or not 0 <= index < len(steps) or steps[index]["case"] is None:
        return [], []
    step, case = steps[index], steps[index]["case"]
    at = int(step["at_ms"])
    snapshot = current_services().rewind.snapshot_at(at)
    district = kpis(snapshot, lang, case.district) if case.district else None
    lines = [case_step_label(step, lang), *case_step_figures(kpis(snapshot, lang), district, lang)]
    marker = [dl.CircleMarker(center=[case.lat, case.lon], radius=12, color="#4cc9f0", weight=3,
                              fillColor="#ff3b30" if case.overdue(at) else "#ffd60a", fillOpacity=0.6,
                              children=dl.Tooltip(case_step_label(step, lang)))] if case.lat or case.lon else []
    return [html.Div(line, className="case-rewind-line") for line in lines], marker


def register(app, services) -> None:
    """The control's callbacks on every page that has one (its ids' prefixes); called by the wall's
    module (`callbacks.bigscreen`)."""
    for p in PREFIXES:
        secured_callback(
            app, "view:rewind",
            Output(f"{p}rewind-panel", "className"), Output(f"{p}rewind-slider", "min"), Output(f"{p}rewind-slider", "max"),
            Output(f"{p}rewind-date", "min_date_allowed"), Output(f"{p}rewind-date", "max_date_allowed"),
            Output(f"{p}rewind-date", "date"), Output(f"{p}rewind-time", "value"), Output(f"{p}rewind-range", "children"),
            Input(f"{p}rewind-open", "n_clicks"), State(f"{p}rewind-panel", "className"), State("lang", "data"),
            prevent_initial_call=True,
        )(open_panel)
        secured_callback(
            app, "view:rewind",
            Output(f"{p}rewind-at", "data"), Output(f"{p}rewind-play", "data"), Output(f"{p}rewind-tick", "disabled"),
            Output(f"{p}rewind-range", "children", allow_duplicate=True),
            Input(f"{p}rewind-go", "n_clicks"), Input(f"{p}rewind-slider", "value"),
            *[Input(f"{p}rewind-speed-{s}", "n_clicks") for s in SPEEDS], Input(f"{p}rewind-pause", "n_clicks"),
            Input(f"{p}rewind-live", "n_clicks"),
            State(f"{p}rewind-date", "date"), State(f"{p}rewind-time", "value"), State(f"{p}rewind-at", "data"),
            State(f"{p}rewind-play", "data"), State("lang", "data"),
            prevent_initial_call=True,
        )(act)
        app.clientside_callback(
            ClientsideFunction("iocRewind", "advance"),
            Output(f"{p}rewind-at", "data", allow_duplicate=True), Output(f"{p}rewind-tick", "disabled", allow_duplicate=True),
            Input(f"{p}rewind-tick", "n_intervals"), State(f"{p}rewind-play", "data"), State(f"{p}rewind-at", "data"),
            prevent_initial_call=True,
        )
        app.clientside_callback(
            ClientsideFunction("iocRewind", "ticking"),
            Output(f"{p}rewind-tick", "disabled", allow_duplicate=True), Input(f"{p}rewind-play", "data"),
            prevent_initial_call=True,
        )
        # the banner only words the page's own moment: allowed with the page (Dash calls it as a page
        # loads, for a viewer without the control too)
        secured_callback(
            app, "view:bigscreen" if p == "" else "view:districts",
            Output(f"{p}rewind-banner", "className"), Output(f"{p}rewind-banner-text", "children"),
            Input(f"{p}rewind-at", "data"), State(f"{p}rewind-play", "data"), State("lang", "data"),
            prevent_initial_call=True,
        )(show_banner)
    # the case page's 回溯此案件: allowed with the page (called as it loads); the steps are given
    # only to a holder of view:rewind who may see the case
    secured_callback(
        app, "case:read",
        Output("case-rewind-steps", "children"), Input("case-id", "data"), State("lang", "data"),
    )(case_step_list)
    secured_callback(
        app, "view:rewind",
        Output("case-rewind-view", "children"), Output("case-rewind-marker", "children"),
        Input({"type": "case-rewind-step", "index": ALL}, "n_clicks"), State("case-id", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(show_case_step)
