"""The frame: routing, language, clock and data freshness."""

from __future__ import annotations

import time

from dash import Input, Output, State

import layouts
from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.i18n import resolve_lang, t
from ioc.views.bigscreen import clock, freshness


def register(app, services) -> None:
    @app.callback(Output("lang", "data"), Input("lang-switch", "n_clicks"), State("lang", "data"), prevent_initial_call=True)
    def switch_language(_clicks, lang):
        return "en" if lang == "zh" else "zh"

    @app.callback(Output("page", "children"), Input("url", "pathname"), Input("lang", "data"))
    def route(pathname, lang):
        return layouts.page_for(pathname, services.city, resolve_lang(lang, services.settings.lang), services.settings.tile_url)

    @app.callback(
        Output("app-title", "children"), Output("nav-bigscreen", "children"), Output("nav-districts", "children"),
        Output("nav-status", "children"), Output("lang-switch", "children"),
        Output("duty-name", "placeholder"), Output("sound", "options"),
        Input("lang", "data"),
    )
    def relabel(lang):
        lang = resolve_lang(lang, services.settings.lang)
        return (t("app_title", lang), t("nav_bigscreen", lang), t("nav_districts", lang), t("nav_status", lang), t("language", lang),
                t("duty_name", lang), [{"label": t("sound", lang), "value": "on"}])

    @app.callback(
        Output("clock", "children"), Output("freshness", "data"), Output("fresh-dot", "className"),
        Output("fresh-label", "children"), Output("banner", "children"), Output("banner", "className"),
        Input("tick", "n_intervals"), State("freshness", "data"), State("lang", "data"),
    )
    def heartbeat(_n, previous, lang):
        lang = resolve_lang(lang, services.settings.lang)
        now_ms = int(time.time() * 1000)
        try:
            accepted = services.snapshot.counters().get("messages:accepted", 0)
        except (REDIS_UNAVAILABLE + (AttributeError,)):
            state = {**(previous or {}), "stale": True}
            return clock(now_ms), state, "fresh-dot stale", t("stale", lang), t("data_unavailable", lang), "banner"
        state = freshness(previous, accepted, now_ms)
        stale = state["stale"]
        return (clock(now_ms), state, "fresh-dot stale" if stale else "fresh-dot", t("stale" if stale else "fresh", lang),
                "", "banner hidden")
