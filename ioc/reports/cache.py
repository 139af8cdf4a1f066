"""The computed indicators of each period, per process, kept fresh in the background.

The `/indicators` page's callback must answer in milliseconds at a million cases, so it never
queries the record itself: it asks `IndicatorCache.get(start, end, now)`, a dictionary lookup. A
period asked for the first time is computed by the cache's background thread (the callback says
"being prepared", as it did while the Redis case index loaded) and kept; the thread then wakes
every `interval_s`, refreshes the record's facts (`refresh_facts`) and recomputes the periods
viewed in the last `keep_s` whose key changed: the record's facts revision, or, for a period not
over yet, the minute of its "as of". Several web workers each hold their own cache; the record
answers their few queries (one per viewed period per change), not one per viewer.
"""

from __future__ import annotations

import logging
import threading
import time

from ioc.record.db import connection

from .indicators import indicators_of_record, refresh_facts, revision

log = logging.getLogger(__name__)

_caches: dict[str, "IndicatorCache"] = {}
_lock = threading.Lock()


class IndicatorCache:
    def __init__(self, url: str, by=("district", "department"), interval_s: float = 15.0, keep_s: float = 900.0):
        self.url, self.by, self.interval_s, self.keep_s = url, tuple(by), interval_s, keep_s
        self._values: dict[tuple[int, int], tuple[tuple, object]] = {}  # (start, end) -> (key, (city, groups))
        self._asked: dict[tuple[int, int], float] = {}  # (start, end) -> monotonic time last asked
        self._revision = -1
        self._wake = threading.Event()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self.computed = 0  # how many period computations ran (tests, metrics)

    def _key(self, start: int, end: int, now_ms: int) -> tuple:
        as_of = min(end, now_ms)
        return (self._revision, as_of // 60_000 if as_of < end else end)

    def get(self, start: int, end: int, now_ms: int):
        """(city, groups) of [start, end) as of the last computation, or None while it is first computed."""
        with self._guard:
            self._asked[(start, end)] = time.monotonic()
            held = self._values.get((start, end))
        self._ensure_thread()
        if held is None:
            self._wake.set()
            return None
        if held[0] != self._key(start, end, now_ms):
            self._wake.set()  # stale: recomputed in the background; meanwhile the last figures stand
        return held[1]

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._guard:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._loop, name="ioc-indicator-cache", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self.update()
            except Exception as e:  # noqa: BLE001 - the record away: the last figures stand, retried next round
                log.warning("computing the indicators from the record failed: %s", e)
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def update(self, now_ms: int | None = None) -> int:
        """Refresh the facts and recompute the stale periods viewed lately; returns how many."""
        now_ms = int(time.time() * 1000) + 1 if now_ms is None else now_ms
        cutoff = time.monotonic() - self.keep_s
        done = 0
        with connection(self.url) as conn:
            refresh_facts(conn)
            self._revision, _ = revision(conn)
            with self._guard:
                for period in [p for p, at in self._asked.items() if at < cutoff]:
                    self._asked.pop(period, None)
                    self._values.pop(period, None)
                todo = [p for p in self._asked if (self._values.get(p) or (None,))[0] != self._key(*p, now_ms)]
            for start, end in todo:
                value = indicators_of_record(conn, start, end, now_ms, by=self.by)
                with self._guard:
                    self._values[(start, end)] = (self._key(start, end, now_ms), value)
                done += 1
        self.computed += done
        return done


def cache_for(url: str) -> IndicatorCache:
    """The process's cache for the record at `url`."""
    with _lock:
        cache = _caches.get(url)
        if cache is None:
            cache = _caches[url] = IndicatorCache(url)
        return cache
