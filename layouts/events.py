"""The linked-event pages (大联动): the list with proposals and the start form (/events), one event
(/event/<id>), and the pieces the wall, the task page, the district page and the frame show.

Layouts only: the callbacks (callbacks/events.py) fill them from the event service."""

from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html

from ioc.domain.geo import CityMap
from ioc.i18n import t

from .cases import HIDDEN, HIDDEN_LAID_OUT, indicators_page, small_map
from .grids import NUMBER, ag_grid, screen_height

EVENT_REFRESH_MS = 5_000  # the event page re-reads its event (cheap when the version has not moved)
TASK_ACTIONS = ("acknowledge", "arrive", "start", "report", "done", "return", "support")
COMMAND_ACTIONS = ("level", "add_task", "withdraw_task", "contain", "close", "cancel")
LEADER_ACTIONS = ("instruct",)
DANGER = frozenset({"return", "cancel", "withdraw_task"})
AREA_KINDS = ("district", "draw", "alarm", "case")
STATUS_FILTERS = ("live", "active", "responding", "contained", "closed", "cancelled")

EVENT_COLUMNS = (("link", "ev_col_id", 180), ("plan", "ev_col_plan", 110), ("level", "ev_col_level", 130),
                 ("title", "ev_col_title", 0), ("status", "ev_col_status", 100), ("districts", "ev_col_districts", 0),
                 ("commander", "ev_col_commander", 110), ("started", "ev_col_started", 150), ("elapsed", "ev_col_elapsed", 130),
                 ("tasks", "ev_col_tasks", 100), ("overdue", "ev_col_overdue", 100))
LOG_COLUMNS = (("time", "ev_log_time", 190), ("who", "ev_log_who", 220), ("what", "ev_log_what", 0))


def _dropdown(element_id: str, placeholder: str, options=None, value=None, clearable: bool = True, width: str = "220px"):
    return dcc.Dropdown(id=element_id, options=options or [], value=value, placeholder=placeholder, clearable=clearable,
                        className="dash-dropdown", style={"minWidth": width})


def event_columns(spec, lang: str) -> list[dict]:
    columns = []
    for field, key, width in spec:
        column = {"field": field, "headerName": t(key, lang), **({"width": width} if width else {"flex": 1, "minWidth": 160})}
        if field == "link":
            column.update(cellRenderer="markdown", pinned="left")
        if field in ("tasks", "overdue"):
            column.update(NUMBER)
        if field == "overdue":
            column["cellClassRules"] = {"case-overdue": "params.value > 0"}
        if field == "who":
            column["tooltipField"] = "login"
        if field == "what":
            column.update(wrapText=True, autoHeight=True)
        columns.append(column)
    return columns


def area_layer(layer_id: str, zoom: bool = True) -> dl.Pane:
    """An event's area on a map (its geometry sent once per event); the map fits it when it
    changes. In a pane of its own above the district polygons, whatever redraws them."""
    return dl.Pane(dl.GeoJSON(data=None, id=layer_id, zoomToBounds=zoom, interactive=False,
                              style={"variable": "iocMap.areaStyle"}), name="evarea")


def linked_layer(layer_id: str) -> dl.GeoJSON:
    """What an event links inside its area: alarms and cases as points with their words as tooltips."""
    return dl.GeoJSON(data=None, id=layer_id, pointToLayer={"variable": "iocMap.linkedPoint"})


# ---- /events ----------------------------------------------------------------------------------

