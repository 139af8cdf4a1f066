"""Daily curves and per-kind readings of the demo city (pure: no I/O, no clock).

Every reading is a deterministic function of (device, simulated time): the randomness comes
from a cheap integer hash of the device key and a time bucket, so the same seed and start
time always give the same values, whatever order devices are visited in.

Local time is Asia/Shanghai, which is UTC+8 all year (no daylight saving), so the local hour
is computed arithmetically instead of through zoneinfo (this runs tens of thousands of times
per second).
"""

from __future__ import annotations

import math

from ioc.domain import lighting
from ioc.domain.air_quality import iaqi
from ioc.domain.clock import UTC_OFFSET_S

TIDE_PERIOD_S = 12.42 * 3600  # principal lunar semidiurnal constituent (M2)
SPRING_NEAP_PERIOD_S = 14.77 * 86400
_TWO_PI = 2.0 * math.pi


# --------------------------------------------------------------------------- noise
#
# A fixed table of uniform numbers (built once from a constant seed) indexed by the device key
# and a time bucket: a list lookup is far cheaper than hashing, and the result is the same on
# every run and every machine.

_TABLE_BITS = 16
_MASK = (1 << _TABLE_BITS) - 1
_STRIDE = 40503  # odd, so consecutive buckets walk the whole table
_rng = __import__("random").Random(0x10C)
_T = [_rng.random() for _ in range(1 << _TABLE_BITS)]
del _rng


def hash01(key: int, n: int) -> float:
    """A uniform number in [0, 1) for (key, n)."""
    return _T[(key + n * _STRIDE) & _MASK]


def smooth(key: int, t: float, period: float) -> float:
    """Value noise in [-1, 1) that changes continuously over `period` seconds."""
    b = t / period
    i = int(b)
    a = _T[(key + i * _STRIDE) & _MASK]
    return (a + (_T[(key + (i + 1) * _STRIDE) & _MASK] - a) * (b - i)) * 2.0 - 1.0


def jitter(key: int, t: float) -> float:
    """White noise in [-1, 1) for one reading (changes every 100 ms of simulated time)."""
    return _T[(key * 3 + int(t * 10.0) * _STRIDE) & _MASK] * 2.0 - 1.0


# --------------------------------------------------------------------------- time


def local_hour(t: float) -> float:
    """Hour of day in Asia/Shanghai, as a float in [0, 24)."""
    return ((t + UTC_OFFSET_S) % 86400.0) / 3600.0


def day_of_year(t: float) -> float:
    return ((t + UTC_OFFSET_S) % (365.25 * 86400.0)) / 86400.0


def _bump(h: float, centre: float, width: float) -> float:
    d = h - centre
    return math.exp(-0.5 * (d * d) / (width * width))


# --------------------------------------------------------------------------- daily curves


def commute(h: float) -> float:
    """Demand for roads and stations, 0..1: night low, peaks 07–09 and 17–19."""
    base = 0.07 + 0.45 * _bump(h, 13.0, 4.2)
    return min(1.0, base + 0.55 * _bump(h, 8.0, 0.75) + 0.55 * _bump(h, 18.0, 0.8))


def leisure(h: float) -> float:
    """Parks, squares and malls, 0..1: daytime plateau, commute peaks, evening stroll."""
    base = 0.05 + 0.5 * _bump(h, 15.0, 3.5)
    return min(1.0, base + 0.35 * _bump(h, 8.0, 0.8) + 0.4 * _bump(h, 18.0, 0.8) + 0.45 * _bump(h, 20.0, 1.0))


def daytime(h: float) -> float:
    """Smooth 0 (night) .. 1 (day) switch, day from ~06:30 to ~21:30."""
    return 1.0 / (1.0 + math.exp(-2.0 * (h - 6.5))) - 1.0 / (1.0 + math.exp(-2.0 * (h - 21.5)))


def office(h: float) -> float:
    """Office-hours load of the platform's systems, 0.2..1."""
    return 0.2 + 0.8 * (1.0 / (1.0 + math.exp(-3.0 * (h - 8.3))) - 1.0 / (1.0 + math.exp(-1.5 * (h - 18.5))))


def streetlight_on(h: float, shift_h: float = 0.0) -> bool:
    """Lights are on from ~18:00 to ~06:00 (each lamp's controller shifted by `shift_h`): the
    city's schedule, `ioc.domain.lighting`, which the big screen judges the lamps by."""
    return lighting.scheduled_on(h, shift_h)


