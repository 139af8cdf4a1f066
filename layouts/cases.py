"""The case pages: the dispatch console (/cases), one case (/case/<id>) and the leaders'
indicators (/indicators); the field pages (/tasks, /inspections) are layouts/field.py.

Layouts only: the callbacks (callbacks/cases.py) fill them from the case store."""

from __future__ import annotations

from urllib.parse import urlencode

import dash_leaflet as dl
from dash import dcc, html

from ioc.domain.cases import OPEN_STAGES, TRANSITIONS
from ioc.domain.departments import all_departments
from ioc.domain.geo import CityMap
from ioc.i18n import t
from ioc.views.admin import department_options
from ioc.views.cases import (STAY_STAGES, category_options, class_options, formula_lines, period_options, source_options,
                             empty_figure, stage_name, urgency_options)

from .grids import NUMBER, ag_grid, screen_height
from .media import media_panel

HIDDEN = {"display": "none"}
CASE_MAP_ZOOM = 13  # the case map: the streets around the case (centred on it once it is read)
# hidden, yet laid out: a Leaflet map mounted under `display: none` never learns its size
HIDDEN_LAID_OUT = {"visibility": "hidden", "height": 0, "overflow": "hidden"}
CASE_REFRESH_MS = 10_000  # the case page re-reads its case (the countdown runs on the shell's tick)
INDICATORS_REFRESH_MS = 60_000
INDICATORS_LOADING_MS = 1_000  # while a period is first computed (in the background), asked again every second
# a figure column of the indicator tables: right-aligned, sized by flex, at least wide enough for "100.0%"
FIGURE = {**NUMBER, "minWidth": 74, "flex": 1}
DANGER_ACTIONS = frozenset({"reject", "void", "return", "check_fail", "deny_deferral"})
RATE_FORMAT = {"function": "params.value == null ? '—' : params.value.toFixed(1) + '%'"}
HOURS_FORMAT = {"function": "params.value == null ? '—' : params.value.toFixed(1)"}

# (field, label key, width or 0 for flex) of the case lists
CASE_COLUMNS = (("link", "case_col_id", 190), ("class", "case_col_class", 0), ("district", "case_col_district", 120),
                ("stage", "case_col_stage", 90), ("source", "case_col_source", 110), ("reported", "case_col_reported", 150),
                ("deadline", "case_col_deadline", 150), ("department", "case_col_department", 0))
TIMELINE_COLUMNS = (("time", "case_col_time", 150), ("actor", "case_col_actor", 150), ("role", "case_col_role", 110),
                    ("action", "case_col_action", 170), ("transition", "case_col_transition", 150), ("note", "case_col_note", 0))


def case_columns(spec, lang: str) -> list[dict]:
    columns = []
    for field, key, width in spec:
        column = {"field": field, "headerName": t(key, lang), **({"width": width} if width else {"flex": 1, "minWidth": 140})}
        if field == "link":
            column.update(cellRenderer="markdown", pinned="left")
        if field == "deadline":
            column["cellClassRules"] = {"case-overdue": "params.data.overdue"}
        if field == "actor":
            column["tooltipField"] = "actor_login"  # the login name behind the display name
        columns.append(column)
    return columns


def case_grid(grid_id: str, spec, lang: str, row_id: str = "id", height: str = screen_height(60)):
    return ag_grid(grid_id, case_columns(spec, lang), lang, t("case_no_rows", lang), getRowId=f"params.data.{row_id}",
                   defaultColDef={"sortable": True, "resizable": True, "filter": True}, style={"height": height})


def count_card(card_id: str, label: str, clickable: bool = True):
    """A stage card: the label and a count (`<card_id>-value`); a button when it filters."""
    children = [html.Div(label, className="kpi-label"), html.Div("—", className="kpi-value", id=f"{card_id}-value")]
    if clickable:
        return html.Button(children, id=card_id, n_clicks=0, className="kpi-card case-card")
    return html.Div(children, id=card_id, className="kpi-card case-card")


def _dropdown(element_id: str, options: list[dict], placeholder: str, value=None, clearable: bool = True) -> dcc.Dropdown:
    return dcc.Dropdown(id=element_id, options=options, value=value, placeholder=placeholder, clearable=clearable,
                        className="dash-dropdown", style={"minWidth": "220px"})


def _districts(city: CityMap, lang: str) -> list[dict]:
    return [{"label": d.name(lang), "value": d.id} for d in city.districts]


