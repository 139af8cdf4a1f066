"""Where notifications go (like Alertmanager routes / Grafana contact points). Pure: no I/O.

- A `Route` matches intents by kind, severity and department and names targets: the groups of
  the intent's departments (`department_group`), their people on duty (`department_duty`), the
  operations center's duty officer (`center_duty`), the dispatch desk's groups (`dispatch_group`),
  the groups of a linked event's lead departments (`event_leads`), or one contact / group
  (`contact:<id>`, `group:<id>`); `channels` narrows the channels used (empty: every channel the
  target has: a group its one channel, a contact each of theirs).
- `resolve(intent, routes, roster, now)` -> the deliveries (route, recipient, channel), one per
  (recipient, channel) even when several routes lead there (the first route wins).
- Grouping: the first delivery of a (route, recipient, channel) goes at once and opens a window
  of `group_window_s`; further ones within it are sent as ONE message when it ends
  (`group_key`; the worker keeps the windows).
- Repeat: `repeat_min` > 0 sends a reminder every so many minutes while the subject is still in
  the state that caused it (an escalated alarm still unacknowledged, a case still overdue in the
  same stage); 0: once.
- Quiet hours (`QuietHours`): a delivery of a route with `quiet` is held until they end (never
  dropped); a critical intent always passes.
- Silences (`Silence`, maintenance windows): while one matches an intent, its deliveries are
  recorded as silenced and not sent.

The configuration stored in Redis is `{"routes": [...], "quiet_hours": {...}}` (`config_from_dict`
checks it, `config_to_dict` writes it); without one, `BUILTIN_ROUTES` and no quiet hours apply.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import NamedTuple

from .clock import CHINA_TZ, local_time
from .notifications import KINDS, SEVERITIES, Intent
from .roster import groups_for, on_duty

CHANNELS: tuple[str, ...] = ("wecom", "dingtalk", "feishu", "email", "sms")
TARGETS: tuple[str, ...] = ("department_group", "department_duty", "center_duty", "dispatch_group", "event_leads")
CENTER = "center"  # the operations center's unit in the roster (groups with department "")
DISPATCH = "dispatch"  # the dispatch desk's unit
GROUP_WINDOW_MAX_S = 3600
REPEAT_MAX_MIN = 24 * 60
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class RoutingError(ValueError):
    """A routes configuration that cannot be used: `path` names the place ("routes[2].kinds"),
    the message says why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class Route:
    id: str
    name: str
    kinds: tuple[str, ...]
    targets: tuple[str, ...]
    severities: tuple[str, ...] = ()  # empty: any
    departments: tuple[str, ...] = ()  # empty: any
    channels: tuple[str, ...] = ()  # empty: all a target has
    group_window_s: int = 60
    repeat_min: int = 0
    quiet: bool = True
    enabled: bool = True

    def matches(self, intent: Intent) -> bool:
        return (self.enabled and intent.kind in self.kinds
                and (not self.severities or intent.severity in self.severities)
                and (not self.departments or bool(set(self.departments) & set(intent.departments))))

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "kinds": list(self.kinds), "severities": list(self.severities),
                "departments": list(self.departments), "targets": list(self.targets), "channels": list(self.channels),
                "group_window_s": self.group_window_s, "repeat_min": self.repeat_min, "quiet": self.quiet,
                "enabled": self.enabled}


BUILTIN_ROUTES: tuple[Route, ...] = (
    Route("dispatch", "派遣通知部门", ("case.dispatched", "case.rework", "case.urged"), ("department_group",)),
    Route("overdue", "超期通知部门与调度", ("case.overdue",), ("department_group", "dispatch_group"), group_window_s=300),
    Route("deferral", "延期申请通知调度", ("case.deferral_requested",), ("dispatch_group",)),
    Route("escalated", "升级告警短信值班长", ("alarm.escalated",), ("center_duty",), severities=("critical",),
          channels=("sms",), group_window_s=0, repeat_min=30, quiet=False),
    Route("event_task", "联动任务通知部门", ("event.task",), ("department_group",), group_window_s=0, quiet=False),
    Route("event_instruction", "领导批示通知牵头部门", ("event.instruction",), ("event_leads",), group_window_s=0, quiet=False),
    Route("event_center", "联动事件通知值班与调度", ("event.started", "event.level"), ("center_duty", "dispatch_group"),
          group_window_s=0, quiet=False),
    Route("test", "测试通知", ("test",), ("dispatch_group",), group_window_s=0, quiet=False),
)


