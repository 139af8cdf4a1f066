"""Pure view model of the notification pages: `/duty` (who is on duty now and next) and `/notify`
(the duty roster, contacts and groups, routes and quiet hours, silences, the sent log).

Roster, routes, silences and delivery-log entries in; rows, cards, options and texts out, in the
reader's language, with units, departments and channels by name and times in China time — never
ids, keys or Python values. Robot keys and signing secrets never leave this module whole: rows
carry a masked form only (`mask_key`). No I/O here: the callbacks read the stores and call these;
tests call them directly.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ioc.domain.clock import CHINA_TZ, DAY_MS, local_text
from ioc.domain.departments import Department
from ioc.domain.notifications import Intent
from ioc.domain.roster import CENTER, CHANNELS, CONTACT_CHANNELS, DISPATCH, GROUP_CHANNELS, ROLES, Roster, on_duty
from ioc.i18n import STRINGS, t

RESULTS = ("sent", "failed", "retry", "silenced", "held", "grouped")
KINDS = ("case.dispatched", "case.rework", "case.overdue", "case.deferral_requested", "case.urged", "alarm.escalated",
         "event.started", "event.task", "event.level", "event.instruction", "test")
SEVERITIES = ("info", "warning", "critical")
TARGETS = ("department_group", "department_duty", "center_duty", "dispatch_group", "event_leads")
MATCHERS = ("kind", "department", "district", "subject")
WEEK_MS = 7 * DAY_MS
MASK = "••••"


# ---- reading records: the roster's dataclasses, or the JSON dicts of the stores -------------------

def field_of(record, name: str, default=None):
    """`record.name` or `record["name"]`: the views read dataclasses and JSON dicts alike."""
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


# ---- words --------------------------------------------------------------------------------------

def word(prefix: str, value: str, lang: str) -> str:
    """The page-language word of `value` (`notify_<prefix>_<value>`), or the value as written."""
    key = f"notify_{prefix}_{str(value).replace('.', '_')}"
    return t(key, lang) if key in STRINGS else str(value)


def channel_name(channel: str, lang: str = "zh") -> str:
    """企业微信 / 钉钉 / 飞书 / 邮件 / 短信 (WeCom / DingTalk / Feishu / Email / SMS)."""
    return word("channel", channel, lang)


def channels_text(channels: Iterable[str], lang: str = "zh") -> str:
    return "、".join(channel_name(c, lang) for c in channels or ())


def unit_name(unit: str, departments: Mapping[str, Department], lang: str = "zh") -> str:
    """A unit of the roster by name: the operations center ("center" or ""), the dispatch desk, a department."""
    if unit in ("", CENTER):
        return t("notify_unit_center", lang)
    if unit == DISPATCH:
        return t("notify_unit_dispatch", lang)
    department = departments.get(unit)
    return department.name(lang) if department else unit


def unit_options(departments: Iterable[Department], lang: str = "zh", dispatch: bool = True) -> list[dict]:
    """The units a shift or a group may belong to: the center, the dispatch desk, each department."""
    first = [CENTER] + ([DISPATCH] if dispatch else [])
    return [{"label": unit_name(u, {}, lang), "value": u} for u in first] + [
        {"label": d.name(lang), "value": d.id} for d in departments]


def channel_options(channels: Iterable[str], lang: str = "zh") -> list[dict]:
    return [{"label": channel_name(c, lang), "value": c} for c in channels]


def word_options(prefix: str, values: Iterable[str], lang: str = "zh") -> list[dict]:
    return [{"label": word(prefix, v, lang), "value": v} for v in values]


def fmt_time(at_ms: int | float | None) -> str:
    """China time `YYYY-MM-DD HH:MM` ('' for none)."""
    return local_text(at_ms, "%Y-%m-%d %H:%M") if at_ms else ""


def fmt_short(at_ms: int | float | None) -> str:
    """China time `MM-DD HH:MM` for the duty cards ('' for none)."""
    return local_text(at_ms, "%m-%d %H:%M") if at_ms else ""


def parse_local(text: str | None) -> int | None:
    """An ISO date-time as written in the roster or typed in a form (China time unless it says
    otherwise; `2026-12-06T08:00`, `2026-12-06 08:00`) as epoch ms; None when it is no date-time."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).strip().replace(" ", "T", 1))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA_TZ)
    return int(value.timestamp() * 1000)