def small_map(city: CityMap, map_id: str, tile_url: str, children: list, zoom: float = 10) -> dl.Map:
    """A small map of the city (district outlines; an intranet basemap only when IOC_TILE_URL is set)."""
    minx, miny, maxx, maxy = city.bounds
    layers = [dl.TileLayer(url=tile_url, attribution="")] if tile_url else []
    layers.append(dl.GeoJSON(data=city.district_geojson, id=f"{map_id}-districts", interactive=False,
                             style={"variable": "iocMap.districtStyle"}, hideout={"values": {}, "breaks": [0], "colors": ["#1d4e89"], "selected": ""}))
    return dl.Map([*layers, *children], id=map_id, center=[(miny + maxy) / 2, (minx + maxx) / 2], zoom=zoom, zoomSnap=0.25,
                  attributionControl=False, className="case-map", style={"background": "#07121f"})


# ---- the dispatch console ---------------------------------------------------------------------

def start_event_link(href: str, lang: str, can_command: bool) -> dcc.Link | None:
    """For a commander: the way to a linked event (大联动) started from this page's subject."""
    return dcc.Link(t("ev_start_open", lang), href=href, className="btn ev-start-link") if can_command else None


def console_page(city: CityMap, lang: str, tile_url: str = "", can_command: bool = False) -> html.Div:
    cards = [count_card("case-stage-all", t("case_all", lang))]
    cards += [count_card(f"case-stage-{s}", stage_name(s, lang)) for s in OPEN_STAGES]
    cards.append(count_card("case-overdue", t("case_overdue_total", lang), clickable=False))
    filters = html.Div(
        [
            _dropdown("case-filter-district", _districts(city, lang), t("case_filter_district", lang)),
            _dropdown("case-filter-class", class_options(lang), t("case_filter_class", lang)),
            _dropdown("case-filter-source", source_options(lang), t("case_filter_source", lang)),
            _dropdown("case-filter-urgency", urgency_options(lang), t("case_filter_urgency", lang)),
            dcc.Checklist(id="case-filter-overdue", value=[], options=[{"label": t("case_overdue_only", lang), "value": "on"}],
                          className="case-check", inputStyle={"marginRight": "6px"}),
        ],
        className="form-row",
    )
    new_case = html.Section(
        [
            html.H3(t("case_new_heading", lang)),
            html.Div(
                [
                    html.Div(
                        [
                            _dropdown("case-new-class", category_options(lang), t("case_new_class", lang)),
                            html.Div([
                                dcc.Input(id="case-new-lat", type="number", placeholder=t("case_new_lat", lang), step="any",
                                          style={"width": "140px"}),
                                dcc.Input(id="case-new-lon", type="number", placeholder=t("case_new_lon", lang), step="any",
                                          style={"width": "140px"}),
                                html.Span(t("case_new_map_hint", lang), className="note"),
                            ], className="form-row"),
                            dcc.Input(id="case-new-address", placeholder=t("case_new_address", lang), maxLength=200,
                                      autoComplete="off", className="case-wide"),
                            dcc.Input(id="case-new-reporter", placeholder=t("case_new_reporter", lang), maxLength=100,
                                      autoComplete="off", className="case-wide"),
                            dcc.Textarea(id="case-new-description", placeholder=t("case_new_description", lang), maxLength=4000,
                                         className="case-textarea"),
                            html.Div([html.Button(t("case_new_submit", lang), id="case-new-submit", n_clicks=0, className="btn")],
                                     className="form-row"),
                            html.Div(id="case-new-message", className="message"),
                        ],
                        className="case-new-fields",
                    ),
                    small_map(city, "case-new-map", tile_url, [dl.LayerGroup(id="case-new-marker")]),
                ],
                className="case-new-body",
            ),
            dcc.Store(id="case-new-created", data=0),
        ],
        id="case-new-form", className="case-new", style=HIDDEN_LAID_OUT,
    )
    return html.Div(
        [
            html.Div([html.H2(t("case_console_heading", lang)), start_event_link("/events", lang, can_command)],
                     className="case-heading-row"),
            html.P(t("case_console_note", lang), className="note"),
            html.Div(cards, className="kpi-row case-cards"),
            dcc.Store(id="case-stage-filter", data=""),
            dcc.Store(id="cases-grid-key", data=None),  # what the grid's rows were made from (see callbacks.cases.console)
            filters,
            case_grid("cases-grid", CASE_COLUMNS, lang),
            html.P(id="cases-more", className="note"),  # "showing the N most pressing of M" at city scale
            new_case,
        ],
        className="case-page", id="console-page",
    )


# ---- one case ---------------------------------------------------------------------------------

