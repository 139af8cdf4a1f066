"""The case worker through real parts (Redis, the MQTT broker, the ingest worker): reports over
MQTT become cases, bad ones are dead-lettered, dispatches reach the department's topic, the
department's answers move the case, sensor alarms open cases, overdue cases raise an alarm, and
reports sent while the worker is down arrive when it is back (persistent session)."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters.case_store import OUTBOX, CaseStore
from ioc.adapters.mqtt import connect, make_client
from ioc.adapters.redis_client import connect_redis
from ioc.casework.worker import CaseWorker, overdue_alarm_id
from ioc.domain.access import Principal
from ioc.domain.alarm_handling import EscalationPolicy
from ioc.views import bigscreen
from tests.conftest import RunningWorker, wait_for
from tests.integration.test_ingest_pipeline import birth, counter, send

YANGSHE = (31.872, 120.556)  # (lat, lon) in 杨舍镇
DISPATCHER = Principal("li", frozenset({"dispatcher"}))
INSPECTOR = Principal("zhao", frozenset({"inspector"}))


def publish(publisher, topic: str, payload) -> None:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    publisher.publish(topic, raw, qos=1).wait_for_publish(5)


def a_report(report_id: str, category="10101", at=YANGSHE, **extra) -> dict:
    return {"report_id": report_id, "category": category, "lat": at[0], "lon": at[1], "description": "井盖不见了",
            "reported_at": int(time.time() * 1000), **extra}


def dead_letters(redis_client) -> list[dict]:
    return [{k.decode(): v.decode() for k, v in fields.items()} for _id, fields in redis_client.xrange(keys.DEADLETTER)]


# ---- reports --------------------------------------------------------------------------------

def test_a_report_over_mqtt_becomes_a_case(cases, publisher, case_store, redis_client):
    publish(publisher, "ioc/v1/reports/hotline", a_report("hl-1", address="步行街 12 号", reporter="王先生 138…",
                                                          media=["https://img.example/1.jpg"]))
    case = wait_for(lambda: case_store.by_report("hl-1"), message="the case")
    assert (case.class_code, case.district, case.source, case.filed_by) == ("10101", "yangshe", "hotline", "hotline")
    assert case.description == "井盖不见了" and case.address == "步行街 12 号" and case.reporter == "王先生 138…"
    assert case.media == ("https://img.example/1.jpg",) and case.stage == "reported" and case.stage_deadline > case.created_at
    assert case_store.timeline(case.id)[0].action == "report"
    # the worker counts the report once the case is stored: the case can be read a moment before
    wait_for(lambda: counter(redis_client, "cases:reported") == 1, message="the report counted")


def test_a_report_over_mqtt_is_audited_at_the_server_time_not_its_reported_at(cases, publisher, case_store, redis_client):
    from ioc.adapters.audit_log import AuditLog

    sent_after = time.time() * 1000
    reported_at = int(sent_after) - 7 * 86_400_000
    publish(publisher, "ioc/v1/reports/hotline", a_report("hl-old", reported_at=reported_at))
    case = wait_for(lambda: case_store.by_report("hl-old"), message="the case")
    entry = AuditLog(redis_client).recent(1, action="case.report")[0]
    assert entry.target == case.id and entry.detail["reported_at"] == reported_at == case.created_at
    assert sent_after <= entry.at_ms <= time.time() * 1000


def test_the_same_report_id_twice_makes_one_case(cases, publisher, case_store, redis_client):
    publish(publisher, "ioc/v1/reports/inspector", a_report("insp-7"))
    publish(publisher, "ioc/v1/reports/inspector", a_report("insp-7"))
    wait_for(lambda: counter(redis_client, "cases:reported") == 2, message="both reports taken")
    assert len(case_store.all()) == 1 and case_store.all()[0].source == "inspector"


@pytest.mark.parametrize("payload, reason, field", [
    (orjson.dumps({k: v for k, v in a_report("bad-1").items() if k != "category"}), "bad_report", "category"),
    (orjson.dumps(a_report("bad-2", category="99999")), "unknown_category", "category"),
    (b'{"report_id": "bad-3", ', "not_json", ""),
    (orjson.dumps(a_report("bad-4", at=(31.0, 120.0))), "outside_city", "lat/lon"),
    (orjson.dumps(a_report("bad-5", lat="31.87")), "bad_report", "lat"),
], ids=["missing-category", "unknown-category", "bad-json", "outside-city", "lat-as-text"])
def test_a_bad_report_is_dead_lettered_with_its_reason_and_nothing_is_stored(cases, publisher, case_store, redis_client,
                                                                            payload, reason, field):
    publish(publisher, "ioc/v1/reports/camera", payload)
    entry = wait_for(lambda: dead_letters(redis_client), message="the dead letter")[0]
    assert entry["reason"] == reason and entry["topic"] == "ioc/v1/reports/camera"
    assert entry["detail"].startswith(field) and entry["payload"].encode() == payload
    assert entry["worker"] == cases.worker.worker_id
    assert counter(redis_client, f"rejected:{reason}") == 1 and counter(redis_client, "messages:rejected") == 1
    assert case_store.all() == [] and counter(redis_client, "cases:reported") == 0


# ---- dispatch and the department's answers ----------------------------------------------------

@pytest.fixture
def department_inbox(broker_proc):
    """A department system's subscription to ioc/v1/dispatch/+ (QoS 1)."""
    got: list = []
    client = make_client(broker_proc.url, f"test-dept-{uuid.uuid4().hex[:8]}", name="test-department",
                         on_connect=lambda c: c.subscribe("ioc/v1/dispatch/+", qos=1))

    def on_message(_c, _u, msg):
        got.append((msg.topic, orjson.loads(msg.payload)))

    client.on_message = on_message
    acked = threading.Event()
    client.on_subscribe = lambda *_args: acked.set()
    connect(client)
    assert acked.wait(10), "the department's subscription acknowledged (SUBACK)"
    yield got
    client.disconnect()
    client.loop_stop()


