"""What the harness reads from and writes to the IOC's Redis and broker around a measurement:
counters, registry size, births, and the moment ingest workers are ready."""

from __future__ import annotations

import time

from ioc.adapters import redis_keys as keys
from bench.mqttwire import open_connection, publish_packet

COUNTERS = ("messages:accepted", "messages:rejected", "messages:dropped")


def counters(client) -> dict[str, int]:
    values = client.hmget(keys.METRICS, *COUNTERS)
    return {name: int(v or 0) for name, v in zip(COUNTERS, values)}


def handled(c: dict[str, int]) -> int:
    return sum(c.values())


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


def registry_size(client, shards: int) -> int:
    pipe = client.pipeline(transaction=False)
    for shard in range(shards):
        pipe.hlen(keys.meta(shard))
    return sum(pipe.execute())


def publish_births(mqtt_url: str, fleet, rate: float = 20_000, indices=None) -> int:
    """Every device's birth (status topic, QoS 0, not retained), paced so the ingest keeps up."""
    devices = fleet.devices if indices is None else [fleet.devices[i] for i in indices]
    sock = open_connection(mqtt_url, f"bench-births-{time.time_ns()}")
    try:
        step = 1000
        t0 = time.time()
        for start in range(0, len(devices), step):
            part = devices[start:start + step]
            sock.sendall(b"".join(publish_packet(d.status_topic, d.birth) for d in part))
            ahead = (start + len(part)) / rate - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)
    finally:
        sock.close()
    return len(devices)


def ensure_births(client, mqtt_url: str, fleet, shards: int, progress, timeout: float = 120) -> None:
    """Births of the whole fleet, then wait until the registry holds every device (re-send once if not)."""
    expected = len(fleet.devices)
    for attempt in range(3):
        if registry_size(client, shards) >= expected:
            return
        publish_births(mqtt_url, fleet)
        deadline = time.time() + timeout
        last, still = -1, time.time()
        while time.time() < deadline:
            size = registry_size(client, shards)
            if size >= expected:
                progress(f"registry holds {size:,} devices")
                return
            if size != last:
                last, still = size, time.time()
            elif time.time() - still > 5:
                break  # no progress: some births were lost, send again
            time.sleep(0.25)
        progress(f"registry holds {registry_size(client, shards):,} of {expected:,} devices after births (attempt {attempt + 1})")
    raise RuntimeError(f"the registry holds {registry_size(client, shards)} of {expected} devices after three rounds of births")


def wait_workers(client, mqtt_url: str, fleet, worker_ids: list[str], workers, timeout: float = 60) -> None:
    """Nudge the workers with a few re-births until every one has written its heartbeat."""
    sock = open_connection(mqtt_url, f"bench-warmup-{time.time_ns()}")
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for w in workers:
                if w.proc.poll() is not None:
                    raise RuntimeError(f"{w.name} exited with code {w.proc.returncode} (see its log in the work dir)")
            seen = {k.decode() if isinstance(k, bytes) else k for k in client.hkeys(keys.WORKERS)}
            if all(w in seen for w in worker_ids):
                return
            sock.sendall(b"".join(publish_packet(d.status_topic, d.birth) for d in fleet.devices[:200]))
            time.sleep(0.3)
    finally:
        sock.close()
    raise TimeoutError(f"ingest workers not ready within {timeout:.0f}s")


def wait_drained(client, target: int, progress_every: float = 0.25, idle_s: float = 10.0, timeout: float = 600):
    """Sample the counters until `handled` reaches `target` or stops moving for `idle_s`.
    Returns [(t, counters)] samples."""
    samples = []
    deadline = time.time() + timeout
    last_value, last_change = -1, time.time()
    while time.time() < deadline:
        now = time.time()
        c = counters(client)
        samples.append((now, c))
        value = handled(c)
        if value >= target:
            break
        if value != last_value:
            last_value, last_change = value, now
        elif now - last_change > idle_s:
            break
        time.sleep(progress_every)
    return samples
