"""The duty roster and contacts (值班表, 通讯录): who is on duty for each unit, and where to reach them.

A *unit* is a department id (ioc.domain.departments), `center` (the operations center, 城运中心)
or `dispatch` (the dispatch desk, 派遣席). The roster holds
- contacts: people, with a phone, an email and the channels they are reached by (`sms`, `email`);
- groups: a unit's group chats and mailing lists (WeCom / DingTalk / Feishu robots, email);
- shifts: who is on duty for a unit, from when to when (local China time), in which role.

`validate_roster(data, departments)` turns the JSON form into a Roster or raises RosterError with
the place (`contacts[2].phone`) and the reason. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from .clock import CHINA_TZ

CENTER = "center"  # the operations center (城运中心)
DISPATCH = "dispatch"  # the dispatch desk (派遣席)
SPECIAL_UNITS = (CENTER, DISPATCH)

GROUP_CHANNELS = ("wecom", "dingtalk", "feishu", "email")
CONTACT_CHANNELS = ("sms", "email")
CHANNELS = ("wecom", "dingtalk", "feishu", "email", "sms")
SIGNED_CHANNELS = ("dingtalk", "feishu")  # a group secret signs each request
ROLES = ("值班领导", "值班员")  # the usual roles; others (e.g. 带班, 技术保障) are allowed
DEFAULT_ROLE = "值班员"
MAX_SHIFT_DAYS = 31
REDACTED = "********"  # what a robot key or secret looks like in a redacted roster

MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
DEPARTMENT_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
ROBOT_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")


class RosterError(ValueError):
    """A roster refused: `path` names the place (`shifts[3].ends`), `reason` says what is wrong."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Contact:
    id: str
    name: str
    phone: str = ""
    email: str = ""
    department: str = ""  # "" = the operations center
    title: str = ""
    channels: tuple[str, ...] = ()  # "sms", "email"

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "phone": self.phone, "email": self.email,
                "department": self.department, "title": self.title, "channels": list(self.channels)}


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    department: str  # "" = the operations center, "dispatch" = the dispatch desk, else a department id
    channel: str  # "wecom" | "dingtalk" | "feishu" | "email"
    key: str  # WeCom robot key / DingTalk access_token / Feishu hook id / comma-separated addresses
    secret: str = ""  # DingTalk / Feishu signing secret
    mentions: tuple[str, ...] = ()  # mobile phones to @ in the chat

    @property
    def unit(self) -> str:
        return self.department or CENTER

    def addresses(self) -> list[str]:
        """An email group's addresses."""
        return [a.strip() for a in self.key.split(",") if a.strip()]

    def to_dict(self, redact: bool = False) -> dict:
        secret_key = redact and self.channel != "email"
        return {"id": self.id, "name": self.name, "department": self.department, "channel": self.channel,
                "key": REDACTED if secret_key and self.key else self.key,
                "secret": REDACTED if redact and self.secret else self.secret,
                "mentions": list(self.mentions)}


@dataclass(frozen=True)
class Shift:
    unit: str  # department id, "center" or "dispatch"
    contact_id: str
    starts: str  # ISO date-time, local China time unless it carries an offset
    ends: str
    role: str = DEFAULT_ROLE

    @property
    def starts_ms(self) -> int:
        return iso_ms(self.starts)

    @property
    def ends_ms(self) -> int:
        return iso_ms(self.ends)

    def covers(self, at_ms: int) -> bool:
        return self.starts_ms <= at_ms < self.ends_ms

    def to_dict(self) -> dict:
        return {"unit": self.unit, "contact_id": self.contact_id, "starts": self.starts, "ends": self.ends, "role": self.role}


