"""Callbacks of the linked events (大联动): the events list with proposals and the start form
(/events), one event (/event/<id>), the wall's event mode, a department's event tasks on /tasks,
the notices in the frame, the events on a district page and the response-time indicators.

Every read comes from the process's `EventIndex` (one GET of the events' revision while nothing
changed; `ioc.adapters.event_index`); every action goes through the process's one
`EventService` (`services.events`), which checks who may do it and every input on the version
shown, as for the API and the department systems; these callbacks word its refusals in the
page's language (`ioc.views.events.refusal_text`). Rows and texts come from `ioc.views.events`.

Plain module-level functions reaching the process's services through `current_services()`;
`register()` only wires them (`secured_callback`: the permission, and a Redis outage as the
banner). The actions are marked with `notice_in`: on an outage their own message line says the
action was not carried out.

The wall's tick stays light: `wall` sends nothing while the event it shows, its version, the
minute, the proposals and the language are what the screen already shows (`ev-wall-shown`), the
area's geometry (simplified for the map) only when the event shown changes, the tabs, the
linked points (at most WALL_LINKED_POINTS) and the proposal's words only when they differ from
what the screen shows,
and the parts every wall of the process shows alike are made once (`_Made`).
"""

from __future__ import annotations

import threading
import time
import weakref
import zlib
from urllib.parse import parse_qs

import orjson

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from ioc.adapters.alarm_store import AlarmNotFound
from ioc.adapters.event_index import event_index
from ioc.casework.service import CASE_REFUSALS
from ioc.domain.access import SIGNED_IN, allowed
from ioc.domain.alarms import SEVERITY_RANK
from ioc.domain.departments import all_departments
from ioc.domain.event_area import area_geojson, linked_with
from ioc.domain.events import EVENT_ACTIONS, TASK_ACTIONS, Area, Event, EventError, visible_to
from ioc.events.service import EVENT_REFUSALS, LINK_RADIUS_M, refusal
from ioc.i18n import resolve_lang, t
from ioc.views import events as ev
from ioc.views.bigscreen import alarm_words_for
from ioc.views.cases import class_name, period_range
from ioc.views.proposal_text import proposal_words
from ioc.web.auth import client_ip, current_principal
from ioc.web.dash_guard import secured_callback
from ioc.web.outage import notice_in
from ioc.web.people import display_names
from ioc.web.services import current_services

from layouts.cases import HIDDEN_LAID_OUT
from layouts.events import (COMMAND_ACTIONS, TASK_ACTIONS as TASK_BUTTONS, banner_parts, district_event_items,
                            instruction_items, linked_parts, log_items, my_task_cards, notice_items, proposal_cards,
                            proposal_text, task_cards, wall_tab_buttons)

SHOWN: dict = {}
HIDDEN = {"display": "none"}
EVENT_BUTTONS = COMMAND_ACTIONS + ("instruct",)
WALL_EVIDENCE = 3  # evidence lines on the wall's proposal banner
PAGE_EVIDENCE = 8


def lang_of(lang) -> str:
    return resolve_lang(lang, current_services().settings.lang)


def now_ms() -> int:
    return int(time.time() * 1000)


def departments_of(city) -> dict:
    return {d.id: d for d in all_departments(city)}


def district_names(lang: str) -> dict[str, str]:
    return {d.id: d.name(lang) for d in current_services().city.districts}


def events_view():
    """Every event and the current proposals, as of now (`EventIndex.view`)."""
    service = current_services().events
    return event_index(service, service.store).view()


def people() -> dict[str, str]:
    return display_names(current_services().users).get()


def refusal_words(error: Exception, lang: str) -> str:
    """A refusal of the event service in the page's language (the one mapping: `refusal`)."""
    found = refusal(error)
    return ev.refusal_text(found.error, found.field, getattr(error, "code", ""), lang)


def started_text(event, lang: str) -> list:
    title = ev.title_of(event, current_services().events.plans, lang)
    return [f"{t('ev_started', lang)}: ", dcc.Link(event.id, href=f"/event/{event.id}", className="case-link"), f" · {title}"]


def _pattern_values_of(dependencies, position: int, key: str) -> dict:
    """{id[key]: value} of the pattern-matched dependency at `position` (of `ctx.states_list` or `ctx.inputs_list`)."""
    found = dependencies[position] if len(dependencies or []) > position else []
    return {spec["id"].get(key): spec.get("value") for spec in found if isinstance(spec, dict) and isinstance(spec.get("id"), dict)}


def _pattern_values(position: int, key: str) -> dict:
    """{id[key]: value} of the pattern-matched State at `position` among the callback's states."""
    return _pattern_values_of(ctx.states_list, position, key)


def _clicked() -> bool:
    """Whether the callback was fired by a click (not a pattern-matched button drawn anew with 0 clicks)."""
    return bool(ctx.triggered) and bool(ctx.triggered[0].get("value"))


# ---- /events --------------------------------------------------------------------------------------