def start_form(city: CityMap, lang: str, tile_url: str = "") -> html.Section:
    """Start an event: plan, level (the plan's levels only), title, the area (a district, drawn on
    the map, or the place of an alarm or a case), a note. Shown to command roles only."""
    districts = [{"label": d.name(lang), "value": d.id} for d in city.districts]
    edit = dl.FeatureGroup([dl.EditControl(
        id="ev-start-edit", position="topleft",
        draw={"polyline": False, "rectangle": False, "marker": False, "circlemarker": False,
              "polygon": {"allowIntersection": False, "showArea": False}, "circle": {"showRadius": True, "metric": True}},
        edit={"edit": False, "remove": True},
    )])
    area_kind = dcc.RadioItems(
        id="ev-start-area-kind", value="district", inline=True, className="case-periods", inputStyle={"marginRight": "4px"},
        options=[{"label": t(f"ev_area_{k}", lang), "value": k} for k in AREA_KINDS])
    fields = html.Div(
        [
            html.Div([_dropdown("ev-start-plan", t("ev_start_plan", lang), clearable=False),
                      _dropdown("ev-start-level", t("ev_start_level", lang), clearable=False)], className="form-row"),
            dcc.Input(id="ev-start-title", placeholder=t("ev_start_title", lang), maxLength=120, autoComplete="off",
                      className="case-wide"),
            html.Label(t("ev_start_area", lang), className="ev-label"),
            area_kind,
            html.Div(_dropdown("ev-start-district", t("ev_area_district", lang),
                               options=districts), id="ev-start-district-row", className="form-row"),
            html.Div([dcc.Input(id="ev-start-alarm", placeholder=t("ev_alarm_id", lang), maxLength=200, autoComplete="off"),
                      dcc.Input(id="ev-start-case", placeholder=t("ev_case_id", lang), maxLength=40, autoComplete="off"),
                      html.Button(t("ev_prefill", lang), id="ev-start-prefill", n_clicks=0, className="btn")],
                     id="ev-start-source-row", className="form-row", style=HIDDEN),
            html.Div(t("ev_area_draw_hint", lang), id="ev-start-area-msg", className="note"),
            dcc.Textarea(id="ev-start-note", placeholder=t("ev_start_note", lang), maxLength=1000, className="case-textarea"),
            html.Div([html.Button(t("ev_start_submit", lang), id="ev-start-submit", n_clicks=0, className="btn")],
                     className="form-row"),
            html.Div(id="ev-start-message", className="message"),
        ],
        className="case-new-fields",
    )
    preview = area_layer("ev-start-preview")
    return html.Section(
        [
            html.H3(t("ev_start_heading", lang)),
            dcc.Store(id="ev-start-area", data=None),  # the area as the service takes it (`area_from_input`)
            dcc.Store(id="ev-start-proposal", data=""),
            dcc.Store(id="ev-start-prefilled", data=None),  # the area of an alarm's or a case's place
            dcc.Store(id="ev-started", data=0),
            html.Div([fields, small_map(city, "ev-start-map", tile_url, [edit, preview], zoom=10)], className="case-new-body"),
        ],
        id="ev-start-form", className="case-new", style=HIDDEN_LAID_OUT,
    )


def events_page(city: CityMap, lang: str, tile_url: str = "") -> html.Div:
    districts = [{"label": d.name(lang), "value": d.id} for d in city.districts]
    filters = html.Div(
        [
            _dropdown("ev-filter-status", t("ev_filter_status", lang), value="live",
                      options=[{"label": t("ev_filter_active", lang) if s == "live" else t(f"ev_status_{s}", lang), "value": s}
                               for s in STATUS_FILTERS]),
            _dropdown("ev-filter-plan", t("ev_filter_plan", lang)),
            _dropdown("ev-filter-district", t("ev_filter_district", lang), options=districts),
        ],
        className="form-row",
    )
    return html.Div(
        [
            html.H2(t("ev_heading", lang)),
            html.P(t("ev_note", lang), className="note"),
            html.H3(t("ev_proposals", lang)),
            html.Div(id="ev-proposal-message", className="message"),
            html.Div(id="ev-proposals", className="ev-proposals"),
            dcc.Store(id="ev-proposals-key", data=None),
            filters,
            dcc.Store(id="events-grid-key", data=None),
            ag_grid(
                "events-grid", event_columns(EVENT_COLUMNS, lang), lang, t("ev_no_rows", lang),
                {"domLayout": "autoHeight", "pagination": True, "paginationPageSize": 10, "paginationPageSizeSelector": False},
                getRowId="params.data.id", defaultColDef={"sortable": True, "resizable": True, "filter": True}),
            start_form(city, lang, tile_url),
        ],
        className="case-page", id="events-page",
    )


# ---- /event/<id> --------------------------------------------------------------------------------

def _field(row_id: str, label: str, control, label_id: str | None = None) -> html.Div:
    return html.Div([html.Label(label, **({"id": label_id} if label_id else {})), control], id=row_id, className="case-field",
                    style=HIDDEN)