def local_input(at_ms: int) -> str:
    """Epoch ms as the value of an `<input type="datetime-local">` in China time."""
    return local_text(at_ms, "%Y-%m-%dT%H:%M")


def mask_key(key: str | None) -> str:
    """A robot key, access token or signing secret as the page may show it: its first and last
    three characters around a mask when it is long enough for that to reveal little, else the mask
    alone ('' when there is none). The whole value is never sent to the browser."""
    key = str(key or "")
    if not key:
        return ""
    if len(key) < 16:
        return MASK
    return f"{key[:3]}{MASK}{key[-3:]}"


def phone_href(phone: str) -> str:
    """A `tel:` link for a phone number (digits and a leading +, spaces and dashes dropped)."""
    digits = "".join(ch for ch in str(phone or "") if ch.isdigit() or ch == "+")
    return f"tel:{digits}" if digits else ""


# ---- the roster ---------------------------------------------------------------------------------

def contacts_by_id(roster) -> dict[str, object]:
    return {field_of(c, "id"): c for c in field_of(roster, "contacts", ()) or ()}


def shift_span(shift) -> tuple[int | None, int | None]:
    return parse_local(field_of(shift, "starts")), parse_local(field_of(shift, "ends"))


def shift_unit(shift) -> str:
    return field_of(shift, "unit") or CENTER


def roster_units(roster, departments: Iterable[Department]) -> list[str]:
    """The units a duty board shows, in order: the center, the dispatch desk when it has shifts,
    then each department of the city that has a shift or a group."""
    used = {shift_unit(s) for s in field_of(roster, "shifts", ()) or ()}
    used |= {field_of(g, "department") or CENTER for g in field_of(roster, "groups", ()) or ()}
    units = [CENTER] + ([DISPATCH] if DISPATCH in used else [])
    return units + [d.id for d in departments if d.id in used]


@dataclass(frozen=True)
class Person:
    """One person on a duty card: the shift's role, name, title, phone and `tel:` link, and when the shift ends/starts."""
    role: str
    name: str
    title: str
    phone: str
    href: str
    starts: str
    ends: str


@dataclass(frozen=True)
class DutyCard:
    unit: str
    name: str
    now: tuple[Person, ...]
    next: tuple[Person, ...]  # the people of the next shift(s) that start after now (the earliest start)


def _person(shift, contact) -> Person:
    starts, ends = shift_span(shift)
    phone = str(field_of(contact, "phone", "") or "") if contact is not None else ""
    name = str(field_of(contact, "name", "") or "") if contact is not None else ""
    return Person(str(field_of(shift, "role", "") or ""), name or "—", str(field_of(contact, "title", "") or "") if contact else "",
                  phone, phone_href(phone), fmt_short(starts), fmt_short(ends))


def next_on_duty(roster, unit: str, now_ms: int) -> list[tuple[object, object]]:
    """(shift, contact) of the unit's next shift(s): those with the earliest start after `now_ms`."""
    contacts = contacts_by_id(roster)
    upcoming = []
    for shift in field_of(roster, "shifts", ()) or ():
        starts, _ends = shift_span(shift)
        if shift_unit(shift) == unit and starts is not None and starts > now_ms:
            upcoming.append((starts, shift))
    if not upcoming:
        return []
    first = min(s for s, _ in upcoming)
    return [(shift, contacts.get(field_of(shift, "contact_id"))) for s, shift in upcoming if s == first]


