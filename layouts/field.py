"""The field pages, phone first: the inspector's queues (/inspections: 待核实 and 待核查, nearest
first) and a department's tasks (/tasks: by deadline, with the linked events' tasks above).

One builder for both (`field_page(kind, …)`): every id starts with the page's prefix (`insp-`,
`tasks-`), so both pages live in the validation layout at once. A page is a list of cards (each
with a small map of the place and the phone's navigation links) and one work sheet for the case
being worked on (its photos before | after, the note, the action buttons in a bar at the bottom).
The callbacks (callbacks/field.py) fill both; the browser's position comes from assets/field.js.
"""

from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html

from ioc.domain.geo import CityMap
from ioc.i18n import t
from layouts.events import my_event_tasks
from layouts.media import media_panel
from ioc.views.field import HANDLER_ACTIONS, INSPECTOR_ACTIONS, field_action_label, fit_view, needs_note

PREFIX = {"inspections": "insp", "tasks": "tasks"}
ACTIONS = {"inspections": INSPECTOR_ACTIONS, "tasks": HANDLER_ACTIONS}
DANGER = frozenset({"void", "check_fail", "return"})
HIDDEN = {"display": "none"}
SHOWN: dict = {}
REFRESH_MS = 10_000  # the list and the sheet are read again (and the position asked for at most once a minute)
CARD_ZOOM = 15
CARD_MAP_PX, SHEET_MAP_PX = (100, 92), (340, 190)  # the smallest the maps are drawn (assets/field.css)
FIT_BOTH_M = 8_000  # a case this near the phone: its small map shows both (which way to go)
SHEET_ZOOM = 16
CASE_COLOR, OVERDUE_COLOR, YOU_COLOR = "#ffd60a", "#ff453a", "#0a84ff"


def inspections_page(lang: str, tile_url: str = "") -> html.Div:
    """/inspections: the inspector's queues 待核实 and 待核查."""
    return field_page("inspections", lang, tile_url)


def tasks_page(lang: str, tile_url: str = "") -> html.Div:
    """/tasks: the department's linked-event tasks (layouts/events.py), then its cases."""
    return field_page("tasks", lang, tile_url, my_event_tasks(lang))


def field_page(kind: str, lang: str, tile_url: str = "", extra=None) -> html.Div:
    """/inspections (`kind` "inspections") or /tasks (`kind` "tasks"); `extra` goes above the list
    (the department's linked-event tasks on /tasks)."""
    p = PREFIX[kind]
    head = html.Div(
        [
            html.H2([t("fq_insp_heading" if kind == "inspections" else "fq_tasks_heading", lang)]
                    + ([html.Span("", id=f"{p}-department", className="field-department")] if kind == "tasks" else []),
                    id=f"{p}-title"),
            html.Button(t("fq_locate", lang), id=f"{p}-locate", n_clicks=0, className="btn field-locate"),
        ],
        className="field-head",
    )
    if kind == "inspections":
        switch = html.Div(
            [html.Button([t(f"fq_queue_{q}", lang), html.Span("", id=f"{p}-count-{q}", className="field-count")],
                         id=f"{p}-tab-{q}", n_clicks=0, className="field-tab" + (" active" if q == "verify" else ""))
             for q in ("verify", "check")],
            className="field-tabs", role="tablist",
        )
    else:
        switch = html.Div(
            [html.Div([html.Span("—", id=f"{p}-count-{k}", className="field-figure"),
                       html.Span(t(f"case_tasks_{k}", lang), className="field-figure-label")], className="field-figure-box")
             for k in ("open", "overdue", "unacked", "handled")],
            className="field-figures",
        )
    return html.Div(
        [
            dcc.Store(id=f"{p}-position", data=None),  # the browser's position (assets/field.js)
            dcc.Store(id=f"{p}-queue", data="verify"),
            dcc.Store(id=f"{p}-open", data=""),  # the case on the work sheet
            dcc.Store(id=f"{p}-version", data=None),  # its version the sheet shows
            dcc.Store(id=f"{p}-changed", data=0),
            dcc.Store(id=f"{p}-key", data=None),  # what the list was drawn from
            dcc.Interval(id=f"{p}-tick", interval=REFRESH_MS, n_intervals=0),
            head,
            html.P(t("fq_pos_waiting", lang), id=f"{p}-sortnote", className="note field-sortnote", **{"aria-live": "polite"}),
            switch,
            extra,
            html.Div(id=f"{p}-list", className="field-list"),
            html.Div(id=f"{p}-more", className="note"),
            work_sheet(kind, lang),
        ],
        id=f"{'inspections' if kind == 'inspections' else 'tasks'}-page", className=f"field-page field-{kind}",
    )


