"""What every scenario of the harness reports: measurements (one figure each, with its target
when the issue sets one) and series (the points a plot draws)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

# Order matters: the baseline first (ingest reports a ratio to it); views and viewers are
# written by another module family and run late; events (linked events, issue 15) after them: it
# reuses the city the views seeded; then the field work of issue 16: uploads (the same city) and
# notify (the notifier alone against the local receivers); rewind, indicators and recorder (issue 17) on a PostgreSQL of
# their own (the recorder's with the seeded city and the ingest at 20,000 msg/s).
SCENARIOS = ("baseline", "ingest", "latency", "memory", "cluster", "views", "viewers", "events", "uploads", "notify", "rewind",
             "indicators", "recorder")
OPTIONAL = ("views", "viewers")


@dataclass
class Measurement:
    scenario: str  # "ingest", "latency", "views", "viewers", "memory", "cluster", "baseline"
    name: str  # what was measured, e.g. "refresh callback p95"
    value: float
    unit: str  # "msg/s", "ms", "KB", "bytes", "%", "s", "ratio"
    target: str = ""  # the target as text, e.g. "≤ 40 ms"; empty when none is set
    passed: bool | None = None  # None when there is no target
    detail: dict = field(default_factory=dict)  # runs, spread, CPU per process, anything worth keeping

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Series:
    """Points for one line of one plot; the plot file is docs/perf-<plot>.png."""
    plot: str  # e.g. "throughput", "latency", "callbacks"
    label: str  # legend label
    x: list
    y: list
    xlabel: str
    ylabel: str
    kind: str = "line"  # "line" or "bar"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ScenarioResult:
    measurements: list[Measurement] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)


Progress = Callable[[str], None]  # the harness prints these as the run goes


def at_most(value: float, limit: float) -> bool:
    return value <= limit


def at_least(value: float, limit: float) -> bool:
    return value >= limit