def duty_cards(roster: Roster, departments: Mapping[str, Department], all_departments: Iterable[Department], now_ms: int,
               lang: str = "zh") -> list[DutyCard]:
    """One card per unit: who is on duty now (role, name, phone) and who comes next."""
    return [
        DutyCard(unit, unit_name(unit, departments, lang),
                 tuple(_person(s, c) for s, c in on_duty(roster, unit, now_ms)),
                 tuple(_person(s, c) for s, c in next_on_duty(roster, unit, now_ms)))
        for unit in roster_units(roster, all_departments)
    ]


def shift_state(starts: int | None, ends: int | None, now_ms: int) -> str:
    if ends is not None and ends <= now_ms:
        return "past"
    if starts is not None and starts <= now_ms:
        return "now"
    return "later"


def shift_rows(roster, departments: Mapping[str, Department], now_ms: int, lang: str = "zh",
               horizon_ms: int = WEEK_MS) -> list[dict]:
    """The shifts running now and those starting within `horizon_ms` (a week), by unit then start;
    `key` identifies a shift for removal (unit, contact, start, end)."""
    contacts = contacts_by_id(roster)
    order = {u: i for i, u in enumerate([CENTER, DISPATCH, *departments])}
    rows = []
    for shift in field_of(roster, "shifts", ()) or ():
        starts, ends = shift_span(shift)
        if (ends is not None and ends <= now_ms) or (starts is not None and starts > now_ms + horizon_ms):
            continue
        contact = contacts.get(field_of(shift, "contact_id"))
        unit = shift_unit(shift)
        rows.append((order.get(unit, len(order)), starts or 0, {
            "key": shift_key(shift),
            "unit": unit_name(unit, departments, lang),
            "role": field_of(shift, "role", "") or "",
            "name": field_of(contact, "name", "") if contact is not None else t("notify_unknown_contact", lang),
            "phone": field_of(contact, "phone", "") if contact is not None else "",
            "starts": fmt_time(starts),
            "ends": fmt_time(ends),
            "state": t(f"notify_shift_{shift_state(starts, ends, now_ms)}", lang),
        }))
    return [row for *_, row in sorted(rows, key=lambda r: (r[0], r[1]))]


def shift_key(shift) -> str:
    """A shift's identity for the page (the roster's shifts have no id): unit|contact|starts|ends."""
    return "|".join(str(field_of(shift, f, "") or "") for f in ("unit", "contact_id", "starts", "ends"))


def contact_rows(roster, departments: Mapping[str, Department], lang: str = "zh") -> list[dict]:
    """The contacts as rows (the form's fields too: `department_id`, `channel_ids`)."""
    return [
        {
            "id": field_of(c, "id"),
            "name": field_of(c, "name", ""),
            "department": unit_name(field_of(c, "department", "") or CENTER, departments, lang),
            "title": field_of(c, "title", "") or "",
            "phone": field_of(c, "phone", "") or "",
            "email": field_of(c, "email", "") or "",
            "channels": channels_text(field_of(c, "channels", ()) or (), lang),
            "department_id": field_of(c, "department", "") or CENTER,
            "channel_ids": list(field_of(c, "channels", ()) or ()),
        }
        for c in field_of(roster, "contacts", ()) or ()
    ]


def group_rows(roster, departments: Mapping[str, Department], lang: str = "zh") -> list[dict]:
    """The department groups as rows: the key masked (an email group's addresses shown, they are
    recipients, not credentials), the secret as set / not set, never either whole."""
    rows = []
    for g in field_of(roster, "groups", ()) or ():
        channel = field_of(g, "channel", "")
        key = str(field_of(g, "key", "") or "")
        rows.append({
            "id": field_of(g, "id"),
            "name": field_of(g, "name", ""),
            "unit": unit_name(field_of(g, "department", "") or CENTER, departments, lang),
            "channel": channel_name(channel, lang),
            "key": key if channel == "email" else mask_key(key),
            "secret": t("notify_secret_set" if field_of(g, "secret", "") else "notify_secret_none", lang),
            "mentions": "、".join(field_of(g, "mentions", ()) or ()),
            "unit_id": field_of(g, "department", "") or CENTER,
            "channel_id": channel,
        })
    return rows


