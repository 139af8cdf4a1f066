"""One read of everything the big screen shows, per tick: devices (position, district, online),
active alarms with their acknowledgements, open cases, counters and the last two 1-minute rollups (a few pipelined
round trips; issue 6 will cache the registry between ticks)."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from .alarm_store import AlarmStore
from .case_store import CaseStore
from .snapshot_store import DeviceRow, SnapshotStore


@dataclass
class CitySnapshot:
    now_ms: int
    devices: list[DeviceRow] = field(default_factory=list)
    alarms: list[dict] = field(default_factory=list)  # active alarms, each with its "ack" (dict or None)
    counters: dict[str, int] = field(default_factory=dict)
    recent: dict[str, float] = field(default_factory=dict)  # merged rollup of the last complete minute
    current: dict[str, float] = field(default_factory=dict)  # merged rollup of the minute in progress
    cases: list = field(default_factory=list)  # open cases (ioc.domain.cases.Case)


def read_devices(client: redis.Redis, shards: int) -> list[DeviceRow]:
    return SnapshotStore(client, shards).devices()


def read_city(client: redis.Redis, shards: int, now_ms: int) -> CitySnapshot:
    snapshot = SnapshotStore(client, shards)
    minute = now_ms // 60_000
    return CitySnapshot(
        now_ms=now_ms,
        devices=read_devices(client, shards),
        alarms=AlarmStore(client).active(),
        counters=snapshot.counters(),
        recent=snapshot.rollup(minute - 1),
        current=snapshot.rollup(minute),
        cases=CaseStore(client).open_cases(),
    )