def events_setup(_page, lang):
    """The start form for command roles only; the plans in the form and in the filter."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    plans = services.events.plans
    options = ev.plan_options(plans, lang)
    shown = SHOWN if allowed(current_principal(), "event:command") else HIDDEN_LAID_OUT
    return shown, options, next(iter(plans), None), options


def start_from_link(_page, search, lang):
    """`/events?case=<id>` or `/events?alarm=<id>` (the case page's and the alarm's way here): the
    start form set to start from that case or alarm, its place already taken as the area."""
    query = parse_qs((search or "").lstrip("?"))
    case_id, alarm_id = (query.get("case") or [""])[0].strip(), (query.get("alarm") or [""])[0].strip()
    if not (case_id or alarm_id) or not allowed(current_principal(), "event:command"):
        return no_update, no_update, no_update, no_update
    kind = "case" if case_id else "alarm"
    return kind, alarm_id, case_id, prefill(None, kind, alarm_id, case_id, lang)


def start_levels(plan_id, lang):
    """The chosen plan's own levels (a plan may lack some), the lowest first."""
    services = current_services()
    options = ev.level_options(services.events.plan(plan_id or ""), lang_of(lang))
    return options, options[0]["value"] if options else None


def area_rows(kind):
    """The inputs of the way the area is given: a district, drawn (the map), an alarm or a case."""
    return (SHOWN if kind == "district" else HIDDEN), (SHOWN if kind in ("alarm", "case") else HIDDEN)


def _drawn(geojson) -> dict | None:
    """The last shape drawn with the map's tools as the service takes it (a circle, a Polygon)."""
    features = (geojson or {}).get("features") if isinstance(geojson, dict) else None
    if not isinstance(features, list) or not features:
        return None
    feature = features[-1]
    if not isinstance(feature, dict):
        return None
    geometry = feature.get("geometry") or {}
    props = feature.get("properties") or {}
    if geometry.get("type") == "Point":
        radius = props.get("_radius", props.get("radius"))
        if isinstance(radius, (int, float)):
            return {"type": "circle", "center": geometry.get("coordinates"), "radius_m": round(float(radius))}
        return None
    if geometry.get("type") == "Polygon":
        return {"type": "Polygon", "coordinates": geometry.get("coordinates")}
    return None


def _preview(area: dict | None) -> dict | None:
    """The area as the map draws it (None when nothing valid is chosen yet)."""
    if not area:
        return None
    services = current_services()
    try:
        return {"type": "FeatureCollection", "features": [area_geojson(Area.from_dict(area), services.city)]}
    except (EventError, ValueError, TypeError, KeyError):
        return None


def area_input(kind, district, geojson, prefilled, lang):
    """The area the start form sends, what it says about it, and its preview on the map."""
    lang = lang_of(lang)
    if kind == "district":
        area = {"type": "district", "district": district} if district else None
        return area, "", _preview(area)
    if kind == "draw":
        area = _drawn(geojson)
        if area is None:
            return None, t("ev_area_draw_hint", lang), None
        if area["type"] == "circle":
            text = t("ev_area_drawn_circle", lang).format(radius=area["radius_m"])
        else:
            text = t("ev_area_drawn_polygon", lang).format(n=max(0, len((area.get("coordinates") or [[]])[0]) - 1))
        return area, text, None  # the drawn shape is on the map already
    if isinstance(prefilled, dict) and prefilled.get("kind") == kind:
        return prefilled.get("area"), prefilled.get("text", ""), _preview(prefilled.get("area"))
    return None, "", None


