"""Scenario `memory`: Redis memory per device, per case, and its growth under a steady load.

Runs against a Redis of its own (fresh, so nothing else is counted), with one ingest worker:

1. `used_memory` (INFO memory) before and after the births of the fleet → bytes per device;
   then one reading per device (latest state, ts) → bytes per device with its state.
2. N cases created through `CaseService.report` (ioc/casework/service.py) → bytes per case.
3. The paced publisher at a steady load for M minutes (`--memory-minutes`), `used_memory`
   sampled every 30 s (10 s in quick mode), with the memory held by 1-minute rollup buckets
   (MEMORY USAGE of every `ioc:{sN}:roll:*` key) alongside.

Rollup retention is set to IOC_ROLLUP_RETENTION_HOURS=1 and IOC_ROLLUP_HOURLY_RETENTION_DAYS=1,
the shortest the settings allow (whole hours). When the run is longer than the first retention
window (60 min) plus 10 min, the growth after the window is the verdict; otherwise the window
is not reached and the verdict is the growth of everything except the rollup buckets (which
the retention bounds), with the rollup cost per minute and the plateau it implies reported.
"""

from __future__ import annotations

import random
import time

from bench import cityio, fleetdata, procs
from bench.context import BenchContext
from bench.model import Measurement, ScenarioResult, Series

RETENTION_HOURS = 1
FLAT_PCT = 5.0


def used(client) -> int:
    return int(client.info("memory")["used_memory"])


def rollup_pattern() -> str:
    """SCAN pattern of the 1-minute rollup buckets, from ioc.adapters.redis_keys (per-shard
    `rollup(shard, minute)` or fleet-wide `rollup(minute)`, whichever the product has)."""
    import inspect

    from ioc.adapters import redis_keys as keys

    marker = 987654321
    if len(inspect.signature(keys.rollup).parameters) == 2:
        key = keys.rollup(0, marker).replace("{s0}", "{s\x00}")
    else:
        key = keys.rollup(marker)
    for ch in "[]?*":
        key = key.replace(ch, "\\" + ch)
    return key.replace(str(marker), "*").replace("\x00", "*")


def rollup_bytes(client) -> int:
    total = 0
    for key in client.scan_iter(match=rollup_pattern(), count=1000):
        total += client.memory_usage(key) or 0
    return total


def create_cases(client, settings, count: int, progress) -> int:
    from ioc.adapters.geodata_files import load_city_map
    from ioc.casework.service import CaseService
    from ioc.domain import case_catalog

    city = load_city_map(settings.geodata_dir)
    service = CaseService.from_settings(client, city, settings)
    codes = sorted(case_catalog.MINOR_CLASSES)
    districts = [d.id for d in city.districts]
    rng = random.Random(6)
    made = 0
    t0 = time.time()
    for i in range(count):
        lon, lat = city.random_point_in(rng.choice(districts), rng)
        service.report(class_code=rng.choice(codes), lat=lat, lon=lon, source="hotline", actor="bench",
                       description=f"bench case {i}", report_id=f"bench-{i}")
        made += 1
        if made % 2000 == 0:
            progress(f"memory: {made:,} cases created ({made / (time.time() - t0):,.0f}/s)")
    return made


