"""The big screen (一屏观全域): KPI columns around the city map, alarm ticker on the right."""

from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html

from ioc.domain.geo import CityMap
from ioc.i18n import t
from ioc.views.bigscreen import INDICATORS, devices_url, district_labels, legend
from ioc.views.case_map import case_layer_hideout
from ioc.views.device_rewind import device_path
from ioc.views.trends import TREND_PANELS

from .rewind import rewind_control
from .events import (area_layer, linked_layer, wall_banner, wall_board, wall_log, wall_proposal, wall_start, wall_stores,
                     wall_tabs)

TREND_REFRESH_MS = 60_000

# the right column keeps room for the alarm board and the ticker under its three cards
LEFT = ("kpi_online", "kpi_alarms", "kpi_aqi", "kpi_traffic", "kpi_people", "kpi_platform")
RIGHT = ("kpi_cases", "kpi_water", "kpi_lights")


def kpi(key: str, lang: str, prefix: str = "") -> html.Div:
    """A KPI card; ids are `value-<prefix><key>`, `sub-…`, `card-…` (prefix keeps pages apart)."""
    return html.Div(
        [
            html.Div(t(key, lang), className="kpi-label", id=f"label-{prefix}{key}"),
            html.Div("—", className="kpi-value", id=f"value-{prefix}{key}"),
            html.Div("", className="kpi-sub", id=f"sub-{prefix}{key}"),
        ],
        className="kpi-card",
        id=f"card-{prefix}{key}",
    )


def city_map(city: CityMap, tile_url: str, map_id: str, lang: str, bounds=None, grid: bool = False,
             district: str = "", events: bool = False, density_cells: dict | None = None, can_open_cases: bool = False) -> dl.Map:
    """The map: district polygons (geometry sent once, coloured from `hideout`), devices clustered
    (fetched by the browser from the map-data route, not through a callback), open cases clustered
    (fetched likewise; `<map_id>-cases`' url is set by callbacks/case_layer.py, a click opens the
    case with `can_open_cases`), active alarms.
    An intranet basemap only when IOC_TILE_URL is set: nothing from the internet.
    `density_cells` (the district page): those unit-grid cells as a layer, off until checked,
    coloured by case count from its `hideout` (`<map_id>-density`)."""
    minx, miny, maxx, maxy = bounds or city.bounds
    layers = []
    if tile_url:
        layers.append(dl.TileLayer(url=tile_url, attribution=""))
    overlays = [
        dl.Overlay(dl.GeoJSON(
            data=city.district_geojson, id=f"{map_id}-districts",
            style={"variable": "iocMap.districtStyle"}, hoverStyle={"variable": "iocMap.districtHover"},
            onEachFeature={"variable": "iocMap.districtTooltip"}, hideout={"values": {}, "breaks": [0], "colors": ["#1d4e89"], "selected": ""},
        ), name=t("layer_districts", lang), checked=True),
        dl.Overlay(dl.GeoJSON(
            url=devices_url(district), id=f"{map_id}-devices", cluster=True, zoomToBoundsOnClick=True,
            superClusterOptions={"radius": 60, "maxZoom": 16},
            pointToLayer={"variable": "iocMap.devicePoint"}, clusterToLayer={"variable": "iocMap.deviceCluster"},
            hideout={"offline": [], "lang": lang},
        ), name=t("layer_devices", lang), checked=True),
        dl.Overlay(dl.GeoJSON(
            url=None, id=f"{map_id}-cases", cluster=True, zoomToBoundsOnClick=True,
            superClusterOptions={"radius": 60, "maxZoom": 16},
            pointToLayer={"variable": "iocMap.casePoint"}, clusterToLayer={"variable": "iocMap.caseCluster"},
            hideout=case_layer_hideout(city, lang, can_open_cases),
        ), name=t("layer_cases", lang), checked=True),
        dl.Overlay(dl.GeoJSON(
            data=None, id=f"{map_id}-alarms", pointToLayer={"variable": "iocMap.alarmPoint"},
        ), name=t("layer_alarms", lang), checked=True),
        dl.Overlay(dl.GeoJSON(
            data=district_labels(city, lang), id=f"{map_id}-labels", pointToLayer={"variable": "iocMap.districtLabel"},
            interactive=False,
        ), name=t("layer_labels", lang), checked=True),
    ]
    if events:  # the wall's event mode: the event's area (the map fits it) and what it links
        overlays.insert(1, dl.Overlay(area_layer(f"{map_id}-event-area"), name=t("ev_map", lang), checked=True))
        overlays.insert(-1, dl.Overlay(linked_layer(f"{map_id}-event-linked"), name=t("ev_linked", lang), checked=True))
    if grid:
        overlays.insert(1, dl.Overlay(dl.GeoJSON(
            data=city.grid_geojson(), id=f"{map_id}-grid", style={"variable": "iocMap.gridStyle"},
            hideout={"values": {}}, interactive=False,
        ), name=t("layer_grid", lang), checked=False))
    if density_cells is not None:
        # a pane of its own above the district polygons (which Leaflet redraws as their colours change)
        overlays.insert(1, dl.Overlay(dl.Pane(dl.GeoJSON(
            data=density_cells, id=f"{map_id}-density", style={"variable": "iocMap.densityStyle"},
            hideout={"values": {}, "breaks": [1], "colors": ["#d00000"]}, interactive=False,
        ), name=f"{map_id}-density-pane", style={"zIndex": 450}), name=t("layer_density", lang), checked=False))
    return dl.Map(
        [*layers, dl.LayersControl(overlays, id=f"{map_id}-layers", collapsed=False)],
        id=map_id,
        # the map fits these bounds once, when Leaflet creates it, at whatever size the wall has (1080p, 4K);
        # never through `viewport`, whose every change dash-leaflet logs to the console. No center/zoom:
        # react-leaflet would take them instead of the bounds; and nothing reads the map's view back, so
        # dash-leaflet need not track it (its tracking expects a `center` prop)
        bounds=[[miny, minx], [maxy, maxx]],
        trackViewport=False,
        zoomSnap=0.25,
        attributionControl=False,
        className="city-map",
        style={"background": "#07121f"},
    )


