"""Callbacks of the data-intake status page (/status)."""

from __future__ import annotations

import time

from dash import Input, Output, html

from ioc.i18n import resolve_lang
from ioc.web.dash_guard import secured_callback
from ioc.web.services import current_services
from ioc.views.status import CARDS, recorder_text, status_view
from ioc.web.metrics import recorder_lag

TABLE_HEAD = {"zh": ["设备类型", "设备数", "在线", "在线率", "消息数"], "en": ["Kind", "Devices", "Online", "Online rate", "Messages"]}


def refresh(_n, lang):
    """The cards, the alarms by severity and the table by device kind."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    snap = services.snapshot
    view = status_view(snap.fleet(), snap.counters(), snap.active_alarms(), lang, int(time.time() * 1000))
    head = html.Tr([html.Th(h) for h in TABLE_HEAD[lang]])
    rows = [html.Tr([html.Td(r["kind"]), html.Td(f"{r['devices']:,}"), html.Td(f"{r['online']:,}"), html.Td(r["rate"]), html.Td(f"{r['messages']:,}")]) for r in view.kinds]
    now_ms = int(time.time() * 1000)
    recorder = recorder_text(recorder_lag(snap.workers(), now_ms), snap.counters(), lang)
    return [view.values[k] for k in CARDS] + [view.alarms_by_severity, [head] + rows, recorder, view.updated]


def register(app, services) -> None:
    secured_callback(
        app, "view:status",
        [Output(f"value-{k}", "children") for k in CARDS]
        + [Output("alarms-by-severity", "children"), Output("kind-table", "children"),
           Output("recorder-status", "children"), Output("updated", "children")],
        Input("tick", "n_intervals"),
        Input("lang", "data"),
    )(refresh)
