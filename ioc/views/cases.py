"""Pure view model of the case pages: the dispatch console (/cases), one case (/case/<id>) and
the indicators (/indicators); the field pages' (/tasks, /inspections) is ioc/views/field.py.
Cases, events and indicators in; table rows, texts, options and figures out.

No I/O here: the callbacks read the case store and call these functions; tests call them directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from ioc.domain import case_catalog
from ioc.domain.access import Principal
from ioc.domain.case_indicators import FORMULAS, Indicators, Ranked, period_bounds
from ioc.domain.cases import (DEFERRAL_MAX_HOURS, NOTE_MAX, OPEN_STAGES, STAGE_NAMES, STAGES, TRANSITIONS, Case, CaseEvent,
                              CasePermissionError, allowed_actions)
from ioc.domain.clock import local_text
from ioc.domain.departments import Department
from ioc.domain.notifications import kind_label
from ioc.i18n import ROLE_NAMES, STRINGS, t

HOUR_MS = 3_600_000
# where reports come from (`Case.source`); an unknown source is shown as it is
SOURCES: tuple[str, ...] = ("hotline", "inspector", "camera", "sensor", "phone", "open311", "api")
PERIODS: tuple[str, ...] = ("this_month", "last_month", "this_week", "today")
URGENCIES: tuple[str, ...] = ("urgent", "ordinary")
# stages a case stays in (and leaves): the columns of the mean stage time
STAY_STAGES: tuple[str, ...] = STAGES[:-1]
# the rates and counts of the indicator tables, in column order
RATE_FIELDS: tuple[str, ...] = ("closure_rate", "on_time_rate", "rework_rate")
COUNT_FIELDS: tuple[str, ...] = ("registered", "due", "closed", "overdue", "deferred")
# the formulas shown under the indicator tables, in reading order
FORMULA_ORDER: tuple[str, ...] = ("registered", "due", "closed", "closed_on_time", "deferred", "overdue", "closure_rate",
                                  "on_time_rate", "overdue_rate", "deferral_rate", "handled", "rework", "rework_rate",
                                  "mean_stage_hours", "score")


# ---- texts ------------------------------------------------------------------------------------

def fmt_time(at_ms: int) -> str:
    """Milliseconds since the epoch as China Standard Time `YYYY-MM-DD HH:MM` ('' for none)."""
    if not at_ms:
        return ""
    return local_text(at_ms, "%Y-%m-%d %H:%M")


def fmt_hours(ms: int) -> str:
    """A length of time in hours with one decimal: 9_000_000 ms -> '2.5'."""
    return f"{abs(ms) / HOUR_MS:.1f}"


def countdown(deadline_ms: int, now_ms: int, lang: str = "zh") -> tuple[str, bool]:
    """(text, overdue) of a deadline: `剩余 2.5 小时` before it, `超期 1.2 小时` after it,
    `无时限` when there is none (0)."""
    if not deadline_ms:
        return t("case_no_limit", lang), False
    left = deadline_ms - now_ms
    if left >= 0:
        return t("case_left", lang).format(hours=fmt_hours(left)), False
    return t("case_over", lang).format(hours=fmt_hours(left)), True


def class_name(code: str, lang: str = "zh") -> str:
    minor = case_catalog.MINOR_CLASSES.get(code)
    return minor.name(lang) if minor else code


def stage_name(stage: str, lang: str = "zh") -> str:
    """A stage as the queue it is: what the case awaits (`待核实` / "Awaiting verification" for
    `accepted`), or how it ended (`已结案`); the same words on every page."""
    key = f"case_stage_{stage}"
    if key in STRINGS:
        return t(key, lang)
    names = STAGE_NAMES.get(stage)
    return (names.get(lang) or names["zh"]) if names else stage


def action_done_text(action: str, stage: str, lang: str = "zh") -> str:
    """The confirmation of an action taken on the case page: `已办理：受理（送核实） → 待核实`; an
    action that leaves the stage as it is (签收, 延期, 督办) says the case stays where it is."""
    transition = TRANSITIONS.get(action)
    if transition is not None and transition.to_stage is None:
        return t("case_done_stays", lang).format(action=action_label(action, lang), stage=stage_name(stage, lang))
    return t("case_done_moves", lang).format(action=action_label(action, lang), stage=stage_name(stage, lang))


def source_name(source: str, lang: str = "zh") -> str:
    key = f"case_source_{source}"
    return t(key, lang) if key in STRINGS else source


def action_label(action: str, lang: str = "zh") -> str:
    """The workflow action's name in the page language (`受理（送核实）`); `report` is the intake,
    `notify` / `notify_failed` a notification's delivery (the notifier's, on the timeline)."""
    if action in ("report", "notify", "notify_failed"):
        return t(f"case_action_{action}", lang)
    transition = TRANSITIONS.get(action)
    if transition is None:
        return action
    return (transition.en if lang == "en" else transition.zh) or action


def role_name(role: str, lang: str = "zh") -> str:
    if role == "system":  # an intake system (a report source, a sensor alarm)
        return t("case_role_system", lang)
    names = ROLE_NAMES.get(role)
    return (names.get(lang) or names["zh"]) if names else role


def actor_name(actor: str, role: str, lang: str = "zh", departments: Mapping[str, Department] | None = None,
               people: Mapping[str, str] | None = None) -> str:
    """Who acted, as a person reads it: a user by display name; a department's own system
    (`dept:<id>`) by the department's name; an API token (`token:<name>`) by the name the admin gave
    it; an intake system (role `system`: `hotline`, `camera`, `sensor`, `inspector`…) by the
    source's name, never by a user who happens to have that login (the demo's `inspector`)."""
    if actor.startswith("dept:"):
        return t("case_actor_department_system", lang).format(department=department_name(actor[5:], departments or {}, lang))
    if role == "system":
        return source_name(actor, lang)
    if people and actor in people:
        return people[actor]
    if actor.startswith("token:"):
        return actor[6:]
    return actor


def department_name(department_id: str, departments: Mapping[str, Department], lang: str = "zh") -> str:
    if not department_id:
        return ""
    department = departments.get(department_id)
    return department.name(lang) if department else department_id


def case_link(case_id: str) -> str:
    """The case number as a markdown link to its page (for a grid cell with the markdown renderer)."""
    return f"[{case_id}](/case/{case_id})"


def case_id_of(path: str | None) -> str:
    """The case id from a URL path `/case/<id>` ('' for anything else)."""
    path = (path or "").rstrip("/")
    if not path.startswith("/case/"):
        return ""
    rest = path[len("/case/"):]
    return "" if "/" in rest else rest


# ---- options ----------------------------------------------------------------------------------

def class_options(lang: str = "zh") -> list[dict]:
    """Filter options: each major class (its code matches all its minor classes), then each minor class."""
    majors = [{"label": f"{m.code} {m.name(lang)}", "value": m.code} for m in case_catalog.MAJOR_CLASSES.values()]
    return majors + category_options(lang)


def category_options(lang: str = "zh") -> list[dict]:
    """The minor classes a report may name, `10101 井盖丢失` (urgent ones marked)."""
    mark = f" ({t('case_urgent', lang)})"
    return [{"label": f"{c.code} {c.name(lang)}{mark if c.urgent else ''}", "value": c.code}
            for c in sorted(case_catalog.MINOR_CLASSES.values(), key=lambda c: c.code)]


def source_options(lang: str = "zh") -> list[dict]:
    return [{"label": source_name(s, lang), "value": s} for s in SOURCES]


def urgency_options(lang: str = "zh") -> list[dict]:
    return [{"label": t(f"case_{u}", lang), "value": u} for u in URGENCIES]


def period_options(lang: str = "zh") -> list[dict]:
    return [{"label": t(f"ind_period_{p}", lang), "value": p} for p in PERIODS]


# ---- the console ------------------------------------------------------------------------------

CONSOLE_ROWS_MAX = 1000  # rows the console's grid is sent at most (the most pressing); the filters narrow the rest


def rows_more_text(shown: int, total: int, lang: str = "zh") -> str:
    """The line under the console's grid when it shows fewer cases than match: '' otherwise."""
    if total <= shown:
        return ""
    return t("case_rows_more", lang).format(shown=f"{shown:,}", n=f"{total:,}")