def prefill(_n, kind, alarm_id, case_id, lang):
    """The alarm's or the case's place as the area: a circle of 1 km around it, its district."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    names = district_names(lang)
    try:
        if kind == "alarm":
            alarm = services.alarms.get(str(alarm_id or "").strip())
            where = services.events.snapshot_positions([str(alarm.get("device_id") or "")])
            if not where:
                raise AlarmNotFound(alarm_id)
            lon, lat = next(iter(where.values()))
            district, what = str(alarm.get("district") or ""), t("ev_log_alarm", lang).format(id=alarm_id)
        else:
            case = services.cases.case_for(str(case_id or "").strip(), current_principal())
            lon, lat, district = case.lon, case.lat, case.district
            what = f"{t('ev_log_case', lang).format(id=case.id)} {class_name(case.class_code, lang)}"
    except (AlarmNotFound, *CASE_REFUSALS):
        return {"kind": kind, "area": None, "text": t("ev_prefill_missing", lang)}
    area = {"type": "circle", "center": [lon, lat], "radius_m": LINK_RADIUS_M}
    text = t("ev_prefilled", lang).format(what=what, district=names.get(district, district), radius=LINK_RADIUS_M)
    return {"kind": kind, "area": area, "text": text, "district": district}


@notice_in("ev-start-message")
def start(_n, plan, level, title, kind, area, alarm_id, case_id, note, proposal, started, lang):
    """Start an event as the signed-in commander; the message links to its page."""
    lang = lang_of(lang)
    source = {"alarm_id": str(alarm_id or "").strip() or None} if kind == "alarm" else \
        {"case_id": str(case_id or "").strip() or None} if kind == "case" else {}
    try:
        event = current_services().events.start(
            current_principal(), plan=plan, level=level, title=title or None, note=note or None,
            area=area if kind in ("district", "draw") or (kind in ("alarm", "case") and area) else None,
            proposal_id=proposal or None, ip=client_ip(), **source)
    except EVENT_REFUSALS as e:
        return refusal_words(e, lang), no_update, no_update
    return started_text(event, lang), (started or 0) + 1, ""


def events_list(_n, status, plan, district, _started, lang, shown_key):
    """The events the viewer may see, filtered; sent again only when an event changed, a filter
    changed or a minute passed (the elapsed times are in minutes)."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    view = events_view()
    now = now_ms()
    key = [view.revision, now // 60_000, status or "", plan or "", district or "", lang]
    if key == shown_key:
        return no_update, no_update
    principal = current_principal()
    shown = ev.filter_events((e for e in view.events if visible_to(e, principal)), status or "", plan or "", district or "")
    return ev.event_rows(shown, services.events.plans, district_names(lang), now, lang), key


def proposals(_n, _changed, lang, shown_key):
    """The current proposals with their evidence; confirm and dismiss for command roles."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    view = events_view()
    now = now_ms()
    can_act = allowed(current_principal(), "event:command")
    key = [view.revision, now // 60_000, lang, can_act]
    if key == shown_key:
        return no_update, no_update
    cards = [(p.id, proposal_words(p, services.events.plan(p.plan), lang, services.city, now, PAGE_EVIDENCE)) for p in view.proposals]
    return proposal_cards(cards, can_act, lang), key


@notice_in("ev-proposal-message")
def proposal_act(_confirm, _dismiss, reasons, changed, lang):
    """Confirm a proposal (start its event: the plan, level and area of its evidence) or dismiss
    it with a reason."""
    lang = lang_of(lang)
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not _clicked():
        return no_update, no_update
    proposal_id = trigger.get("id")
    services = current_services()
    try:
        if trigger.get("type") == "ev-prop-confirm":
            event = services.events.start(current_principal(), plan=None, level=None, proposal_id=proposal_id, ip=client_ip())
            return started_text(event, lang), (changed or 0) + 1
        reason = _pattern_values(0, "id").get(proposal_id) or ""
        if not str(reason or "").strip():
            return t("ev_dismiss_need_reason", lang), no_update
        services.events.dismiss(proposal_id, current_principal(), reason=reason, ip=client_ip())
    except EVENT_REFUSALS as e:
        return refusal_words(e, lang), (changed or 0) + 1
    return t("ev_dismissed", lang), (changed or 0) + 1


# ---- /event/<id> ----------------------------------------------------------------------------------

LOAD_OUTPUTS = (
    [Output("event-title", "children"), Output("event-status", "children"), Output("event-status", "className"),
     Output("event-missing", "style"), Output("event-body", "style"), Output("event-banner", "children"),
     Output("event-map-area", "data"), Output("event-map-linked", "data"), Output("event-linked", "children"),
     Output("event-tasks", "children"), Output("event-instructions", "children"), Output("event-timeline", "figure"),
     Output("event-log", "rowData"), Output("event-version", "data"), Output("event-task-version", "data"),
     Output("event-shown", "data"),
     Output("ev-no-actions", "style"), Output("ev-my-task-row", "style"), Output("ev-my-task", "children"),
     Output("ev-level-row", "style"), Output("ev-act-level-pick", "options"), Output("ev-department-row", "style"),
     Output("ev-act-department", "options"), Output("ev-text-row", "style"), Output("ev-text-label", "children"),
     Output("ev-act-hint", "children")]
    + [Output(f"ev-act-{a}", "style") for a in EVENT_BUTTONS]
    + [Output(f"ev-task-{a}", "style") for a in TASK_BUTTONS]
)


class _Made:
    """What the event views make once and share: an area's GeoJSON per event (an area never
    changes), the wall's parts per event version and minute, what an area links per minute (the
    device positions and the devices inside an area are kept by the event service). Small and
    bounded; one per event service."""

    LIMIT = 256

    def __init__(self):
        self.lock = threading.Lock()
        self.values: dict = {}

    def get(self, key, make):
        with self.lock:
            if key in self.values:
                return self.values[key]
        value = make()
        with self.lock:
            if len(self.values) > self.LIMIT:
                self.values.clear()
            self.values[key] = value
        return value



_MADE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_MADE_LOCK = threading.Lock()
LINKED_POINTS_MAX = 300  # the alarms and cases an area links drawn on the event page's map at most
WALL_LINKED_POINTS = 30  # … on the wall's map (the most relevant first: the event's own, then alarms by severity, then cases)


def made(services) -> _Made:
    with _MADE_LOCK:
        found = _MADE.get(services.events)
        if found is None:
            found = _MADE[services.events] = _Made()
        return found


def area_collection(services, event) -> dict:
    """The event's area as a FeatureCollection for a map layer (made once per event)."""
    return made(services).get(("area", event.id), lambda: {"type": "FeatureCollection",
                                                            "features": [area_geojson(event.area, services.city, simplified=True)]})


def digest(value) -> str:
    """A short digest of a value's JSON, the same in every process: what a screen holds of a part it was sent."""
    data = orjson.dumps(value, default=str)
    return f"{zlib.crc32(data):08x}{len(data):x}"


