"""Fill Redis with a city at full scale, through the product's own write paths.

- **Devices and 24 h of rollups**: the simulator's fleet (`simulators.fleet.build_fleet`) and its
  value patterns (`simulators.run.Simulation`) make MQTT messages (births, then telemetry with
  timestamps spread over the last 24 h); they go through the real ingest code in-process
  (`IngestWorker.process`: `ioc.ingest.batch.prepare`, `TelemetryStore.apply`, rules, alarms,
  counters), so the keys are exactly what `python -m ioc ingest` writes. The ingest accepts
  readings up to `IOC_INGEST_MAX_AGE_S` (24 h) old, so no setting is relaxed. The history is
  sampled (a few readings per device per day), the last minutes run at the fleet's natural rate
  with faults switched on, which raises real alarms through the rules.
- **Cases** (issue 17's scale: 100,000 open and 1 M closed at full scale): reports from the
  simulator's `ReportStream`, each taken along the workflow by the pure domain
  (`ioc.domain.cases.apply`, deadlines by the case service's calendar), written with the case
  store's own scripts (`CaseStore.queue_create`, `queue_transition`) in pipelines. The closed
  cases are reported over the last year (ending `OPEN_DAYS` ago) and run their whole life; the
  open ones are reported over the last `OPEN_DAYS` days and stop after a random number of steps
  (some of those end early: rejected, voided — counted as closed). Every case is in Redis: the
  ones closed more than `IOC_CASE_HOT_DAYS` ago would live only in the record (PostgreSQL) once
  the eviction of issue 17 runs; until then they stay in Redis, as on a city without it.
  Whatever would happen after "now" has not happened yet.

`python -m bench.seed --redis-url redis://… [--quick]` seeds an existing Redis; without a URL it
starts an embedded one in a temp folder, seeds it and prints the key counts.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from ioc.adapters import redis_keys as keys
from ioc.adapters.geodata_files import load_city_map
from ioc.adapters.redis_client import connect_redis
from ioc.casework.service import CaseService
from ioc.domain import case_catalog
from ioc.domain.access import Principal
from ioc.domain.case_routing import deadline_for, due_at_for, suggest_departments
from ioc.domain.cases import STAGE_WORK, Case, CaseEvent, apply
from ioc.domain.clock import local_text
from ioc.ingest.worker import IngestWorker
from ioc.settings import Settings
from simulators.casework import ReportStream
from simulators.fleet import build_fleet
from simulators.run import Simulation
from simulators.wire import birth_payload, status_topic

FLEET_SEED = 20260101  # the simulator's default seed: `python -m simulators --devices N` makes the same ids
BATCH = 2000  # messages per ingest batch (IOC_INGEST_BATCH_MAX's default)
HISTORY_MARGIN_S = 600  # the oldest reading is this much younger than the ingest's 24 h age limit
CLOSED_DAYS = 365  # closed cases reported over this many days (ending OPEN_DAYS ago)
OPEN_DAYS = 14  # open cases reported over the last this many days
REPORT_CHUNK_DAYS = 30  # the report stream is made this many days at a time (memory)
CASE_PIPELINE = 400  # cases per pipelined round trip


@dataclass(frozen=True)
class Scale:
    devices: int
    open_cases: int
    closed_cases: int  # reported over CLOSED_DAYS
    history_rate: float  # field-device msg/s over the 24 h history (sampled; platform heartbeats thinned 1:10)
    recent_s: int  # the last seconds at the natural rate of the fleet
    fault_rate: float  # faults per hour per 1000 devices during the recent part
    archived_in_redis: bool = True  # the cases closed before IOC_CASE_HOT_DAYS written to Redis too

    @classmethod
    def of(cls, quick: bool) -> "Scale":
        if quick:
            return cls(devices=2000, open_cases=1000, closed_cases=3000, history_rate=0.5, recent_s=120, fault_rate=600.0)
        # the year's closed cases older than IOC_CASE_HOT_DAYS are not written: 1 M cases through
        # the write paths take hours on the 2-core machine, and no case view reads them (see the docstring)
        return cls(devices=50_000, open_cases=100_000, closed_cases=1_000_000, history_rate=3.0, recent_s=90, fault_rate=400.0,
                   archived_in_redis=False)

    @property
    def cases(self) -> int:
        return self.open_cases + self.closed_cases

    def in_redis(self, hot_days: float = 30) -> int:
        """About how many cases the seed writes to Redis."""
        closed = self.closed_cases if self.archived_in_redis else self.closed_cases * min(1.0, hot_days / CLOSED_DAYS)
        return int(self.open_cases + closed)


@dataclass
class SeedReport:
    devices: int = 0
    messages: int = 0
    accepted: int = 0
    rejected: int = 0
    cases: int = 0
    open_cases: int = 0
    hot_closed: int = 0  # closed within IOC_CASE_HOT_DAYS
    left_to_record: int = 0  # closed before IOC_CASE_HOT_DAYS, not written to Redis (the record's)
    active_alarms: int = 0
    seconds_devices: float = 0.0
    seconds_history: float = 0.0
    seconds_cases: float = 0.0

    def line(self) -> str:
        return (f"seeded {self.devices:,} devices, {self.messages:,} messages ({self.accepted:,} accepted, {self.rejected:,} rejected), "
                f"{self.active_alarms:,} active alarms, {self.cases:,} cases ({self.open_cases:,} open, "
                f"{self.hot_closed:,} closed within the hot days; {self.left_to_record:,} older closed ones left to the record) in "
                f"{self.seconds_devices:.0f} + {self.seconds_history:.0f} + {self.seconds_cases:.0f} s")


def _now_ms() -> int:
    return int(time.time() * 1000)


# --- telemetry -----------------------------------------------------------------------------------

def _feed(worker: IngestWorker, messages: list, report: SeedReport) -> None:
    """Raw (topic, payload) messages through the ingest's own batch path, BATCH at a time."""
    for i in range(0, len(messages), BATCH):
        received = _now_ms()
        outcome = worker.process([(topic, payload, received) for topic, payload in messages[i:i + BATCH]])
        report.messages += min(BATCH, len(messages) - i)
        report.accepted += outcome.accepted
        report.rejected += len(outcome.rejections)