def work_sheet(kind: str, lang: str) -> html.Div:
    """The sheet of the case being worked on: full screen on a phone, a side panel on a desk."""
    p = PREFIX[kind]
    fields = [html.Label(t("fq_note", lang), htmlFor=f"{p}-note", className="field-label"),
              dcc.Textarea(id=f"{p}-note", maxLength=1000, className="field-note", placeholder=t("fq_note_hint", lang))]
    if kind == "tasks":
        fields += [html.Div([html.Label(t("fq_hours_label", lang), htmlFor=f"{p}-hours", className="field-label"),
                             dcc.Input(id=f"{p}-hours", type="number", min=1, max=720, step=1, value=24, className="field-hours")],
                            id=f"{p}-hours-row", className="field-row", style=HIDDEN)]
    buttons = [html.Button(field_action_label(a, lang), id=f"{p}-act-{a}", n_clicks=0, style=HIDDEN,
                           className="btn field-act" + (" danger" if a in DANGER else "") + (" needs-note" if needs_note(a) else ""))
               for a in ACTIONS[kind]]
    return html.Div(
        [
            html.Div(
                [
                    html.Button(["‹ ", t("fq_close", lang)], id=f"{p}-close", n_clicks=0, className="btn field-close"),
                    html.H3("", id=f"{p}-sheet-title", className="field-sheet-title"),
                    dcc.Link(t("fq_case_page", lang), href="/cases", id=f"{p}-sheet-link", className="field-case-link"),
                ],
                className="field-sheet-head",
            ),
            html.Div(
                [
                    html.Div(id=f"{p}-sheet-facts", className="field-facts"),
                    html.Div([html.Span("", id=f"{p}-sheet-where", className="note"),
                              html.Button(t("fq_locate", lang), id=f"{p}-sheet-locate", n_clicks=0, className="btn field-locate")],
                             className="field-sheet-locate"),
                    html.Div(id=f"{p}-sheet-nav", className="field-nav"),
                    html.Div(id=f"{p}-sheet-map", className="field-sheet-map"),
                    media_panel(None, lang, p),  # the case's photos before | after, the upload (piece media)
                    html.Div(fields, id=f"{p}-fields", className="field-fields"),
                ],
                className="field-sheet-body",
            ),
            html.Div(
                [html.Div(id=f"{p}-message", className="message field-message", **{"aria-live": "polite"}),
                 html.Div(t("fq_nothing", lang), id=f"{p}-nothing", className="note", style=HIDDEN),
                 html.Div(buttons, className="field-buttons")],
                className="field-bar",
            ),
        ],
        id=f"{p}-sheet", className="field-sheet", style=HIDDEN, role="dialog",
    )


# ---- pieces the callbacks fill in ---------------------------------------------------------------

def _district_outline(city: CityMap, district_id: str) -> dict:
    return {"type": "FeatureCollection",
            "features": [f for f in city.district_geojson["features"] if f["properties"].get("id") == district_id]}


def place_map(city: CityMap, map_id, c: dict, tile_url: str, zoom: int, position: dict | None = None,
              interactive: bool = False) -> dl.Map:
    """A small map of a case's place: its district's outline, the case (red when overdue) and,
    when known, where the phone is with its accuracy; the intranet basemap only with IOC_TILE_URL."""
    layers = [dl.TileLayer(url=tile_url, attribution="")] if tile_url else []
    layers.append(dl.GeoJSON(data=_district_outline(city, c["district_id"]), interactive=False,
                             style={"color": "#4a90d9", "weight": 2, "fillColor": "#1d4e89", "fillOpacity": 0.25}))
    if position is not None:
        if position.get("accuracy") and interactive:
            layers.append(dl.Circle(center=[position["lat"], position["lon"]], radius=position["accuracy"], color=YOU_COLOR,
                                    weight=1, fillOpacity=0.12, interactive=False))
        layers.append(dl.CircleMarker(center=[position["lat"], position["lon"]], radius=6, color="#ffffff", weight=2,
                                      fillColor=YOU_COLOR, fillOpacity=1, interactive=False))
    layers.append(dl.CircleMarker(center=[c["lat"], c["lon"]], radius=9, color="#ffffff", weight=2, interactive=False,
                                  fillColor=OVERDUE_COLOR if c["overdue"] else CASE_COLOR, fillOpacity=0.95))
    still = {} if interactive else {"dragging": False, "touchZoom": False, "doubleClickZoom": False, "boxZoom": False,
                                    "keyboard": False, "zoomControl": False}
    center, zoom = [c["lat"], c["lon"]], zoom
    if position is not None and c["distance_m"] is not None and c["distance_m"] <= FIT_BOTH_M:
        # the case and the phone on one map: which way to go
        size = SHEET_MAP_PX if interactive else CARD_MAP_PX
        center, zoom = fit_view([(c["lat"], c["lon"]), (position["lat"], position["lon"])], *size, max_zoom=zoom)
    return dl.Map(layers, id=map_id, center=center, zoom=zoom, zoomSnap=0.25, scrollWheelZoom=False, attributionControl=False,
                  className="field-map", style={"background": "#07121f"}, **still)


