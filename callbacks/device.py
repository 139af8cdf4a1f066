"""Callbacks of one device's rewind (设备回溯, `/device/<id>`): thin glue between the record's reads
(`Rewind.device`, `device_alarms`, `device_series`) and the pure parts (`ioc.views.device_rewind`).

1. `load`: the device in words, its kind and a page of its alarms (newest first), and the first
   window: the one the address keeps (`?from=&to=`, a language switch or a reload), else around
   `?at=`, else the latest alarm, else the last 6 h;
2. `move`: earlier / later / 1 h / 6 h / 24 h, or an alarm clicked: a new window;
3. `turn`: the alarm list's newer / older page;
4. `list_alarms`: the listed page (the window's alarm marked), its place among all, and the
   address's query that keeps the window and the page (`iocDevice.keep` writes it, assets/rewind.js);
5. `draw`: the window's charts (with the alarms active in it), its times in words and what the
   charts are made of."""

from __future__ import annotations

import time

from dash import ALL, ClientsideFunction, Input, Output, State, ctx, dcc, html, no_update

from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.i18n import resolve_lang, t
from ioc.views.device_rewind import (ALARM_PAGE, SPANS_H, Window, alarm_line, around_alarm, clamped, device_facts, device_figures,
                                     first_window, last_page, page_query, pager_text, parse_at, parse_page, parse_window, series_note,
                                     shifted, window_text, zoomed)
from ioc.web.dash_guard import secured_callback
from ioc.web.people import display_names
from ioc.web.services import current_services

MARKED_ALARMS = 100  # the alarms a window's charts mark at most
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
    total = services.rewind.device_alarm_count(str(device_id))
    page = min(parse_page(search), last_page(total))
    alarms = services.rewind.device_alarms(str(device_id), ALARM_PAGE, page * ALARM_PAGE)
    district = services.city.district(device.get("district", ""))
    facts = device_facts(device, district.name(lang) if district else "", _online_now(services, str(device_id), device), lang)
    kept = parse_window(search)
    window = clamped(kept, now_ms()) if kept is not None else first_window(alarms, parse_at(search), now_ms())
    return (f"{t('device_heading', lang)} · {device['name']}", [x for k, v in facts for x in (html.Dt(k), html.Dd(v))],
            {"kind": device["kind"], "alarms": alarms, "total": total, "page": page}, window.to_dict())


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


def _page(data) -> tuple[int, int]:
    """(page, total) of the listed alarms as `load` or `turn` kept them."""
    if not isinstance(data, dict):
        return 0, 0
    page, total = data.get("page"), data.get("total")
    return (page if isinstance(page, int) and page >= 0 else 0), (total if isinstance(total, int) and total >= 0 else 0)


def turn(_newer, _older, device_id, data):
    """The alarm list's newer or older page (read from the record; the window stays)."""
    services = current_services()
    trigger = ctx.triggered_id
    if services.rewind is None or not device_id or not isinstance(data, dict) or not ctx.triggered or not ctx.triggered[0]["value"]:
        return no_update
    page, _ = _page(data)
    total = services.rewind.device_alarm_count(str(device_id))
    page = min(max(page + (1 if trigger == "device-alarms-older" else -1), 0), last_page(total))
    alarms = services.rewind.device_alarms(str(device_id), ALARM_PAGE, page * ALARM_PAGE)
    return {**data, "alarms": alarms, "total": total, "page": page}


def list_alarms(data, window, lang):
    """The listed page of alarms (the window's alarm marked), where it stands among all of the
    device's with the ways to the newer and older ones, and the address's query keeping the
    window and the page."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    shown = Window.from_dict(window)
    alarms = _alarms(data)
    page, total = _page(data)
    people = display_names(services.users).get()
    buttons = [html.Button(alarm_line(a, lang, people), id={"type": "device-alarm", "index": i}, n_clicks=0,
                           className=f"device-alarm {a.get('severity', '')}" + (" active" if shown and a["raised_ms"] == shown.focus else ""))
               for i, a in enumerate(alarms)] or html.Div(t("device_alarms_none", lang), className="note")
    search = page_query(shown, page) if shown is not None else no_update
    return buttons, pager_text(page, len(alarms), total, lang), page <= 0, page >= last_page(total), search


def draw(window, device_id, data, lang):
    """The window's charts (the thresholds and marks of the device's alarms active in it), its
    times in words and what the charts are made of."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    shown = Window.from_dict(window)
    if services.rewind is None or shown is None or not device_id or not isinstance(data, dict):
        return [], "", ""
    kind = str(data.get("kind") or "")
    series = services.rewind.device_series(str(device_id), shown.from_ms, shown.to_ms)
    alarms = services.rewind.device_alarms(str(device_id), MARKED_ALARMS, from_ms=shown.from_ms, to_ms=shown.to_ms)
    figures = device_figures(kind, series, alarms, shown, lang)
    charts = [dcc.Graph(id={"type": "device-chart", "attribute": attribute}, figure=figure, config=CHART_CONFIG,
                        className="device-chart") for attribute, figure in figures]
    note = series_note(series, lang) if figures else t("device_no_readings", lang)
    return charts, window_text(shown, lang), note


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
        Output("device-data", "data", allow_duplicate=True),
        Input("device-alarms-newer", "n_clicks"), Input("device-alarms-older", "n_clicks"),
        State("device-id", "data"), State("device-data", "data"),
        prevent_initial_call=True,
    )(turn)
    secured_callback(
        app, "view:rewind",
        Output("device-alarms", "children"), Output("device-alarms-page", "children"), Output("device-alarms-newer", "disabled"),
        Output("device-alarms-older", "disabled"), Output("device-search", "data"),
        Input("device-data", "data"), Input("device-window", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(list_alarms)
    secured_callback(
        app, "view:rewind",
        Output("device-charts", "children"), Output("device-window-text", "children"), Output("device-note", "children"),
        Input("device-window", "data"), State("device-id", "data"), State("device-data", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(draw)
    # the window and the page kept in the address (replaced, not a new step of the browser's history)
    app.clientside_callback(ClientsideFunction("iocDevice", "keep"), Output("device-search-kept", "data"),
                            Input("device-search", "data"), prevent_initial_call=True)
