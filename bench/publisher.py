"""The load generator, run as its own process: `python -m bench.publisher '<spec JSON>'`.

It loads the pickled fleet (bench/fleetdata.py), opens one raw MQTT connection
(bench/mqttwire.py), prints `{"event": "ready"}` and waits for a line on stdin; then it
publishes and prints `{"event": "done", …}` with what it sent.

Modes:
- `fast`: `count` QoS 0 telemetry messages as fast as the socket takes them, round robin over
  the fleet in a fixed shuffled order. The n-th message of a device carries ts = start ms + n,
  so every reading is new for its device (a repeated ts would be a `duplicate`).
- `paced`: `rate` messages per second for `duration` seconds, sent every millisecond or so;
  each message's `ts` is its publish time (epoch ms), which is what the latency probes read back.
  Optionally a set of water-level `alarm_probes` (left out of the round robin) follow a fixed
  schedule: two readings above the warning line (the second raises `water_level_warning`, its
  `raised_at` is that reading's ts = publish time), then a safe reading that clears it.
"""

from __future__ import annotations

import heapq
import json
import sys
import time

import orjson

from bench import fleetdata
from ioc.domain.clock import local_iso
from bench.mqttwire import DISCONNECT, open_connection, publish_packet, publish_parts

TS_PREFIX = b'{"ts":'
EPOCH_LEN = 13  # epoch milliseconds have 13 digits until the year 2286
ISO_LEN = 31  # "2026-11-05T10:00:00.123+08:00" with its quotes
CHUNK = 500  # messages per sendall in fast mode
ALARM_HIGH, ALARM_SAFE = 4.5, 3.0  # water_level_warning: >= 4.2 raises (2 samples), < 4.1 clears


def iso_bytes(ms: int) -> bytes:
    return b'"' + local_iso(ms, "milliseconds").encode() + b'"'


class Templates:
    """Per device: the packet up to the ts value, and the rest of the payload after it."""

    def __init__(self, fleet: fleetdata.FleetData, exclude: set[int]):
        self.order = [i for i in fleet.order if i not in exclude]
        self.heads, self.tails, self.iso = {}, {}, {}
        for i in self.order:
            d = fleet.devices[i]
            tail = b"," + d.values[1:-1] + b"}" if len(d.values) > 2 else b"}"
            ts_len = ISO_LEN if d.iso_ts else EPOCH_LEN
            self.heads[i] = publish_parts(d.topic, len(TS_PREFIX) + ts_len + len(tail)) + TS_PREFIX
            self.tails[i] = tail
            self.iso[i] = d.iso_ts

    def packets(self, start: int, count: int, ts_of) -> bytes:
        """Messages start … start+count-1 of the round robin; ts_of(cycle) -> (epoch bytes, iso bytes)."""
        order, heads, tails, iso = self.order, self.heads, self.tails, self.iso
        m = len(order)
        parts = []
        append = parts.append
        cycle, ts = None, None
        for n in range(start, start + count):
            c = n // m
            if c != cycle:
                cycle, ts = c, ts_of(c)
            d = order[n % m]
            append(heads[d])
            append(ts[1] if iso[d] else ts[0])
            append(tails[d])
        return b"".join(parts)


def run_fast(sock, templates: Templates, count: int) -> dict:
    base_ms = int(time.time() * 1000)

    def ts_of(cycle: int):
        ms = base_ms + cycle
        return str(ms).encode(), iso_bytes(ms)

    t0 = time.time()
    sent = 0
    while sent < count:
        k = min(CHUNK, count - sent)
        sock.sendall(templates.packets(sent, k, ts_of))
        sent += k
    return {"sent": sent, "t0": t0, "t1": time.time(), "base_ms": base_ms}


def _alarm_schedule(probes: list[int], period: float, t0: float, duration: float) -> list:
    events = []
    k = len(probes)
    for j, dev in enumerate(probes):
        start = t0 + 0.5 + j * period / k
        while start + period * 0.6 < t0 + duration:
            events += [(start, dev, ALARM_HIGH, False), (start + 0.25, dev, ALARM_HIGH, True),
                       (start + period * 0.6, dev, ALARM_SAFE, False)]
            start += period
    heapq.heapify(events)
    return events


def run_paced(sock, fleet, templates: Templates, rate: float, duration: float, probes: list[int], period: float) -> dict:
    t0 = time.time()
    alarms = _alarm_schedule(probes, period, t0, duration)
    raises = []  # [device id, ts] of every reading that raises an alarm
    sent = 0
    current = {"ms": None, "ts": None}

    def ts_of(_cycle: int):
        return current["ts"]

    while True:
        now = time.time()
        if now - t0 >= duration:
            break
        ms = int(now * 1000)
        if ms != current["ms"]:
            current["ms"], current["ts"] = ms, (str(ms).encode(), iso_bytes(ms))
        due = int((now - t0) * rate) - sent
        out = []
        if due > 0:
            out.append(templates.packets(sent, due, ts_of))
            sent += due
        while alarms and alarms[0][0] <= now:
            _, dev, level, raising = heapq.heappop(alarms)
            d = fleet.devices[dev]
            out.append(publish_packet(d.topic, orjson.dumps({"ts": ms, "waterLevel": level})))
            if raising:
                raises.append([d.id, ms])
            sent += 1
            ms += 1  # a probe's readings never share a ts
        if out:
            sock.sendall(b"".join(out))
        time.sleep(0.0008)
    return {"sent": sent, "t0": t0, "t1": time.time(), "raises": raises}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    fleet = fleetdata.read(spec["fleet_path"])
    probes = list(spec.get("alarm_probes", []))
    templates = Templates(fleet, set(probes) | set(spec.get("exclude", [])))
    sock = open_connection(spec["mqtt_url"], spec.get("client_id", "bench-publisher"))
    print(json.dumps({"event": "ready", "devices": len(templates.order)}), flush=True)
    if not sys.stdin.readline():
        return 1
    if spec["mode"] == "fast":
        result = run_fast(sock, templates, int(spec["count"]))
    else:
        result = run_paced(sock, fleet, templates, float(spec["rate"]), float(spec["duration"]), probes,
                           float(spec.get("alarm_period", 8.0)))
    sock.sendall(DISCONNECT)
    time.sleep(0.05)
    sock.close()
    print(json.dumps({"event": "done", **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
