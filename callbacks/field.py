"""Callbacks of the field pages: the inspector's queues (/inspections) and a department's tasks
(/tasks), each a list of case cards and one work sheet (layouts/field.py).

- the position: asked of the browser (`navigator.geolocation`, assets/field.js) by a clientside
  callback when the page opens, when "locate me" is tapped, when a sheet opens and every minute;
- the list: the inspector's queue nearest first (by deadline without a position, and the page says
  why), the department's tasks by deadline; drawn again only when a case changed, a minute passed,
  the queue or the position (to ~10 m) changed;
- the sheet: the case's facts, its photos before | after, the actions the viewer may take now;
- the actions, through the process's one `CaseService` as on the case page: a check-in (`arrive`)
  sends the phone's position, `handle` requires an after photo (`require_after_photo=True`); every
  refusal is worded here in the page's language;
- the photos: the media piece's panel (layouts/media.py); an upload goes through the media
  service (`services.media.attach_files`) with the phone's position.
"""

from __future__ import annotations

import time

import orjson
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, no_update

from ioc.adapters.media_store import MediaStoreError
from ioc.casework.service import CASE_REFUSALS
from ioc.domain.cases import may_attach
from ioc.domain.departments import all_departments
from ioc.domain.media import MediaError, default_stage
from ioc.i18n import resolve_lang, t
from ioc.views import field as fv
from ioc.views.media import media_refusal_text
from ioc.web.auth import client_ip, current_principal
from ioc.web.case_tables import open_table
from ioc.web.dash_guard import secured_callback
from ioc.web.outage import notice_in
from ioc.web.prejson import serialized
from ioc.web.people import display_names
from ioc.web.services import current_services

from callbacks.cases import refusal_text, uploaded_files
from layouts.field import (ACTIONS, HIDDEN, PREFIX, SHEET_ZOOM, SHOWN, case_card, empty_list, nav_links, place_map,
                           sheet_facts)
from layouts.media import gallery_children

CARDS_MAX = 40  # cards drawn per list (each has a small map); the rest are counted
PERMISSION = {"inspections": "view:inspections", "tasks": "view:tasks"}
LOCATE_EVERY_MS = 60_000


def now_ms() -> int:
    return int(time.time() * 1000)


def lang_of(lang) -> str:
    return resolve_lang(lang, current_services().settings.lang)


def _names(lang: str):
    services = current_services()
    return ({d.id: d.name(lang) for d in services.city.districts}, {d.id: d for d in all_departments(services.city)})


