"""Case evaluation indicators (综合评价), GB/T 30428 style, from cases and their timelines. Pure: no I/O.

All counts are for a period [start_ms, end_ms) and are taken *as of* the evaluation instant
``as_of = min(end_ms, now_ms)`` (clamped to the period), so the current, unfinished month can be
evaluated too: "in the period" means ``start_ms <= t < as_of``, a case is "open" at ``as_of`` when
it has no ``closed_at`` or was closed at or after ``as_of``, and timeline events at or after
``as_of`` are ignored. Deadlines are the case's current
``due_at`` (which moves with approved deferrals); ``closed_at <= due_at`` is on time, and a case
with no ``due_at`` (0) has no deadline: it is never overdue and its closure is on time.

Definitions (every case below is 立案 *registered*: it reached ``dispatched`` at least once
before ``as_of``; reported, rejected, voided and merged cases never count, which is how the
platforms count 应结案数 = 立案数 − 作废: in this workflow 作废 and 并案 happen before dispatch):

- 立案数 ``registered``: cases first dispatched in the period.
- 应结案数 ``due``: the cases the period answers for, each in exactly one of three groups:
  (a) closed in the period (``start <= closed_at < as_of``), whatever their deadline: the closure is
  counted once, in the period it happened, even for a case due later (or due earlier);
  (b) open at ``as_of`` and past their ``due_at`` (``due_at < as_of``): due in this period, or due
  earlier and still outstanding (应结未结 carried over), so a backlog weighs on every period
  until it is cleared and the overdue count shows every outstanding overdue case;
  (c) open at ``as_of``, not past their ``due_at``, with a deferral approved before ``as_of``:
  the cases whose deadline was moved by 延期 (they are due, and deferred).
  An open case that is not yet due and was never deferred is not due in the period.
- 延期数 ``deferred``: group (c), counted once per case however many deferrals it had. A
  deferred case that is later closed counts as closed (on time if within its moved deadline);
  one whose moved deadline passes while open counts as overdue.
- 结案数 ``closed``: group (a). 按期结案数 ``closed_on_time``: those with ``closed_at <= due_at``.
- 超期数 ``overdue``: group (b) plus the closures of group (a) after their ``due_at``.
- Rates (fractions 0..1, ``None`` when the denominator is 0), over the assessed cases
  ``due − deferred`` (= closed + open overdue):
  结案率 ``closure_rate`` = closed / (due − deferred);
  按期结案率 ``on_time_rate`` = closed_on_time / (due − deferred);
  超期率 ``overdue_rate`` = overdue / (due − deferred), so on-time rate + overdue rate = 1;
  延期率 ``deferral_rate`` = deferred / due.
- 处置数 ``handled``: cases reported handled (a ``handle`` event, reaching ``handled``) in the
  period, once per case. 返工数 ``rework``: those of them that failed a check (a ``check_fail``
  event) before ``as_of``. 返工率 ``rework_rate`` = rework / handled.
- Mean stage time ``mean_stage_hours``: for each stage, the mean length in hours of the stays in
  it (from the event that entered the stage to the event that left it) that ended in the
  period; a case that enters a stage twice (a return, a rework) contributes two stays.
  ``stage_stays`` holds how many stays each mean is over.

The timeline is the source of truth. A case with no events at all falls back to its fields:
registered if its stage is ``dispatched`` or later (at its ``created_at``), deferred if its
``deferral_count`` is positive; without a timeline it adds nothing to handled, rework or stage
times. Grouping by department uses ``Case.department``, the department a case is (or was last)
dispatched to.

Ranking (综合评价) scores each group out of 100 with `SCORE_WEIGHTS`: 按期结案率 40 %,
结案率 30 %, (1 − 返工率) 20 %, (1 − 超期率) 10 %; see `score` and `rank_departments`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .cases import ENDED, STAGES, Case, CaseEvent
from .clock import CHINA_TZ

HOUR_MS = 3_600_000
PERIOD_KINDS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")
GROUP_KEYS: tuple[str, ...] = ("district", "department", "class_code", "source")
REGISTERED_STAGES: tuple[str, ...] = ("dispatched", "handled", "checked", "closed")

# weight of each rate in the 100-point score; rework and overdue count as (1 − rate)
SCORE_WEIGHTS: dict[str, float] = {"on_time_rate": 0.4, "closure_rate": 0.3, "rework_rate": 0.2, "overdue_rate": 0.1}
INVERTED_RATES: frozenset[str] = frozenset({"rework_rate", "overdue_rate"})

FORMULAS: dict[str, dict[str, str]] = {
    "registered": {"zh": "立案数 = 本期首次派遣的案件数",
                   "en": "Registered = cases dispatched for the first time in the period"},
    "due": {"zh": "应结案数 = 本期结案数 + 期末超期未结数 + 期末延期未结数（均为已立案案件）",
            "en": "Due = closed in the period + open past due at period end + open under an approved deferral "
                  "(registered cases only)"},
    "closed": {"zh": "结案数 = 本期办结的案件数",
               "en": "Closed = cases closed in the period"},
    "closed_on_time": {"zh": "按期结案数 = 本期办结且结案时间 ≤ 结案时限的案件数",
                       "en": "Closed on time = cases closed in the period at or before their due time"},
    "deferred": {"zh": "延期数 = 期末未结、已批准延期且未超过延期后时限的案件数（每件计一次）",
                 "en": "Deferred = cases open at period end under an approved deferral, not yet past "
                       "their moved due time (once per case)"},
    "overdue": {"zh": "超期数 = 期末超期未结数 + 本期超期结案数",
                "en": "Overdue = open past due at period end + closed late in the period"},
    "handled": {"zh": "处置数 = 本期上报处置完毕的案件数",
                "en": "Handled = cases reported handled in the period"},
    "rework": {"zh": "返工数 = 处置数中核查不通过（返工）过的案件数",
               "en": "Rework = handled cases that failed a check at least once"},
    "closure_rate": {"zh": "结案率 = 结案数 ÷ (应结案数 − 延期数)",
                     "en": "Closure rate = closed ÷ (due − deferred)"},
    "on_time_rate": {"zh": "按期结案率 = 按期结案数 ÷ (应结案数 − 延期数)",
                     "en": "On-time closure rate = closed on time ÷ (due − deferred)"},
    "overdue_rate": {"zh": "超期率 = 超期数 ÷ (应结案数 − 延期数)",
                     "en": "Overdue rate = overdue ÷ (due − deferred)"},
    "deferral_rate": {"zh": "延期率 = 延期数 ÷ 应结案数",
                      "en": "Deferral rate = deferred ÷ due"},
    "rework_rate": {"zh": "返工率 = 返工数 ÷ 处置数",
                    "en": "Rework rate = rework ÷ handled"},
    "mean_stage_hours": {"zh": "环节平均用时 = 本期结束的该环节停留时长之和 ÷ 停留次数（小时）",
                         "en": "Mean stage time = total length of the stays in the stage that ended in the "
                               "period ÷ number of those stays (hours)"},
    "score": {"zh": "综合评价 = 100 × (40% × 按期结案率 + 30% × 结案率 + 20% × (1 − 返工率) + 10% × (1 − 超期率))",
              "en": "Score = 100 × (40% × on-time rate + 30% × closure rate + 20% × (1 − rework rate) "
                    "+ 10% × (1 − overdue rate))"},
}

Events = Mapping[str, Iterable[CaseEvent]] | Iterable[CaseEvent] | None


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Indicators:
    """The indicators of one group of cases for one period (see the module docstring)."""

    start_ms: int
    end_ms: int
    as_of_ms: int
    registered: int = 0
    due: int = 0
    closed: int = 0
    closed_on_time: int = 0
    deferred: int = 0
    overdue: int = 0
    handled: int = 0
    rework: int = 0
    mean_stage_hours: dict[str, float] = field(default_factory=dict)
    stage_stays: dict[str, int] = field(default_factory=dict)

    @property
    def assessed(self) -> int:
        """应结案数 − 延期数: the denominator of the closure, on-time and overdue rates."""
        return self.due - self.deferred

    @property
    def closure_rate(self) -> float | None:
        return _rate(self.closed, self.assessed)

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.closed_on_time, self.assessed)

    @property
    def overdue_rate(self) -> float | None:
        return _rate(self.overdue, self.assessed)

    @property
    def deferral_rate(self) -> float | None:
        return _rate(self.deferred, self.due)

    @property
    def rework_rate(self) -> float | None:
        return _rate(self.rework, self.handled)

    def to_dict(self) -> dict:
        return {
            "start_ms": self.start_ms, "end_ms": self.end_ms, "as_of_ms": self.as_of_ms,
            "registered": self.registered, "due": self.due, "closed": self.closed,
            "closed_on_time": self.closed_on_time, "deferred": self.deferred, "overdue": self.overdue,
            "handled": self.handled, "rework": self.rework, "assessed": self.assessed,
            "closure_rate": self.closure_rate, "on_time_rate": self.on_time_rate,
            "overdue_rate": self.overdue_rate, "deferral_rate": self.deferral_rate,
            "rework_rate": self.rework_rate,
            "mean_stage_hours": dict(self.mean_stage_hours), "stage_stays": dict(self.stage_stays),
        }


@dataclass(frozen=True, slots=True)
class IndicatorFacts:
    """What the indicators need of one case: its grouping fields, its times (ms) and what its
    timeline says. Small, so a process can hold one per case of the whole city and compute any
    period from memory; see `indicator_facts`."""

    id: str
    district: str
    department: str
    class_code: str
    source: str
    created_at: int
    updated_at: int
    closed_at: int
    due_at: int
    is_open: bool
    dispatched_at: tuple[int, ...]  # every arrival at `dispatched`
    deferral_approved_at: tuple[int, ...]
    handled_at: tuple[int, ...]
    check_failed_at: tuple[int, ...]
    stays: tuple[tuple[str, int, int], ...]  # (stage, entered, left), completed stays only


def _group_events(events: Events) -> dict[str, list[CaseEvent]]:
    grouped: dict[str, list[CaseEvent]] = {}
    if events is None:
        return grouped
    if isinstance(events, Mapping):
        for case_id, evs in events.items():
            grouped.setdefault(case_id, []).extend(evs)
    else:
        for ev in events:
            grouped.setdefault(ev.case_id, []).append(ev)
    return grouped


def _stays(created_at: int, evs: list) -> tuple[tuple[str, int, int], ...]:
    stage, since = "reported", created_at
    out = []
    for ev in evs:
        if ev.action == "report":
            stage, since = ev.to_stage or "reported", ev.at
            continue
        if ev.to_stage and ev.to_stage != stage:
            out.append((stage, since, ev.at))
            stage, since = ev.to_stage, ev.at
    return tuple(out)


def indicator_facts(case: Case, events: Iterable = ()) -> IndicatorFacts:
    """The facts of `case` from its timeline. `events` are the case's events in any order, each
    with `action`, `from_stage`, `to_stage` and `at` (a `CaseEvent`, or any object with those)."""
    return _facts((case.id, case.district, case.department, case.class_code, case.source, case.created_at,
                   case.updated_at, case.closed_at, case.due_at, case.is_open), case.stage, case.deferral_count, events)


def indicator_facts_of_record(record: Mapping, events: Iterable = ()) -> IndicatorFacts:
    """`indicator_facts` of a case given as its stored dict (`Case.to_dict()`), without building
    the `Case`: what a process that reads every case of the city uses."""
    stage = record.get("stage", "reported")
    return _facts((record["id"], record.get("district", ""), record.get("department", ""), record.get("class_code", ""),
                   record.get("source", ""), record.get("created_at", 0), record.get("updated_at", 0),
                   record.get("closed_at", 0), record.get("due_at", 0), stage not in ENDED),
                  stage, record.get("deferral_count", 0), events)


def _facts(fields: tuple, stage: str, deferral_count: int, events: Iterable) -> IndicatorFacts:
    evs = sorted(events, key=lambda e: e.at)  # stable: same-millisecond events keep their order
    created_at = fields[5]
    if not evs:
        registered = stage in REGISTERED_STAGES or bool(fields[7])
        return IndicatorFacts(*fields, (created_at,) if registered else (), (created_at,) if deferral_count > 0 else (),
                              (), (), ())
    return IndicatorFacts(
        *fields,
        tuple(e.at for e in evs if e.to_stage == "dispatched" and e.from_stage != "dispatched"),
        tuple(e.at for e in evs if e.action == "approve_deferral"),
        tuple(e.at for e in evs if e.action == "handle"),
        tuple(e.at for e in evs if e.action == "check_fail"),
        _stays(created_at, evs),
    )


def as_of_now(now_ms: int) -> int:
    """The `now_ms` to evaluate a request made at clock reading `now_ms` (epoch ms) with: the end
    of that millisecond. Events are stamped with the clock's millisecond and "as of" is exclusive,
    so a closure committed just before the request but in the same millisecond would otherwise be
    left out: a reader must see the writes made before its request."""
    return now_ms + 1


def _as_of(start_ms: int, end_ms: int, now_ms: int | None) -> int:
    if end_ms <= start_ms:
        raise ValueError(f"the period must end after it starts (start {start_ms}, end {end_ms})")
    as_of = end_ms if now_ms is None else min(end_ms, now_ms)
    return max(start_ms, as_of)


class _Tally:
    """The running counts of one group while the facts are walked once."""

    __slots__ = ("registered", "due", "closed", "on_time", "deferred", "overdue", "handled", "rework", "stay_ms", "stay_n")

    def __init__(self):
        self.registered = self.due = self.closed = self.on_time = self.deferred = self.overdue = 0
        self.handled = self.rework = 0
        self.stay_ms: dict[str, int] = {}
        self.stay_n: dict[str, int] = {}

    def result(self, start_ms: int, end_ms: int, as_of: int) -> Indicators:
        order = {s: i for i, s in enumerate(STAGES)}
        stages = sorted(self.stay_n, key=lambda s: (order.get(s, len(order)), s))
        return Indicators(start_ms, end_ms, as_of, self.registered, self.due, self.closed, self.on_time, self.deferred,
                          self.overdue, self.handled, self.rework,
                          {s: self.stay_ms[s] / self.stay_n[s] / HOUR_MS for s in stages},
                          {s: self.stay_n[s] for s in stages})


def _add(tallies: list[_Tally], f: IndicatorFacts, start_ms: int, as_of: int) -> None:
    """Count one case's facts into every tally in `tallies` (the city and its groups)."""
    for stage, entered, left in f.stays:
        if start_ms <= left < as_of:
            for t in tallies:
                t.stay_ms[stage] = t.stay_ms.get(stage, 0) + (left - entered)
                t.stay_n[stage] = t.stay_n.get(stage, 0) + 1
    if any(start_ms <= x < as_of for x in f.handled_at):
        reworked = any(x < as_of for x in f.check_failed_at)
        for t in tallies:
            t.handled += 1
            t.rework += reworked
    if not f.dispatched_at or min(f.dispatched_at) >= as_of:
        return  # not registered (yet)
    registered = start_ms <= min(f.dispatched_at)
    counts = None  # which of the due groups the case is in, if any
    if f.closed_at and start_ms <= f.closed_at < as_of:
        counts = "on_time" if not f.due_at or f.closed_at <= f.due_at else "late"
    elif f.closed_at and f.closed_at < start_ms:
        counts = "before"  # closed before the period: counted in its own period
    elif f.due_at and f.due_at < as_of:
        counts = "overdue"
    elif any(x < as_of for x in f.deferral_approved_at):
        counts = "deferred"
    for t in tallies:
        t.registered += registered
        if counts is None or counts == "before":
            continue
        t.due += 1
        if counts == "on_time":
            t.closed += 1
            t.on_time += 1
        elif counts == "late":
            t.closed += 1
            t.overdue += 1
        elif counts == "overdue":
            t.overdue += 1
        else:
            t.deferred += 1