def _linked_now(event, services, lang: str, limit: int = LINKED_POINTS_MAX, snapshot=None):
    """What the event's area holds now (or in `snapshot`, a replayed moment: devices, active
    alarms, open cases) and the explicitly linked alarms and cases: counts, words for the lists and
    the map layer (at most `limit` points: the event's own alarms, the others by severity, then its
    own cases, then the others)."""
    snapshot = snapshot if snapshot is not None else services.city_cache.snapshot()
    service = services.events  # keeps the registry's positions, the area's geometry and the devices inside
    found = linked_with(event.area, service.area_geometry(event.area), service.device_points(snapshot), snapshot.alarms,
                        snapshot.cases, devices=False)
    inside_alarms = {a.get("id") for a in found.alarms}
    inside_cases = {c.id for c in found.cases}
    alarms = list(found.alarms) + [a for a in snapshot.alarms if a.get("id") in event.alarms and a.get("id") not in inside_alarms]
    cases = list(found.cases) + [c for c in snapshot.cases if c.id in event.cases and c.id not in inside_cases]
    alarms.sort(key=lambda a: (a.get("id") not in event.alarms, SEVERITY_RANK.get(a.get("severity"), len(SEVERITY_RANK))))
    cases.sort(key=lambda c: c.id not in event.cases)
    by_id = snapshot.fleet.by_id
    names = {a.get("device_id"): by_id[a.get("device_id")].name for a in alarms if a.get("device_id") in by_id}
    positions = {d: (by_id[d].lon, by_id[d].lat) for d in names}
    shown_alarms = alarms[:limit]
    shown_cases = cases[:limit - len(shown_alarms)]
    alarm_words = {a.get("id"): alarm_words_for(a, names, services.city, lang).text(with_district=False) for a in shown_alarms}
    case_words = {c.id: class_name(c.class_code, lang) for c in shown_cases}
    counts = {"devices": len(service.devices_in(event.area, snapshot)), "alarms": len(alarms), "cases": len(cases)}
    layer = ev.linked_geojson(shown_alarms, shown_cases, positions, alarm_words, case_words)
    return counts, [(a.get("id"), alarm_words[a.get("id")]) for a in shown_alarms][:30], \
        [(c.id, case_words[c.id]) for c in shown_cases][:30], layer


def load_event(event_id, _changed, _n, _refresh, lang, shown):
    """One event as the signed-in principal may see it (else "no such event"), and its actions.
    A periodic re-read sends nothing while the version and the minute are the ones shown."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    principal = current_principal()
    now = now_ms()
    try:
        event = services.events.event_for(event_id, principal)
    except EVENT_REFUSALS:
        event = None
    if event is None:
        missing = [f"{t('ev_page_heading', lang)} {event_id or ''}", "", "case-stage", SHOWN, HIDDEN] + [no_update] * 8 \
            + [None, None, None, SHOWN, HIDDEN, no_update, HIDDEN, no_update, HIDDEN, no_update, HIDDEN, no_update, ""]
        return missing + [HIDDEN] * (len(EVENT_BUTTONS) + len(TASK_BUTTONS))
    key = {"id": event.id, "version": event.version, "minute": now // 60_000, "lang": lang}
    if shown == key and ctx.triggered_id == "event-tick":
        return [no_update] * len(LOAD_OUTPUTS)
    departments = departments_of(services.city)
    plans = services.events.plans
    names = district_names(lang)
    who = people()
    b = ev.banner(event, plans, names, now, lang, who)
    new_area = not isinstance(shown, dict) or shown.get("id") != event.id
    area = area_collection(services, event) if new_area else no_update
    counts, alarm_list, case_list, layer = _linked_now(event, services, lang)
    c = ev.choices(event, principal, services.events.plan(event.plan), departments, lang)
    uses_department = "add_task" in c.event_actions or "withdraw_task" in c.event_actions
    uses_text = bool(set(c.event_actions) - {"contain"} or c.task_actions)
    hint = ""
    if c.close_blocked and "close" not in c.event_actions and c.event_actions:
        hint = t("ev_close_blocked", lang).format(departments=("、" if lang == "zh" else ", ").join(c.close_blocked))
    label = (t("ev_task_note", lang) if c.task_actions else t("ev_instruct_text", lang) if c.event_actions == ("instruct",)
             else t("ev_text_leader", lang) if "instruct" in c.event_actions else t("ev_text_command", lang))
    department_options = c.add_departments + [o for o in c.withdraw_departments if o not in c.add_departments]
    my_task = ""
    if c.task is not None:
        row = next(r for r in ev.task_rows(event, departments, now, lang) if r["department"] == c.task.department)
        my_task = f"{row['name']} · {row['status_name']} · {row['deadline']}"
    title = f"{t('ev_page_heading', lang)} {event.id} · {b.title}"
    return ([title, b.status, f"case-stage ev-status status-{event.status}", HIDDEN, SHOWN, banner_parts(b, lang),
             area, layer, linked_parts(counts, alarm_list, case_list, lang),
             task_cards(ev.task_rows(event, departments, now, lang), lang),
             instruction_items(ev.instruction_rows(event, departments, lang, who), c.instructions, lang),
             ev.timeline_figure(event, departments, now, lang),
             ev.with_notifications(ev.log_rows(event, plans, departments, names, lang, who),
                                   ev.notification_rows(services.notify.for_subject(f"event:{event.id}") if services.notify else [], lang)),
             event.version,
             c.task.version if c.task is not None else None, key,
             HIDDEN if c.any else SHOWN, SHOWN if c.task is not None else HIDDEN, my_task,
             SHOWN if c.levels else HIDDEN, c.levels, SHOWN if uses_department else HIDDEN, department_options,
             SHOWN if uses_text else HIDDEN, label, hint]
            + [SHOWN if a in c.event_actions else HIDDEN for a in EVENT_BUTTONS]
            + [SHOWN if a in c.task_actions else HIDDEN for a in TASK_BUTTONS])


@notice_in("event-message")
def act(*args):
    """The action of the button clicked (`ev-act-<action>`, `ev-task-<action>`, an instruction's
    acknowledge button) on the version the page shows; a stale version reloads the page and says so."""
    n = len(EVENT_BUTTONS) + len(TASK_BUTTONS) + 1
    event_id, version, task_version, level, department, text, changed, lang = args[n:]
    lang = lang_of(lang)
    trigger = ctx.triggered_id
    service = current_services().events
    principal = current_principal()
    text = text or ""
    try:
        if isinstance(trigger, dict):
            if not _clicked():
                return no_update, no_update, no_update
            action = "acknowledge_instruction"
            service.act(event_id, action, principal, instruction_id=trigger.get("id"), ip=client_ip())
        elif str(trigger or "").startswith("ev-task-"):
            action = str(trigger).removeprefix("ev-task-")
            if action not in TASK_ACTIONS:
                return no_update, no_update, no_update
            service.task_act(event_id, principal.department, action, principal, note=text, expected_version=task_version,
                             ip=client_ip())
        else:
            action = str(trigger or "").removeprefix("ev-act-")
            if action not in EVENT_ACTIONS:
                return no_update, no_update, no_update
            service.act(event_id, action, principal, expected_version=version, level=level, reason=text, text=text,
                        summary=text, department=department, ip=client_ip())
    except EVENT_REFUSALS as e:
        return refusal_words(e, lang), (changed or 0) + 1, no_update
    return t("ev_done", lang).format(what=ev.action_name(action, lang)), (changed or 0) + 1, ""


# ---- the wall ---------------------------------------------------------------------------------------

WALL_OUTPUTS = [Output("bigscreen-grid", "className"), Output("ev-wall-banner", "children"), Output("ev-wall-tabs", "children"),
                Output("ev-wall-board", "children"), Output("ev-wall-log", "children"), Output("map-event-area", "data"),
                Output("map-event-linked", "data"), Output("ev-wall-proposal", "className"),
                Output("ev-wall-proposal-text", "children"), Output("ev-wall-proposal-buttons", "style"),
                Output("ev-wall-proposal-id", "data"), Output("ev-wall-shown", "data")]


def _event_parts(services, event, lang: str, now: int) -> dict:
    """What every wall of the process shows of one event at one version and minute (made once)."""
    def make() -> dict:
        plans = services.events.plans
        departments = departments_of(services.city)
        names = district_names(lang)
        who = people()
        return {
            "banner": banner_parts(ev.banner(event, plans, names, now, lang, who, short=True), lang, f"/event/{event.id}"),
            "board": task_cards(ev.task_rows(event, departments, now, lang), lang, wall=True),
            "log": log_items(ev.log_rows(event, plans, departments, names, lang, who, limit=ev.WALL_LOG_ROWS)),
        }
    return made(services).get(("wall", event.id, event.version, now // 60_000, lang), make)


def _proposal_key(proposal) -> str:
    """What the wall's proposal banner shows of a proposal, as a key (its evidence values move it)."""
    if proposal is None:
        return ""
    return repr((proposal.id, proposal.raised_at, [(e.device_id, e.value) for e in proposal.evidence[:WALL_EVIDENCE]]))


