"""Every case of the city in the web process's memory, kept in step with Redis by revision.

The case pages are read far more often than cases change: a dispatch console polls every few
seconds, the indicators of a year read 100,000 cases and their timelines. `CaseIndex` holds
- the open cases in full (the console, a department's tasks, the inspector's queues), read once
  and then changed case by case;
- the indicator facts (`ioc.domain.case_indicators.IndicatorFacts`) of every case, loaded in a
  background thread the first time the indicators are asked for, then changed case by case.

Each read costs one GET of the case revision (`ioc:{core}:cases:rev`). When it moved, only the
cases in `ioc:{core}:cases:changed` after the revision held are read again (their JSON and, when
the facts are loaded, their timelines' steps), so a reader always sees the writes made before
its request (a report filed a moment ago is in the console). A revision that went backwards,
or a new `ioc:{core}:cases:epoch` (Redis emptied, then cases filed again), makes the index start
over.

Cases that left Redis for the record (ended more than IOC_CASE_HOT_DAYS ago, `ioc.record.archive`)
keep counting in the indicators: their leaving moves the revision without a `changed` entry, so a
process that holds their facts keeps them, and the first load of a process given the `archive`
reads the facts of the archived cases from the record after Redis's.
A change costs the cases that changed, not the city: the ordered list of open cases is a copy of
the previous one with the changed cases moved in place (`bisect`; no sort of 100,000 cases), and
the ids of the open cases changed since a `generation` are kept (`open_changes_since`), so the
per-view tables built on the open cases (`ioc.views.case_table`) are updated case by case too.
"""

from __future__ import annotations

import bisect
import logging
import os
import sys
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ioc import heap
from ioc.domain.case_indicators import IndicatorFacts, indicator_facts, indicator_facts_of_record
from ioc.domain.cases import Case

from .case_store import CaseStore

log = logging.getLogger(__name__)

LOAD_BATCH = 1000  # cases read per round trip by the first load
CHANGES_KEPT = 50_000  # open-case changes remembered for `open_changes_since` (older: rebuild)


def _order(case: Case) -> tuple[int, str]:
    """The open list's order: oldest first (fixed for a case: its creation and id never change)."""
    return (case.created_at, case.id)


class CaseIndexLoading(RuntimeError):
    """The facts of every case are still being read (the first request of a process, at city scale)."""


@dataclass(frozen=True)
class CaseFacts:
    """The indicator facts of every case at one revision."""

    revision: int
    facts: tuple[IndicatorFacts, ...]


def _interned(facts: IndicatorFacts) -> IndicatorFacts:
    """The same facts with the grouping strings shared between cases (a city repeats a few dozen
    districts, departments, classes and sources over 100,000 cases)."""
    return IndicatorFacts(
        facts.id, sys.intern(facts.district), sys.intern(facts.department), sys.intern(facts.class_code),
        sys.intern(facts.source), facts.created_at, facts.updated_at, facts.closed_at, facts.due_at, facts.is_open,
        facts.dispatched_at, facts.deferral_approved_at, facts.handled_at, facts.check_failed_at,
        tuple((sys.intern(stage), entered, left) for stage, entered, left in facts.stays))


