"""The leaders' district page (/district/<id>) and the district comparison (/districts)."""

from __future__ import annotations

from dash import dcc, html

from ioc.domain.geo import CityMap
from ioc.i18n import t

from .bigscreen import city_map, kpi, legend_items
from .events import district_events
from .rewind import rewind_control
from .grids import INTEGER_FORMAT, NUMBER, ag_grid

DISTRICT_KPIS = ("kpi_online", "kpi_alarms", "kpi_cases", "kpi_aqi", "kpi_traffic", "kpi_water", "kpi_lights")


def district_bounds(city: CityMap, district_id: str):
    """(minlon, minlat, maxlon, maxlat) of one district's polygon(s)."""
    xs, ys = [], []

    def walk(coords):
        if coords and isinstance(coords[0], (int, float)):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for c in coords:
                walk(c)

    for feature in city.district_geojson["features"]:
        if feature["properties"]["id"] == district_id:
            walk(feature["geometry"]["coordinates"])
    return (min(xs), min(ys), max(xs), max(ys)) if xs else city.bounds


def district_page(city: CityMap, district_id: str, lang: str, tile_url: str, can_rewind: bool = False) -> html.Div:
    district = city.district(district_id)
    if district is None:
        return html.Div([html.H2(t("not_found", lang)), dcc.Link(t("back_to_city", lang), href="/")], className="district-page")
    return html.Div(
        [
            dcc.Store(id="district-id", data=district_id),
            html.Div(
                [
                    dcc.Link("← " + t("back_to_city", lang), href="/", id="back-to-city", className="back"),
                    html.H2(district.name(lang), id="district-name"),
                    html.Span(f"{t('district_area', lang)} {district.area_km2:.1f} km²", className="district-meta", id="district-meta"),
                    rewind_control(lang, can_rewind, "d-"),
                ],
                className="district-head",
            ),
            html.Div(
                [
                    html.Section([kpi(k, lang, prefix="d-") for k in DISTRICT_KPIS], className="column left"),
                    html.Section([city_map(city, tile_url, "dmap", lang, bounds=district_bounds(city, district_id),
                                              district=district_id),
                                  html.Div([html.Span(t("ind_alarms", lang), className="legend-title"), *legend_items("alarms", lang)],
                                           id="dlegend", className="legend")],
                                 className="column center"),
                    html.Section(
                        [district_events(lang), html.H3(t("district_worst", lang)), html.Ul(id="district-alarms", className="ticker")],
                        className="column right",
                    ),
                ],
                className="bigscreen",
            ),
        ],
        className="district-page",
    )


def ranking_columns(lang: str) -> list[dict]:
    num = NUMBER
    return [
        {"field": "district", "headerName": t("col_district", lang), "pinned": "left",
         "cellRenderer": "markdown"},
        {"field": "devices", "headerName": t("col_devices", lang), **num},
        {"field": "online_rate", "headerName": t("col_online", lang), **num},
        {"field": "alarms", "headerName": t("col_alarms", lang), "sort": "desc", **num},
        {"field": "critical", "headerName": t("col_critical", lang), **num},
        {"field": "cases", "headerName": t("col_cases", lang), **num},
        {"field": "cases_overdue", "headerName": t("col_cases_overdue", lang), **num},
        {"field": "aqi", "headerName": t("col_aqi", lang), "valueFormatter": INTEGER_FORMAT, **num},
    ]


def districts_page(lang: str, can_rewind: bool = False) -> html.Div:
    return html.Div(
        [
            html.H2(t("nav_districts", lang)),
            rewind_control(lang, can_rewind, "r-"),
            ag_grid("ranking", ranking_columns(lang), lang, grid_options_extra={"domLayout": "autoHeight"},
                    defaultColDef={"sortable": True, "resizable": True}, columnSize="sizeToFit", getRowId="params.data.id"),
        ],
        className="districts-page",
    )