def actions_panel(lang: str) -> html.Section:
    """Every action a role may take on the event; the callbacks show those the viewer may take now."""
    button = lambda action, key: html.Button(t(key, lang), id=f"ev-act-{action}", n_clicks=0,  # noqa: E731
                                             className="btn danger" if action in DANGER else "btn", style=HIDDEN)
    task_buttons = [html.Button(t(f"ev_act_{a}", lang), id=f"ev-task-{a}", n_clicks=0,
                                className="btn danger" if a in DANGER else "btn", style=HIDDEN) for a in TASK_ACTIONS]
    return html.Section(
        [
            html.H3(t("ev_actions", lang)),
            html.Div(t("ev_no_actions", lang), id="ev-no-actions", className="note"),
            html.Div([html.Span(t("ev_my_task", lang), className="case-sub"), html.Span("", id="ev-my-task")],
                     id="ev-my-task-row", style=HIDDEN),
            _field("ev-level-row", t("ev_level_change", lang), _dropdown("ev-act-level-pick", t("ev_pick_level", lang))),
            _field("ev-department-row", t("ev_pick_department", lang), _dropdown("ev-act-department", t("ev_pick_department", lang))),
            _field("ev-text-row", t("ev_reason", lang),
                   dcc.Textarea(id="ev-act-text", maxLength=2000, className="case-textarea"), label_id="ev-text-label"),
            html.Div([button("level", "ev_level_change"), button("add_task", "ev_add_task"),
                      button("withdraw_task", "ev_withdraw_task"), button("contain", "ev_contain"),
                      button("close", "ev_close"), button("cancel", "ev_cancel"), button("instruct", "ev_instruct")]
                     + task_buttons, className="form-row case-buttons"),
            html.Div(id="ev-act-hint", className="note"),
            html.Div(id="event-message", className="message"),
        ],
        className="case-actions",
    )


def event_page(city: CityMap, event_id: str, lang: str, tile_url: str = "") -> html.Div:
    map_ = small_map(city, "event-map", tile_url, [area_layer("event-map-area"), linked_layer("event-map-linked")], zoom=11)
    body = html.Div(
        [
            html.Div(id="event-banner", className="ev-banner ev-page-banner"),
            html.Div(
                [
                    html.Section([map_, html.H3(t("ev_linked", lang)), html.Div(id="event-linked", className="ev-linked")],
                                 className="case-col"),
                    html.Section([html.H3(t("ev_tasks", lang)), html.Div(id="event-tasks", className="ev-board ev-board-page"),
                                  html.H3(t("ev_instructions", lang)), html.Div(id="event-instructions", className="ev-instructions")],
                                 className="case-col"),
                    html.Section([actions_panel(lang)], className="case-col"),
                ],
                className="case-body ev-body",
            ),
            html.H3(t("ev_timeline", lang)),
            dcc.Graph(id="event-timeline", config={"displayModeBar": False}, className="case-chart ev-timeline"),
            html.H3(t("ev_log", lang)),
            ag_grid("event-log", event_columns(LOG_COLUMNS, lang), lang, t("ev_none", lang), getRowId="params.data.n",
                    defaultColDef={"resizable": True}, style={"height": screen_height(40)}),
        ],
        id="event-body", className="ev-page-body",
    )
    return html.Div(
        [
            dcc.Store(id="event-id", data=event_id),
            dcc.Store(id="event-version", data=None),
            dcc.Store(id="event-task-version", data=None),  # the viewer's department's task version
            dcc.Store(id="event-shown", data=None),  # what the page was drawn from (version, minute, language)
            dcc.Store(id="event-changed", data=0),
            dcc.Interval(id="event-tick", interval=EVENT_REFRESH_MS, n_intervals=0),
            html.Div(
                [
                    html.H2(f"{t('ev_page_heading', lang)} {event_id}", id="event-title"),
                    html.Span("", id="event-status", className="case-stage"),
                    html.Button(t("ev_refresh", lang), id="event-refresh", n_clicks=0, className="btn"),
                ],
                className="case-head",
            ),
            html.Div(t("ev_not_found", lang), id="event-missing", className="forbidden", style=HIDDEN),
            body,
        ],
        className="case-page", id="event-page",
    )


