"""The open cases as columns, for the case views at city scale (100,000 open cases).

The dispatch console, the inspector's queues and a department's tasks each pick a few dozen to a
few hundred cases out of every open case of the city, by a filter and an order. Walking 100,000
`Case` objects in Python for each request costs hundreds of milliseconds; `OpenCaseTable` holds
the fields those views filter and sort on as numpy columns (stage, district, source, class,
urgency, department, deadline, creation, acknowledgement, position), so a request costs a few
vectorised comparisons over the columns and a sort of the cases it shows.

The table is made once from the open cases and then changed case by case (`update`), as the
case index reports changes; a freed row is reused. Every answer is the same as the list
functions of `ioc.views.cases` and `ioc.views.field` give (`filter_cases`, `inspection_queue`,
`department_tasks`, `task_counts`), which stay the definition; the unit tests compare them.

No I/O: plain values in, plain values out.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ioc.domain.cases import OPEN_STAGES, Case

from .field import EARTH_RADIUS_M, QUEUES, _by_deadline, distance_m

_NO_DEADLINE = np.int64(2**62)  # sorts after every real deadline


def _pressing(c: Case) -> tuple:
    """The console's order (`filter_cases`): least time left first, then without a limit, newest first."""
    return (0, c.stage_deadline, c.id) if c.stage_deadline else (1, -c.created_at, c.id)


@dataclass(frozen=True)
class ConsoleSelection:
    """What the console shows for one set of filters."""

    matching: int  # open cases matching every filter but the stage card
    stage_counts: dict[str, int]  # of those, per open stage
    overdue: int  # of those, overdue now
    total: int  # of those, in the stage card picked (all of them without one)
    shown: list[Case]  # the first `limit` of `total`, most pressing first


class _Codes:
    """Small integer codes for the strings of one column (0: the empty string)."""

    def __init__(self):
        self.code: dict[str, int] = {"": 0}
        self.names: list[str] = [""]

    def of(self, value: str) -> int:
        code = self.code.get(value)
        if code is None:
            code = self.code[value] = len(self.names)
            self.names.append(value)
        return code

    def get(self, value: str) -> int:
        return self.code.get(value, -1)


