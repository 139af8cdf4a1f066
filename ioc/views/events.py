"""Pure view model of the linked events (大联动) as people see them: the events list, one event's
banner, task board, log, instructions and timeline, the actions a viewer may take, proposals,
the wall's event mode, a department's notices and the response-time indicators.

Events (`ioc.domain.events.Event`), plans and departments in; rows, texts, options and figures
out, in the reader's language, with departments, plans, levels, districts and people by name —
never ids. No I/O here: the callbacks read the event service and call these; tests call them
directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ioc.domain.access import Principal
from ioc.domain.clock import local_text
from ioc.domain.departments import Department
from ioc.domain.events import (LIVE_TASK_STATUSES, Event, LogEntry, Task, allowed_event_actions, allowed_task_actions,
                               overdue, task_deadline)
from ioc.domain.event_indicators import response_times
from ioc.domain.plans import LEVEL_NUMERALS, LEVELS, Plan, level_label, level_rank
from ioc.i18n import STRINGS, t
from ioc.views.cases import actor_name, department_name, fmt_time, notification_note, role_name

MINUTE_MS = 60_000
WALL_ROTATE_S = 20  # several live events: the wall shows each this long in turn, unless the operator picks one
WALL_LOG_ROWS = 8  # the newest log entries the wall shows
NEXT_STEP = {"issued": "acknowledge", "acknowledged": "arrive", "on_site": "report", "working": "report"}
LIVE_FILTER = "live"  # the events list's "active only" filter: every event neither closed nor cancelled
# the order of the task board: the lead first, then live tasks, then those done, returned, withdrawn
_STATUS_ORDER = {s: i for i, s in enumerate(("issued", "acknowledged", "on_site", "working", "done", "returned", "withdrawn"))}
# colours of the timeline's segments: per task step, and of the level band
STEP_COLORS = {"issued": "#f2c14e", "acknowledged": "#2fa4e7", "on_site": "#52b788", "working": "#2a9d8f"}
LEVEL_COLORS = {"IV": "#2fa4e7", "III": "#f2c14e", "II": "#f08a24", "I": "#e4572e"}


# ---- words --------------------------------------------------------------------------------------

def status_name(status: str, lang: str = "zh") -> str:
    key = f"ev_status_{status}"
    return t(key, lang) if key in STRINGS else status


def task_status_name(status: str, lang: str = "zh") -> str:
    key = f"ev_task_{status}"
    return t(key, lang) if key in STRINGS else status


def task_role_name(role: str, lang: str = "zh") -> str:
    key = f"ev_role_{role}"
    return t(key, lang) if key in STRINGS else role


def action_name(action: str, lang: str = "zh") -> str:
    """A task action's or an event action's name on its button and in messages."""
    for key in (f"ev_act_{action}", {"level": "ev_level_change", "add_task": "ev_add_task", "withdraw_task": "ev_withdraw_task",
                                     "contain": "ev_contain", "close": "ev_close", "cancel": "ev_cancel", "instruct": "ev_instruct",
                                     "acknowledge_instruction": "ev_ack_instruction"}.get(action, "")):
        if key in STRINGS:
            return t(key, lang)
    return action


def plan_name(plans: Mapping[str, Plan], plan_id: str, lang: str = "zh") -> str:
    plan = plans.get(plan_id)
    return plan.name(lang) if plan is not None else plan_id


def level_text(level: str, lang: str = "zh") -> str:
    """"Ⅳ级（一般）" / "Level IV (General)"."""
    return level_label(level, lang) if level in LEVELS else level


def short_level(level: str, lang: str = "zh") -> str:
    """"Ⅳ级" / "Level IV": the level without its name (tabs, the wall's banner)."""
    return level_text(level, lang).split("（")[0].split(" (")[0]


def minutes_text(minutes: int, lang: str = "zh") -> str:
    """`1 小时 5 分` / `1 h 5 min`, `45 分钟` / `45 min`."""
    minutes = max(0, int(minutes))
    if minutes >= 60:
        return t("ev_hm", lang).format(h=minutes // 60, m=minutes % 60)
    return t("ev_m", lang).format(m=minutes)


def elapsed_ms(event: Event, now_ms: int) -> int:
    """How long the event has run: to now while open, to its end once closed or cancelled."""
    end = event.closed_at if not event.is_open and event.closed_at else now_ms
    return max(0, end - event.started_at)


def elapsed_text(event: Event, now_ms: int, lang: str = "zh") -> str:
    return minutes_text(elapsed_ms(event, now_ms) // MINUTE_MS, lang)


def _join(names: Iterable[str], lang: str) -> str:
    return (", " if lang == "en" else "、").join(n for n in names if n)


def districts_text(event: Event, district_names: Mapping[str, str], lang: str = "zh") -> str:
    return _join((district_names.get(d, d) for d in (event.districts or (event.district,))), lang)


def event_link(event_id: str) -> str:
    """The event number as a markdown link to its page (a grid cell with the markdown renderer)."""
    return f"[{event_id}](/event/{event_id})"


def headline(event: Event, plans: Mapping[str, Plan], lang: str = "zh", short: bool = False) -> str:
    """`防汛 · Ⅳ级（一般）` / `Flood control · Level IV (General)`; `short`: `防汛 · Ⅳ级` / `Flood control · Level IV`."""
    level = short_level(event.level, lang) if short else level_text(event.level, lang)
    return f"{plan_name(plans, event.plan, lang)} · {level}"


# ---- the events list ----------------------------------------------------------------------------


def title_of(event: Event, plans: Mapping[str, Plan], lang: str = "zh") -> str:
    """The event's title as a person reads it. A title the commander left blank was stored as the
    plan and level it started at ("防汛Ⅳ级响应"); it is shown for the event's current level, in the
    page's language ("Flood control response, level II"). A title someone wrote is shown as written."""
    plan = plans.get(event.plan)
    if plan is None or event.title not in {f"{plan.name_zh}{LEVEL_NUMERALS[level]}级响应" for level in LEVELS}:
        return event.title
    level = event.level if event.level in LEVELS else LEVELS[0]
    return f"{plan.name_en} response, level {level}" if lang == "en" else f"{plan.name_zh}{LEVEL_NUMERALS[level]}级响应"

def filter_events(events: Iterable[Event], status: str = "", plan: str = "", district: str = "") -> list[Event]:
    """Events matching each filter given (`live`: not closed or cancelled; `district`: the area
    touches it), the most severe live ones first, then the newest."""
    out = [e for e in events
           if (not status or (e.is_open if status == LIVE_FILTER else e.status == status))
           and (not plan or e.plan == plan) and (not district or district == e.district or district in e.districts)]
    return sorted(out, key=lambda e: (not e.is_open, -(level_rank(e.level) if e.level in LEVELS else 0), -e.started_at, e.id))


def overdue_tasks(event: Event, now_ms: int) -> list[Task]:
    """The event's live tasks with a step overdue now (none once the event has ended)."""
    if not event.is_open:
        return []
    return [task for task in event.tasks if task.live and overdue(task, now_ms)]


def task_counts(event: Event) -> tuple[int, int]:
    """(done, counted): tasks done among those not withdrawn."""
    counted = [task for task in event.tasks if task.status != "withdrawn"]
    return sum(task.status == "done" for task in counted), len(counted)


def event_rows(events: Iterable[Event], plans: Mapping[str, Plan], district_names: Mapping[str, str], now_ms: int,
               lang: str = "zh") -> list[dict]:
    """Events as rows of the events grid."""
    rows = []
    for e in events:
        done, counted = task_counts(e)
        rows.append({
            "id": e.id, "link": event_link(e.id), "plan": plan_name(plans, e.plan, lang), "level": level_text(e.level, lang),
            "title": title_of(e, plans, lang), "status": status_name(e.status, lang), "status_id": e.status,
            "districts": districts_text(e, district_names, lang), "commander": e.commander_label or e.commander,
            "started": fmt_time(e.started_at), "elapsed": elapsed_text(e, now_ms, lang), "tasks": f"{done}/{counted}",
            "overdue": len(overdue_tasks(e, now_ms)),
        })
    return rows


def plan_options(plans: Mapping[str, Plan], lang: str = "zh") -> list[dict]:
    return [{"label": p.name(lang), "value": p.id} for p in plans.values()]


def level_options(plan: Plan | None, lang: str = "zh") -> list[dict]:
    """The plan's own levels only (a plan may lack some), lowest first."""
    return [{"label": level_text(lv.level, lang), "value": lv.level} for lv in plan.levels] if plan is not None else []


# ---- one event: banner, tasks, log, instructions ------------------------------------------------

@dataclass(frozen=True)
class Banner:
    headline: str  # plan · level
    title: str
    status: str
    status_id: str
    elapsed: str
    commander: str
    started: str
    districts: str
    level: str  # the level id, for its colour


def banner(event: Event, plans: Mapping[str, Plan], district_names: Mapping[str, str], now_ms: int,
           lang: str = "zh", people: Mapping[str, str] | None = None, short: bool = False) -> Banner:
    """The event's banner; `short`: the level without its name (the wall)."""
    commander = (people or {}).get(event.commander) or event.commander_label or event.commander
    return Banner(headline(event, plans, lang, short), title_of(event, plans, lang), status_name(event.status, lang), event.status,
                  t("ev_elapsed", lang).format(text=elapsed_text(event, now_ms, lang)), commander,
                  local_text(event.started_at, "%m-%d %H:%M"), districts_text(event, district_names, lang), event.level)


def deadline_text(task: Task, now_ms: int, lang: str = "zh") -> tuple[str, bool]:
    """(text, overdue) of the task's current step: `签收时限 14:32（剩 3 分钟）`, `到场超时 5 分钟`;
    a task that has ended says when or why it ended."""
    if task.status == "done":
        return f"{task_status_name('done', lang)} {local_text(task.done_at, '%H:%M')}" if task.done_at else "", False
    if task.status == "returned":
        return task.return_reason, False
    if task.status not in LIVE_TASK_STATUSES:
        return "", False
    deadline = task_deadline(task)
    if not deadline:
        return t("ev_deadline_none", lang), False
    step = t(f"ev_step_{NEXT_STEP[task.status]}", lang)
    if lang == "en":
        step = step[:1].upper() + step[1:]
    late = bool(overdue(task, now_ms))
    if now_ms > deadline:
        return t("ev_deadline_over", lang).format(step=step, minutes=math.ceil((now_ms - deadline) / MINUTE_MS)), True
    left = math.ceil((deadline - now_ms) / MINUTE_MS)
    return t("ev_deadline_left", lang).format(step=step, time=local_text(deadline, "%H:%M"), minutes=left), late


def task_rows(event: Event, departments: Mapping[str, Department], now_ms: int, lang: str = "zh") -> list[dict]:
    """One row per department task for the task board: the lead first, then live tasks, then
    done, returned and withdrawn ones; overdue steps and requests for support flagged."""
    rows = []
    for task in event.tasks:
        text, late = deadline_text(task, now_ms, lang) if event.is_open or not task.live else ("", False)
        since = max(0, (now_ms - task.issued_at) // MINUTE_MS)
        steps = overdue(task, now_ms) if event.is_open else ()
        rows.append({
            "department": task.department, "name": department_name(task.department, departments, lang),
            "role": task.role, "role_name": task_role_name(task.role, lang),
            "status": task.status, "status_name": task_status_name(task.status, lang), "text": task.text(lang),
            "issued": local_text(task.issued_at, "%H:%M"), "since": since,
            "since_text": t("ev_since_issued", lang).format(minutes=since) if task.live else "",
            "deadline": text, "overdue": bool(steps) or late, "overdue_steps": [t(f"ev_step_{s}", lang) for s in steps],
            "needs_support": task.needs_support and task.live, "support_note": task.support_note if task.live else "",
            "return_reason": task.return_reason, "result": task.closed_note, "live": task.live, "version": task.version,
        })
    rows.sort(key=lambda r: (r["role"] != "lead", not r["live"], _STATUS_ORDER.get(r["status"], 9), r["name"]))
    return rows


def _param_department(entry: LogEntry, departments: Mapping[str, Department], lang: str) -> str:
    return department_name(str(entry.params.get("department") or ""), departments, lang)


def log_text(entry: LogEntry, event: Event, plans: Mapping[str, Plan], departments: Mapping[str, Department],
             district_names: Mapping[str, str], lang: str = "zh") -> str:
    """What one log entry says, in `lang`: departments, plans, levels and districts by name."""
    p = entry.params
    dept = _param_department(entry, departments, lang)
    kind = entry.kind
    if kind == "started":
        names = [district_names.get(d, d) for d in (p.get("districts") or [p.get("district") or event.district])]
        text = t("ev_log_started", lang).format(plan=plan_name(plans, str(p.get("plan") or event.plan), lang),
                                                level=level_text(str(p.get("level") or ""), lang), districts=_join(names, lang))
        if p.get("proposal"):
            text += t("ev_log_started_proposal", lang)
        note = str(p.get("note") or "")
        return f"{text}{'：' if lang == 'zh' else ': '}{note}" if note else text
    if kind in ("level_up", "level_down"):
        return t(f"ev_log_{kind}", lang).format(from_level=level_text(str(p.get("from") or ""), lang),
                                                level=level_text(str(p.get("to") or p.get("level") or ""), lang),
                                                reason=p.get("reason") or "")
    if kind == "task_issued":
        key = "ev_log_task_reissued" if p.get("reissued") else "ev_log_task_issued"
        return t(key, lang).format(department=dept, role=task_role_name(str(p.get("role") or ""), lang))
    if kind == "task_withdrawn":
        cause = p.get("cause")
        key = {"level": "ev_log_task_withdrawn_level", "cancel": "ev_log_task_withdrawn_cancel"}.get(cause, "ev_log_task_withdrawn")
        return t(key, lang).format(department=dept, reason=p.get("reason") or "")
    if kind == "task_added":
        text = t("ev_log_task_added_again" if p.get("reissued") else "ev_log_task_added", lang).format(
            department=dept, text=p.get("text") or "")
        if p.get("support_for"):
            text += t("ev_log_task_added_support", lang).format(
                department=department_name(str(p["support_for"]), departments, lang))
        return text
    if kind.startswith("task_") and f"ev_log_{kind}" in STRINGS:
        return t(f"ev_log_{kind}", lang).format(department=dept, note=p.get("note") or "")
    if kind == "instruction":
        return t("ev_log_instruction", lang).format(text=p.get("text") or "")
    if kind == "instruction_acknowledged":
        return t("ev_log_instruction_acknowledged", lang).format(department=dept)
    if kind == "contained":
        return t("ev_log_contained", lang)
    if kind == "closed":
        return t("ev_log_closed", lang).format(summary=p.get("summary") or "")
    if kind == "cancelled":
        return t("ev_log_cancelled", lang).format(reason=p.get("reason") or "")
    if kind == "linked":
        what = [t("ev_log_alarm", lang).format(id=a) for a in p.get("alarms") or []]
        what += [t("ev_log_case", lang).format(id=c) for c in p.get("cases") or []]
        return t("ev_log_linked", lang).format(what=_join(what, lang))
    if kind == "note" and p.get("note"):
        return t("ev_log_note", lang).format(note=p["note"])
    return t("ev_log_other", lang)


def who_text(entry: LogEntry, departments: Mapping[str, Department], lang: str = "zh",
             people: Mapping[str, str] | None = None) -> str:
    """Who acted: a person by display name with the role they acted in; a department's own system
    by the department's name; the system itself as 系统."""
    if not entry.actor or entry.actor == "system":
        return t("ev_log_system", lang)
    if entry.actor.startswith(("dept:", "token:")):
        name = actor_name(entry.actor, entry.role, lang, departments, people)
    else:
        name = (people or {}).get(entry.actor) or entry.actor_label or entry.actor
    role = role_name(entry.role, lang) if entry.role else ""
    if not role or entry.actor.startswith("dept:"):
        return name
    return f"{name}（{role}）" if lang == "zh" else f"{name} ({role})"


def log_rows(event: Event, plans: Mapping[str, Plan], departments: Mapping[str, Department],
             district_names: Mapping[str, str], lang: str = "zh", people: Mapping[str, str] | None = None,
             newest_first: bool = True, limit: int | None = None) -> list[dict]:
    """The log as rows (time, who, what), newest first by default; `login` is the account behind `who`."""
    entries = list(enumerate(event.log))
    if newest_first:
        entries.reverse()
    if limit is not None:
        entries = entries[:limit]
    return [{"n": str(n), "time": local_text(e.at, "%Y-%m-%d %H:%M:%S"), "clock": local_text(e.at, "%H:%M"),
             "who": who_text(e, departments, lang, people), "login": e.actor,
             "what": log_text(e, event, plans, departments, district_names, lang), "kind": e.kind}
            for n, e in entries]


def notification_rows(results: list[dict], lang: str = "zh") -> list[dict]:
    """The event's notifications (`NotifyStore.for_subject`) as log rows: who was told what, by
    which channel, and whether it arrived (sent and failed only; retries stay in the sent log)."""
    rows = []
    for r in results:
        if r.get("result") not in ("sent", "failed"):
            continue
        at = int(r.get("at") or 0)
        detail = {"channel": r.get("channel"), "recipient": r.get("name"), "kind": r.get("kind"),
                  "attempt": r.get("attempt"), "reason": r.get("reason")}
        rows.append({"n": f"notify-{r.get('id', at)}", "time": local_text(at, "%Y-%m-%d %H:%M:%S"), "clock": local_text(at, "%H:%M"),
                     "who": t("case_source_notifier", lang), "login": "notifier",
                     "what": notification_note(detail, r.get("result") == "sent", lang), "kind": f"notify-{r['result']}"})
    return rows


def with_notifications(rows: list[dict], notifications: list[dict], newest_first: bool = True) -> list[dict]:
    """`log_rows` and `notification_rows` in one log, by time."""
    return sorted(rows + notifications, key=lambda r: r["time"], reverse=newest_first)


def instruction_rows(event: Event, departments: Mapping[str, Department], lang: str = "zh",
                     people: Mapping[str, str] | None = None) -> list[dict]:
    """Each instruction, newest first, with the departments that have and have not acknowledged it."""
    rows = []
    for i in reversed(event.instructions):
        rows.append({
            "id": i.id, "text": i.text, "by": (people or {}).get(i.by) or i.by_label or i.by,
            "at": local_text(i.at, "%m-%d %H:%M"),
            "acked": [department_name(d, departments, lang) for d in i.required if d in i.acknowledged],
            "pending": [department_name(d, departments, lang) for d in i.pending],
        })
    return rows


# ---- what the viewer may do -------------------------------------------------------------------

@dataclass(frozen=True)
class Choices:
    """The actions `principal` may take on the event now, with what the controls offer."""

    event_actions: tuple[str, ...] = ()  # EVENT_ACTIONS, less acknowledge_instruction (its own buttons)
    task_actions: tuple[str, ...] = ()  # TASK_ACTIONS on the viewer's department's task
    task: Task | None = None  # the viewer's department's task
    levels: list[dict] = field(default_factory=list)  # options: the plan's other levels, "升级 → …" / "降级 → …"
    add_departments: list[dict] = field(default_factory=list)  # departments without a live task
    withdraw_departments: list[dict] = field(default_factory=list)  # live supporting tasks
    instructions: tuple[str, ...] = ()  # instruction ids the viewer's department has to acknowledge
    close_blocked: tuple[str, ...] = ()  # departments whose live task keeps the event from closing

    @property
    def any(self) -> bool:
        return bool(self.event_actions or self.task_actions or self.instructions)


def choices(event: Event, principal: Principal | None, plan: Plan | None, departments: Mapping[str, Department],
            lang: str = "zh") -> Choices:
    """What the event page offers the viewer (the domain decides: `allowed_event_actions`,
    `allowed_task_actions`; the service checks again when the button is pressed)."""
    if principal is None:
        return Choices()
    actions = allowed_event_actions(event, principal)
    department = principal.department
    task_actions = tuple(allowed_task_actions(event, department, principal)) if department else ()
    levels = []
    if "level" in actions and plan is not None:
        rank = level_rank(event.level)
        for lv in plan.levels:
            if lv.level != event.level:
                word = t("ev_level_up" if level_rank(lv.level) > rank else "ev_level_down", lang)
                levels.append({"label": f"{word} → {level_text(lv.level, lang)}", "value": lv.level})
    live = {task.department for task in event.tasks if task.live}
    adds = [{"label": d.name(lang), "value": d.id} for d in departments.values() if d.id not in live] if "add_task" in actions else []
    withdraws = ([{"label": department_name(task.department, departments, lang), "value": task.department}
                  for task in event.tasks if task.live and task.role != "lead"] if "withdraw_task" in actions else [])
    pending = tuple(i.id for i in event.pending_instructions(department)) if "acknowledge_instruction" in actions else ()
    blocked = (tuple(department_name(task.department, departments, lang) for task in event.live_tasks)
               if event.is_open and _role_may_command(principal) else ())
    return Choices(tuple(a for a in actions if a != "acknowledge_instruction"), task_actions,
                   event.task(department) if department else None, levels, adds, withdraws, pending, blocked)


def _role_may_command(principal: Principal) -> bool:
    return not principal.read_only and bool(principal.roles & {"dispatcher", "leader"})


# the words of the fields a refusal names (EventError.field) on the pages
FIELD_KEYS = {f: f"ev_field_{f}" for f in ("plan", "level", "title", "area", "district", "reason", "note", "text", "summary",
                                           "department", "alarm_id", "case_id", "proposal_id", "version", "action",
                                           "instruction_id")}


def refusal_text(kind: str, field_name: str = "", code: str = "", lang: str = "zh") -> str:
    """`未能办理：<why>` for a refusal of the event service: by its kind (`refusal(error).error`:
    forbidden, not_found, conflict, invalid), the field at fault or the state."""
    if kind == "conflict":
        return t("ev_conflict", lang)
    if kind == "not_found" and field_name in ("", "event", "id"):
        why = t("ev_err_not_found", lang)
    elif kind == "forbidden":
        why = t("ev_err_permission", lang)
    elif field_name in FIELD_KEYS and field_name not in ("action", "version") and code != "tasks_live":
        why = t("ev_err_field", lang).format(field=t(FIELD_KEYS[field_name], lang))
    else:
        why = t("ev_err_state", lang)
    return t("ev_failed", lang).format(why=why)


# ---- timeline -----------------------------------------------------------------------------------

def _level_spans(event: Event, end_ms: int) -> list[tuple[int, int, str]]:
    """(from, to, level) of each level the event was at, from its log."""
    changes = [(e.at, str(e.params.get("level") or "")) for e in event.log if e.kind == "started"]
    changes += [(e.at, str(e.params.get("to") or "")) for e in event.log if e.kind in ("level_up", "level_down")]
    changes.sort()
    if not changes:
        changes = [(event.started_at, event.level)]
    spans = []
    for i, (at, level) in enumerate(changes):
        until = changes[i + 1][0] if i + 1 < len(changes) else end_ms
        spans.append((at, max(until, at), level))
    return spans


def _task_spans(task: Task, end_ms: int) -> list[tuple[int, int, str]]:
    """(from, to, status) of the task's steps since it was last issued."""
    marks = [(task.issued_at, "issued"), (task.acknowledged_at, "acknowledged"), (task.arrived_at, "on_site"),
             (task.started_at, "working")]
    marks = [(at, s) for at, s in marks if at]
    stop = task.done_at or (end_ms if task.live else 0) or end_ms
    spans = []
    for i, (at, status) in enumerate(marks):
        until = marks[i + 1][0] if i + 1 < len(marks) else stop
        spans.append((at, max(until, at), status))
    return spans


def timeline_figure(event: Event, departments: Mapping[str, Department], now_ms: int, lang: str = "zh") -> dict:
    """The level and the tasks over time as a dark Plotly timeline (a plain dict): a band of the
    level, then one row per department with its steps (issued, acknowledged, on site, working)."""
    end = event.closed_at if not event.is_open and event.closed_at else now_ms
    rows = [t("ev_timeline_level", lang)]
    bars: dict[str, dict] = {}
    least = max(1_000, (end - event.started_at) // 200)  # a step taken at once still shows as a sliver

    def add(trace: str, name: str, color: str, row: str, start: int, stop: int, text: str) -> None:
        bar = bars.setdefault(trace, {"type": "bar", "orientation": "h", "name": name, "marker": {"color": color},
                                      "x": [], "base": [], "y": [], "text": [], "textposition": "inside",
                                      "insidetextanchor": "middle", "hovertemplate": "%{y}<br>%{text}<extra></extra>"})
        bar["x"].append(max(stop - start, least))
        bar["base"].append(local_text(start, "%Y-%m-%d %H:%M:%S"))
        bar["y"].append(row)
        bar["text"].append(text)

    for start, stop, level in _level_spans(event, end):
        add(f"level-{level}", level_text(level, lang), LEVEL_COLORS.get(level, "#2fa4e7"), rows[0], start, stop, level_text(level, lang))
    for row in task_rows(event, departments, now_ms, lang):
        task = event.task(row["department"])
        name = f"{row['name']}（{row['role_name']}）" if lang == "zh" else f"{row['name']} ({row['role_name']})"
        rows.append(name)
        for start, stop, status in _task_spans(task, end):
            add(f"task-{status}", task_status_name(status, lang), STEP_COLORS[status], name, start, stop,
                task_status_name(status, lang))
    height = 80 + 30 * len(rows)
    return {
        "data": list(bars.values()),
        "layout": {
            "barmode": "overlay", "height": height, "showlegend": False,
            "margin": {"l": 10, "r": 16, "t": 10, "b": 40},
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": "#dbe7f5", "size": 12},
            "xaxis": {"type": "date", "gridcolor": "#1a3350", "tickformat": "%H:%M"},
            "yaxis": {"categoryorder": "array", "categoryarray": list(reversed(rows)), "automargin": True},
        },
    }


# ---- linked on the map ----------------------------------------------------------------------------

def linked_geojson(alarms: Iterable[dict], cases: Iterable, positions: Mapping[str, tuple[float, float]],
                   alarm_words: Mapping[str, str], case_words: Mapping[str, str]) -> dict:
    """Linked alarms (at their device's position) and cases as points; `*_words`: id -> tooltip."""
    features = []
    for a in alarms:
        where = positions.get(a.get("device_id"))
        if where is None and isinstance(a.get("lon"), (int, float)) and isinstance(a.get("lat"), (int, float)):
            where = (a["lon"], a["lat"])
        if where is None:
            continue
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(where[0], 5), round(where[1], 5)]},
                         "properties": {"id": a.get("id"), "what": "alarm", "severity": a.get("severity", "minor"),
                                        "tooltip": alarm_words.get(a.get("id"), "")}})
    for c in cases:
        lon, lat, case_id = getattr(c, "lon", None), getattr(c, "lat", None), getattr(c, "id", "")
        if isinstance(c, dict):
            lon, lat, case_id = c.get("lon"), c.get("lat"), c.get("id", "")
        if not isinstance(lon, (int, float)) or not isinstance(lat, (int, float)):
            continue
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 5), round(lat, 5)]},
                         "properties": {"id": case_id, "what": "case", "tooltip": case_words.get(case_id, case_id)}})
    return {"type": "FeatureCollection", "features": features}