def critical_popup(lang: str, can_ack: bool = True) -> list:
    """What the pop-up for a new critical alarm remembers, and its chime slot (the pop-up itself is
    `popup_box`, drawn over the map)."""
    return [
        dcc.Store(id="seen-alarms", data=[], storage_type="session"),
        dcc.Store(id="fleet-version"),  # registry version the device layer's offline styling was sent for
        dcc.Store(id="bigscreen-sent"),  # digests of the big parts this screen was sent (not sent again)
        dcc.Store(id="popup-alarm", data=None),
        dcc.Store(id="popup-since", data=None),  # when the pop-up on show appeared (epoch ms): a kiosk folds it later
        html.Div(id="sound-slot"),
    ]


def popup_box(lang: str, can_ack: bool = True) -> html.Div:
    """The pop-up for a new critical alarm, in the map's lower left corner so the map's toolbar, zoom and
    layer control stay free (a read-only kiosk sees it without the acknowledge button; there it
    folds into a badge in the map's corner after IOC_POPUP_SECONDS)."""
    return html.Div(
        [
            html.Div(t("new_critical", lang), className="popup-title", id="popup-title"),
            html.Div(id="popup-text", className="popup-text"),
            html.Div([html.Button(t("ack", lang), id="popup-ack", n_clicks=0, className="btn-ack" if can_ack else "btn-ack hidden"),
                      html.Button(t("later", lang), id="popup-later", n_clicks=0, className="btn-later")],
                     className="popup-buttons"),
        ],
        id="popup", className="popup hidden", role="alertdialog",
    )


def clear_dialog(lang: str) -> html.Div:
    """Clearing an alarm by hand: the alarm, a required note, confirm or cancel."""
    return html.Div(
        [
            dcc.Store(id="clear-alarm", data=None),
            html.Div(t("clear", lang), className="clear-title", id="clear-title"),
            html.Div(id="clear-text", className="popup-text"),
            dcc.Textarea(id="clear-note", placeholder=t("clear_note", lang), maxLength=500, value=""),
            html.Div(id="clear-error", className="clear-error"),
            html.Div([html.Button(t("clear_confirm", lang), id="clear-confirm", n_clicks=0, className="btn-clear"),
                      html.Button(t("cancel", lang), id="clear-cancel", n_clicks=0, className="btn-later")],
                     className="popup-buttons"),
        ],
        id="clear-dialog", className="clear-dialog hidden", role="dialog",
    )