@dataclass(frozen=True)
class QuietHours:
    """Local (China) quiet hours, e.g. 22:00–07:00; `days`: weekdays (0 Monday … 6 Sunday) on
    which they START (empty: every day); start == end: none."""

    start: str = "22:00"
    end: str = "07:00"
    days: tuple[int, ...] = ()
    enabled: bool = True

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "days": list(self.days), "enabled": self.enabled}

    def ends_at(self, now_ms: int) -> int | None:
        """When the quiet hours that hold `now_ms` end (epoch ms), None outside them."""
        if not self.enabled:
            return None
        s, e = _minutes(self.start), _minutes(self.end)
        if s == e:
            return None
        local = local_time(now_ms)
        m = local.hour * 60 + local.minute
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if s < e:
            started, end = (midnight, midnight + timedelta(minutes=e)) if s <= m < e else (None, None)
        elif m >= s:
            started, end = midnight, midnight + timedelta(days=1, minutes=e)
        elif m < e:
            started, end = midnight - timedelta(days=1), midnight + timedelta(minutes=e)
        else:
            started, end = None, None
        if started is None or (self.days and started.weekday() not in self.days):
            return None
        return int(end.astimezone(CHINA_TZ).timestamp() * 1000)


NO_QUIET_HOURS = QuietHours(enabled=False)


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


SILENCE_MATCHERS = ("kind", "department", "district", "subject", "severity")


@dataclass(frozen=True)
class Silence:
    """A maintenance window: intents matching every matcher (`kind` and `subject` may be globs
    such as `case.*`; `department` matches any of the intent's) between `starts_at` and
    `ends_at` (epoch ms) are not sent; their deliveries are recorded as silenced."""

    id: str
    matchers: dict
    starts_at: int
    ends_at: int
    by: str = ""
    comment: str = ""
    created_at: int = 0

    def to_dict(self) -> dict:
        return {"id": self.id, "matchers": dict(self.matchers), "starts_at": self.starts_at, "ends_at": self.ends_at,
                "by": self.by, "comment": self.comment, "created_at": self.created_at}

    @classmethod
    def from_dict(cls, d: dict) -> "Silence":
        return cls(str(d["id"]), dict(d.get("matchers") or {}), int(d["starts_at"]), int(d["ends_at"]), str(d.get("by") or ""),
                   str(d.get("comment") or ""), int(d.get("created_at") or 0))


def silence_from_input(data: dict, *, silence_id: str, by: str, now_ms: int) -> Silence:
    """A new silence from a form / API body; `RoutingError` naming the field when unusable."""
    if not isinstance(data, dict):
        raise RoutingError("silence", "must be a JSON object")
    matchers = data.get("matchers") or {}
    if not isinstance(matchers, dict) or not matchers:
        raise RoutingError("matchers", f"give at least one of {', '.join(SILENCE_MATCHERS)}")
    for k, v in matchers.items():
        if k not in SILENCE_MATCHERS:
            raise RoutingError(f"matchers.{k}", f"unknown matcher; matchers are {', '.join(SILENCE_MATCHERS)}")
        if not isinstance(v, str) or not v.strip() or len(v) > 200:
            raise RoutingError(f"matchers.{k}", "must be a non-empty text of at most 200 characters")
    try:
        starts = int(data.get("starts_at") or now_ms)
        ends = int(data["ends_at"])
    except (KeyError, TypeError, ValueError):
        raise RoutingError("ends_at", "give ends_at (epoch ms) after starts_at") from None
    if ends <= starts or ends <= now_ms:
        raise RoutingError("ends_at", "the silence must end after it starts and in the future")
    comment = str(data.get("comment") or "").strip()
    if not comment or len(comment) > 500:
        raise RoutingError("comment", "say why (1-500 characters)")
    return Silence(silence_id, {k: v.strip() for k, v in matchers.items()}, starts, ends, by, comment, now_ms)