def parking_occupancy(h: float, commercial: bool) -> float:
    """Probability that a spot is occupied: commercial full by day, residential by night."""
    if commercial:
        return 0.12 + 0.75 * _bump(h, 14.0, 3.8)
    return 0.88 - 0.45 * _bump(h, 13.0, 3.8)


def yangtze_level(t: float, phase: float = 0.0) -> float:
    """Tidal Yangtze level at Zhangjiagang, metres above the Wusong datum (~1.55–3.75)."""
    spring = 1.0 + 0.1 * math.cos(_TWO_PI * t / SPRING_NEAP_PERIOD_S)
    return 2.65 + 0.95 * spring * math.cos(_TWO_PI * t / TIDE_PERIOD_S + phase)


def river_level(t: float, phase: float = 0.0) -> float:
    """Sluice-controlled inland river, ~2.6–3.1 m (before noise)."""
    return 2.85 + 0.13 * math.sin(_TWO_PI * t / 86400.0 + phase)


def water_temperature(t: float) -> float:
    """Seasonal surface water temperature, ~7 °C in late January to ~27 °C in late July."""
    return 17.0 - 10.0 * math.cos(_TWO_PI * (day_of_year(t) - 20.0) / 365.25)


# --------------------------------------------------------------------------- AQI (HJ 633-2012, see ioc.domain.air_quality)

def aqi(pm25: float, pm10: float, no2: float, o3: float) -> int:
    return min(500, int(math.ceil(max(iaqi("pm25", pm25), iaqi("pm10", pm10), iaqi("no2", no2), iaqi("o3", o3)))))


# --------------------------------------------------------------------------- readings
#
# Each function takes a device (see fleet.Device: .key, .p, .q, .extra) and simulated epoch
# seconds, and returns the attribute dict of one telemetry message (without `ts`). They run
# for every message, so the daily curves are read from per-minute tables.

CITY_KEY = 0x1C0C  # city-wide air-mass noise


def _table(fn) -> list[float]:
    return [fn(m / 60.0) for m in range(1440)]


COMMUTE = _table(commute)
LEISURE = _table(leisure)
DAYTIME = _table(daytime)
OFFICE = _table(office)
AIR_TRAFFIC = _table(lambda h: 1.0 + 0.25 * _bump(h, 8.0, 1.2) + 0.3 * _bump(h, 20.5, 2.0))
OZONE = _table(lambda h: 30.0 + 95.0 * _bump(h, 15.0, 2.6))
PARKING_COMMERCIAL = _table(lambda h: parking_occupancy(h, True))
PARKING_RESIDENTIAL = _table(lambda h: parking_occupancy(h, False))
WATER_DIURNAL = _table(lambda h: 0.8 * math.sin(_TWO_PI * (h - 9.0) / 24.0))


def minute_of_day(t: float) -> int:
    return int((t + UTC_OFFSET_S) % 86400.0) // 60


def _air_quality(d, t):
    m = minute_of_day(t)
    k = d.key
    air = 1.15 + 0.65 * smooth(CITY_KEY, t, 4 * 3600.0)  # regional air mass 0.5..1.8
    pm25 = 34.0 * air * AIR_TRAFFIC[m] * (0.85 + 0.3 * d.p) + 3.0 * smooth(k, t, 900.0) + 1.5 * jitter(k, t)
    if pm25 < 3.0:
        pm25 = 3.0
    pm10 = pm25 * (1.45 + 0.3 * d.q) + 4.0 * smooth(k + 1, t, 1200.0)
    if pm10 < pm25:
        pm10 = pm25
    no2 = 22.0 + 30.0 * COMMUTE[m] * (0.7 + 0.6 * d.p) + 4.0 * smooth(k + 2, t, 900.0)
    o3 = OZONE[m] * (0.8 + 0.4 * d.q) + 6.0 * smooth(k + 3, t, 1800.0)
    return {
        "pm25": round(pm25, 1),
        "pm10": round(pm10, 1),
        "no2": round(no2, 1),
        "o3": round(o3 if o3 > 1.0 else 1.0, 1),
        "so2": round(7.0 + 4.0 * d.q + 1.5 * smooth(k + 4, t, 1800.0), 1),
        "co": round(0.55 + 0.35 * COMMUTE[m] + 0.08 * smooth(k + 5, t, 1800.0), 2),
        "airQualityIndex": aqi(pm25, pm10, no2, o3),
    }