# ---- the wall, the task page, the district page, the frame ----------------------------------------

def wall_banner(lang: str) -> html.Div:
    """The wall's event banner: plan, level, title, status, elapsed time, commander, districts."""
    return html.Div([html.Div(id="ev-wall-banner", className="ev-wall-banner")], id="ev-wall-head", className="ev-wall-head ev-only")


def wall_tabs() -> html.Div:
    """A tab per live event under the map (the operator picks one; else they rotate)."""
    return html.Div(id="ev-wall-tabs", className="ev-wall-tabs ev-only")


def wall_board(lang: str) -> html.Div:
    return html.Div([html.Div(id="ev-wall-board", className="ev-board")], id="ev-wall-board-box", className="ev-board-box ev-only")


def wall_log(lang: str) -> html.Div:
    return html.Div([html.H3(t("ev_wall_log", lang), id="ev-wall-log-title"), html.Ul(id="ev-wall-log", className="ticker ev-log")],
                    className="ticker-box ev-log-box ev-only")


def wall_proposal(lang: str) -> html.Div:
    """The proposal banner over the map: 建议启动防汛Ⅳ级响应 and the evidence; confirm or dismiss
    (with a reason) for command roles, read only for everybody else."""
    return html.Div(
        [
            html.Div(id="ev-wall-proposal-text"),
            html.Div([
                html.Button(t("ev_confirm", lang), id="ev-wall-confirm", n_clicks=0, className="btn"),
                dcc.Input(id="ev-wall-dismiss-reason", placeholder=t("ev_dismiss_reason", lang), maxLength=300, autoComplete="off"),
                html.Button(t("ev_dismiss", lang), id="ev-wall-dismiss", n_clicks=0, className="btn danger"),
            ], id="ev-wall-proposal-buttons", className="popup-buttons ev-proposal-buttons", style=HIDDEN),
            html.Div(id="ev-wall-proposal-message", className="message"),
            dcc.Store(id="ev-wall-proposal-id", data=""),
        ],
        id="ev-wall-proposal", className="ev-wall-proposal hidden", role="alert",
    )


def wall_start(city: CityMap, lang: str) -> html.Div:
    """A command role starts an event from the wall: plan, level, title, district (drawing and
    starting from an alarm or a case are on /events)."""
    districts = [{"label": d.name(lang), "value": d.id} for d in city.districts]
    return html.Div(
        [
            html.Div(t("ev_start_heading", lang), className="clear-title"),
            html.Div([_dropdown("ev-wall-start-plan", t("ev_start_plan", lang), clearable=False),
                      _dropdown("ev-wall-start-level", t("ev_start_level", lang), clearable=False)], className="form-row"),
            html.Div(_dropdown("ev-wall-start-district", t("ev_wall_start_district", lang), options=districts, width="300px"),
                     className="form-row"),
            dcc.Input(id="ev-wall-start-title", placeholder=t("ev_start_title", lang), maxLength=120, autoComplete="off",
                      className="case-wide"),
            html.Div([t("ev_start_more", lang), " ", dcc.Link(t("nav_events", lang), href="/events", className="case-link")],
                     className="note"),
            html.Div(id="ev-wall-start-message", className="clear-error"),
            html.Div([html.Button(t("ev_start_submit", lang), id="ev-wall-start-submit", n_clicks=0, className="btn"),
                      html.Button(t("cancel", lang), id="ev-wall-start-cancel", n_clicks=0, className="btn-later")],
                     className="popup-buttons"),
            dcc.Store(id="ev-wall-start-proposal", data=""),
        ],
        id="ev-wall-start", className="clear-dialog ev-start-dialog hidden", role="dialog",
    )


def wall_stores() -> list:
    return [
        dcc.Store(id="ev-wall-shown", data=None),  # what the wall shows of the events (see callbacks.events.wall)
        dcc.Store(id="ev-wall-pick", data=None),  # the event the operator picked (None: rotate)
    ]


def my_event_tasks(lang: str) -> html.Section:
    """The handler's event tasks on /tasks, beside its cases."""
    return html.Section(
        [
            html.H3(t("ev_my_tasks", lang)),
            html.Div(id="tasks-events", className="ev-my-tasks"),
            html.Div(id="tasks-events-message", className="message"),
            dcc.Store(id="tasks-events-changed", data=0),
            dcc.Store(id="tasks-events-key", data=None),
            dcc.Store(id="tasks-events-notes", data={}),
        ],
        id="tasks-events-box",
    )


