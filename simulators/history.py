"""Seven days of the demo city's past, fast-forward, through the real write paths.

A fresh demo would start with an empty record: nothing to rewind, no trend, no monthly report.
`load_history` runs the simulators' own patterns over the past `days` (default 7) up to "now",
in simulated time, and hands everything to the code that handles it live, in-process:

* telemetry: `Simulation` (the live simulator's daily patterns, faults: device outages with their
  offline and back-online status messages, lamp faults, displaced manhole covers, platform error
  bursts; and a rainstorm, a crowd surge and an outfall discharge on chosen days) with every device
  reading once every `step_s` (30 min) for the older days and every `recent_step_s` (10 min) for the
  last 24 hours (the trend panels' window), given to the ingest's own batch path (`IngestWorker.process`: validation, latest
  state, registry, rule evaluation, alarms raised and cleared, minute and hour rollups, and the
  per-shard streams the recorder copies). Each batch "arrives" at its simulated time
  (`received_ms`), so the ingest's maximum age (`IOC_INGEST_MAX_AGE_S`, 24 h) holds as for a live
  device: no limit is relaxed, the readings are simply never older than their arrival.
* cases: `ReportStream` (the live report mix of the 12345 hotline, inspectors and cameras) through
  the case worker's intake (`CaseWorker.handle_message`: the report becomes a case stamped at its
  `reported_at`); the duty desk's decisions (`duty_desk.decide`: accept, merge, reject, verify,
  void, dispatch, check, rework, close) and the department systems' answers
  (`DepartmentSystems`: acknowledge, handled, return, 1 in 10 late) applied through the case
  service at their simulated times; a share of dispatched cases gets a deferral requested by the
  department and approved (or denied) by the desk; the overdue scan (`CaseWorker.scan_overdue`)
  every 15 simulated minutes; alarms of rules that open cases become sensor cases
  (`CaseWorker.alarm_case`) and most alarms are acknowledged by the operator on duty after a few
  minutes (`AlarmStore.acknowledge`).

The telemetry runs in a second (forked) process while this one works the cases minute by
minute, never ahead of it: the casework reads the minute's alarms from the alarm event stream
once the telemetry has ingested that minute (on two cores the two halves overlap).

Everything is stamped with its simulated time, so the recorder (`ioc.record.recorder`) writes the
record with the original timestamps. When `drain` is given (the demo passes
`ioc.record.recorder.record_once`) it is called every 6 simulated hours so the bounded streams are
copied to the record while the history is written.

What is left for the live city: the notification intents and the dispatch messages of the past
are not sent (the notifier's and the case worker's consumer groups start after them:
`skip_past_messages`); cases still open at the end are worked on by the live duty desk and the
department systems (which adopt the dispatched ones at their first poll).

History is written only into an empty city (`city_is_empty`: no device registered, no case, and
no device in the record): a second start on the same data adds nothing.
"""

from __future__ import annotations

import heapq
import logging
import random
import time
from dataclasses import dataclass, field, replace

import orjson

from ioc.domain.access import Principal

from .backfill import ProgressBar
from .casework import DepartmentSystems, ReportStream
from .duty_desk import DELAYS, decide
from .fleet import Fleet
from .run import Simulation
from .scenarios import ScenarioSpec
from .wire import birth_payload

log = logging.getLogger("simulators.history")

