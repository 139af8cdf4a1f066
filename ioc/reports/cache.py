"""The computed indicators of each period, per process, kept fresh in the background.

The `/indicators` page's callback must answer in milliseconds at a million cases, so it never
computes them itself: it asks `IndicatorCache.get(start, end, now)`, a dictionary lookup. A
period asked for the first time is computed by the cache's background thread (the callback says
"being prepared") and kept; the thread then wakes every `interval_s`, asks its source for the
facts' revision and recomputes the periods viewed in the last `keep_s` whose key changed: the
revision, or, for a period not over yet, the minute of its "as of". Meanwhile the last figures
stand.

Two sources: the record (`RecordSource`, with DATABASE_URL: pandas over the record's fact rows,
`ioc.reports.indicators`) and, without a record, the process's Redis case index (`IndexSource`:
`ioc.domain.case_indicators.indicators_of` over its facts; the index's first load is waited for in
the background too). Several web workers each hold their own cache; the source answers their few
computations (one per viewed period per change), not one per viewer.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from contextlib import contextmanager

from ioc.adapters.case_index import CaseIndexLoading
from ioc.domain.case_indicators import as_of_now, indicators_of
from ioc.record.db import connection

from .indicators import indicators_of_record, refresh_facts, revision

log = logging.getLogger(__name__)


class RecordSource:
    """The record's case facts (refreshed from the case tables at each round)."""

    def __init__(self, url: str):
        self.url = url

    @contextmanager
    def round(self):
        """(revision, compute(start, end, now_ms, by)) for one round of recomputations."""
        with connection(self.url) as conn:
            refresh_facts(conn)
            rev, _ = revision(conn)
            yield rev, lambda start, end, now_ms, by: indicators_of_record(conn, start, end, now_ms, by=by)


class SourceGone(Exception):
    """The source's owner is gone (an app of a test, closed): the cache's thread ends."""


class IndexSource:
    """The process's Redis case index (no record configured), held weakly: the cache (kept per
    index) and its thread must not keep an index alive."""

    def __init__(self, index):
        self._index = weakref.ref(index)

    @contextmanager
    def round(self):
        index = self._index()
        if index is None:
            raise SourceGone()
        facts = index.facts()  # CaseIndexLoading while the first load runs: the next round asks again
        del index
        yield facts.revision, lambda start, end, now_ms, by: indicators_of(facts.facts, start, end, as_of_now(now_ms), by=by)