def stage_counts(cases: Iterable[Case]) -> dict[str, int]:
    """Open cases per open stage, every open stage listed (0 when none)."""
    counts = {stage: 0 for stage in OPEN_STAGES}
    for c in cases:
        if c.stage in counts:
            counts[c.stage] += 1
    return counts


def overdue_count(cases: Iterable[Case], now_ms: int) -> int:
    return sum(1 for c in cases if c.overdue(now_ms))


def filter_cases(cases: Iterable[Case], now_ms: int, stage: str = "", district: str = "", class_code: str = "",
                 source: str = "", urgency: str = "", overdue_only: bool = False) -> list[Case]:
    """The open cases that match every given filter (empty: any), the most pressing first: the
    least time left in their stage (overdue ones first), then cases without a limit, newest first.

    `class_code` is a minor class code or a major class code (which matches its minor classes)."""
    out = []
    for c in cases:
        if not c.is_open:
            continue
        if (stage and c.stage != stage) or (district and c.district != district) or (source and c.source != source):
            continue
        if class_code and not c.class_code.startswith(class_code):
            continue
        if (urgency == "urgent" and not c.urgent) or (urgency == "ordinary" and c.urgent):
            continue
        if overdue_only and not c.overdue(now_ms):
            continue
        out.append(c)
    return sorted(out, key=lambda c: (0, c.stage_deadline, c.id) if c.stage_deadline else (1, -c.created_at, c.id))