def _position_key(position: dict | None):
    if position is None:
        return None
    return [round(position["lat"], 4), round(position["lon"], 4), int((position.get("accuracy") or 0) // 25)]


# (page, language, basemap, position, the card's facts) -> the card serialized once (ioc/web/prejson.py):
# building 40 cards with their small maps and walking them with Dash's encoder was most of a request
_CARDS: dict = {}
CARDS_KEPT = 4000


def _card(kind: str, c: dict, lang: str, position) -> orjson.Fragment:
    """One case card, made and serialized once for the same facts (`fv.card`: its texts, distance
    and deadline words included), page, language and position."""
    services = current_services()
    tile_url = services.settings.tile_url
    key = (kind, lang, tile_url, orjson.dumps(position, option=orjson.OPT_SORT_KEYS), orjson.dumps(c, option=orjson.OPT_SORT_KEYS))
    card = _CARDS.get(key)
    if card is None:
        if len(_CARDS) >= CARDS_KEPT:
            _CARDS.clear()
        card = _CARDS[key] = serialized(case_card(services.city, c, lang, kind, tile_url, position))
    return card


def _cards(kind: str, shown, total: int, position, lang: str, now: int):
    """The cards of the first cases of a list (`shown`, at most CARDS_MAX) and the line counting
    the `total - len(shown)` not drawn."""
    districts, departments = _names(lang)
    shown = shown[:CARDS_MAX]
    cards = [_card(kind, fv.card(c, now, lang, districts, departments, position), lang, position) for c in shown]
    more = t("fq_more", lang).format(n=total - len(shown), shown=len(shown)) if total > len(shown) else ""
    return cards, more


# ---- the lists ----------------------------------------------------------------------------------

def inspections_list(_n, position_data, queue, _changed, lang, shown_key):
    """The inspector's queue shown (verify or check) as cards, nearest first when the phone's
    position is known; the counts of both queues; the line saying how the list is sorted."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    now = now_ms()
    queue = queue if queue in fv.QUEUES else "verify"
    index = services.case_index
    table = open_table(index)  # the open cases as columns: the queue's first cards without a walk over every case
    position = fv.position_of(position_data)
    key = [index.revision, now // 60_000, lang, queue, _position_key(position),
           None if position else (position_data or {}).get("error") if isinstance(position_data, dict) else None]
    if key == shown_key:
        return [no_update] * 8
    total, first = table.inspection_queue(queue, position, CARDS_MAX)
    cards, more = _cards("inspections", first, total, position, lang, now)
    tabs = [f"field-tab{' active' if q == queue else ''}" for q in fv.QUEUES]
    return ([*(cards or [empty_list(t(f'fq_empty_{queue}', lang))])], more, fv.sort_note(position, position_data, now, lang),
            fv.count_text(table.queue_length("verify"), lang), fv.count_text(table.queue_length("check"), lang), *tabs, key)


def pick_queue(_verify, _check):
    picked = str(ctx.triggered_id or "").removeprefix("insp-tab-")
    return picked if picked in fv.QUEUES else no_update


def tasks_list(_n, position_data, _changed, lang, shown_key):
    """The department's dispatched cases by deadline, with its figures."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    department = current_principal().department
    if not department:
        return [empty_list(t("case_tasks_no_department", lang))], "", "", "—", "—", "—", "—", "", None
    now = now_ms()
    index = services.case_index
    table = open_table(index)
    position = fv.position_of(position_data)
    key = [index.revision, now // 60_000, lang, department, _position_key(position)]
    if key == shown_key:
        return [no_update] * 9
    districts, departments = _names(lang)
    total, first = table.department_tasks(department, CARDS_MAX)
    counts = table.task_counts(department, now)
    cards, more = _cards("tasks", first, total, position, lang, now)
    name = departments[department].name(lang) if department in departments else department
    return ([*(cards or [empty_list(t("fq_empty_tasks", lang))])], more, fv.sort_note(position, position_data, now, lang, False),
            counts["open"], counts["overdue"], counts["unacked"], counts["handled"], name, key)


# ---- the work sheet -----------------------------------------------------------------------------

def open_case(clicks):
    """A card's "work on it" button: its case on the sheet."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or []):
        return no_update
    return trigger.get("case") or no_update


def close_sheet(_n):
    return ""


def sheet_for(kind: str):
    p = PREFIX[kind]
    actions = ACTIONS[kind]

    def sheet(case_id, _changed, _n, position_data, lang):
        """The sheet of the case on it: title, facts, the way there, a map, photos and the actions
        the viewer may take now; hidden (and the list shown) when no case is open or the case left."""
        services = current_services()
        lang = resolve_lang(lang, services.settings.lang)
        hidden = [HIDDEN, "", no_update, [], [], no_update, [], HIDDEN, None, SHOWN, "", no_update] + [HIDDEN] * len(actions)
        if kind == "tasks":
            hidden.append(HIDDEN)
        if not case_id:
            return hidden
        principal = current_principal()
        try:
            case = services.cases.case_for(case_id, principal)
        except CASE_REFUSALS:
            case = None
        offered = fv.sheet_actions(case, principal, kind) if case is not None and case.is_open else []
        if case is None or not case.is_open:
            gone = list(hidden)
            gone[0], gone[1] = SHOWN, t("fq_gone", lang)
            return gone
        now = now_ms()
        position = fv.position_of(position_data)
        districts, departments = _names(lang)
        c = fv.card(case, now, lang, districts, departments, position)
        redraw_map = ctx.triggered_id in (None, f"{p}-open", f"{p}-position")  # a new case or a new position
        sheet_map = place_map(services.city, f"{p}-sheet-leaflet", c, services.settings.tile_url, SHEET_ZOOM, position,
                              interactive=True) if redraw_map else no_update
        out = [SHOWN, f"{c['class']}", f"/case/{case.id}", sheet_facts(c, lang, kind), nav_links(c, lang, f"{p}-sheet"),
               sheet_map, gallery_children(case, lang, display_names(services.users).get()), SHOWN if may_attach(case, principal) else HIDDEN,
               case.version, HIDDEN if offered else SHOWN,
               fv.accuracy_text(position, now, lang) if position else fv.position_problem_text(position_data, lang),
               default_stage(case.stage) if ctx.triggered_id in (None, f"{p}-open") else no_update]
        out += [SHOWN if a in offered else HIDDEN for a in actions]
        if kind == "tasks":
            out.append(SHOWN if "request_deferral" in offered else HIDDEN)
        return out

    return sheet


def act_for(kind: str):
    p = PREFIX[kind]
    actions = ACTIONS[kind]

    @notice_in(f"{p}-message")
    def act(*args):
        """The action of the button tapped, on the version the sheet shows: a check-in with the
        phone's position, `handle` only with an after photo; refusals in the page's language."""
        case_id, version, note, hours, position_data, changed, lang = args[len(actions):]
        lang = lang_of(lang)
        action = str(ctx.triggered_id or "").removeprefix(f"{p}-act-")
        if action not in actions or not case_id:
            return no_update, no_update, no_update
        services = current_services()
        position = fv.position_of(position_data)
        extra: dict = {}
        if action == "arrive":
            if position is None:
                return fv.no_position_text(lang), no_update, no_update
            extra = {"lat": position["lat"], "lon": position["lon"], "accuracy": position.get("accuracy")}
        if action == "handle":
            extra["require_after_photo"] = True
        if action == "request_deferral":
            extra["hours"] = hours if isinstance(hours, int) else (int(hours) if isinstance(hours, float) and hours.is_integer() else hours)
        try:
            services.cases.act(case_id, action, current_principal(), expected_version=version, note=note, ip=client_ip(), **extra)
        except CASE_REFUSALS as e:
            return refusal_text(e, lang), (changed or 0) + 1, no_update
        return fv.done_words(action, lang), (changed or 0) + 1, ""

    return act


def upload_for(kind: str):
    p = PREFIX[kind]

    @notice_in(f"{p}-upload-message")
    def upload(contents, names, case_id, stage, position_data, changed, lang):
        """Photos added on the sheet, all at once through the media service (the type sniffed
        from the bytes, the size and pixel limits, EXIF stripped), with the phone's position."""
        lang = lang_of(lang)
        if not contents or not case_id:
            return no_update, no_update
        services = current_services()
        settings = services.settings
        position = fv.position_of(position_data) or {}
        try:
            files = uploaded_files(contents, names, settings.media_max_bytes)
            _case, added = services.media.attach_files(case_id, current_principal(), files, stage or "", position.get("lat"),
                                                       position.get("lon"), client_ip())
        except (MediaError, MediaStoreError, *CASE_REFUSALS) as e:
            return media_refusal_text(e, lang, settings.media_max_mb, settings.media_max_pixels,
                                      settings.media_per_case), no_update
        return t("media_uploaded", lang).format(n=len(added)), (changed or 0) + 1

    return upload


# ---- wiring -------------------------------------------------------------------------------------

def register(app, services) -> None:
    for kind, p in PREFIX.items():
        permission = PERMISSION[kind]
        actions = ACTIONS[kind]
        # the browser's position: on opening, on "locate me", when a sheet opens, every minute
        app.clientside_callback(ClientsideFunction("iocField", "locate"), Output(f"{p}-position", "data"),
                                Input(f"{p}-locate", "n_clicks"), Input(f"{p}-sheet-locate", "n_clicks"), Input(f"{p}-open", "data"),
                                Input(f"{p}-tick", "n_intervals"),
                                State(f"{p}-position", "data"), State(f"{p}-position", "id"))
        secured_callback(app, permission, Output(f"{p}-open", "data", allow_duplicate=True),
                         Input({"type": f"{p}-open", "case": ALL}, "n_clicks"), prevent_initial_call=True)(open_case)
        secured_callback(app, permission, Output(f"{p}-open", "data", allow_duplicate=True), Input(f"{p}-close", "n_clicks"),
                         prevent_initial_call=True)(close_sheet)
        sheet_outputs = [Output(f"{p}-sheet", "style"), Output(f"{p}-sheet-title", "children"), Output(f"{p}-sheet-link", "href"),
                         Output(f"{p}-sheet-facts", "children"), Output(f"{p}-sheet-nav", "children"),
                         Output(f"{p}-sheet-map", "children"), Output(f"{p}-gallery", "children"),
                         Output(f"{p}-upload-row", "style"), Output(f"{p}-version", "data"), Output(f"{p}-nothing", "style"),
                         Output(f"{p}-sheet-where", "children"), Output(f"{p}-upload-stage", "value")]
        sheet_outputs += [Output(f"{p}-act-{a}", "style") for a in actions]
        if kind == "tasks":
            sheet_outputs.append(Output(f"{p}-hours-row", "style"))
        secured_callback(app, permission, sheet_outputs, Input(f"{p}-open", "data"), Input(f"{p}-changed", "data"),
                         Input(f"{p}-tick", "n_intervals"), Input(f"{p}-position", "data"), State("lang", "data"))(sheet_for(kind))
        action_states = [State(f"{p}-open", "data"), State(f"{p}-version", "data"), State(f"{p}-note", "value"),
                         State(f"{p}-hours", "value") if kind == "tasks" else State(f"{p}-open", "id"),
                         State(f"{p}-position", "data"), State(f"{p}-changed", "data"), State("lang", "data")]
        secured_callback(app, permission, Output(f"{p}-message", "children"), Output(f"{p}-changed", "data"),
                         Output(f"{p}-note", "value"), [Input(f"{p}-act-{a}", "n_clicks") for a in actions], *action_states,
                         prevent_initial_call=True)(act_for(kind))
        secured_callback(app, permission, Output(f"{p}-upload-message", "children"),
                         Output(f"{p}-changed", "data", allow_duplicate=True),
                         Input(f"{p}-upload", "contents"), State(f"{p}-upload", "filename"), State(f"{p}-open", "data"),
                         State(f"{p}-upload-stage", "value"), State(f"{p}-position", "data"), State(f"{p}-changed", "data"),
                         State("lang", "data"), prevent_initial_call=True)(upload_for(kind))
    secured_callback(app, "view:inspections", Output("insp-queue", "data"), Input("insp-tab-verify", "n_clicks"),
                     Input("insp-tab-check", "n_clicks"), prevent_initial_call=True)(pick_queue)
    secured_callback(
        app, "view:inspections",
        Output("insp-list", "children"), Output("insp-more", "children"), Output("insp-sortnote", "children"),
        Output("insp-count-verify", "children"), Output("insp-count-check", "children"),
        Output("insp-tab-verify", "className"), Output("insp-tab-check", "className"), Output("insp-key", "data"),
        Input("insp-tick", "n_intervals"), Input("insp-position", "data"), Input("insp-queue", "data"), Input("insp-changed", "data"),
        State("lang", "data"), State("insp-key", "data"),
    )(inspections_list)
    secured_callback(
        app, "view:tasks",
        Output("tasks-list", "children"), Output("tasks-more", "children"), Output("tasks-sortnote", "children"),
        Output("tasks-count-open", "children"), Output("tasks-count-overdue", "children"),
        Output("tasks-count-unacked", "children"), Output("tasks-count-handled", "children"),
        Output("tasks-department", "children"), Output("tasks-key", "data"),
        Input("tasks-tick", "n_intervals"), Input("tasks-position", "data"), Input("tasks-changed", "data"),
        State("lang", "data"), State("tasks-key", "data"),
    )(tasks_list)
