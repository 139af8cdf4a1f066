"""The publishing loop.

`Simulation` is the pure core: a heap of (next due time, device) over the whole fleet, so each
message costs one heap operation however many devices there are. `run_until(t, out)` appends
every message due up to `t` seconds after start as `(connection, topic, payload, qos, retain)`
with payloads already serialised by orjson. Values depend only on the seed, the start times and
`t`, never on the wall clock, so a run is reproducible.

`run(options)` drives it against a broker: several MQTT connections (each one a `gateway`
device with a retained birth and a last will), births first, then telemetry in real time,
a progress line every 10 s, and a clean stop on SIGINT/SIGTERM or after `--duration`.
"""

from __future__ import annotations

import heapq
import logging
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from ioc.domain.clock import CHINA_TZ, local_iso

from .fleet import Fleet
from .patterns import READINGS, hash01
from .scenarios import FaultPlan, ScenarioSpec, apply_fault, bind, describe_fault
from .wire import birth_payload, status_topic

log = logging.getLogger("simulators")

OFFLINE = orjson.dumps({"state": "offline"})
PROGRESS_EVERY_S = 10.0


def iso_ts(ms: int) -> str:
    """Epoch ms as ISO 8601 with the +08:00 offset, millisecond precision."""
    return local_iso(ms, "milliseconds")


def natural_rate(fleet: Fleet) -> float:
    return sum(1.0 / d.interval for d in fleet.devices)


