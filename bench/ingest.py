"""Scenario `ingest`: the real ingest worker (`python -m ioc ingest`) at full speed.

The demo city's fleet (50,000 field devices of nine kinds + 48 platform systems) is born first,
then the fast publisher sends QoS 0 telemetry as fast as it can through one worker, then through
two workers on a shared subscription (`IOC_INGEST_GROUP`). Each configuration runs `--runs`
times; the median is reported with the runs and spread, as a ratio to the baseline, with the CPU
of every process and the messages lost.
"""

from __future__ import annotations

from bench import cityio, fleetdata, procs
from bench.context import BenchContext
from bench.model import Measurement, ScenarioResult, Series, at_least
from bench.stats import summary
from bench.throughput import RunResult, run_once

TARGETS = {1: 25_000, 2: 40_000}
CALIBRATION = 30_000  # messages of the unreported first run
RUN_SECONDS = 15.0  # each reported run publishes about this many seconds' worth of what the consumers manage


def measure(ctx: BenchContext, scenario: str, redis_url: str, workers: int, client, fleet, fleet_path,
            cpu_servers: dict[str, int], env_extra: dict | None = None) -> list[RunResult]:
    """`ctx.runs` runs of `workers` ingest workers against `redis_url` (the workers stay up between runs)."""
    count = ctx.message_count(1_000_000, 30_000)
    children = procs.Children()
    try:
        env = ctx.process_env(REDIS_URL=redis_url, **(env_extra or {}))
        started = procs.ingest_workers(children, workers, env, ctx.work_dir)
        cityio.wait_workers(client, ctx.mqtt_url, fleet, [w.client_id for w in started], started)
        pids = {**cpu_servers, **{w.name: w.pid for w in started}}
        # A short calibration run (not reported) warms the workers up and sizes the runs to
        # about RUN_SECONDS each, so a slow or busy machine does not make the harness crawl.
        calibration = run_once(client, children, {"mode": "fast", "count": min(count, CALIBRATION), "fleet_path": str(fleet_path),
                                                  "mqtt_url": ctx.mqtt_url, "client_id": f"bench-pub-{scenario}-{workers}-cal"},
                               ctx.work_dir, pids)
        count = max(min(count, int(calibration.rate * RUN_SECONDS)), min(count, CALIBRATION))
        ctx.progress(f"{scenario}: {workers} worker(s): calibration {calibration.rate:,.0f} msg/s; {count:,} messages per run")
        results = []
        for run in range(ctx.runs):
            spec = {"mode": "fast", "count": count, "fleet_path": str(fleet_path), "mqtt_url": ctx.mqtt_url,
                    "client_id": f"bench-pub-{scenario}-{workers}-{run}"}
            r = run_once(client, children, spec, ctx.work_dir, pids)
            ctx.progress(f"{scenario}: {workers} worker(s), run {run + 1}/{ctx.runs}: {r.rate:,.0f} msg/s committed "
                         f"({r.accepted:,} of {r.sent:,} in {r.seconds:.1f} s, publisher {r.publish_rate:,.0f} msg/s), "
                         f"lost {r.lost:,}, rejected {r.rejected:,}, dropped {r.dropped:,}; CPU % {r.cpu}")
            results.append(r)
        return results
    finally:
        children.stop_all()


def report(scenario: str, workers: int, results: list[RunResult], baseline: float | None, target: float | None,
           extra: dict | None = None) -> list[Measurement]:
    rates = summary([r.rate for r in results])
    cpu_names = sorted({k for r in results for k in r.cpu})
    cpu = {name: summary([r.cpu.get(name, float("nan")) for r in results])["median"] for name in cpu_names}
    lost = [r.lost for r in results]
    label = f"{workers} worker{'s' if workers > 1 else ''}"
    detail = {**rates, "cpu_pct_median": cpu, "sent_per_run": results[0].sent if results else 0,
              "publisher_msg_s": summary([r.publish_rate for r in results])["median"],
              "rejected": [r.rejected for r in results], "dropped": [r.dropped for r in results], **(extra or {})}
    out = [Measurement(scenario, f"committed, {label}", rates["median"], "msg/s",
                       f"≥ {target:,.0f} msg/s" if target else "", at_least(rates["median"], target) if target else None, detail)]
    if baseline:
        out.append(Measurement(scenario, f"ratio to baseline, {label}", round(rates["median"] / baseline, 3), "ratio",
                               detail={"baseline_msg_s": baseline}))
    out.append(Measurement(scenario, f"lost at full speed, {label}", max(lost) if lost else 0, "messages",
                           detail={"per_run": lost, "note": "at full speed the publisher outruns the consumers: "
                                   "what the broker drops counts here (saturation); see `latency` for loss below saturation"}))
    dropped = [r.dropped for r in results]
    out.append(Measurement(scenario, f"dropped by the worker at full speed, {label}", max(dropped) if dropped else 0, "messages",
                           detail={"per_run": dropped, "sent_per_run": results[0].sent if results else 0,
                                   "note": "the publisher outruns the workers several times over; a worker holds up to "
                                   "IOC_INGEST_BUFFER_MAX messages and drops the oldest beyond, counted in messages:dropped"}))
    for name, value in cpu.items():
        out.append(Measurement(scenario, f"CPU {name}, {label}", value, "%", detail={"of": "one core"}))
    return out


def run(ctx: BenchContext) -> ScenarioResult:
    from ioc.adapters.redis_client import connect_redis

    n = ctx.fleet_size()
    ctx.progress(f"ingest: building the demo fleet of {n:,} devices (cached in the work dir)")
    fleet, fleet_path = fleetdata.load(ctx.work_dir, n)
    client = connect_redis(ctx.redis_url)
    settings = ctx.settings()
    result = ScenarioResult()
    children = procs.Children()
    try:  # births go through one worker, so the registry is complete before any measurement
        worker = procs.ingest_workers(children, 1, ctx.process_env(), ctx.work_dir)
        cityio.wait_workers(client, ctx.mqtt_url, fleet, [w.client_id for w in worker], worker)
        ctx.progress(f"ingest: births of {len(fleet.devices):,} devices")
        cityio.ensure_births(client, ctx.mqtt_url, fleet, settings.redis_shards, ctx.progress)
    finally:
        children.stop_all()
    baseline = ctx.shared.get("baseline_msg_s")
    rates = {}
    for workers in (1, 2):
        results = measure(ctx, "ingest", ctx.redis_url, workers, client, fleet, fleet_path, ctx.server_pids)
        result.measurements += report("ingest", workers, results, baseline, TARGETS[workers])
        rates[workers] = summary([r.rate for r in results])["median"]
        result.series.append(Series("ingest-curve", f"{workers} worker(s), run 1", [p[0] for p in results[0].curve],
                                    [p[1] for p in results[0].curve], "seconds since the first publish", "messages committed"))
    ctx.shared["ingest_msg_s"] = rates
    return result