def nav_links(c: dict, lang: str, prefix: str) -> list:
    """The links that open the phone's navigation: the system's (geo:) and Amap's."""
    return [html.A(["➤ ", t("fq_navigate", lang)], href=c["nav_geo"], className="btn field-nav-link", id=f"{prefix}-geo"),
            html.A(t("fq_navigate_amap", lang), href=c["nav_amap"], className="btn field-nav-link", target="_blank",
                   rel="noopener", id=f"{prefix}-amap")]


def chips(c: dict, lang: str, kind: str) -> list:
    out = []
    if c["urgent"]:
        out.append(html.Span(t("case_urgent", lang), className="field-chip urgent"))
    if kind == "tasks":
        out.append(html.Span(t("fq_acknowledged" if c["acknowledged"] else "fq_not_acknowledged", lang),
                             className="field-chip" + ("" if c["acknowledged"] else " todo")))
        if c["arrived"]:
            out.append(html.Span(t("fq_arrived", lang), className="field-chip"))
        if c["pending_deferral"]:
            out.append(html.Span(c["pending_deferral"], className="field-chip"))
    elif c["department"]:
        out.append(html.Span(c["department"], className="field-chip"))
    if c["rework"]:
        out.append(html.Span(t("fq_rework", lang).format(n=c["rework"]), className="field-chip todo"))
    if c["before"] or c["after"]:
        out.append(html.Span(t("fq_photos", lang).format(before=c["before"], after=c["after"]), className="field-chip"))
    return out


def case_card(city: CityMap, c: dict, lang: str, kind: str, tile_url: str = "", position: dict | None = None) -> html.Article:
    """One case of a field list: what and where, how far and how long left, a small map, the way
    there, and the button that opens its work sheet."""
    p = PREFIX[kind]
    where = c["address"] if c["address"] == c["district"] else f"{c['address']} · {c['district']}"
    classes = "field-card" + (" overdue" if c["overdue"] else "") + (" urgent" if c["urgent"] else "")
    return html.Article(
        [
            html.Div(
                [
                    html.Div([html.Span(c["class"], className="field-class"),
                              html.Span(c["distance"], className="field-distance")], className="field-card-head"),
                    html.Div(where, className="field-where"),
                    html.Div(c["deadline"], className="field-deadline" + (" overdue" if c["overdue"] else "")),
                    html.Div(chips(c, lang, kind), className="field-chips"),
                ],
                className="field-card-text",
            ),
            html.Div(place_map(city, {"type": f"{p}-cardmap", "case": c["id"]}, c, tile_url, CARD_ZOOM, position),
                     className="field-card-map"),
            html.Div(nav_links(c, lang, f"{p}-nav-{c['id']}")
                     + [html.Button(t("fq_open", lang), id={"type": f"{p}-open", "case": c["id"]}, n_clicks=0,
                                    className="btn field-open")],
                     className="field-card-actions"),
        ],
        className=classes, **{"data-case": c["id"]},
    )


def empty_list(text: str) -> html.Div:
    return html.Div(text, className="field-empty")


def sheet_facts(c: dict, lang: str, kind: str) -> list:
    lines = [html.Div(c["deadline"], className="field-deadline" + (" overdue" if c["overdue"] else "")),
             html.Div(f"{c['address']} · {c['district']}" if c["address"] != c["district"] else c["address"], className="field-where")]
    if c["distance"]:
        lines.append(html.Div(c["distance"], className="field-distance"))
    if c["description"]:
        lines.append(html.Div(c["description"], className="field-description"))
    lines.append(html.Div(chips(c, lang, kind), className="field-chips"))
    return lines
