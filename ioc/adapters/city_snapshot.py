"""What the big screen and the district pages show, per tick, and the per-process cache that
makes a tick cheap at city scale.

`read_city()` reads everything once (devices, alarms, counters, the last two 1-minute rollups,
open cases). `CityCache.snapshot()` gives the same `CitySnapshot`, but:
- the device registry (50,000 rows) is read again only when a shard's registry version moved
  (births, status changes, located readings), and its derived figures (`FleetIndex`) are
  computed once per version;
- open cases come from a `CaseIndex`, which reads again only the cases changed since the case
  revision it holds;
- the whole snapshot is shared by every viewer of the process for `ttl_s`, so 100 big screens
  cost about one Redis read per second per web process; and what a page makes of it (KPI texts,
  the alarm board, the map's alarm layer) is made once per snapshot, language and rights
  (`CityCache.derived`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import replace

import redis

from ioc import heap
from ioc.domain.city_state import CitySnapshot, DeviceRow, FleetIndex

from . import redis_keys as keys
from .alarm_store import AlarmStore
from .case_index import CaseIndex
from .case_store import CaseStore
from .redis_client import as_text
from .snapshot_store import SnapshotStore, numbers as _numbers


log = logging.getLogger(__name__)

SETTLE_ROWS = 1000  # device rows read in one refresh from which the heap is settled (ioc.heap)


def read_devices(client: redis.Redis, shards: int) -> list[DeviceRow]:
    return SnapshotStore(client, shards).devices()


WATER_GAUGE_KIND, WATER_LEVEL = "water_level", "waterLevel"


def read_city(client: redis.Redis, shards: int, now_ms: int) -> CitySnapshot:
    """Everything, read now (no cache): the API and the tools use it."""
    snapshot = SnapshotStore(client, shards)
    minute = now_ms // 60_000
    devices = read_devices(client, shards)
    return CitySnapshot(
        now_ms=now_ms,
        devices=devices,
        water_levels=snapshot.latest_values([d.id for d in devices if d.kind == WATER_GAUGE_KIND], WATER_LEVEL),
        alarms=AlarmStore(client).active(),
        counters=snapshot.counters(),
        recent=snapshot.rollup(minute - 1),
        current=snapshot.rollup(minute),
        cases=CaseStore(client).open_cases(),
    )


class CityCache:
    """One per web process, shared by every viewer (thread-safe).

    A background thread of the process refreshes the registry (about every `registry_s`, only
    when a shard's counters moved) and, while viewers ask for snapshots, takes the next shared
    snapshot every `ttl_s` and makes what the pages asked for in the last minute from it
    (`derived`) before swapping it in, so a viewer's request neither reads Redis nor builds a
    frame; a request reads inline only when the thread is behind (`STALE_AFTER` × `ttl_s`).
    The thread stops when no one has asked for a minute and starts again on demand."""

    STALE_AFTER = 3  # a background snapshot older than this many `ttl_s` is read again inline
    GAUGES_S = 5.0  # the water gauges' latest levels (which gauge is highest) are read this often
    RECIPE_S = 60.0  # what no viewer asked for in this long is no longer made ahead

    def __init__(self, client_of, shards: int, ttl_s: float = 0.5, registry_s: float = 1.0,
                 case_index: CaseIndex | None = None):
        self._client_of = client_of  # () -> redis client (raises while Redis is not configured)
        self.shards = shards
        self.ttl_s = ttl_s
        self.registry_s = registry_s
        self._case_index = case_index or CaseIndex(client_of)  # the open cases, changed case by case
        self._lock = threading.Lock()  # the shared snapshot
        self._registry_lock = threading.Lock()  # the registry cache (refresher thread and first use)
        self._snapshot: CitySnapshot | None = None
        self._derived: dict = {}  # what viewers made of the shared snapshot (see `derived`)
        self._recipes: dict = {}  # key -> (compute, last asked): what to make of the next snapshot
        self._generation = 0  # moves with `invalidate`: a snapshot read before it is not swapped in
        self._snapshot_used = 0.0
        self._taken = 0.0
        self._versions: list | None = None
        self._fleet: FleetIndex | None = None
        self._shard_rows: dict[int, list[DeviceRow]] = {}
        self._used = 0.0
        self._refresher: threading.Thread | None = None
        self._refresher_pid = 0
        self._water_levels: dict[str, float] = {}
        self._water_levels_at = -1e9

    def snapshot(self, now_ms: int | None = None) -> CitySnapshot:
        self._used = self._snapshot_used = time.monotonic()
        with self._lock:
            now = time.monotonic()
            fresh_s = self.ttl_s * (self.STALE_AFTER if self._refresher_alive() else 1)
            if self._snapshot is not None and now - self._taken < fresh_s:
                return self._snapshot
            self._snapshot = self._read(int(time.time() * 1000) if now_ms is None else now_ms)
            self._derived = {}
            self._taken = now
            return self._snapshot

    def warm_up(self) -> None:
        """Read the device registry and the open cases now (what the first viewer's request
        would otherwise wait for), without starting the snapshot cadence of a watched process."""
        self.refresh_registry(self._client_of())
        self._case_index.open_cases()

    def derived(self, snapshot: CitySnapshot, key, compute):
        """`compute(snapshot)`: a value made from `snapshot` alone (what a page shows of it in one
        language), made once for every viewer of the process while `snapshot` is the shared one,
        and made ahead from the next snapshots while viewers keep asking for `key`. The value is
        shared: callers must not change it."""
        self._recipes[key] = (compute, time.monotonic())
        memo = self._derived
        if snapshot is not self._snapshot:
            return compute(snapshot)
        try:
            return memo[key]
        except KeyError:
            value = memo[key] = compute(snapshot)
            return value

    def invalidate(self) -> None:
        """Forget the shared snapshot (after an action in this process, so its viewer sees it at once)."""
        with self._lock:
            self._snapshot = None
            self._generation += 1

    def prepare_next(self) -> None:
        """Take the next shared snapshot and make from it what viewers asked for in the last
        `RECIPE_S`, then swap both in (the background thread's work; callable directly)."""
        with self._lock:
            generation = self._generation
        now = time.monotonic()
        snapshot = self._read(int(time.time() * 1000))
        recipes = {key: compute for key, (compute, asked) in list(self._recipes.items()) if now - asked < self.RECIPE_S}
        for key in [k for k in list(self._recipes) if k not in recipes]:
            self._recipes.pop(key, None)
        made = {}
        for key, compute in recipes.items():
            try:
                made[key] = compute(snapshot)
            except Exception as e:  # noqa: BLE001 - the viewer's own request makes it (and reports it)
                log.debug("making %r ahead failed: %s", key, e)
        with self._lock:
            if generation == self._generation:  # not read before an invalidation
                self._snapshot, self._derived, self._taken = snapshot, made, time.monotonic()

    def devices(self) -> FleetIndex:
        """The registry alone (the map's device layer)."""
        self._used = time.monotonic()
        return self._current_fleet(self._client_of())

    # --- registry ------------------------------------------------------------------------------
    def _current_fleet(self, client) -> FleetIndex:
        self._ensure_refresher()
        fleet = self._fleet
        if fleet is None:  # first use in this process: build it now
            fleet = self.refresh_registry(client)
        return fleet

    def _refresher_alive(self) -> bool:
        return self._refresher is not None and self._refresher.is_alive() and self._refresher_pid == os.getpid()

    def _ensure_refresher(self) -> None:
        if not self._refresher_alive():
            self._refresher_pid = os.getpid()
            self._refresher = threading.Thread(target=self._refresh_loop, name="ioc-registry-cache", daemon=True)
            self._refresher.start()

    def _refresh_loop(self) -> None:
        try:
            period = min(self.registry_s, self.ttl_s)
            next_at = time.monotonic() + period
            registry_at = 0.0
            while time.monotonic() - self._used < 60:
                # a steady cadence: the work's own time is not added to the wait, so the shared
                # snapshot is never older than about one period
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at = max(next_at + period, time.monotonic())
                try:
                    if time.monotonic() >= registry_at:  # the registry at its own pace (`registry_s`)
                        registry_at = time.monotonic() + self.registry_s - period / 2
                        self.refresh_registry(self._client_of())
                    if time.monotonic() - self._snapshot_used < self.RECIPE_S:
                        self.prepare_next()
                except Exception as e:  # noqa: BLE001 - Redis away: the viewers see it on their own reads
                    log.debug("background refresh failed: %s", e)
        except SystemExit:  # a test server stopping its threads; the next request starts a new one
            return

    def _registry_versions(self, client) -> list:
        pipe = client.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.get(keys.registry_version(shard))
            pipe.get(keys.state_version(shard))
        return pipe.execute()

    def refresh_registry(self, client) -> FleetIndex:
        """Read what moved since the last refresh: a shard whose registry moved is read again
        whole, one whose online states alone moved has only its states read again."""
        with self._registry_lock:
            versions = self._registry_versions(client)
            if self._fleet is not None and versions == self._versions:
                return self._fleet
            store = SnapshotStore(client, self.shards)
            old = self._versions or [None] * (2 * self.shards)
            read_whole = 0
            for shard in range(self.shards):
                meta_v, state_v = versions[2 * shard], versions[2 * shard + 1]
                rows = self._shard_rows.get(shard)
                if rows is None or meta_v != old[2 * shard] or meta_v is None:
                    self._shard_rows[shard] = store.shard_devices(shard)
                    read_whole += len(self._shard_rows[shard])
                elif state_v != old[2 * shard + 1]:
                    online = store.shard_online(shard)
                    self._shard_rows[shard] = [r if r.online == (r.id in online) else replace(r, online=r.id in online)
                                               for r in rows]
            rows = [r for shard in range(self.shards) for r in self._shard_rows[shard]]
            rows.sort(key=lambda r: r.id)
            self._fleet = FleetIndex(rows)
            self._fleet.version = ",".join(as_text(v) or "0" for v in versions)
            # "" (never kept by a reader) while a shard has no registry counter: its rows are read each time
            self._fleet.places_version = "" if None in versions[0::2] else ",".join(as_text(v) for v in versions[0::2])
            self._versions = versions
            fleet = self._fleet
        if read_whole >= SETTLE_ROWS:  # outside the lock: viewers need not wait for the collection
            heap.settle(f"{read_whole:,} device rows")
        return fleet

    # --- one tick ------------------------------------------------------------------------------
    def _read(self, now_ms: int) -> CitySnapshot:
        client = self._client_of()
        minute = now_ms // 60_000
        pipe = client.pipeline(transaction=False)
        pipe.hgetall(keys.METRICS)
        pipe.hgetall(keys.rollup(minute - 1))
        pipe.hgetall(keys.rollup(minute))
        counters, recent, current = pipe.execute()
        fleet = self._current_fleet(client)
        if time.monotonic() - self._water_levels_at >= self.GAUGES_S:
            gauges = fleet.derived.get("water_gauges")
            if gauges is None:
                gauges = fleet.derived["water_gauges"] = [d.id for d in fleet.devices if d.kind == WATER_GAUGE_KIND]
            self._water_levels = SnapshotStore(client, self.shards).latest_values(gauges, WATER_LEVEL)
            self._water_levels_at = time.monotonic()
        return CitySnapshot(
            now_ms=now_ms,
            devices=fleet.devices,
            alarms=AlarmStore(client).active(),
            counters={as_text(k): int(v) for k, v in counters.items()},
            recent=_numbers(recent),
            current=_numbers(current),
            cases=self._case_index.open_cases(),
            fleet_index=fleet,
            registry_version=fleet.version,
            water_levels=self._water_levels,
        )


__all__ = ["CitySnapshot", "CityCache", "FleetIndex", "read_city", "read_devices"]