def seed_devices(worker: IngestWorker, fleet, report: SeedReport) -> None:
    births = [(status_topic(d.kind, d.id), birth_payload(d)) for d in fleet.devices]
    _feed(worker, births, report)
    report.devices = len(fleet.devices)


PLATFORM_TOPIC = "ioc/v1/platform/"
PLATFORM_HISTORY_SHARE = 10  # keep one platform heartbeat in this many in the sampled history


def _simulate(worker, fleet, start_ms: int, seconds: float, rate: float | None, fault_rate: float, report: SeedReport,
              progress) -> None:
    """Telemetry of the fleet from `start_ms` for `seconds`, fed in slices of simulated time.
    With a `rate` (the sampled history) the platform's 10 s heartbeats are thinned too."""
    sim = Simulation(fleet, start_ms=start_ms, rate=rate, fault_rate=fault_rate)
    step = max(1.0, BATCH / sim.expected_rate)
    kept = 0
    t, last = 0.0, time.monotonic()
    while t < seconds:
        t = min(seconds, t + step)
        out: list = []
        sim.run_until(t, out)
        messages = []
        for _conn, topic, payload, _qos, _retain in out:
            if rate and topic.startswith(PLATFORM_TOPIC):
                kept += 1
                if kept % PLATFORM_HISTORY_SHARE:
                    continue
            messages.append((topic, payload))
        _feed(worker, messages, report)
        if time.monotonic() - last > 10:
            progress(f"  seed: telemetry {report.messages:,} messages, simulated {t / 60:,.0f} of {seconds / 60:,.0f} min")
            last = time.monotonic()


def seed_telemetry(worker: IngestWorker, fleet, scale: Scale, report: SeedReport, progress) -> None:
    """24 h of readings: sampled history, then the last minutes at the natural rate, with faults."""
    now = _now_ms()
    history_start = now - worker.settings.ingest_max_age_s * 1000 + HISTORY_MARGIN_S * 1000
    recent_start = now - scale.recent_s * 1000
    _simulate(worker, fleet, history_start, (recent_start - history_start) / 1000, scale.history_rate, 0.0, report, progress)
    # the recent part starts where the clock is now (seeding took a while), ending at "now"
    now = _now_ms()
    _simulate(worker, fleet, now - scale.recent_s * 1000, scale.recent_s, None, scale.fault_rate, report, progress)


# --- cases ---------------------------------------------------------------------------------------

DISPATCHER = Principal("dispatcher", frozenset({"dispatcher"}), "值班调度员")
INSPECTOR = Principal("inspector", frozenset({"inspector"}), "监督员")
LEADER = Principal("leader", frozenset({"leader"}), "领导")
SYSTEM_ACTOR = "token:simulated duty desk"


def _handler(department: str) -> Principal:
    return Principal(f"dept:{department}", frozenset({"handler"}), department=department, kind="token")