class Simulation:
    """All messages of a fleet over time; no I/O."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        start_ms: int,
        sim_start: float | None = None,
        speed: float = 1.0,
        rate: float | None = None,
        scenarios: list[ScenarioSpec] = (),
        fault_rate: float = 0.0,
        connections: int = 1,
        owned: set[int] | None = None,
        every_s: float | None = None,
    ):
        self.fleet = fleet
        self.devices = fleet.devices
        self.start_ms = int(start_ms)
        self.sim_start = start_ms / 1000.0 if sim_start is None else float(sim_start)
        self.speed = float(speed)
        self.connections = max(1, int(connections))
        self.scenarios = [bind(spec, fleet, self.sim_start) for spec in scenarios]
        self._scenario_state = [0] * len(self.scenarios)  # 0 pending, 1 active, 2 over
        self.faults = FaultPlan(fleet, fleet.seed, fault_rate)
        self.active_faults: dict[int, object] = {}
        self._fault_ends: list[tuple[float, int]] = []
        self.offline: set[int] = set()
        self.notices: list[str] = []  # human-readable events since the caller last cleared it

        # Intervals: the platform heartbeat stays at 10 s; field devices are scaled to `rate`.
        platform_rate = sum(1.0 / d.interval for d in self.devices if d.kind == "platform")
        field_rate = sum(1.0 / d.interval for d in self.devices if d.kind != "platform")
        scale = 1.0
        if rate and field_rate > 0:
            scale = field_rate / max(rate - platform_rate, rate * 0.5)
        self.intervals = [d.interval if d.kind == "platform" else d.interval * scale for d in self.devices]
        if every_s:  # the history (`simulators.history`): every device, platforms too, once every `every_s`
            self.intervals = [float(every_s)] * len(self.devices)
        self.expected_rate = sum(1.0 / i for i in self.intervals)
        self.conn = [i % self.connections for i in range(len(self.devices))]
        # A worker process publishes only the devices of its own connections.
        self.owned = set(range(self.connections)) if owned is None else set(owned)
        mine = [d for d in self.devices if self.conn[d.index] in self.owned]
        self.topics = [f"ioc/v1/{d.kind}/{d.id}/telemetry" for d in self.devices]
        self.status_topics = [status_topic(d.kind, d.id) for d in self.devices]
        # First message of each device spread over its interval (no thundering herd).
        self.heap = [(self.intervals[d.index] * hash01(d.key, 0x5EED), d.index) for d in mine]
        self.heap.append((float("inf"), -1))  # sentinel: never due, so the heap is never empty
        heapq.heapify(self.heap)

    # -------------------------------------------------------------- pure helpers

    def sim_time(self, t: float) -> float:
        """Simulated epoch seconds at `t` seconds after start."""
        return self.sim_start + t * self.speed

    def births(self) -> list[tuple[int, str, bytes]]:
        conn, owned = self.conn, self.owned
        return [(conn[d.index], self.status_topics[d.index], birth_payload(d)) for d in self.devices if conn[d.index] in owned]

    # -------------------------------------------------------------- the loop

    def next_due(self) -> float:
        nxt = min(self.heap[0][0], self.faults.next_start)
        if self._fault_ends:
            nxt = min(nxt, self._fault_ends[0][0])
        return nxt

    def run_until(self, t: float, out: list, limit: int = 1 << 30) -> float:
        """Append the messages due at or before `t` (at most about `limit`); return the next due time."""
        self._check_scenarios(t)
        heap = self.heap
        devices = self.devices
        intervals = self.intervals
        topics = self.topics
        conn = self.conn
        offline = self.offline
        faults = self.active_faults
        scenarios = self.scenarios
        readings = READINGS
        sim_start, speed, start_ms = self.sim_start, self.speed, self.start_ms
        dumps = orjson.dumps
        heapreplace = heapq.heapreplace
        # Fault events change what devices send; stop the device batch at the next one.
        horizon = min(t, self.faults.next_start, self._fault_ends[0][0] if self._fault_ends else t)
        n = 0
        while n < limit:
            due, i = heap[0]
            if due > horizon:
                if horizon < t:  # a fault event came first: handle it, then carry on
                    self._fault_events(horizon, out)
                    horizon = min(t, self.faults.next_start, self._fault_ends[0][0] if self._fault_ends else t)
                    continue
                break
            heapreplace(heap, (due + intervals[i], i))
            if i in offline:
                continue
            d = devices[i]
            st = sim_start + due * speed
            values = readings[d.kind](d, st)
            if scenarios:
                for sc in scenarios:
                    if i in sc.targets and sc.start < st < sc.end:
                        sc.apply(d, st, values)
            if faults:
                fault = faults.get(i)
                if fault is not None:
                    apply_fault(fault, values)
            ms = start_ms + int(due * 1000.0)
            payload = {"ts": iso_ts(ms) if d.iso_ts else ms}
            payload.update(values)
            out.append((conn[i], topics[i], dumps(payload), 0, False))
            n += 1
        return self.next_due()

    def _check_scenarios(self, t: float) -> None:
        st = self.sim_time(t)
        for k, sc in enumerate(self.scenarios):
            state = self._scenario_state[k]
            if state == 0 and st >= sc.start:
                self._scenario_state[k] = 1
                self.notices.append(f"scenario {sc.name} started: {sc.summary}")
            if self._scenario_state[k] == 1 and st >= sc.end:
                self._scenario_state[k] = 2
                self.notices.append(f"scenario {sc.name} ended")

    def _fault_events(self, t: float, out: list) -> None:
        ends = self._fault_ends
        while ends and ends[0][0] <= t:
            _, i = heapq.heappop(ends)
            fault = self.active_faults.pop(i, None)
            if fault is not None and fault.kind == "outage":
                self.offline.discard(i)
                d = self.devices[i]
                out.append((self.conn[i], self.status_topics[i], birth_payload(d), 1, True))
                self.notices.append(f"fault over: {d.id} back online")
        for fault in self.faults.pop_due(t):
            i = fault.device
            if i in self.active_faults or self.conn[i] not in self.owned:
                continue  # one fault per device at a time; other workers' devices are theirs
            self.active_faults[i] = fault
            heapq.heappush(ends, (fault.end, i))
            d = self.devices[i]
            self.notices.append(describe_fault(fault, d))
            if fault.kind == "outage":
                self.offline.add(i)
                out.append((self.conn[i], self.status_topics[i], OFFLINE, 1, True))


# ------------------------------------------------------------------------- MQTT driver


@dataclass
class Options:
    mqtt_url: str
    devices: int = 2000
    seed: int = 20260101
    rate: float | None = None
    connections: int = 4
    workers: int | None = None  # processes; None: 2 for high rates on a multi-core machine, else 1
    duration: float | None = None
    speed: float = 1.0
    scenarios: list[ScenarioSpec] = field(default_factory=list)
    fault_rate: float = 20.0
    birth: bool = True
    start: datetime | None = None  # simulated start; default now
    geodata_dir: object = None
    casework: bool = True  # reports, department systems and (with a token) the duty desk
    reports_per_hour: float = 120.0
    api_url: str = ""  # the IOC's JSON API, for the duty desk
    api_token: str = ""  # its bearer token (roles dispatcher and inspector); empty: no duty desk
    backfill_start: datetime | None = None  # fill the past from here (simulators.backfill); None: no backfill
    backfill_end: datetime | None = None  # ... up to here (default: now)
    ingest_max_age_s: float = 86400.0  # the ingest's IOC_INGEST_MAX_AGE_S: the backfill stays inside it
    device_max_rate: int = 50  # the ingest's IOC_DEVICE_MAX_RATE: the backfill paces itself below it


# counters per worker, in a shared array: messages sent, status messages, offline devices, faults
_SENT, _STATUS, _OFFLINE, _FAULTS = range(4)
_NCOUNT = 4


class StopFlag:
    """When to stop: a plain attribute that signal handlers may set (taking no lock, so a
    handler can never deadlock the thread it interrupts), plus an optional shared event
    (threading or multiprocessing) checked from normal code."""

    def __init__(self, shared=None):
        self.requested = False
        self.shared = shared

    def request(self, *_signal_args) -> None:
        self.requested = True

    def is_set(self) -> bool:
        if not self.requested and self.shared is not None and self.shared.is_set():
            self.requested = True
        return self.requested

    def set(self) -> None:
        self.requested = True
        if self.shared is not None:
            self.shared.set()

    def wait(self, timeout: float) -> bool:
        if not self.is_set():
            time.sleep(timeout)
        return self.is_set()


def _backlog(client) -> int:
    """Packets paho has queued but not yet written (private attribute; 0 if it ever goes away)."""
    return len(getattr(client, "_out_packet", ()))


def _progress_line(counters, workers: int, previous: int, seconds: float) -> tuple[str, int]:
    total = [sum(counters[w * _NCOUNT + k] for w in range(workers)) for k in range(_NCOUNT)]
    rate = (total[_SENT] - previous) / max(seconds, 1e-9)
    line = (
        f"sent {total[_SENT]} messages ({total[_STATUS]} status), {rate:.0f} msg/s over the last "
        f"{seconds:.0f} s, {total[_OFFLINE]} devices offline, {total[_FAULTS]} faults active"
    )
    return line, total[_SENT]


def _worker(opts: Options, fleet: Fleet, sim_start: float, w: int, workers: int, stop, counters, report: bool) -> int:
    """Publish the devices of connections w, w + workers, … until stopped; return an exit code."""
    from ioc.adapters.mqtt import connect, make_client

    lon, lat = fleet.centre
    owned = [k for k in range(opts.connections) if k % workers == w]
    clients = {}
    pid = os.getpid()
    try:
        for k in owned:
            gw_id = f"gw-sim-{k + 1:02d}"
            topic = status_topic("gateway", gw_id)
            birth = orjson.dumps({"state": "online", "lat": lat, "lon": lon, "name": f"仿真网关 {k + 1:02d}"})

            def _birth(c, topic=topic, birth=birth):
                c.publish(topic, birth, qos=1, retain=True)

            client = make_client(
                opts.mqtt_url, f"ioc-sim-{gw_id}-{pid}", will=(topic, OFFLINE, 1, True), on_connect=_birth, name=gw_id
            )
            clients[k] = client
            connect(client)
    except (TimeoutError, OSError, ValueError) as e:
        log.error("worker %d: %s", w, e)
        stop.set()
        for c in clients.values():
            c.loop_stop()
        return 1

    sim = Simulation(
        fleet, start_ms=int(time.time() * 1000), sim_start=sim_start, speed=opts.speed, rate=opts.rate,
        scenarios=opts.scenarios, fault_rate=opts.fault_rate, connections=opts.connections, owned=set(owned),
    )
    if w == 0:
        log.info(
            "simulating %d devices (%d field + platform systems) on %d connections in %d process(es), "
            "seed %d, ~%.0f msg/s expected",
            len(fleet), sum(1 for d in fleet.devices if d.kind != "platform"), opts.connections, workers,
            fleet.seed, sim.expected_rate,
        )
    if opts.birth:
        last = {}
        births = sim.births()
        for c, topic, payload in births:
            last[c] = clients[c].publish(topic, payload, qos=1, retain=True)
            if stop.is_set():
                break
        for info in last.values():
            while not stop.is_set() and not info.is_published():
                time.sleep(0.01)
        if not stop.is_set():
            log.info("worker %d: published %d retained births", w, len(births))

    publishers = {k: c.publish for k, c in clients.items()}
    client_list = list(clients.values())
    base = w * _NCOUNT
    out: list = []
    sent = status_sent = 0
    t0 = time.monotonic()
    sim.start_ms = int(time.time() * 1000)  # timestamps start when telemetry starts
    last_report, last_sent = t0, 0
    try:
        while not stop.is_set():
            now = time.monotonic()
            t = now - t0
            if opts.duration is not None and t >= opts.duration:
                break
            out.clear()
            nxt = sim.run_until(t, out, limit=2000)
            for c, topic, payload, qos, retain in out:
                publishers[c](topic, payload, qos, retain)
                if qos:
                    status_sent += 1
            sent += len(out)
            counters[base + _SENT] = sent
            counters[base + _STATUS] = status_sent
            if sim.notices:
                counters[base + _OFFLINE] = len(sim.offline)
                counters[base + _FAULTS] = len(sim.active_faults)
                for line in sim.notices:
                    if w == 0 or not line.startswith("scenario"):
                        print(line, flush=True)
                sim.notices.clear()
            if report and now - last_report >= PROGRESS_EVERY_S:
                line, last_sent = _progress_line(counters, workers, last_sent, now - last_report)
                log.info("%s", line)
                last_report = now
            if len(out) >= 2000:
                # Behind schedule: keep going, but let paho's threads drain a runaway backlog.
                while max(_backlog(c) for c in client_list) > 50_000 and not stop.is_set():
                    time.sleep(0.005)
                continue
            wait = nxt - (time.monotonic() - t0)
            if wait > 0:
                stop.wait(min(wait, 0.05))
    finally:
        if report:
            elapsed = time.monotonic() - t0
            log.info("stopping after %.1f s: %d messages sent (%.0f msg/s)", elapsed, sent, sent / max(elapsed, 1e-9))
        for c in client_list:
            c.on_disconnect = None  # a requested disconnect is not a lost broker
            c.disconnect()
        for c in client_list:
            c.loop_stop()
    return 0


def _worker_process(opts, fleet, sim_start, w, workers, shared_stop, counters) -> None:
    stop = StopFlag(shared_stop)
    signal.signal(signal.SIGINT, stop.request)
    signal.signal(signal.SIGTERM, stop.request)
    code = _worker(opts, fleet, sim_start, w, workers, stop, counters, report=False)
    if code:
        shared_stop.set()  # one worker failing stops the others
    raise SystemExit(code)


def default_workers(opts: Options, fleet: Fleet) -> int:
    """One process per connection for high rates, else one process for all connections.

    paho gives each connection a network thread; in one process those threads and the
    generator fight over the GIL (measured here: 4 connections in one process ~10,000 msg/s,
    one connection per process ~33,000 msg/s in total).
    """
    expected = opts.rate or natural_rate(fleet)
    return max(1, min(opts.connections, 16)) if expected > 3000 else 1


def start_backfill(opts: Options, fleet: Fleet, stop) -> threading.Thread | None:
    """The backfill of the past (`opts.backfill_start`), on a thread and a connection of its own
    beside the live telemetry."""
    if opts.backfill_start is None:
        return None
    from .backfill import run_backfill

    def work():
        try:
            run_backfill(opts.mqtt_url, fleet, opts.backfill_start.timestamp(),
                         opts.backfill_end.timestamp() if opts.backfill_end else None,
                         max_age_s=opts.ingest_max_age_s, device_max_rate=opts.device_max_rate, stop=stop)
        except (TimeoutError, OSError, ValueError) as e:
            log.error("backfill failed: %s", e)

    thread = threading.Thread(target=work, name="backfill", daemon=True)
    thread.start()
    return thread


def run(opts: Options, fleet: Fleet | None = None, stop: threading.Event | None = None) -> int:
    """Publish until stopped (signal, `stop` set, or `opts.duration`); return the exit code.

    The casework (`simulators.casework`) runs in this process only, as threads beside the
    publishing (one worker) or beside the monitoring of the worker processes (several)."""
    from ioc.adapters.geodata_files import load_city_map

    city = None
    if fleet is None:
        from .fleet import build_fleet

        city = load_city_map(opts.geodata_dir) if opts.geodata_dir else load_city_map()
        fleet = build_fleet(city, opts.devices, opts.seed)
    workers = opts.workers or default_workers(opts, fleet)
    workers = max(1, min(workers, opts.connections))
    sim_start = (opts.start or datetime.now(CHINA_TZ)).timestamp()

    ctx = multiprocessing.get_context("fork") if workers > 1 else None
    shared = ctx.Event() if ctx else None
    flag = StopFlag(stop)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, flag.request)
        signal.signal(signal.SIGTERM, flag.request)

    def start_casework():
        if not opts.casework:
            return None
        from .casework import start_casework as start

        return start(opts.mqtt_url, city or (load_city_map(opts.geodata_dir) if opts.geodata_dir else load_city_map()),
                     seed=opts.seed, speed=opts.speed, sim_start=sim_start, reports_per_hour=opts.reports_per_hour,
                     api_url=opts.api_url, api_token=opts.api_token)

    if workers == 1:
        start_backfill(opts, fleet, flag)
        casework = start_casework()
        try:
            return _worker(opts, fleet, sim_start, 0, 1, flag, [0] * _NCOUNT, report=True)
        finally:
            if casework is not None:
                casework.stop()
            if flag.requested:
                log.info("stopped on request")

    counters = ctx.Array("q", workers * _NCOUNT, lock=False)
    procs = [
        ctx.Process(target=_worker_process, args=(opts, fleet, sim_start, w, workers, shared, counters), name=f"sim-{w}")
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    casework = start_casework()  # after the fork: its threads and connection stay in this process
    start_backfill(opts, fleet, flag)  # the same
    t_start = last_report = time.monotonic()
    last_sent = 0
    while any(p.is_alive() for p in procs):
        if flag.wait(0.2) or shared.is_set():
            break
        now = time.monotonic()
        if now - last_report >= PROGRESS_EVERY_S:
            line, last_sent = _progress_line(counters, workers, last_sent, now - last_report)
            log.info("%s", line)
            last_report = now
    if flag.requested:
        log.info("stopping on request")
    shared.set()
    if casework is not None:
        casework.stop()
    for p in procs:
        p.join(timeout=60)
        if p.is_alive():  # pragma: no cover - a wedged worker
            p.terminate()
            p.join()
    elapsed = time.monotonic() - t_start
    sent = sum(counters[w * _NCOUNT + _SENT] for w in range(workers))
    log.info("stopped after %.1f s including start-up: %d messages sent (%.0f msg/s on average)", elapsed, sent, sent / max(elapsed, 1e-9))
    return max(p.exitcode or 0 for p in procs)