HISTORY_DAYS = 7
STEP_S = 1800.0  # the older days: one reading per device every 30 minutes
RECENT_STEP_S = 600.0  # the last 24 hours (the trend panels): every 10 minutes
RECENT_S = 86_400.0
TICK_S = 60.0  # the loop's step of simulated time: arrival times, desk and department actions
INGEST_EVERY_S = 300.0  # telemetry goes to the ingest in batches of this much simulated time
OVERDUE_SCAN_S = 1800.0
DRAIN_EVERY_S = 6 * 3600.0
FAULT_RATE = 20.0  # faults per hour per 1,000 devices, as the live default
REPORTS_PER_HOUR = 60.0  # half the live default (120): every case is worked through its whole life
HISTORY_REPORTS_PER_HOUR = REPORTS_PER_HOUR
ACK_SHARE = 0.7  # alarms acknowledged by the operator on duty
ACK_DELAY_MIN = (2.0, 20.0)
DEFERRAL_SHARE = 0.06  # dispatched cases whose department asks for more time
DEFERRAL_DENY_SHARE = 0.2
DEFERRAL_HOURS = (4, 48)
DEFERRAL_NOTES = ("需协调施工单位，申请延期处理", "材料采购中，申请延期", "天气原因无法施工，申请延期", "涉及多个产权单位，协调中")
DENY_NOTES = ("时限内可以完成，请按期处置", "请优先安排处置，不予延期")
# (scenario, day before now (1 = the last 24 h), local hour): alarms and their cases in the past
SCENARIOS = (("rainstorm", 5, 15.5), ("discharge", 3, 10.0), ("crowd", 2, 20.0))
DESK = Principal("token:simulated duty desk", frozenset({"dispatcher", "inspector"}), "simulated duty desk", "", "token")
OPERATOR = ("值班员", "operator")
QUIET_LOGGERS = ("ioc.cases", "ioc.ingest", "ioc.events", "ioc.alarms", "simulators")


@dataclass
class Summary:
    """What the history wrote (and how long it took)."""

    start_ms: int = 0
    end_ms: int = 0
    readings: int = 0
    accepted: int = 0
    status_messages: int = 0
    alarms_raised: int = 0
    alarms_cleared: int = 0
    alarms_acknowledged: int = 0
    reports: int = 0
    cases: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    open_at_end: int = 0
    overdue_raised: int = 0  # `case_overdue` alarms raised by the overdue scan
    drained_rows: int = 0
    seconds: float = 0.0
    per_day: dict[str, int] = field(default_factory=dict)  # China date -> readings

    def line(self) -> str:
        acts = sum(self.actions.values())
        return (f"{self.readings:,} readings ({self.accepted:,} accepted), {self.status_messages:,} status messages, "
                f"{self.alarms_raised:,} alarms raised ({self.alarms_cleared:,} cleared, {self.alarms_acknowledged:,} "
                f"acknowledged), {self.cases:,} cases from {self.reports:,} reports, {acts:,} case actions "
                f"({self.overdue_raised:,} went overdue; {self.open_at_end:,} open at the end) in {self.seconds:.0f} s")


# ------------------------------------------------------------------------ the pure generator