def target_options(roster, departments: Mapping[str, Department], lang: str = "zh") -> list[dict]:
    """Where a test message may go: each group (`group:<id>`) and each contact (`contact:<id>`), by name."""
    groups = [{"label": f"{field_of(g, 'name', '')}（{channel_name(field_of(g, 'channel', ''), lang)}）", "value": f"group:{field_of(g, 'id')}"}
              for g in field_of(roster, "groups", ()) or ()]
    contacts = [{"label": f"{field_of(c, 'name', '')} · {unit_name(field_of(c, 'department', '') or CENTER, departments, lang)}",
                 "value": f"contact:{field_of(c, 'id')}"} for c in field_of(roster, "contacts", ()) or ()]
    return groups + contacts


def contact_options(roster, departments: Mapping[str, Department], lang: str = "zh") -> list[dict]:
    return [{"label": f"{field_of(c, 'name', '')} · {unit_name(field_of(c, 'department', '') or CENTER, departments, lang)}",
             "value": field_of(c, "id")} for c in field_of(roster, "contacts", ()) or ()]


# ---- routes and quiet hours -----------------------------------------------------------------------

def target_name(target: str, names: Mapping[str, str], lang: str = "zh") -> str:
    """A route's target in words: "部门工作群", "值班员：张三" (contact), "群：城管局工作群" (group)."""
    kind, _, ident = str(target).partition(":")
    if kind in ("contact", "group") and ident:
        return t(f"notify_target_{kind}_named", lang).format(name=names.get(target, ident))
    return word("target", target, lang)


def route_rows(routes: Iterable, departments: Mapping[str, Department], names: Mapping[str, str], lang: str = "zh") -> list[dict]:
    """The routes as rows; `names` maps `contact:<id>` / `group:<id>` to a name."""
    any_ = t("notify_any", lang)
    rows = []
    for r in routes or ():
        rows.append({
            "id": field_of(r, "id"),
            "name": field_of(r, "name", "") or field_of(r, "id"),
            "kinds": "、".join(word("kind", k, lang) for k in field_of(r, "kinds", ()) or ()) or any_,
            "severities": "、".join(word("severity", s, lang) for s in field_of(r, "severities", ()) or ()) or any_,
            "departments": "、".join(unit_name(d, departments, lang) for d in field_of(r, "departments", ()) or ()) or any_,
            "targets": "、".join(target_name(x, names, lang) for x in field_of(r, "targets", ()) or ()),
            "channels": channels_text(field_of(r, "channels", ()) or (), lang) or t("notify_all_channels", lang),
            "window": duration_text(int(field_of(r, "group_window_s", 0) or 0), lang),
            "repeat": minutes_text(int(field_of(r, "repeat_min", 0) or 0), lang),
            "quiet": t("notify_yes" if field_of(r, "quiet", False) else "notify_no", lang),
            "enabled": t("notify_enabled" if field_of(r, "enabled", True) else "notify_disabled", lang),
            "window_s": int(field_of(r, "group_window_s", 0) or 0),
            "repeat_min": int(field_of(r, "repeat_min", 0) or 0),
            "quiet_on": bool(field_of(r, "quiet", False)),
            "enabled_on": bool(field_of(r, "enabled", True)),
        })
    return rows


