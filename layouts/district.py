"""The leaders' district page (/district/<id>) and the district comparison (/districts)."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from dash import dcc, html

from ioc.domain.geo import CityMap
from ioc.i18n import t
from ioc.reports.geo import EXPORTS

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


def china_today() -> date:
    """Today in China time (the page's default period ends today)."""
    import time

    from ioc.domain.clock import local_time

    return local_time(time.time() * 1000).date()


DENSITY_DAYS = 30  # the density map's period when the page opens: the last 30 days


def district_cells(city: CityMap, district_id: str) -> dict:
    """The district's unit-grid cells as GeoJSON polygons (the density layer's geometry, sent once)."""
    grid = city.grid_geojson()
    return {"type": "FeatureCollection", "features": [f for f in grid["features"] if f["properties"]["district"] == district_id]}


def density_panel(lang: str, today: date) -> html.Div:
    """Over the map's lower left corner (it moves no box of the page): the period, the density
    legend and figures (filled by the callback while the layer is on), the GIS exports (filled
    for the roles holding `report:export`)."""
    first = today - timedelta(days=DENSITY_DAYS - 1)
    return html.Div(
        [
            html.Div([html.Span(t("density_title", lang), className="legend-title"),
                      dcc.DatePickerRange(id="density-period", start_date=first.isoformat(), end_date=today.isoformat(),
                                          display_format="YYYY-MM-DD", first_day_of_week=1, minimum_nights=0,
                                          max_date_allowed=(today + timedelta(days=1)).isoformat(),
                                          month_format="YYYY-MM", className="density-dates")],
                     className="density-row"),
            html.Div(id="density-legend", className="legend density-legend"),
            html.Div(t("density_hint", lang), id="density-summary", className="density-summary"),
            html.Div(id="district-exports", className="district-exports"),
        ],
        id="density-panel", className="density-panel",
    )


def density_legend(classes: list[tuple[str, str]], lang: str) -> list:
    """The density layer's colour classes as swatches, then the unit."""
    if not classes:
        return []
    return [*(html.Span([html.I(style={"background": c}), label], className="legend-item") for c, label in classes),
            html.Span(t("density_unit", lang), className="legend-item density-unit")]


def export_links(district_id: str, first: str, last: str, lang: str) -> list:
    """The GIS export links of the district and period (GET /api/v1/exports/…, a download each)."""
    query = urlencode({"from": first, "to": last, "district": district_id})
    rows = [html.Span(t("export_title", lang), className="legend-title", title=t("export_help", lang))]
    for what in EXPORTS:
        links = [html.A(label, href=f"/api/v1/exports/{what}.{fmt}?{query}", id=f"export-{what}-{fmt}", download="",
                        className="export-link") for fmt, label in (("gpkg", "GeoPackage"), ("geojson", "GeoJSON"))]
        rows.append(html.Span([t(f"export_{what}", lang), " ", *links], className="export-group"))
    return rows


def district_page(city: CityMap, district_id: str, lang: str, tile_url: str, today: date | None = None,
                  can_rewind: bool = False, can_open_cases: bool = False) -> html.Div:
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
                                              district=district_id, density_cells=district_cells(city, district_id),
                                              can_open_cases=can_open_cases),
                                  html.Div([html.Span(t("ind_alarms", lang), className="legend-title"), *legend_items("alarms", lang)],
                                           id="dlegend", className="legend"),
                                  density_panel(lang, today or china_today())],
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