class CaseLife:
    """One case taken along the workflow by the pure domain, keeping every step that happened
    before `now_ms` (the service's deadline rules applied after each step)."""

    def __init__(self, service: CaseService, case: Case, rng: random.Random, now_ms: int, max_steps: int | None = None):
        self.service, self.case, self.rng, self.now_ms = service, case, rng, now_ms
        self.max_steps = max_steps  # stop after this many steps (an open case of the seed)
        self.steps: list[tuple[Case, Case, CaseEvent]] = []
        self.at = case.created_at
        self.alive = True

    def _limit_ms(self, work: str) -> float:
        minor = case_catalog.MINOR_CLASSES[self.case.class_code]
        hours = minor.limit(work) or 2.0
        # working-hour limits span nights and weekends on the calendar: stretch them
        return hours * 3_600_000 * (1.0 if minor.calendar_hours else 5.0)

    def step(self, action: str, actor: Principal, share: float, **params) -> bool:
        """Take `action` after `share` of the current stage's limit; False once it lies after now."""
        if not self.alive:
            return False
        if self.max_steps is not None and len(self.steps) >= self.max_steps:
            self.alive = False
            return False
        work = STAGE_WORK.get(self.case.stage, "close")
        at = int(self.at + max(60_000, share * self._limit_ms(work)))
        if at >= self.now_ms:
            self.alive = False
            return False
        before = self.case
        after, event = apply(before, action, actor, at, **params)
        after = self.service._deadlines(before, after, action, at)
        self.steps.append((before, after, event))
        self.case, self.at = after, at
        return True

    def run(self) -> None:
        r = self.rng.random
        late = r() < 0.10
        if r() < 0.03:
            self.step("reject", DISPATCHER, 0.3, note="不属于城市管理范围")
            return
        if not self.step("accept", DISPATCHER, r() * 0.8):
            return
        if r() < 0.04:
            self.step("void", INSPECTOR, 0.5, note="现场未发现问题")
            return
        if not self.step("verify", INSPECTOR, r() * 0.9):
            return
        department = self.case.suggested_department
        for attempt in range(2):
            if not self.step("dispatch", DISPATCHER, r() * 0.8, department=department):
                return
            handler = _handler(department)
            if not self.step("acknowledge", handler, r() * 0.1):
                return
            if attempt == 0 and r() < 0.05:
                self.step("return", handler, 0.2, note="非本部门职责")
                department = next((d for d in suggest_departments(case_catalog.MINOR_CLASSES[self.case.class_code], self.case.district)
                                   if d != department), department)
                continue
            break
        if r() < 0.05 and not self._deferral(handler):
            return
        if r() < 0.02:
            self.step("urge", LEADER, 0.3)
        for rework in range(2):
            share = 1.0 + r() * 0.8 if late else 0.12 + r() * 0.8
            if not self.step("handle", handler, share):
                return
            if rework == 0 and r() < 0.06:
                if not self.step("check_fail", INSPECTOR, r() * 0.8, note="处置不到位，返工"):
                    return
                continue
            break
        if self.step("check_pass", INSPECTOR, r() * 0.9):
            self.step("close", DISPATCHER, r() * 0.8)

    def _deferral(self, handler: Principal) -> bool:
        hours = self.rng.choice((24, 48, 72, 168))
        if not self.step("request_deferral", handler, 0.3, note="需要协调多个部门", hours=hours):
            return False
        if not self.step("approve_deferral", DISPATCHER, 0.05):
            return False
        self.at += hours * 3_600_000 // 2  # the department uses part of the time it was given
        return True


def _new_case(service: CaseService, city, case_id: str, topic: str, payload: bytes, created: int) -> tuple[Case, CaseEvent] | None:
    """The case the service's intake would make of a report (no duplicate search)."""
    data = orjson.loads(payload)
    minor = case_catalog.MINOR_CLASSES.get(data["category"])
    district = city.district_at(data["lon"], data["lat"])
    if minor is None or district is None:
        return None
    source = topic.rsplit("/", 1)[1]
    case = Case(
        id=case_id, class_code=minor.code, lat=data["lat"], lon=data["lon"], district=district, source=source,
        created_at=created, description=data.get("description", ""), address=data.get("address", "")[:200],
        cell=city.cell_at(data["lon"], data["lat"]) or "", report_id=data["report_id"], reporter=data.get("reporter", "")[:100],
        filed_by=source, device_id="", urgent=minor.urgent, suggested_department=suggest_departments(minor, district)[0],
        stage_since=created, stage_deadline=deadline_for(minor, STAGE_WORK["reported"], created, service.calendar),
        due_at=due_at_for(minor, created, service.calendar), updated_at=created,
    )
    event = CaseEvent(case.id, "report", source, "system", "", "reported", created, case.description[:200],
                      {"source": source, "report_id": case.report_id})
    return case, event


