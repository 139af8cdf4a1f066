"""Callbacks of the district page (/district/<id>) and the district comparison (/districts)."""

from __future__ import annotations

import redis
from dash import Input, Output, State, no_update

from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.i18n import resolve_lang
from ioc.web.dash_guard import secured_callback
from ioc.web.people import DisplayNames
from ioc.web.prejson import serialized
from ioc.views.bigscreen import (alarm_board, alarms_geojson, district_hideout, district_ranking,
                                 district_values, kpi_texts, kpis)

from layouts.bigscreen import alarm_rows, empty_row
from layouts.district import DISTRICT_KPIS


def register(app, services) -> None:
    policy = services.settings.escalation_policy()
    people = DisplayNames(services.users)

    def city_cache():
        if services.city_cache is None:
            raise redis.ConnectionError("REDIS_URL is not set")
        return services.city_cache

    @secured_callback(
        app, "view:districts",
        [Output(f"value-d-{k}", "children") for k in DISTRICT_KPIS] + [Output(f"sub-d-{k}", "children") for k in DISTRICT_KPIS]
        + [Output("dmap-districts", "hideout"), Output("dmap-devices", "hideout"), Output("dmap-alarms", "data"),
           Output("district-alarms", "children")],
        Input("tick", "n_intervals"), Input("district-id", "data"), State("lang", "data"),
    )
    def refresh(_n, district_id, lang):
        lang = resolve_lang(lang, services.settings.lang)
        try:
            cache = city_cache()
            snapshot = cache.snapshot()
        except REDIS_UNAVAILABLE:
            return [no_update] * (2 * len(DISTRICT_KPIS) + 4)
        return cache.derived(snapshot, ("district", district_id, lang), lambda s: district_frame(s, district_id, lang))

    def district_frame(snapshot, district_id, lang: str) -> list:
        """What every viewer of one district in one language sees of one snapshot (made once per snapshot)."""
        texts = kpi_texts(kpis(snapshot, lang, district=district_id), lang)
        alarms = [a for a in snapshot.alarms if a.get("district") == district_id]
        alarm_devices = snapshot.fleet.of_alarms(alarms)
        items = alarm_rows(alarm_board(alarms, alarm_devices, services.city, snapshot.now_ms, policy, lang, limit=30,
                                       people=people.get()), lang, with_ack=False) or [empty_row("district_alarms_empty", lang)]
        hideout = district_hideout(district_values(snapshot, "alarms"), "alarms", selected=district_id, lang=lang)
        return ([texts[k][0] for k in DISTRICT_KPIS] + [texts[k][1] for k in DISTRICT_KPIS]
                + [serialized(v) for v in (hideout, {"offline": snapshot.fleet.offline_by_district.get(district_id, []), "lang": lang},
                                           alarms_geojson(alarms, alarm_devices, lang), items)])

    @secured_callback(app, "view:districts", Output("ranking", "rowData"), Input("tick", "n_intervals"), State("lang", "data"))
    def ranking(_n, lang):
        lang = resolve_lang(lang, services.settings.lang)
        try:
            cache = city_cache()
            snapshot = cache.snapshot()
        except REDIS_UNAVAILABLE:
            return no_update
        return cache.derived(snapshot, ("ranking", lang), lambda s: serialized(ranking_rows(s, lang)))

    def ranking_rows(snapshot, lang: str) -> list[dict]:
        rows = district_ranking(snapshot, services.city, lang)
        for row in rows:
            row["district"] = f"[{row['district']}](/district/{row['id']})"
        return rows
