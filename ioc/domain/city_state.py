"""What the city looks like at one moment, as plain values: device rows, fleet counts, the
figures derived from the registry, and the snapshot a page is drawn from.

The adapters fill them from Redis (`ioc.adapters.snapshot_store`, `ioc.adapters.city_snapshot`);
the views (`ioc.views`) read them. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property


@dataclass(frozen=True, slots=True)
class DeviceRow:
    id: str
    kind: str
    name: str
    lon: float
    lat: float
    district: str
    online: bool
    cell: str = ""


@dataclass
class FleetCounts:
    devices: int = 0
    online: int = 0
    by_kind: Counter = field(default_factory=Counter)
    online_by_kind: Counter = field(default_factory=Counter)
    by_district: Counter = field(default_factory=Counter)


class FleetIndex:
    """Figures derived from the device registry, computed once per registry version."""

    def __init__(self, devices: list[DeviceRow]):
        self.devices = devices
        self.by_id = {d.id: d for d in devices}
        self.total = len(devices)
        self.online = sum(1 for d in devices if d.online)
        self.offline = [d.id for d in devices if not d.online]
        self.by_district: dict[str, list[DeviceRow]] = defaultdict(list)
        # (district, kind) -> [devices, online]; district None is the whole city, kind "" every kind
        self.counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for d in devices:
            self.by_district[d.district].append(d)
            for key in ((d.district, d.kind), (d.district, ""), (None, d.kind), (None, "")):
                cell = self.counts[key]
                cell[0] += 1
                cell[1] += d.online
        self.version = ""  # the registry counters it was built from (set by CityCache)
        self.places_version = ""  # moves only when a device is registered, moved or removed (not with online states)
        self.derived: dict = {}  # figures computed once per index by their users (e.g. the map's device layer)
        self.offline_by_district = {name: [d.id for d in rows if not d.online] for name, rows in self.by_district.items()}

    def count(self, district: str | None = None, kind: str = "") -> tuple[int, int]:
        """(devices, online) of a district (None: the city) and kind ("" : every kind)."""
        cell = self.counts.get((district, kind))
        return (cell[0], cell[1]) if cell else (0, 0)

    def in_district(self, district: str) -> list[DeviceRow]:
        return self.by_district.get(district, [])

    def of_alarms(self, alarms: list[dict]) -> list[DeviceRow]:
        """The devices that carry the given alarms (a short list: what the alarm layers need)."""
        out, seen = [], set()
        for a in alarms:
            dev = self.by_id.get(a.get("device_id"))
            if dev is not None and dev.id not in seen:
                seen.add(dev.id)
                out.append(dev)
        return out


@dataclass
class CitySnapshot:
    now_ms: int
    devices: list[DeviceRow] = field(default_factory=list)
    alarms: list[dict] = field(default_factory=list)  # active alarms, each with its "ack" (dict or None)
    counters: dict[str, int] = field(default_factory=dict)
    recent: dict[str, float] = field(default_factory=dict)  # merged rollup of the last complete minute
    current: dict[str, float] = field(default_factory=dict)  # merged rollup of the minute in progress
    cases: list = field(default_factory=list)  # open cases (ioc.domain.cases.Case)
    fleet_index: FleetIndex | None = None  # given by the cache; derived from `devices` otherwise
    registry_version: str = ""  # changes whenever the registry (and so `fleet`) may have changed
    water_levels: dict[str, float] = field(default_factory=dict)  # gauge id -> its latest waterLevel (m)
    alarm_events: list[dict] | None = None  # a replayed moment's ticker (ioc.record.rewind); live: read from the stream
    # a replayed moment's case figures per district: (open, overdue, reported today) — read from the
    # record's tally instead of every open case (`cases` is then empty); live: None (counted from `cases`)
    case_counts: dict[str, tuple[int, int, int]] | None = None

    @cached_property
    def fleet(self) -> FleetIndex:
        return self.fleet_index if self.fleet_index is not None else FleetIndex(self.devices)