def _outbox(after: Case, event: CaseEvent) -> dict | None:
    """The outbox message of a transition, as the case service makes it (dispatches only)."""
    if event.action not in ("dispatch", "check_fail"):
        return None
    from ioc.casework.service import dispatch_message, dispatch_topic

    return {"topic": dispatch_topic(after.department), "payload": orjson.dumps(dispatch_message(after)).decode()}


def _reports(city, n: int, days: float, end_ms: int, seed: int = FLEET_SEED) -> list[tuple[str, bytes]]:
    """About `n` reports of the simulator's report stream over the `days` days before `end_ms`."""
    stream = ReportStream(city, seed=seed, per_hour=n / (days * 24), start_ms=int(end_ms - days * 86_400_000))
    out: list = []
    stream.run_until(days * 86400.0, out)
    seen, unique = set(), []
    for topic, payload in out:  # the stream resends a few reports (same id): the intake makes one case of them
        report_id = orjson.loads(payload)["report_id"]
        if report_id not in seen:
            seen.add(report_id)
            unique.append((topic, payload))
    return unique[:n]


def _report_chunks(city, n: int, days: float, end_ms: int):
    """The reports of `_reports` made REPORT_CHUNK_DAYS at a time, oldest first (about `n` in all)."""
    chunks = max(1, round(days / REPORT_CHUNK_DAYS))
    span = days / chunks
    for k in range(chunks):
        chunk_end = end_ms - (chunks - 1 - k) * span * 86_400_000
        yield _reports(city, n // chunks + (1 if k < n % chunks else 0), span, int(chunk_end), FLEET_SEED + k)


def _reported_ms(data: dict) -> int:
    value = data["reported_at"]
    if isinstance(value, (int, float)):
        return int(value)
    return int(datetime.fromisoformat(value).timestamp() * 1000)


class _CaseWriter:
    """Cases and their steps into Redis through the case store's scripts, CASE_PIPELINE at a time."""

    def __init__(self, client, service: CaseService, city, report: SeedReport, hot_since_ms: int, progress):
        self.client, self.service, self.city, self.report = client, service, city, report
        self.store = service.store
        self.hot_since_ms, self.progress = hot_since_ms, progress
        self.pipe = client.pipeline(transaction=False)
        self.pending = 0
        self.last = time.monotonic()

    def write(self, reports, rng: random.Random, now: int, steps_of=None, label: str = "") -> int:
        """One case per report; `steps_of(rng)` -> the most steps its life takes (None: all that
        happened before now). Returns the open cases written."""
        start_seq = self.store.reserve_ids(len(reports)) - len(reports)
        opened = 0
        for k, (topic, payload) in enumerate(reports):
            created = min(now - 60_000, _reported_ms(orjson.loads(payload)))
            day = local_text(created, "%Y%m%d")
            made = _new_case(self.service, self.city, f"ZJG-{day}-{start_seq + k + 1:06d}", topic, payload, created)
            if made is None:
                continue
            case, event = made
            life = CaseLife(self.service, case, rng, now, steps_of(rng) if steps_of else None)
            life.run()
            self.store.queue_create(self.pipe, case, event)
            for before, after, ev in life.steps:
                self.store.queue_transition(self.pipe, before, after, ev, _outbox(after, ev))
            self.report.cases += 1
            opened += life.case.is_open
            self.report.open_cases += life.case.is_open
            if not life.case.is_open and life.at >= self.hot_since_ms:
                self.report.hot_closed += 1
            self.pending += 1
            if self.pending >= CASE_PIPELINE:
                _execute(self.pipe)
                self.pending = 0
            if time.monotonic() - self.last > 10:
                self.progress(f"  seed: {self.report.cases:,} cases ({self.report.open_cases:,} open){label}")
                self.last = time.monotonic()
        return opened

    def flush(self) -> None:
        _execute(self.pipe)
        self.pending = 0


def _open_steps(rng: random.Random) -> int:
    """How far an open case of the seed got: 0 (reported) … 7 steps (about handled)."""
    return rng.randint(0, 7)


def seed_cases(client, settings: Settings, city, scale: Scale, report: SeedReport, progress, open_days: float = OPEN_DAYS,
               closed_days: float = CLOSED_DAYS) -> None:
    """First reports of the last `open_days` days stopped part way until `scale.open_cases` are
    open; then `scale.closed_cases` reports over the last `closed_days` days, each run as far as
    it got by now (most close; the youngest may still be open). Only those of the last
    `IOC_CASE_HOT_DAYS` are written unless `scale.archived_in_redis`: the older ones would be in
    the record, not in Redis (counted in `report.left_to_record`)."""
    service = CaseService.from_settings(client, city, settings)
    now = _now_ms()
    hot_days = settings.case_hot_days
    writer = _CaseWriter(client, service, city, report, now - hot_days * 86_400_000, progress)
    opened, round_ = 0, 0
    while opened < scale.open_cases and round_ < 10:  # a few end early (rejected, voided): more reports until enough are open
        want = scale.open_cases - opened
        # each round's stream starts a second apart: its report ids (tagged with the start) differ
        reports = _reports(city, int(want * 1.08) + 10, open_days, now - round_ * 1000, FLEET_SEED + 1000 + round_)
        opened += writer.write(reports, random.Random(FLEET_SEED + 2000 + round_), now, _open_steps, " (open ones)")
        writer.flush()
        round_ += 1
    rng = random.Random(FLEET_SEED)
    hot = min(closed_days, hot_days)
    per_day = scale.closed_cases / closed_days
    if closed_days > hot:
        if scale.archived_in_redis:
            for chunk in _report_chunks(city, round(per_day * (closed_days - hot)), closed_days - hot, now - int(hot * 86_400_000)):
                writer.write(chunk, rng, now, label=" (closed over the year)")
        else:
            report.left_to_record = round(per_day * (closed_days - hot))
    writer.write(_reports(city, round(per_day * hot), hot, now - 2000, FLEET_SEED + 3000), rng, now, label=" (the last hot days)")
    writer.flush()


def _execute(pipe) -> None:
    results = pipe.execute()
    bad = [r for r in results if not (isinstance(r, list) and r and r[0] == 1)]
    if bad:
        raise RuntimeError(f"the case store refused {len(bad)} seeded writes, e.g. {bad[0]!r}")


# --- all of it -----------------------------------------------------------------------------------

def seed(redis_url: str, quick: bool, progress=print, settings: Settings | None = None) -> SeedReport:
    settings = settings or Settings.from_env({"REDIS_URL": redis_url})
    client = connect_redis(redis_url)
    city = load_city_map(settings.geodata_dir)
    scale = Scale.of(quick)
    report = SeedReport()
    logging.getLogger("ioc.ingest").setLevel(logging.WARNING)  # one line per raised alarm otherwise
    worker = IngestWorker(settings, client, city)
    fleet = build_fleet(city, scale.devices, FLEET_SEED)
    t0 = time.monotonic()
    seed_devices(worker, fleet, report)
    report.seconds_devices = time.monotonic() - t0
    progress(f"  seed: {report.devices:,} devices born in {report.seconds_devices:.1f} s")
    t0 = time.monotonic()
    seed_telemetry(worker, fleet, scale, report, progress)
    report.seconds_history = time.monotonic() - t0
    progress(f"  seed: {report.messages:,} messages in {report.seconds_history:.1f} s")
    t0 = time.monotonic()
    seed_cases(client, settings, city, scale, report, progress, open_days=5 if quick else OPEN_DAYS,
               closed_days=60 if quick else CLOSED_DAYS)
    report.seconds_cases = time.monotonic() - t0
    report.active_alarms = int(client.hlen(keys.ALARMS_ACTIVE))
    progress("  " + report.line())
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__.split("\n\n")[0])
    p.add_argument("--redis-url", help="Redis to fill (default: an embedded one in a temp folder, stopped at the end)")
    p.add_argument("--quick", action="store_true", help="2,000 devices, 1,000 open and 3,000 closed cases instead of 50,000, 100,000 and 1,000,000")
    p.add_argument("--cases-only", action="store_true", help="only the cases (a Redis that holds the seeded fleet already)")
    args = p.parse_args(argv)
    if args.redis_url and args.cases_only:
        settings = Settings.from_env({"REDIS_URL": args.redis_url})
        report = SeedReport()
        quick = args.quick
        seed_cases(connect_redis(args.redis_url), settings, load_city_map(settings.geodata_dir), Scale.of(quick), report, print,
                   open_days=5 if quick else OPEN_DAYS, closed_days=60 if quick else CLOSED_DAYS)
        print(report.line())
        return 0
    if args.redis_url:
        seed(args.redis_url, args.quick)
        return 0
    from ioc.adapters.embedded import redis_server

    with tempfile.TemporaryDirectory(prefix="ioc-seed-") as tmp:
        server = redis_server(Path(tmp) / "redis").start()
        try:
            seed(server.url, args.quick)
            client = connect_redis(server.url)
            info = client.info("memory")
            print(f"keys: {client.dbsize():,}; Redis memory {info['used_memory'] / 2**20:.0f} MiB")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