def indicators_of(facts: Iterable[IndicatorFacts], start_ms: int, end_ms: int, now_ms: int | None = None,
                  by: Iterable[str] = ()) -> tuple[Indicators, dict[str, dict[str, Indicators]]]:
    """The indicators of all `facts` for [start_ms, end_ms) as of min(end_ms, now_ms), and, in the
    same single pass, per value of each key in `by` (district, department, class_code, source;
    each dict sorted by value, empty values left out, as in `indicators_by`)."""
    by = tuple(by)
    for key in by:
        if key not in GROUP_KEYS:
            raise ValueError(f"cannot group cases by {key!r}; group by one of {', '.join(GROUP_KEYS)}")
    as_of = _as_of(start_ms, end_ms, now_ms)
    city = _Tally()
    groups: dict[str, dict[str, _Tally]] = {key: {} for key in by}
    for f in facts:
        if f.created_at >= end_ms or (not f.is_open and max(f.updated_at, f.closed_at) < start_ms):
            continue  # reported after the period, or ended before it: it adds nothing (a shortcut)
        tallies = [city]
        for key in by:
            value = getattr(f, key)
            if value:
                tally = groups[key].get(value)
                if tally is None:
                    tally = groups[key][value] = _Tally()
                tallies.append(tally)
        _add(tallies, f, start_ms, as_of)
    return (city.result(start_ms, end_ms, as_of),
            {key: {value: groups[key][value].result(start_ms, end_ms, as_of) for value in sorted(groups[key])} for key in by})