def _locked(method):
    """A query run under the table's lock (an update in another thread waits for it)."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return run


_COLUMNS = ("stage", "district", "source", "klass", "department", "urgent", "acknowledged", "deadline", "created",
            "pressing", "lat", "lon", "used")


def _pressing_rank(deadline, created):
    """`_pressing` as a number (up to ties): the deadline, or after every deadline the newest first."""
    return np.where(deadline > 0, deadline, _NO_DEADLINE - created)


class OpenCaseTable:
    """The open cases as columns; one per web process. Queries and `update` take the table's lock."""

    def __init__(self, cases: Iterable[Case] = (), generation: int = 0):
        self.generation = generation
        self._lock = threading.RLock()
        self._stage, self._district, self._source = _Codes(), _Codes(), _Codes()
        self._class, self._department = _Codes(), _Codes()
        for stage in OPEN_STAGES:
            self._stage.of(stage)
        cases = list(cases)
        self._cases: list[Case | None] = cases
        self._slot: dict[str, int] = {c.id: k for k, c in enumerate(cases)}
        self._free: list[int] = []
        n = len(cases)
        self.stage = np.fromiter((self._stage.of(c.stage) for c in cases), np.int16, n)
        self.district = np.fromiter((self._district.of(c.district) for c in cases), np.int32, n)
        self.source = np.fromiter((self._source.of(c.source) for c in cases), np.int32, n)
        self.klass = np.fromiter((self._class.of(c.class_code) for c in cases), np.int32, n)
        self.department = np.fromiter((self._department.of(c.department) for c in cases), np.int32, n)
        self.urgent = np.fromiter((bool(c.urgent) for c in cases), np.bool_, n)
        self.acknowledged = np.fromiter((bool(c.acknowledged_at) for c in cases), np.bool_, n)
        self.deadline = np.fromiter((c.stage_deadline or 0 for c in cases), np.int64, n)
        self.created = np.fromiter((c.created_at for c in cases), np.int64, n)
        self.pressing = _pressing_rank(self.deadline, self.created)  # the console's order, kept with the cases
        self.lat = np.fromiter((c.lat for c in cases), np.float64, n)
        self.lon = np.fromiter((c.lon for c in cases), np.float64, n)
        self.used = np.ones(n, np.bool_)

    def __len__(self) -> int:
        return len(self._slot)

    # --- keeping in step ----------------------------------------------------------------------
    def update(self, changed: Mapping[str, Case | None], generation: int) -> "OpenCaseTable":
        """Apply `changed` ({id: the open case now, or None: no longer open}) in place, under the
        table's lock (a query in another thread sees the table before or after, never half);
        returns the table."""
        with self._lock:
            grow = sum(1 for i, c in changed.items() if c is not None and i not in self._slot) - len(self._free)
            if grow > 0:
                self._grow(max(grow, len(self._cases) // 4, 64))
            for case_id, case in changed.items():
                slot = self._slot.get(case_id)
                if case is None:
                    if slot is not None:
                        del self._slot[case_id]
                        self._cases[slot] = None
                        self.used[slot] = False
                        self._free.append(slot)
                    continue
                if slot is None:
                    slot = self._free.pop()
                    self._slot[case_id] = slot
                self._put(slot, case)
            self.generation = generation
        return self

    def _grow(self, extra: int) -> None:
        """`extra` free rows at the end of every column."""
        for name in _COLUMNS:
            column = getattr(self, name)
            setattr(self, name, np.concatenate([column, np.zeros(extra, column.dtype)]))
        start = len(self._cases)
        self._cases.extend([None] * extra)
        self._free.extend(range(start + extra - 1, start - 1, -1))  # popped from the end: lowest first

    def _put(self, slot: int, c: Case) -> None:
        self._cases[slot] = c
        self.stage[slot] = self._stage.of(c.stage)
        self.district[slot] = self._district.of(c.district)
        self.source[slot] = self._source.of(c.source)
        self.klass[slot] = self._class.of(c.class_code)
        self.department[slot] = self._department.of(c.department)
        self.urgent[slot] = bool(c.urgent)
        self.acknowledged[slot] = bool(c.acknowledged_at)
        self.deadline[slot] = c.stage_deadline or 0
        self.created[slot] = c.created_at
        self.pressing[slot] = _pressing_rank(self.deadline[slot], self.created[slot])
        self.lat[slot], self.lon[slot] = c.lat, c.lon
        self.used[slot] = True

    # --- helpers ------------------------------------------------------------------------------
    def _cases_at(self, slots) -> list[Case]:
        cases = self._cases
        return [cases[k] for k in slots.tolist()]

    def _first(self, slots: np.ndarray, rank: np.ndarray, limit: int | None, key) -> list[Case]:
        """The cases of `slots` in the order `key` (exact), the first `limit` of them; `rank` is
        a number per slot that orders them as `key` does up to ties (the candidates are cut by
        it, and the cases tied at the cut are ordered by `key`)."""
        if limit is not None and len(slots) > limit:
            bound = rank[np.argpartition(rank, limit - 1)[limit - 1]]
            below = rank < bound
            first = self._ordered(slots[below], rank[below], key)
            first.extend(sorted(self._cases_at(slots[rank == bound]), key=key)[:limit - len(first)])
            return first
        return self._ordered(slots, rank, key)

    def _ordered(self, slots: np.ndarray, rank: np.ndarray, key) -> list[Case]:
        """The cases of `slots` in the order `key`: sorted by `rank` in numpy, then each run of
        equal ranks (rare: the same deadline to the millisecond) by `key` in Python."""
        order = np.argsort(rank, kind="stable")
        cases = self._cases_at(slots[order])
        ranks = rank[order]
        starts = np.flatnonzero(ranks[1:] == ranks[:-1])  # k where case k+1 ties with case k
        if len(starts):
            run_ends = np.flatnonzero(np.diff(starts) != 1)
            for a, b in zip(np.r_[starts[0], starts[run_ends + 1]].tolist(), np.r_[starts[run_ends], starts[-1]].tolist()):
                cases[a:b + 2] = sorted(cases[a:b + 2], key=key)
        return cases

    def _stage_code(self, stage: str) -> int:
        return self._stage.get(stage)

    # --- the dispatch console -----------------------------------------------------------------
    @_locked
    def console(self, now_ms: int, stage: str = "", district: str = "", class_code: str = "", source: str = "",
                urgency: str = "", overdue_only: bool = False, limit: int | None = None) -> ConsoleSelection:
        """The console's counts and rows, as `filter_cases` (the stage card apart: the counts are
        of the cases matching the other filters) and the first `limit` rows."""
        mask = self.used.copy()
        if district:
            mask &= self.district == self._district.get(district)
        if source:
            mask &= self.source == self._source.get(source)
        if class_code:
            codes = [k for k, name in enumerate(self._class.names) if name and name.startswith(class_code)]
            mask &= np.isin(self.klass, np.array(codes, np.int32)) if codes else False
        if urgency == "urgent":
            mask &= self.urgent
        elif urgency == "ordinary":
            mask &= ~self.urgent
        late = (self.deadline > 0) & (self.deadline < now_ms)
        if overdue_only:
            mask &= late
        stages = np.bincount(self.stage[mask], minlength=len(self._stage.names))
        counts = {s: int(stages[self._stage.get(s)]) for s in OPEN_STAGES}
        matching = int(np.count_nonzero(mask))
        overdue = int(np.count_nonzero(mask & late))
        if stage:
            mask &= self.stage == self._stage.get(stage)
        slots = np.flatnonzero(mask)
        return ConsoleSelection(matching, counts, overdue, len(slots), self._first(slots, self.pressing[slots], limit, _pressing))

    # --- the field pages ----------------------------------------------------------------------
    @_locked
    def inspection_queue(self, queue: str, position: dict | None, limit: int | None = None) -> tuple[int, list[Case]]:
        """(the queue's length, its first `limit` cases) as `ioc.views.field.inspection_queue`."""
        slots = np.flatnonzero(self.used & (self.stage == self._stage_code(QUEUES[queue])))
        total = len(slots)
        if position is None:
            return total, self._first(slots, self._deadline_rank(slots), limit, _by_deadline)
        lat, lon = position["lat"], position["lon"]
        # the candidates by the vectorised distance (a metre of slack for rounding), then exactly
        if limit is not None and total > limit:
            metres = _distances(lat, lon, self.lat[slots], self.lon[slots])
            bound = np.partition(metres, limit - 1)[limit - 1] + 1.0
            slots = slots[metres <= bound]
        cases = sorted(self._cases_at(slots), key=lambda c: (distance_m(lat, lon, c.lat, c.lon),) + _by_deadline(c))
        return total, cases[:limit]

    @_locked
    def queue_length(self, queue: str) -> int:
        """How many cases the inspector's queue holds."""
        return int(np.count_nonzero(self.used & (self.stage == self._stage_code(QUEUES[queue]))))

    def _deadline_rank(self, slots: np.ndarray) -> np.ndarray:
        """`_by_deadline` as a number: the deadline, or after every deadline the oldest first."""
        deadline = self.deadline[slots]
        return np.where(deadline > 0, deadline, _NO_DEADLINE + self.created[slots])

    @_locked
    def department_tasks(self, department: str, limit: int | None = None) -> tuple[int, list[Case]]:
        """(how many, the first `limit`) of `ioc.views.field.department_tasks`."""
        code = self._department.get(department) if department else -1
        slots = np.flatnonzero(self.used & (self.department == code) & (self.stage == self._stage_code("dispatched")))
        return len(slots), self._first(slots, self._deadline_rank(slots), limit, _by_deadline)

    @_locked
    def task_counts(self, department: str, now_ms: int) -> dict[str, int]:
        """`ioc.views.field.task_counts`."""
        code = self._department.get(department) if department else -1
        mine = self.used & (self.department == code)
        tasks = mine & (self.stage == self._stage_code("dispatched"))
        late = (self.deadline > 0) & (self.deadline < now_ms)
        return {"open": int(tasks.sum()), "overdue": int((tasks & late).sum()),
                "unacked": int((tasks & ~self.acknowledged).sum()),
                "handled": int((mine & (self.stage == self._stage_code("handled"))).sum())}


def _distances(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle distances in metres (haversine), as `ioc.views.field.distance_m` to rounding."""
    p1, p2 = math.radians(lat), np.radians(lats)
    dp, dl = p2 - p1, np.radians(lons - lon)
    a = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


__all__ = ["ConsoleSelection", "OpenCaseTable"]
