"""Scripted scenarios and random faults (pure: functions of time that modify readings).

Scenarios run on simulated time (see `--speed`); each has an envelope that rises from 0 to 1,
holds, and falls back, and pulls its target devices' readings towards the scenario's extreme:

- `rainstorm`: the rain gauges go up to 40–90 mm/h within 4 simulated minutes (heavy-rain alarms
  at 30 and 50 mm/h) and pour for 8 more; every water level rises past 4.2 m (major) then 4.7 m
  (critical) within ~10 minutes, manholes fill up, then everything recedes.
- `discharge`: one enterprise outfall: COD far above 100 mg/L and pH below 6 for a few minutes.
- `crowd`: the counter at 暨阳湖 (or 步行街) surges past 5,000 people, then disperses.

Faults run on the publishing clock (seconds since start). They arrive as a seeded Poisson
process whose rate is given per hour per 1,000 devices: device outages (offline, silent,
back with a new birth), street-light lamp faults, displaced manhole covers and error bursts
of a platform system.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .patterns import smooth

SCENARIOS = ("rainstorm", "discharge", "crowd")


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    start_min: float = 1.0  # simulated minutes after the simulation start

    @classmethod
    def parse(cls, text: str) -> "ScenarioSpec":
        """`rainstorm` or `rainstorm@5` (five minutes after start)."""
        name, _, minutes = text.partition("@")
        name = name.strip().lower()
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
        try:
            start = float(minutes) if minutes else 1.0
        except ValueError:
            raise ValueError(f"scenario start must be minutes, got {minutes!r}") from None
        if start < 0:
            raise ValueError("scenario start must not be negative")
        return cls(name, start)


class Scenario:
    """A bound scenario: absolute simulated start, envelope, target device indices."""

    name = ""
    rise_s = hold_s = fall_s = 0.0

    def __init__(self, start: float, targets: frozenset[int], summary: str):
        self.start = start
        self.end = start + self.rise_s + self.hold_s + self.fall_s
        self.targets = targets
        self.summary = summary

    def envelope(self, t: float) -> float:
        """0 outside the scenario, rising to 1, holding, falling back to 0."""
        x = t - self.start
        if x <= 0.0 or t >= self.end:
            return 0.0
        if x < self.rise_s:
            return x / self.rise_s
        x -= self.rise_s
        if x < self.hold_s:
            return 1.0
        return max(0.0, 1.0 - (x - self.hold_s) / self.fall_s)

    def apply(self, device, t: float, values: dict) -> None:
        r = self.envelope(t)
        if r > 0.0:
            self._modify(device, r, values)

    def _modify(self, device, r: float, values: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class Rainstorm(Scenario):
    name = "rainstorm"
    rise_s, hold_s, fall_s = 600.0, 300.0, 720.0
    # the rain comes first: up to its peak in 4 minutes, pouring for 8, easing off over 10
    rain_rise_s, rain_hold_s, rain_fall_s = 240.0, 480.0, 600.0

    def rain_envelope(self, t: float) -> float:
        x = t - self.start
        if x <= 0.0:
            return 0.0
        if x < self.rain_rise_s:
            return x / self.rain_rise_s
        x -= self.rain_rise_s
        if x < self.rain_hold_s:
            return 1.0
        return max(0.0, 1.0 - (x - self.rain_hold_s) / self.rain_fall_s)

    def apply(self, device, t: float, values: dict) -> None:
        if device.kind == "rain_gauge":
            r = self.rain_envelope(t)
            if r > 0.0:
                peak = 40.0 + 50.0 * device.q  # 40–90 mm/h, the cells heavier over some gauges
                gust = 1.0 + 0.08 * smooth(device.key, t, 90.0)
                values["precipitation"] = round(max(values["precipitation"], r * peak * gust), 1)
            return
        super().apply(device, t, values)

    def _modify(self, device, r, values):
        if device.kind == "water_level":
            level = values["waterLevel"]
            peak = 4.9 + 0.3 * device.q
            values["waterLevel"] = round(level + r * (peak - level), 3)
            values["flowRate"] = round(values["flowRate"] * (1.0 + 0.8 * r), 2)
        elif device.kind == "manhole":
            values["waterDepth"] = round(min(10.0, values["waterDepth"] + r * (1.0 + 1.2 * device.p)), 2)


class Discharge(Scenario):
    name = "discharge"
    rise_s, hold_s, fall_s = 60.0, 240.0, 120.0

    def _modify(self, device, r, values):
        values["cod"] = round(values["cod"] + r * (185.0 + 60.0 * device.q - values["cod"]), 1)
        values["pH"] = round(values["pH"] + r * (5.2 - values["pH"]), 2)
        values["NH4"] = round(values["NH4"] + r * 18.0, 2)
        values["turbidity"] = round(values["turbidity"] + r * 150.0, 1)


class Crowd(Scenario):
    name = "crowd"
    rise_s, hold_s, fall_s = 480.0, 300.0, 480.0

    def _modify(self, device, r, values):
        count = int(values["peopleCount"] + r * (6300 - values["peopleCount"]))
        values["peopleCount"] = count
        values["congested"] = values["congested"] or r > 0.3


def bind(spec: ScenarioSpec, fleet, sim_start: float) -> Scenario:
    """Pick the scenario's targets in `fleet`; `sim_start` is the simulation's start (epoch s)."""
    start = sim_start + spec.start_min * 60.0
    if spec.name == "rainstorm":
        levels = [d for d in fleet.devices if d.kind == "water_level"]
        gauges = [d for d in fleet.devices if d.kind == "rain_gauge"]
        manholes = [d for d in fleet.devices if d.kind == "manhole"]
        targets = frozenset(d.index for d in levels + gauges + manholes)
        return Rainstorm(start, targets, f"{len(gauges)} rain gauges, {len(levels)} water levels, {len(manholes)} manholes")
    if spec.name == "discharge":
        outfalls = [d for d in fleet.devices if d.kind == "water_quality"]
        target = random.Random(fleet.seed ^ 0xD15C).choice(outfalls)
        return Discharge(start, frozenset((target.index,)), f"outfall {target.id} ({target.name})")
    if spec.name == "crowd":
        target = crowd_target(fleet)
        return Crowd(start, frozenset((target.index,)), f"counter {target.id} ({target.name})")
    raise ValueError(spec.name)


def crowd_target(fleet):
    counters = [d for d in fleet.devices if d.kind == "crowd"]
    for venue in ("暨阳湖", "步行街"):
        for d in counters:
            if d.extra.get("venue") == venue:
                return d
    return max(counters, key=lambda d: d.extra.get("capacity", 0))


# --------------------------------------------------------------------------- faults

FAULT_KINDS = ("outage", "lamp", "manhole", "platform")
_FAULT_WEIGHTS = (0.4, 0.25, 0.15, 0.2)
_DURATIONS = {"outage": (60.0, 600.0), "lamp": (900.0, 3600.0), "manhole": (240.0, 900.0), "platform": (60.0, 240.0)}
_LAMP_STATES = ("defectiveLamp", "brokenLantern", "columnIssue")


@dataclass(frozen=True)
class Fault:
    kind: str
    device: int  # device index
    start: float  # seconds since the simulation start (publishing clock)
    end: float
    u: float  # fault-specific random parameter in [0, 1)


class FaultPlan:
    """Seeded stream of faults, generated lazily in time order."""

    def __init__(self, fleet, seed: int, rate_per_hour_per_1000: float):
        self.rng = random.Random(seed ^ 0xFA17)
        per_s = rate_per_hour_per_1000 * len(fleet.devices) / 1000.0 / 3600.0
        self.rate = per_s
        self.pools = {
            "outage": [d.index for d in fleet.devices if d.kind != "platform"],
            "lamp": [d.index for d in fleet.devices if d.kind == "streetlight"],
            "manhole": [d.index for d in fleet.devices if d.kind == "manhole"],
            "platform": [d.index for d in fleet.devices if d.kind == "platform"],
        }
        self.next_start = self.rng.expovariate(per_s) if per_s > 0 else float("inf")

    def pop_due(self, t: float) -> list[Fault]:
        """The faults that start at or before `t` (each call continues where the last ended)."""
        out = []
        while self.next_start <= t:
            start = self.next_start
            kind = self.rng.choices(FAULT_KINDS, _FAULT_WEIGHTS)[0]
            pool = self.pools[kind] or self.pools["outage"]
            kind = kind if self.pools[kind] else "outage"
            lo, hi = _DURATIONS[kind]
            out.append(Fault(kind, self.rng.choice(pool), start, start + self.rng.uniform(lo, hi), self.rng.random()))
            self.next_start = start + self.rng.expovariate(self.rate)
        return out


def apply_fault(fault: Fault, values: dict) -> None:
    """Modify one reading of the faulted device (outages publish nothing at all)."""
    kind = fault.kind
    if kind == "lamp":
        state = _LAMP_STATES[int(fault.u * len(_LAMP_STATES))]
        values["status"] = state
        if state != "columnIssue":
            values["powerState"] = "off"
            values["illuminanceLevel"] = 0.0
    elif kind == "manhole":
        values["displaced"] = True
        values["tilt"] = round(20.0 + 50.0 * fault.u, 2)
    elif kind == "platform":
        calls = values["calls"]
        rate = 0.08 + 0.25 * fault.u
        errors = min(calls, int(calls * rate) + 1)
        values["errors"] = errors
        values["errorRate"] = round(errors / calls, 4)
        values["latencyMs"] = round(values["latencyMs"] * (3.0 + 3.0 * fault.u), 1)
        values["interfacesUp"] = max(0, values["interfacesUp"] - 1 - int(3 * fault.u))


def describe_fault(fault: Fault, device) -> str:
    what = {
        "outage": "goes offline",
        "lamp": "lamp fault",
        "manhole": "cover displaced",
        "platform": "error burst",
    }[fault.kind]
    return f"fault: {device.id} ({device.name}) {what} for {fault.end - fault.start:.0f}s"