def dispatched_case(case_service, report_id: str):
    case, _ = case_service.report(class_code="10101", lat=YANGSHE[0], lon=YANGSHE[1], source="hotline", actor="hotline",
                             report_id=report_id)
    case_service.act(case.id, "accept", DISPATCHER)
    case_service.act(case.id, "verify", INSPECTOR)
    return case_service.act(case.id, "dispatch", DISPATCHER)


def test_a_dispatch_is_published_on_the_department_topic(cases, case_service, department_inbox, redis_client):
    case = dispatched_case(case_service, "d-1")
    topic, message = wait_for(lambda: department_inbox and department_inbox[0], message="the dispatch message")
    assert topic == "ioc/v1/dispatch/water_affairs"
    assert message["case_id"] == case.id and message["department"] == "water_affairs" and message["version"] == case.version
    assert message["class_code"] == "10101" and message["class_zh"] == "井盖丢失"
    wait_for(lambda: redis_client.xpending(OUTBOX, "ioc-cases")["pending"] == 0, message="the outbox entry acknowledged")
    wait_for(lambda: counter(redis_client, "cases:dispatch_published") >= 1, message="the dispatch counted")  # counted just after, not with it
    assert counter(redis_client, "cases:dispatch_published") == 1


def test_department_updates_move_the_case_and_a_refused_one_is_dead_lettered(cases, case_service, case_store, publisher, redis_client):
    case = dispatched_case(case_service, "d-2")
    topic = "ioc/v1/departments/water_affairs/updates"
    publish(publisher, topic, {"case_id": case.id, "action": "acknowledge", "ts": int(time.time() * 1000)})
    wait_for(lambda: case_store.get(case.id).acknowledged_at, message="acknowledged")
    publish(publisher, topic, {"case_id": case.id, "action": "return", "note": "不是我们的井盖，属于燃气公司"})
    back = wait_for(lambda: (c := case_store.get(case.id)).stage == "verified" and c, message="returned")
    assert back.return_count == 1
    assert case_store.timeline(case.id)[-1].actor == "dept:water_affairs" and case_store.timeline(case.id)[-1].role == "handler"
    case_service.act(case.id, "dispatch", DISPATCHER, department="water_affairs")
    publish(publisher, "ioc/v1/departments/transport/updates", {"case_id": case.id, "action": "acknowledge"})  # not theirs
    publish(publisher, topic, {"case_id": case.id, "action": "handled", "note": "已补装井盖"})
    wait_for(lambda: case_store.get(case.id).stage == "handled", message="handled")
    # the counter is bumped just after the transition commits: wait for it rather than race it
    wait_for(lambda: counter(redis_client, "cases:updates") >= 3, message="three updates counted")
    assert counter(redis_client, "cases:updates") == 3

    publish(publisher, topic, {"case_id": case.id, "action": "handled"})  # wrong stage now
    publish(publisher, topic, {"case_id": "ZJG-19990101-000001", "action": "acknowledge"})
    publish(publisher, topic, {"case_id": case.id, "action": "return"})  # no note
    publish(publisher, "ioc/v1/departments/no_such_department/updates", {"case_id": case.id, "action": "acknowledge"})
    letters = wait_for(lambda: len(d := dead_letters(redis_client)) == 5 and d, message="five dead letters")
    assert [d["reason"] for d in letters] == ["update_refused"] * 3 + ["bad_update"] * 2
    assert letters[0]["detail"] == f"case_id: no case {case.id!r}"  # another department's case: as if unknown
    assert letters[1]["detail"].startswith(f"handled {case.id}") and "stage 'handled'" in letters[1]["detail"]
    assert "no case" in letters[2]["detail"] and letters[3]["detail"].startswith("note")
    assert letters[4]["detail"].startswith("topic")
    assert case_store.get(case.id).stage == "handled" and counter(redis_client, "cases:updates") == 3


