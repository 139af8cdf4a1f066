"""Callbacks of the time control (回溯 / Rewind) on the wall and the district pages.

The control sets `rewind-at` (the moment shown, epoch ms; None: live) and `rewind-play`
(playback's speed and start); the browser moves the moment one step a second while playing
(assets/rewind.js), and the pages' own refresh callbacks draw the moment from
`services.rewind.snapshot_at` instead of the live cache (`replay_snapshot`)."""

from __future__ import annotations

import time

from dash import ClientsideFunction, Input, Output, State, ctx, no_update

from ioc.domain.access import allowed
from ioc.i18n import resolve_lang, t
from ioc.views.rewind import SPEEDS, banner, clamp, date_of, moment, next_moments, play_state, range_text, time_of
from ioc.web.auth import current_principal
from ioc.web.dash_guard import secured_callback
from ioc.web.services import current_services

from layouts.rewind import PREFIXES


def replay_snapshot(services, at, play=None):
    """The snapshot of the moment `at` when the viewer may rewind and the process has a record,
    with the next frames of playback made ahead; None: draw live."""
    rewind = services.rewind
    if at is None or rewind is None or not allowed(current_principal(), "view:rewind"):
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
        # the banner only words the page's own moment: allowed with the page (Dash calls it as a page
        # loads, for a viewer without the control too)
        secured_callback(
            app, "view:bigscreen" if p == "" else "view:districts",
            Output(f"{p}rewind-banner", "className"), Output(f"{p}rewind-banner-text", "children"),
            Input(f"{p}rewind-at", "data"), State(f"{p}rewind-play", "data"), State("lang", "data"),
            prevent_initial_call=True,
        )(show_banner)
