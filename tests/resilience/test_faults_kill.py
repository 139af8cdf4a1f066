"""Fault: a worker process is killed with SIGKILL in the middle of its work, then restarted.

Real `python -m ioc ingest` and `python -m ioc cases` processes on a private Redis and
Mosquitto; `kill -9` gives them no chance to flush, acknowledge or say goodbye.
"""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.case_store import CaseStore
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.casework.service import CaseService
from ioc.domain.access import Principal
from tests.conftest import wait_for
from tests.resilience.conftest import Feed, births, counter, settle

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DISPATCHER = Principal("fault-dispatcher", frozenset({"dispatcher"}))
INSPECTOR = Principal("fault-inspector", frozenset({"inspector"}))
AT = (31.872, 120.556)  # (lat, lon) in 杨舍镇
DEPARTMENT = "water_affairs"

RATE = 3000  # msg/s of telemetry while the worker is killed


def test_ingest_killed_mid_batch_loses_at_most_what_was_in_flight(stack, spawn, mqtt):
    """`kill -9` of the ingest worker while 3,000 readings a second flow, then a new worker.

    Telemetry is QoS 0 on a clean session, so what the killed worker held is gone: the readings
    in its queue and in the batch it was writing, the bytes on its socket, and whatever the
    broker received for it after the kill (nobody is subscribed until the new worker is). What
    it had committed is not: readings are processed in publishing order (one publisher
    connection, one subscriber, batches in order), so with C = readings counted as accepted
    just before the kill, the first C published readings are stored and

        lost = published − accepted − rejected ≤ published − C   (the in-flight readings)

    and, the counters being written after the state, every one of those C readings is in the
    devices' latest state (a device's latest `ts` is at least that of its last reading among
    them). The loss is visible — counted — as the difference between what the publishers sent
    and `ioc_ingest_messages_total`. The restarted worker then takes every reading (none refused,
    none late, none doubled).
    """
    redis = stack.client()
    devices = [f"nz-k-{i:03d}" for i in range(150)]  # 20 msg/s each: under IOC_DEVICE_MAX_RATE
    first = spawn("ingest", IOC_INGEST_CLIENT_ID="fault-ingest-kill")
    pub = mqtt()
    births(pub, "noise", devices)
    wait_for(lambda: counter(redis, "messages:accepted") == len(devices), message="the births")

    feed = Feed(pub, devices, RATE).start()
    wait_for(lambda: counter(redis, "messages:accepted") > len(devices) + RATE, timeout=20, message="a second of readings")
    committed = counter(redis, "messages:accepted") - len(devices)
    first.kill9()
    time.sleep(0.3)
    published_a = feed.stop()
    accepted_a = settle(lambda: counter(redis, "messages:accepted") + counter(redis, "messages:rejected"))

    lost = published_a - (accepted_a - len(devices))
    in_flight = published_a - committed
    print(f"ingest kill -9: published {published_a}, committed before the kill {committed}, lost {lost}, in flight {in_flight}")
    assert counter(redis, "messages:rejected") == 0
    assert 0 <= lost <= in_flight, f"lost {lost} of {published_a}; in flight at the kill {in_flight}"
    snapshot = SnapshotStore(redis, 8)
    last_committed: dict[str, int] = {}
    for device, ts in feed.sent[:committed]:
        last_committed[device] = ts
    stored = {d: snapshot.device(d)["latest"]["ts"] for d in devices}
    behind = {d: (stored[d], ts) for d, ts in last_committed.items() if stored[d] < ts}
    assert not behind, f"counted as accepted but not in the latest state: {behind}"

    # a new worker takes over; nothing of the dead one's is doubled or refused
    spawn("ingest", IOC_INGEST_CLIENT_ID="fault-ingest-kill")
    feed_b = Feed(pub, devices, 1000)
    feed_b._ts = feed._ts + 10  # later readings than any before
    feed_b.start()
    time.sleep(1.0)
    published_b = feed_b.stop()
    # the new worker also gets the retained births again (status, accepted again)
    wait_for(lambda: counter(redis, "messages:accepted") == accepted_a + len(devices) + published_b, timeout=20,
             message=f"all {published_b} readings after the restart")
    assert counter(redis, "messages:rejected") == 0 and counter(redis, "messages:late") == 0
    for device, ts in feed_b.sent[-len(devices):]:
        assert snapshot.device(device)["latest"]["ts"] == ts  # the newest reading it sent


