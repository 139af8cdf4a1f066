"""The device fleet of the demo city (pure: seed + CityMap in, devices out).

`build_fleet(city, n, seed)` returns `n` field devices spread over the districts (weighted by
area, the urban core of Yangshe denser), plus the 48 platform systems at the city centre.
Ids are stable and readable: `{prefix}-{district}-{number}` (e.g. `aq-yangshe-0007`), numbered
per kind and district; display names are Chinese ("杨舍 空气质量监测点 7", "杨舍雨量站"). Rain gauges
are placed one in every district first (the flood plan counts the districts it rains in), the
rest by area.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .platform import HEARTBEAT_S, SYSTEMS

CENTRE_DISTRICT = "yangshe"
ISO_TS_SHARE = 0.10  # devices that send `ts` as ISO 8601 with +08:00 instead of epoch ms


@dataclass(frozen=True)
class KindSpec:
    kind: str
    prefix: str
    label_zh: str
    weight: float  # share of the field fleet
    interval_s: float  # natural telemetry interval
    minimum: int  # at least this many in any fleet
    centre_boost: float  # weight multiplier of the urban core (Yangshe)


KIND_SPECS: tuple[KindSpec, ...] = (
    KindSpec("streetlight", "sl", "路灯", 0.28, 30.0, 2, 3.0),
    KindSpec("manhole", "mh", "智能井盖", 0.24, 30.0, 2, 3.0),
    KindSpec("parking", "pk", "停车位", 0.17, 15.0, 2, 4.0),
    KindSpec("traffic", "tf", "交通流量检测器", 0.10, 10.0, 2, 3.0),
    KindSpec("noise", "ns", "噪声监测点", 0.06, 10.0, 1, 2.0),
    KindSpec("air_quality", "aq", "空气质量监测点", 0.05, 30.0, 1, 1.5),
    KindSpec("water_quality", "wq", "排口水质监测点", 0.04, 15.0, 2, 0.7),
    KindSpec("crowd", "cr", "人流监测点", 0.03, 10.0, 2, 5.0),
    KindSpec("water_level", "wl", "水位站", 0.015, 10.0, 2, 1.0),
    KindSpec("rain_gauge", "rg", "雨量站", 0.0075, 60.0, 10, 1.0),  # one per district at least
)
SPEC_BY_KIND = {s.kind: s for s in KIND_SPECS}

# Crowd venues of the urban core, in the order they are handed out: (name, type, capacity).
CORE_VENUES = (
    ("暨阳湖", "park", 2300),
    ("步行街", "street", 2400),
    ("张家港站", "station", 1800),
    ("万达广场", "mall", 2100),
    ("汽车客运站", "station", 1300),
    ("沙洲湖", "park", 1500),
    ("购物公园", "mall", 1700),
    ("梁丰生态园", "park", 900),
)
TOWN_VENUES = (("镇中心广场", "square", 700), ("客运站", "station", 500), ("商业街", "street", 800))
CORE_ROADS = ("人民路", "长安路", "港城大道", "暨阳路", "沙洲路", "国泰路", "华昌路", "梁丰路", "东环路", "西环路")
TOWN_ROADS = ("沿江公路", "张杨公路", "港丰公路", "S338省道", "镇中路")
RIVERS = ("张家港河", "东横河", "二干河", "三干河", "四干河", "一干河", "南横套河", "北中心河")
_NAME_SUFFIXES = ("现代农业示范园区", "旅游度假区", "街道", "镇")


class Device:
    """One simulated device. Mutable only while the fleet is built."""

    __slots__ = ("index", "id", "kind", "name", "district", "lon", "lat", "interval", "iso_ts", "key", "p", "q", "extra")

    def __init__(self, index, id, kind, name, district, lon, lat, interval, iso_ts, key, p, q, extra):
        self.index = index
        self.id = id
        self.kind = kind
        self.name = name
        self.district = district
        self.lon = lon
        self.lat = lat
        self.interval = interval
        self.iso_ts = iso_ts
        self.key = key
        self.p = p  # device personality in [0, 1): size, exposure, base level …
        self.q = q  # a second, independent one
        self.extra = extra

    def __repr__(self) -> str:
        return f"Device({self.id!r}, {self.kind!r}, {self.name!r})"

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, s) for s in self.__slots__[:-1]) + (tuple(sorted(self.extra.items())),)


@dataclass
class Fleet:
    seed: int
    devices: list[Device]
    centre: tuple[float, float]  # (lon, lat) of the city centre, where gateways are placed

    def __len__(self) -> int:
        return len(self.devices)

    def of_kind(self, kind: str) -> list[Device]:
        return [d for d in self.devices if d.kind == kind]

    def by_id(self, device_id: str) -> Device:
        for d in self.devices:
            if d.id == device_id:
                return d
        raise KeyError(device_id)


def short_name(name_zh: str) -> str:
    """杨舍镇 → 杨舍, 双山岛旅游度假区 → 双山岛."""
    for suffix in _NAME_SUFFIXES:
        if name_zh.endswith(suffix) and len(name_zh) > len(suffix):
            return name_zh[: -len(suffix)]
    return name_zh


def kind_counts(n: int) -> dict[str, int]:
    """How many devices of each kind a fleet of `n` field devices has (largest remainder)."""
    mins = sum(s.minimum for s in KIND_SPECS)
    if n < mins:
        raise ValueError(f"a fleet needs at least {mins} devices")
    total_w = sum(s.weight for s in KIND_SPECS)
    raw = {s.kind: n * s.weight / total_w for s in KIND_SPECS}
    counts = {k: max(SPEC_BY_KIND[k].minimum, int(v)) for k, v in raw.items()}
    diff = n - sum(counts.values())
    order = sorted(raw, key=lambda k: (raw[k] - int(raw[k]), SPEC_BY_KIND[k].weight), reverse=True)
    i = 0
    while diff > 0:
        counts[order[i % len(order)]] += 1
        diff -= 1
        i += 1
    while diff < 0:  # minimums raised some kinds: take the surplus from the most numerous ones
        k = max((k for k in order if counts[k] > SPEC_BY_KIND[k].minimum), key=lambda k: counts[k])
        counts[k] -= 1
        diff += 1
    return counts


def _split(count: int, weights: dict[str, float]) -> dict[str, int]:
    total = sum(weights.values())
    raw = {k: count * w / total for k, w in weights.items()}
    out = {k: int(v) for k, v in raw.items()}
    rest = count - sum(out.values())
    for k in sorted(raw, key=lambda k: (raw[k] - out[k], weights[k], k), reverse=True)[:rest]:
        out[k] += 1
    return out


def _point_in(city, district_id: str, rng: random.Random) -> tuple[float, float]:
    """A random point of the district, rounded to 6 decimals (~0.1 m) and still inside it."""
    while True:
        lon, lat = city.random_point_in(district_id, rng)
        lon, lat = round(lon, 6), round(lat, 6)
        if city.district_at(lon, lat) == district_id:
            return lon, lat


def _northern_shore_point(city, district_id: str, rng: random.Random, tries: int = 40):
    """A point of the district on the Yangtze shore (2 km north is outside the city), or None."""
    best = None
    for _ in range(tries):
        lon, lat = _point_in(city, district_id, rng)
        if city.district_at(lon, lat + 0.018) is None and (best is None or lat > best[1]):
            best = (lon, lat)
    return best


def _centre(city) -> tuple[str, tuple[float, float]]:
    for d in city.districts:
        if d.id == CENTRE_DISTRICT:
            return d.id, tuple(d.seat)
    d = max(city.districts, key=lambda d: d.area_km2)
    return d.id, tuple(d.seat)


def build_fleet(city, n: int = 2000, seed: int = 20260101) -> Fleet:
    """`n` field devices plus the platform systems, fully determined by `seed` and `city`."""
    rng = random.Random(seed)
    districts = sorted(city.districts, key=lambda d: d.id)
    centre_id, centre = _centre(city)
    devices: list[Device] = []

    def add(kind, did, name, district_id, lon, lat, interval, extra):
        devices.append(
            Device(
                len(devices), did, kind, name, district_id,
                lon, lat, interval, rng.random() < ISO_TS_SHARE,
                rng.getrandbits(31), rng.random(), rng.random(), extra,
            )
        )

    counts = kind_counts(n)
    for spec in KIND_SPECS:
        count = counts[spec.kind]
        weights = {d.id: d.area_km2 * (spec.centre_boost if d.id == centre_id else 1.0) for d in districts}
        if spec.kind == "rain_gauge" and count >= len(districts):
            # a gauge in every district first (the flood plan counts districts), the rest by area
            per_district = {d: n + 1 for d, n in _split(count - len(districts), weights).items()}
        else:
            per_district = _split(count, weights)
        for district in districts:
            short = short_name(district.name_zh)
            for number in range(1, per_district[district.id] + 1):
                did = f"{spec.prefix}-{district.id}-{number:04d}"
                extra: dict = {}
                lon = lat = None
                name = f"{short} {spec.label_zh} {number}"
                if spec.kind == "crowd":
                    venues = CORE_VENUES if district.id == centre_id else TOWN_VENUES
                    venue, vtype, cap = venues[(number - 1) % len(venues)]
                    extra = {"venue": venue, "venue_type": vtype, "capacity": int(cap * (0.9 + 0.15 * rng.random()))}
                    name = f"{short} {venue} {spec.label_zh} {number}"
                elif spec.kind == "traffic":
                    roads = CORE_ROADS if district.id == centre_id else TOWN_ROADS
                    name = f"{short} {roads[(number - 1) % len(roads)]} {spec.label_zh} {number}"
                elif spec.kind == "parking":
                    extra = {"commercial": rng.random() < (0.6 if district.id == centre_id else 0.35)}
                elif spec.kind == "water_quality":
                    name = f"{short} 企业排口水质监测点 {number}"
                elif spec.kind == "rain_gauge":
                    name = f"{short}雨量站" if number == 1 else f"{short}{number}号雨量站"
                elif spec.kind == "water_level":
                    point = _northern_shore_point(city, district.id, rng) if number % 2 == 1 else None
                    if point is not None:
                        lon, lat = point
                        extra = {"water": "yangtze"}
                        name = f"{short} 长江水位站 {number}"
                    else:
                        river = RIVERS[(number + len(district.id)) % len(RIVERS)]
                        extra = {"water": "river", "river": river}
                        name = f"{short} {river}水位站 {number}"
                if lon is None:
                    lon, lat = _point_in(city, district.id, rng)
                add(spec.kind, did, name, district.id, lon, lat, spec.interval_s, extra)

    # The platform's systems sit in the data centre at the city centre.
    for system in SYSTEMS:
        lon, lat = centre[0] + (rng.random() - 0.5) * 0.004, centre[1] + (rng.random() - 0.5) * 0.004
        at = city.district_at(lon, lat)
        lon, lat = round(lon, 6), round(lat, 6)
        if at is None or getattr(at, "id", at) != centre_id or city.district_at(lon, lat) != centre_id:
            lon, lat = centre
        extra = {"interfaces": system.interfaces, "calls": system.calls, "latency": system.latency_ms, "name_en": system.name_en}
        add("platform", system.device_id, system.name_zh, centre_id, lon, lat, HEARTBEAT_S, extra)
    return Fleet(seed, devices, centre)
