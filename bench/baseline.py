"""Scenario `baseline`: the ceiling of a Python consumer on this machine, in the same run.

A bare paho-mqtt subscriber (bench/subscriber.py, its own process) that only counts, fed by the
same fast publisher as the ingest scenario (same fleet, same payloads, QoS 0). Its rate is
received messages ÷ (last receive − first publish); ingest figures are also given as a ratio to it.
"""

from __future__ import annotations

import time

from bench import fleetdata, procs
from bench.context import BenchContext
from bench.model import Measurement, ScenarioResult
from bench.stats import summary


def _wait_quiet(sub: procs.Child, expected: int, idle_s: float = 2.0, timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    last, still = -1, time.time()
    while time.time() < deadline:
        time.sleep(0.2)
        state = sub.last
        count = state.get("count", 0)
        if count >= expected:
            return state
        if count != last:
            last, still = count, time.time()
        elif time.time() - still > idle_s:
            return state
    return sub.last


def run(ctx: BenchContext) -> ScenarioResult:
    n = ctx.fleet_size()
    fleet, fleet_path = fleetdata.load(ctx.work_dir, n)
    count = ctx.message_count(300_000, 30_000)
    children = procs.Children()
    rates, lost, cpus, pub_rates = [], [], [], []
    try:
        for run_no in range(ctx.runs):
            sub = procs.subscriber(children, ctx.mqtt_url, "ioc/v1/+/+/telemetry", ctx.work_dir)
            spec = {"mode": "fast", "count": count, "fleet_path": str(fleet_path), "mqtt_url": ctx.mqtt_url,
                    "client_id": f"bench-pub-baseline-{run_no}"}
            pub = procs.publisher(children, spec, ctx.work_dir)
            meter = procs.CpuMeter({**ctx.server_pids, "subscriber": sub.pid, "publisher": pub.pid})
            start_count = sub.last.get("count", 0)
            meter.start()
            pub.send("go")
            done = pub.wait_event("done", 600)
            state = _wait_quiet(sub, start_count + done["sent"])
            cpu = meter.stop()
            received = state.get("count", 0) - start_count
            seconds = max(state.get("last", 0) - done["t0"], 1e-6)
            rates.append(received / seconds)
            lost.append(done["sent"] - received)
            cpus.append(cpu)
            pub_rates.append(done["sent"] / max(done["t1"] - done["t0"], 1e-6))
            ctx.progress(f"baseline: run {run_no + 1}/{ctx.runs}: {rates[-1]:,.0f} msg/s received "
                         f"({received:,} of {done['sent']:,}; publisher {pub_rates[-1]:,.0f} msg/s); CPU % {cpu}")
            pub.stop()
            sub.stop()
    finally:
        children.stop_all()
    rate = summary(rates)
    ctx.shared["baseline_msg_s"] = rate["median"]
    cpu_med = {k: summary([c.get(k, float("nan")) for c in cpus])["median"] for k in cpus[0]} if cpus else {}
    result = ScenarioResult()
    result.measurements.append(Measurement(
        "baseline", "bare paho subscriber", rate["median"], "msg/s",
        detail={**rate, "messages_per_run": count, "not_received": lost, "cpu_pct_median": cpu_med,
                "publisher_msg_s": summary(pub_rates)["median"]}))
    for name, value in cpu_med.items():
        result.measurements.append(Measurement("baseline", f"CPU {name}", value, "%", detail={"of": "one core"}))
    return result