def bigscreen(city: CityMap, lang: str, tile_url: str, can_ack: bool = True, can_command: bool = False,
              can_rewind: bool = False, can_open_cases: bool = False) -> html.Div:
    """The wall. While linked events are live it follows them (战时模式, `event-mode` on the grid):
    the toolbar gives way to the event's banner, the trends to its task board, the right
    column's cards and ticker to its log; the map's size never changes, it fits the event's area."""
    start = html.Button(t("ev_start_open", lang), id="ev-wall-start-open", n_clicks=0,
                        className="btn ev-start-open" if can_command else "btn ev-start-open hidden")
    columns = html.Div(
        [
            html.Section([kpi(k, lang) for k in LEFT], className="column left"),
            html.Section(
                [
                    html.Div([html.Div(
                        [
                            html.Span(t("indicator", lang), id="indicator-label", className="indicator-label"),
                            dcc.RadioItems(
                                id="indicator",
                                options=[{"label": t(f"ind_{i}", lang), "value": i} for i in INDICATORS],
                                value="alarms", inline=True, className="indicator",
                            ),
                            dcc.Dropdown(
                                id="district-picker", placeholder=t("pick_district", lang), clearable=True, searchable=True,
                                options=[{"label": d.name(lang), "value": d.id} for d in city.districts],
                                className="district-picker",
                            ),
                        ],
                        className="map-toolbar",
                    ), wall_banner(lang), start, rewind_control(lang, can_rewind)], className="map-head"),
                    html.Div([city_map(city, tile_url, "map", lang, grid=True, events=True, can_open_cases=can_open_cases), popup_box(lang, can_ack),
                              wall_proposal(lang)], className="map-frame"),
                    html.Div([html.Div(id="legend", className="legend"), wall_tabs()], className="map-foot"),
                    dcc.Interval(id="trend-tick", interval=TREND_REFRESH_MS, n_intervals=0),
                    dcc.Store(id="trend-shown", data=None),  # the key of the figures the panels show (live or replayed minute)
                    html.Div([dcc.Graph(id=key, config={"displayModeBar": False}, className="trend")
                              for key, *_ in TREND_PANELS], className="trends"),
                    wall_board(lang),
                ],
                className="column center",
            ),
            html.Section(
                [kpi(k, lang) for k in RIGHT] + [wall_log(lang)]
                + [html.Div([html.H3(t("board", lang)), html.Div(id="ack-message", className="ack-message"),
                             html.Ul(id="alarm-board", className="board")], className="board-box"),
                   html.Div([html.H3(t("ticker", lang), id="ticker-title"), html.Ul(id="ticker", className="ticker")], className="ticker-box")],
                className="column right",
            ),
        ],
        className="bigscreen", id="bigscreen-grid",
    )
    # the pop-up's stores stay outside the three-column grid so they never take a grid cell
    return html.Div([*critical_popup(lang, can_ack), *wall_stores(), clear_dialog(lang), wall_start(city, lang), columns],
                    id="bigscreen", className="bigscreen-page")


def alarm_rows(rows: list[dict], lang: str, with_ack: bool = True, with_clear: bool = False, with_rewind: bool = False) -> list:
    """Rows of the alarm board; buttons only for what the viewer may do (acknowledge, clear) and,
    with `with_rewind` (holds view:rewind on a process with a record), a 回溯 link to the device's
    readings around the alarm (`/device/<id>?at=<raised_at>`)."""
    items = []
    for r in rows:
        status = []
        if r["escalated"]:
            status.append(html.Span(r["escalation"], className="b-esc"))
        if r["acked_by"]:
            status.append(html.Span(f"{t('acked_by', lang)} {r['acked_by']} {r['acked_at']}", className="b-ack",
                                    title=r.get("acked_login", "")))
        button = [] if r["acked_by"] or not with_ack else [html.Button(t("ack_short", lang), id={"type": "ack", "id": r["id"]}, n_clicks=0, className="btn-ack",
                                                                                title=t("ack", lang))]
        if with_clear:
            button.append(html.Button(t("clear", lang), id={"type": "clear", "id": r["id"]}, n_clicks=0, className="btn-clear"))
        items.append(html.Li(
            [html.Span(t("severity_" + r["severity"], lang), className=f"t-sev {r['severity']}"),
             # the device and its reading first, so a narrow row cuts the district, never them; a click
             # centres the map on the alarm (ioc_map.js reads data-alarm)
             html.Span([f"{r['since']} ", html.Span(r["device"], className="b-device", title=r["device_id"]),
                        f" · {r['reading']} · {r['rule']} · {r['district']}"],
                       className="b-text", **{"data-alarm": r["id"]},
                       title=" · ".join(x for x in (r["device_id"], r["threshold"], t("board_locate", lang)) if x)),
             # the status and the buttons move together: beside the text, or on a line of their own at the right
             html.Div([*status, *button, *rewind_link(r, lang, with_rewind)], className="b-side")],
            className="board-row escalated" if r["escalated"] else "board-row",
        ))
    return items


def rewind_link(row: dict, lang: str, shown: bool) -> list:
    """The board row's 回溯 link (none without the right, a record, or a device to go to)."""
    if not shown or not row.get("device_id"):
        return []
    return [dcc.Link(t("board_rewind", lang), href=device_path(row["device_id"], row.get("raised_at") or None), className="b-rewind",
                     title=t("board_rewind_title", lang))]


def empty_row(key: str, lang: str) -> html.Li:
    """What an empty board, ticker or alarm list says instead of nothing."""
    return html.Li(t(key, lang), className="empty-row")


def legend_items(indicator: str, lang: str) -> list:
    """The map's colour classes for an indicator, as a row of swatches."""
    return [html.Span([html.I(style={"background": c}), label], className="legend-item") for c, label in legend(indicator, lang)]