def district_events(lang: str) -> html.Div:
    return html.Div([html.H3(t("ev_district_events", lang)), html.Ul(id="district-events", className="ticker ev-district-events"),
                     dcc.Store(id="district-events-key", data=None)],
                    className="ev-district-box")


def indicators_section(lang: str) -> html.Div:
    """/indicators: per plan and per department response times of the linked events against the plans' limits."""
    figure = {**NUMBER, "minWidth": 80, "flex": 1, "valueFormatter": {"function": "params.value == null ? '—' : params.value"}}

    def columns(first: str, fields) -> list[dict]:
        return ([{"field": "name", "headerName": t(first, lang), "pinned": "left", "minWidth": 170, "flex": 2,
                  "wrapText": True, "autoHeight": True, "cellClass": "ind-name"}]
                + [{"field": f, "headerName": t(f"ev_ind_col_{f}", lang), **figure,
                    **({"cellClassRules": {"case-overdue": "params.data.late_" + f}} if f in ("ack", "arrive") else {})}
                   for f in fields])

    def grid(grid_id: str, cols):
        return ag_grid(grid_id, cols, lang, t("ev_no_rows", lang), {"domLayout": "autoHeight"}, getRowId="params.data.key",
                       defaultColDef={"sortable": True, "resizable": True, "wrapHeaderText": True, "autoHeaderHeight": True})

    plan_fields = ("events", "tasks", "ack", "ack_limit", "arrive", "arrive_limit", "contain", "on_time", "overdue")
    department_fields = ("tasks", "ack", "ack_limit", "arrive", "arrive_limit", "done", "on_time", "overdue")
    return html.Div(
        [
            html.H3(t("ev_ind_heading", lang)),
            html.P(t("ev_ind_note", lang), className="note"),
            html.H3(t("ev_ind_by_plan", lang), className="ev-sub"),
            grid("ev-ind-plan-grid", columns("ev_ind_col_plan", plan_fields)),
            html.H3(t("ev_ind_by_department", lang), className="ev-sub"),
            grid("ev-ind-department-grid", columns("ind_col_department", department_fields)),
        ],
        id="ev-indicators",
    )


def indicators_with_events(lang: str) -> html.Div:
    """/indicators: the case indicators, then the linked events' response times."""
    page = indicators_page(lang)
    page.children.insert(len(page.children) - 2, indicators_section(lang))
    return page


# ---- pieces the callbacks fill in ---------------------------------------------------------------

def banner_parts(b, lang: str, link: str = "") -> list:
    """The event's banner: level-coloured headline, title, status, elapsed time, commander, districts."""
    parts = [html.Span(b.headline, className=f"ev-headline level-{b.level}"),
             html.Span(b.title, className="ev-title"),
             html.Span(b.status, className=f"ev-status status-{b.status_id}"),
             html.Span(b.elapsed, className="ev-elapsed"),
             html.Span(f"{t('ev_commander', lang)} {b.commander}", className="ev-commander"),
             html.Span(f"{t('ev_districts', lang)} {b.districts}", className="ev-districts")]
    if link:
        parts.append(dcc.Link(t("ev_wall_open", lang), href=link, className="ev-open"))
    return parts


def task_cards(rows: list[dict], lang: str, wall: bool = False) -> list:
    """The task board: a card per department (name, lead or support, state in words, time since
    issued, the next deadline), overdue red, a request for support highlighted."""
    cards = []
    for r in rows:
        classes = ["ev-task", f"task-{r['status']}"]
        if r["overdue"]:
            classes.append("overdue")
        if r["needs_support"]:
            classes.append("support")
        if not r["live"]:
            classes.append("ended")
        lines = [html.Div([html.Span(r["name"], className="ev-task-name"),
                           html.Span(r["role_name"], className=f"ev-role role-{r['role']}")], className="ev-task-head"),
                 html.Div([html.Span(r["status_name"], className="ev-task-status"),
                           html.Span(r["since_text"], className="ev-task-since")], className="ev-task-line"),
                 html.Div(r["deadline"], className="ev-task-deadline")]
        if r["needs_support"]:
            lines.append(html.Div(f"{t('ev_needs_support', lang)}：{r['support_note']}" if lang == "zh"
                                  else f"{t('ev_needs_support', lang)}: {r['support_note']}", className="ev-task-support"))
        if not wall:
            lines.append(html.Div(r["text"], className="ev-task-text"))
            if r["result"]:
                lines.append(html.Div(r["result"], className="ev-task-text"))
        # no tooltip on the wall (no one points at a wall: its bytes are sent on every change)
        cards.append(html.Div(lines, className=" ".join(classes), **({} if wall else {"title": r["text"]}),
                              **{"data-department": r["department"]}))
    return cards


