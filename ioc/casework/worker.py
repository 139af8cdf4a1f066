"""The case worker (`python -m ioc cases`): everything about cases and linked events that is not a
person clicking.

Six jobs, each on its own thread, each riding out Redis and broker outages (logged once,
retried with back-off, never fatal):

* intake: one MQTT client with a persistent session (clean_session=False, client id
  IOC_CASES_CLIENT_ID, default `ioc-cases-<host>`), subscribed at QoS 1 to
  `ioc/v1/reports/+` and `ioc/v1/departments/+/updates` (`$share/<IOC_INGEST_GROUP>/…` when
  that is set). A report becomes a case (the same `report_id` twice makes one case); an update
  acknowledges, handles or returns the department's case. A message is acknowledged to the
  broker (manual PUBACK) only once its case is stored or it is dead-lettered, so a worker that
  dies, or Redis being down, loses nothing: the broker delivers it again. Rejected messages go
  to the dead-letter stream with a reason (`bad_report`, `unknown_category`, `outside_city`,
  `bad_update`, `update_refused`, or the payload reasons `not_json`, `not_utf8`, …). A refused
  update that repeats one this department already applied since the case's last dispatch (a
  redelivery after a crash) is acknowledged without a dead letter.
* dispatch publishing: the outbox stream `ioc:{core}:cases:outbox` (written by the same script as the
  dispatch) is read with the consumer group `ioc-cases`; each message is published at QoS 1 on
  its topic (`ioc/v1/dispatch/{department}`) and XACKed once the broker acknowledged it.
  Unacknowledged ones are read again after a restart (own pending first, then XAUTOCLAIM of
  those idle for a minute at another consumer). Delivery is at least once: a department's
  system recognises a repeat by (`case_id`, `version`).
* alarm cases: the alarm event stream `ioc:{core}:alarms:events` (consumer group `ioc-cases`); a
  `raised` event of a rule listed in `ioc.domain.case_catalog.ALARM_CLASSES` becomes a case at
  the device's registered position (report id `alarm:<alarm id>:<raised_at>`; at most one open
  case per device and class). At start the active alarms are swept the same way, so alarms
  raised while no case worker ran get their case too.
* overdue detection every IOC_CASES_SCAN_S seconds: an open case past its stage deadline raises
  the alarm `case:<case id>|case_overdue` (kind `case`, major) in `ioc:{core}:alarms:active` with a
  `raised` event; when the case moves on, closes or gets a later deadline, it is cleared (the
  same conditional clear as the ingest's, one `cleared` event). An alarm cleared by hand stays
  cleared while the case is overdue for the same stage and deadline (until the worker restarts).
* linked events (大联动): the event outbox `ioc:{core}:events:outbox` (task and instruction
  messages, written with the change that made them) is published like the case outbox, on its
  own thread and consumer group bookkeeping; an update on `ioc/v1/departments/+/updates` that
  names `event_id` is a department's step of its event task (`ioc.events.messages`), applied
  through the event service (a repeat of a step already taken is acknowledged, a refusal
  dead-lettered as `update_refused`); every IOC_EVENTS_SCAN_S seconds the plans' triggers are
  evaluated on the latest values of the watched kinds (`ioc.domain.event_triggers.TriggerWatch`,
  its clocks saved in `ioc:{core}:events:watch` after each scan, so a restarted worker keeps
  counting the `minutes` of sustained triggers) and
  the proposals a person should see are stored (`ioc:{core}:events:proposals`).
* escalated alarms, with the overdue scan: an active alarm unacknowledged past the escalation
  policy (IOC_ALARM_ESCALATE_*_MIN) gets its `alarm.escalated` notification intent, once per
  alarm and raise (a guard key set NX in the same script as the intent); the overdue alarm's
  raise script writes the `case.overdue` intent with it (the notifier, `python -m ioc notify`,
  delivers them).
* a heartbeat in `ioc:workers` (`cases-<host>-<pid>`, `"role": "cases"`).

Counters in `ioc:metrics`: `cases:reported` (valid reports accepted), `cases:updates`
(department updates applied), `cases:from_alarms` (cases opened from alarms),
`cases:dispatch_published`, `cases:overdue_raised`, `cases:overdue_cleared`, `events:updates`
(event-task updates applied), `events:published` (event messages published),
`events:proposals_raised`, and for rejected messages `messages:rejected` and `rejected:<reason>`
like the ingest.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections import deque

import orjson
import redis

from ioc.adapters import counters, deadletters, heartbeats
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters import mqtt as mqtt_adapter
from ioc.adapters import redis_keys as keys
from ioc.adapters.case_store import OUTBOX, CaseConflict, CaseNotFound
from ioc.adapters.city_snapshot import CityCache
from ioc.adapters.event_store import OUTBOX as EVENTS_OUTBOX
from ioc.adapters.event_store import EventConflict, EventNotFound
from ioc.adapters.redis_client import REDIS_UNAVAILABLE, Outages, stream_entries
from ioc.adapters.notify_store import NotifyStore
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.domain import case_catalog
from ioc.domain.access import Principal
from ioc.domain.alarm_handling import Acknowledgement, Escalation, escalation
from ioc.domain.alarms import Alarm
from ioc.domain.notifications import Intent
from ioc.views.readings_text import device_place, sensor_case_description
from ioc.domain.cases import Case, CaseActionError
from ioc.domain.event_triggers import Reading, TriggerWatch, due_proposals, lapsed_dismissals
from ioc.domain.events import EventError, EventPermissionError
from ioc.domain.geo import CityMap
from ioc.domain.telemetry import Rejection
from ioc.events.messages import INSTRUCTION_ACTION, EventUpdate, route_update
from ioc.events.service import EventService
from ioc.record.archive import ArchiveUnavailable
from ioc.settings import Settings

from .reports import ADDRESS_MAX, REPORT_TOPICS, DepartmentUpdate, Report, parse_case_message
from .service import CaseInputError, CaseService

log = logging.getLogger("ioc.cases")

GROUP = "ioc-cases"  # consumer group on the outbox and on the alarm event stream
OVERDUE_RULE = "case_overdue"
CLAIM_IDLE_MS = 60_000  # a stream entry pending this long at another consumer is taken over
HEARTBEAT_S = 5
PUBLISH_TIMEOUT_S = 10
MAX_ATTEMPTS = 3  # a message failing with an unexpected error is given up (logged) after this many tries
EVICT_BATCH = 500  # ended cases checked and evicted per script call
EVICT_BATCHES = 20  # batches per scan at most (the periodic loop stays responsive)
EVICT_RETRY_MAX = 10_000  # cases held back (the record behind Redis) re-checked on later scans

def subscriptions(group: str) -> list[tuple[str, int]]:
    topics = [(t, 1) for t in REPORT_TOPICS]
    return topics if not group else [(f"$share/{group}/{t}", q) for t, q in topics]


def overdue_alarm_id(case_id: str) -> str:
    return f"case:{case_id}|{OVERDUE_RULE}"


def overdue_alarm(case: Case, now_ms: int) -> Alarm:
    """The `case_overdue` alarm of an open case past its stage deadline."""
    minor = case_catalog.MINOR_CLASSES.get(case.class_code)
    return Alarm(
        id=overdue_alarm_id(case.id), device_id=case.id, kind="case", rule_id=OVERDUE_RULE, severity="major",
        district=case.district, attribute="stage", value=case.stage, threshold=case.stage_deadline, raised_at=now_ms,
        name_zh=f"案件超期：{minor.name_zh if minor else case.class_code}",
        name_en=f"Case overdue: {minor.name_en if minor else case.class_code}",
    )


INTENT_SEVERITY = {"critical": "critical", "major": "warning", "minor": "info"}  # an alarm's severity -> an intent's


def escalation_intent(alarm: dict, esc: Escalation, city: CityMap, now_ms: int) -> Intent:
    """The `alarm.escalated` intent of an active alarm unacknowledged past the policy."""
    district = city.district(str(alarm.get("district") or ""))
    raised_at = int(alarm.get("raised_at") or 0)
    device_id = str(alarm.get("device_id") or "")
    facts = {"alarm_id": alarm.get("id"), "name_zh": alarm.get("name_zh") or alarm.get("rule_id"),
             "name_en": alarm.get("name_en") or alarm.get("rule_id"), "place": device_place(device_id, ""),
             "district_zh": district.name_zh if district else alarm.get("district", ""),
             "district_en": district.name_en if district else alarm.get("district", ""),
             "value": alarm.get("value"), "raised_at": raised_at, "minutes": max(0, (now_ms - raised_at) // 60_000),
             "link": "/"}
    return Intent(kind="alarm.escalated", subject=f"alarm:{alarm.get('id')}", version=str(raised_at), at=now_ms,
                  severity=INTENT_SEVERITY.get(str(alarm.get("severity") or ""), "info"), departments=(),
                  district=str(alarm.get("district") or ""),
                  facts=facts)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _field(fields, name: str) -> str | None:
    if not fields:
        return None
    value = fields.get(name.encode(), fields.get(name))
    return None if value is None else _text(value)


class CaseWorker:
    def __init__(self, settings: Settings, redis_client: redis.Redis, city: CityMap):
        self.settings = settings
        self.redis = redis_client
        self.city = city
        self.service = CaseService.from_settings(redis_client, city, settings)  # the worker's one case service
        self.store = self.service.store
        self.events = EventService.from_settings(redis_client, city, settings)  # and its one event service
        self.watch: TriggerWatch | None = None  # since when each device meets each trigger (saved in Redis after each scan)
        self.registry = CityCache(lambda: redis_client, settings.redis_shards)  # the device registry, read as it moves
        self.alarms = AlarmStore(redis_client)
        self.snapshot = SnapshotStore(redis_client, settings.redis_shards)
        host = socket.gethostname()
        self.client_id = settings.cases_client_id or f"ioc-cases-{host}"
        self.consumer = self.client_id  # stable: a restarted worker finds its own pending entries
        self.worker_id = f"cases-{host}-{os.getpid()}"
        self.started_ms = _now_ms()
        self.queue: deque = deque()
        self.arrived = threading.Event()
        self.stopping = threading.Event()
        self.client = None
        self.generation = 0  # connections so far; a PUBACK is sent only on the connection that delivered
        self.processed = 0
        self.outages = Outages(log)  # logged once per job and outage
        self._overdue_seen: dict[str, tuple[str, int]] = {}  # alarm id -> (stage, deadline) last seen active
        self.notify = NotifyStore(redis_client, settings.record_stream_maxlen)
        self.escalation_policy = settings.escalation_policy()
        self._escalated: set[tuple[str, int]] = set()  # (alarm id, raised_at) whose escalation intent is written
        self.archive = self.service.archive  # the record's cases (None without DATABASE_URL: nothing leaves Redis)
        self._evict_from: tuple[int, str] = (0, "")  # (end ms, id): ended cases up to it were checked by earlier scans
        self._evict_later: set[str] = set()  # checked, but the record was behind Redis: checked again next scan
        self._threads: list[threading.Thread] = []

    # ---- MQTT (paho's network thread only queues) -----------------------------------------------

    def _on_connect(self, client) -> None:
        self.generation += 1
        client.subscribe(subscriptions(self.settings.ingest_group))

    def _on_message(self, client, userdata, msg) -> None:
        self.queue.append((msg.topic, msg.payload, _now_ms(), msg.mid, msg.qos, self.generation))
        self.arrived.set()

    def connect(self) -> None:
        """Start the MQTT client; paho keeps (re)connecting in the background until it is up."""
        self.client = mqtt_adapter.make_client(self.settings.mqtt_url, self.client_id, clean_session=False,
                                               on_connect=self._on_connect, name="cases")
        self.client.manual_ack_set(True)
        self.client.on_message = self._on_message
        address = self.client._ioc_address  # noqa: SLF001 - set by make_client
        self.client.connect_async(address.host, address.port, keepalive=30)
        self.client.loop_start()

    def _ack(self, item) -> None:
        _topic, _payload, _received, mid, qos, generation = item
        if qos and generation == self.generation and self.client is not None:
            self.client.ack(mid, qos)  # else the broker delivers it again on the new connection

    # ---- outages ------------------------------------------------------------------------------

    def _outage(self, job: str, error: Exception) -> None:
        self.outages.outage(job, error)

    def _recovered(self, job: str) -> None:
        self.outages.recovered(job)

    # ---- intake: reports and department updates -----------------------------------------------

    def handle_message(self, topic: str, payload: bytes, received_ms: int, now_ms: int | None = None) -> str:
        """Process one intake message; returns "report", "update" or the rejection reason.
        Raises only when Redis fails (the caller retries). `now_ms` stamps a department's case
        update (default: the clock at the write; the demo's history passes its simulated time)."""
        event_update = route_update(topic, payload, received_ms, self.service.departments)
        if event_update is not None:
            if isinstance(event_update, Rejection):
                return self._reject(event_update)
            return self._event_update(event_update, topic, payload)
        message = parse_case_message(topic, payload, received_ms, self.city, self.service.departments)
        if isinstance(message, Rejection):
            return self._reject(message)
        if isinstance(message, Report):
            return self._report(message, topic, payload)
        return self._update(message, topic, payload, now_ms)

    def _report(self, r: Report, topic: str, payload: bytes) -> str:
        try:
            case, created = self.service.report(
                class_code=r.class_code, lat=r.lat, lon=r.lon, source=r.source, actor=r.source, role="system",
                description=r.description, report_id=r.report_id, reporter=r.reporter, media=r.media,
                address=r.address, now_ms=r.reported_ms)
        except CaseInputError as e:
            reason = ("unknown_category" if e.field == "category" else
                      "outside_city" if "outside the city" in str(e) else "bad_report")
            return self._reject(Rejection(reason, f"{e.field}: {e}"[:500], topic, payload, r.received_ms))
        counters.add(self.redis, "cases:reported")
        if created:
            log.info("case %s reported by %s (report %s, class %s, %s)", case.id, r.source, r.report_id, case.class_code, case.district)
        else:
            log.info("report %s from %s repeats case %s; no new case", r.report_id, r.source, case.id)
        return "report"

    def _update(self, u: DepartmentUpdate, topic: str, payload: bytes, now_ms: int | None = None) -> str:
        principal = Principal(name=f"dept:{u.department}", roles=frozenset({"handler"}), department=u.department, kind="token")
        for attempt in range(MAX_ATTEMPTS):
            try:
                case = self.service.act(u.case_id, u.action, principal, note=u.note, now_ms=now_ms)
                break
            except CaseConflict as e:  # changed between read and write: read again and decide again
                if attempt == MAX_ATTEMPTS - 1:
                    return self._reject(Rejection("update_refused", str(e)[:500], topic, payload, u.received_ms))
            except CaseNotFound as e:
                return self._reject(Rejection("update_refused", f"case_id: {e}"[:500], topic, payload, u.received_ms))
            except (CaseActionError, CaseInputError) as e:
                if self._already_applied(u):
                    # At-least-once delivery: the broker hands over again a message whose
                    # transition committed just before a crash (or a department system resent
                    # it). Applied once already: acknowledge it, it is no rejection.
                    log.info("case %s: repeated %s from department %s, already applied; ignored",
                             u.case_id, u.requested or u.action, u.department)
                    return "update"
                return self._reject(Rejection("update_refused", f"{u.requested or u.action} {u.case_id}: {e}"[:500], topic, payload, u.received_ms))
        counters.add(self.redis, "cases:updates")
        log.info("case %s: %s by department %s (now %s)", case.id, u.action, u.department, case.stage)
        return "update"

    def _already_applied(self, u: DepartmentUpdate) -> bool:
        """True when this department already took this very action, with the same note, on the
        case since it was last dispatched (or sent back for rework) to it: the refused update
        is a repeat delivery of one that was applied, not a new request."""
        note = (u.note or "").strip()
        for event in reversed(self.store.timeline(u.case_id)):
            if event.action == u.action and event.actor == f"dept:{u.department}" and event.note == note:
                return True
            if event.action in ("dispatch", "check_fail"):
                return False
        return False

    def _event_update(self, u: EventUpdate, topic: str, payload: bytes) -> str:
        """A department system's step of its event task (or its acknowledgement of an
        instruction), through the event service as its handler. A refusal is dead-lettered
        (`update_refused`), unless it repeats a step this department already took (a redelivery
        after a crash, or a system sending again): that is acknowledged, not refused."""
        principal = Principal(name=f"dept:{u.department}", roles=frozenset({"handler"}), department=u.department, kind="token")
        try:
            if u.action == INSTRUCTION_ACTION:
                event = self.events.act(u.event_id, INSTRUCTION_ACTION, principal, instruction_id=u.instruction_id)
            else:
                event = self.events.task_act(u.event_id, u.task_id, u.action, principal, note=u.note,
                                             expected_version=u.version)
        except EventNotFound as e:
            return self._reject(Rejection("update_refused", f"event_id: {e}"[:500], topic, payload, u.received_ms))
        except (EventError, EventConflict, EventPermissionError) as e:
            if (isinstance(e, EventError) and e.code == "repeat") or self._event_already_applied(u):
                log.info("event %s: repeated %s from department %s, already applied; ignored", u.event_id, u.action, u.department)
                return "update"
            field = getattr(e, "field", "") or ("version" if isinstance(e, EventConflict) else "task_id")
            return self._reject(Rejection("update_refused", f"{field}: {u.action} {u.event_id}: {e}"[:500], topic, payload,
                                          u.received_ms))
        counters.add(self.redis, "events:updates")
        log.info("event %s: %s by department %s (event version %d)", event.id, u.action, u.department, event.version)
        return "update"

    def _event_already_applied(self, u: EventUpdate) -> bool:
        """True when this department already took this very step, with the same note, on its
        task since the task was last issued: the refused update repeats one that was applied."""
        event = self.events.store.find(u.event_id)
        if event is None or u.task_id != u.department:
            return False
        note = (u.note or "").strip()
        for entry in reversed(event.log):
            params = entry.params
            if params.get("department") != u.department:
                continue
            if entry.kind == f"task_{u.action}" and entry.actor == f"dept:{u.department}" and params.get("note", "") == note:
                return True
            if entry.kind in ("task_issued", "task_added"):
                return False
        return False

    def _reject(self, r: Rejection) -> str:
        pipe = self.redis.pipeline(transaction=False)
        deadletters.add_in(pipe, r, self.worker_id, self.settings.deadletter_maxlen)
        counters.add_in(pipe, counters.rejections({r.reason: 1}))
        pipe.execute()
        log.warning("rejected %s (%s): %s", r.topic, r.reason, r.detail)
        return r.reason

    def _intake_loop(self) -> None:
        backoff, attempts, current = 0.2, 0, None
        while not self.stopping.is_set():
            if current is None:
                if not self.queue:
                    self.arrived.wait(0.5)
                    self.arrived.clear()
                    continue
                current = self.queue.popleft()
            try:
                self.handle_message(*current[:3])
            except REDIS_UNAVAILABLE as e:
                self._outage("intake", e)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)
                continue  # the message stays unacknowledged at the broker and is tried again
            except Exception:  # noqa: BLE001 - a bug or a refusing Redis must not stop the intake
                attempts += 1
                if attempts < MAX_ATTEMPTS:
                    log.exception("intake: %s failed (attempt %d); retrying", current[0], attempts)
                    self.stopping.wait(backoff)
                    backoff = min(backoff * 2, 5)
                    continue
                log.exception("intake: %s failed %d times; given up (payload %r)", current[0], attempts, current[1][:200])
            self._recovered("intake")
            self._ack(current)
            self.processed += 1
            current, attempts, backoff = None, 0, 0.2

    # ---- stream consumers (outbox, alarm events) ----------------------------------------------

    def _ensure_group(self, stream: str, start: str) -> None:
        try:
            self.redis.xgroup_create(stream, GROUP, id=start, mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def _stream_loop(self, job: str, stream: str, start: str, handle, on_ready=None, needs_broker: bool = False) -> None:
        """Consume `stream` in the group: own pending entries first, then new ones, and now and
        then entries another (dead) consumer left pending. `handle(fields)` returns True when the
        entry is done (XACK), False to try it again later."""
        ready, backlog, last_claim, backoff = False, True, 0.0, 0.2
        while not self.stopping.is_set():
            try:
                if not ready:
                    self._ensure_group(stream, start)
                    if on_ready:
                        on_ready()
                    ready, backlog = True, True
                if needs_broker and not (self.client is not None and self.client.is_connected()):
                    self.stopping.wait(0.2)
                    continue
                entries = []
                if time.monotonic() - last_claim > CLAIM_IDLE_MS / 2000:
                    claimed = self.redis.xautoclaim(stream, GROUP, self.consumer, CLAIM_IDLE_MS, "0-0", count=100)
                    entries = claimed[1] if claimed else []
                    last_claim = time.monotonic()
                if not entries:
                    entries = stream_entries(self.redis.xreadgroup(GROUP, self.consumer, {stream: "0" if backlog else ">"},
                                                             count=100, block=None if backlog else 1000))
                    if backlog and not entries:
                        backlog = False
                        continue
                for entry_id, fields in entries:
                    if self.stopping.is_set():
                        break
                    if not handle(fields):
                        backlog = True  # retried from the pending list
                        self.stopping.wait(1)
                        break
                    self.redis.xack(stream, GROUP, entry_id)
                self._recovered(job)
                backoff = 0.2
            except REDIS_UNAVAILABLE as e:
                self._outage(job, e)
                ready = False  # the group may be gone if Redis restarted without its data
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)
            except Exception as e:  # noqa: BLE001 - e.g. NOGROUP after a flush; never stop the job
                if not (isinstance(e, redis.ResponseError) and "NOGROUP" in str(e)):
                    log.exception("%s: unexpected error; retrying", job)
                ready = False
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)

    def _publish(self, fields, counter: str = "cases:dispatch_published") -> bool:
        """Publish one outbox message at QoS 1; True once the broker acknowledged it (counted in `counter`)."""
        topic, payload = _field(fields, "topic"), _field(fields, "payload")
        if not topic or payload is None:
            log.warning("outbox: entry without topic or payload (trimmed?); skipped")
            return True
        try:
            info = self.client.publish(topic, payload.encode(), qos=1)
            deadline = time.monotonic() + PUBLISH_TIMEOUT_S
            while not info.is_published() and time.monotonic() < deadline and not self.stopping.is_set():
                info.wait_for_publish(0.1)
        except (RuntimeError, ValueError) as e:
            log.warning("outbox: publishing on %s failed (%s); will retry", topic, e)
            return False
        if not info.is_published():
            if not self.stopping.is_set():
                log.warning("outbox: no PUBACK for %s within %ds; will retry", topic, PUBLISH_TIMEOUT_S)
            return False
        counters.add(self.redis, counter)
        log.info("published %s", topic)
        return True

    def _alarm_event(self, fields) -> bool:
        if _field(fields, "event") != "raised":
            return True
        raw = _field(fields, "alarm")
        try:
            alarm = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            alarm = None
        if not isinstance(alarm, dict):
            log.warning("alarm events: a raised event without a readable alarm; skipped")
            return True
        self.alarm_case(alarm)
        return True

    def alarm_case(self, alarm: dict) -> Case | None:
        """The case for a raised alarm whose rule opens cases (None for other rules, or when the
        device has no registered position). Idempotent per raise; one open case per device and class."""
        code = case_catalog.ALARM_CLASSES.get(alarm.get("rule_id"))
        device_id = str(alarm.get("device_id") or "")
        if not code or not device_id:
            return None
        device = self.snapshot.device(device_id)
        meta = (device or {}).get("meta") or {}
        lat, lon = meta.get("lat"), meta.get("lon")
        if lat is None or lon is None:
            log.warning("alarm %s: device %s has no position in the registry; no case opened", alarm.get("id"), device_id)
            return None
        raised_at = int(alarm.get("raised_at") or 0)
        description = sensor_case_description(alarm, str(meta.get("name") or ""))
        address = str(meta.get("address") or "").strip()
        if len(address) > ADDRESS_MAX:  # the device's own (birth) address: the alarm's case matters more than it
            log.warning("alarm %s: device %s's address is %d characters (a case's is at most %d); the case names the device instead",
                        alarm.get("id"), device_id, len(address), ADDRESS_MAX)
            address = ""
        address = address or device_place(device_id, str(meta.get("name") or ""))
        try:
            case, created = self.service.report(
                class_code=code, lat=lat, lon=lon, source="sensor", actor="sensor", role="system", device_id=device_id,
                report_id=f"alarm:{alarm.get('id')}:{raised_at}", description=description,
                address=address, now_ms=min(raised_at, _now_ms()) if raised_at > 0 else None)
        except CaseInputError as e:
            log.warning("alarm %s: no case opened (%s: %s)", alarm.get("id"), e.field, e)
            return None
        if created:
            counters.add(self.redis, "cases:from_alarms")
            log.info("case %s opened from alarm %s", case.id, alarm.get("id"))
        return case

    def _sweep_active_alarms(self) -> None:
        """Open the cases of alarms raised while no case worker ran (idempotent)."""
        for alarm in self.alarms.active_raw().values():
            if alarm.get("rule_id") in case_catalog.ALARM_CLASSES:
                self.alarm_case(alarm)

    # ---- overdue cases ------------------------------------------------------------------------

    def scan_overdue(self, now_ms: int | None = None) -> tuple[int, int]:
        """Raise `case_overdue` for open cases past their stage deadline, clear the others;
        returns (raised, cleared)."""
        now = int(now_ms if now_ms is not None else _now_ms())
        due = {overdue_alarm_id(c.id): c for c in self.store.open_cases() if c.overdue(now)}
        active = self.alarms.active_raw(f"case:*|{OVERDUE_RULE}")
        pipe = self.redis.pipeline(transaction=False)
        clearing = []
        for alarm_id, alarm in active.items():
            case = due.get(alarm_id)
            if case is not None and (alarm.get("value"), alarm.get("threshold")) == (case.stage, case.stage_deadline):
                self._overdue_seen[alarm_id] = (case.stage, case.stage_deadline)
                continue
            now_case = case or self.store.find(str(alarm.get("device_id") or ""))
            event = {**alarm, "value": now_case.stage if now_case else alarm.get("value"), "cleared_at": now}
            self.alarms.clear_in(pipe, alarm_id, orjson.dumps(event))
            clearing.append(alarm_id)
            self._overdue_seen.pop(alarm_id, None)
        cleared = sum(1 for ok in pipe.execute() if ok) if clearing else 0
        raised = 0
        for alarm_id, case in due.items():
            if alarm_id in active and alarm_id not in clearing:
                continue
            if alarm_id not in active and self._overdue_seen.get(alarm_id) == (case.stage, case.stage_deadline):
                continue  # cleared by hand while overdue for this stage and deadline: leave it cleared
            alarm = overdue_alarm(case, now)
            if self.alarms.raise_alarm(alarm, notify=self.service.intent("case.overdue", case, now)):
                raised += 1
                log.info("case %s overdue in stage %s (deadline passed %d min ago)", case.id, case.stage,
                         (now - case.stage_deadline) // 60_000)
            self._overdue_seen[alarm_id] = (case.stage, case.stage_deadline)
        for alarm_id in [a for a in self._overdue_seen if a not in due]:
            del self._overdue_seen[alarm_id]
        if raised or cleared:
            pipe = self.redis.pipeline(transaction=False)
            counters.add_in(pipe, {"cases:overdue_raised": raised, "cases:overdue_cleared": cleared})
            pipe.execute()
        return raised, cleared

    # ---- ended cases leave Redis for the record ------------------------------------------------

    def evict_archived(self, now_ms: int | None = None) -> int:
        """Remove from Redis the cases ended more than IOC_CASE_HOT_DAYS ago whose latest version
        and last timeline entry the record holds (`CaseStore.evict` checks both in its script: a
        case the recorder has not caught up with stays, and is checked again on the next scan).
        They stay readable from the record (`ioc.record.archive`). Returns how many left now."""
        if self.archive is None or self.settings.case_hot_days <= 0:
            return 0
        now = int(now_ms if now_ms is not None else _now_ms())
        cutoff = now - self.settings.case_hot_days * 86_400_000
        gone = 0
        if self._evict_later:
            later = sorted(self._evict_later)
            self._evict_later.clear()
            for k in range(0, len(later), EVICT_BATCH):
                gone += self._evict(self.archive.ended_before(cutoff, (0, ""), EVICT_BATCH, ids=later[k:k + EVICT_BATCH]))
        for _ in range(EVICT_BATCHES):
            found = self.archive.ended_before(cutoff, self._evict_from, EVICT_BATCH)
            gone += self._evict(found)
            if found:
                self._evict_from = (found[-1][2], found[-1][0])  # the next page starts after the last seen
            if len(found) < EVICT_BATCH:
                break
        if gone:
            counters.add(self.redis, "cases:archived", gone)
            log.info("%d case(s) ended more than %d days ago left Redis (read from the record from now on)", gone,
                     self.settings.case_hot_days)
        return gone

    def _evict(self, found) -> int:
        held = self.store.versions(case_id for case_id, _v, _ended, _last in found)
        candidates = [(case_id, version, last) for case_id, version, _ended, last in found if case_id in held]
        if not candidates:
            return 0
        gone = set(self.store.evict(candidates))
        for case_id, _version, _last in candidates:
            if case_id not in gone and len(self._evict_later) < EVICT_RETRY_MAX:
                self._evict_later.add(case_id)
        return len(gone)

    # ---- escalated alarms: notify the duty officer ---------------------------------------------

    def scan_escalations(self, now_ms: int | None = None) -> int:
        """Write the notification intent of every active critical alarm unacknowledged past the
        escalation policy (`ioc.domain.alarm_handling.escalation`), once per alarm and raise (a
        guard key set NX with the intent, in one script). Returns how many were written now."""
        now = int(now_ms if now_ms is not None else _now_ms())
        written = 0
        alarms = self.alarms.active()
        live = {(a.get("id"), int(a.get("raised_at") or 0)) for a in alarms}
        self._escalated &= live
        for alarm in alarms:
            key = (alarm.get("id"), int(alarm.get("raised_at") or 0))
            if alarm.get("severity") != "critical" or key in self._escalated:
                continue
            ack = Acknowledgement.from_dict(alarm["ack"]) if alarm.get("ack") else None
            esc = escalation(alarm, ack, now, self.escalation_policy)
            if not esc.escalated:
                continue
            if self.notify.escalated(escalation_intent(alarm, esc, self.city, now), key[0], key[1]):
                written += 1
                log.info("alarm %s escalated (unacknowledged for %d min): duty officer notified", key[0],
                         (now - key[1]) // 60_000)
            self._escalated.add(key)
        return written

    # ---- proposals: the plans' triggers on live data ------------------------------------------

    def _watch(self) -> TriggerWatch:
        if self.watch is None:
            self.watch = TriggerWatch.from_dict(self.events.plans, self.events.store.watch_state())
        return self.watch

    def readings(self) -> list[Reading]:
        """The latest value of every watched attribute of every online device of the watched kinds
        (the registry is read again only when it moved; one HMGET per shard and attribute)."""
        fleet = self.registry.refresh_registry(self.redis)
        by_kind = fleet.derived.get("trigger_kinds")
        if by_kind is None:
            kinds = {kind for kind, _attribute in self._watch().watched}
            by_kind = fleet.derived["trigger_kinds"] = {k: [d for d in fleet.devices if d.kind == k] for k in kinds}
        out = []
        for kind, attribute in sorted(self._watch().watched):
            devices = [d for d in by_kind.get(kind, ()) if d.online]
            values = self.snapshot.latest_values([d.id for d in devices], attribute)
            out.extend(Reading(d.id, d.name, kind, d.district, attribute, values[d.id]) for d in devices if d.id in values)
        return out

    def scan_triggers(self, now_ms: int | None = None) -> int:
        """Evaluate the plans' triggers on the latest values and store the proposals a person
        should see now (`due_proposals`: not for a plan with a live event at that level or
        higher, not again for evidence no worse than a dismissed one); dismissals whose plan's
        triggers are no longer met lapse. Returns the number of current proposals."""
        now = int(now_ms if now_ms is not None else _now_ms())
        watch = self._watch()  # first: the clocks a previous worker saved (a restart does not start them afresh)
        raw = watch.observe(self.readings(), now)
        self.events.store.put_watch_state(watch.to_dict())
        dismissed = self.events.store.dismissals()
        lapsed = lapsed_dismissals(raw, dismissed)
        if lapsed:
            self.events.store.drop_dismissals(lapsed)
            dismissed = {k: v for k, v in dismissed.items() if k not in lapsed}
        due = due_proposals(raw, self.events.active_events(), dismissed)
        before = set(self.events.store.proposals())
        if self.events.store.put_proposals({p.id: p.to_dict() for p in due}):
            raised = [p for p in due if p.id not in before]
            if raised:
                counters.add(self.redis, "events:proposals_raised", len(raised))
                for p in raised:
                    log.info("proposal %s: %d device(s) in %s", p.id, len(p.evidence), ", ".join(p.districts) or "-")
        return len(due)

    def heartbeat(self) -> None:
        heartbeats.beat(self.redis, self.worker_id, "cases", self.started_ms, self.processed, len(self.queue),
                        self.settings.ingest_group, client_id=self.client_id,
                        mqtt=bool(self.client is not None and self.client.is_connected()))

    def _periodic_loop(self) -> None:
        next_beat = next_scan = next_triggers = 0.0
        backoff = 0.2
        while not self.stopping.is_set():
            try:
                if time.monotonic() >= next_beat:
                    self.heartbeat()
                    next_beat = time.monotonic() + HEARTBEAT_S
                if time.monotonic() >= next_scan:
                    self.scan_overdue()
                    self.scan_escalations()
                    try:
                        self.evict_archived()
                        self._recovered("archiving")
                    except ArchiveUnavailable as e:  # the record down: the cases stay in Redis meanwhile
                        self._outage("archiving", e)
                    except REDIS_UNAVAILABLE:
                        raise
                    except Exception:  # noqa: BLE001 - the record down or a bug must not stop the overdue scan
                        log.exception("archiving ended cases: unexpected error; trying again in %ds", self.settings.cases_scan_s)
                    next_scan = time.monotonic() + self.settings.cases_scan_s
                if time.monotonic() >= next_triggers:
                    next_triggers = time.monotonic() + self.settings.events_scan_s
                    try:
                        self.scan_triggers()
                    except REDIS_UNAVAILABLE:
                        raise
                    except Exception:  # noqa: BLE001 - a bad reading or a bug must not stop the heartbeat and the overdue scan
                        log.exception("trigger scan: unexpected error; trying again in %ds", self.settings.events_scan_s)
                self._recovered("overdue scan")
                backoff = 0.2
                self.stopping.wait(max(0.05, min(next_beat, next_scan, next_triggers) - time.monotonic()))
            except REDIS_UNAVAILABLE as e:
                self._outage("overdue scan", e)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)
            except Exception:  # noqa: BLE001 - never stop the scan
                log.exception("overdue scan: unexpected error; retrying")
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)

    # ---- lifecycle ----------------------------------------------------------------------------

    def run(self) -> None:
        self.connect()
        jobs = {
            "outbox": lambda: self._stream_loop("outbox", OUTBOX, "0", self._publish, needs_broker=True),
            "events-outbox": lambda: self._stream_loop("event outbox", EVENTS_OUTBOX, "0",
                                                       lambda fields: self._publish(fields, "events:published"),
                                                       needs_broker=True),
            "alarms": lambda: self._stream_loop("alarm cases", keys.ALARMS_EVENTS, "$", self._alarm_event,
                                                on_ready=self._sweep_active_alarms),
            "periodic": self._periodic_loop,
        }
        self._threads = [threading.Thread(target=fn, name=f"cases-{name}", daemon=True) for name, fn in jobs.items()]
        for t in self._threads:
            t.start()
        log.info("case worker %s (MQTT client %s) subscribing to %s", self.worker_id, self.client_id,
                 ", ".join(t for t, _ in subscriptions(self.settings.ingest_group)))
        self._intake_loop()
        for t in self._threads:
            t.join(PUBLISH_TIMEOUT_S + 5)
        self.client.disconnect()
        self.client.loop_stop()
        log.info("case worker %s stopped after %d messages", self.worker_id, self.processed)

    def stop(self, *_args) -> None:
        self.stopping.set()
        self.arrived.set()


def main(settings: Settings) -> int:
    from ioc.adapters.geodata_files import load_city_map
    from ioc.adapters.redis_client import connect_redis

    if not settings.redis_url or not settings.mqtt_url:
        log.error("REDIS_URL and MQTT_URL must be set for `python -m ioc cases` (or use `python -m ioc demo`)")
        return 2
    worker = CaseWorker(settings, connect_redis(settings.redis_url), load_city_map(settings.geodata_dir))
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()
    return 0