def case_page(city: CityMap, case_id: str, lang: str, tile_url: str = "", can_command: bool = False,
              can_rewind: bool = False) -> html.Div:
    departments = department_options(all_departments(city), lang)
    buttons = [html.Button(transition.en if lang == "en" else transition.zh, id=f"case-act-{action}", n_clicks=0,
                           className="btn danger" if action in DANGER_ACTIONS else "btn", style=HIDDEN)
               for action, transition in TRANSITIONS.items()]
    actions = html.Section(
        [
            html.H3(t("case_actions", lang)),
            html.Div(t("case_no_actions", lang), id="case-no-actions", className="note"),
            html.Div([html.Label(t("case_department", lang)), _dropdown("case-department", departments, t("case_department", lang))],
                     id="case-department-row", className="case-field", style=HIDDEN),
            html.Div([html.Label(t("case_hours", lang)),
                      dcc.Input(id="case-hours", type="number", min=1, max=720, step=1, value=24, style={"width": "120px"})],
                     id="case-hours-row", className="case-field", style=HIDDEN),
            html.Div([html.Label(t("case_master", lang)),
                      dcc.Input(id="case-master", placeholder="ZJG-YYYYMMDD-NNNNNN", maxLength=40, autoComplete="off")],
                     id="case-master-row", className="case-field", style=HIDDEN),
            html.Div([html.Label(t("case_note", lang)), dcc.Textarea(id="case-note", maxLength=1000, className="case-textarea")],
                     id="case-note-row", className="case-field", style=HIDDEN),
            # on a phone the buttons and the result are a bar fixed at the bottom of the screen (assets/mobile.css)
            html.Div([html.Div(buttons, className="form-row case-buttons"), html.Div(id="case-message", className="message")],
                     className="case-bar"),
            start_event_link(f"/events?{urlencode({'case': case_id})}", lang, can_command),
        ],
        className="case-actions",
    )
    marker = dl.LayerGroup(id="case-marker")
    step_marker = dl.LayerGroup(id="case-rewind-marker")  # the case where it stood at the step picked below
    body = html.Div(
        [
            html.Section(
                [
                    html.Dl(id="case-facts", className="case-facts"),
                    html.Div([html.Span(t("case_fact_media", lang), className="case-sub"), html.Div(id="case-media")]),
                    html.Div([html.Span(t("case_duplicates", lang), className="case-sub"), html.Div(id="case-duplicates")]),
                    media_panel(None, lang, "case"),  # filled by the case's load; the upload for who may attach
                ],
                className="case-col",
            ),
            html.Section(
                [
                    html.Div([html.Div(t("case_countdown", lang), className="kpi-label"),
                              html.Div("—", id="case-countdown", className="kpi-value"),
                              html.Div("", id="case-due", className="kpi-sub")], className="kpi-card case-countdown-card"),
                    small_map(city, "case-map", tile_url, [marker, step_marker], zoom=CASE_MAP_ZOOM),
                ],
                className="case-col",
            ),
            html.Section([actions], className="case-col"),
        ],
        id="case-body", className="case-body",  # shown from the start: Leaflet cannot size a map mounted hidden
    )
    return html.Div(
        [
            dcc.Store(id="case-id", data=case_id),
            dcc.Store(id="case-version", data=None),
            dcc.Store(id="case-deadline", data=0),
            dcc.Store(id="case-changed", data=0),
            dcc.Interval(id="case-tick", interval=CASE_REFRESH_MS, n_intervals=0),
            html.Div(
                [
                    html.H2(f"{t('case_heading', lang)} {case_id}", id="case-title"),
                    html.Span("", id="case-stage", className="case-stage"),
                    html.Button(t("case_refresh", lang), id="case-refresh", n_clicks=0, className="btn"),
                ],
                className="case-head",
            ),
            html.Div(t("case_not_found", lang), id="case-missing", className="forbidden", style=HIDDEN),
            body,
            html.H3(t("case_timeline", lang)),
            case_grid("case-timeline", TIMELINE_COLUMNS, lang, row_id="n", height=screen_height(32)),
            case_rewind(lang, can_rewind),
        ],
        className="case-page", id="case-page",
    )


def case_rewind(lang: str, shown: bool) -> html.Section:
    """回溯此案件: the case's steps from the record; a click shows the case on the map and the city's
    figures as of that step (`callbacks.rewind`). In the page always, shown to a holder of
    `view:rewind` on a process with a record."""
    return html.Section(
        [
            html.H3(t("case_rewind", lang)),
            html.Div(t("case_rewind_hint", lang), className="note"),
            html.Div(id="case-rewind-steps", className="case-rewind-steps"),
            html.Div(id="case-rewind-view", className="case-rewind-view", role="status"),
        ],
        id="case-rewind", className="case-rewind", style=None if shown else HIDDEN,
    )


