"""Callbacks of the case pages: the dispatch console (/cases), one case (/case/<id>), the
indicators (/indicators); the field pages (/tasks, /inspections) are callbacks/field.py.

Reads run under the page's view permission (one case under `case:read`); a phone report needs
`case:report`. One case, its timeline and every workflow action go through the process's one
`CaseService` (`services.cases`), which decides who may see the case and checks every input, on
the version shown, as for the API, Open311 and the department systems; these callbacks only word
its refusals in the page's language. Rows, texts and figures come from `ioc.views.cases`.

Plain module-level functions reaching the process's services through `current_services()`;
`register()` only wires them (`secured_callback`: the permission, and a Redis outage as the
banner). The phone report and the case actions are marked with `notice_in`: on an outage their
own message line says the action was not carried out.
"""

from __future__ import annotations

import base64
import binascii
import time
import weakref

import dash_leaflet as dl
import orjson
from dash import Input, Output, State, ctx, dcc, html, no_update

from ioc.adapters.case_index import CaseIndexLoading
from ioc.adapters.media_store import MediaStoreError
from ioc.casework.service import CASE_REFUSALS, CaseInputError, refusal
from ioc.domain.access import allowed
from ioc.domain.case_indicators import rank_departments
from ioc.domain.cases import OPEN_STAGES, TRANSITIONS, may_attach
from ioc.domain.media import MediaError, check_size, default_stage
from ioc.domain.departments import all_departments
from ioc.i18n import resolve_lang, t
from ioc.views.cases import (CONSOLE_ROWS_MAX, action_buttons, action_done_text, action_error_text, case_facts,
                             case_rows_json, class_name, countdown, fmt_time, indicator_row, indicator_rows, on_time_figure,
                             period_range, ranking_rows, report_error_text, rows_more_text, stage_name, timeline_rows)
from ioc.views.media import media_refusal_text
from ioc.web.auth import client_ip, current_principal
from ioc.web.case_tables import open_table
from ioc.web.dash_guard import secured_callback
from ioc.web.outage import notice_in
from ioc.web.people import display_names
from ioc.web.services import current_services

from layouts.cases import HIDDEN_LAID_OUT, INDICATORS_LOADING_MS, INDICATORS_REFRESH_MS
from layouts.media import gallery_children

SHOWN: dict = {}
HIDDEN = {"display": "none"}
STAGE_CARDS = ("all",) + OPEN_STAGES
ACTIONS = tuple(TRANSITIONS)
FIELD_ROWS = ("note", "department", "hours", "master")  # the inputs shown when an allowed action uses them


def refusal_text(error: Exception, lang: str) -> str:
    """A refusal of the case service in the page's language (the one mapping: `refusal`)."""
    kind = refusal(error).error
    if kind == "not_found":
        return t("case_not_found", lang)
    if kind == "conflict":
        return t("case_conflict", lang)
    return action_error_text(error, lang)


def lang_of(lang) -> str:
    return resolve_lang(lang, current_services().settings.lang)


def departments_of(city) -> dict:
    return {d.id: d for d in all_departments(city)}


def district_names(lang: str) -> dict[str, str]:
    return {d.id: d.name(lang) for d in current_services().city.districts}


def now_ms() -> int:
    return int(time.time() * 1000)


def period_indicators(start: int, end: int, now: int):
    """The city's, the districts' and the departments' indicators of a period, looked up in the
    process's background cache (`ioc.reports.cache`): computed there once per period, facts
    revision and minute for every viewer of the process, from the record (DATABASE_URL) or else
    from the Redis case index. `CaseIndexLoading` while a period is first computed."""
    from ioc.reports.cache import process_cache

    services = current_services()
    value = process_cache(services.settings.database_url, services.case_index).get(start, end, now)
    if value is None:
        raise CaseIndexLoading("the indicators of the period are being computed")
    return value


# ---- the dispatch console -----------------------------------------------------------------------

