"""Scenario "viewers": many big screens polling one web process at the page's real rates.

Each simulated wall signs in with its own kiosk link (a session cookie, as a real wall) and,
like the page, POSTs per tick of the shell's `tick` interval (`layouts.shell.REFRESH_MS`) the
shell heartbeat and the big-screen refresh, and the trends callback at the `trend-tick` rate
(`layouts.bigscreen.TREND_REFRESH_MS`, plus once at start as the page does). The page pauses
its timer while a refresh runs, so a client never has two refreshes in flight; a late tick is
skipped, not queued. Threads with `requests`, one session per wall, starts spread over a tick.

Reported: p50/p95/p99 per request type, errors (non-200 or exceptions), requests per second,
the web workers (the product default `IOC_WEB_WORKERS`) and the ingest load meanwhile.

Alone: `python -m bench.viewers [--quick] [--redis-url … --mqtt-url …]`.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
import requests

from bench.context import BenchContext
from bench.model import Measurement, ScenarioResult, Series, at_most
from bench.views import (OFFERED_LOAD, QUICK_LOAD, Load, accepted, build_payloads, percentile, seeded, standalone, start_load, start_web,
                         tokens)

SCENARIO = "viewers"
P95_TARGET_MS = 200.0
REQUESTS = ("shell heartbeat", "bigscreen refresh", "bigscreen trends")


def refresh_intervals() -> tuple[float, float]:
    """(tick, trend tick) in seconds, read from the layouts the page is built from."""
    from layouts.bigscreen import TREND_REFRESH_MS
    from layouts.shell import REFRESH_MS

    return REFRESH_MS / 1000, TREND_REFRESH_MS / 1000


@dataclass
class Tally:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    skipped_ticks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, ms: float, ok: bool, why: str = "") -> None:
        with self.lock:
            if ok:
                self.times[name].append(ms)
            else:
                self.errors[name] += 1
                if len(self.error_samples) < 5:
                    self.error_samples.append(f"{name}: {why}"[:200])


class Wall:
    """One big screen: its own session, its ticks, its trend ticks."""

    def __init__(self, base: str, kiosk_secret: str, bodies: dict[str, bytes], tally: Tally, tick_s: float, trend_s: float):
        self.base, self.bodies, self.tally = base, bodies, tally
        self.tick_s, self.trend_s = tick_s, trend_s
        self.session = requests.Session()
        self.session.get(f"{base}/kiosk/{kiosk_secret}", timeout=30, allow_redirects=False).raise_for_status()
        self.url = base + "/_dash-update-component"

    def post(self, name: str) -> None:
        t0 = time.perf_counter()
        try:
            r = self.session.post(self.url, data=self.bodies[name], headers={"Content-Type": "application/json"}, timeout=30)
            ok, why = r.status_code == 200, f"HTTP {r.status_code}"
        except requests.RequestException as e:
            ok, why = False, repr(e)
        self.tally.add(name, (time.perf_counter() - t0) * 1000, ok, why)

    def run(self, start_at: float, stop_at: float) -> None:
        time.sleep(max(0.0, start_at - time.monotonic()))
        next_tick = next_trend = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= stop_at:
                return
            if now >= next_trend:
                self.post("bigscreen trends")
                next_trend += self.trend_s
            self.post("shell heartbeat")
            self.post("bigscreen refresh")
            next_tick += self.tick_s
            while next_tick < time.monotonic():  # the timer was paused while the refresh ran
                next_tick += self.tick_s
                with self.tally.lock:
                    self.tally.skipped_ticks += 1
            time.sleep(max(0.0, min(next_tick, next_trend) - time.monotonic()))


def kiosk_links(ctx: BenchContext, n: int) -> list[str]:
    from ioc.adapters.geodata_files import load_city_map
    from ioc.adapters.redis_client import connect_redis
    from ioc.adapters.user_store import Actor
    from ioc.web.services import user_store

    settings = ctx.settings()
    store = user_store(connect_redis(ctx.redis_url), settings, load_city_map(settings.geodata_dir))
    return [store.create_token(f"bench-wall-{i}", ["operator"], Actor("bench", "admin"), kiosk=True)[1] for i in range(n)]


def drive(base: str, links: list[str], bodies: dict[str, bytes], seconds: float, progress) -> tuple[Tally, float]:
    tick_s, trend_s = refresh_intervals()
    tally = Tally()
    walls = [Wall(base, link, bodies, tally, tick_s, trend_s) for link in links]
    t0 = time.monotonic() + 0.5
    rng = random.Random(6)
    threads = [threading.Thread(target=w.run, args=(t0 + rng.random() * tick_s, t0 + seconds), daemon=True) for w in walls]
    for th in threads:
        th.start()
    while any(th.is_alive() for th in threads):
        time.sleep(5)
        if any(th.is_alive() for th in threads):
            with tally.lock:
                done = sum(len(v) for v in tally.times.values())
                refresh = list(tally.times["bigscreen refresh"])
            progress(f"  viewers: {done:,} requests, refresh p95 so far {percentile(refresh, .95):.0f} ms, "
                     f"errors {sum(tally.errors.values())}")
    for th in threads:
        th.join()
    return tally, time.monotonic() - t0


def run(ctx: BenchContext) -> ScenarioResult:
    progress = ctx.progress
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    clients = 10 if ctx.quick else 100
    seconds = 10.0 if ctx.quick else 60.0
    seed_info = seeded(ctx)
    api_secret, _ = tokens(ctx)
    links = kiosk_links(ctx, clients)
    web, base, workers = start_web(ctx)
    load = Load()
    try:
        from bench.seed import Scale

        load = start_load(ctx, Scale.of(ctx.quick).devices, QUICK_LOAD if ctx.quick else OFFERED_LOAD)
        time.sleep(5 if ctx.quick else 10)
        headers = {"Authorization": f"Bearer {api_secret}", "Content-Type": "application/json"}
        payloads = build_payloads(base, headers, ctx.settings(), "yangshe")
        bodies = {name: orjson.dumps(payloads[name][1]) for name in REQUESTS}
        tick_s, trend_s = refresh_intervals()
        progress(f"  viewers: {clients} walls against {base} ({workers} gunicorn workers), tick {tick_s:g} s, trends every {trend_s:g} s, "
                 f"{seconds:g} s; load {load.rate:,.0f} msg/s offered")
        count0 = accepted(ctx)
        tally, elapsed = drive(base, links, bodies, seconds, progress)
        achieved = (accepted(ctx) - count0) / elapsed
    finally:
        load.stop()
        web.stop()
    return results(tally, elapsed, clients, workers, achieved, load.rate, seed_info)


def results(tally: Tally, elapsed: float, clients: int, workers: int, achieved: float, offered: float, seed_info: dict) -> ScenarioResult:
    out = ScenarioResult()
    common = {"clients": clients, "seconds": round(elapsed, 1), "web_workers": workers, "ingest_msg_s": round(achieved),
              "offered_msg_s": offered or "natural", "seed": seed_info}
    total = sum(len(v) for v in tally.times.values())
    errors = sum(tally.errors.values())
    for name in REQUESTS:
        times = tally.times.get(name, [])
        p95 = percentile(times, .95)
        out.measurements.append(Measurement(
            SCENARIO, f"{name} p95 ({clients} walls)", round(p95, 1), "ms", f"≤ {P95_TARGET_MS:.0f} ms", at_most(p95, P95_TARGET_MS),
            {"p50_ms": round(percentile(times, .5), 1), "p99_ms": round(percentile(times, .99), 1), "requests": len(times),
             "errors": tally.errors.get(name, 0), **common}))
    out.measurements.append(Measurement(SCENARIO, f"errors ({clients} walls)", errors, "requests", "0", errors == 0,
                                        {"samples": tally.error_samples, "skipped_ticks": tally.skipped_ticks, **common}))
    out.measurements.append(Measurement(SCENARIO, f"requests served ({clients} walls)", round(total / elapsed, 1), "req/s", "", None,
                                        {"skipped_ticks": tally.skipped_ticks, **common}))
    for label, q in (("p50", .5), ("p95", .95), ("p99", .99)):
        out.series.append(Series("viewers", label, list(REQUESTS), [round(percentile(tally.times.get(n, []), q), 1) for n in REQUESTS],
                                 "request", "ms", "bar"))
    return out


if __name__ == "__main__":
    raise SystemExit(standalone(sys.modules[__name__]))
