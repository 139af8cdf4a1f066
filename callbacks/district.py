"""Callbacks of the district page (/district/<id>) and the district comparison (/districts)."""

from __future__ import annotations

import time

import redis
from dash import Input, Output, State, html, no_update

from ioc.adapters.city_snapshot import read_city, read_devices
from ioc.i18n import t
from ioc.views.bigscreen import (alarms_geojson, devices_geojson, district_hideout, district_ranking, district_values,
                                 fmt_value, kpi_texts, kpis, offline_ids)

from layouts.district import DISTRICT_KPIS

REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


def register(app, services) -> None:
    shards = services.settings.redis_shards

    @app.callback(Output("dmap-devices", "data"), Input("district-id", "data"))
    def load_device_positions(district_id):
        try:
            rows = [d for d in read_devices(services.redis, shards) if d.district == district_id]
        except (REDIS_ERRORS + (AttributeError,)):
            return no_update
        return devices_geojson(rows)

    @app.callback(
        [Output(f"value-d-{k}", "children") for k in DISTRICT_KPIS] + [Output(f"sub-d-{k}", "children") for k in DISTRICT_KPIS]
        + [Output("dmap-districts", "hideout"), Output("dmap-devices", "hideout"), Output("dmap-alarms", "data"),
           Output("district-alarms", "children")],
        Input("tick", "n_intervals"), Input("district-id", "data"), State("lang", "data"),
    )
    def refresh(_n, district_id, lang):
        lang = lang if lang in ("zh", "en") else services.settings.lang
        try:
            snapshot = read_city(services.redis, shards, int(time.time() * 1000))
        except (REDIS_ERRORS + (AttributeError,)):
            return [no_update] * (2 * len(DISTRICT_KPIS) + 4)
        texts = kpi_texts(kpis(snapshot, lang, district=district_id), lang)
        mine = [d for d in snapshot.devices if d.district == district_id]
        alarms = sorted((a for a in snapshot.alarms if a.get("district") == district_id),
                        key=lambda a: ({"critical": 0, "major": 1}.get(a.get("severity"), 2), -a.get("raised_at", 0)))
        names = {d.id: d.name for d in mine}
        items = [
            html.Li([html.Span(t("severity_" + a["severity"], lang), className=f"t-sev {a['severity']}"),
                     html.Span(a.get("name_en" if lang == "en" else "name_zh"), className="t-rule"),
                     html.Span(names.get(a["device_id"], a["device_id"]), className="t-device"),
                     html.Span(f"{a.get('attribute')} = {fmt_value(a.get('value'), lang)}", className="t-value")],
                    className="ticker-row")
            for a in alarms[:30]
        ]
        hideout = district_hideout(district_values(snapshot, "alarms"), "alarms", selected=district_id)
        return ([texts[k][0] for k in DISTRICT_KPIS] + [texts[k][1] for k in DISTRICT_KPIS]
                + [hideout, {"offline": offline_ids(mine)}, alarms_geojson(alarms, mine, lang), items])

    @app.callback(Output("ranking", "rowData"), Input("tick", "n_intervals"), State("lang", "data"))
    def ranking(_n, lang):
        lang = lang if lang in ("zh", "en") else services.settings.lang
        try:
            snapshot = read_city(services.redis, shards, int(time.time() * 1000))
        except (REDIS_ERRORS + (AttributeError,)):
            return no_update
        rows = district_ranking(snapshot, services.city, lang)
        for row in rows:
            row["district"] = f"[{row['district']}](/district/{row['id']})"
        return rows