@dataclass(frozen=True)
class Roster:
    contacts: tuple[Contact, ...] = ()
    groups: tuple[Group, ...] = ()
    shifts: tuple[Shift, ...] = ()
    _by_id: dict = field(default_factory=dict, compare=False, repr=False)

    def contact(self, contact_id: str) -> Contact | None:
        if not self._by_id and self.contacts:
            self._by_id.update({c.id: c for c in self.contacts})
        return self._by_id.get(contact_id)

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)

    def to_dict(self, redact: bool = False) -> dict:
        """The JSON form (`validate_roster` reads it back). `redact`: robot keys and secrets as
        REDACTED, for pages and `roster show`; `with_secrets_of` restores them on the way back."""
        return {"contacts": [c.to_dict() for c in self.contacts],
                "groups": [g.to_dict(redact) for g in self.groups],
                "shifts": [s.to_dict() for s in self.shifts]}

    @classmethod
    def from_dict(cls, data: dict) -> "Roster":
        """A roster from its stored JSON form, trusted (it was validated when written)."""
        return cls(
            tuple(Contact(c["id"], c["name"], c.get("phone", ""), c.get("email", ""), c.get("department", ""),
                          c.get("title", ""), tuple(c.get("channels") or ())) for c in data.get("contacts") or ()),
            tuple(Group(g["id"], g["name"], g.get("department", ""), g["channel"], g["key"], g.get("secret", ""),
                        tuple(g.get("mentions") or ())) for g in data.get("groups") or ()),
            tuple(Shift(s["unit"], s["contact_id"], s["starts"], s["ends"], s.get("role") or DEFAULT_ROLE)
                  for s in data.get("shifts") or ()),
        )

    def with_secrets_of(self, old: "Roster") -> "Roster":
        """This roster with each REDACTED group key or secret taken from the group of the same id in `old`."""
        groups = []
        for i, g in enumerate(self.groups):
            before = old.group(g.id)
            key = before.key if g.key == REDACTED and before else g.key
            secret = before.secret if g.secret == REDACTED and before else g.secret
            for name, value in (("key", key), ("secret", secret)):
                if value == REDACTED:
                    raise RosterError(f"groups[{i}].{name}", f"is redacted and no stored group {g.id!r} has one to keep: give the real value")
            groups.append(Group(g.id, g.name, g.department, g.channel, key, secret, g.mentions))
        return Roster(self.contacts, tuple(groups), self.shifts)

    def with_shift(self, shift: Shift) -> "Roster":
        return Roster(self.contacts, self.groups, self.shifts + (shift,))