def log_items(rows: list[dict]) -> list:
    """The newest log entries as ticker rows (the wall's): time, who, what."""
    return [html.Li([html.Span(r["clock"], className="t-time"), html.Span(r["who"], className="ev-log-who"),
                     html.Span(r["what"], className="ev-log-what")], className=f"ticker-row ev-log-{r['kind']}")
            for r in rows]


def instruction_items(rows: list[dict], mine: tuple[str, ...], lang: str) -> list:
    """Each instruction: its text, who gave it when, who has acknowledged it and who has not; an
    acknowledge button when the viewer's department still has to."""
    if not rows:
        return [html.Div(t("ev_no_instructions", lang), className="note")]
    sep = "、" if lang == "zh" else ", "
    items = []
    for r in rows:
        children = [html.Div(r["text"], className="ev-instr-text"),
                    html.Div(f"{r['by']} · {r['at']}", className="note"),
                    html.Div([html.Span(f"{t('ev_instr_acked', lang)}：" if lang == "zh" else f"{t('ev_instr_acked', lang)}: ",
                                        className="case-sub"), sep.join(r["acked"]) or "—"]),
                    html.Div([html.Span(f"{t('ev_instr_pending', lang)}：" if lang == "zh" else f"{t('ev_instr_pending', lang)}: ",
                                        className="case-sub"), html.Span(sep.join(r["pending"]) or "—", className="ev-pending")])]
        if r["id"] in mine:
            children.append(html.Button(t("ev_ack_instruction", lang), id={"type": "ev-ack-instr", "id": r["id"]}, n_clicks=0,
                                        className="btn"))
        items.append(html.Div(children, className="ev-instruction"))
    return items


def linked_parts(counts: dict, alarms: list[tuple[str, str]], cases: list[tuple[str, str]], lang: str) -> list:
    """What the area links: counts, then the alarms (words) and the cases (links to their pages)."""
    return [
        html.Div(t("ev_linked_counts", lang).format(**counts), className="ev-linked-counts"),
        html.Div([html.Span(t("ev_linked_alarms", lang), className="case-sub")]
                 + ([html.Ul([html.Li(text, title=alarm_id) for alarm_id, text in alarms], className="ev-list")] if alarms
                    else [t("ev_none", lang)])),
        html.Div([html.Span(t("ev_linked_cases", lang), className="case-sub")]
                 + ([html.Ul([html.Li([dcc.Link(case_id, href=f"/case/{case_id}", className="case-link"), " ", text])
                              for case_id, text in cases], className="ev-list")] if cases else [t("ev_none", lang)])),
    ]


def wall_tab_buttons(tabs: list[dict], lang: str, picked: bool) -> list:
    """A tab per live event (when there are several) and the rotate switch."""
    if len(tabs) < 2:
        return []
    buttons = [html.Button(tab["label"], id={"type": "ev-wall-tab", "id": tab["id"]}, n_clicks=0, title=tab["title"],
                           className=f"ev-tab level-{tab['level']}" + (" shown" if tab["shown"] else "")) for tab in tabs]
    buttons.append(html.Button(t("ev_wall_rotate", lang), id={"type": "ev-wall-tab", "id": ""}, n_clicks=0,
                               className="ev-tab rotate" + ("" if picked else " shown")))
    return buttons