def scenario_specs(start_s: float, end_s: float) -> list[tuple[float, ScenarioSpec]]:
    """The scenarios of the past as (absolute simulated start, spec relative to `start_s`)."""
    from ioc.domain.clock import UTC_OFFSET_S

    out = []
    for name, days_back, hour in SCENARIOS:
        day_start_local = ((end_s + UTC_OFFSET_S) // 86_400 - (days_back - 1)) * 86_400 - UTC_OFFSET_S
        at = day_start_local + hour * 3600.0
        if start_s < at < end_s - 3600.0:
            out.append((at, ScenarioSpec(name, (at - start_s) / 60.0)))
    return out


def telemetry_chunks(fleet: Fleet, start_s: float, end_s: float, *, step_s: float = STEP_S,
                     recent_step_s: float = RECENT_STEP_S, fault_rate: float = FAULT_RATE, tick_s: float = TICK_S):
    """The telemetry of the past, in time order: yields (arrival ms, [(topic, payload)]) every
    `tick_s` of simulated time; births first (at `start_s`). Pure and deterministic: the same
    fleet (seed) and window give the same messages. Two phases: `step_s` up to the last 24 hours,
    `recent_step_s` in them (devices offline at the switch come back with a birth)."""
    switch = max(start_s, end_s - RECENT_S)
    yield int(start_s * 1000), [(f"ioc/v1/{d.kind}/{d.id}/status", birth_payload(d)) for d in fleet.devices]
    phases = [(start_s, switch, step_s), (switch, end_s, recent_step_s)]
    specs = scenario_specs(start_s, end_s)
    for k, (a, b, step) in enumerate(phases):
        if b <= a:
            continue
        sim = Simulation(fleet, start_ms=int(a * 1000), speed=1.0, fault_rate=fault_rate, every_s=step,
                         scenarios=[ScenarioSpec(s.name, (at - a) / 60.0) for at, s in specs if a <= at < b])
        t, out = 0.0, []
        span = b - a
        while t < span:
            t = min(span, t + tick_s)
            out.clear()
            sim.run_until(t - 1e-6, out)
            if out:
                yield int((a + t) * 1000), [(topic, payload) for _conn, topic, payload, _qos, _retain in out]
        if k == 0 and sim.offline:  # the phase's outages end with it: back online before the next
            yield int(b * 1000), [(f"ioc/v1/{fleet.devices[i].kind}/{fleet.devices[i].id}/status",
                                   birth_payload(fleet.devices[i])) for i in sorted(sim.offline)]


def deferral_plan(case_id: str, version: int, *, seed: int, dispatched_ms: int) -> tuple[int, int, str, int, bool, str] | None:
    """Whether the department of a dispatched case asks for more time: (request ms, hours, note,
    decision ms, approved, deny note), or None (most cases). Seeded by (seed, case, version)."""
    rng = random.Random(f"{seed}|deferral|{case_id}|{version}")
    if rng.random() >= DEFERRAL_SHARE:
        return None
    request = dispatched_ms + int(rng.uniform(20, 120) * 60_000)
    hours = rng.randint(*DEFERRAL_HOURS)
    decision = request + int(rng.uniform(5, 40) * 60_000)
    approved = rng.random() >= DEFERRAL_DENY_SHARE
    return request, hours, rng.choice(DEFERRAL_NOTES), decision, approved, rng.choice(DENY_NOTES)


def ack_plan(alarm_id: str, raised_at: int, *, seed: int) -> int | None:
    """When the operator on duty acknowledges a raised alarm (ms), or None (left unacknowledged)."""
    rng = random.Random(f"{seed}|ack|{alarm_id}|{raised_at}")
    if rng.random() >= ACK_SHARE:
        return None
    return raised_at + int(rng.uniform(*ACK_DELAY_MIN) * 60_000)


# ------------------------------------------------------------------------ the driver (I/O)


def city_is_empty(redis_client, settings, database_url: str = "") -> bool:
    """No device registered and no case in Redis, and (when `database_url`) no device in the
    record: the only data the history is written into."""
    from ioc.adapters import redis_keys as keys
    from ioc.adapters.snapshot_store import SnapshotStore

    if redis_client.exists(keys.CASES_SEQ):
        return False
    if SnapshotStore(redis_client, settings.redis_shards).registry_size() > 0:
        return False
    if database_url:
        from ioc.record.db import connect

        with connect(database_url) as conn:
            if conn.execute("SELECT EXISTS (SELECT 1 FROM devices) OR EXISTS (SELECT 1 FROM cases)").fetchone()[0]:
                return False
    return True


def skip_past_messages(redis_client) -> None:
    """Start the case worker's dispatch outbox group and the notifier's group after the history's
    entries: the past's dispatches and notifications are history, not news to send now."""
    from ioc.adapters.case_store import OUTBOX
    from ioc.adapters.notify_store import NotifyStore
    from ioc.casework.worker import GROUP

    for stream, group in ((OUTBOX, GROUP),):
        _group_at_end(redis_client, stream, group)
    NotifyStore(redis_client).ensure_group(start="$")


def _group_at_end(redis_client, stream: str, group: str) -> None:
    try:
        redis_client.xgroup_create(stream, group, id="$", mkstream=True)
    except Exception as e:  # noqa: BLE001 - BUSYGROUP: move it
        if "BUSYGROUP" not in str(e):
            raise
        redis_client.xgroup_setid(stream, group, id="$")


class History:
    """The loop over simulated time; see the module docstring."""

    def __init__(self, redis_client, settings, city, fleet: Fleet, *, start_ms: int, end_ms: int, seed: int,
                 reports_per_hour: float = REPORTS_PER_HOUR, step_s: float = STEP_S, recent_step_s: float = RECENT_STEP_S,
                 fault_rate: float = FAULT_RATE, drain=None, out=None, progress: bool = True):
        from ioc.casework.worker import CaseWorker
        from ioc.domain.departments import all_departments

        self.redis = redis_client
        self.city = city
        self.fleet = fleet
        self.seed = seed
        self.start_ms, self.end_ms = int(start_ms), int(end_ms)
        self.step_s, self.recent_step_s, self.fault_rate = step_s, recent_step_s, fault_rate
        self.drain = drain
        self.out = out
        self.progress = progress
        # the ingest's own batch path: no per-device rate limit (each batch is minutes of a device's life)
        self.settings = settings
        self.cases = CaseWorker(settings, redis_client, city)
        self.service = self.cases.service
        self.reports = ReportStream(city, seed=seed, per_hour=reports_per_hour, start_ms=self.start_ms)
        self.departments = DepartmentSystems(seed=seed, speed=1.0, names={d.id: d.name_zh for d in all_departments(city)})
        self.queue: list[tuple] = []  # (due ms, n, what, key, extra)
        self._n = 0
        self.no_merge: set[str] = set()
        self.known: dict = {}  # case id -> the case as last written here (the desk's view)
        self._seen_cases: set[str] = set()
        self.summary = Summary(start_ms=self.start_ms, end_ms=self.end_ms)

    # ---- scheduling ---------------------------------------------------------------------------

    def _push(self, due_ms: int, what: str, key: str, extra=None) -> None:
        self._n += 1
        heapq.heappush(self.queue, (int(due_ms), self._n, what, key, extra))

    def _desk_next(self, case) -> None:
        """Schedule the desk's next step on `case` (a Case), when its stage is one the desk works."""
        if case.stage not in DELAYS or not case.is_open:
            return
        decision = decide(self._case_dict(case), seed=self.seed, merge=case.id not in self.no_merge)
        if decision is not None:
            self._push(decision.due_ms, "desk", case.id, (case.stage, case.stage_since))

    @staticmethod
    def _case_dict(case) -> dict:
        return case.to_dict()

    def _after_change(self, case, now_ms: int) -> None:
        """What follows a change of `case`: the desk's next step; for a dispatch, the department's
        system receives the message and may ask for a deferral."""
        from ioc.casework.service import dispatch_message

        if case.is_open:
            self.known[case.id] = case
        else:
            self.known.pop(case.id, None)
        self._desk_next(case)
        if case.stage == "dispatched" and case.is_open and case.stage_since == now_ms:
            self.departments.receive(orjson.dumps(dispatch_message(case)), now_ms, f"ioc/v1/dispatch/{case.department}")
            plan = deferral_plan(case.id, case.version, seed=self.seed, dispatched_ms=now_ms)
            if plan is not None:
                self._push(plan[0], "defer", case.id, (case.version, plan))

    # ---- acting -------------------------------------------------------------------------------

    def _act(self, case_id: str, action: str, principal: Principal, now_ms: int, **kwargs):
        from ioc.casework.service import CASE_REFUSALS

        try:
            case = self.service.act(case_id, action, principal, now_ms=now_ms, **kwargs)
        except CASE_REFUSALS as e:
            log.debug("history: %s %s refused: %s", action, case_id, e)
            return None
        self.summary.actions[action] = self.summary.actions.get(action, 0) + 1
        self.known[case.id] = case
        return case

    def _desk(self, case_id: str, marker, now_ms: int, fresh: bool = False) -> None:
        from ioc.adapters.case_store import CaseConflict
        from ioc.casework.service import CaseInputError

        case = None if fresh else self.known.get(case_id)
        if case is None:
            case = self.service.store.find(case_id)
        if case is None or not case.is_open or (case.stage, case.stage_since) != marker:
            return  # moved on meanwhile (its new stage scheduled its own step)
        decision = decide(self._case_dict(case), seed=self.seed, merge=case_id not in self.no_merge)
        if decision is None:
            return
        kwargs = {"expected_version": case.version, "note": decision.note, "department": decision.department,
                  "master_id": decision.master_id}
        try:
            after = self.service.act(case_id, decision.action, DESK, now_ms=now_ms, **kwargs)
        except CaseConflict:
            if not fresh:  # the copy kept here is behind (e.g. a merge touched it): read it and decide again
                self._desk(case_id, marker, now_ms, fresh=True)
            return
        except CaseInputError as e:
            if decision.action == "merge":  # the master closed meanwhile: decide again without merging
                self.no_merge.add(case_id)
                self._push(now_ms, "desk", case_id, marker)
            else:
                log.debug("history: desk %s %s refused: %s", decision.action, case_id, e)
            return
        except Exception as e:  # noqa: BLE001 - any other refusal: the live desk would leave it too
            from ioc.casework.service import CASE_REFUSALS

            if not isinstance(e, CASE_REFUSALS):
                raise
            return
        self.summary.actions[decision.action] = self.summary.actions.get(decision.action, 0) + 1
        self._after_change(after, now_ms)
        if decision.action == "merge":
            self.known.pop(decision.master_id, None)

    def _defer(self, case_id: str, extra, now_ms: int) -> None:
        version, (request_ms, hours, note, decision_ms, approved, deny_note) = extra
        case = self.service.store.find(case_id)
        if case is None or case.stage != "dispatched" or case.pending_deferral:
            return
        handler = Principal(f"dept:{case.department}", frozenset({"handler"}), department=case.department, kind="token")
        if self._act(case_id, "request_deferral", handler, now_ms, note=note, hours=hours) is not None:
            self._push(max(decision_ms, now_ms + 60_000), "decide_deferral", case_id, (approved, deny_note))

    def _decide_deferral(self, case_id: str, extra, now_ms: int) -> None:
        approved, deny_note = extra
        case = self.service.store.find(case_id)
        if case is None or case.stage != "dispatched" or not case.pending_deferral:
            return
        if approved:
            self._act(case_id, "approve_deferral", DESK, now_ms)
        else:
            self._act(case_id, "deny_deferral", DESK, now_ms, note=deny_note)

    # ---- telemetry ----------------------------------------------------------------------------

    def _alarm_raised(self, alarm: dict) -> None:
        """A device alarm raised in the past: its case when its rule opens one (the operator's
        acknowledgement is the telemetry process's: it must come before the clear)."""
        case = self.cases.alarm_case(alarm)
        if case is not None and case.version == 1 and case.id not in self._seen_cases:
            self._seen_cases.add(case.id)
            self.summary.cases += 1
            self.known[case.id] = case
            self._desk_next(case)

    def _new_alarms(self, until_ms: int) -> None:
        """The device alarms the telemetry raised up to `until_ms`, read from the alarm event
        stream (as the case worker reads it live)."""
        from ioc.adapters import redis_keys as keys

        while True:
            entries = self.redis.xrange(keys.ALARMS_EVENTS, f"({self._alarms_read}", "+", count=500)
            if not entries:
                return
            for entry_id, fields in entries:
                event = (fields.get(b"event") or b"").decode()
                if event == "raised":
                    alarm = orjson.loads(fields.get(b"alarm") or b"{}")
                    if alarm.get("kind") != "case" and int(alarm.get("raised_at") or 0) > until_ms:
                        return  # not yet: its minute has not come (read again at a later minute)
                    if alarm.get("kind") != "case":
                        self._alarm_raised(alarm)
                self._alarms_read = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    # ---- the loop -----------------------------------------------------------------------------

    def run(self, stop=None) -> Summary:
        """Telemetry in a second process (the ingest's path, CPU-bound) while this one works the
        cases minute by minute, never ahead of the telemetry (it waits for the minute's alarms)."""
        import multiprocessing

        from ioc.adapters import redis_keys as keys

        began = time.monotonic()
        total_min = max(1, (self.end_ms - self.start_ms) // 60_000)
        bar = ProgressBar(total_min, f"history {round((self.end_ms - self.start_ms) / 86_400_000, 2):g} days", self.out,
                          unit="simulated minutes") if self.progress else None
        last = self.redis.xrevrange(keys.ALARMS_EVENTS, count=1)
        self._alarms_read = (last[0][0].decode() if isinstance(last[0][0], bytes) else last[0][0]) if last else "0-0"
        ctx = multiprocessing.get_context("fork")
        done_ms = ctx.Value("q", 0)  # the telemetry's progress: everything up to it is ingested
        halt = ctx.Event()
        results = ctx.Queue()
        child = ctx.Process(target=_telemetry_process, name="history-telemetry", daemon=True,
                            args=(self.settings, self.city, self.fleet, self.start_ms, self.end_ms, self.step_s,
                                  self.recent_step_s, self.fault_rate, self.seed, done_ms, halt, results))
        child.start()
        next_scan = self.start_ms + int(OVERDUE_SCAN_S * 1000)
        next_drain = self.start_ms + int(DRAIN_EVERY_S * 1000)
        reports: list = []
        tick = self.start_ms
        try:
            while tick < self.end_ms:
                if stop is not None and stop.is_set():
                    break
                tick = min(self.end_ms, tick + int(TICK_S * 1000))
                while done_ms.value < tick and child.is_alive() and not (stop is not None and stop.is_set()):
                    time.sleep(0.005)
                self._new_alarms(tick)
                self._casework(tick, reports)
                if tick >= next_scan:
                    self._scan(tick)
                    next_scan = tick + int(OVERDUE_SCAN_S * 1000)
                if self.drain is not None and tick >= next_drain:
                    self.summary.drained_rows += int(self.drain() or 0)
                    next_drain = tick + int(DRAIN_EVERY_S * 1000)
                if bar is not None:
                    bar.update((tick - self.start_ms) // 60_000)
        finally:
            if stop is not None and stop.is_set():
                halt.set()
            telemetry = _result_of(child, results)
            child.join()
        for name in ("readings", "accepted", "status_messages", "alarms_raised", "alarms_cleared", "alarms_acknowledged"):
            setattr(self.summary, name, int(telemetry.get(name, 0)))
        self.summary.per_day = dict(telemetry.get("per_day", {}))
        self._new_alarms(self.end_ms)
        self._casework(self.end_ms, reports)
        self._scan(self.end_ms)
        skip_past_messages(self.redis)
        if self.drain is not None:
            self.summary.drained_rows += int(self.drain() or 0)
        if bar is not None and not (stop is not None and stop.is_set()):
            bar.update(total_min)
        self.summary.open_at_end = len(self.service.store.open_cases())
        self.summary.seconds = time.monotonic() - began
        return self.summary

    def _scan(self, now_ms: int) -> None:
        raised, _cleared = self.cases.scan_overdue(now_ms=now_ms)
        self.summary.overdue_raised += raised

    def _casework(self, now_ms: int, reports: list) -> None:
        """Everything of the cases due by `now_ms`: new reports, the desk's and the departments'
        steps, deferrals and alarm acknowledgements, in time order (stamped at `now_ms`, the
        loop's minute)."""
        reports.clear()
        self.reports.run_until((now_ms - self.start_ms) / 1000.0, reports)
        for topic, payload in reports:
            self.summary.reports += 1
            result = self.cases.handle_message(topic, payload, now_ms)
            if result == "report":
                report_id = orjson.loads(payload)["report_id"]
                case = self.service.store.by_report(report_id)
                if case is not None and case.version == 1 and case.id not in self._seen_cases:
                    self._seen_cases.add(case.id)
                    self.summary.cases += 1
                    self.known[case.id] = case
                    self._desk_next(case)
        while self.queue and self.queue[0][0] <= now_ms:
            _due, _n, what, key, extra = heapq.heappop(self.queue)
            if what == "desk":
                self._desk(key, extra, now_ms)
            elif what == "defer":
                self._defer(key, extra, now_ms)
            elif what == "decide_deferral":
                self._decide_deferral(key, extra, now_ms)
        for topic, payload in self.departments.due(now_ms):
            update = orjson.loads(payload)
            result = self.cases.handle_message(topic, payload, now_ms, now_ms=now_ms)
            if result == "update":
                action = str(update.get("action"))
                self.summary.actions[action] = self.summary.actions.get(action, 0) + 1
                case = self.service.store.find(str(update.get("case_id")))
                if case is not None:
                    self.known[case.id] = case
                    self._desk_next(case)


def load_history(redis_client, settings, city, *, days: float = HISTORY_DAYS, devices: int = 2000, seed: int = 20260101,
                 end_ms: int | None = None, reports_per_hour: float = REPORTS_PER_HOUR, step_s: float = STEP_S,
                 recent_step_s: float = RECENT_STEP_S, fault_rate: float = FAULT_RATE, drain=None, out=None,
                 progress: bool = True, stop=None, fleet: Fleet | None = None) -> Summary:
    """Write `days` of history ending at `end_ms` (default now); see the module docstring. The
    caller checks `city_is_empty` first."""
    from .fleet import build_fleet

    end_ms = int(time.time() * 1000) if end_ms is None else int(end_ms)
    start_ms = end_ms - int(days * 86_400_000)
    fleet = fleet or build_fleet(city, devices, seed)
    history = History(redis_client, settings, city, fleet, start_ms=start_ms, end_ms=end_ms, seed=seed,
                      reports_per_hour=reports_per_hour, step_s=step_s, recent_step_s=recent_step_s,
                      fault_rate=fault_rate, drain=drain, out=out, progress=progress)
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:  # a line per case and alarm of the past would bury the progress bar
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return history.run(stop)
    finally:
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)


def _result_of(child, results) -> dict:
    """The telemetry process's counts (read before joining it: a queue's data must be taken
    first); {} when it died without them."""
    import queue

    while True:
        try:
            return results.get(timeout=0.5)
        except queue.Empty:
            if not child.is_alive():
                return {}


def _acknowledge(alarms, alarm_id: str, raised_at: int, at_ms: int) -> bool:
    """The operator on duty acknowledges the alarm at `at_ms`, if it is still the same raise."""
    from ioc.adapters.alarm_store import AlarmNotFound

    alarm = alarms.active_raw(alarm_id).get(alarm_id)
    if alarm is None or int(alarm.get("raised_at") or 0) != raised_at:
        return False
    try:
        alarms.acknowledge(alarm_id, OPERATOR[0], OPERATOR[1], at_ms)
    except AlarmNotFound:
        return False
    return True


def _telemetry_process(settings, city, fleet, start_ms, end_ms, step_s, recent_step_s, fault_rate, seed, done_ms, halt,
                       results) -> None:
    """The history's telemetry (a forked process of its own): `telemetry_chunks` through the
    ingest's batch path (`IngestWorker.process`) in batches of `INGEST_EVERY_S` of simulated time
    arriving at their simulated time; `done_ms` tells the casework how far it got."""
    import signal

    from ioc.adapters.redis_client import connect_redis
    from ioc.domain.clock import local_text
    from ioc.ingest.worker import IngestWorker

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it (`halt`)
    client = connect_redis(settings.redis_url)
    ingest = IngestWorker(replace(settings, device_max_rate=0), client, city)  # batches of minutes, not bursts
    ingest.worker_id = "history"
    out = {"readings": 0, "accepted": 0, "status_messages": 0, "alarms_raised": 0, "alarms_cleared": 0,
           "alarms_acknowledged": 0, "per_day": {}}
    pending: list = []
    next_flush = start_ms
    acks: list = []  # (due ms, alarm id, raised_at): the operator's acknowledgements to come

    def acknowledge_before(batch_first_ms: int, until_ms: int) -> None:
        """Acknowledgements due by the end of the next batch, taken before it (its readings may
        clear the alarm): at their planned time, or just before the batch's first reading."""
        later = []
        while acks and acks[0][0] <= until_ms:
            due, alarm_id, raised_at = heapq.heappop(acks)
            at = min(due, batch_first_ms - 61_000)
            if at < raised_at + 60_000:
                later.append((due + int(INGEST_EVERY_S * 1000), alarm_id, raised_at))
                continue
            out["alarms_acknowledged"] += _acknowledge(ingest.alarms, alarm_id, raised_at, at)
        for item in later:
            heapq.heappush(acks, item)

    def flush(until_ms: int) -> None:
        if pending:
            acknowledge_before(pending[0][2], until_ms)
            outcome = ingest.process(pending)
            out["accepted"] += outcome.accepted
            out["alarms_raised"] += len(outcome.raised)
            out["alarms_cleared"] += len(outcome.cleared)
            for alarm in outcome.raised:
                due = ack_plan(alarm.id, alarm.raised_at, seed=seed)
                if due is not None:
                    heapq.heappush(acks, (due, alarm.id, alarm.raised_at))
            pending.clear()
        done_ms.value = until_ms

    try:
        for at_ms, messages in telemetry_chunks(fleet, start_ms / 1000.0, end_ms / 1000.0, step_s=step_s,
                                                recent_step_s=recent_step_s, fault_rate=fault_rate):
            if halt.is_set():
                break
            readings = 0
            for topic, payload in messages:
                pending.append((topic, payload, at_ms))
                if topic.endswith("/telemetry"):
                    readings += 1
            out["readings"] += readings
            out["status_messages"] += len(messages) - readings
            day = local_text(at_ms, "%Y-%m-%d")
            out["per_day"][day] = out["per_day"].get(day, 0) + readings
            if at_ms >= next_flush or len(pending) >= 20_000:
                flush(at_ms)
                next_flush = at_ms + int(INGEST_EVERY_S * 1000)
        flush(end_ms)
    finally:
        done_ms.value = max(done_ms.value, end_ms)
        results.put(out)
        client.close()


# ------------------------------------------------------------------------ the command


SKIPPED = 3  # exit code: the data already holds a city, nothing written (`ioc.demo.SKIPPED_HISTORY`)


def _record_drain(settings):
    """`ioc.record.recorder.record_once` bound to `settings`, or None when the recorder is not
    installed or no record is configured (the streams then wait for it, within their bounds)."""
    if not settings.database_url:
        return None
    try:
        from ioc.record.recorder import record_once
    except ImportError:
        return None
    return lambda: record_once(settings)


def main(argv: list[str] | None = None) -> int:
    """`python -m simulators.history [--days 7] [simulator flags]`: the past of an empty city
    (REDIS_URL, DATABASE_URL from the environment), as `python -m ioc demo` runs it before its
    workers start. Exit code 0 written, 3 (`SKIPPED`) when the data already holds a city."""
    import signal
    import threading
    from pathlib import Path

    from ioc.adapters.geodata_files import load_city_map
    from ioc.adapters.redis_client import connect_redis
    from ioc.logsetup import setup_logging
    from ioc.settings import Settings

    from .__main__ import build_parser

    parser = build_parser()
    parser.prog = "python -m simulators.history"
    parser.description = "Write the past days of the demo city into an empty city (see simulators/history.py)."
    parser.add_argument("--days", type=float, default=HISTORY_DAYS, help=f"days of history (default {HISTORY_DAYS})")
    parser.add_argument("--summary-file", type=Path, help="write the one-line summary here (the demo's banner)")
    parser.add_argument("--no-record", action="store_true",
                        help="do not copy the streams into the record as the history goes (a recorder runs beside it: "
                             "the demo starts one first)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if not settings.redis_url:
        parser.error("no Redis: set REDIS_URL")
    setup_logging(args.log_level or settings.log_level, "history")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    client = connect_redis(settings.redis_url)
    try:
        if not city_is_empty(client, settings, settings.database_url):
            return SKIPPED
        print(f"  History: writing the past {args.days:g} days of the city through the ingest and the case service "
              "(--no-history skips it)", flush=True)
        city = load_city_map(args.geodata or settings.geodata_dir)
        per_hour = 0.0 if args.no_casework else min(args.reports_per_hour, HISTORY_REPORTS_PER_HOUR)
        summary = load_history(client, settings, city, days=args.days, devices=args.devices, seed=args.seed,
                               fault_rate=args.fault_rate, reports_per_hour=per_hour,
                               drain=None if args.no_record else _record_drain(settings),
                               stop=stop)
        line = f"{args.days:g} days written: {summary.line()}"
        if stop.is_set():
            line = f"stopped early; {summary.line()}"
        if args.summary_file:
            args.summary_file.write_text(line + "\n", encoding="utf-8")
        print(f"  History: {line}", flush=True)
        return 1 if stop.is_set() else 0
    finally:
        client.close()


if __name__ == "__main__":
    import sys

    sys.exit(main())