class IndicatorCache:
    def __init__(self, source, by=("district", "department"), interval_s: float = 15.0, keep_s: float = 900.0,
                 loading_retry_s: float = 1.0, first_wait_s: float = 0.3):
        self.source = RecordSource(source) if isinstance(source, str) else source
        self.by, self.interval_s, self.keep_s, self.loading_retry_s = tuple(by), interval_s, keep_s, loading_retry_s
        self.first_wait_s = first_wait_s  # a period asked for the first time is waited for this long
        self._values: dict[tuple[int, int], tuple[tuple, object]] = {}  # (start, end) -> (key, (city, groups))
        self._asked: dict[tuple[int, int], float] = {}  # (start, end) -> monotonic time last asked
        self._prepare: set[tuple[int, int]] = set()  # periods to compute once, not kept fresh (`prepare`)
        self._revision = -1
        self._wake = threading.Event()
        self._guard = threading.Lock()
        self._computed = threading.Condition(self._guard)  # notified after each period's computation
        self._thread: threading.Thread | None = None
        self.computed = 0  # how many period computations ran (tests, metrics)

    def _key(self, start: int, end: int, now_ms: int) -> tuple:
        as_of = min(end, now_ms)
        return (self._revision, as_of // 60_000 if as_of < end else end)

    def get(self, start: int, end: int, now_ms: int):
        """(city, groups) of [start, end) as of the last computation, or None while it is first
        computed. A period not held yet is waited for up to `first_wait_s` (a small city's answer
        comes at once; a large one's is said to be on its way)."""
        with self._guard:
            self._asked[(start, end)] = time.monotonic()
            held = self._values.get((start, end))
        self._ensure_thread()
        if held is None:
            self._wake.set()
            with self._guard:
                self._computed.wait_for(lambda: (start, end) in self._values, self.first_wait_s)
                held = self._values.get((start, end))
            return held[1] if held else None
        if held[0] != self._key(start, end, now_ms):
            self._wake.set()  # stale: recomputed in the background; meanwhile the last figures stand
        return held[1]

    def prepare(self, start: int, end: int) -> None:
        """Have a period computed once in the background without keeping it fresh (a web process
        starting prepares this month's): its first viewer gets these figures at once, recomputed
        from then on while viewed."""
        with self._guard:
            if (start, end) in self._values:
                return
            self._prepare.add((start, end))
        self._ensure_thread()
        self._wake.set()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._guard:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._loop, name="ioc-indicator-cache", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        while True:
            wait = self.interval_s
            try:
                self.update()
            except SourceGone:
                return
            except CaseIndexLoading:  # the case index's first load: asked again shortly, not an error
                wait = self.loading_retry_s
            except Exception as e:  # noqa: BLE001 - the source away: the last figures stand, retried next round
                log.warning("computing the case indicators failed: %s", e)
            self._wake.wait(wait)
            self._wake.clear()

    def update(self, now_ms: int | None = None) -> int:
        """Ask the source for its revision and recompute the stale periods viewed lately; returns how many."""
        now_ms = int(time.time() * 1000) + 1 if now_ms is None else now_ms
        cutoff = time.monotonic() - self.keep_s
        done = 0
        with self.source.round() as (rev, compute):
            self._revision = rev
            with self._guard:
                for period in [p for p, at in self._asked.items() if at < cutoff]:
                    self._asked.pop(period, None)
                    if period not in self._prepare:
                        self._values.pop(period, None)
                todo = [p for p in self._asked if (self._values.get(p) or (None,))[0] != self._key(*p, now_ms)]
                todo += [p for p in self._prepare if p not in self._asked and p not in self._values]
            for start, end in todo:
                value = compute(start, end, now_ms, self.by)
                with self._guard:
                    self._values[(start, end)] = (self._key(start, end, now_ms), value)
                    self._prepare.discard((start, end))
                    self._computed.notify_all()
                done += 1
        self.computed += done
        return done


# A period first asked of the record is waited for this long in its own request: a month at a
# million cases takes ~0.4 s, so the leader gets it in the first answer instead of "being
# prepared" and the page's next ask a second later (`INDICATORS_LOADING_MS`); the two web workers
# do not both compute it (the second ask would reach the other one). Longer periods (years) still
# answer "being prepared" first. The Redis case index keeps the short default: its first load takes
# tens of seconds, and a sync worker must not be held most of each second by every viewer's ask.
RECORD_FIRST_WAIT_S = 0.8

_caches: dict[str, IndicatorCache] = {}
_index_caches: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # case index -> its cache
_lock = threading.Lock()


def cache_for(url: str) -> IndicatorCache:
    """The process's cache for the record at `url`."""
    with _lock:
        cache = _caches.get(url)
        if cache is None:
            cache = _caches[url] = IndicatorCache(url, first_wait_s=RECORD_FIRST_WAIT_S)
        return cache


def cache_for_index(index) -> IndicatorCache:
    """The process's cache over its Redis case index (no record configured)."""
    with _lock:
        cache = _index_caches.get(index)
        if cache is None:
            cache = _index_caches[index] = IndicatorCache(IndexSource(index))
        return cache


def process_cache(database_url: str, index) -> IndicatorCache:
    """The cache a web process's indicators come from: the record's when it has one, else its
    Redis case index's."""
    return cache_for(database_url) if database_url else cache_for_index(index)
