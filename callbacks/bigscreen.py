"""Callbacks of the big screen: device positions once, then small live updates every tick."""

from __future__ import annotations

import time

import redis

from dash import ALL, Input, Output, State, ctx, html, no_update

from ioc.adapters.alarm_store import AlarmNotFound, AlarmStore
from ioc.adapters.city_snapshot import read_city, read_devices
from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.domain.alarm_handling import AlarmActionError
from ioc.domain.rules import RULES_BY_ID
from ioc.i18n import resolve_lang, t
from ioc.views.bigscreen import (alarm_board, alarms_geojson, devices_geojson, district_hideout, district_values,
                                 escalated_count, grid_values, kpi_texts, kpis, legend, offline_ids, popup_alarm, ticker,
                                 water_alert)
from ioc.views.trends import TREND_PANELS, trend, trend_figure

from layouts.bigscreen import LEFT, RIGHT, alarm_rows

KEYS = LEFT + RIGHT


def ticker_items(rows: list[dict], lang: str) -> list:
    return [
        html.Li(
            [html.Span(r["time"], className="t-time"), html.Span(t("severity_" + r["severity"], lang) if r["severity"] else "", className=f"t-sev {r['severity']}"),
             html.Span(r["district"], className="t-district"), html.Span(r["rule"], className="t-rule"),
             html.Span(t("event_" + r["event"], lang) if r["event"] in ("raised", "cleared", "acknowledged") else r["event"], className="t-event"),
             html.Span(r["device"], className="t-device")],
            className=f"ticker-row {r['event']}",
        )
        for r in rows
    ]