def rolled_up_readings(redis, first_ts: int, last_ts: int) -> int:
    """Readings of kind noise in the 1-minute rollups of the minutes `first_ts`..`last_ts` span."""
    series = SnapshotStore(redis, 8).rollup_series("minute", first_ts // 60_000, last_ts // 60_000 + 1)
    return int(sum(v for bucket in series.values() for k, v in bucket.items() if k.endswith("|noise|_:n")))


def test_every_reading_counted_as_accepted_is_in_the_rollups_after_a_kill(stack, spawn, mqtt):
    """A reading the ingest counted as accepted is in the minute rollups too, even when the
    worker is killed right after (twice, at random points of a 3,000 msg/s stream).

    The state and rollups of a batch are written before (or with) its counters, so a kill can
    leave at most a batch stored but not yet counted, never the reverse: after the kills
    `accepted readings ≤ rolled-up readings`. Otherwise the minute KPIs and trends silently
    miss readings that `ioc_ingest_messages_total` says were taken.
    """
    redis = stack.client()
    devices = [f"nz-r-{i:03d}" for i in range(150)]
    pub = mqtt()
    births(pub, "noise", devices)  # retained: every new worker takes them again (status, no rollup)
    feed_ts = int(time.time() * 1000) - 120_000
    for cycle in range(2):
        worker = spawn("ingest", IOC_INGEST_CLIENT_ID="fault-ingest-rollups")
        feed = Feed(pub, devices, RATE)
        feed._ts = feed_ts
        feed.start()
        start = counter(redis, "accepted:noise")
        wait_for(lambda: counter(redis, "accepted:noise") > start + RATE, timeout=20, message="a second of readings")
        time.sleep(0.2 + 0.3 * cycle)
        worker.kill9()
        feed.stop()
        feed_ts = feed._ts + 1
    births_taken = 2 * len(devices)
    accepted_readings = counter(redis, "accepted:noise") - births_taken
    rolled = rolled_up_readings(redis, int(time.time() * 1000) - 130_000, int(time.time() * 1000))
    assert accepted_readings <= rolled, f"{accepted_readings - rolled} readings counted as accepted are missing from the rollups"


def dispatched_cases(service: CaseService, n: int) -> list[str]:
    ids = []
    for i in range(n):
        case, _ = service.report(class_code="10101", lat=AT[0], lon=AT[1], source="hotline", actor="hotline", report_id=f"k-{i}")
        service.act(case.id, "accept", DISPATCHER)
        service.act(case.id, "verify", INSPECTOR)
        ids.append(service.act(case.id, "dispatch", DISPATCHER, department=DEPARTMENT).id)
    return ids


def test_case_worker_killed_while_updates_flow_loses_or_half_applies_no_transition(stack, spawn, mqtt, city):
    """`kill -9` of the case worker while department updates (acknowledge, then handled, QoS 1)
    flow for 60 dispatched cases, then the same worker (same persistent-session client id)
    again.

    Every transition is one Lua script (case, version, timeline entry, indexes, audit, outbox) and
    a message is PUBACKed only after it: the broker redelivers what the dead worker had not
    acknowledged, and the redelivery of a transition that did commit is refused by the workflow,
    never applied twice. Afterwards every case is `handled`, its version equals its timeline
    length, its timeline is exactly report → accept → verify → dispatch → acknowledge → handle,
    and its stage, acknowledgement and indexes agree.
    """
    redis = stack.client()
    store = CaseStore(redis)
    service = CaseService.from_settings(redis, city, stack.settings())
    ids = dispatched_cases(service, 60)
    env = {"IOC_CASES_CLIENT_ID": "fault-cases-kill", "IOC_CASES_SCAN_S": "3600"}
    first = spawn("cases", **env)
    pub = mqtt()

    def publish_all():
        infos = []
        for action in ("acknowledge", "handled"):
            for case_id in ids:
                infos.append(pub.publish(f"ioc/v1/departments/{DEPARTMENT}/updates",
                                         orjson.dumps({"case_id": case_id, "action": action, "note": "修好了"}), qos=1))
                time.sleep(0.002)
        for info in infos:
            info.wait_for_publish(30)

    sender = threading.Thread(target=publish_all, daemon=True)
    sender.start()
    wait_for(lambda: counter(redis, "cases:updates") >= 30, timeout=30, message="some updates applied")
    first.kill9()
    applied_at_kill = counter(redis, "cases:updates")
    sender.join(30)
    assert applied_at_kill < 2 * len(ids), "the kill came too late to prove anything"

    spawn("cases", **env)
    wait_for(lambda: all(store.get(c).stage == "handled" for c in ids), timeout=40, message="every case handled")
    time.sleep(1.0)  # redeliveries, if any, arrive now

    for case_id in ids:
        case = store.get(case_id)
        timeline = store.timeline(case_id)
        assert [e.action for e in timeline] == ["report", "accept", "verify", "dispatch", "acknowledge", "handle"], case_id
        assert case.version == len(timeline), (case_id, case.version, len(timeline))
        assert case.stage == timeline[-1].to_stage == "handled" and case.acknowledged_at == timeline[-2].at
        assert case.department == DEPARTMENT and case.is_open
    assert {c.id for c in store.open_cases()} == set(ids)
    # a transition committed just before the kill but not yet PUBACKed is delivered again: the
    # workflow refuses it (never applied twice) and the worker recognises it as a repeat of
    # what the department already did, so it is no dead letter either
    letters = [{k.decode(): v.decode() for k, v in f.items()} for _i, f in redis.xrange(keys.DEADLETTER)]
    assert letters == []
    assert counter(redis, "messages:rejected") == 0


def test_case_worker_killed_while_event_tasks_flow_delivers_every_task_and_applies_every_step_once(stack, spawn, mqtt, city):
    """`kill -9` of the case worker while department systems work their event tasks (acknowledge,
    then arrive, QoS 1) for 20 flood events and the worker publishes the events' task messages;
    more events start while it is dead; then the same worker (same client id) again.

    Every event change is one Lua script (event, version, audit, outbox messages) and an update
    is PUBACKed only after it; an outbox entry is XACKed only after the broker's PUBACK. So: every
    task message written reaches the departments at least once (the dead worker's pending entries
    are taken up by its successor), every step is applied exactly once (a redelivered step is a
    repeat, acknowledged without a dead letter), and each task's version counts its steps.
    """
    from ioc.events.service import EventService

    redis = stack.client()
    events = EventService.from_settings(redis, city, stack.settings())
    commander = Principal("fault-commander", frozenset({"dispatcher"}))

    def start_events(n: int) -> list:
        return [events.start(commander, plan="flood", level="IV",
                             area={"type": "circle", "center": [AT[1], AT[0]], "radius_m": 500}) for _ in range(n)]

    received: set = set()
    inbox = mqtt(f"fault-dept-{time.monotonic_ns()}")
    inbox.on_message = lambda _c, _u, m: received.add((lambda p: (p["event_id"], p["task_id"], p["version"]))(orjson.loads(m.payload)))
    inbox.subscribe("ioc/v1/dispatch/+", qos=1)
    first_wave = start_events(20)
    env = {"IOC_CASES_CLIENT_ID": "fault-cases-events", "IOC_CASES_SCAN_S": "3600", "IOC_EVENTS_SCAN_S": "3600"}
    first = spawn("cases", **env)
    pub = mqtt()
    tasks = [(e.id, t.department) for e in first_wave for t in e.tasks]

    def publish_all():
        infos = []
        for action in ("acknowledge", "arrive"):
            for event_id, department in tasks:
                infos.append(pub.publish(f"ioc/v1/departments/{department}/updates",
                                         orjson.dumps({"event_id": event_id, "task_id": department, "action": action}), qos=1))
                time.sleep(0.002)
        for info in infos:
            info.wait_for_publish(30)

    sender = threading.Thread(target=publish_all, daemon=True)
    sender.start()
    wait_for(lambda: counter(redis, "events:updates") >= 30, timeout=30, message="some updates applied")
    first.kill9()
    applied_at_kill = counter(redis, "events:updates")
    second_wave = start_events(5)  # their task messages wait in the outbox
    sender.join(30)
    assert applied_at_kill < 2 * len(tasks), "the kill came too late to prove anything"

    spawn("cases", **env)
    wait_for(lambda: all(t.status == "on_site" for e in events.store.many([e.id for e in first_wave]) for t in e.tasks),
             timeout=60, message="every task of the first wave on site")
    issued = {(e.id, t.department, 1) for e in first_wave + second_wave for t in e.tasks}
    wait_for(lambda: issued <= received, timeout=30, message="every task message delivered")
    time.sleep(1.0)  # redeliveries, if any, arrive now
    for event in events.store.many([e.id for e in first_wave]):
        kinds = [entry.kind for entry in event.log]
        assert kinds.count("task_acknowledge") == kinds.count("task_arrive") == len(event.tasks) == 3, event.id
        assert all(t.version == 3 for t in event.tasks) and event.status == "responding"
    letters = [{k.decode(): v.decode() for k, v in f.items()} for _i, f in redis.xrange(keys.DEADLETTER)]
    assert letters == [] and counter(redis, "messages:rejected") == 0