# case index -> the console rows' parts that do not change with the clock, by case version and language
_ROWS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def show_report_form(_id):
    """The phone-report form only for those who may file a report (a leader watches)."""
    return SHOWN if allowed(current_principal(), "case:report") else HIDDEN_LAID_OUT


def pick_stage(*args):
    current = args[-1] or ""
    picked = str(ctx.triggered_id or "").removeprefix("case-stage-")
    stage = "" if picked in ("", "all") or picked == current else picked
    classes = [f"kpi-card case-card{' active' if (s == 'all' and not stage) or s == stage else ''}" for s in STAGE_CARDS]
    return [stage] + classes


def console(_n, stage, district, class_code, source, urgency, overdue, _created, lang, shown_key):
    """Counts and rows of the open cases. The rows are sent again only when a case changed, a
    filter changed or a minute passed (the countdowns are in minutes); at most `CONSOLE_ROWS_MAX`
    of them, the most pressing first, with a line saying how many match (a city may have
    100,000 open cases: the filters narrow them). The cases come from the process's column table
    of the open cases (`ioc.web.case_tables`), not from a walk over every open case."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    now = now_ms()
    cases_index = services.case_index
    table = open_table(cases_index)
    key = [cases_index.revision, now // 60_000, stage or "", district or "", class_code or "", source or "", urgency or "",
           "on" in (overdue or []), lang]
    if key == shown_key:
        return [no_update] * (len(STAGE_CARDS) + 4)
    picked = table.console(now, stage=stage or "", district=district or "", class_code=class_code or "", source=source or "",
                           urgency=urgency or "", overdue_only="on" in (overdue or []), limit=CONSOLE_ROWS_MAX)
    rows = case_rows_json(picked.shown, now, lang, district_names(lang), departments_of(services.city),
                          _ROWS.setdefault(cases_index, {}))
    return ([picked.matching] + [picked.stage_counts[s] for s in OPEN_STAGES]
            + [picked.overdue, orjson.Fragment(rows), rows_more_text(len(picked.shown), picked.total, lang), key])


def pick_position(click):
    latlng = (click or {}).get("latlng")
    if isinstance(latlng, dict):  # {"lat": …, "lng": …} as Leaflet gives it
        latlng = [latlng.get("lat"), latlng.get("lng")]
    if not latlng or len(latlng) != 2 or not all(isinstance(v, (int, float)) for v in latlng):
        return no_update, no_update
    return round(latlng[0], 6), round(latlng[1], 6)


def show_position(lat, lon):
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon)):
        return []
    return [dl.CircleMarker(center=[lat, lon], radius=9, color="#ffffff", weight=2, fillColor="#ffd60a", fillOpacity=0.9)]


@notice_in("case-new-message")
def report(_n, class_code, lat, lon, address, reporter, description, created, lang):
    """A phone report filed by the signed-in dispatcher (or a possible duplicate's case)."""
    lang = lang_of(lang)
    p = current_principal()
    try:
        case, new = current_services().cases.report(
            class_code=str(class_code or ""), lat=lat, lon=lon, source="phone", actor=p.name, role=p.acting_role("case:report"),
            description=description or "", reporter=reporter or "", address=address or "", ip=client_ip())
    except CaseInputError as e:
        return report_error_text(e, lang), no_update, no_update
    message = [f"{t('case_new_created' if new else 'case_new_existing', lang)}: ",
               dcc.Link(case.id, href=f"/case/{case.id}", id="case-new-link")]
    if case.possible_duplicates:
        message += [html.Br(), f"{t('case_new_duplicates', lang)}: "]
        message += [x for d in case.possible_duplicates for x in (dcc.Link(d, href=f"/case/{d}"), " ")]
    return message, (created or 0) + 1, ""


# ---- one case -----------------------------------------------------------------------------------

LOAD_OUTPUTS = (
    [Output("case-title", "children"), Output("case-stage", "children"), Output("case-stage", "className"),
     Output("case-missing", "style"), Output("case-body", "style"), Output("case-facts", "children"),
     Output("case-media", "children"), Output("case-duplicates", "children"), Output("case-marker", "children"),
     Output("case-map", "center"), Output("case-timeline", "rowData"), Output("case-version", "data"),
     Output("case-deadline", "data"), Output("case-department", "value"), Output("case-no-actions", "style"),
     Output("case-gallery", "children"), Output("case-upload-row", "style"), Output("case-upload-stage", "value")]
    + [Output(f"case-{f}-row", "style") for f in FIELD_ROWS]
    + [Output(f"case-act-{a}", "style") for a in ACTIONS]
)


def load_case(case_id, _changed, _n, _refresh, lang):
    """One case as the signed-in principal may see it (else "no such case"), and its actions."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    p = current_principal()
    now = now_ms()
    try:
        case, events = services.cases.timeline_for(case_id, p)
    except CASE_REFUSALS:  # unknown, or not this principal's to see: alike
        case = None
    if case is None:
        missing = [f"{t('case_heading', lang)} {case_id or ''}", "", "case-stage", SHOWN, HIDDEN, [], [], [], [], no_update,
                   [], None, None, no_update, HIDDEN, [], HIDDEN, no_update]
        return missing + [HIDDEN] * (len(FIELD_ROWS) + len(ACTIONS))
    departments = departments_of(services.city)
    fresh = ctx.triggered_id in (None, "case-id", "case-changed")  # not a periodic re-read: the user's inputs stay
    names = district_names(lang)
    facts = [x for label, value in case_facts(case, lang, names, departments) for x in (html.Dt(label), html.Dd(value))]
    media = [html.A(m, href=m, target="_blank", rel="noopener", className="case-link") for m in case.media] or "—"
    duplicates = [x for d in case.possible_duplicates for x in (dcc.Link(d, href=f"/case/{d}", className="case-link"), " ")]
    overdue = case.overdue(now)
    marker = [dl.CircleMarker(center=[case.lat, case.lon], radius=10, color="#ffffff", weight=2,
                              fillColor="#ff3b30" if overdue else "#ffd60a", fillOpacity=0.95,
                              children=dl.Tooltip(f"{case.id} {class_name(case.class_code, lang)}"))]
    # The centre only, as a plain prop: a `viewport` change makes dash-leaflet log a debug line, and
    # a zoom sent with it starts Leaflet's zoom animation, whose end puts the old centre back (the
    # map's zoom is the layout's, CASE_MAP_ZOOM).
    center = [case.lat, case.lon] if fresh else no_update
    actions = action_buttons(case, p)
    uses = {"note": bool(actions), "department": "dispatch" in actions,
            "hours": "request_deferral" in actions, "master": "merge" in actions}
    department = (case.department if case.stage != "verified" and case.department else case.suggested_department) or None
    stage_class = f"case-stage stage-{case.stage}" + (" overdue" if overdue else "")
    people = display_names(services.users).get()
    return ([f"{t('case_heading', lang)} {case.id}", stage_name(case.stage, lang), stage_class, HIDDEN, SHOWN, facts, media,
             duplicates or t("case_no_duplicates", lang), marker, center, timeline_rows(events, lang, departments, people),
             case.version, {"deadline": case.stage_deadline if case.is_open else 0, "due": case.due_at, "open": case.is_open},
             department if fresh else no_update, HIDDEN if actions else SHOWN,
             gallery_children(case, lang, people), SHOWN if may_attach(case, p) else HIDDEN,
             default_stage(case.stage) if fresh else no_update]
            + [SHOWN if uses[f] else HIDDEN for f in FIELD_ROWS]
            + [SHOWN if a in actions else HIDDEN for a in ACTIONS])


def tick_countdown(_n, deadline, lang):
    lang = lang_of(lang)
    if not isinstance(deadline, dict):
        return "—", "kpi-value", ""
    due = f"{t('case_fact_due', lang)} {fmt_time(deadline.get('due') or 0) or t('case_no_limit', lang)}"
    if not deadline.get("open"):
        return "—", "kpi-value", due
    text, overdue = countdown(int(deadline.get("deadline") or 0), now_ms(), lang)
    return text, "kpi-value case-overdue" if overdue else "kpi-value", due


@notice_in("case-message")
def act(*args):
    """The action of the button clicked (`case-act-<action>`), on the version the page shows,
    with the inputs shown: every rule is the case service's; a refusal is worded here."""
    case_id, version, note, department, hours, master_id, changed, lang = args[len(ACTIONS):]
    lang = lang_of(lang)
    action = str(ctx.triggered_id or "").removeprefix("case-act-")
    if action not in TRANSITIONS:
        return no_update, no_update, no_update
    try:  # who may see the case, every input and the version shown: the service's rules
        after = current_services().cases.act(case_id, action, current_principal(), expected_version=version, note=note,
                                             department=department, hours=hours, master_id=master_id, ip=client_ip(),
                                             require_after_photo=action == "handle")  # the portal's handlers show their work
    except CASE_REFUSALS as e:
        return refusal_text(e, lang), no_update, no_update
    return action_done_text(action, after.stage, lang), (changed or 0) + 1, ""


@notice_in("case-upload-message")
def upload(contents, names, case_id, stage, changed, lang):
    """Photos added on the case page (the page's principal, the stage chosen): every rule is the
    media service's (`ioc.media.service`); a refusal is worded here in the page's language."""
    lang = lang_of(lang)
    if not contents or not case_id:
        return no_update, no_update
    services = current_services()
    settings = services.settings
    try:
        files = uploaded_files(contents, names, settings.media_max_bytes)
        _case, added = services.media.attach_files(case_id, current_principal(), files, stage or "", ip=client_ip())
    except (MediaError, MediaStoreError, *CASE_REFUSALS) as e:
        return media_refusal_text(e, lang, settings.media_max_mb, settings.media_max_pixels, settings.media_per_case), no_update
    return t("media_uploaded", lang).format(n=len(added)), (changed or 0) + 1


def uploaded_files(contents, names, max_bytes: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of what a dcc.Upload sent (data URLs); one larger than `max_bytes` is
    refused from its encoded length, before it is decoded."""
    contents = contents if isinstance(contents, list) else [contents]
    names = names if isinstance(names, list) else [names] * len(contents)
    files = []
    for content, name in zip(contents, names):
        encoded = str(content or "").split(",", 1)[-1]
        if len(encoded) * 3 // 4 > max_bytes + 2:
            check_size(max_bytes + 1, max_bytes)
        try:
            files.append((str(name or ""), base64.b64decode(encoded, validate=True)))
        except (binascii.Error, ValueError):
            raise MediaError("unreadable", "the upload did not arrive whole") from None
    return files


# ---- indicators ---------------------------------------------------------------------------------

def indicator_tables(period, _n, lang):
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    now = now_ms()
    start, end = period_range(period or "this_month", now)
    try:
        city, groups = period_indicators(start, end, now)
    except CaseIndexLoading:  # being computed in the background: asked again in a second, not an outage
        return t("ind_loading", lang), no_update, no_update, no_update, no_update, INDICATORS_LOADING_MS
    districts = district_names(lang)
    department_names = {d: dep.name(lang) for d, dep in departments_of(services.city).items()}
    by_district, by_department = groups["district"], groups["department"]
    city_row = indicator_row("_city", t("ind_city", lang), city)
    as_of = min(end, now)
    period_text = f"{fmt_time(start)} — {fmt_time(end)}（{t('ind_as_of', lang)} {fmt_time(as_of)}）" if lang == "zh" \
        else f"{fmt_time(start)} — {fmt_time(end)} ({t('ind_as_of', lang)} {fmt_time(as_of)})"
    every_district = [d.id for d in services.city.districts]
    return (period_text, [city_row] + indicator_rows(by_district, districts, every_district, city),
            indicator_rows(by_department, department_names),
            ranking_rows(rank_departments(by_department), department_names),
            on_time_figure(by_department, department_names, lang), INDICATORS_REFRESH_MS)


def register(app, services) -> None:
    # the dispatch console
    secured_callback(app, "view:console", Output("case-new-form", "style"), Input("console-page", "id"))(show_report_form)
    secured_callback(
        app, "view:console",
        [Output("case-stage-filter", "data")] + [Output(f"case-stage-{s}", "className") for s in STAGE_CARDS],
        [Input(f"case-stage-{s}", "n_clicks") for s in STAGE_CARDS], State("case-stage-filter", "data"),
    )(pick_stage)
    secured_callback(
        app, "view:console",
        [Output(f"case-stage-{s}-value", "children") for s in STAGE_CARDS]
        + [Output("case-overdue-value", "children"), Output("cases-grid", "rowData"), Output("cases-more", "children"),
           Output("cases-grid-key", "data")],
        Input("tick", "n_intervals"), Input("case-stage-filter", "data"), Input("case-filter-district", "value"),
        Input("case-filter-class", "value"), Input("case-filter-source", "value"), Input("case-filter-urgency", "value"),
        Input("case-filter-overdue", "value"), Input("case-new-created", "data"), State("lang", "data"),
        State("cases-grid-key", "data"),
    )(console)
    secured_callback(app, "case:report", Output("case-new-lat", "value"), Output("case-new-lon", "value"),
                     Input("case-new-map", "clickData"), prevent_initial_call=True)(pick_position)
    secured_callback(app, "view:console", Output("case-new-marker", "children"), Input("case-new-lat", "value"),
                     Input("case-new-lon", "value"))(show_position)
    secured_callback(
        app, "case:report",
        Output("case-new-message", "children"), Output("case-new-created", "data"), Output("case-new-description", "value"),
        Input("case-new-submit", "n_clicks"),
        State("case-new-class", "value"), State("case-new-lat", "value"), State("case-new-lon", "value"),
        State("case-new-address", "value"), State("case-new-reporter", "value"), State("case-new-description", "value"),
        State("case-new-created", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(report)
    # one case
    secured_callback(
        app, "case:read", LOAD_OUTPUTS,
        Input("case-id", "data"), Input("case-changed", "data"), Input("case-tick", "n_intervals"), Input("case-refresh", "n_clicks"),
        State("lang", "data"),
    )(load_case)
    secured_callback(
        app, "case:read",
        Output("case-countdown", "children"), Output("case-countdown", "className"), Output("case-due", "children"),
        Input("tick", "n_intervals"), Input("case-deadline", "data"), State("lang", "data"),
    )(tick_countdown)
    secured_callback(
        app, "case:attach",
        Output("case-upload-message", "children"), Output("case-changed", "data", allow_duplicate=True),
        Input("case-upload", "contents"), State("case-upload", "filename"), State("case-id", "data"),
        State("case-upload-stage", "value"), State("case-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(upload)
    secured_callback(
        app, "case:read",
        Output("case-message", "children"), Output("case-changed", "data"), Output("case-note", "value"),
        [Input(f"case-act-{a}", "n_clicks") for a in ACTIONS],
        State("case-id", "data"), State("case-version", "data"), State("case-note", "value"), State("case-department", "value"),
        State("case-hours", "value"), State("case-master", "value"), State("case-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(act)
    # the indicators
    secured_callback(
        app, "view:indicators",
        Output("ind-range", "children"), Output("ind-district-grid", "rowData"), Output("ind-department-grid", "rowData"),
        Output("ind-ranking-grid", "rowData"), Output("ind-chart", "figure"), Output("ind-tick", "interval"),
        Input("ind-period", "value"), Input("ind-tick", "n_intervals"), State("lang", "data"),
    )(indicator_tables)