def indicators(cases: Iterable[Case], events: Events, start_ms: int, end_ms: int,
               now_ms: int | None = None) -> Indicators:
    """The indicators of all `cases` for the period [start_ms, end_ms), as of min(end_ms, now_ms).

    `events` is the cases' timelines: a dict case id -> events, or one flat list of events.
    """
    _as_of(start_ms, end_ms, now_ms)
    grouped = _group_events(events)
    return indicators_of((indicator_facts(c, grouped.get(c.id, ())) for c in cases), start_ms, end_ms, now_ms)[0]


def indicators_by(cases: Iterable[Case], events: Events, key: str, start_ms: int, end_ms: int,
                  now_ms: int | None = None) -> dict[str, Indicators]:
    """The indicators per value of `key` (district, department, class_code or source), sorted by
    that value. Cases whose value is empty (a case never dispatched has no department) are left
    out."""
    if key not in GROUP_KEYS:
        raise ValueError(f"cannot group cases by {key!r}; group by one of {', '.join(GROUP_KEYS)}")
    _as_of(start_ms, end_ms, now_ms)
    grouped = _group_events(events)
    return indicators_of((indicator_facts(c, grouped.get(c.id, ())) for c in cases), start_ms, end_ms, now_ms, by=(key,))[1][key]


def period_bounds(kind: str, at_ms: int, offset: int = 0) -> tuple[int, int]:
    """[start_ms, end_ms) of the day, week (Monday first), month, quarter or year that contains
    `at_ms`, in China time (UTC+8); `offset` moves by whole periods (−1: the one before)."""
    if kind not in PERIOD_KINDS:
        raise ValueError(f"unknown period {kind!r}; periods are {', '.join(PERIOD_KINDS)}")
    local = datetime.fromtimestamp(at_ms / 1000, CHINA_TZ)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind in ("day", "week"):
        days = 1 if kind == "day" else 7
        start = day - timedelta(days=local.weekday() if kind == "week" else 0) + timedelta(days=days * offset)
        end = start + timedelta(days=days)
    else:
        months = {"month": 1, "quarter": 3, "year": 12}[kind]
        first = (local.month - 1) // months * months + months * offset  # months since January of local.year
        start = _month_start(local.year, first)
        end = _month_start(local.year, first + months)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _month_start(year: int, months_after_january: int) -> datetime:
    y, m = divmod(months_after_january, 12)
    return datetime(year + y, m + 1, 1, tzinfo=CHINA_TZ)