class CaseIndex:
    """One per web process, shared by every viewer (thread-safe)."""

    def __init__(self, client_of, load_wait_s: float = 20.0, archive=None):
        self._client_of = client_of  # () -> redis client
        self.archive = archive  # ioc.record.archive.CaseArchive, or None (no record: Redis holds every case)
        self.load_wait_s = load_wait_s
        self._lock = threading.Lock()
        self._revision: int | None = None  # of the open cases (and of the facts once loaded)
        self._epoch = ""
        self._open: dict[str, Case] = {}
        self._open_list: list[Case] = []
        self._open_keys: list[tuple[int, str]] = []  # _order of each of _open_list
        self._touched: dict[str, tuple[int, str]] = {}  # open cases changed since the last publish -> their _order
        self._reset_pending = True  # the open list must be made whole at the next publish
        self._generation = 0  # moves with every published change of the open cases
        self._base_generation = 0  # changes before this one are not in _changes (a reset, or too many)
        self._changes: deque[tuple[int, tuple[str, ...]]] = deque()  # (generation, ids changed to reach it)
        self._changes_count = 0
        self._facts: dict[str, IndicatorFacts] | None = None
        self._facts_view: CaseFacts | None = None
        self._facts_dirty = False
        self._loader: threading.Thread | None = None
        self._loader_pid = 0
        self._loaded = threading.Event()
        self._load_error: BaseException | None = None

    # --- what the views ask -------------------------------------------------------------------
    def open_cases(self) -> list[Case]:
        """The open cases, as of the latest revision (oldest first). Do not change the list."""
        self._sync()
        return self._open_list

    @property
    def revision(self) -> int | None:
        """The case revision the open cases are at (after `open_cases()`: the latest)."""
        return self._revision

    def open_state(self) -> tuple[list[Case], int]:
        """(the open cases as `open_cases()`, the generation they are at), as of the latest revision."""
        self._sync()
        with self._lock:
            return self._open_list, self._generation

    def open_changes_since(self, generation: int) -> tuple[int, dict[str, Case | None]] | None:
        """(the current generation, {id: the open case now, or None when it is no longer open})
        for every open case changed after `generation`; None when those changes are not known any
        more (the index started over, or too many changed): read `open_state()` whole instead.
        Call after `open_state()` / `open_cases()` (no Redis read here)."""
        with self._lock:
            if generation < self._base_generation or generation > self._generation:
                return None
            ids: set[str] = set()
            for gen, changed in reversed(self._changes):
                if gen <= generation:
                    break
                ids.update(changed)
            return self._generation, {i: self._open.get(i) for i in ids}

    def facts(self) -> CaseFacts:
        """The indicator facts of every case, as of the latest revision. The first call of a
        process starts reading them and waits up to `load_wait_s`, then raises
        `CaseIndexLoading` (ask again later); a Redis error while loading is raised to the caller."""
        if self._facts is None:
            self._start_loader()
            if not self._loaded.wait(self.load_wait_s):
                raise CaseIndexLoading("the case indicators are being prepared")
            error = self._load_error
            if error is not None:
                self._loaded.clear()
                self._load_error = None
                raise error
        self._sync()
        with self._lock:
            if self._facts_dirty and self._facts is not None:  # made when asked, not at every change
                self._facts_view = CaseFacts(self._revision or 0, tuple(self._facts.values()))
                self._facts_dirty = False
            view = self._facts_view
        if view is None:  # lost to a reset (Redis emptied) between the two lines above: read again
            return self.facts()
        return view

    # --- keeping in step ----------------------------------------------------------------------
    def _sync(self) -> None:
        store = CaseStore(self._client_of())
        revision, epoch = store.revision_and_epoch()
        if revision == self._revision and epoch == self._epoch:
            return
        with self._lock:
            if revision == self._revision and epoch == self._epoch:
                return
            if self._revision is None or revision < self._revision or epoch != self._epoch:
                self._reset(store, revision, epoch)
            else:
                self._apply(store, store.changed_since(self._revision), facts=self._facts is not None)
                self._revision = revision
            self._publish()

    def _reset(self, store: CaseStore, revision: int, epoch: str) -> None:
        if self._revision is not None:
            log.info("the cases in Redis were emptied or replaced (revision %s -> %s): reading them again",
                     self._revision, revision)
        self._open = {c.id: c for c in store.open_cases()}
        self._reset_pending = True
        self._revision, self._epoch = revision, epoch
        if self._facts is not None:  # read them again in the background
            self._facts = None
            self._facts_view = None
            self._loaded.clear()

    def _apply(self, store: CaseStore, ids: list[str], facts: bool) -> None:
        if not ids:
            return
        cases = [Case.from_dict(raw) for raw in store.raw_cases(ids)]
        steps = store.steps(c.id for c in cases) if facts else {}
        for case in cases:
            if case.is_open:
                self._open[case.id] = case
                self._touched[case.id] = _order(case)
            elif self._open.pop(case.id, None) is not None:
                self._touched[case.id] = _order(case)
            if facts and self._facts is not None:
                self._facts[case.id] = _interned(indicator_facts(case, steps.get(case.id, ())))

    def _publish(self) -> None:
        if self._reset_pending:
            ordered = sorted(self._open.values(), key=_order)
            self._open_list, self._open_keys = ordered, [_order(c) for c in ordered]
            self._generation += 1
            self._base_generation = self._generation
            self._changes.clear()
            self._changes_count = 0
            self._reset_pending = False
        elif self._touched:
            # readers may be walking the published list: change a copy, the changed cases only
            ordered, order_keys = list(self._open_list), list(self._open_keys)
            for case_id, key in self._touched.items():
                case = self._open.get(case_id)
                at = bisect.bisect_left(order_keys, key)
                present = at < len(order_keys) and order_keys[at] == key
                if case is None:
                    if present:
                        del ordered[at], order_keys[at]
                elif present:
                    ordered[at] = case
                else:
                    ordered.insert(at, case)
                    order_keys.insert(at, key)
            self._open_list, self._open_keys = ordered, order_keys
            self._generation += 1
            self._changes.append((self._generation, tuple(self._touched)))
            self._changes_count += len(self._touched)
            while self._changes and self._changes_count > CHANGES_KEPT:
                gen, dropped = self._changes.popleft()
                self._changes_count -= len(dropped)
                self._base_generation = gen
        self._touched = {}
        if self._facts is not None:
            self._facts_dirty = True

    # --- the first read of every case ---------------------------------------------------------
    def _start_loader(self) -> None:
        with self._lock:
            alive = self._loader is not None and self._loader.is_alive() and self._loader_pid == os.getpid()
            if alive or self._facts is not None:
                return
            self._loaded.clear()
            self._load_error = None
            self._loader_pid = os.getpid()
            self._loader = threading.Thread(target=self._load_facts, name="ioc-case-index", daemon=True)
            self._loader.start()

    def _load_facts(self) -> None:
        try:
            store = CaseStore(self._client_of())
            revision, epoch = store.revision_and_epoch()
            facts: dict[str, IndicatorFacts] = {}
            ids = store.ids()

            def fetch(batch: list[str]):
                records = store.raw_cases(batch)
                return records, store.steps(r["id"] for r in records)

            # a batch at a time, so only the facts stay in memory; the next batch is read while
            # this one is worked on (Redis runs the steps script meanwhile)
            batches = [ids[k:k + LOAD_BATCH] for k in range(0, len(ids), LOAD_BATCH)]
            with ThreadPoolExecutor(1, thread_name_prefix="ioc-case-index-read") as reader:
                pending = reader.submit(fetch, batches[0]) if batches else None
                for k in range(len(batches)):
                    records, steps = pending.result()
                    pending = reader.submit(fetch, batches[k + 1]) if k + 1 < len(batches) else None
                    for r in records:
                        facts[r["id"]] = _interned(indicator_facts_of_record(r, steps.get(r["id"], ())))
            if self.archive is not None:  # the cases that left Redis (those Redis still held are read above)
                for r, steps in self.archive.archived_records(set(facts)):
                    facts[r["id"]] = _interned(indicator_facts_of_record(r, steps))
            with self._lock:
                self._facts = facts
                if self._revision is None or epoch != self._epoch:
                    self._open = {c.id: c for c in store.open_cases()}
                    self._reset_pending = True
                    self._revision, self._epoch = revision, epoch
                # what changed while this was reading; the next sync brings both parts further
                self._apply(store, store.changed_since(revision), facts=True)
                self._publish()
            heap.settle(f"the indicator facts of {len(facts):,} cases")
        except SystemExit:  # a test server stopping its threads
            return
        except Exception as e:  # noqa: BLE001 - handed to the caller waiting for it
            log.warning("reading the case indicators failed: %s", e)
            self._load_error = e
        self._loaded.set()


__all__ = ["CaseFacts", "CaseIndex", "CaseIndexLoading"]
