"""Proposals to start a linked event (大联动), from the plans' trigger conditions on live data.

Pure code, no I/O: the cases worker feeds the latest readings of the watched kinds every scan
and stores what comes out; a person confirms (starts the event) or dismisses each proposal.
Nothing here starts an event.

Triggers
--------
A plan level is met when ANY of its triggers is met. A trigger ``(kind, attribute, op,
threshold, districts, devices, minutes)`` is met when at least `devices` distinct devices, in at
least `districts` distinct districts, each satisfy ``value <op> threshold`` and have done so
continuously for at least `minutes` (every observation since the first one that met it; one that
does not — a dip below, a value that is not a number, or the device missing from the
observation — starts its clock again). A reading with no district counts as a device but not as a
district. `TriggerWatch.observe` returns, per plan, the proposal of the HIGHEST level met, with the
evidence of the first of its triggers that is met: the devices that count, most extreme first, at
most `EVIDENCE_MAX` of them (the most extreme of each district first; `Proposal.devices` counts
them all).

Proposals are shown, never acted on: `due_proposals` drops those a person need not see again
-------------------------------------------------------------------------------------------------
* a plan with a live (active, responding or contained) event at the proposal's level or higher;
* a plan dismissed at a higher level than the proposal (a person judged a stronger case);
* a proposal dismissed at the same level, unless its evidence is worse than when it was dismissed
  (`Proposal.worse_than`): a different trigger of the level, more devices, more districts or a
  district not in the dismissed evidence, or a peak beyond the dismissed peak by the attribute's
  margin (`PEAK_MARGINS`: water level 0.10 m, rainfall 10 mm/h, COD 20 mg/L, pH 0.5, people 500,
  manhole water depth 0.20 m; any other attribute 10 % of the trigger's threshold), in the
  trigger's direction (higher for > and ≥, lower for < and ≤).
A higher level is a new proposal (its own id), so it is never held back by a lower dismissal.
A dismissal lapses once the plan's triggers are no longer met at all (`lapsed_dismissals`), so a
new episode is proposed afresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .plans import LEVELS, Plan

LIVE_STATUSES = ("active", "responding", "contained")
MINUTE_MS = 60_000
EVIDENCE_MAX = 30  # devices listed in a proposal's evidence (its `devices` counts them all)

# (kind, attribute) -> how far a peak must move beyond the dismissed peak to count as worse
PEAK_MARGINS: dict[tuple[str, str], float] = {
    ("water_level", "waterLevel"): 0.10,  # m
    ("rain_gauge", "precipitation"): 10.0,  # mm/h
    ("water_quality", "cod"): 20.0,  # mg/L
    ("water_quality", "pH"): 0.5,
    ("crowd", "peopleCount"): 500.0,  # persons
    ("manhole", "waterDepth"): 0.20,  # m
}
DEFAULT_MARGIN_SHARE = 0.10  # of the threshold, for attributes without a margin above


def peak_margin(kind: str, attribute: str, threshold: float) -> float:
    """How far beyond the dismissed peak a new peak must be to count as worse."""
    margin = PEAK_MARGINS.get((kind, attribute))
    if margin is not None:
        return margin
    return abs(float(threshold)) * DEFAULT_MARGIN_SHARE or 1.0


def _rank(level: str) -> int:
    """0 for IV … 3 for I; -1 for a level no plan knows (`plans.level_rank` raises)."""
    return LEVELS.index(level) if level in LEVELS else -1


def _rising(op: str) -> bool:
    return op in (">", ">=")


def meets(op: str, value: Any, threshold: float) -> bool:
    """Whether a reading satisfies `value <op> threshold` (never for a non-number or NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if op == ">=":
        return value >= threshold
    if op == ">":
        return value > threshold
    if op == "<=":
        return value <= threshold
    if op == "<":
        return value < threshold
    return False


@dataclass(frozen=True)
class Reading:
    """One device's latest value of one attribute."""

    device_id: str
    name: str
    kind: str
    district: str
    attribute: str
    value: Any


@dataclass(frozen=True)
class Evidence:
    """A device that meets a trigger: its value, the trigger's threshold and since when it meets it."""

    device_id: str
    name: str
    district: str
    kind: str
    attribute: str
    value: float
    threshold: float
    since_ms: int
    op: str = ">="

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Evidence":
        return cls(
            device_id=str(data["device_id"]), name=str(data.get("name") or data["device_id"]),
            district=str(data.get("district") or ""), kind=str(data["kind"]), attribute=str(data["attribute"]),
            value=float(data["value"]), threshold=float(data["threshold"]), since_ms=int(data.get("since_ms") or 0),
            op=str(data.get("op") or ">="),
        )


@dataclass(frozen=True)
class Proposal:
    """The system's proposal to start `plan` at `level`, with the evidence that met trigger
    number `trigger` of that level (index in `Level.triggers`)."""

    id: str  # f"{plan}:{level}"
    plan: str
    level: str
    evidence: tuple[Evidence, ...]
    districts: tuple[str, ...]
    raised_at: int
    trigger: int = 0
    devices: int = 0  # devices meeting the trigger (the evidence lists at most EVIDENCE_MAX); 0: len(evidence)

    @property
    def device_count(self) -> int:
        return max(self.devices, len(self.evidence))

    @property
    def peak(self) -> float | None:
        """The most extreme value of the evidence in the trigger's direction (None without evidence)."""
        if not self.evidence:
            return None
        values = [e.value for e in self.evidence]
        return max(values) if _rising(self.evidence[0].op) else min(values)

    def summary(self) -> dict:
        """What a dismissal keeps, to tell later whether the evidence got worse."""
        first = self.evidence[0] if self.evidence else None
        return {
            "plan": self.plan,
            "level": self.level,
            "trigger": self.trigger,
            "kind": first.kind if first else "",
            "attribute": first.attribute if first else "",
            "op": first.op if first else "",
            "threshold": first.threshold if first else None,
            "devices": self.device_count,
            "districts": list(self.districts),
            "peak": self.peak,
        }

    def worse_than(self, other_summary: Mapping | None) -> bool:
        """Whether this proposal's evidence is worse than a dismissed one's summary (see the
        module's docstring); True when there is nothing to compare with."""
        if not other_summary:
            return True
        mine, theirs = _rank(self.level), _rank(str(other_summary.get("level", "")))
        if mine != theirs:
            return mine > theirs
        if int(other_summary.get("trigger", -1)) != self.trigger:
            return True
        summary = self.summary()
        if summary["devices"] > int(other_summary.get("devices") or 0):
            return True
        old_districts = other_summary.get("districts") or ()
        if isinstance(old_districts, (int, float)):
            if len(self.districts) > old_districts:
                return True
        elif len(self.districts) > len(old_districts) or set(self.districts) - set(old_districts):
            return True
        old_peak, peak = other_summary.get("peak"), summary["peak"]
        if old_peak is None or peak is None:
            return old_peak is None and peak is not None
        margin = peak_margin(summary["kind"], summary["attribute"], summary["threshold"] or 0.0)
        tolerance = 1e-9 * max(1.0, abs(margin))  # 4.32 + 0.10 counts as beyond 4.32 by 0.10
        if _rising(summary["op"]):
            return peak >= float(old_peak) + margin - tolerance
        return peak <= float(old_peak) - margin + tolerance

    def to_dict(self) -> dict:
        return {
            "id": self.id, "plan": self.plan, "level": self.level,
            "evidence": [e.to_dict() for e in self.evidence],
            "districts": list(self.districts), "raised_at": self.raised_at, "trigger": self.trigger,
            "devices": self.device_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "Proposal":
        plan, level = str(data["plan"]), str(data["level"])
        return cls(
            id=str(data.get("id") or f"{plan}:{level}"), plan=plan, level=level,
            evidence=tuple(Evidence.from_dict(e) for e in data.get("evidence") or ()),
            districts=tuple(str(d) for d in data.get("districts") or ()),
            raised_at=int(data.get("raised_at") or 0), trigger=int(data.get("trigger") or 0),
            devices=int(data.get("devices") or 0),
        )


def _shortlist(evidence: list[Evidence]) -> list[Evidence]:
    """At most EVIDENCE_MAX of the evidence (sorted most extreme first): the most extreme device
    of each district first, then the most extreme of the rest; in extremity order."""
    if len(evidence) <= EVIDENCE_MAX:
        return evidence
    chosen: set[int] = set()
    seen: set[str] = set()
    for i, e in enumerate(evidence):
        if e.district not in seen and len(chosen) < EVIDENCE_MAX:
            seen.add(e.district)
            chosen.add(i)
    for i in range(len(evidence)):
        if len(chosen) >= EVIDENCE_MAX:
            break
        chosen.add(i)
    return [e for i, e in enumerate(evidence) if i in chosen]


def proposal_id(plan: str, level: str) -> str:
    return f"{plan}:{level}"


Condition = tuple[str, str, str, float]  # (kind, attribute, op, threshold)


def _condition(trigger) -> Condition:
    return (trigger.kind, trigger.attribute, trigger.op, float(trigger.threshold))


class TriggerWatch:
    """Since when each device meets each trigger condition, and the proposals that follow.

    Pure state, no I/O: the caller feeds every watched device's latest reading each time
    (`watched` says which kinds and attributes) and keeps the instance between calls (or its
    `to_dict` between processes).
    """

    def __init__(self, plans: Mapping[str, Plan] | Iterable[Plan]):
        items = plans.values() if isinstance(plans, Mapping) else plans
        self.plans: tuple[Plan, ...] = tuple(items)
        self._conditions: tuple[Condition, ...] = tuple(dict.fromkeys(
            _condition(t) for p in self.plans for lv in p.levels for t in lv.triggers))
        self._since: dict[Condition, dict[str, int]] = {c: {} for c in self._conditions}
        self._raised: dict[str, tuple[str, int]] = {}  # plan -> (level, raised_at) of its current proposal

    @property
    def watched(self) -> frozenset[tuple[str, str]]:
        """The (kind, attribute) pairs the plans' triggers read."""
        return frozenset((c[0], c[1]) for c in self._conditions)

    def observe(self, readings: Iterable[Reading], now_ms: int) -> list[Proposal]:
        """Take the latest readings at `now_ms`; the proposal of the highest level met, per plan."""
        latest: dict[tuple[str, str], dict[str, Reading]] = {}
        for r in readings:
            latest.setdefault((r.kind, r.attribute), {})[r.device_id] = r
        for condition in self._conditions:
            kind, attribute, op, threshold = condition
            before = self._since[condition]
            now_meeting = {}
            for device_id, r in latest.get((kind, attribute), {}).items():
                if meets(op, r.value, threshold):
                    now_meeting[device_id] = min(before.get(device_id, now_ms), now_ms)
            self._since[condition] = now_meeting
        proposals = []
        for plan in self.plans:
            proposal = self._proposal(plan, latest, now_ms)
            if proposal is None:
                self._raised.pop(plan.id, None)
                continue
            proposals.append(proposal)
        return proposals

    def _met(self, trigger, latest, now_ms) -> tuple[list[Evidence], tuple[str, ...], int] | None:
        condition = _condition(trigger)
        kind, attribute, op, threshold = condition
        readings = latest.get((kind, attribute), {})
        need_ms = max(0, int(trigger.minutes)) * MINUTE_MS
        evidence = [
            Evidence(device_id, r.name or device_id, r.district or "", kind, attribute, float(r.value),
                     threshold, since, op)
            for device_id, since in self._since[condition].items()
            if now_ms - since >= need_ms and (r := readings.get(device_id)) is not None
        ]
        districts = tuple(sorted({e.district for e in evidence if e.district}))
        if len(evidence) < max(1, int(trigger.devices)) or len(districts) < max(1, int(trigger.districts)):
            return None
        sign = -1.0 if _rising(op) else 1.0
        evidence.sort(key=lambda e: (sign * e.value, e.device_id))
        return _shortlist(evidence), districts, len(evidence)

    def _proposal(self, plan: Plan, latest, now_ms: int) -> Proposal | None:
        for level in sorted(plan.levels, key=lambda lv: _rank(lv.level), reverse=True):
            for index, trigger in enumerate(level.triggers):
                met = self._met(trigger, latest, now_ms)
                if met is None:
                    continue
                evidence, districts, devices = met
                previous = self._raised.get(plan.id)
                raised_at = previous[1] if previous and previous[0] == level.level else now_ms
                self._raised[plan.id] = (level.level, raised_at)
                return Proposal(proposal_id(plan.id, level.level), plan.id, level.level, tuple(evidence),
                                districts, raised_at, index, devices)
        return None

    def to_dict(self) -> dict:
        """The clocks, JSON-safe (for a worker that wants them to survive a restart)."""
        return {
            "since": [[list(c), dict(devices)] for c, devices in self._since.items() if devices],
            "raised": {plan: list(v) for plan, v in self._raised.items()},
        }

    @classmethod
    def from_dict(cls, plans, data: Mapping | None) -> "TriggerWatch":
        """A watch for `plans` with the clocks of `to_dict` (conditions no plan has any more are dropped)."""
        watch = cls(plans)
        for condition, devices in (data or {}).get("since", ()):
            key = (str(condition[0]), str(condition[1]), str(condition[2]), float(condition[3]))
            if key in watch._since:
                watch._since[key] = {str(d): int(t) for d, t in devices.items()}
        for plan, (level, raised_at) in ((data or {}).get("raised") or {}).items():
            watch._raised[str(plan)] = (str(level), int(raised_at))
        return watch


def _field(item: Any, name: str, default: Any = "") -> Any:
    return item.get(name, default) if isinstance(item, Mapping) else getattr(item, name, default)


def _dismissal_summary(value: Any) -> Mapping:
    """A stored dismissal is either the summary itself or {summary, by, reason, at}."""
    if isinstance(value, Mapping) and isinstance(value.get("summary"), Mapping):
        return value["summary"]
    return value if isinstance(value, Mapping) else {}


def due_proposals(proposals: Iterable[Proposal], active_events: Iterable, dismissed: Mapping[str, Any]) -> list[Proposal]:
    """The proposals a person should see now (see the module's docstring). `active_events`:
    events (Event or dicts with plan, level, status); `dismissed`: proposal id -> its summary
    (or the stored dismissal {summary, by, reason, at})."""
    live: dict[str, int] = {}
    for event in active_events:
        if _field(event, "status") in LIVE_STATUSES:
            plan = str(_field(event, "plan"))
            live[plan] = max(live.get(plan, -1), _rank(str(_field(event, "level"))))
    dismissals: dict[str, list[Mapping]] = {}
    for key, value in dismissed.items():
        summary = _dismissal_summary(value)
        plan = str(summary.get("plan") or str(key).partition(":")[0])
        level = str(summary.get("level") or str(key).partition(":")[2])
        dismissals.setdefault(plan, []).append({**summary, "level": level})
    due = []
    for proposal in proposals:
        rank = _rank(proposal.level)
        if live.get(proposal.plan, -1) >= rank:
            continue
        held = False
        for summary in dismissals.get(proposal.plan, ()):
            theirs = _rank(summary["level"])
            if theirs > rank or (theirs == rank and not proposal.worse_than(summary)):
                held = True
                break
        if not held:
            due.append(proposal)
    return due


def lapsed_dismissals(proposals: Iterable[Proposal], dismissed: Mapping[str, Any]) -> list[str]:
    """The dismissals to forget: those of plans with no current proposal at all (the conditions
    are gone, so the next episode is proposed afresh). `proposals`: what `observe` returned."""
    current = {p.plan for p in proposals}
    out = []
    for key, value in dismissed.items():
        plan = str(_dismissal_summary(value).get("plan") or str(key).partition(":")[0])
        if plan not in current:
            out.append(key)
    return sorted(out)
