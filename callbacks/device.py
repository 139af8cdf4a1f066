"""Callbacks of one device's rewind (设备回溯, `/device/<id>`): thin glue between the record's reads
(`Rewind.device`, `device_alarms`, `device_series`) and the pure parts (`ioc.views.device_rewind`).

1. `load`: the device in words, its kind and alarms (newest first), and the first window (`?at=`,
   else the latest alarm, else the last 6 h);
2. `move`: earlier / later / 1 h / 6 h / 24 h, or an alarm clicked: a new window;
3. `draw`: the alarm list (the window's alarm marked), the window's charts, its times in words
   and what the charts are made of."""

from __future__ import annotations

import time

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.i18n import resolve_lang, t
from ioc.views.device_rewind import (SPANS_H, Window, alarm_line, around_alarm, device_facts, device_figures, first_window, parse_at,
                                     series_note, shifted, window_text, zoomed)
from ioc.web.dash_guard import secured_callback
from ioc.web.people import display_names
from ioc.web.services import current_services

ALARMS_SHOWN = 20  # the short list: the newest alarms of the device
CHART_CONFIG = {"displayModeBar": False, "responsive": True}


def now_ms() -> int:
    return int(time.time() * 1000)


def _online_now(services, device_id: str, recorded: dict) -> bool:
    """Online as the live registry has it; the record's last state when Redis does not answer or
    no longer knows the device."""
    try:
        live = services.city_cache.snapshot().fleet.by_id.get(device_id)
    except REDIS_UNAVAILABLE:
        live = None
    return live.online if live is not None else bool(recorded.get("online"))


def load(device_id, search, lang):
    """The device's title and facts, its kind and alarms (kept in the page: the window's moves and
    the list's buttons use them) and the first window."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    if services.rewind is None or not device_id:
        return t("device_heading", lang), [], None, None
    device = services.rewind.device(str(device_id))
    if device is None:
        return f"{t('device_heading', lang)} · {device_id}", [html.Dt(t("device_unknown", lang)), html.Dd("")], None, None
    alarms = services.rewind.device_alarms(str(device_id), ALARMS_SHOWN)
    district = services.city.district(device.get("district", ""))
    facts = device_facts(device, district.name(lang) if district else "", _online_now(services, str(device_id), device), lang)
    window = first_window(alarms, parse_at(search), now_ms())
    return (f"{t('device_heading', lang)} · {device['name']}", [x for k, v in facts for x in (html.Dt(k), html.Dd(v))],
            {"kind": device["kind"], "alarms": alarms}, window.to_dict())


def _alarms(data) -> list[dict]:
    alarms = data.get("alarms") if isinstance(data, dict) else None
    return [a for a in alarms if isinstance(a, dict) and isinstance(a.get("raised_ms"), int)] if isinstance(alarms, list) else []


def move(*args):
    """A window control or an alarm clicked: the new window."""
    *_clicks, window, data = args
    trigger = ctx.triggered_id
    if trigger is None or not ctx.triggered or not ctx.triggered[0]["value"]:
        return no_update
    now = now_ms()
    if isinstance(trigger, dict):
        alarms = _alarms(data)
        index = trigger.get("index")
        if not isinstance(index, int) or not 0 <= index < len(alarms):
            return no_update
        return around_alarm(alarms[index], now).to_dict()
    current = Window.from_dict(window)
    if current is None:
        return no_update
    if trigger == "device-earlier":
        return shifted(current, -1, now).to_dict()
    if trigger == "device-later":
        return shifted(current, 1, now).to_dict()
    if isinstance(trigger, str) and trigger.startswith("device-span-"):
        return zoomed(current, int(trigger.rsplit("-", 1)[1]), now).to_dict()
    return no_update


def draw(window, device_id, data, lang):
    """The alarm list (the window's alarm marked), the window's charts, its times in words and
    what the charts are made of."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    shown = Window.from_dict(window)
    alarms = _alarms(data)
    people = display_names(services.users).get()
    buttons = [html.Button(alarm_line(a, lang, people), id={"type": "device-alarm", "index": i}, n_clicks=0,
                           className=f"device-alarm {a.get('severity', '')}" + (" active" if shown and a["raised_ms"] == shown.focus else ""))
               for i, a in enumerate(alarms)] or html.Div(t("device_alarms_none", lang), className="note")
    if services.rewind is None or shown is None or not device_id or not isinstance(data, dict):
        return buttons, [], "", ""
    kind = str(data.get("kind") or "")
    series = services.rewind.device_series(str(device_id), shown.from_ms, shown.to_ms)
    figures = device_figures(kind, series, alarms, shown, lang)
    charts = [dcc.Graph(id={"type": "device-chart", "attribute": attribute}, figure=figure, config=CHART_CONFIG,
                        className="device-chart") for attribute, figure in figures]
    note = series_note(series, lang) if figures else t("device_no_readings", lang)
    return buttons, charts, window_text(shown, lang), note


def register(app, services) -> None:
    # the page's permission: the guard lets only holders of view:rewind open /device/<id>
    secured_callback(
        app, "view:rewind",
        Output("device-title", "children"), Output("device-facts", "children"), Output("device-data", "data"),
        Output("device-window", "data"),
        Input("device-id", "data"), State("url", "search"), State("lang", "data"),
    )(load)
    secured_callback(
        app, "view:rewind",
        Output("device-window", "data", allow_duplicate=True),
        Input("device-earlier", "n_clicks"), Input("device-later", "n_clicks"),
        *[Input(f"device-span-{h}", "n_clicks") for h in SPANS_H],
        Input({"type": "device-alarm", "index": ALL}, "n_clicks"),
        State("device-window", "data"), State("device-data", "data"),
        prevent_initial_call=True,
    )(move)
    secured_callback(
        app, "view:rewind",
        Output("device-alarms", "children"), Output("device-charts", "children"), Output("device-window-text", "children"),
        Output("device-note", "children"),
        Input("device-window", "data"), State("device-id", "data"), State("device-data", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(draw)