def silence_matches(silence: Silence, intent: Intent) -> bool:
    m = silence.matchers
    if "kind" in m and not fnmatch.fnmatchcase(intent.kind, m["kind"]):
        return False
    if "subject" in m and not fnmatch.fnmatchcase(intent.subject, m["subject"]):
        return False
    if "department" in m and m["department"] not in intent.departments:
        return False
    if "district" in m and m["district"] != intent.district:
        return False
    return "severity" not in m or m["severity"] == intent.severity


def active(silence: Silence, intent: Intent, now_ms: int) -> bool:
    """Whether `silence` silences `intent` at `now_ms`."""
    return silence.starts_at <= now_ms < silence.ends_at and silence_matches(silence, intent)


def silenced_by(silences, intent: Intent, now_ms: int) -> Silence | None:
    return next((s for s in silences if active(s, intent, now_ms)), None)


# ---- the roster (ioc.domain.roster) ------------------------------------------------------------

def _groups_for(roster, unit: str) -> list:
    return groups_for(roster, unit)


def _on_duty(roster, unit: str, at_ms: int) -> list:
    return [contact for _shift, contact in on_duty(roster, unit, at_ms)]


class Delivery(NamedTuple):
    """One message to one recipient over one channel. `recipient` is `group:<id>` or
    `contact:<id>` (the dedupe key's part; never shown), `name` what people read."""

    route: Route
    recipient: str
    channel: str
    name: str = ""
    target: object = None  # the roster Group or Contact (for the channel client)
    lang: str = "zh"

    @property
    def group_key(self) -> str:
        return f"{self.route.id}|{self.recipient}|{self.channel}"


def _targets(intent: Intent, target: str, roster, now_ms: int) -> list:
    if target == "department_group":
        return [g for d in intent.departments for g in _groups_for(roster, d)]
    if target == "department_duty":
        return [c for d in intent.departments for c in _on_duty(roster, d, now_ms)]
    if target == "center_duty":
        return _on_duty(roster, CENTER, now_ms)
    if target == "dispatch_group":
        return _groups_for(roster, DISPATCH)
    if target == "event_leads":
        leads = intent.facts.get("leads") or list(intent.departments)
        return [g for d in leads for g in _groups_for(roster, d)]
    kind, _, ident = target.partition(":")
    if kind == "contact":
        return [c for c in getattr(roster, "contacts", ()) if c.id == ident]
    if kind == "group":
        return [g for g in getattr(roster, "groups", ()) if g.id == ident]
    return []


def _is_group(obj) -> bool:
    return hasattr(obj, "channel") and hasattr(obj, "key")


def resolve(intent: Intent, routes, roster, now_ms: int) -> list[Delivery]:
    """The deliveries of `intent`: for each matching route, each recipient of its targets and
    each channel of that recipient the route allows; one per (recipient, channel)."""
    out: list[Delivery] = []
    seen: set[tuple[str, str]] = set()
    for route in routes:
        if not route.matches(intent):
            continue
        for target in route.targets:
            for who in _targets(intent, target, roster, now_ms):
                if _is_group(who):
                    recipient, channels = f"group:{who.id}", (who.channel,)
                else:
                    recipient, channels = f"contact:{who.id}", tuple(getattr(who, "channels", ()) or ())
                for channel in channels:
                    if route.channels and channel not in route.channels:
                        continue
                    if (recipient, channel) in seen:
                        continue
                    seen.add((recipient, channel))
                    out.append(Delivery(route, recipient, channel, str(getattr(who, "name", "") or ""), who,
                                        str(getattr(who, "lang", "") or "zh")))
    return out


def hold_until(intent: Intent, route: Route, quiet: QuietHours, now_ms: int) -> int | None:
    """When a delivery of `route` for `intent` may go, if quiet hours hold it now (None: now).
    A critical intent always passes; a route without `quiet` ignores quiet hours."""
    if intent.severity == "critical" or not route.quiet:
        return None
    return quiet.ends_at(now_ms)


# ---- configuration -----------------------------------------------------------------------------

def _strings(value, path: str, allowed=None) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise RoutingError(path, "must be a list of texts")
    for k, x in enumerate(value):
        if allowed is not None and x not in allowed:
            raise RoutingError(f"{path}[{k}]", f"unknown value {x!r}; one of {', '.join(allowed)}")
    return tuple(value)