def _proposal_parts(services, proposal, lang: str, now: int):
    def make():
        words = proposal_words(proposal, services.events.plan(proposal.plan), lang, services.city, now, WALL_EVIDENCE)
        return proposal_text(words, lang)
    return made(services).get(("proposal", _proposal_key(proposal), now // 60_000, lang), make)


def replayed_events(services, at) -> list | None:
    """The linked events live at the moment `at` of the time control (回溯), each as it was then,
    when the viewer may rewind and the process has a record; None: the wall is live."""
    if at is None or services.rewind is None or not allowed(current_principal(), "view:rewind"):
        return None
    return [Event.from_dict(data) for data in services.rewind.events_at(int(at))]


def wall(_n, lang, pick, shown, at=None):
    """The wall's event mode: while events are live, the banner, the task board, the newest log,
    the area on the map (fitted) with what it links; several events rotate unless one is picked;
    the newest proposal over the map (confirm and dismiss for command roles only). While the time
    control shows a moment (`at`), the events live then, as they were then, without proposals
    (the area's alarms are the moment's). Sends nothing while the event shown, its version, the
    minute, the live events, the proposal and the viewer's rights are what the screen shows; the
    area once per event."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    replayed = replayed_events(services, at)
    if replayed is not None:
        now = int(at) // 1000 * 1000
        live, proposal, snapshot = ev.wall_order(replayed), None, services.rewind.snapshot_at(now)
    else:
        now = now_ms()
        view = events_view()
        live, proposal, snapshot = ev.wall_order(view.live), view.proposals[0] if view.proposals else None, None
    minute = now // 60_000
    event = ev.wall_choice(live, pick, now)
    can_act = allowed(current_principal(), "event:command") and replayed is None
    key = digest(repr((event.id if event else "", event.version if event else 0, minute, lang, _proposal_key(proposal), can_act,
                       pick or "", [(e.id, e.level) for e in live], replayed is not None)))
    shown = shown if isinstance(shown, dict) else {}
    if shown.get("key") == key:
        return [no_update] * len(WALL_OUTPUTS)
    shown_id = event.id if event is not None else ""
    if shown_id == shown.get("id", "") and "id" in shown:
        area = no_update  # the geometry once per event
    elif event is not None:
        area = area_collection(services, event)
    else:
        area = ev.city_frame(services.city.bounds) if shown.get("id") else no_update  # back to the whole city
    if event is not None:
        parts = _event_parts(services, event, lang, now)

        def make_layer():
            layer = _linked_now(event, services, lang, WALL_LINKED_POINTS, snapshot)[3]
            return layer, digest(layer)
        linked_layer, linked_digest = made(services).get(("linked", event.id, minute, lang, replayed is not None), make_layer)
    else:
        parts, linked_layer, linked_digest = {}, None, ""
    tabs_data = ev.wall_tabs(live, shown_id, services.events.plans, lang)
    picked = bool(pick and event is not None and pick == event.id)
    tabs_digest = digest([tabs_data, picked, lang])
    # the tabs, the linked points and the proposal's words only when they differ from what the screen shows
    tabs = no_update if shown.get("tabs") == tabs_digest else wall_tab_buttons(tabs_data, lang, picked)
    if shown.get("linked") == linked_digest and "linked" in shown:
        linked_layer = no_update
    proposal_digest = digest([_proposal_key(proposal), now // 60_000, lang])
    proposal_words_out = (no_update if shown.get("proposal") == proposal_digest
                          else _proposal_parts(services, proposal, lang, now) if proposal else [])
    return ["bigscreen event-mode" if event is not None else "bigscreen", parts.get("banner", []), tabs,
            parts.get("board", []), parts.get("log", []), area, linked_layer,
            "ev-wall-proposal" if proposal else "ev-wall-proposal hidden",
            proposal_words_out, SHOWN if proposal and can_act else HIDDEN, proposal.id if proposal else "",
            {"key": key, "id": shown_id, "tabs": tabs_digest, "linked": linked_digest, "proposal": proposal_digest}]


def wall_pick(_clicks):
    """A tab picks its event; the rotate tab (id "") lets the events rotate again."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not _clicked():
        return no_update
    return trigger.get("id") or None


@notice_in("ev-wall-proposal-message")
def wall_proposal(_confirm, _dismiss, proposal_id, reason, lang):
    """Confirm the proposal on the wall (the event starts and the wall shows it) or dismiss it
    with a reason."""
    lang = lang_of(lang)
    services = current_services()
    if not proposal_id:
        return no_update, no_update, no_update
    try:
        if ctx.triggered_id == "ev-wall-confirm":
            event = services.events.start(current_principal(), plan=None, level=None, proposal_id=proposal_id, ip=client_ip())
            return started_text(event, lang), event.id, ""
        if not str(reason or "").strip():
            return t("ev_dismiss_need_reason", lang), no_update, no_update
        services.events.dismiss(proposal_id, current_principal(), reason=reason, ip=client_ip())
    except EVENT_REFUSALS as e:
        return refusal_words(e, lang), no_update, no_update
    return t("ev_dismissed", lang), no_update, ""


def wall_start_open(_open, _cancel, lang):
    """The wall's start dialog: opened with the plans, closed by cancel."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    if ctx.triggered_id == "ev-wall-start-cancel":
        return "clear-dialog ev-start-dialog hidden", no_update, no_update, ""
    plans = services.events.plans
    return "clear-dialog ev-start-dialog", ev.plan_options(plans, lang), next(iter(plans), None), ""


@notice_in("ev-wall-start-message")
def wall_start(_n, plan, level, district, title, lang):
    """Start an event from the wall in a district; the wall shows it at once."""
    lang = lang_of(lang)
    try:
        event = current_services().events.start(current_principal(), plan=plan, level=level, district=district or None,
                                                 title=title or None, ip=client_ip())
    except EVENT_REFUSALS as e:
        return refusal_words(e, lang), no_update, no_update
    return "", "clear-dialog ev-start-dialog hidden", event.id


# ---- /tasks, the frame's notices, the district page, the indicators -------------------------------

def keep_notes(_values):
    """The notes typed on /tasks, by event (so that drawing the tasks again keeps them)."""
    return {k: v for k, v in _pattern_values_of(ctx.inputs_list, 0, "event").items() if v}


def tasks_events(_n, _changed, lang, notes, shown_key):
    """The department's event tasks with their next actions (drawn again only when an event
    changed or a minute passed; notes typed meanwhile are kept)."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    principal = current_principal()
    department = principal.department if principal is not None else ""
    view = events_view()
    now = now_ms()
    key = [view.revision, now // 60_000, lang, department]
    if key == shown_key:
        return no_update, no_update
    typed = notes if isinstance(notes, dict) else {}
    rows = ev.my_tasks(view.events, department, departments_of(services.city), services.events.plans, principal, now, lang)
    return my_task_cards(rows, typed, lang), key


@notice_in("tasks-events-message")
def tasks_event_act(_buttons, _instructions, notes, changed, lang):
    """A task action or an instruction's acknowledgement from /tasks, on the task version shown."""
    lang = lang_of(lang)
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not _clicked():
        return no_update, no_update
    event_id = trigger.get("event")
    if trigger.get("type") == "ev-task-instr":
        return _department_step(event_id, "acknowledge_instruction", changed, lang, instruction_id=trigger.get("id"))
    version = trigger.get("version")  # the task's version the page showed
    return _department_step(event_id, trigger.get("action"), changed, lang, note=_pattern_values(0, "event").get(event_id) or "",
                            version=version if isinstance(version, int) else None)


def _department_step(event_id, what: str, changed, lang: str, *, instruction_id=None, note: str = "", version=None):
    """The signed-in department's step of its task (or its acknowledgement of an instruction):
    the message saying it was done, or why not, and the bumped change counter."""
    services = current_services()
    principal = current_principal()
    try:
        if what == "acknowledge_instruction":
            services.events.act(event_id, what, principal, instruction_id=instruction_id, ip=client_ip())
        else:
            services.events.task_act(event_id, principal.department, what, principal, note=note, expected_version=version,
                                     ip=client_ip())
    except EVENT_REFUSALS as e:
        return refusal_words(e, lang), (changed or 0) + 1
    return t("ev_done", lang).format(what=ev.action_name(what, lang)), (changed or 0) + 1


def notices(_n, _path, _changed, lang, shown_key):
    """A department's tasks still issued and instructions still to acknowledge, on every page;
    nothing at all for a principal bound to no department."""
    principal = current_principal()
    if principal is None or not principal.department or "handler" not in principal.roles:
        return no_update, no_update
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    view = events_view()
    key = [view.revision, lang]
    if key == shown_key:
        return no_update, no_update
    return notice_items(ev.notices(view.events, principal, services.events.plans, lang), lang), key


@notice_in("ev-notice-message")
def notice_ack(_clicks, changed, lang):
    """Acknowledge a task or an instruction from the frame's notice."""
    lang = lang_of(lang)
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not _clicked():
        return no_update, no_update
    if trigger.get("kind") == "instruction":
        return _department_step(trigger.get("event"), "acknowledge_instruction", changed, lang, instruction_id=trigger.get("id"))
    return _department_step(trigger.get("event"), "acknowledge", changed, lang)


def district_events(_n, district_id, lang, shown_key):
    """The open events whose area touches the district."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    view = events_view()
    now = now_ms()
    key = [view.revision, now // 60_000, lang, district_id]
    if key == shown_key:
        return no_update, no_update
    plans = services.events.plans
    rows = [{"id": e.id, "link_text": f"{ev.headline(e, plans, lang)} · {ev.title_of(e, plans, lang)}", "status": ev.status_name(e.status, lang),
             "status_id": e.status, "elapsed": ev.elapsed_text(e, now, lang), "level_id": e.level}
            for e in ev.touching(view.events, district_id or "")]
    return district_event_items(rows, lang), key


def event_indicators(period, _n, lang):
    """Per plan and per department: the response times of the events started in the period."""
    services = current_services()
    lang = resolve_lang(lang, services.settings.lang)
    now = now_ms()
    start_ms, end_ms = period_range(period or "this_month", now)
    chosen = [e for e in events_view().events if start_ms <= e.started_at < end_ms]
    by_plan, by_department = ev.indicator_rows(chosen, services.events.plans, departments_of(services.city), now, lang)
    return by_plan, by_department


def register(app, services) -> None:
    # /events
    secured_callback(app, "view:events",
                     Output("ev-start-form", "style"), Output("ev-start-plan", "options"), Output("ev-start-plan", "value"),
                     Output("ev-filter-plan", "options"),
                     Input("events-page", "id"), State("lang", "data"))(events_setup)
    secured_callback(app, "view:events", Output("ev-start-area-kind", "value"), Output("ev-start-alarm", "value"),
                     Output("ev-start-case", "value"), Output("ev-start-prefilled", "data", allow_duplicate=True),
                     Input("events-page", "id"), State("url", "search"), State("lang", "data"),
                     prevent_initial_call="initial_duplicate")(start_from_link)
    secured_callback(app, "view:events", Output("ev-start-level", "options"), Output("ev-start-level", "value"),
                     Input("ev-start-plan", "value"), State("lang", "data"))(start_levels)
    secured_callback(app, "view:events", Output("ev-start-district-row", "style"), Output("ev-start-source-row", "style"),
                     Input("ev-start-area-kind", "value"))(area_rows)
    secured_callback(app, "view:events",
                     Output("ev-start-area", "data"), Output("ev-start-area-msg", "children"), Output("ev-start-preview", "data"),
                     Input("ev-start-area-kind", "value"), Input("ev-start-district", "value"), Input("ev-start-edit", "geojson"),
                     Input("ev-start-prefilled", "data"), State("lang", "data"))(area_input)
    secured_callback(app, "event:command", Output("ev-start-prefilled", "data"),
                     Input("ev-start-prefill", "n_clicks"), State("ev-start-area-kind", "value"), State("ev-start-alarm", "value"),
                     State("ev-start-case", "value"), State("lang", "data"), prevent_initial_call=True)(prefill)
    secured_callback(
        app, "event:command",
        Output("ev-start-message", "children"), Output("ev-started", "data"), Output("ev-start-note", "value"),
        Input("ev-start-submit", "n_clicks"),
        State("ev-start-plan", "value"), State("ev-start-level", "value"), State("ev-start-title", "value"),
        State("ev-start-area-kind", "value"), State("ev-start-area", "data"), State("ev-start-alarm", "value"),
        State("ev-start-case", "value"), State("ev-start-note", "value"), State("ev-start-proposal", "data"),
        State("ev-started", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(start)
    secured_callback(
        app, "view:events", Output("events-grid", "rowData"), Output("events-grid-key", "data"),
        Input("tick", "n_intervals"), Input("ev-filter-status", "value"), Input("ev-filter-plan", "value"),
        Input("ev-filter-district", "value"), Input("ev-started", "data"), State("lang", "data"), State("events-grid-key", "data"),
    )(events_list)
    secured_callback(app, "view:events", Output("ev-proposals", "children"), Output("ev-proposals-key", "data"),
                     Input("tick", "n_intervals"), Input("ev-started", "data"), State("lang", "data"),
                     State("ev-proposals-key", "data"))(proposals)
    secured_callback(
        app, "event:command", Output("ev-proposal-message", "children"), Output("ev-started", "data", allow_duplicate=True),
        Input({"type": "ev-prop-confirm", "id": ALL}, "n_clicks"), Input({"type": "ev-prop-dismiss", "id": ALL}, "n_clicks"),
        State({"type": "ev-prop-reason", "id": ALL}, "value"), State("ev-started", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(proposal_act)
    # /event/<id>
    secured_callback(app, "view:events", LOAD_OUTPUTS,
                     Input("event-id", "data"), Input("event-changed", "data"), Input("event-tick", "n_intervals"),
                     Input("event-refresh", "n_clicks"), State("lang", "data"), State("event-shown", "data"))(load_event)
    secured_callback(
        app, "view:events",
        Output("event-message", "children"), Output("event-changed", "data"), Output("ev-act-text", "value"),
        [Input(f"ev-act-{a}", "n_clicks") for a in EVENT_BUTTONS] + [Input(f"ev-task-{a}", "n_clicks") for a in TASK_BUTTONS]
        + [Input({"type": "ev-ack-instr", "id": ALL}, "n_clicks")],
        State("event-id", "data"), State("event-version", "data"), State("event-task-version", "data"),
        State("ev-act-level-pick", "value"), State("ev-act-department", "value"), State("ev-act-text", "value"),
        State("event-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(act)
    # the wall
    secured_callback(app, "view:bigscreen", WALL_OUTPUTS, Input("tick", "n_intervals"), State("lang", "data"),
                     State("ev-wall-pick", "data"), State("ev-wall-shown", "data"), Input("rewind-at", "data"))(wall)
    secured_callback(app, "view:bigscreen", Output("ev-wall-pick", "data"), Input({"type": "ev-wall-tab", "id": ALL}, "n_clicks"),
                     prevent_initial_call=True)(wall_pick)
    secured_callback(
        app, "event:command",
        Output("ev-wall-proposal-message", "children"), Output("ev-wall-pick", "data", allow_duplicate=True),
        Output("ev-wall-dismiss-reason", "value"),
        Input("ev-wall-confirm", "n_clicks"), Input("ev-wall-dismiss", "n_clicks"),
        State("ev-wall-proposal-id", "data"), State("ev-wall-dismiss-reason", "value"), State("lang", "data"),
        prevent_initial_call=True,
    )(wall_proposal)
    secured_callback(
        app, "event:command",
        Output("ev-wall-start", "className"), Output("ev-wall-start-plan", "options"), Output("ev-wall-start-plan", "value"),
        Output("ev-wall-start-message", "children"),
        Input("ev-wall-start-open", "n_clicks"), Input("ev-wall-start-cancel", "n_clicks"), State("lang", "data"),
        prevent_initial_call=True,
    )(wall_start_open)
    secured_callback(app, "event:command", Output("ev-wall-start-level", "options"), Output("ev-wall-start-level", "value"),
                     Input("ev-wall-start-plan", "value"), State("lang", "data"), prevent_initial_call=True)(start_levels)
    secured_callback(
        app, "event:command",
        Output("ev-wall-start-message", "children", allow_duplicate=True), Output("ev-wall-start", "className", allow_duplicate=True),
        Output("ev-wall-pick", "data", allow_duplicate=True),
        Input("ev-wall-start-submit", "n_clicks"),
        State("ev-wall-start-plan", "value"), State("ev-wall-start-level", "value"), State("ev-wall-start-district", "value"),
        State("ev-wall-start-title", "value"), State("lang", "data"),
        prevent_initial_call=True,
    )(wall_start)
    # /tasks
    secured_callback(
        app, "view:tasks", Output("tasks-events", "children"), Output("tasks-events-key", "data"),
        Input("tick", "n_intervals"), Input("tasks-events-changed", "data"), State("lang", "data"),
        State("tasks-events-notes", "data"), State("tasks-events-key", "data"),
    )(tasks_events)
    secured_callback(app, "view:tasks", Output("tasks-events-notes", "data"), Input({"type": "ev-task-note", "event": ALL}, "value"),
                     prevent_initial_call=True)(keep_notes)
    secured_callback(
        app, "event:task", Output("tasks-events-message", "children"), Output("tasks-events-changed", "data"),
        Input({"type": "ev-task-btn", "event": ALL, "action": ALL, "version": ALL}, "n_clicks"),
        Input({"type": "ev-task-instr", "event": ALL, "id": ALL}, "n_clicks"),
        State({"type": "ev-task-note", "event": ALL}, "value"), State("tasks-events-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(tasks_event_act)
    # the frame
    secured_callback(
        app, SIGNED_IN, Output("ev-notices", "children"), Output("ev-notice-key", "data"),
        Input("ev-notice-tick", "n_intervals"), Input("url", "pathname"), Input("ev-notice-changed", "data"),
        Input("lang", "data"), State("ev-notice-key", "data"),
    )(notices)
    secured_callback(
        app, "event:task", Output("ev-notice-message", "children"), Output("ev-notice-changed", "data"),
        Input({"type": "ev-notice-ack", "event": ALL, "kind": ALL, "id": ALL}, "n_clicks"),
        State("ev-notice-changed", "data"), State("lang", "data"),
        prevent_initial_call=True,
    )(notice_ack)
    # the district page, the indicators
    secured_callback(app, "view:districts", Output("district-events", "children"), Output("district-events-key", "data"),
                     Input("tick", "n_intervals"), Input("district-id", "data"), State("lang", "data"),
                     State("district-events-key", "data"))(district_events)
    secured_callback(app, "view:indicators", Output("ev-ind-plan-grid", "rowData"), Output("ev-ind-department-grid", "rowData"),
                     Input("ind-period", "value"), Input("ind-tick", "n_intervals"), State("lang", "data"))(event_indicators)