def case_row_fixed(c: Case, lang: str, district_names: Mapping[str, str], departments: Mapping[str, Department]) -> dict:
    """A case's grid row without its countdown (what does not change with the clock): the row's id
    and the console's columns (`layouts.cases.CASE_COLUMNS`), nothing the grid does not show: the
    console sends up to 1,000 rows at each change, so every field is paid for in every answer."""
    return {
        "id": c.id, "link": case_link(c.id), "class": class_name(c.class_code, lang),
        "district": district_names.get(c.district, c.district), "stage": stage_name(c.stage, lang),
        "source": source_name(c.source, lang), "reported": fmt_time(c.created_at),
        "department": department_name(c.department, departments, lang),
    }


ROWS_KEPT = 300_000  # fixed row parts a `fixed` cache holds before it starts over


def case_rows(cases: Iterable[Case], now_ms: int, lang: str, district_names: Mapping[str, str],
              departments: Mapping[str, Department]) -> list[dict]:
    """Cases as grid rows; `link` is the case number as a link to its page, `overdue` marks the
    countdown red. The definition of the console's rows: the console sends `case_rows_json`."""
    rows = []
    for c in cases:
        text, overdue = countdown(c.stage_deadline, now_ms, lang)
        rows.append({**case_row_fixed(c, lang, district_names, departments), "deadline": text, "overdue": overdue})
    return rows


