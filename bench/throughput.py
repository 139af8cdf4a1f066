"""One throughput measurement: a fast publisher against running consumers, counted in Redis.

Used by the `ingest` and `cluster` scenarios. The publisher (bench/publisher.py, raw socket,
its own process) sends `count` telemetry messages as fast as it can; the rate is the messages
committed (`messages:accepted` in `ioc:metrics`) divided by the time from the first publish
to the moment the counters stop moving. Lost = published − accepted − rejected − dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench import cityio, procs


@dataclass
class RunResult:
    sent: int
    accepted: int
    rejected: int
    dropped: int
    seconds: float
    publish_seconds: float
    cpu: dict = field(default_factory=dict)
    curve: list = field(default_factory=list)  # [(seconds since start, accepted since start)]

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds > 0 else 0.0

    @property
    def lost(self) -> int:
        return self.sent - self.accepted - self.rejected - self.dropped

    @property
    def publish_rate(self) -> float:
        return self.sent / self.publish_seconds if self.publish_seconds > 0 else 0.0


def settle(client, quiet_s: float = 0.6, timeout: float = 60) -> dict:
    """Wait until the counters stop moving (warm-up and births drained); return them."""
    deadline = time.time() + timeout
    last = cityio.counters(client)
    still = time.time()
    while time.time() < deadline:
        time.sleep(0.15)
        now = cityio.counters(client)
        if now != last:
            last, still = now, time.time()
        elif time.time() - still >= quiet_s:
            break
    return last


def run_once(client, children: procs.Children, spec: dict, work_dir, cpu_pids: dict[str, int]) -> RunResult:
    before = settle(client)
    pub = procs.publisher(children, spec, work_dir)
    meter = procs.CpuMeter({**cpu_pids, "publisher": pub.pid})
    meter.start()
    pub.send("go")
    done = pub.wait_event("done", 600)
    target = cityio.handled(before) + done["sent"]
    samples = cityio.wait_drained(client, target)
    cpu = meter.stop()
    pub.stop()
    final = cityio.handled(samples[-1][1])
    t_end = next(t for t, c in samples if cityio.handled(c) == final)
    d = cityio.delta(samples[-1][1], before)
    t0 = done["t0"]
    curve = [(round(t - t0, 2), c["messages:accepted"] - before["messages:accepted"]) for t, c in samples]
    return RunResult(done["sent"], d["messages:accepted"], d["messages:rejected"], d["messages:dropped"],
                     max(t_end - t0, 1e-6), done["t1"] - t0, cpu, curve)