def score(ind: Indicators, weights: Mapping[str, float] = SCORE_WEIGHTS) -> float | None:
    """The 综合评价 score out of 100, rounded to 2 decimals: the weighted sum of the rates in
    `weights` (rework and overdue as 1 − rate). None when the group has no assessed due cases
    (due − deferred = 0). A group that handled nothing in the period has no rework rate and
    counts as rework-free."""
    if not ind.assessed:
        return None
    total = 0.0
    for name, weight in weights.items():
        value = getattr(ind, name)
        if name in INVERTED_RATES:
            value = 1.0 - (value or 0.0)
        total += weight * (value or 0.0)
    return round(100 * total, 2)


@dataclass(frozen=True)
class Ranked:
    """One line of the ranking: `rank` 1 is best; equal scores share a rank (1, 2, 2, 4)."""

    rank: int | None
    key: str
    score: float | None
    indicators: Indicators

    def to_dict(self) -> dict:
        return {"rank": self.rank, "key": self.key, "score": self.score, "indicators": self.indicators.to_dict()}


def rank_departments(groups: Mapping[str, Indicators], weights: Mapping[str, float] = SCORE_WEIGHTS) -> list[Ranked]:
    """Rank groups (usually `indicators_by(..., key="department", ...)`) by `score`, best first.

    Equal scores share a rank (并列) and are listed by key; the next rank skips the tied places.
    Groups with no score (no assessed due cases) come last, by key, with rank and score None.
    """
    scored = [(score(ind, weights), key, ind) for key, ind in groups.items()]
    ranked = sorted((s for s in scored if s[0] is not None), key=lambda s: (-s[0], s[1]))
    out: list[Ranked] = []
    for place, (value, key, ind) in enumerate(ranked, 1):
        rank = out[-1].rank if out and out[-1].score == value else place
        out.append(Ranked(rank, key, value, ind))
    out.extend(Ranked(None, key, None, ind) for _, key, ind in sorted((s for s in scored if s[0] is None),
                                                                       key=lambda s: s[1]))
    return out
