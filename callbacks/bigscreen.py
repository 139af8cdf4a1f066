"""Callbacks of the big screen: device positions once, then small live updates every tick."""

from __future__ import annotations

import time

import redis
from dash import Input, Output, State, html, no_update

from ioc.adapters.city_snapshot import read_city, read_devices
from ioc.i18n import t
from ioc.views.bigscreen import (alarms_geojson, devices_geojson, district_hideout, district_values, kpi_texts, kpis,
                                 legend, offline_ids, ticker, water_alert)

from layouts.bigscreen import LEFT, RIGHT

REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)
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
    def client():
        if services.redis is None:
            raise redis.ConnectionError("REDIS_URL is not set")
        return services.redis

    @app.callback(Output("map-devices", "data"), Input("map", "id"))
    def load_device_positions(_):
        try:
            return devices_geojson(read_devices(client(), services.settings.redis_shards))
        except REDIS_ERRORS:
            return no_update

    @app.callback(
        [Output(f"value-{k}", "children") for k in KEYS] + [Output(f"sub-{k}", "children") for k in KEYS]
        + [Output("card-kpi_water", "className"), Output("map-districts", "hideout"), Output("map-devices", "hideout"),
           Output("map-alarms", "data"), Output("ticker", "children"), Output("legend", "children")],
        Input("tick", "n_intervals"), Input("indicator", "value"), State("lang", "data"),
    )
    def refresh(_n, indicator, lang):
        lang = lang if lang in ("zh", "en") else services.settings.lang
        try:
            snapshot = read_city(client(), services.settings.redis_shards, int(time.time() * 1000))
            events = services.snapshot.alarm_events(8)
        except REDIS_ERRORS:
            return [no_update] * (2 * len(KEYS) + 6)
        figures = kpis(snapshot, lang)
        texts = kpi_texts(figures, lang)
        values = [texts[k][0] for k in KEYS]
        subs = [texts[k][1] for k in KEYS]
        water_class = "kpi-card alert" if water_alert(figures) else "kpi-card"
        hideout = district_hideout(district_values(snapshot, indicator), indicator)
        legend_items = [html.Span([html.I(style={"background": c}), label], className="legend-item") for c, label in legend(indicator, lang)]
        return values + subs + [
            water_class, hideout, {"offline": offline_ids(snapshot.devices)},
            alarms_geojson(snapshot.alarms, snapshot.devices, lang), ticker_items(ticker(events, services.city, lang), lang),
            legend_items,
        ]

    @app.callback(Output("url", "pathname"), Input("map-districts", "clickData"), prevent_initial_call=True)
    def drill_down(click):
        if not click:
            return no_update
        return f"/district/{click['properties']['id']}"