def _noise(d, t):
    m = minute_of_day(t)
    k = d.key
    laeq = 40.0 + 13.0 * DAYTIME[m] + 4.0 * COMMUTE[m] + 14.0 * d.p + 1.2 * smooth(k, t, 300.0) + 0.8 * jitter(k, t)
    return {"LAeq": round(laeq, 1), "LAmax": round(laeq + 12.5 + 3.5 * jitter(k + 1, t), 1)}


# Speed against demand (a BPR-style curve): speed = free speed / (1 + RUSH_DROP * load^4), where
# a road's load is demand × (RUSH_LOAD_BASE + RUSH_LOAD_BUSY × its busyness `p`). Quiet at night
# (free flow), ~10–20 % slower by day, and at the 07:30–09:00 and 17:00–19:00 rush hours busy
# roads come down to 15–25 km/h: the city's mean speed falls to ~25 km/h and the congestion
# index (50 km/h over the mean speed) reaches ~2 at the peaks.
RUSH_DROP = 2.0
RUSH_LOAD_BASE = 0.8
RUSH_LOAD_BUSY = 0.45
MIN_SPEED_KMH = 13.0  # stop-and-go, still above the traffic-jam alarm (< 10 km/h)


def _traffic(d, t):
    k = d.key
    demand = COMMUTE[minute_of_day(t)] * (1.0 + 0.08 * smooth(k, t, 600.0))
    intensity = int((80.0 + 320.0 * d.p) * demand * (1.0 + 0.07 * jitter(k, t)))  # veh / 5 min
    free_speed = 40.0 + 30.0 * d.q
    load = demand * (RUSH_LOAD_BASE + RUSH_LOAD_BUSY * d.p)
    load *= load
    speed = free_speed / (1.0 + RUSH_DROP * load * load) + 2.5 * jitter(k + 1, t)
    if speed < MIN_SPEED_KMH:
        speed = MIN_SPEED_KMH
    occupancy = 0.03 + 0.55 * demand * demand + 0.02 * jitter(k + 2, t)
    return {
        "intensity": intensity if intensity > 0 else 0,
        "occupancy": round(min(0.95, max(0.0, occupancy)), 3),
        "averageVehicleSpeed": round(speed, 1),
        "congested": speed < 0.45 * free_speed,
    }


def _streetlight(d, t):
    h = local_hour(t)
    if streetlight_on(h, (d.p - 0.5) * 2 * lighting.CONTROLLER_SPREAD_H):  # controllers differ by up to ±12 minutes
        return {"powerState": "on", "status": "ok", "illuminanceLevel": 0.6 if 23.0 <= h or h < 5.0 else 1.0}
    return {"powerState": "off", "status": "ok", "illuminanceLevel": 0.0}


def _manhole(d, t):
    k = d.key
    battery = 0.4 + 0.6 * ((d.p * 7.31 + d.q) % 1.0) - 0.02 * (t % 8_640_000.0) / 8_640_000.0
    return {
        "tilt": round(0.6 + 2.0 * d.p + 0.3 * smooth(k, t, 3600.0), 2),
        "displaced": False,
        "waterDepth": round(0.4 + 0.9 * d.q + 0.08 * smooth(k + 1, t, 7200.0), 2),
        "batteryLevel": round(battery if battery > 0.05 else 0.05, 2),
    }


def _water_level(d, t):
    k = d.key
    if d.extra.get("water") == "yangtze":
        level = yangtze_level(t, (d.p - 0.5) * 0.6) + 0.04 * smooth(k, t, 1800.0)
        flow = 28000.0 + 6000.0 * math.sin(_TWO_PI * t / TIDE_PERIOD_S) + 800.0 * smooth(k + 1, t, 3600.0)
        return {"waterLevel": round(level, 3), "flowRate": round(flow, 0)}
    level = river_level(t, d.p * _TWO_PI) + 0.1 * smooth(k, t, 6 * 3600.0) + 0.01 * jitter(k, t)
    flow = 12.0 + 30.0 * d.q + 4.0 * smooth(k + 1, t, 3600.0)
    return {"waterLevel": round(level, 3), "flowRate": round(flow, 2)}