def _int(value, path: str, lo: int, hi: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RoutingError(path, f"must be a whole number from {lo} to {hi}")
    return value


def route_from_dict(d, path: str = "route") -> Route:
    if not isinstance(d, dict):
        raise RoutingError(path, "must be a JSON object")
    rid = d.get("id")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise RoutingError(f"{path}.id", "must be 1-64 letters, digits or _.:-")
    kinds = _strings(d.get("kinds"), f"{path}.kinds", KINDS)
    if not kinds:
        raise RoutingError(f"{path}.kinds", "name at least one kind")
    targets = _strings(d.get("targets"), f"{path}.targets")
    if not targets:
        raise RoutingError(f"{path}.targets", "name at least one target")
    for k, t in enumerate(targets):
        if t not in TARGETS and not (t.startswith(("contact:", "group:")) and len(t.split(":", 1)[1]) > 0):
            raise RoutingError(f"{path}.targets[{k}]", f"unknown target {t!r}; one of {', '.join(TARGETS)}, contact:<id>, group:<id>")
    name = d.get("name", rid)
    if not isinstance(name, str) or len(name) > 100:
        raise RoutingError(f"{path}.name", "must be a text of at most 100 characters")
    for flag in ("quiet", "enabled"):
        if flag in d and not isinstance(d[flag], bool):
            raise RoutingError(f"{path}.{flag}", "must be true or false")
    return Route(id=rid, name=name or rid, kinds=kinds, targets=targets,
                 severities=_strings(d.get("severities"), f"{path}.severities", SEVERITIES),
                 departments=_strings(d.get("departments"), f"{path}.departments"),
                 channels=_strings(d.get("channels"), f"{path}.channels", CHANNELS),
                 group_window_s=_int(d.get("group_window_s"), f"{path}.group_window_s", 0, GROUP_WINDOW_MAX_S, 60),
                 repeat_min=_int(d.get("repeat_min"), f"{path}.repeat_min", 0, REPEAT_MAX_MIN, 0),
                 quiet=d.get("quiet", True), enabled=d.get("enabled", True))


def quiet_from_dict(d, path: str = "quiet_hours") -> QuietHours:
    if d is None:
        return NO_QUIET_HOURS
    if not isinstance(d, dict):
        raise RoutingError(path, "must be a JSON object {start, end, days, enabled}")
    start, end = d.get("start", "22:00"), d.get("end", "07:00")
    for name, v in (("start", start), ("end", end)):
        if not isinstance(v, str) or not _HHMM.match(v):
            raise RoutingError(f"{path}.{name}", "must be a time HH:MM")
    days = d.get("days") or []
    if not isinstance(days, list) or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 6 for x in days):
        raise RoutingError(f"{path}.days", "must be a list of weekdays 0 (Monday) to 6 (Sunday)")
    enabled = d.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RoutingError(f"{path}.enabled", "must be true or false")
    return QuietHours(start, end, tuple(sorted(set(days))), enabled)


@dataclass(frozen=True)
class RoutingConfig:
    routes: tuple[Route, ...] = BUILTIN_ROUTES
    quiet_hours: QuietHours = field(default=NO_QUIET_HOURS)


def config_from_dict(d) -> RoutingConfig:
    """A stored / submitted configuration `{"routes": [...], "quiet_hours": {...}}`, checked."""
    if not isinstance(d, dict):
        raise RoutingError("config", "must be a JSON object {routes, quiet_hours}")
    raw = d.get("routes")
    if raw is None:
        routes = BUILTIN_ROUTES
    else:
        if not isinstance(raw, list):
            raise RoutingError("routes", "must be a list")
        routes = tuple(route_from_dict(r, f"routes[{k}]") for k, r in enumerate(raw))
        ids = [r.id for r in routes]
        for k, rid in enumerate(ids):
            if rid in ids[:k]:
                raise RoutingError(f"routes[{k}].id", f"route id {rid!r} is used twice")
    return RoutingConfig(routes, quiet_from_dict(d.get("quiet_hours")))


def config_to_dict(config: RoutingConfig) -> dict:
    return {"routes": [r.to_dict() for r in config.routes], "quiet_hours": config.quiet_hours.to_dict()}