def city_frame(bounds: tuple[float, float, float, float]) -> dict:
    """An invisible rectangle over the city: an area layer given it fits the map to the whole city
    again (the wall leaving event mode)."""
    minx, miny, maxx, maxy = bounds
    ring = [[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {"frame": True}}]}


# ---- the wall ---------------------------------------------------------------------------------

def wall_order(events: Iterable[Event]) -> list[Event]:
    """The live events in the wall's order: the highest level first, then the newest."""
    return sorted((e for e in events if e.is_open),
                  key=lambda e: (-(level_rank(e.level) if e.level in LEVELS else 0), -e.started_at, e.id))


def wall_choice(events: list[Event], picked: str | None, now_ms: int, rotate_s: int = WALL_ROTATE_S) -> Event | None:
    """The event the wall shows: the one the operator picked while it is live, else each live
    event in turn for `rotate_s` seconds (the same one on every wall at the same moment)."""
    if not events:
        return None
    for e in events:
        if e.id == picked:
            return e
    return events[(now_ms // (rotate_s * 1000)) % len(events)]


def wall_tabs(events: list[Event], shown: str, plans: Mapping[str, Plan], lang: str = "zh") -> list[dict]:
    """One tab per live event: its plan and level in short, whether it is the one shown."""
    return [{"id": e.id, "label": f"{plan_name(plans, e.plan, lang)} {short_level(e.level, lang)}",
             "title": title_of(e, plans, lang), "shown": e.id == shown, "level": e.level} for e in events]


# ---- a department's notices -------------------------------------------------------------------

def notices(events: Iterable[Event], principal: Principal | None, plans: Mapping[str, Plan], lang: str = "zh") -> list[dict]:
    """What the principal's department has not acknowledged yet: tasks still issued and
    instructions addressed to it, newest event first."""
    department = principal.department if principal is not None else ""
    if not department or "handler" not in principal.roles:
        return []
    out = []
    for e in sorted(events, key=lambda e: -e.started_at):
        if not e.is_open:
            continue
        task = e.task(department)
        if task is not None and task.status == "issued":
            out.append({"kind": "task", "event": e.id, "version": task.version, "id": f"{e.id}|task",
                        "text": t("ev_notice_task", lang).format(title=title_of(e, plans, lang), plan=plan_name(plans, e.plan, lang),
                                                                 level=level_text(e.level, lang),
                                                                 role=task_role_name(task.role, lang))})
        for i in e.pending_instructions(department):
            out.append({"kind": "instruction", "event": e.id, "instruction": i.id, "version": e.version,
                        "id": f"{e.id}|{i.id}", "text": t("ev_notice_instruction", lang).format(text=i.text)})
    return out


def my_tasks(events: Iterable[Event], department: str, departments: Mapping[str, Department], plans: Mapping[str, Plan],
             principal: Principal | None, now_ms: int, lang: str = "zh") -> list[dict]:
    """The department's tasks in open events (live first), each with the actions it may take now
    and the instructions it has to acknowledge."""
    out = []
    for e in sorted(events, key=lambda e: -e.started_at):
        task = e.task(department) if department else None
        if task is None or not e.is_open:
            continue
        row = next(r for r in task_rows(e, departments, now_ms, lang) if r["department"] == department)
        out.append({**row, "event": e.id, "title": title_of(e, plans, lang), "headline": headline(e, plans, lang), "level": e.level,
                    "actions": list(allowed_task_actions(e, department, principal)) if principal is not None else [],
                    "instructions": [{"id": i.id, "text": i.text} for i in e.pending_instructions(department)]})
    out.sort(key=lambda r: not r["live"])
    return out


def touching(events: Iterable[Event], district: str) -> list[Event]:
    """The open events whose area touches the district, the most severe first."""
    return filter_events(events, LIVE_FILTER, district=district)


# ---- indicators -------------------------------------------------------------------------------

def _limit(limits: list[int] | None) -> str | int | None:
    """One limit, or the range of them (`10–15`) when tasks had different ones."""
    if not limits:
        return None
    lo, hi = limits
    return lo if lo == hi else f"{lo}–{hi}"


def _figure_row(key: str, name: str, g: dict) -> dict:
    """One group's response times (`ioc.domain.event_indicators.group_figures`) as a table row."""
    share = g["acknowledged_in_time"]
    row = {"key": key, "name": name, "tasks": g["tasks"],
           "ack": g["to_acknowledge"], "ack_limit": _limit(g["ack_limits"]),
           "arrive": g["to_arrive"], "arrive_limit": _limit(g["arrive_limits"]),
           "done": g["to_done"], "on_time": f"{100 * share:.1f}%" if share is not None else None,
           "overdue": g["late_or_overdue"]}
    row["late_ack"] = row["ack"] is not None and row["ack"] > (g["ack_limits"] or [0, 0])[1]
    row["late_arrive"] = row["arrive"] is not None and row["arrive"] > (g["arrive_limits"] or [0, 0])[1]
    if "events" in g:
        row["events"] = g["events"]
        row["contain"] = g["to_contain"]
    return row


def indicator_rows(events: Iterable[Event], plans: Mapping[str, Plan], departments: Mapping[str, Department],
                   now_ms: int, lang: str = "zh") -> tuple[list[dict], list[dict]]:
    """(per plan, per department) response times of the events (`response_times`): mean minutes
    to acknowledge, arrive, finish and contain against the plans' limits, the share acknowledged
    in time and the tasks with a step late or overdue. Withdrawn tasks do not count."""
    by_plan, by_department = response_times(events, now_ms)
    plan_rows = [_figure_row(p, plan_name(plans, p, lang), by_plan[p])
                 for p in sorted(by_plan, key=lambda p: list(plans).index(p) if p in plans else len(plans))]
    department_rows = [_figure_row(d, department_name(d, departments, lang), g) for d, g in
                       sorted(by_department.items(), key=lambda kv: department_name(kv[0], departments, lang))]
    return plan_rows, department_rows