def case_rows_json(cases: Iterable[Case], now_ms: int, lang: str, district_names: Mapping[str, str],
                   departments: Mapping[str, Department], fixed: dict | None = None) -> bytes:
    """`case_rows` as the JSON orjson makes of them, made from each row's JSON without its
    countdown (kept in `fixed`, a dict the caller keeps, by case, version and language, so a
    case's row is made once while it stays as it is) and the countdown's: the console's 1,000 rows cost a dict lookup and a join each, not a
    dict and a walk of Dash's encoder."""
    fixed = {} if fixed is None else fixed
    tails = fixed.setdefault(_TAILS, {})
    parts = []
    for c in cases:
        key = (c.id, c.version, c.updated_at, lang)
        head = fixed.get(key)
        if head is None:
            if len(fixed) >= ROWS_KEPT:
                fixed.clear()
                tails = fixed[_TAILS] = {}
            head = fixed[key] = orjson.dumps(case_row_fixed(c, lang, district_names, departments))[:-1]  # without "}"
        deadline = c.stage_deadline
        if deadline:  # the countdown's text is the same within a twentieth of an hour, apart from its start
            left = deadline - now_ms
            shown = (lang, left >= 0, abs(left) // _TWENTIETH_H, abs(left) % _TWENTIETH_H == 0)
        else:
            shown = (lang,)
        tail = tails.get(shown)
        if tail is None:
            text, overdue = countdown(deadline, now_ms, lang)
            tail = tails[shown] = b"," + orjson.dumps({"deadline": text, "overdue": overdue})[1:]
        parts.append(head + tail)
    return b"[" + b",".join(parts) + b"]"


_TAILS = object()  # the key of a `fixed` cache's countdown parts
# `fmt_hours` rounds to a tenth of an hour: its text changes only at the half tenths (multiples of
# this), where a tie may round either way; between two of them it is one text
_TWENTIETH_H = HOUR_MS // 20


# ---- one case ---------------------------------------------------------------------------------

def case_facts(case: Case, lang: str, district_names: Mapping[str, str],
               departments: Mapping[str, Department]) -> list[tuple[str, str]]:
    """(label, value) lines describing the case; media and duplicates are shown apart (links)."""
    facts = [
        ("case_fact_class", f"{case.class_code} {class_name(case.class_code, lang)}"),
        ("case_fact_stage", stage_name(case.stage, lang)),
        ("case_fact_urgent", t("case_urgent" if case.urgent else "case_ordinary", lang)),
        ("case_fact_district", district_names.get(case.district, case.district)),
        ("case_fact_address", case.address or "—"),
        ("case_fact_position", f"{case.lat:.5f}, {case.lon:.5f}"),
        ("case_fact_source", source_name(case.source, lang)),
        ("case_fact_reporter", case.reporter or case.filed_by or "—"),
        ("case_fact_reported", fmt_time(case.created_at)),
        ("case_fact_description", case.description or "—"),
        ("case_fact_suggested", department_name(case.suggested_department, departments, lang) or "—"),
        ("case_fact_department", department_name(case.department, departments, lang) or "—"),
        ("case_fact_deadline", fmt_time(case.stage_deadline) or t("case_no_limit", lang)),
        ("case_fact_due", fmt_time(case.due_at) or t("case_no_limit", lang)),
        ("case_fact_counts", f"{case.rework_count} / {case.return_count} / {case.deferral_count} / {case.urge_count}"),
    ]
    if case.pending_deferral:
        p = case.pending_deferral
        facts.append(("case_fact_pending", t("case_pending_text", lang).format(hours=p.get("hours", ""), by=p.get("by", ""),
                                                                               note=p.get("note", ""))))
    if case.master_id:
        facts.append(("case_fact_master", case.master_id))
    return [(t(key, lang), value) for key, value in facts]


def action_buttons(case: Case, principal: Principal | None) -> list[str]:
    """The actions to offer as buttons: `allowed_actions`, less an acknowledgement already given
    (the workflow would refuse it a second time) and the check-in (到场), which takes the phone's
    position (`checkin_offered`)."""
    return [a for a in allowed_actions(case, principal) if not (a == "acknowledge" and case.acknowledged_at) and a != "arrive"]


def checkin_offered(case: Case, principal: Principal | None) -> bool:
    """Whether to offer the on-site check-in (到场, with the phone's position) on this case."""
    return "arrive" in allowed_actions(case, principal)


# the phone-report form's fields, by the name a refusal gives them (CaseInputError.field)
REPORT_FIELDS = {"category": "case_new_class", "class_code": "case_new_class", "lat": "case_new_lat", "lon": "case_new_lon",
                 "address": "case_new_address", "reporter": "case_new_reporter", "description": "case_new_description"}


def report_error_text(error: Exception, lang: str = "zh") -> str:
    """A refused phone report in the page language, naming the form's field at fault."""
    label = REPORT_FIELDS.get(getattr(error, "field", ""))
    if label is None:
        return t("case_err_report_other", lang)
    if getattr(error, "field", "") in ("lat", "lon"):
        return t("case_err_report_position", lang)
    return t("case_err_report_field", lang).format(field=t(label, lang))


# a workflow refusal's field (CaseInputError.field, or a CaseActionError's when it names one) -> its words
FIELD_ERRORS = {"note": "case_err_note_required", "department": "case_err_department", "hours": "case_err_hours",
                "master_id": "case_err_master"}
# a workflow refusal's code (ioc.domain.cases.CaseActionError.code) -> its words
CODE_ERRORS = {"note_too_long": "case_err_note_long", "already_acknowledged": "case_err_acknowledged",
               "deferral_waiting": "case_err_deferral_waiting", "no_deferral": "case_err_no_deferral",
               # issue 16: the check-in, the after photo, uploads
               "not_acknowledged": "case_err_not_acknowledged", "position_required": "case_err_position_required",
               "too_far": "case_err_too_far", "after_photo_required": "case_err_after_photo_required",
               "too_many_files": "media_err_too_many_files", "no_files": "media_err_empty",
               "archived": "case_err_archived"}  # issue 17: an ended case read from the record


def action_error_text(error: Exception, lang: str = "zh") -> str:
    """A refused case action in the page language: by the kind of refusal (permission, its
    `code`), the field at fault, else the case's stage or state; never the server's English text."""
    field, code = getattr(error, "field", ""), getattr(error, "code", "")
    if isinstance(error, CasePermissionError):
        key = "case_err_permission"
    elif code in CODE_ERRORS:
        key = CODE_ERRORS[code]
    elif field in FIELD_ERRORS:
        key = FIELD_ERRORS[field]
    else:
        key = "case_err_stage"  # the case is no longer where the page showed it
    values = {"n": NOTE_MAX if key == "case_err_note_long" else DEFERRAL_MAX_HOURS, **getattr(error, "values", {})}
    return failed_text(key, lang, **values)


def failed_text(key: str, lang: str = "zh", **values) -> str:
    """`未能办理：<why>` / "Not done: <why>" for the i18n key saying why."""
    return f"{t('case_failed', lang)}{'：' if lang == 'zh' else ': '}{t(key, lang).format(**values)}"


def transition_text(from_stage: str, to_stage: str, lang: str = "zh") -> str:
    """`上报 → 受理`; one stage name when the stage stays; the first stage alone for the intake."""
    if not from_stage:
        return stage_name(to_stage, lang)
    if from_stage == to_stage:
        return stage_name(to_stage, lang)
    return f"{stage_name(from_stage, lang)} → {stage_name(to_stage, lang)}"


def notification_note(detail: Mapping, sent: bool, lang: str = "zh") -> str:
    """A delivery on a timeline in people's words: `已通过企业微信通知城管局值班群（案件派遣）`,
    with the attempt when it took more than one and the reason of a failure."""
    channel = str(detail.get("channel") or "")
    words = {"channel": t(f"notify_channel_{channel}", lang) if f"notify_channel_{channel}" in STRINGS else channel,
             "recipient": str(detail.get("recipient") or ""), "kind": kind_label(str(detail.get("kind") or ""), lang),
             "reason": str(detail.get("reason") or "")}
    text = t("notify_sent_note" if sent else "notify_failed_note", lang).format(**words)
    attempt = int(detail.get("attempt") or 1)
    return f"{text} · {t('notify_attempts', lang).format(attempt=attempt)}" if attempt > 1 else text


def timeline_rows(events: Iterable[CaseEvent], lang: str, departments: Mapping[str, Department] | None = None,
                  people: Mapping[str, str] | None = None) -> list[dict]:
    """The case's timeline as grid rows, oldest first; a dispatch names the department, a
    deferral its hours, a merge its master case. The actor by display name where `people`
    (login -> display name) knows one, the login name in `actor_login` (the cell's tooltip)."""
    people = people or {}
    rows = []
    for n, e in enumerate(sorted(events, key=lambda e: e.at)):
        note = e.note
        extra = []
        if e.detail.get("department") and e.action == "dispatch":
            extra.append(department_name(e.detail["department"], departments or {}, lang))
        if e.detail.get("hours") and e.action in ("request_deferral", "approve_deferral", "deny_deferral"):
            extra.append(f"{e.detail['hours']} h")
        if e.detail.get("master_id"):
            extra.append(e.detail["master_id"])
        if e.action in ("notify", "notify_failed"):
            note = notification_note(e.detail, e.action == "notify", lang)
        if e.action == "attach" and e.detail.get("media"):
            extra.append(photos_text(e.detail["media"], lang))
        if e.action == "arrive" and e.detail.get("distance_m") is not None:
            extra.append(t("case_timeline_distance", lang).format(d=round(e.detail["distance_m"])))
        if extra:
            note = " · ".join(extra + ([note] if note else []))
        rows.append({"n": str(n), "time": fmt_time(e.at), "actor": actor_name(e.actor, e.role, lang, departments, people), "actor_login": e.actor,
                     "role": role_name(e.role, lang),
                     "action": action_label(e.action, lang), "transition": transition_text(e.from_stage, e.to_stage, lang),
                     "note": note})
    return rows


# ---- the timeline's uploads ----------------------------------------------------------------

def photos_text(media: Iterable[dict], lang: str = "zh") -> str:
    """An upload on the timeline: `2 张照片（处置前）` / "2 photos (before)"."""
    media = list(media)
    stages = sorted({m.get("stage", "") for m in media if m.get("stage") in ("before", "after")})
    text = t("case_timeline_photos", lang).format(n=len(media))
    if stages:
        named = "、".join(t(f"media_{s}", lang) for s in stages) if lang == "zh" else ", ".join(t(f"media_{s}", lang) for s in stages)
        text += f"（{named}）" if lang == "zh" else f" ({named})"
    return text


# ---- indicators -------------------------------------------------------------------------------

def period_range(period: str, now_ms: int) -> tuple[int, int]:
    """[start_ms, end_ms) of the period picked on the indicators page (China time)."""
    kind, offset = {"this_month": ("month", 0), "last_month": ("month", -1), "this_week": ("week", 0),
                    "today": ("day", 0)}.get(period, ("month", 0))
    return period_bounds(kind, now_ms, offset)


def percent(rate: float | None) -> float | None:
    """A rate 0..1 as a percentage with one decimal (None stays None: nothing to rate)."""
    return None if rate is None else round(100 * rate, 1)


def indicator_row(key: str, name: str, ind: Indicators) -> dict:
    row = {"key": key, "name": name, **{f: getattr(ind, f) for f in COUNT_FIELDS},
           **{f: percent(getattr(ind, f)) for f in RATE_FIELDS}}
    for stage in STAY_STAGES:
        hours = ind.mean_stage_hours.get(stage)
        row[f"hours_{stage}"] = None if hours is None else round(hours, 1)
    return row


def indicator_rows(groups: Mapping[str, Indicators], names: Mapping[str, str], every: Iterable[str] = (),
                   period: Indicators | None = None) -> list[dict]:
    """One row per group (district or department), with the rates as percentages. With `every`
    (e.g. all the city's districts, in order) each of those has a row, a group without cases
    in the period with zeros (`period`: the city's indicators, whose period the empty rows share)."""
    every = list(every)
    if not every:
        return [indicator_row(key, names.get(key, key), ind) for key, ind in groups.items()]
    empty = Indicators(period.start_ms, period.end_ms, period.as_of_ms) if period is not None else None
    keys = every + [k for k in groups if k not in every]
    return [indicator_row(key, names.get(key, key), groups[key]) if key in groups
            else indicator_row(key, names.get(key, key), empty or Indicators(0, 0, 0)) for key in keys]


def ranking_rows(ranked: Iterable[Ranked], names: Mapping[str, str]) -> list[dict]:
    """The department ranking: rank, name, score and the rates it is made of."""
    return [{"rank": r.rank, "key": r.key, "name": names.get(r.key, r.key), "score": r.score,
             **{f: percent(getattr(r.indicators, f)) for f in RATE_FIELDS + ("overdue_rate",)},
             "overdue": r.indicators.overdue}
            for r in ranked]


CHART_HEIGHT = 340


def empty_figure(lang: str = "zh", title: str = "") -> dict:
    """A chart with nothing to draw: its title, a "no data" note in the middle, no axes."""
    return {
        "data": [],
        "layout": {
            "title": {"text": title, "font": {"size": 16, "color": "#dbe7f5"}, "x": 0.01},
            "margin": {"l": 48, "r": 16, "t": 40, "b": 40}, "height": CHART_HEIGHT,
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": "#8aa4c2", "size": 12},
            "xaxis": {"visible": False}, "yaxis": {"visible": False},
            "annotations": [{"text": t("ind_no_data", lang), "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                             "showarrow": False, "font": {"size": 18, "color": "#8aa4c2"}}],
        },
    }


def on_time_figure(groups: Mapping[str, Indicators], names: Mapping[str, str], lang: str = "zh") -> dict:
    """A dark Plotly bar chart (a plain dict) of the on-time closure rate per department, best first;
    departments with nothing to rate are left out; with none at all, an empty chart that says so."""
    bars = sorted(((percent(ind.on_time_rate), names.get(key, key)) for key, ind in groups.items()
                   if ind.on_time_rate is not None), key=lambda b: (-b[0], b[1]))
    if not bars:
        return empty_figure(lang, t("ind_chart", lang))
    return {
        "data": [{"type": "bar", "x": [b[1] for b in bars], "y": [b[0] for b in bars], "marker": {"color": "#2fa4e7"},
                  "text": [f"{b[0]:.1f}%" for b in bars], "textposition": "outside",
                  "hovertemplate": "%{x}<br>%{y:.1f}%<extra></extra>"}],
        "layout": {
            "title": {"text": t("ind_chart", lang), "font": {"size": 16, "color": "#dbe7f5"}, "x": 0.01},
            "margin": {"l": 48, "r": 16, "t": 40, "b": 90}, "height": CHART_HEIGHT,
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": "#8aa4c2", "size": 12},
            "xaxis": {"tickangle": -30, "automargin": True},
            "yaxis": {"range": [0, 110], "ticksuffix": "%", "gridcolor": "#1a3350", "zeroline": False},
            "showlegend": False,
        },
    }


def formula_lines(lang: str = "zh") -> list[str]:
    """Every indicator formula in the page language, in reading order (any new one last)."""
    keys = [k for k in FORMULA_ORDER if k in FORMULAS] + [k for k in FORMULAS if k not in FORMULA_ORDER]
    return [FORMULAS[k].get(lang) or FORMULAS[k]["zh"] for k in keys]


def relevant_for_period(cases: Iterable[Case], start_ms: int, end_ms: int) -> list[Case]:
    """The cases that can count in [start_ms, end_ms): reported before it ends, and open or
    changed since it started (a case that ended before the period adds nothing to it)."""
    return [c for c in cases if c.created_at < end_ms and (c.is_open or max(c.updated_at, c.closed_at) >= start_ms)]
