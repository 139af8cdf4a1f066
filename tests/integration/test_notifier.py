"""The notifier against real Redis and the local provider receivers (the real channel clients):
the intents written with their changes reach the right people, grouped, held, silenced, retried,
de-duplicated; and a notifier killed -9 mid-burst loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters.notify_store import NotifyStore
from ioc.adapters.roster_store import RosterStore
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.demo_roster import demo_roster
from ioc.domain.access import Principal
from ioc.domain.alarms import Alarm
from ioc.domain.clock import local_time
from ioc.domain.departments import all_departments
from ioc.domain.notifications import Intent, intent_fields
from ioc.domain.roster import on_duty as duty
from ioc.domain.notify_routing import BUILTIN_ROUTES, config_to_dict, RoutingConfig
from ioc.notify.receivers import start_receivers
from ioc.notify.worker import Notifier
from ioc.settings import REPO_ROOT
from tests.conftest import wait_for

DISPATCHER = Principal(name="d1", roles=frozenset({"dispatcher"}))
LEADER = Principal(name="l1", roles=frozenset({"leader"}))
DEPT = "urban_management"  # its demo group is a WeCom robot (the rotation's first)


@pytest.fixture
def receivers():
    handle = start_receivers(limits=False, open_keys=True)
    yield handle
    handle.stop()


@pytest.fixture
def roster(redis_client, city):
    r = demo_roster(all_departments(city), int(time.time() * 1000))
    RosterStore(redis_client).put(r, "test")
    return r


@pytest.fixture
def notify_settings(settings, receivers):
    u = receivers.urls
    return settings.replace(notify_wecom_url=u["IOC_NOTIFY_WECOM_URL"], notify_dingtalk_url=u["IOC_NOTIFY_DINGTALK_URL"],
                            notify_feishu_url=u["IOC_NOTIFY_FEISHU_URL"], notify_sms_url=u["IOC_NOTIFY_SMS_URL"],
                            notify_smtp_url=u["IOC_NOTIFY_SMTP_URL"], notify_backoff_s=0.05, notify_timeout_s=2)


@pytest.fixture
def notifier(notify_settings, redis_client, roster):
    return Notifier(notify_settings, redis_client, consumer="test-notify", lease_ms=2000)


def drain(notifier: Notifier, seconds: float = 0.5) -> None:
    """Step the notifier (intake, then due jobs) until nothing is left to do for `seconds`."""
    quiet_since = time.monotonic()
    deadline = time.monotonic() + 20
    while time.monotonic() - quiet_since < seconds and time.monotonic() < deadline:
        if notifier.intake_once(block_ms=None) + notifier.send_due_once():
            quiet_since = time.monotonic()
        else:
            time.sleep(0.02)


def group_of(roster, unit: str):
    return next(g for g in roster.groups if g.department == unit)


def arrived(receivers, target: str, since: int = 0) -> list[dict]:
    return [r for r in receivers.received(since) if r["target"] == target and r["accepted"]]


YANGSHE = (31.8759, 120.5535)


def new_case(case_service, class_code: str = "10101"):
    case, _ = case_service.report(class_code=class_code, lat=YANGSHE[0], lon=YANGSHE[1], source="hotline", actor="hotline")
    return case


def dispatched_case(case_service, department: str = DEPT):
    case = new_case(case_service)
    case = case_service.act(case.id, "accept", DISPATCHER)
    case = case_service.act(case.id, "verify", Principal(name="i1", roles=frozenset({"inspector"})))
    return case_service.act(case.id, "dispatch", DISPATCHER, department=department)


def put_routes(redis_client, routes=BUILTIN_ROUTES, quiet=None):
    config = config_to_dict(RoutingConfig(tuple(routes)))
    if quiet is not None:
        config["quiet_hours"] = quiet
    NotifyStore(redis_client).put_routes(config, "admin")


def with_route(route_id: str, **changes):
    from dataclasses import replace

    return [replace(r, **changes) if r.id == route_id else r for r in BUILTIN_ROUTES]


# ---- who hears of what ------------------------------------------------------------------------------

def test_a_dispatch_reaches_the_departments_group_with_the_case_on_its_timeline(notifier, case_service, receivers, roster,
                                                                                 redis_client):
    case = dispatched_case(case_service)
    drain(notifier)
    group = group_of(roster, DEPT)
    got = arrived(receivers, group.key)
    assert len(got) == 1 and case.id in got[0]["text"] and "案件派遣" in got[0]["text"]
    steps = [e for e in case_service.store.timeline(case.id) if e.action == "notify"]
    assert [(e.detail["channel"], e.detail["recipient"], e.detail["kind"]) for e in steps] == \
        [("wecom", group.name, "case.dispatched")]
    assert group.key not in orjson.dumps([e.detail for e in steps]).decode()  # the name, never the key


def test_an_overdue_case_reaches_the_department_and_the_dispatch_desk(notifier, case_service, receivers, roster, redis_client,
                                                                       case_settings, city):
    from ioc.casework.worker import CaseWorker

    case = dispatched_case(case_service)
    drain(notifier)
    since = int(time.time() * 1000)
    worker = CaseWorker(case_settings, redis_client, city)
    assert worker.scan_overdue(case.stage_deadline + 60_000) == (1, 0)
    drain(notifier)
    for unit in (DEPT, "dispatch"):
        got = arrived(receivers, group_of(roster, unit).key, since)
        assert len(got) == 1 and "案件超期" in got[0]["text"], unit


def critical_alarm(raised_at: int) -> Alarm:
    return Alarm(id="WL-0001|water_level_critical", device_id="WL-0001", kind="water_level", rule_id="water_level_critical",
                 severity="critical", district="", attribute="level", value=4.2, threshold=4.0, raised_at=raised_at,
                 name_zh="水位超警戒", name_en="Water level critical")


def test_an_escalated_critical_alarm_texts_the_center_duty_once(notifier, redis_client, receivers, roster, case_settings, city):
    from ioc.casework.worker import CaseWorker

    now = int(time.time() * 1000)
    AlarmStore(redis_client).raise_alarm(critical_alarm(now - 10 * 60_000))
    worker = CaseWorker(case_settings, redis_client, city)
    assert worker.scan_escalations(now) == 1
    assert CaseWorker(case_settings, redis_client, city).scan_escalations(now + 1000) == 0  # once per raise, any worker
    drain(notifier)
    on_duty = [c for _shift, c in duty(roster, "center", now) if "sms" in c.channels]
    sms = [r for r in receivers.received(0, "sms") if r["accepted"]]
    assert sorted(r["target"] for r in sms) == sorted(c.phone for c in on_duty)
    assert all("告警升级" in r["text"] for r in sms)
    events = [orjson.loads(f[b"alarm"]) for _i, f in redis_client.xrange(keys.ALARMS_EVENTS) if f[b"event"] == b"notified"]
    assert {e["channel"] for e in events} == {"sms"} and len(events) == len(on_duty)
    assert [e["event"] for e in SnapshotStore(redis_client, 8).alarm_events()] == ["raised"]  # the wall's ticker: transitions only


def event_service_for(redis_client, city, settings):
    from ioc.events.service import EventService

    return EventService.from_settings(redis_client, city, settings)


def test_an_events_tasks_reach_each_department_and_an_instruction_the_leads(notifier, redis_client, receivers, roster, city,
                                                                           notify_settings):
    events = event_service_for(redis_client, city, notify_settings)
    plan = next(iter(events.plans.values()))
    level = plan.level_ids[0]
    event = events.start(DISPATCHER, plan=plan.id, level=level, district=city.districts[0].id)
    drain(notifier)
    for task in event.tasks:
        got = arrived(receivers, group_of(roster, task.department).key)
        assert any("联动任务" in r["text"] for r in got), task.department
    since = int(time.time() * 1000)
    events.instruct(event.id, LEADER, text="立即组织排涝")
    drain(notifier)
    lead = group_of(roster, event.lead.department)
    assert [r for r in arrived(receivers, lead.key, since) if "立即组织排涝" in r["text"]]
    others = [t.department for t in event.tasks if t.role != "lead"]
    assert all(not arrived(receivers, group_of(roster, d).key, since) for d in others)


# ---- grouping, repeats, quiet hours, silences ----------------------------------------------------------

def test_a_burst_for_one_group_is_one_message_then_one_grouped_message(notifier, case_service, receivers, roster, redis_client):
    put_routes(redis_client, with_route("dispatch", group_window_s=1))
    cases = [dispatched_case(case_service) for _ in range(4)]
    drain(notifier, 1.5)
    got = arrived(receivers, group_of(roster, DEPT).key)
    assert len(got) == 2
    assert cases[0].id in got[0]["text"] and "3 条新通知" in got[1]["text"]
    assert all(c.id in got[1]["text"] for c in cases[1:])
    results = [r["result"] for r in NotifyStore(redis_client).log()]
    assert results.count("grouped") == 3 and results.count("sent") == 4


def test_an_unacknowledged_escalation_is_repeated_and_stops_once_acknowledged(notifier, redis_client, receivers, roster,
                                                                             case_settings, city):
    from ioc.casework.worker import CaseWorker

    now = int(time.time() * 1000)
    alarms = AlarmStore(redis_client)
    alarm = critical_alarm(now - 10 * 60_000)
    alarms.raise_alarm(alarm)
    CaseWorker(case_settings, redis_client, city).scan_escalations(now)
    drain(notifier)
    first = len(receivers.received(0, "sms"))
    repeats = [k.decode() for k in redis_client.zrange(keys.NOTIFY_PENDING, 0, -1) if b"~r1" in k]
    assert len(repeats) == first  # a reminder per phone, due in 30 minutes
    redis_client.zadd(keys.NOTIFY_PENDING, {k: 0 for k in repeats})  # (time passes)
    drain(notifier)
    assert len(receivers.received(0, "sms")) == 2 * first
    alarms.acknowledge(alarm.id, "op", "operator", int(time.time() * 1000))
    repeats = [k.decode() for k in redis_client.zrange(keys.NOTIFY_PENDING, 0, -1) if b"~r2" in k]
    redis_client.zadd(keys.NOTIFY_PENDING, {k: 0 for k in repeats})
    drain(notifier)
    assert len(receivers.received(0, "sms")) == 2 * first
    assert redis_client.zcard(keys.NOTIFY_PENDING) == 0


def quiet_now() -> dict:
    now = local_time(time.time() * 1000)
    return {"start": (now - timedelta(hours=1)).strftime("%H:%M"), "end": (now + timedelta(hours=1)).strftime("%H:%M")}


def test_quiet_hours_hold_a_dispatch_until_they_end(notifier, case_service, receivers, roster, redis_client):
    put_routes(redis_client, quiet=quiet_now())
    case = dispatched_case(case_service)
    drain(notifier)
    assert arrived(receivers, group_of(roster, DEPT).key) == []
    assert [r["result"] for r in NotifyStore(redis_client).for_subject(f"case:{case.id}")] == ["held"]
    due = redis_client.zscore(keys.NOTIFY_PENDING, next(k for k in redis_client.zrange(keys.NOTIFY_PENDING, 0, -1)
                                                        if not k.startswith(b"g:")))
    assert due > time.time() * 1000 + 30 * 60_000  # when the quiet hours end
    redis_client.zadd(keys.NOTIFY_PENDING, {k: 0 for k in redis_client.zrange(keys.NOTIFY_PENDING, 0, -1)})
    drain(notifier)
    assert len(arrived(receivers, group_of(roster, DEPT).key)) == 1


def test_quiet_hours_let_a_critical_escalation_through(notifier, redis_client, receivers, roster, case_settings, city):
    from ioc.casework.worker import CaseWorker

    put_routes(redis_client, quiet=quiet_now())
    now = int(time.time() * 1000)
    AlarmStore(redis_client).raise_alarm(critical_alarm(now - 10 * 60_000))
    CaseWorker(case_settings, redis_client, city).scan_escalations(now)
    drain(notifier)
    assert receivers.received(0, "sms")


def test_a_silence_suppresses_and_records_the_delivery_as_silenced(notifier, case_service, receivers, roster, redis_client):
    store = NotifyStore(redis_client)
    store.add_silence({"matchers": {"department": DEPT}, "ends_at": int(time.time() * 1000) + 3_600_000,
                       "comment": "系统维护"}, "admin")
    case = dispatched_case(case_service)
    drain(notifier)
    assert arrived(receivers, group_of(roster, DEPT).key) == []
    assert [r["result"] for r in store.for_subject(f"case:{case.id}")] == ["silenced"]
    assert [v["status"] for v in map(orjson.loads, redis_client.hvals(keys.NOTIFY_SENT))] == ["silenced"]


# ---- failures, retries, dedupe ---------------------------------------------------------------------------

def test_a_rate_limited_delivery_is_retried_then_sent(notifier, case_service, receivers, roster, redis_client):
    group = group_of(roster, DEPT)
    receivers.inject("wecom", group.key, "rate_limit", times=2)
    case = dispatched_case(case_service)
    for _ in range(3):
        drain(notifier)
        due = [(k, d) for k, d in redis_client.zrange(keys.NOTIFY_PENDING, 0, -1, withscores=True) if not k.startswith(b"g:")]
        if not due:
            break
        assert due[0][1] >= time.time() * 1000 + 50_000  # WeCom's limit is per minute: its retry_after, not our 0.05 s
        redis_client.zadd(keys.NOTIFY_PENDING, {due[0][0]: 0})  # (a minute passes)
    assert len(arrived(receivers, group.key)) == 1
    rows = NotifyStore(redis_client).for_subject(f"case:{case.id}")
    assert [(r["result"], r["attempt"]) for r in rows] == [("retry", 1), ("retry", 2), ("sent", 3)]
    assert [e.detail["attempt"] for e in case_service.store.timeline(case.id) if e.action == "notify"] == [3]


def test_a_bad_key_fails_once_and_a_redelivered_intent_is_not_sent_again(notifier, case_service, receivers, roster,
                                                                          redis_client):
    group = group_of(roster, DEPT)
    receivers.inject("wecom", group.key, "bad_key")
    case = dispatched_case(case_service)
    drain(notifier)
    failed = [e for e in case_service.store.timeline(case.id) if e.action == "notify_failed"]
    assert len(failed) == 1 and failed[0].detail["attempt"] == 1 and failed[0].detail["reason"]
    receivers.clear_injections()
    entry = redis_client.xrange(keys.NOTIFY_OUTBOX)[-1][1]
    redis_client.xadd(keys.NOTIFY_OUTBOX, entry)  # the same intent again (a redelivery)
    drain(notifier)
    assert arrived(receivers, group.key) == []
    assert len([e for e in case_service.store.timeline(case.id) if e.action.startswith("notify")]) == 1


def test_an_intent_delivered_twice_is_sent_once(notifier, receivers, roster, redis_client):
    intent = Intent("case.dispatched", "case:ZJG-TEST", "7", int(time.time() * 1000), "info", (DEPT,), "", {"case_id": "ZJG-TEST"})
    NotifyStore(redis_client).add_intent(intent)
    drain(notifier)
    NotifyStore(redis_client).add_intent(intent)
    redis_client.xadd(keys.NOTIFY_OUTBOX, intent_fields(intent))
    drain(notifier)
    assert len(arrived(receivers, group_of(roster, DEPT).key)) == 1


# ---- kill -9 -----------------------------------------------------------------------------------------------

def test_a_notifier_killed_mid_burst_loses_nothing(notify_settings, receivers, roster, redis_client, tmp_path):
    """200 intents to 40 recipients; the notifier process is killed -9 twice while sending and
    started again. Every delivery arrives; a duplicate only for one in flight at a kill."""
    groups = [g for g in roster.groups if g.channel in ("wecom", "dingtalk", "feishu")][:10]
    store = NotifyStore(redis_client)
    put_routes(redis_client, [r for r in BUILTIN_ROUTES if r.id not in ("dispatch", "test")] +
               [BUILTIN_ROUTES[0].__class__("burst", "burst", ("test",), tuple(f"group:{g.id}" for g in groups), group_window_s=0,
                                            quiet=False)])
    now = int(time.time() * 1000)
    for n in range(200):
        store.add_intent(Intent("test", f"test:K{n:04d}", "1", now, "info", (), "", {"text": f"burst {n}"}))
    env = dict(os.environ, REDIS_URL=notify_settings.redis_url, IOC_NOTIFY_WECOM_URL=receivers.urls["IOC_NOTIFY_WECOM_URL"],
               IOC_NOTIFY_DINGTALK_URL=receivers.urls["IOC_NOTIFY_DINGTALK_URL"],
               IOC_NOTIFY_FEISHU_URL=receivers.urls["IOC_NOTIFY_FEISHU_URL"], IOC_NOTIFY_BACKOFF_S="0.05",
               IOC_DATA_DIR=str(tmp_path))

    def start():
        return subprocess.Popen([sys.executable, "-m", "ioc", "notify"], cwd=REPO_ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=open(tmp_path / "notify.log", "ab"))

    expected = 200 * len(groups)
    killed_in_flight = 0
    for kill_after in (300, 900):
        proc = start()
        try:
            wait_for(lambda: len(receivers.received()) >= kill_after, timeout=60, message=f"{kill_after} deliveries")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        killed_in_flight += 8  # at most the notifier's threads were between a send and its record
    proc = start()
    try:
        wait_for(lambda: len({(r["target"], r["text"]) for r in receivers.received()}) >= expected, timeout=120,
                 message="every delivery")
        wait_for(lambda: redis_client.zcard(keys.NOTIFY_PENDING) == 0, timeout=60, message="no job left")
    finally:
        proc.terminate()
        proc.wait(15)
    got = [(r["target"], r["text"]) for r in receivers.received() if r["accepted"]]
    print(f"kill -9 twice: {len(got)} messages for {expected} deliveries ({len(got) - expected} duplicates)")
    assert len(set(got)) == expected
    assert len(got) - expected <= killed_in_flight
    assert redis_client.hlen(keys.NOTIFY_SENT) == expected
    assert all(orjson.loads(v)["status"] == "sent" for v in redis_client.hvals(keys.NOTIFY_SENT))


def test_a_test_message_goes_to_the_named_recipient_only_and_the_log_keeps_its_text(notifier, receivers, roster, redis_client):
    group = group_of(roster, "water_affairs")
    NotifyStore(redis_client).add_intent(Intent("test", "test:abc", "1", int(time.time() * 1000), "info", (), "",
                                                {"text": "测试消息", "target": f"group:{group.id}"}))
    drain(notifier)
    assert [r["target"] for r in receivers.received() if r["accepted"]] == [group.key]
    row = NotifyStore(redis_client).for_subject("test:abc")[-1]
    assert (row["result"], row["name"], row["text"]) == ("sent", group.name, "测试消息")