def proposal_text(words, lang: str) -> list:
    """A proposal's headline, trigger, evidence and districts."""
    return [html.Div(words.headline, className="ev-proposal-title"),
            html.Div(words.trigger, className="note") if words.trigger else None,
            html.Ul([html.Li(line) for line in words.evidence] + ([html.Li(words.more, className="note")] if words.more else []),
                    className="ev-evidence"),
            html.Div(words.districts, className="note")]


def proposal_cards(cards: list[tuple[str, object]], can_act: bool, lang: str) -> list:
    """/events: a card per current proposal; confirm or dismiss (with a reason) for command roles."""
    if not cards:
        return [html.Div(t("ev_no_proposals", lang), className="note")]
    out = []
    for proposal_id, words in cards:
        children = proposal_text(words, lang)
        if can_act:
            children.append(html.Div([
                html.Button(t("ev_confirm", lang), id={"type": "ev-prop-confirm", "id": proposal_id}, n_clicks=0, className="btn"),
                dcc.Input(id={"type": "ev-prop-reason", "id": proposal_id}, placeholder=t("ev_dismiss_reason", lang), maxLength=300,
                          autoComplete="off"),
                html.Button(t("ev_dismiss", lang), id={"type": "ev-prop-dismiss", "id": proposal_id}, n_clicks=0, className="btn danger"),
            ], className="form-row ev-proposal-buttons"))
        else:
            children.append(html.Div(t("ev_read_only", lang), className="note"))
        out.append(html.Div(children, className="ev-proposal-card"))
    return out


def my_task_cards(rows: list[dict], notes: dict, lang: str) -> list:
    """/tasks: each of the department's event tasks with its next actions, a note field, and the
    instructions to acknowledge."""
    if not rows:
        return [html.Div(t("ev_my_tasks_none", lang), className="note")]
    out = []
    for r in rows:
        head = [dcc.Link(r["event"], href=f"/event/{r['event']}", className="case-link"), " ",
                html.Span(r["headline"], className=f"ev-headline level-{r.get('level', '')}"), " ", html.Span(r["title"])]
        card = task_cards([r], lang)[0]
        controls = []
        if r["actions"]:
            controls.append(dcc.Input(id={"type": "ev-task-note", "event": r["event"]}, value=notes.get(r["event"], ""),
                                      placeholder=t("ev_task_note", lang), maxLength=1000, autoComplete="off", className="ev-note"))
            controls += [html.Button(t(f"ev_act_{a}", lang), n_clicks=0, className="btn danger" if a in DANGER else "btn",
                                     id={"type": "ev-task-btn", "event": r["event"], "action": a, "version": r["version"]})
                         for a in r["actions"]]
        for i in r["instructions"]:
            controls += [html.Div([html.Span(t("ev_notice_instruction", lang).format(text=i["text"])),
                                   html.Button(t("ev_ack_instruction", lang), id={"type": "ev-task-instr", "event": r["event"], "id": i["id"]},
                                               n_clicks=0, className="btn")], className="form-row")]
        out.append(html.Div([html.Div(head, className="ev-my-head"), card, html.Div(controls, className="form-row")],
                            className="ev-my-task", **{"data-event": r["event"]}))
    return out


def notice_items(items: list[dict], lang: str) -> list:
    """The frame's notices: a line per task or instruction to acknowledge, with the button and a link."""
    out = []
    for n in items:
        button_key = "ev_act_acknowledge" if n["kind"] == "task" else "ev_ack_instruction"
        out.append(html.Div([
            html.Span(n["text"], className="ev-notice-text"),
            html.Button(t(button_key, lang), n_clicks=0, className="btn",
                        id={"type": "ev-notice-ack", "event": n["event"], "kind": n["kind"], "id": n.get("instruction", "")}),
            dcc.Link(t("ev_notice_open", lang), href=f"/event/{n['event']}", className="case-link"),
        ], className=f"ev-notice {n['kind']}"))
    return out


def district_event_items(rows: list[dict], lang: str) -> list:
    if not rows:
        return [html.Li(t("ev_district_none", lang), className="empty-row")]
    return [html.Li([dcc.Link(r["link_text"], href=f"/event/{r['id']}", className="case-link"),
                     html.Span(r["status"], className=f"ev-status status-{r['status_id']}"),
                     html.Span(r["elapsed"], className="t-time")], className=f"ticker-row ev-district-row level-{r['level_id']}")
            for r in rows]