# ---- indicators -------------------------------------------------------------------------------

def indicator_columns(name_key: str, lang: str) -> list[dict]:
    """The indicator table's columns, sized by flex so the 15 of them fit a 1920 px screen;
    the headers wrap."""
    columns = [{"field": "name", "headerName": t(name_key, lang), "pinned": "left", "minWidth": 150, "flex": 1.8,
                "wrapText": True, "autoHeight": True, "cellClass": "ind-name"}]
    columns += [{"field": f, "headerName": t(f"ind_col_{f}", lang), **FIGURE} for f in ("registered", "due", "closed")]
    columns += [{"field": f, "headerName": t(f"ind_col_{f}", lang), "valueFormatter": RATE_FORMAT, **FIGURE}
                for f in ("closure_rate", "on_time_rate", "rework_rate")]
    columns += [{"field": f, "headerName": t(f"ind_col_{f}", lang), **FIGURE} for f in ("overdue", "deferred")]
    columns.append({"headerName": t("ind_col_hours_group", lang), "headerClass": "ind-group",
                    "children": [{"field": f"hours_{s}", "headerName": stage_name(s, lang), "valueFormatter": HOURS_FORMAT, **FIGURE}
                                 for s in STAY_STAGES]})
    return columns


def ranking_columns(lang: str) -> list[dict]:
    return [
        {"field": "rank", "headerName": t("ind_col_rank", lang), **FIGURE},
        {"field": "name", "headerName": t("ind_col_department", lang), "minWidth": 160, "flex": 2.4},
        {"field": "score", "headerName": t("ind_col_score", lang), "valueFormatter": HOURS_FORMAT, **FIGURE},
        {"field": "on_time_rate", "headerName": t("ind_col_on_time_rate", lang), "valueFormatter": RATE_FORMAT, **FIGURE},
        {"field": "closure_rate", "headerName": t("ind_col_closure_rate", lang), "valueFormatter": RATE_FORMAT, **FIGURE},
        {"field": "rework_rate", "headerName": t("ind_col_rework_rate", lang), "valueFormatter": RATE_FORMAT, **FIGURE},
        {"field": "overdue", "headerName": t("ind_col_overdue", lang), **FIGURE},
    ]


def _indicator_grid(grid_id: str, columns: list[dict], lang: str):
    return ag_grid(grid_id, columns, lang, t("case_no_rows", lang), {"domLayout": "autoHeight"}, getRowId="params.data.key",
                   defaultColDef={"sortable": True, "resizable": True, "wrapHeaderText": True, "autoHeaderHeight": True})


def indicators_page(lang: str) -> html.Div:
    return html.Div(
        [
            html.Div([html.H2(t("ind_heading", lang)),
                      # the monthly assessment report: the same roles, reached from here (the leader's
                      # navigation has no room left for it at 1920 px)
                      dcc.Link(t("ind_to_reports", lang), href="/reports", id="ind-to-reports", className="btn")],
                     className="page-head"),
            html.Div(
                [
                    html.Span(t("ind_period", lang)),
                    dcc.RadioItems(id="ind-period", options=period_options(lang), value="this_month", inline=True,
                                   className="case-periods", inputStyle={"marginRight": "4px"}),
                    html.Span("", id="ind-range", className="note"),
                ],
                className="form-row",
            ),
            dcc.Interval(id="ind-tick", interval=INDICATORS_REFRESH_MS, n_intervals=0),
            html.H3(t("ind_by_district", lang)),
            _indicator_grid("ind-district-grid", indicator_columns("ind_col_district", lang), lang),
            html.H3(t("ind_by_department", lang)),
            _indicator_grid("ind-department-grid", indicator_columns("ind_col_department", lang), lang),
            html.H3(t("ind_ranking", lang)),
            html.Div(
                [
                    html.Div(_indicator_grid("ind-ranking-grid", ranking_columns(lang), lang), className="case-ranking"),
                    dcc.Graph(id="ind-chart", config={"displayModeBar": False}, className="case-chart",
                              figure=empty_figure(lang, t("ind_chart", lang))),
                ],
                className="case-ranking-row",
            ),
            html.H3(t("ind_formulas", lang)),
            html.Ul([html.Li(line) for line in formula_lines(lang)], id="ind-formulas", className="case-formulas"),
        ],
        className="case-page", id="indicators-page",
    )