def duration_text(seconds: int, lang: str = "zh") -> str:
    if seconds <= 0:
        return t("notify_none_word", lang)
    if seconds % 60 == 0:
        return minutes_text(seconds // 60, lang)
    return t("notify_seconds", lang).format(n=seconds)


def minutes_text(minutes: int, lang: str = "zh") -> str:
    if minutes <= 0:
        return t("notify_none_word", lang)
    return t("notify_minutes", lang).format(n=minutes)


def quiet_text(quiet, lang: str = "zh") -> str:
    """"22:00 — 07:00 非紧急消息延后发送" or "未设置"."""
    start, end = field_of(quiet, "start", "") if quiet else "", field_of(quiet, "end", "") if quiet else ""
    if not start or not end:
        return t("notify_quiet_none", lang)
    return t("notify_quiet_text", lang).format(start=start, end=end)


def whole_number(value, low: int, high: int) -> int | None:
    """A form's number as a whole number within [low, high]; None when it is not one."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != int(number) or not low <= number <= high:
        return None
    return int(number)


def clock_text(text: str) -> str:
    """"7:00" -> "07:00" (a valid `HH:MM`, see `valid_clock`)."""
    hours, minutes = text.strip().split(":")
    return f"{int(hours):02d}:{minutes}"


def valid_clock(text: str | None) -> bool:
    """`HH:MM` on a 24-hour clock."""
    try:
        hours, minutes = str(text or "").strip().split(":")
        return len(minutes) == 2 and 0 <= int(hours) < 24 and 0 <= int(minutes) < 60
    except ValueError:
        return False


# ---- silences -----------------------------------------------------------------------------------

def silence_state(silence, now_ms: int) -> str:
    """"active" (now within its window), "upcoming" (starts later) or "expired"."""
    starts, ends = int(field_of(silence, "starts_at", 0) or 0), int(field_of(silence, "ends_at", 0) or 0)
    if ends and ends <= now_ms:
        return "expired"
    if starts > now_ms:
        return "upcoming"
    return "active"


def matchers_text(matchers: Mapping | None, departments: Mapping[str, Department], district_names: Mapping[str, str],
                  lang: str = "zh") -> str:
    """"类型：案件派遣；部门：市水务局" — what a silence matches; every notification when empty."""
    parts = []
    for name in MATCHERS:
        value = (matchers or {}).get(name)
        if not value:
            continue
        if name == "kind":
            value = word("kind", value, lang)
        elif name == "department":
            value = unit_name(value, departments, lang)
        elif name == "district":
            value = district_names.get(value, value)
        parts.append(f"{t(f'notify_matcher_{name}', lang)}：{value}" if lang == "zh" else f"{t(f'notify_matcher_{name}', lang)}: {value}")
    return ("；" if lang == "zh" else "; ").join(parts) or t("notify_matches_all", lang)


_STATE_ORDER = {"active": 0, "upcoming": 1, "expired": 2}


def silence_rows(silences: Iterable, departments: Mapping[str, Department], district_names: Mapping[str, str], now_ms: int,
                 lang: str = "zh") -> list[dict]:
    """The silences as rows: active first, then upcoming, then expired (newest first within each)."""
    rows = []
    for s in silences or ():
        state = silence_state(s, now_ms)
        rows.append((_STATE_ORDER[state], -int(field_of(s, "starts_at", 0) or 0), {
            "id": field_of(s, "id"),
            "state": t(f"notify_silence_{state}", lang),
            "matches": matchers_text(field_of(s, "matchers", {}), departments, district_names, lang),
            "starts": fmt_time(field_of(s, "starts_at", 0)),
            "ends": fmt_time(field_of(s, "ends_at", 0)),
            "by": field_of(s, "by", "") or "",
            "comment": field_of(s, "comment", "") or "",
            "state_id": state,
        }))
    return [row for *_, row in sorted(rows, key=lambda r: (r[0], r[1]))]


_SILENCE_REASONS = (
    (r"give at least one", "notify_err_matchers"),
    (r"must end after it starts", "notify_bad_span"),
    (r"say why", "notify_need_comment"),
    (r"at most (?P<n>\d+) characters", "notify_err_long"),
)


def silence_error_text(error: Exception, lang: str = "zh") -> str:
    """A refused silence (RoutingError `path`, `reason`) in the page language."""
    reason = str(getattr(error, "reason", "") or error)
    for pattern, key in _SILENCE_REASONS:
        found = re.search(pattern, reason)
        if found:
            return t(key, lang).format(**found.groupdict())
    return reason


def silence_matchers(kind, department, district, subject) -> dict[str, str]:
    """The matchers a silence form gives (empty fields left out)."""
    values = {"kind": kind, "department": department, "district": district, "subject": subject}
    return {k: str(v).strip() for k, v in values.items() if v and str(v).strip()}


# ---- the sent log -------------------------------------------------------------------------------

def subject_link(subject: str) -> str:
    """The portal page of a notification's subject: `case:<id>` -> /case/<id>, `event:<id>` -> /event/<id>."""
    kind, _, ident = str(subject or "").partition(":")
    if kind == "case" and ident:
        return f"/case/{ident}"
    if kind == "event" and ident:
        return f"/event/{ident}"
    return ""


def subject_text(subject: str, lang: str = "zh") -> str:
    """"案件 ZJG-…" / "告警 …" / "事件 EV-…"; a test message's subject in words."""
    kind, _, ident = str(subject or "").partition(":")
    key = f"notify_subject_{kind}"
    return t(key, lang).format(id=ident) if ident and key in STRINGS else word("kind", kind, lang) if kind else ""


def recipient_text(entry, names: Mapping[str, str], lang: str = "zh") -> str:
    """Who a delivery went to, by name: the entry's own name, else the roster's name of its target."""
    for name_field in ("recipient_name", "to_name", "name"):
        if field_of(entry, name_field):
            return str(field_of(entry, name_field))
    recipient = str(field_of(entry, "recipient", "") or field_of(entry, "target", "") or "")
    if recipient in names:
        return names[recipient]
    kind, _, ident = recipient.partition(":")
    if kind in ("contact", "group") and ident in names:
        return names[ident]
    return t("notify_unknown_recipient", lang)


def entry_text(entry) -> str:
    return str(field_of(entry, "text", "") or field_of(entry, "body", "") or "")


def log_rows(entries: Iterable, names: Mapping[str, str], lang: str = "zh", channel: str = "", result: str = "") -> list[dict]:
    """Delivery-log entries as rows, newest first, filtered by channel and result ('' = any).
    `names` maps a recipient (`contact:<id>`, `group:<id>` or the bare id) to its name: keys,
    addresses and phone numbers of robots are never shown."""
    rows = []
    for e in entries or ():
        ch = str(field_of(e, "channel", "") or "")
        res = str(field_of(e, "result", "") or field_of(e, "status", "") or "")
        if (channel and ch != channel) or (result and res != result):
            continue
        subject = str(field_of(e, "subject", "") or "")
        link = str(field_of(e, "link", "") or "") or subject_link(subject)
        at = int(field_of(e, "at", 0) or 0)
        rows.append((at, {
            "at": fmt_time(at) if at else "",
            "kind": word("kind", field_of(e, "kind", ""), lang),
            "subject": subject_text(subject, lang),
            "to": recipient_text(e, names, lang),
            "channel": channel_name(ch, lang),
            "result": word("result", res, lang),
            "attempts": int(field_of(e, "attempt", 0) or field_of(e, "attempts", 0) or 0),
            "reason": str(field_of(e, "reason", "") or ""),
            "text": entry_text(e),
            "title": str(field_of(e, "title", "") or ""),
            "link": link if link.startswith("/") else "",
            "result_id": res,
            "row": str(field_of(e, "id", "") or f"{at}-{len(rows)}"),
        }))
    return [row for _, row in sorted(rows, key=lambda r: -r[0])]


def test_intent(target: str, text: str, by: str, now_ms: int) -> Intent:
    """The intent of a test message to one group or contact (`group:<id>` / `contact:<id>`)."""
    return Intent("test", f"test:{uuid.uuid4().hex[:12]}", "1", now_ms, "info", (), "",
                  {"text": text, "target": target, "by": by})


def roster_names(roster) -> dict[str, str]:
    """`contact:<id>` / `group:<id>` (and the bare ids) -> names, for routes and the sent log."""
    names: dict[str, str] = {}
    for prefix, items in (("contact", field_of(roster, "contacts", ())), ("group", field_of(roster, "groups", ()))):
        for item in items or ():
            ident, name = field_of(item, "id"), str(field_of(item, "name", "") or "")
            names[f"{prefix}:{ident}"] = name
            names.setdefault(str(ident), name)
    return names


# ---- changing the roster: its JSON form in, a new JSON form out (validate_roster checks it) -------

def new_id(prefix: str, taken: Iterable[str]) -> str:
    """The next free id `<prefix>-<n>` (ids are never shown: rows carry them for the form only)."""
    used = set(taken)
    n = len(used) + 1
    while f"{prefix}-{n}" in used:
        n += 1
    return f"{prefix}-{n}"


def split_list(text: str | None) -> list[str]:
    """"a, b；c" -> ["a", "b", "c"] (commas, Chinese commas, semicolons, spaces)."""
    for sep in ("，", "；", ";", "、", " ", "\n"):
        text = str(text or "").replace(sep, ",")
    return [part.strip() for part in text.split(",") if part.strip()]


def contact_form(name, phone, email, department, title, channels) -> dict:
    """A contact's fields as the form gives them (the unit `center` is stored as "")."""
    return {"name": str(name or "").strip(), "phone": str(phone or "").strip().replace(" ", ""),
            "email": str(email or "").strip(), "department": "" if department in (None, "", CENTER) else str(department),
            "title": str(title or "").strip(), "channels": [c for c in CONTACT_CHANNELS if c in (channels or [])]}


def with_contact(data: dict, fields: dict, contact_id: str | None = None) -> tuple[dict, str]:
    """The roster's JSON form with a contact added (`contact_id` None) or replaced; and its id."""
    contacts = list(data.get("contacts", []))
    if contact_id is None:
        contact_id = new_id("c", (c["id"] for c in contacts))
        contacts.append({"id": contact_id, **fields})
    else:
        contacts = [{"id": contact_id, **fields} if c["id"] == contact_id else c for c in contacts]
    return {**data, "contacts": contacts}, contact_id


def contact_shift_count(data: dict, contact_id: str) -> int:
    return sum(1 for s in data.get("shifts", []) if s.get("contact_id") == contact_id)


def without_contact(data: dict, contact_id: str) -> dict:
    return {**data, "contacts": [c for c in data.get("contacts", []) if c["id"] != contact_id]}


def group_form(name, unit, channel, key, secret, mentions) -> dict:
    """A group's fields as the form gives them; an empty key or secret means "keep the current one"
    (`with_group` fills it in from the stored group)."""
    return {"name": str(name or "").strip(), "department": "" if unit in (None, "", CENTER) else str(unit),
            "channel": str(channel or ""), "key": str(key or "").strip(), "secret": str(secret or "").strip(),
            "mentions": split_list(mentions)}


def with_group(data: dict, fields: dict, group_id: str | None = None) -> tuple[dict, str]:
    """The roster's JSON form with a group added or edited. Editing replaces the key (and the
    secret) only when the form gives a new one; otherwise the stored ones stay. A group moved to a
    channel without signing drops its secret."""
    groups = list(data.get("groups", []))
    if group_id is None:
        group_id = new_id("g", (g["id"] for g in groups))
        groups.append({"id": group_id, **fields})
    else:
        out = []
        for g in groups:
            if g["id"] == group_id:
                merged = {"id": group_id, **fields}
                if not fields["key"]:
                    merged["key"] = g.get("key", "")
                if not fields["secret"]:
                    merged["secret"] = g.get("secret", "") if fields["channel"] in ("dingtalk", "feishu") else ""
                g = merged
            out.append(g)
        groups = out
    return {**data, "groups": groups}, group_id


def without_group(data: dict, group_id: str) -> dict:
    return {**data, "groups": [g for g in data.get("groups", []) if g["id"] != group_id]}


def with_shift(data: dict, unit: str, contact_id: str, starts_ms: int, ends_ms: int, role: str) -> dict:
    shift = {"unit": unit, "contact_id": contact_id, "starts": local_input(starts_ms), "ends": local_input(ends_ms),
             "role": str(role or "").strip() or ROLES[1]}
    return {**data, "shifts": [*data.get("shifts", []), shift]}


def without_shift(data: dict, key: str) -> tuple[dict, dict | None]:
    """The roster without the shift `key` names (`shift_key`); and the removed shift (None: no such shift)."""
    kept, removed = [], None
    for s in data.get("shifts", []):
        if removed is None and shift_key(s) == key:
            removed = s
        else:
            kept.append(s)
    return {**data, "shifts": kept}, removed


# ---- a refused roster in the page's language ----------------------------------------------------

_FIELD_WORDS = {"name": "notify_col_name", "phone": "notify_col_phone", "email": "notify_col_email",
                "department": "notify_col_department", "title": "notify_col_title", "channels": "notify_col_channels",
                "channel": "notify_col_channel", "key": "notify_col_key", "secret": "notify_col_secret",
                "mentions": "notify_col_mentions", "unit": "notify_col_unit", "contact_id": "notify_col_name",
                "starts": "notify_col_starts", "ends": "notify_col_ends", "role": "notify_col_role"}
# the reasons validate_roster gives (English), by pattern -> the page's words
_REASONS = (
    (r"must not be empty|missing", "notify_err_empty"),
    (r"at most (?P<n>\d+) characters", "notify_err_long"),
    (r"neither a mainland mobile number", "notify_err_phone"),
    (r"sms needs a mainland mobile", "notify_err_sms_phone"),
    (r"email needs an email address", "notify_err_email_needed"),
    (r"is not an email address", "notify_err_email"),
    (r"is not a mainland mobile number", "notify_err_mobile"),
    (r"robot key", "notify_err_key"),
    (r"signed with a secret", "notify_err_secret"),
    (r"unknown contact", "notify_err_contact"),
    (r"unknown department", "notify_err_department"),
    (r"unknown channel", "notify_err_channel"),
    (r"ends after it starts", "notify_bad_span"),
    (r"lasts at most (?P<n>\d+) days", "notify_err_too_long"),
    (r"overlaps shifts\[(?P<other>\d+)\]", "notify_err_overlap"),
    (r"ISO date-time|time of day", "notify_err_time"),
    (r"duplicate", "notify_err_duplicate"),
)


def _where(path: str, data: dict, departments: Mapping[str, Department], lang: str) -> str:
    """`contacts[2].phone` -> 联系人“张三”的电话 / contact 张三: phone."""
    found = re.match(r"^(contacts|groups|shifts)\[(\d+)\](?:\.(\w+))?", path or "")
    if not found:
        return t("notify_roster", lang)
    kind, index, field_name = found.group(1), int(found.group(2)), found.group(3) or ""
    items = data.get(kind, [])
    item = items[index] if index < len(items) else {}
    if kind == "shifts":
        names = {c["id"]: c.get("name", "") for c in data.get("contacts", [])}
        label = t("notify_where_shift", lang).format(unit=unit_name(item.get("unit", ""), departments, lang),
                                                     name=names.get(item.get("contact_id"), ""),
                                                     starts=fmt_short(parse_local(item.get("starts"))))
    else:
        label = t(f"notify_where_{kind[:-1]}", lang).format(name=item.get("name", ""))
    if field_name in _FIELD_WORDS:
        return f"{label} · {t(_FIELD_WORDS[field_name], lang)}"
    return label


def roster_error_text(error: Exception, data: dict, departments: Mapping[str, Department], lang: str = "zh") -> str:
    """A RosterError (`path`, `reason`) as the admin can act on it, in the page language: where
    (the contact, group or shift by name, and the field) and why."""
    path, reason = str(getattr(error, "path", "") or ""), str(getattr(error, "reason", "") or error)
    text = reason
    for pattern, key in _REASONS:
        found = re.search(pattern, reason)
        if found:
            values = found.groupdict()
            if "other" in values:
                others = data.get("shifts", [])
                other = others[int(values["other"])] if int(values["other"]) < len(others) else {}
                values = {"starts": fmt_short(parse_local(other.get("starts"))), "ends": fmt_short(parse_local(other.get("ends")))}
            text = t(key, lang).format(**values)
            break
    return t("notify_roster_error", lang).format(where=_where(path, data, departments, lang), reason=text)
