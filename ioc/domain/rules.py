"""Threshold rules that raise and clear alarms.

A rule watches one attribute of one kind. It raises after `for_samples` consecutive breaching
samples (at least two, so one spike is not an alarm) and clears with hysteresis: a numeric rule
clears only after `clear_samples` consecutive samples on the safe side of `clear` (below it for
"above" rules, above it for "below" rules); samples between `clear` and `threshold` change
nothing. Equality rules (enums, booleans) clear when the value is back to normal.

Each (device, rule) has at most one active alarm; its state is a small `RuleState` kept by the
store between samples. Samples older than the last one seen are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEVERITIES = ("critical", "major", "minor")


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    attribute: str
    op: str  # ">=", ">", "<=", "<", "==", "!="
    threshold: Any
    severity: str
    name_zh: str
    name_en: str
    clear: Any = None  # hysteresis bound for numeric rules; None: clear when not breaching
    for_samples: int = 2
    clear_samples: int = 1

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}")
        if self.for_samples < 2:
            raise ValueError("a rule needs at least two samples before firing")
        if self.op in (">", ">=") and self.clear is not None and not self.clear < self.threshold:
            raise ValueError(f"{self.id}: clear must be below threshold")
        if self.op in ("<", "<=") and self.clear is not None and not self.clear > self.threshold:
            raise ValueError(f"{self.id}: clear must be above threshold")

    def breaches(self, value) -> bool:
        op, t = self.op, self.threshold
        if op == ">=":
            return value >= t
        if op == ">":
            return value > t
        if op == "<=":
            return value <= t
        if op == "<":
            return value < t
        if op == "==":
            return value == t
        if op == "!=":
            return value != t
        raise ValueError(op)

    def safe(self, value) -> bool:
        """On the clearing side of the hysteresis band."""
        if self.clear is None:
            return not self.breaches(value)
        return value < self.clear if self.op in (">", ">=") else value > self.clear


@dataclass(frozen=True)
class RuleState:
    breaching: int = 0
    clearing: int = 0
    active: bool = False
    last_ts: int = 0
    since: int = 0  # ts when the alarm was raised

    def to_list(self) -> list:
        return [self.breaching, self.clearing, int(self.active), self.last_ts, self.since]

    @classmethod
    def from_list(cls, data) -> "RuleState":
        b, c, a, ts, since = data
        return cls(int(b), int(c), bool(a), int(ts), int(since))


@dataclass(frozen=True)
class Transition:
    kind: str  # "raised" | "cleared"
    rule: Rule
    value: Any
    ts: int


def step(rule: Rule, state: RuleState, value, ts: int) -> tuple[RuleState, Transition | None]:
    """Feed one sample of the rule's attribute; return the new state and a transition, if any."""
    if ts <= state.last_ts:
        return state, None
    if rule.breaches(value):
        breaching = state.breaching + 1
        if not state.active and breaching >= rule.for_samples:
            return RuleState(breaching, 0, True, ts, ts), Transition("raised", rule, value, ts)
        return RuleState(breaching, 0, state.active, ts, state.since), None
    if state.active and rule.safe(value):
        clearing = state.clearing + 1
        if clearing >= rule.clear_samples:
            return RuleState(0, 0, False, ts, 0), Transition("cleared", rule, value, ts)
        return RuleState(0, clearing, True, ts, state.since), None
    return RuleState(0, 0, state.active, ts, state.since), None


def _r(id, kind, attr, op, threshold, severity, zh, en, clear=None, **kw) -> Rule:
    return Rule(id, kind, attr, op, threshold, severity, zh, en, clear, **kw)


RULES: tuple[Rule, ...] = (
    _r("aqi_heavy", "air_quality", "airQualityIndex", ">", 200, "major", "空气重度污染", "Heavy air pollution", 180),
    _r("aqi_severe", "air_quality", "airQualityIndex", ">", 300, "critical", "空气严重污染", "Severe air pollution", 280),
    _r("noise_high", "noise", "LAeq", ">", 85, "minor", "噪声超标", "Noise above limit", 80),
    _r("traffic_jam", "traffic", "averageVehicleSpeed", "<", 10, "minor", "道路拥堵", "Traffic jam", 15),
    _r("streetlight_fault", "streetlight", "status", "!=", "ok", "major", "路灯故障", "Street light fault"),
    _r("manhole_displaced", "manhole", "displaced", "==", True, "critical", "井盖移位/丢失", "Manhole cover displaced"),
    _r("manhole_tilt", "manhole", "tilt", ">", 15, "major", "井盖倾斜", "Manhole cover tilted", 10),
    _r("water_level_warning", "water_level", "waterLevel", ">=", 4.2, "major", "水位超警戒", "Water level above warning line", 4.1),
    _r("water_level_danger", "water_level", "waterLevel", ">=", 4.7, "critical", "水位超保证", "Water level above danger line", 4.6),
    _r("rain_heavy", "rain_gauge", "precipitation", ">=", 30, "major", "短时强降雨", "Heavy short-duration rain", 20),
    _r("rain_extreme", "rain_gauge", "precipitation", ">=", 50, "critical", "特强降雨", "Extreme rainfall", 40),
    _r("outfall_cod", "water_quality", "cod", ">", 100, "critical", "排口COD超标", "Outfall COD above limit", 80),
    _r("outfall_ph_low", "water_quality", "pH", "<", 6, "major", "排口pH偏低", "Outfall pH too low", 6.3),
    _r("outfall_ph_high", "water_quality", "pH", ">", 9, "major", "排口pH偏高", "Outfall pH too high", 8.7),
    _r("crowd_dense", "crowd", "peopleCount", ">", 3000, "major", "人员密集", "Crowd dense", 2700),
    _r("crowd_critical", "crowd", "peopleCount", ">", 5000, "critical", "人员严重聚集", "Crowd critical", 4500),
    _r("platform_errors", "platform", "errorRate", ">", 0.05, "minor", "接口错误率高", "Interface error rate high", 0.03),
)

_BY_KIND: dict[str, tuple[Rule, ...]] = {}
for _rule in RULES:
    _BY_KIND[_rule.kind] = _BY_KIND.get(_rule.kind, ()) + (_rule,)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def rules_for(kind: str) -> tuple[Rule, ...]:
    return _BY_KIND.get(kind, ())


def evaluate(kind: str, values: dict, ts: int, states: dict[str, RuleState]) -> tuple[dict[str, RuleState], list[Transition]]:
    """Run every rule of `kind` over one sample. Returns the changed states and transitions."""
    changed: dict[str, RuleState] = {}
    transitions: list[Transition] = []
    for rule in rules_for(kind):
        if rule.attribute not in values:
            continue
        before = states.get(rule.id, RuleState())
        after, transition = step(rule, before, values[rule.attribute], ts)
        if after != before:
            changed[rule.id] = after
        if transition:
            transitions.append(transition)
    return changed, transitions