# Rain: a city-wide weather front (value noise over ~3 h) rains on the whole city when it is above
# RAIN_FRONT, about a fifth of the time: drizzle and light rain, at most ~4 mm/h at a gauge (heavy
# rain, 30 mm/h and more, comes only with the rainstorm scenario). Tipping buckets resolve 0.1 mm.
RAIN_KEY = CITY_KEY + 0x5A1
RAIN_FRONT = 0.45
RAIN_MAX_MM_H = 2.5


def _rain_gauge(d, t):
    front = smooth(RAIN_KEY, t, 3 * 3600.0)
    if front <= RAIN_FRONT:
        return {"precipitation": 0.0}
    x = (front - RAIN_FRONT) / (1.0 - RAIN_FRONT)  # 0..1
    local = 0.6 + 0.4 * d.p + 0.4 * smooth(d.key, t, 1200.0)  # showers pass over the gauges unevenly
    return {"precipitation": round(max(0.0, RAIN_MAX_MM_H * x * math.sqrt(x) * local), 1)}


def _water_quality(d, t):
    m = minute_of_day(t)
    k = d.key
    ph = 7.25 + 0.5 * (d.p - 0.5) + 0.22 * smooth(k, t, 1800.0) + 0.03 * jitter(k, t)
    cod = 26.0 + 20.0 * d.q + 7.0 * DAYTIME[m] + 4.0 * smooth(k + 1, t, 1200.0)
    return {
        "pH": round(ph, 2),
        "cod": round(cod, 1),
        "NH4": round(0.6 + 2.0 * d.p + 0.2 * smooth(k + 2, t, 1800.0), 2),
        "turbidity": round(8.0 + 25.0 * d.q + 3.0 * smooth(k + 3, t, 900.0), 1),
        "temperature": round(water_temperature(t) + 4.0 * d.p + WATER_DIURNAL[m], 1),
    }


def _crowd(d, t):
    extra = d.extra
    capacity = extra["capacity"]
    curve = COMMUTE if extra["venue_type"] == "station" else LEISURE
    count = int(capacity * (curve[minute_of_day(t)] * (0.92 + 0.08 * smooth(d.key, t, 600.0)) + 0.02 * jitter(d.key, t)))
    if count < 0:
        count = 0
    return {"peopleCount": count, "congested": count > 0.85 * capacity}


def _parking(d, t):
    k = d.key
    bucket = int(t / 900.0)  # a spot changes state at most every 15 minutes
    if hash01(k + 7, bucket) < 0.004:
        return {"status": "unknown"}
    p = (PARKING_COMMERCIAL if d.extra["commercial"] else PARKING_RESIDENTIAL)[minute_of_day(t)]
    return {"status": "occupied" if hash01(k, bucket) < p else "free"}


def _platform(d, t):
    k = d.key
    extra = d.extra
    load = OFFICE[minute_of_day(t)]
    total = extra["interfaces"]
    # calls in this heartbeat's 10 s: the system's per-minute figure at office hours, scaled
    calls = int(extra["calls"] * d.interval / 60.0 * load * (1.0 + 0.15 * smooth(k, t, 300.0)) + 0.5 + 0.5 * jitter(k, t))
    if calls < 1:
        calls = 1
    # the error rate the system's monitoring reports (over its recent calls, so a heartbeat with
    # a handful of calls does not swing between 0 and 50 %); the errors of this heartbeat follow it
    rate = 0.001 + 0.004 * d.p * (1.0 + smooth(k + 1, t, 600.0))
    errors = int(calls * rate + hash01(k + 2, int(t * 10.0)))
    if errors > calls:
        errors = calls
    latency = extra["latency"] * (0.8 + 0.3 * load) * (1.0 + 0.15 * smooth(k + 3, t, 300.0))
    return {
        "calls": calls,
        "errors": errors,
        "errorRate": round(rate, 4),
        "latencyMs": round(latency, 1),
        "interfacesUp": total - 1 if hash01(k + 4, int(t / 600.0)) < 0.04 else total,
        "interfacesTotal": total,
    }


READINGS = {
    "air_quality": _air_quality,
    "noise": _noise,
    "traffic": _traffic,
    "streetlight": _streetlight,
    "manhole": _manhole,
    "water_level": _water_level,
    "rain_gauge": _rain_gauge,
    "water_quality": _water_quality,
    "crowd": _crowd,
    "parking": _parking,
    "platform": _platform,
}


def reading(device, t: float) -> dict:
    """Normal-operation attributes of `device` at simulated epoch seconds `t`."""
    return READINGS[device.kind](device, t)