# ---- alarms ------------------------------------------------------------------------------------

def test_a_displaced_manhole_cover_opens_one_case_however_often_it_is_raised(ingest, cases, publisher, case_store, redis_client):
    birth(publisher, "manhole", "mh-c-1", (YANGSHE[1], YANGSHE[0]), "杨舍 井盖 1")
    wait_for(lambda: counter(redis_client, "messages:accepted") == 1, message="birth")
    t0 = int(time.time() * 1000) - 60_000
    for i, displaced in enumerate([True, True, False, True, True]):
        send(publisher, "manhole", "mh-c-1", ts=t0 + i * 1000, displaced=displaced, tilt=3.0)
    wait_for(lambda: counter(redis_client, "alarms:raised") == 2, message="raised, cleared, raised again")
    case = wait_for(lambda: case_store.all() and case_store.all()[0], message="the case")
    assert (case.class_code, case.device_id, case.source, case.filed_by) == ("10101", "mh-c-1", "sensor", "sensor")
    assert case.district == "yangshe" and case.report_id.startswith("alarm:mh-c-1|manhole_displaced:")
    wait_for(lambda: redis_client.xpending(keys.ALARMS_EVENTS, "ioc-cases")["pending"] == 0
             and redis_client.xinfo_groups(keys.ALARMS_EVENTS)[0]["last-delivered-id"] == redis_client.xrevrange(keys.ALARMS_EVENTS, count=1)[0][0],
             message="every alarm event consumed")
    assert len(case_store.all()) == 1 and counter(redis_client, "cases:from_alarms") == 1


def test_an_alarm_of_a_device_whose_address_is_too_long_for_a_case_still_opens_its_case(
        ingest, publisher, case_settings, city, redis_client):
    payload = {"state": "online", "lat": YANGSHE[0], "lon": YANGSHE[1], "name": "杨舍 井盖 9", "address": "人民路" * 70}
    publisher.publish("ioc/v1/manhole/mh-long/status", orjson.dumps(payload), qos=1, retain=True).wait_for_publish(5)
    wait_for(lambda: counter(redis_client, "messages:accepted") == 1, message="birth")
    worker = CaseWorker(case_settings, redis_client, city)  # not started: its alarm intake called directly
    case = worker.alarm_case({"id": "mh-long|manhole_displaced", "rule_id": "manhole_displaced", "device_id": "mh-long",
                              "raised_at": int(time.time() * 1000)})
    assert case is not None and (case.device_id, case.class_code, case.address) == ("mh-long", "10101", "杨舍 井盖 9（mh-long）")


def test_a_case_from_a_sensor_alarm_describes_it_in_words(ingest, cases, publisher, case_store, redis_client):
    birth(publisher, "manhole", "mh-c-2", (YANGSHE[1], YANGSHE[0]), "杨舍 井盖 2")
    wait_for(lambda: counter(redis_client, "messages:accepted") == 1, message="birth")
    t0 = int(time.time() * 1000) - 60_000
    for i in range(2):
        send(publisher, "manhole", "mh-c-2", ts=t0 + i * 1000, displaced=True, tilt=3.0)
    case = wait_for(lambda: case_store.all() and case_store.all()[0], message="the case")
    assert case.description == "井盖移位：杨舍 井盖 2（mh-c-2）"
    assert case.address == "杨舍 井盖 2（mh-c-2）"  # registered without an address: where the device is