def run(ctx: BenchContext) -> ScenarioResult:
    from ioc.adapters import embedded
    from ioc.adapters.redis_client import connect_redis

    n = ctx.fleet_size()
    n_cases = ctx.scaled(10_000, 500)
    rate = ctx.scaled(5_000, 2_000)
    minutes = ctx.memory_minutes
    every = 10.0 if ctx.quick else 30.0
    fleet, fleet_path = fleetdata.load(ctx.work_dir, n)
    server = embedded.redis_server(ctx.work_dir / "redis-memory").start()
    env_extra = {"REDIS_URL": server.url, "IOC_ROLLUP_RETENTION_HOURS": str(RETENTION_HOURS),
                 "IOC_ROLLUP_HOURLY_RETENTION_DAYS": "1"}
    children = procs.Children()
    result = ScenarioResult()
    try:
        client = connect_redis(server.url)
        settings = ctx.settings(redis_url=server.url, rollup_retention_hours=RETENTION_HOURS, rollup_hourly_retention_days=1)
        workers = procs.ingest_workers(children, 1, ctx.process_env(**env_extra), ctx.work_dir)
        empty = used(client)
        cityio.wait_workers(client, ctx.mqtt_url, fleet, [w.client_id for w in workers], workers)
        cityio.ensure_births(client, ctx.mqtt_url, fleet, settings.redis_shards, ctx.progress)
        born = used(client)
        pub = procs.publisher(children, {"mode": "fast", "count": len(fleet.devices), "fleet_path": str(fleet_path),
                                         "mqtt_url": ctx.mqtt_url, "client_id": "bench-pub-memory-1"}, ctx.work_dir)
        before = cityio.counters(client)
        pub.send("go")
        done = pub.wait_event("done", 300)
        cityio.wait_drained(client, cityio.handled(before) + done["sent"], timeout=300)
        with_state = used(client)
        ctx.progress(f"memory: {n:,}+48 devices: {(born - empty) / len(fleet.devices):,.0f} B each after births, "
                     f"{(with_state - empty) / len(fleet.devices):,.0f} B with a reading")
        cases = create_cases(client, settings, n_cases, ctx.progress)
        with_cases = used(client)
        per_case = (with_cases - with_state) / max(cases, 1)
        ctx.progress(f"memory: {cases:,} cases: {per_case:,.0f} B each")

        ctx.progress(f"memory: steady load {rate:,} msg/s for {minutes:g} min, sampling every {every:.0f} s")
        pub = procs.publisher(children, {"mode": "paced", "rate": rate, "duration": minutes * 60, "fleet_path": str(fleet_path),
                                         "mqtt_url": ctx.mqtt_url, "client_id": "bench-pub-memory-2"}, ctx.work_dir)
        t0 = time.time()
        pub.send("go")
        xs, total, rollups = [], [], []
        while time.time() - t0 < minutes * 60:
            time.sleep(min(every, max(0.0, minutes * 60 - (time.time() - t0))))
            xs.append(round((time.time() - t0) / 60, 2))
            total.append(used(client))
            rollups.append(rollup_bytes(client))
            if len(xs) % max(1, int(300 / every)) == 0 or ctx.quick:
                ctx.progress(f"memory: {xs[-1]:.1f} min: used_memory {total[-1] / 2**20:,.1f} MiB "
                             f"(rollup buckets {rollups[-1] / 2**20:,.2f} MiB)")
        pub.wait_event("done", 120)
    finally:
        children.stop_all()
        server.stop()
    window = RETENTION_HOURS * 60
    others = [t - r for t, r in zip(total, rollups)]
    growth = 100 * (total[-1] - total[0]) / total[0] if total else float("nan")
    growth_others = 100 * (max(others) - min(others)) / others[0] if others else float("nan")
    span = (xs[-1] - xs[0]) if len(xs) > 1 else 0
    roll_per_min = (rollups[-1] - rollups[0]) / span if span else float("nan")
    after = [t for x, t in zip(xs, total) if x >= window + 5]
    reached = len(after) >= 2
    growth_after = 100 * (max(after) - min(after)) / after[0] if reached else float("nan")
    plateau_mib = (others[-1] + roll_per_min * 48 * 60) / 2**20 if others and roll_per_min == roll_per_min else float("nan")
    result.measurements += [
        Measurement("memory", "per device (registry, after births)", round((born - empty) / len(fleet.devices)), "bytes",
                    detail={"devices": len(fleet.devices)}),
        Measurement("memory", "per device (with its latest reading)", round((with_state - empty) / len(fleet.devices)), "bytes"),
        Measurement("memory", "per case", round(per_case), "bytes", detail={"cases": cases}),
        Measurement("memory", f"growth over {minutes:g} min at {rate:,} msg/s", round(growth, 2), "%",
                    detail={"first_bytes": total[0] if total else None, "last_bytes": total[-1] if total else None}),
        Measurement("memory", "growth after the first retention window", round(growth_after, 2), "%",
                    f"±{FLAT_PCT:.0f} %" if reached else "", (abs(growth_after) <= FLAT_PCT) if reached else None,
                    {"retention_window_min": window, "reached": reached,
                     "note": "" if reached else f"the run ({minutes:g} min) is shorter than the first window "
                             f"({window} min, the shortest IOC_ROLLUP_RETENTION_HOURS): see the next line"}),
        Measurement("memory", "growth without rollup buckets (bounded by retention)", round(growth_others, 2), "%",
                    f"±{FLAT_PCT:.0f} %", abs(growth_others) <= FLAT_PCT),
        Measurement("memory", "rollup buckets per minute of data", round(roll_per_min), "bytes",
                    detail={"projected_used_memory_mib_at_48h_retention": round(plateau_mib, 1)}),
    ]
    result.series += [
        Series("memory", "used_memory (MiB)", xs, [t / 2**20 for t in total], "minutes of steady load", "MiB"),
        Series("memory", "without rollup buckets (MiB)", xs, [o / 2**20 for o in others], "minutes of steady load", "MiB"),
    ]
    return result