def register(app, services) -> None:
    policy = services.settings.escalation_policy()
    alarm_store = AlarmStore(services.redis) if services.redis is not None else None

    def client():
        if services.redis is None:
            raise redis.ConnectionError("REDIS_URL is not set")
        return services.redis

    @app.callback(Output("map", "viewport"), Input("map", "id"))
    def fit_city(_):
        """Fit the whole city once the map is mounted, whatever the wall's resolution (1080p, 4K)."""
        minx, miny, maxx, maxy = services.city.bounds
        return {"bounds": [[miny, minx], [maxy, maxx]], "transition": "fitBounds"}

    @app.callback(Output("map-devices", "data"), Input("map", "id"))
    def load_device_positions(_):
        try:
            return devices_geojson(read_devices(client(), services.settings.redis_shards))
        except REDIS_UNAVAILABLE:
            return no_update

    @app.callback(
        [Output(f"value-{k}", "children") for k in KEYS] + [Output(f"sub-{k}", "children") for k in KEYS]
        + [Output("card-kpi_water", "className"), Output("map-districts", "hideout"), Output("map-devices", "hideout"),
           Output("map-alarms", "data"), Output("map-grid", "hideout"), Output("ticker", "children"), Output("legend", "children"),
           Output("alarm-board", "children"),
           Output("popup", "className"), Output("popup-text", "children"), Output("popup-alarm", "data"),
           Output("seen-alarms", "data"), Output("sound-slot", "children")],
        Input("tick", "n_intervals"), Input("indicator", "value"),
        State("lang", "data"), State("seen-alarms", "data"), State("sound", "value"),
        running=[(Output("tick", "disabled"), True, False)],  # a slow server never gets ticks piling up
    )
    def refresh(_n, indicator, lang, seen, sound):
        lang = resolve_lang(lang, services.settings.lang)
        now_ms = int(time.time() * 1000)
        try:
            snapshot = read_city(client(), services.settings.redis_shards, now_ms)
            events = services.snapshot.alarm_events(8)
        except REDIS_UNAVAILABLE:
            return [no_update] * (2 * len(KEYS) + 13)
        figures = kpis(snapshot, lang)
        texts = kpi_texts(figures, lang)
        values = [texts[k][0] for k in KEYS]
        subs = [texts[k][1] for k in KEYS]
        escalated = escalated_count(snapshot.alarms, now_ms, policy)
        if escalated:
            subs[KEYS.index("kpi_alarms")] += f" · {t('escalated', lang)} {escalated}"
        water_class = "kpi-card alert" if water_alert(figures) else "kpi-card"
        hideout = district_hideout(district_values(snapshot, indicator), indicator)
        legend_items = [html.Span([html.I(style={"background": c}), label], className="legend-item") for c, label in legend(indicator, lang)]
        board = alarm_rows(alarm_board(snapshot.alarms, snapshot.devices, services.city, now_ms, policy, lang), lang)
        popup = popup_alarm(snapshot.alarms, seen or [])
        if popup is None:
            popup_out = [no_update, no_update, no_update, no_update, no_update]
        else:
            district = services.city.district(popup.get("district", ""))
            text = (f"{district.name(lang) if district else ''} · {popup.get('name_en' if lang == 'en' else 'name_zh')}"
                    f" · {popup.get('device_id')} · {popup.get('attribute')} = {popup.get('value')}")
            chime = html.Audio(src="/assets/alert.wav", autoPlay=True, id="alarm-sound") if "on" in (sound or []) else None
            popup_out = ["popup", text, popup["id"], (seen or [])[-200:] + [popup["id"]], chime]
        return values + subs + [
            water_class, hideout, {"offline": offline_ids(snapshot.devices)},
            alarms_geojson(snapshot.alarms, snapshot.devices, lang), {"values": grid_values(snapshot.alarms, snapshot.devices)},
            ticker_items(ticker(events, services.city, lang), lang), legend_items, board,
        ] + popup_out

    @app.callback(
        Output("ack-message", "children"), Output("popup", "className", allow_duplicate=True),
        Input({"type": "ack", "id": ALL}, "n_clicks"), Input("popup-ack", "n_clicks"), Input("popup-later", "n_clicks"),
        State("duty-name", "value"), State("popup-alarm", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )
    def acknowledge(board_clicks, popup_clicks, _later, name, popup_id, lang):
        lang = resolve_lang(lang, services.settings.lang)
        trigger = ctx.triggered_id
        if trigger == "popup-later":
            return no_update, "popup hidden"
        if trigger == "popup-ack":
            alarm_id = popup_id
        elif isinstance(trigger, dict) and ctx.triggered and ctx.triggered[0]["value"]:
            alarm_id = trigger["id"]
        else:
            return no_update, no_update
        if not (name or "").strip():
            return t("need_name", lang), no_update
        try:
            alarm_store.acknowledge(alarm_id, name.strip(), "operator", int(time.time() * 1000))
        except (AlarmNotFound, AlarmActionError) as e:
            return str(e), "popup hidden"
        except REDIS_UNAVAILABLE:
            return t("data_unavailable", lang), no_update
        return f"{t('acked_ok', lang)} · {name.strip()}", "popup hidden"

    @app.callback([Output(key, "figure") for key, *_ in TREND_PANELS], Input("trend-tick", "n_intervals"), Input("lang", "data"))
    def trends(_n, lang):
        lang = resolve_lang(lang, services.settings.lang)
        hour = int(time.time() // 3600)
        try:
            buckets = services.snapshot.rollup_series("hour", hour - 23, hour + 1)
        except (REDIS_UNAVAILABLE + (AttributeError,)):
            return [no_update] * len(TREND_PANELS)
        reference = {"trend_water": RULES_BY_ID["water_level_warning"].threshold}
        return [
            trend_figure(trend(buckets, "hour", kind, attr, stat), t(key, lang), color, reference.get(key))
            for key, kind, attr, stat, color in TREND_PANELS
        ]

    @app.callback(Output("url", "pathname"), Input("map-districts", "clickData"), Input("district-picker", "value"),
                  prevent_initial_call=True)
    def drill_down(click, picked):
        """Click a district on the map, or pick it from the list: open its page."""
        if ctx.triggered_id == "district-picker":
            return f"/district/{picked}" if picked else no_update
        if not click:
            return no_update
        return f"/district/{click['properties']['id']}"