def iso_ms(text: str) -> int:
    """Epoch ms of an ISO date-time; without an offset it is China time."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA_TZ)
    return int(value.timestamp() * 1000)


def unit_of(department: str) -> str:
    """The unit of a contact's or group's department field ("" is the operations center)."""
    return department or CENTER


def on_duty(roster: Roster, unit: str, at_ms: int) -> list[tuple[Shift, Contact]]:
    """The shifts of `unit` covering `at_ms` with their contacts, leaders (值班领导) first."""
    out = []
    for shift in roster.shifts:
        if shift.unit == unit and shift.covers(at_ms):
            contact = roster.contact(shift.contact_id)
            if contact is not None:
                out.append((shift, contact))
    rank = {role: i for i, role in enumerate(ROLES)}
    out.sort(key=lambda sc: (rank.get(sc[0].role, len(ROLES)), sc[0].starts_ms, sc[1].id))
    return out


def groups_for(roster: Roster, unit: str) -> list[Group]:
    """The groups of a unit (`center` also matches groups whose department is "")."""
    return [g for g in roster.groups if g.unit == unit]


def contacts_for(roster: Roster, unit: str) -> list[Contact]:
    """The contacts of a unit (`center`: those whose department is "" or `center`)."""
    return [c for c in roster.contacts if unit_of(c.department) == unit]


# --- validation ----------------------------------------------------------------------------------

CONTACT_FIELDS = {"id": True, "name": True, "phone": False, "email": False, "department": False, "title": False, "channels": False}
GROUP_FIELDS = {"id": True, "name": True, "department": False, "channel": True, "key": True, "secret": False, "mentions": False}
SHIFT_FIELDS = {"unit": True, "contact_id": True, "starts": True, "ends": True, "role": False}
TOP_FIELDS = ("contacts", "groups", "shifts")


def phone_problem(phone: str) -> str:
    """Why a phone number is refused ("" when it is fine): a mainland mobile or a landline."""
    if MOBILE.match(phone) or LANDLINE.match(phone):
        return ""
    return f"{phone!r} is neither a mainland mobile number (11 digits, 1[3-9]…) nor a landline (0512-58xxxxxx)"


def validate_roster(data, departments: Iterable[str] | None = None) -> Roster:
    """The Roster `data` (its JSON form) describes, or RosterError naming the first problem.

    `departments`: the city's department ids (units and groups must be one of them, `center` or
    `dispatch`); None checks only their form."""
    known = frozenset(departments) if departments is not None else None
    if not isinstance(data, dict):
        raise RosterError("", "a roster is a JSON object with contacts, groups and shifts")
    for name in data:
        if name not in TOP_FIELDS and name != "version":
            raise RosterError(name, f"unknown field (expected {', '.join(TOP_FIELDS)})")
    lists = {}
    for name in TOP_FIELDS:
        value = data.get(name, [])
        if not isinstance(value, list):
            raise RosterError(name, "must be a list")
        lists[name] = value

    def unit_check(path: str, value, allow_empty: bool) -> str:
        if not isinstance(value, str):
            raise RosterError(path, "must be text")
        if value == "" and allow_empty:
            return value
        if value in SPECIAL_UNITS:
            return value
        if not DEPARTMENT_ID.match(value) or (known is not None and value not in known):
            raise RosterError(path, f"unknown department {value!r} (a department id, {CENTER!r} or {DISPATCH!r})")
        return value

    contacts: list[Contact] = []
    seen: set[str] = set()
    for i, raw in enumerate(lists["contacts"]):
        p = f"contacts[{i}]"
        item = _fields(p, raw, CONTACT_FIELDS)
        cid = _id(f"{p}.id", item["id"], seen, "contact")
        name = _text(f"{p}.name", item["name"], 60)
        phone = _text(f"{p}.phone", item.get("phone", ""), 30, required=False)
        if phone and phone_problem(phone):
            raise RosterError(f"{p}.phone", phone_problem(phone))
        email = _text(f"{p}.email", item.get("email", ""), 254, required=False)
        if email and not EMAIL.match(email):
            raise RosterError(f"{p}.email", f"{email!r} is not an email address")
        department = unit_check(f"{p}.department", item.get("department", ""), allow_empty=True)
        if department == CENTER:
            department = ""
        title = _text(f"{p}.title", item.get("title", ""), 60, required=False)
        channels = _list(f"{p}.channels", item.get("channels", []))
        for j, ch in enumerate(channels):
            if ch not in CONTACT_CHANNELS:
                raise RosterError(f"{p}.channels[{j}]", f"unknown channel {ch!r} (a contact is reached by {', '.join(CONTACT_CHANNELS)})")
        if "sms" in channels and not MOBILE.match(phone):
            raise RosterError(f"{p}.channels", "sms needs a mainland mobile phone number")
        if "email" in channels and not email:
            raise RosterError(f"{p}.channels", "email needs an email address")
        contacts.append(Contact(cid, name, phone, email, department, title, tuple(dict.fromkeys(channels))))

    groups: list[Group] = []
    seen_groups: set[str] = set()
    for i, raw in enumerate(lists["groups"]):
        p = f"groups[{i}]"
        item = _fields(p, raw, GROUP_FIELDS)
        gid = _id(f"{p}.id", item["id"], seen_groups, "group")
        name = _text(f"{p}.name", item["name"], 60)
        department = unit_check(f"{p}.department", item.get("department", ""), allow_empty=True)
        if department == CENTER:
            department = ""
        channel = item["channel"]
        if channel not in GROUP_CHANNELS:
            raise RosterError(f"{p}.channel", f"unknown channel {channel!r} (one of {', '.join(GROUP_CHANNELS)})")
        key = _text(f"{p}.key", item["key"], 2000)
        if channel == "email":
            for address in (a.strip() for a in key.split(",")):
                if not EMAIL.match(address):
                    raise RosterError(f"{p}.key", f"{address!r} is not an email address (an email group's key is a comma-separated address list)")
        elif not ROBOT_KEY.match(key) and key != REDACTED:
            raise RosterError(f"{p}.key", "a robot key / access_token / hook id is letters, digits, '-' and '_'")
        secret = _text(f"{p}.secret", item.get("secret", ""), 200, required=False)
        if secret and channel not in SIGNED_CHANNELS:
            raise RosterError(f"{p}.secret", f"only {' and '.join(SIGNED_CHANNELS)} groups are signed with a secret")
        mentions = _list(f"{p}.mentions", item.get("mentions", []))
        for j, phone in enumerate(mentions):
            if not MOBILE.match(phone):
                raise RosterError(f"{p}.mentions[{j}]", f"{phone!r} is not a mainland mobile number")
        groups.append(Group(gid, name, department, channel, key, secret, tuple(mentions)))

    by_id = {c.id: c for c in contacts}
    shifts: list[Shift] = []
    for i, raw in enumerate(lists["shifts"]):
        p = f"shifts[{i}]"
        item = _fields(p, raw, SHIFT_FIELDS)
        unit = unit_check(f"{p}.unit", item["unit"], allow_empty=False)
        cid = item["contact_id"]
        if cid not in by_id:
            raise RosterError(f"{p}.contact_id", f"unknown contact {cid!r}")
        starts = _when(f"{p}.starts", item["starts"])
        ends = _when(f"{p}.ends", item["ends"])
        if iso_ms(ends) <= iso_ms(starts):
            raise RosterError(f"{p}.ends", "a shift ends after it starts")
        if iso_ms(ends) - iso_ms(starts) > MAX_SHIFT_DAYS * 86_400_000:
            raise RosterError(f"{p}.ends", f"a shift lasts at most {MAX_SHIFT_DAYS} days")
        role = _text(f"{p}.role", item.get("role", "") or DEFAULT_ROLE, 20)
        shifts.append(Shift(unit, cid, starts, ends, role))
    _no_overlaps(shifts)
    return Roster(tuple(contacts), tuple(groups), tuple(shifts))


def _no_overlaps(shifts: list[Shift]) -> None:
    """Two shifts of one unit and role may touch but not overlap."""
    by_slot: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    for i, s in enumerate(shifts):
        by_slot.setdefault((s.unit, s.role), []).append((s.starts_ms, s.ends_ms, i))
    for (unit, role), spans in by_slot.items():
        spans.sort()
        for (s1, e1, i1), (s2, e2, i2) in zip(spans, spans[1:]):
            if s2 < e1:
                first, second = sorted((i1, i2))
                raise RosterError(f"shifts[{second}]", f"overlaps shifts[{first}] ({unit} {role}, "
                                                         f"{shifts[first].starts} – {shifts[first].ends})")


def _fields(path: str, raw, spec: dict[str, bool]) -> dict:
    if not isinstance(raw, dict):
        raise RosterError(path, "must be an object")
    for name in raw:
        if name not in spec:
            raise RosterError(f"{path}.{name}", f"unknown field (expected {', '.join(spec)})")
    for name, required in spec.items():
        if required and name not in raw:
            raise RosterError(f"{path}.{name}", "missing")
    return raw


def _text(path: str, value, limit: int, required: bool = True) -> str:
    if not isinstance(value, str):
        raise RosterError(path, "must be text")
    value = value.strip()
    if required and not value:
        raise RosterError(path, "must not be empty")
    if len(value) > limit:
        raise RosterError(path, f"at most {limit} characters")
    return value


def _id(path: str, value, seen: set[str], what: str) -> str:
    if not isinstance(value, str) or not ID.match(value):
        raise RosterError(path, f"a {what} id is 1-64 letters, digits, '.', '-' or '_'")
    if value in seen:
        raise RosterError(path, f"duplicate {what} id {value!r}")
    seen.add(value)
    return value


def _list(path: str, value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RosterError(path, "must be a list of text")
    return [v.strip() for v in value]


def _when(path: str, value) -> str:
    if not isinstance(value, str):
        raise RosterError(path, "must be an ISO date-time text, e.g. 2026-12-06T08:00")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RosterError(path, f"{value!r} is not an ISO date-time (e.g. 2026-12-06T08:00)") from None
    if len(value.strip()) <= 10:  # a date alone
        raise RosterError(path, f"{value!r} needs a time of day (e.g. 2026-12-06T08:00)")
    del parsed
    return value.strip()
