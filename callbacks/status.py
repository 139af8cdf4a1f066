"""Callbacks of the intake status page."""

from __future__ import annotations

import time

import redis
from dash import Input, Output, State, html, no_update

from ioc.i18n import t
from ioc.views.status import CARDS, status_view

REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)
STATIC = ["app-title", "status-heading", "status-note", "by-kind-heading", "label-updated"]
STATIC_KEYS = ["app_title", "status_heading", "status_note", "by_kind", "updated"]
TABLE_HEAD = {"zh": ["设备类型", "设备数", "在线", "在线率", "消息数"], "en": ["Kind", "Devices", "Online", "Online rate", "Messages"]}


def register(app, services) -> None:
    @app.callback(
        Output("lang", "data"),
        Input("lang-switch", "n_clicks"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def switch_language(_clicks, lang):
        return "en" if lang == "zh" else "zh"

    @app.callback(
        [Output(i, "children") for i in STATIC]
        + [Output(f"label-{k}", "children") for k in CARDS]
        + [Output("lang-switch", "children")],
        Input("lang", "data"),
    )
    def relabel(lang):
        lang = lang if lang in ("zh", "en") else services.settings.lang
        return [t(k, lang) for k in STATIC_KEYS] + [t(k, lang) for k in CARDS] + [t("language", lang)]

    @app.callback(
        [Output(f"value-{k}", "children") for k in CARDS]
        + [Output("alarms-by-severity", "children"), Output("kind-table", "children"), Output("updated", "children"),
           Output("banner", "children"), Output("banner", "className")],
        Input("tick", "n_intervals"),
        Input("lang", "data"),
    )
    def refresh(_n, lang):
        lang = lang if lang in ("zh", "en") else services.settings.lang
        snap = services.snapshot
        try:
            view = status_view(snap.fleet(), snap.counters(), snap.active_alarms(), lang, int(time.time() * 1000))
        except (REDIS_ERRORS + (AttributeError,)):
            return [no_update] * (len(CARDS) + 3) + [t("data_unavailable", lang), "banner"]
        head = html.Tr([html.Th(h) for h in TABLE_HEAD[lang]])
        rows = [html.Tr([html.Td(r["kind"]), html.Td(f"{r['devices']:,}"), html.Td(f"{r['online']:,}"), html.Td(r["rate"]), html.Td(f"{r['messages']:,}")]) for r in view.kinds]
        return [view.values[k] for k in CARDS] + [view.alarms_by_severity, [head] + rows, view.updated, "", "banner hidden"]
