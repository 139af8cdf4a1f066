"""Callbacks of the district page (/district/<id>) and the district comparison (/districts)."""

from __future__ import annotations

from datetime import date

import psycopg
from dash import Input, Output, State

from ioc.domain.access import allowed
from ioc.i18n import resolve_lang, t
from ioc.reports.density import by_cell, by_district, case_counts
from ioc.reports.geo import MAX_DAYS, days_ms
from ioc.views.density import EMPTY_HIDEOUT, density_view
from ioc.web.auth import current_principal
from ioc.web.dash_guard import secured_callback
from ioc.web.people import display_names
from ioc.web.prejson import serialized
from ioc.web.services import current_services
from ioc.views.bigscreen import (alarm_board, alarms_geojson, district_hideout, district_ranking,
                                 district_values, kpi_texts, kpis)

from callbacks import case_layer
from callbacks.rewind import replay_snapshot
from layouts.bigscreen import alarm_rows, empty_row
from layouts.district import DISTRICT_KPIS, density_legend, export_links


def refresh(_n, district_id, lang, at=None, play=None):
    """The district's KPI cards, its map layers and its alarms (of the moment the time control shows, if any)."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    replayed = replay_snapshot(services, at, play)
    cache = services.rewind if replayed is not None else services.city_cache
    snapshot = replayed if replayed is not None else cache.snapshot()
    # the recipe is also made ahead by the cache's own thread: it takes its services with it
    with_rewind = services.rewind is not None and allowed(current_principal(), "view:rewind")  # the alarms' 回溯 links
    return cache.derived(snapshot, ("district", district_id, lang, with_rewind),
                         lambda s: district_frame(services, s, district_id, lang, with_rewind))


def district_frame(services, snapshot, district_id, lang: str, with_rewind: bool = False) -> list:
    """What every viewer of one district in one language sees of one snapshot (made once per snapshot)."""
    texts = kpi_texts(kpis(snapshot, lang, district=district_id), lang)
    alarms = [a for a in snapshot.alarms if a.get("district") == district_id]
    alarm_devices = snapshot.fleet.of_alarms(alarms)
    board = alarm_board(alarms, alarm_devices, services.city, snapshot.now_ms, services.settings.escalation_policy(), lang, limit=30,
                        people=display_names(services.users).get())
    items = alarm_rows(board, lang, with_ack=False, with_rewind=with_rewind) or [empty_row("district_alarms_empty", lang)]
    hideout = district_hideout(district_values(snapshot, "alarms"), "alarms", selected=district_id, lang=lang)
    return ([texts[k][0] for k in DISTRICT_KPIS] + [texts[k][1] for k in DISTRICT_KPIS]
            + [serialized(v) for v in (hideout, {"offline": snapshot.fleet.offline_by_district.get(district_id, []), "lang": lang},
                                       alarms_geojson(alarms, alarm_devices, lang), items)])


def ranking(_n, lang, at=None, play=None):
    """The districts compared, each linking to its page (at the moment the time control shows, if any)."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    replayed = replay_snapshot(services, at, play)
    cache = services.rewind if replayed is not None else services.city_cache
    snapshot = replayed if replayed is not None else cache.snapshot()
    return cache.derived(snapshot, ("ranking", lang), lambda s: serialized(ranking_rows(s, services.city, lang)))


def ranking_rows(snapshot, city, lang: str) -> list[dict]:
    rows = district_ranking(snapshot, city, lang)
    for row in rows:
        row["district"] = f"[{row['district']}](/district/{row['id']})"
    return rows


def chosen_days(first, last) -> tuple[date, date] | None:
    """The date picker's period as two dates, None when incomplete, reversed or too long."""
    try:
        d1, d2 = date.fromisoformat(str(first)[:10]), date.fromisoformat(str(last)[:10])
    except ValueError:
        return None
    return (d1, d2) if d1 <= d2 and (d2 - d1).days < MAX_DAYS else None


def density(overlays, first, last, district_id, lang):
    """The density layer's hideout, its legend and its sentence, read from the record only while
    the layer is on."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    if t("layer_density", lang) not in (overlays or []):
        return EMPTY_HIDEOUT, [], t("density_hint", lang)
    return density_frame(services, district_id, first, last, lang)


def density_frame(services, district_id, first, last, lang: str) -> tuple:
    days = chosen_days(first, last)
    district = services.city.district(district_id)
    if days is None or district is None:
        return EMPTY_HIDEOUT, [], t("density_bad_period", lang)
    if not services.settings.database_url:
        return EMPTY_HIDEOUT, [], t("density_no_record", lang)
    try:
        counts = case_counts(services.settings.database_url, *days_ms(*days), district=district_id)
    except psycopg.Error:
        return EMPTY_HIDEOUT, [], t("density_unavailable", lang)
    cells = by_cell(counts, services.city, district_id)
    districts = by_district(counts, services.city)
    row = districts[districts["district"] == district_id].iloc[0].to_dict()
    view = density_view(cells, row, days[0], days[1], district.name(lang), lang)
    return view.hideout, density_legend(view.legend, lang), view.summary


def exports(first, last, district_id, lang):
    """The GIS export links of the period, for the roles holding `report:export` (the route checks again)."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    days = chosen_days(first, last)
    if days is None or services.city.district(district_id) is None or not allowed(current_principal(), "report:export"):
        return []
    return export_links(district_id, days[0].isoformat(), days[1].isoformat(), lang)


def register(app, services) -> None:
    case_layer.register(app, "dmap", "d-", "view:districts")  # the map's open cases (their address)
    secured_callback(
        app, "view:districts",
        [Output(f"value-d-{k}", "children") for k in DISTRICT_KPIS] + [Output(f"sub-d-{k}", "children") for k in DISTRICT_KPIS]
        + [Output("dmap-districts", "hideout"), Output("dmap-devices", "hideout"), Output("dmap-alarms", "data"),
           Output("district-alarms", "children")],
        Input("tick", "n_intervals"), Input("district-id", "data"), State("lang", "data"),
        Input("d-rewind-at", "data"), State("d-rewind-play", "data"),
    )(refresh)
    secured_callback(app, "view:districts", Output("ranking", "rowData"), Input("tick", "n_intervals"), State("lang", "data"),
                     Input("r-rewind-at", "data"), State("r-rewind-play", "data"))(ranking)
    secured_callback(
        app, "view:districts",
        [Output("dmap-density", "hideout"), Output("density-legend", "children"), Output("density-summary", "children")],
        Input("dmap-layers", "overlays"), Input("density-period", "start_date"), Input("density-period", "end_date"),
        Input("district-id", "data"), State("lang", "data"),
    )(density)
    secured_callback(
        app, "view:districts", Output("district-exports", "children"),
        Input("density-period", "start_date"), Input("density-period", "end_date"), Input("district-id", "data"),
        State("lang", "data"),
    )(exports)