def test_an_overdue_case_raises_an_alarm_that_clears_when_the_case_moves_on(cases, case_service, case_store, redis_client, city):
    two_hours_ago = int(time.time() * 1000) - 2 * 3_600_000
    case, _ = case_service.report(class_code="10101", lat=YANGSHE[0], lon=YANGSHE[1], source="hotline", actor="hotline",
                             now_ms=two_hours_ago)  # urgent: 15 calendar minutes to accept
    alarm_id = overdue_alarm_id(case.id)
    alarm = wait_for(lambda: (raw := redis_client.hget(keys.ALARMS_ACTIVE, alarm_id)) and orjson.loads(raw), message="overdue alarm")
    assert alarm["device_id"] == case.id and alarm["kind"] == "case" and alarm["rule_id"] == "case_overdue"
    assert alarm["severity"] == "major" and alarm["district"] == "yangshe" and alarm["attribute"] == "stage"
    assert alarm["value"] == "reported" and alarm["threshold"] == case.stage_deadline
    assert alarm["name_zh"] == "案件超期：井盖丢失" and alarm["name_en"] == "Case overdue: Manhole cover missing"
    events = [orjson.loads(f[b"alarm"]) | {"event": f[b"event"].decode()} for _i, f in redis_client.xrange(keys.ALARMS_EVENTS)]
    assert [(e["event"], e["id"]) for e in events] == [("raised", alarm_id)]
    time.sleep(1.5)  # another scan or two: still one alarm, one event
    assert redis_client.xlen(keys.ALARMS_EVENTS) == 1 and counter(redis_client, "cases:overdue_raised") == 1

    # the big screen copes with an alarm whose "device" is a case, not a registered device
    active = AlarmStore(redis_client).active()
    now = int(time.time() * 1000)
    assert bigscreen.alarms_geojson(active, [])["features"] == []
    assert bigscreen.alarm_board(active, [], city, now, EscalationPolicy.from_minutes(5, 15, 0))[0]["device"] == case.id
    assert bigscreen.ticker([events[0]], city)[0]["rule"] == "案件超期：井盖丢失"
    assert bigscreen.popup_alarm(active, []) is None and bigscreen.grid_values(active, []) == {}

    case_service.act(case.id, "accept", DISPATCHER)  # a new stage with a deadline ahead
    wait_for(lambda: not redis_client.hexists(keys.ALARMS_ACTIVE, alarm_id), message="the alarm cleared")
    last = redis_client.xrevrange(keys.ALARMS_EVENTS, count=1)[0][1]
    assert last[b"event"] == b"cleared" and orjson.loads(last[b"alarm"])["value"] == "accepted"
    wait_for(lambda: counter(redis_client, "cases:overdue_cleared") >= 1, message="the clear counted")  # counted just after, not with it
    assert counter(redis_client, "cases:overdue_cleared") == 1


# ---- outages -------------------------------------------------------------------------------------

def test_reports_sent_while_the_worker_is_down_arrive_when_it_is_back(start_cases, publisher, case_store, redis_client):
    first = start_cases()
    first.stop()
    for i in range(3):
        publish(publisher, "ioc/v1/reports/hotline", a_report(f"offline-{i}"))
    assert case_store.all() == []
    start_cases()
    wait_for(lambda: len(case_store.all()) == 3, message="the queued reports")
    assert {c.report_id for c in case_store.all()} == {"offline-0", "offline-1", "offline-2"}


@pytest.fixture
def private_redis(tmp_path):
    from ioc.adapters.embedded import redis_server

    server = redis_server(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.mark.slow
def test_the_worker_rides_out_redis_and_broker_restarts(case_settings, city, private_redis, broker_proc, publisher, caplog):
    caplog.set_level(logging.INFO)
    settings = case_settings.replace(redis_url=private_redis.url)
    running = RunningWorker(CaseWorker(settings, connect_redis(private_redis.url), city)).start()
    client = connect_redis(private_redis.url)
    case_store = CaseStore(client)
    try:
        wait_for(lambda: client.hlen(keys.WORKERS), message="a heartbeat")
        private_redis.kill()
        publish(publisher, "ioc/v1/reports/hotline", a_report("while-redis-down"))
        wait_for(lambda: any("intake: Redis unavailable" in r.getMessage() for r in caplog.records), timeout=30,
                 message="the worker notices")
        time.sleep(2)  # several retries, one log line per job
        assert sum("intake: Redis unavailable" in r.getMessage() for r in caplog.records) == 1
        private_redis.start()
        wait_for(lambda: _quiet(lambda: case_store.by_report("while-redis-down")), timeout=30, message="the report stored after the restart")
        acked = running.subacks.count
        broker_proc.restart()
        wait_for(lambda: running.worker.client.is_connected() and publisher.is_connected(), timeout=30, message="both reconnected")
        running.subacks.wait(acked + 1)  # subscribed again
        publish(publisher, "ioc/v1/reports/hotline", a_report("after-broker-restart"))
        wait_for(lambda: case_store.by_report("after-broker-restart"), timeout=30, message="a report after the broker restart")
        assert any("intake: Redis is reachable again" in r.getMessage() for r in caplog.records)
    finally:
        running.stop()
        client.close()


def _quiet(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - Redis still loading
        return None
