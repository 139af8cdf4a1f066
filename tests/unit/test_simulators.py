"""The simulators' pure parts: fleet, daily patterns, scenarios, faults, payloads (no broker)."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from ioc.adapters.geodata_files import load_city_map
from ioc.domain.kinds import KINDS
from simulators.fleet import build_fleet, kind_counts
from simulators.patterns import reading
from simulators.platform import SYSTEMS, total_interfaces
from simulators.run import Simulation
from simulators.scenarios import ScenarioSpec, crowd_target

CST = timezone(timedelta(hours=8))
START = datetime(2026, 6, 1, 0, 0, tzinfo=CST)  # a Monday, local midnight
START_MS = int(START.timestamp() * 1000)


@pytest.fixture(scope="module")
def city():
    return load_city_map()


@pytest.fixture(scope="module")
def fleet(city):
    return build_fleet(city, 2000, seed=20260101)


@pytest.fixture(scope="module")
def small_fleet(city):
    return build_fleet(city, 300, seed=7)


def at(hour: float, day: int = 0) -> float:
    """Epoch seconds of local (Asia/Shanghai) `hour` on START + `day`."""
    return START.timestamp() + day * 86400 + hour * 3600


def run_messages(fleet, seconds, **kwargs):
    sim = Simulation(fleet, start_ms=START_MS, **kwargs)
    out = []
    sim.run_until(seconds, out)
    return sim, out


def _ms(ts) -> int:
    return ts if isinstance(ts, int) else int(datetime.fromisoformat(ts).timestamp() * 1000)


def telemetry(out, kind=None, device_id=None):
    """(device_id, payload dict) of the telemetry messages in `out`."""
    result = []
    for _, topic, payload, _, _ in out:
        _, _, k, did, leaf = topic.split("/")
        if leaf == "telemetry" and (kind is None or k == kind) and (device_id is None or did == device_id):
            result.append((did, orjson.loads(payload)))
    return result


def catalog_errors(kind_id: str, payload: dict) -> list[str]:
    """Why `payload` would be rejected against the kinds catalog (empty list: valid)."""
    kind = KINDS[kind_id]
    errors = []
    ts = payload.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, (int, str)):
        errors.append(f"ts {ts!r}")
    elif isinstance(ts, str) and not ts.endswith("+08:00"):
        errors.append(f"ts {ts!r} without +08:00")
    values = {k: v for k, v in payload.items() if k != "ts"}
    if not values:
        errors.append("no attribute")
    for name, value in values.items():
        attr = kind.attribute(name)
        if attr is None:
            errors.append(f"unknown attribute {name}")
        elif attr.type == "boolean":
            if not isinstance(value, bool):
                errors.append(f"{name}={value!r} not a boolean")
        elif attr.type == "enum":
            if value not in attr.choices:
                errors.append(f"{name}={value!r} not in {attr.choices}")
        else:
            ok_types = (int,) if attr.type == "integer" else (int, float)
            if isinstance(value, bool) or not isinstance(value, ok_types):
                errors.append(f"{name}={value!r} is not {attr.type}")
            elif not math.isfinite(value) or not attr.minimum <= value <= attr.maximum:
                errors.append(f"{name}={value!r} outside [{attr.minimum}, {attr.maximum}]")
    return errors


# --------------------------------------------------------------------------- fleet


def test_same_seed_builds_the_same_fleet(city):
    a = build_fleet(city, 500, seed=42)
    b = build_fleet(city, 500, seed=42)
    assert [d.as_tuple() for d in a.devices] == [d.as_tuple() for d in b.devices]


def test_different_seeds_place_devices_differently(city):
    a = build_fleet(city, 500, seed=1)
    b = build_fleet(city, 500, seed=2)
    assert [(d.lon, d.lat) for d in a.devices] != [(d.lon, d.lat) for d in b.devices]


def test_same_seed_and_start_give_the_same_payloads(small_fleet):
    kwargs = dict(scenarios=[ScenarioSpec("rainstorm", 1)], fault_rate=500.0, speed=10.0)
    _, first = run_messages(small_fleet, 300, **kwargs)
    _, second = run_messages(small_fleet, 300, **kwargs)
    assert len(first) > 1000
    assert first == second


def test_every_device_lies_inside_its_district(city, fleet):
    outside = [d.id for d in fleet.devices if city.district_at(d.lon, d.lat) != d.district]
    assert outside == []


def test_device_ids_are_unique_and_readable(fleet):
    ids = [d.id for d in fleet.devices]
    assert len(set(ids)) == len(ids)
    pattern = re.compile(r"^([a-z]{2}-[a-z]+-\d{4}|sys-[a-z0-9]+)$")
    assert [i for i in ids if not pattern.match(i)] == []
    assert any(d.id == "aq-yangshe-0001" and d.name == "杨舍 空气质量监测点 1" for d in fleet.devices)


def test_default_fleet_has_every_kind_with_many_street_lights_and_manholes(fleet):
    counts = Counter(d.kind for d in fleet.devices)
    assert set(counts) == {k for k, v in KINDS.items() if v.telemetry}
    assert counts["streetlight"] > 400 and counts["manhole"] > 400
    assert 5 <= counts["water_level"] <= 60


def test_some_water_level_gauges_are_on_the_yangtze(fleet):
    gauges = fleet.of_kind("water_level")
    assert {d.extra["water"] for d in gauges} == {"yangtze", "river"}


def test_every_district_has_a_rain_gauge_named_after_it(city, fleet, small_fleet):
    for f in (fleet, small_fleet):
        assert {d.district for d in f.of_kind("rain_gauge")} == {d.id for d in city.districts}
    names = {d.name for d in fleet.of_kind("rain_gauge")}
    assert "杨舍雨量站" in names and len(names) == len(fleet.of_kind("rain_gauge")) <= 2 * len(city.districts)


def test_fleet_scales_to_50000_devices(city):
    big = build_fleet(city, 50_000, seed=3)
    assert len(big) == 50_000 + len(SYSTEMS)
    assert sum(kind_counts(50_000).values()) == 50_000
    assert len({d.id for d in big.devices}) == len(big)


# --------------------------------------------------------------------------- platform


def test_platform_has_48_systems_with_600_plus_interfaces():
    assert len(SYSTEMS) == 48
    assert total_interfaces() >= 600
    assert {"数字城管", "12345政务热线", "智慧交通", "视频共享平台", "物联网感知平台"} <= {s.name_zh for s in SYSTEMS}


def test_platform_systems_sit_in_yangshe(fleet):
    systems = fleet.of_kind("platform")
    assert len(systems) == 48
    assert {d.district for d in systems} == {"yangshe"}
    assert fleet.by_id("sys-szcg").name == "数字城管"


def test_platform_heartbeat_is_every_10_seconds(fleet):
    _, out = run_messages(fleet, 60.0)
    beats = Counter(did for did, _ in telemetry(out, "platform"))
    assert len(beats) == 48 and set(beats.values()) == {6}


# --------------------------------------------------------------------------- payloads


def test_every_generated_payload_validates_against_the_kinds_catalog(fleet):
    sim, out = run_messages(
        fleet, 1440.0, speed=60.0, fault_rate=3000.0,
        scenarios=[ScenarioSpec.parse(s) for s in ("rainstorm@60", "discharge@300", "crowd@600")],
    )
    bad = []
    for _, topic, payload, _, _ in out:
        _, _, kind, did, leaf = topic.split("/")
        obj = orjson.loads(payload)
        if leaf == "telemetry":
            bad += [(did, e) for e in catalog_errors(kind, obj)]
        else:
            assert obj == {"state": "offline"} or set(obj) == {"state", "lat", "lon", "name"}
    assert bad == []
    assert {t.split("/")[2] for _, t, *_ in out} >= {k for k, v in KINDS.items() if v.telemetry}


def test_births_carry_location_and_chinese_name(fleet):
    sim = Simulation(fleet, start_ms=START_MS)
    births = sim.births()
    assert len(births) == len(fleet)
    _, topic, payload = births[0]
    obj = orjson.loads(payload)
    assert topic.endswith("/status") and obj["state"] == "online"
    assert isinstance(obj["lat"], float) and isinstance(obj["lon"], float) and obj["name"]


def test_about_one_device_in_ten_sends_iso_timestamps_with_offset(fleet):
    _, out = run_messages(fleet, 120.0)
    stamps = [p["ts"] for _, p in telemetry(out)]
    iso = [s for s in stamps if isinstance(s, str)]
    assert 0.05 < len(iso) / len(stamps) < 0.15
    assert all(s.endswith("+08:00") for s in iso)
    assert all(isinstance(s, int) and s >= START_MS for s in stamps if not isinstance(s, str))


def test_rate_flag_scales_the_total_message_rate(fleet):
    sim = Simulation(fleet, start_ms=START_MS, rate=5000)
    assert sim.expected_rate == pytest.approx(5000, rel=0.01)


# --------------------------------------------------------------------------- daily patterns


def test_street_lights_are_on_at_22_and_off_at_noon(fleet):
    lights = fleet.of_kind("streetlight")
    assert {reading(d, at(22))["powerState"] for d in lights} == {"on"}
    assert {reading(d, at(12))["powerState"] for d in lights} == {"off"}


def test_traffic_peaks_in_the_morning_and_evening_rush(fleet):
    detectors = fleet.of_kind("traffic")

    def mean_intensity(hour):
        return statistics.mean(reading(d, at(hour))["intensity"] for d in detectors)

    assert mean_intensity(8) > 1.5 * mean_intensity(12) > 3 * mean_intensity(3)
    assert mean_intensity(18) > 1.5 * mean_intensity(14)


def test_crowds_peak_at_rush_hours_and_stay_below_3000(fleet):
    counters = fleet.of_kind("crowd")
    totals = {h: sum(reading(d, at(h))["peopleCount"] for d in counters) for h in (3, 8, 12, 18)}
    assert totals[8] > totals[3] * 3 and totals[18] > totals[12]
    assert max(reading(d, at(h / 4))["peopleCount"] for d in counters for h in range(96)) < 3000


def test_noise_is_louder_by_day_than_at_night(fleet):
    meters = fleet.of_kind("noise")
    day = statistics.mean(reading(d, at(10))["LAeq"] for d in meters)
    night = statistics.mean(reading(d, at(3))["LAeq"] for d in meters)
    assert day - night > 8


def test_air_quality_index_is_mostly_between_30_and_120(fleet):
    values = [reading(d, at(h)) ["airQualityIndex"] for d in fleet.of_kind("air_quality") for h in range(0, 24, 2)]
    inside = sum(1 for v in values if 30 <= v <= 120)
    assert inside / len(values) > 0.8


def test_parking_fills_commercial_spots_by_day(fleet):
    spots = [d for d in fleet.of_kind("parking") if d.extra["commercial"]]
    occupied = lambda h: sum(reading(d, at(h))["status"] == "occupied" for d in spots) / len(spots)  # noqa: E731
    assert occupied(14) > occupied(3) + 0.4


def test_yangtze_level_is_tidal_between_1_5_and_3_8_metres(fleet):
    gauge = next(d for d in fleet.of_kind("water_level") if d.extra["water"] == "yangtze")
    levels = [reading(gauge, at(m / 60))["waterLevel"] for m in range(0, 25 * 60, 10)]
    assert 1.5 <= min(levels) < 2.2 and 3.2 < max(levels) <= 3.8
    crossings = sum(1 for a, b in zip(levels, levels[1:]) if a < 2.65 <= b)
    assert crossings == 2  # two high tides a day (period ~12.4 h)


def test_normal_day_keeps_water_levels_below_4_2(fleet):
    gauges = fleet.of_kind("water_level")
    highest = max(reading(d, at(m / 60, day))["waterLevel"] for d in gauges for day in (0, 7) for m in range(0, 1440, 5))
    assert highest < 4.2


def test_normal_operation_crosses_no_alarm_threshold(fleet):
    breaches = []
    for d in fleet.devices:
        for h in range(0, 24):
            v = reading(d, at(h + d.p))
            checks = {
                "air_quality": lambda: v["airQualityIndex"] > 200,
                "noise": lambda: v["LAeq"] > 85,
                "traffic": lambda: v["averageVehicleSpeed"] < 10,
                "streetlight": lambda: v["status"] != "ok",
                "manhole": lambda: v["displaced"] or v["tilt"] > 15,
                "water_level": lambda: v["waterLevel"] >= 4.2,
                "rain_gauge": lambda: v["precipitation"] >= 30,
                "water_quality": lambda: v["cod"] > 100 or not 6 <= v["pH"] <= 9,
                "crowd": lambda: v["peopleCount"] > 3000,
                "platform": lambda: v["errorRate"] > 0.05,
            }
            if d.kind in checks and checks[d.kind]():
                breaches.append((d.id, h, v))
    assert breaches == []


def test_outfalls_stay_within_normal_ph_and_cod(fleet):
    values = [reading(d, at(h)) for d in fleet.of_kind("water_quality") for h in range(24)]
    assert all(6.5 <= v["pH"] <= 8.5 and 20 <= v["cod"] <= 60 for v in values)


# --------------------------------------------------------------------------- scenarios


def test_scenario_spec_parses_name_and_minutes():
    assert ScenarioSpec.parse("rainstorm@5") == ScenarioSpec("rainstorm", 5.0)
    assert ScenarioSpec.parse("crowd") == ScenarioSpec("crowd", 1.0)
    with pytest.raises(ValueError):
        ScenarioSpec.parse("earthquake")


def test_rainstorm_pushes_water_levels_past_4_7(small_fleet):
    sim, out = run_messages(small_fleet, 40 * 60, scenarios=[ScenarioSpec("rainstorm", 1)])
    levels = [p["waterLevel"] for _, p in telemetry(out, "water_level")]
    assert max(levels) >= 4.7
    assert levels[-1] < 4.2  # and it recedes
    assert sim.notices[:2] == [f"scenario rainstorm started: {sim.scenarios[0].summary}", "scenario rainstorm ended"]


def test_normal_weather_is_dry_or_light_rain(fleet):
    values = [reading(d, at(m / 60, day))["precipitation"] for d in fleet.of_kind("rain_gauge")
              for day in range(7) for m in range(0, 1440, 10)]
    dry = sum(1 for v in values if v == 0.0) / len(values)
    assert 0.6 < dry < 0.95
    assert max(values) < 8.0  # never more than light-to-moderate rain


def test_rainstorm_pours_40_to_90_mm_an_hour_before_the_rivers_peak(small_fleet):
    _, out = run_messages(small_fleet, 40 * 60, scenarios=[ScenarioSpec("rainstorm", 1)])
    rain = telemetry(out, "rain_gauge")
    peaks = {}
    for did, p in rain:
        peaks[did] = max(peaks.get(did, 0.0), p["precipitation"])
    assert len(peaks) == len(small_fleet.of_kind("rain_gauge"))
    assert all(35 <= v <= 100 for v in peaks.values())
    assert sum(1 for v in peaks.values() if v >= 50) >= 3
    first_heavy = next(p["ts"] for _, p in rain if p["precipitation"] >= 30)
    first_warning = next(p["ts"] for _, p in telemetry(out, "water_level") if p["waterLevel"] >= 4.2)
    assert _ms(first_heavy) < _ms(first_warning)
    assert all(p["precipitation"] < 8 for _, p in rain[-len(peaks):])  # and it stops


def test_rainstorm_fills_manholes(small_fleet):
    _, out = run_messages(small_fleet, 20 * 60, scenarios=[ScenarioSpec("rainstorm", 1)])
    depths = [p["waterDepth"] for _, p in telemetry(out, "manhole")]
    assert max(depths) > 2.0


def test_discharge_scenario_spikes_cod_above_100_at_its_outfall(small_fleet):
    sim, out = run_messages(small_fleet, 10 * 60, scenarios=[ScenarioSpec("discharge", 1)])
    (target,) = sim.scenarios[0].targets
    outfall = small_fleet.devices[target]
    readings = [p for _, p in telemetry(out, "water_quality", outfall.id)]
    assert max(p["cod"] for p in readings) > 100
    assert min(p["pH"] for p in readings) < 6
    others = [p["cod"] for did, p in telemetry(out, "water_quality") if did != outfall.id]
    assert max(others) <= 60


def test_crowd_scenario_surges_past_5000_at_a_square(small_fleet):
    _, out = run_messages(small_fleet, 25 * 60, scenarios=[ScenarioSpec("crowd", 1)])
    target = crowd_target(small_fleet)
    assert target.extra["venue"] in ("暨阳湖", "步行街")
    counts = [p["peopleCount"] for _, p in telemetry(out, "crowd", target.id)]
    assert max(counts) > 5000 and counts[-1] < 3000


# --------------------------------------------------------------------------- faults


def test_outage_publishes_offline_then_a_new_birth(small_fleet):
    sim, out = run_messages(small_fleet, 3600.0, fault_rate=2000.0)
    statuses = [(t.split("/")[3], orjson.loads(p), q, r) for _, t, p, q, r in out if t.endswith("/status")]
    offline = [s for s in statuses if s[1] == {"state": "offline"}]
    assert offline and all(q == 1 and r for _, _, q, r in statuses)
    device_id = offline[0][0]
    after = [s[1]["state"] for s in statuses if s[0] == device_id]
    assert after[:2] == ["offline", "online"]


def test_outage_silences_the_device_telemetry(small_fleet):
    sim, out = run_messages(small_fleet, 3600.0, fault_rate=2000.0)
    events = [(t.split("/")[3], t.rsplit("/", 1)[1], p) for _, t, p, *_ in out]
    device_id = next(did for did, leaf, p in events if leaf == "status" and b"offline" in p)
    sequence = [leaf if leaf == "telemetry" else orjson.loads(p)["state"] for did, leaf, p in events if did == device_id]
    i = sequence.index("offline")
    j = sequence.index("online", i)
    assert set(sequence[i + 1:j]) == set()


def test_faults_displace_manholes_break_lamps_and_burst_platform_errors(fleet):
    _, out = run_messages(fleet, 1800.0, fault_rate=500.0)
    assert any(p["displaced"] and p["tilt"] > 15 for _, p in telemetry(out, "manhole"))
    assert any(p["status"] != "ok" for _, p in telemetry(out, "streetlight"))
    assert any(p["errorRate"] > 0.05 for _, p in telemetry(out, "platform"))


def test_zero_fault_rate_means_no_faults(small_fleet):
    sim, out = run_messages(small_fleet, 3600.0, fault_rate=0.0)
    assert not any(t.endswith("/status") for _, t, *_ in out)
    assert sim.notices == []


# --------------------------------------------------------------------------- issue 13: plausible figures

def test_rush_hours_bring_busy_roads_down_to_15_to_25_kmh(fleet):
    busy = [d for d in fleet.of_kind("traffic") if d.p > 0.7]
    speeds = [reading(d, at(8.0))["averageVehicleSpeed"] for d in busy]
    assert 13 <= statistics.median(speeds) <= 25
    assert min(speeds) >= 13  # stop-and-go, never a traffic-jam alarm from the daily pattern


def test_the_congestion_index_moves_from_free_flow_at_night_to_about_two_at_the_peaks(fleet):
    from ioc.views.bigscreen import FREE_FLOW_KMH

    detectors = fleet.of_kind("traffic")

    def index(hour):
        return max(1.0, FREE_FLOW_KMH / statistics.mean(reading(d, at(hour))["averageVehicleSpeed"] for d in detectors))

    assert index(3) == 1.0 and index(22.5) < 1.1
    assert 1.0 < index(12) < 1.3
    assert 1.6 < index(8) < 3.5 and 1.6 < index(18) < 3.5


def test_the_platform_handles_a_few_thousand_calls_a_minute_by_day_and_fewer_at_night(fleet):
    systems = fleet.of_kind("platform")

    def calls_per_minute(hour):
        return sum(reading(d, at(hour) + 10 * i)["calls"] for d in systems for i in range(6))

    assert 2_000 <= calls_per_minute(11) <= 8_000
    assert calls_per_minute(3) < calls_per_minute(11) / 3


def test_the_platform_error_rate_stays_far_below_the_alarm_without_faults(fleet):
    from ioc.domain.rules import RULES_BY_ID

    threshold = RULES_BY_ID["platform_errors"].threshold
    rates = [reading(d, at(h / 6))["errorRate"] for d in fleet.of_kind("platform") for h in range(144)]
    assert max(rates) < threshold / 2


def test_street_lights_follow_the_citys_lighting_schedule(fleet):
    from ioc.domain import lighting

    lights = fleet.of_kind("streetlight")
    for hour in (5.7, 6.3, 12.0, 17.7, 18.3, 23.0):
        lit = {reading(d, at(hour))["powerState"] == "on" for d in lights}
        if lighting.period(hour) == "on":
            assert lit == {True}, hour
        elif lighting.period(hour) == "off":
            assert lit == {False}, hour


# --------------------------------------------------------------------------- backfill (issue 13)

def test_the_backfill_never_reaches_further_back_than_the_ingest_accepts():
    from simulators.backfill import AGE_MARGIN_S, window

    end = at(10.9)
    win = window(end - 24 * 3600, end, max_age_s=86400)
    assert win.end_s == end and end - win.start_s == 86400 - AGE_MARGIN_S
    assert window(end - 3600, end, max_age_s=86400).start_s == end - 3600


def test_the_backfill_takes_every_device_of_the_trend_kinds_of_the_default_fleet(fleet):
    from simulators.backfill import BACKFILL_KINDS, backfill_devices
    from ioc.views.trends import TREND_PANELS

    chosen = backfill_devices(fleet)
    assert {p.kind for p in TREND_PANELS} <= set(BACKFILL_KINDS)
    assert len(chosen) == sum(len(fleet.of_kind(k)) for k in BACKFILL_KINDS)


def test_the_backfill_of_a_large_fleet_is_an_even_sample_of_each_kind(city):
    from simulators.backfill import MAX_DEVICES_PER_KIND, backfill_devices

    chosen = backfill_devices(build_fleet(city, 20_000, seed=1))
    per_kind = Counter(d.kind for d in chosen)
    assert set(per_kind.values()) <= set(range(1, MAX_DEVICES_PER_KIND + 1))
    assert max(per_kind.values()) == MAX_DEVICES_PER_KIND


def test_a_days_backfill_of_the_default_fleet_stays_modest(fleet):
    from simulators.backfill import backfill_devices, steps, window

    end = at(12.0)
    times = steps(window(end - 23.5 * 3600, end, 86400))
    assert len(times) == 23.5 * 12 and times[-1] < end
    assert len(times) * len(backfill_devices(fleet)) < 60_000


def test_no_backfilled_reading_is_stamped_at_or_after_the_backfills_now(fleet):
    """A reading stamped after "now" would take the device's latest state and make the live
    readings that follow it late (kept out of the latest state and the alarm rules)."""
    from simulators.backfill import backfill_devices, step_messages, steps, window

    end = at(12.0)
    last = steps(window(end - 3630, end, 86400))[-1]  # the last step half a minute before "now"
    assert end - last == 30
    stamps = [orjson.loads(payload)["ts"] for _, payload in step_messages(backfill_devices(fleet), last, end_s=end)]
    assert stamps and max(stamps) < end * 1000


def test_backfilled_readings_carry_their_past_timestamps_and_the_daily_patterns(fleet):
    from simulators.backfill import step_messages

    device = fleet.of_kind("crowd")[0]
    (topic, payload), = step_messages([device], at(3.0))
    body = orjson.loads(payload)
    assert topic == f"ioc/v1/crowd/{device.id}/telemetry"
    assert at(3.0) * 1000 <= body["ts"] < (at(3.0) + 60) * 1000
    assert body["peopleCount"] == reading(device, body["ts"] / 1000)["peopleCount"]


def test_the_backfill_progress_bar_prints_a_line_per_tenth_into_a_log():
    import io

    from simulators.backfill import ProgressBar

    out = io.StringIO()
    bar = ProgressBar(1000, "backfill 24 h", out)
    for done in range(0, 1001, 10):
        bar.update(done)
    lines = out.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].startswith("backfill 24 h [" + "#" * 30 + "] 100 %")
