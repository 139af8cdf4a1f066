"""Fault: the MQTT broker restarts in the middle of the stream.

Real processes on a private Redis and Mosquitto: `python -m ioc ingest`, `python -m ioc cases`
and `python -m simulators` (the product's own publisher). The broker is stopped and started
again on the same port and data folder while the simulators publish.
"""

from __future__ import annotations

import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.case_store import CaseStore
from ioc.casework.service import CaseService
from ioc.domain.access import Principal
from tests.conftest import wait_for
from tests.resilience.conftest import counter, quiet

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DISPATCHER = Principal("fault-dispatcher", frozenset({"dispatcher"}))
INSPECTOR = Principal("fault-inspector", frozenset({"inspector"}))
AT = (31.872, 120.556)  # (lat, lon) in 杨舍镇
DEPARTMENT = "water_affairs"  # where a missing manhole cover (10101) in Yangshe is dispatched


def report(report_id: str) -> bytes:
    return orjson.dumps({"report_id": report_id, "category": "10101", "lat": AT[0], "lon": AT[1],
                         "description": "井盖不见了", "reported_at": int(time.time() * 1000)})


def update(case_id: str, action: str) -> bytes:
    return orjson.dumps({"case_id": case_id, "action": action, "note": "已处理" if action == "handled" else "",
                         "ts": int(time.time() * 1000)})


def test_broker_restart_mid_stream_loses_no_qos1_report_or_update_and_doubles_none(stack, spawn, mqtt, city):
    """The broker restarts while the simulators publish and while the case worker is away.

    * the simulators and the ingest worker reconnect by themselves (no restart of either):
      readings keep being accepted after the restart, and both say so in their logs;
    * QoS 1 reports and department updates published while the case worker was away — before
      the broker restart, while the broker itself was down (the publisher's client holds them
      and sends them when it is back), and after it — are all delivered once the case worker
      returns: the case worker keeps a persistent session (clean_session=False and a stable
      IOC_CASES_CLIENT_ID) and the embedded Mosquitto keeps sessions and queued messages across
      its own restart (persistence on, written at shutdown);
    * none is lost and none doubled: one case per report id (a report sent twice on purpose
      included), every update applied exactly once (a timeline without repeats), no dead letter.
    """
    redis = stack.client()
    store = CaseStore(redis)
    service = CaseService.from_settings(redis, city, stack.settings())
    cases_env = {"IOC_CASES_CLIENT_ID": "fault-cases-broker", "IOC_CASES_SCAN_S": "3600"}

    ingest = spawn("ingest", IOC_INGEST_CLIENT_ID="fault-ingest-broker")
    cases = spawn("cases", **cases_env)  # connects once: the broker now holds its persistent session
    sims = spawn("simulators", wait=False, args=["--devices", "40", "--rate", "80", "--connections", "1",
                                                  "--no-casework", "--fault-rate", "0"])
    wait_for(lambda: counter(redis, "messages:accepted") > 60, timeout=30, message="the simulators' readings")

    # department tasks the updates below answer
    dispatched = []
    for i in range(5):
        case, _ = service.report(class_code="10101", lat=AT[0], lon=AT[1], source="hotline", actor="hotline",
                                 report_id=f"seed-{i}")
        service.act(case.id, "accept", DISPATCHER)
        service.act(case.id, "verify", INSPECTOR)
        dispatched.append(service.act(case.id, "dispatch", DISPATCHER, department=DEPARTMENT).id)

    pub = mqtt()
    sent = []

    def send(topic: str, payload: bytes):
        sent.append(pub.publish(topic, payload, qos=1))

    for i in range(10):  # the worker is up: these make cases at once
        send("ioc/v1/reports/hotline", report(f"up-{i}"))
    wait_for(lambda: len(store.all()) == 15, message="the first ten reports")

    cases.terminate()  # away (a clean stop: its session stays at the broker)
    for i in range(10):
        send("ioc/v1/reports/inspector", report(f"away-{i}"))
    send("ioc/v1/reports/inspector", report("away-3"))  # the same report twice: still one case
    for case_id in dispatched:
        send(f"ioc/v1/departments/{DEPARTMENT}/updates", update(case_id, "acknowledge"))
    for info in sent:
        info.wait_for_publish(10)

    accepted_before = counter(redis, "messages:accepted")
    stack.broker.stop()
    for i in range(5):  # the broker is down: the publisher's client keeps these and sends them later
        send("ioc/v1/reports/camera", report(f"down-{i}"))
    time.sleep(1.0)
    stack.broker.start()

    # PUBACKed by the restarted broker (paho's `wait_for_publish` refuses a message first tried
    # while disconnected, though the client keeps it and sends it on reconnection)
    wait_for(lambda: all(info._published for info in sent), timeout=30, message="every QoS 1 message acknowledged")
    for case_id in dispatched:
        send(f"ioc/v1/departments/{DEPARTMENT}/updates", update(case_id, "handled"))
    for i in range(5):
        send("ioc/v1/reports/hotline", report(f"after-{i}"))
    wait_for(lambda: all(info._published for info in sent), timeout=10, message="every QoS 1 message acknowledged")

    # publishers and ingest reconnected by themselves: readings flow again
    wait_for(lambda: counter(redis, "messages:accepted") > accepted_before + 80, timeout=40,
             message="readings accepted after the broker restart")
    assert ingest.alive and sims.alive
    assert "ingest: reconnected to broker" in ingest.log()
    assert "reconnected to broker" in sims.log()
    assert len(store.all()) == 15, "no report was taken while the case worker was away"

    spawn("cases", **cases_env)  # the same client id: the broker hands over what it kept
    expected_reports = {f"seed-{i}" for i in range(5)} | {f"up-{i}" for i in range(10)} | {f"away-{i}" for i in range(10)} \
        | {f"down-{i}" for i in range(5)} | {f"after-{i}" for i in range(5)}
    wait_for(lambda: {c.report_id for c in store.all()} == expected_reports, timeout=30,
             message=f"all {len(expected_reports)} reports as cases (have {len(quiet(store.all, []))})")
    wait_for(lambda: all(store.get(c).stage == "handled" for c in dispatched), timeout=30, message="every update applied")
    time.sleep(1.0)  # anything doubled would show up now

    all_cases = store.all()
    assert len(all_cases) == len(expected_reports)  # one case per report id, none doubled
    for case_id in dispatched:
        timeline = [e.action for e in store.timeline(case_id)]
        assert timeline == ["report", "accept", "verify", "dispatch", "acknowledge", "handle"], timeline
        case = store.get(case_id)
        assert case.version == len(timeline) and case.acknowledged_at
    assert redis.xlen(keys.DEADLETTER) == 0, [f for _i, f in redis.xrange(keys.DEADLETTER)]
    assert counter(redis, "cases:updates") == 2 * len(dispatched)
