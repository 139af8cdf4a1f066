"""Fault: Redis crashes and comes back (AOF `everysec`), under running processes.

Real processes on a private Redis and Mosquitto: `python -m ioc ingest`, `python -m ioc cases`
and `python -m ioc web` (gunicorn, one worker). Redis is killed with SIGKILL (a crash, not a
clean shutdown) and started again on the same port and data folder.
"""

from __future__ import annotations

import time

import orjson
import pytest
import requests
from dash._utils import split_callback_id

from ioc.adapters import redis_keys as keys
from ioc.adapters import case_store
from ioc.adapters.case_store import CaseStore
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.adapters.user_store import Actor
from ioc.casework.service import CaseService
from ioc.domain.access import Principal
from ioc.web.services import user_store
from tests.conftest import TEST_PASSWORD, add_test_user, wait_for
from tests.resilience.conftest import birth, counter, quiet

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DISPATCHER = Principal("fault-dispatcher", frozenset({"dispatcher"}))
AT = (31.872, 120.556)  # (lat, lon) in 杨舍镇
UNAVAILABLE_EN = "Data source unavailable"


def http() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def sign_in(base: str, name: str) -> requests.Session:
    s = http()
    r = s.post(base + "/login", data={"name": name, "password": TEST_PASSWORD}, allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    return s


def heartbeat_body(session: requests.Session, base: str) -> dict:
    """The frame's 2-second heartbeat callback (clock, freshness dot, "data unavailable" banner)
    as the browser posts it, built from the app's own dependency list."""
    deps = session.get(base + "/_dash-dependencies", timeout=10).json()
    dep = next(d for d in deps if "banner.children" in d["output"])
    states = {("freshness", "data"): None, ("lang", "data"): "en"}
    return {
        "output": dep["output"], "outputs": split_callback_id(dep["output"]),
        "inputs": [{"id": "tick", "property": "n_intervals", "value": 1}],
        "state": [{"id": s["id"], "property": s["property"], "value": states.get((s["id"], s["property"]))} for s in dep["state"]],
        "changedPropIds": ["tick.n_intervals"],
    }


def no_traceback(response: requests.Response) -> None:
    assert "Traceback" not in response.text and 'File "' not in response.text, response.text[:1000]


def snapshot_of(client) -> dict:
    """Everything that must survive: users, tokens, cases with their timelines, alarms."""
    cases = CaseStore(client)
    return {
        "users": client.hgetall(keys.USERS),
        "tokens": client.hgetall(keys.TOKENS),
        "cases": {c.id: c for c in cases.all()},
        "timelines": {c.id: cases.timeline(c.id) for c in cases.all()},
        "alarms": client.hgetall(keys.ALARMS_ACTIVE),
        "reports": client.hgetall(case_store.REPORTS),
    }


def test_redis_crash_keeps_every_record_and_the_processes_recover_by_themselves(stack, spawn, mqtt, city):
    """Redis is SIGKILLed (after the one-second AOF fsync window) and restarted.

    Afterwards cases, timelines, users, tokens and alarms are all there, byte for byte; the same
    ingest, case and web processes (same pids, never restarted) carry on: the reading and the
    report sent while Redis was down are stored, the portal is healthy again and the session
    signed in before the crash still works.

    While Redis is down the web shows a clear "data source unavailable" state, never a stack
    trace: `/healthz` answers 503 JSON naming Redis; `/metrics` 503; a signed-in page's
    heartbeat callback answers 200 with the "data source unavailable" banner; the JSON API
    answers 503 JSON for a session and for a bearer token; a page is either the app (for a
    session the process saw in the last minutes) or the "unavailable" page, a sign-in attempt
    503 with the same message.
    """
    redis = stack.client()
    settings = stack.settings()
    users = user_store(redis, settings, city)
    name, _ = add_test_user(users, "dispatcher", name="fault-dispatcher")
    _token, bearer = users.create_token("fault platform", ["dispatcher"], Actor("test", "admin"))
    service = CaseService.from_settings(redis, city, settings)
    for i in range(3):
        case, _ = service.report(class_code="10101", lat=AT[0], lon=AT[1], source="hotline", actor="hotline", report_id=f"pre-{i}")
        service.act(case.id, "accept", DISPATCHER)

    ingest = spawn("ingest", IOC_INGEST_CLIENT_ID="fault-ingest-redis")
    cases = spawn("cases", IOC_CASES_CLIENT_ID="fault-cases-redis", IOC_CASES_SCAN_S="3600")
    web = spawn("web", IOC_SECRET_KEY="fault-secret-key-" + "x" * 32, IOC_LANG="en")
    pub = mqtt()
    birth(pub, "water_level", "wl-f-1", name="杨舍 水位 1")
    now = int(time.time() * 1000)
    for i, level in enumerate((4.5, 4.6)):  # two breaching samples: the water_level_warning alarm
        pub.publish("ioc/v1/water_level/wl-f-1/telemetry", orjson.dumps({"ts": now - 10_000 + i, "waterLevel": level}), qos=1).wait_for_publish(5)
    wait_for(lambda: redis.hexists(keys.ALARMS_ACTIVE, "wl-f-1|water_level_warning"), message="the alarm")

    session = sign_in(web.base, name)
    body = heartbeat_body(session, web.base)
    r = session.post(web.base + "/_dash-update-component", json=body, timeout=10)
    assert r.status_code == 200 and UNAVAILABLE_EN not in r.text
    assert session.get(web.base + "/api/v1/cases", timeout=10).status_code == 200
    pids = (ingest.pid, cases.pid, web.pid)

    time.sleep(1.5)  # appendfsync everysec: what was written a second ago is on disk
    before = snapshot_of(redis)
    assert len(before["cases"]) == 3 and len(before["timelines"]) == 3 and before["alarms"] and before["users"]

    stack.redis.kill()
    # -- while Redis is down -----------------------------------------------------------------
    r = http().get(web.base + "/healthz", timeout=10)
    assert r.status_code == 503 and r.headers["Content-Type"].startswith("application/json")
    assert r.json()["status"] == "unavailable" and r.json()["checks"]["redis"]["ok"] is False
    assert r.json()["checks"]["mqtt"]["ok"] is True
    no_traceback(r)

    r = http().get(web.base + "/metrics", timeout=10)
    assert r.status_code == 503
    no_traceback(r)

    r = session.post(web.base + "/_dash-update-component", json=body, timeout=10)
    assert r.status_code == 200, r.text[:500]
    banner = r.json()["response"]["banner"]
    assert banner["children"].startswith(UNAVAILABLE_EN) and banner["className"] == "banner"
    no_traceback(r)

    for client, label in ((session, "session"), (http(), "bearer")):
        if label == "bearer":
            client.headers["Authorization"] = f"Bearer {bearer}"
        r = client.get(web.base + "/api/v1/cases", timeout=10)
        assert r.status_code == 503 and r.headers["Content-Type"].startswith("application/json"), (label, r.status_code, r.text[:300])
        assert r.json()["message"], r.json()
        assert r.json()["error"] == "unavailable", r.json()
        no_traceback(r)

    r = session.get(web.base + "/cases", timeout=10)
    assert r.status_code in (200, 503), r.status_code
    no_traceback(r)
    r = http().post(web.base + "/login", data={"name": name, "password": TEST_PASSWORD}, allow_redirects=False, timeout=10)
    assert r.status_code == 503 and UNAVAILABLE_EN in r.text
    no_traceback(r)

    # data sent during the outage: the processes hold it (4.15 m: inside the hysteresis band, the alarm stays)
    held_ts = int(time.time() * 1000)
    pub.publish("ioc/v1/water_level/wl-f-1/telemetry", orjson.dumps({"ts": held_ts, "waterLevel": 4.15}), qos=1).wait_for_publish(5)
    pub.publish("ioc/v1/reports/hotline", orjson.dumps({"report_id": "during-outage", "category": "10105", "lat": AT[0],
                                                        "lon": AT[1], "description": "路灯不亮"}), qos=1).wait_for_publish(5)
    ingest.wait_log("Redis unavailable")
    cases.wait_log("intake: Redis unavailable")
    time.sleep(1.0)

    stack.redis.start()
    # -- after --------------------------------------------------------------------------------
    store = CaseStore(redis)
    wait_for(lambda: quiet(lambda: store.by_report("during-outage")), timeout=30, message="the report held by the case worker")
    snapshot = SnapshotStore(redis, settings.redis_shards)
    wait_for(lambda: quiet(lambda: snapshot.device("wl-f-1")["latest"]["ts"] == held_ts), timeout=30,
             message="the reading held by the ingest")
    ingest.wait_log("Redis is reachable again")
    wait_for(lambda: quiet(lambda: http().get(web.base + "/healthz", timeout=5).status_code == 200), timeout=30,
             message="the portal healthy again")
    assert (ingest.pid, cases.pid, web.pid) == pids and ingest.alive and cases.alive and web.alive

    after = snapshot_of(redis)
    for family in ("users", "tokens", "alarms"):
        assert before[family]
        assert after[family] == before[family], family
    for case_id, case in before["cases"].items():
        assert after["cases"][case_id] == case
        assert after["timelines"][case_id] == before["timelines"][case_id]
    assert set(after["cases"]) == set(before["cases"]) | {store.by_report("during-outage").id}

    r = session.post(web.base + "/_dash-update-component", json=body, timeout=10)
    assert r.status_code == 200 and r.json()["response"]["banner"]["className"] == "banner hidden"
    assert session.get(web.base + "/api/v1/cases", timeout=10).json()["total"] == 4
    bearer_client = http()
    bearer_client.headers["Authorization"] = f"Bearer {bearer}"
    assert bearer_client.get(web.base + "/api/v1/cases", timeout=10).status_code == 200
    sign_in(web.base, name)  # the user (and its password hash) survived
    assert counter(redis, "messages:accepted") >= 4


def test_an_api_client_is_told_unavailable_not_forbidden_while_redis_is_down(stack, city):
    """A machine client whose bearer token cannot be checked because Redis is down gets 503
    with `"error": "unavailable"` (as the JSON API answers a signed-in session), not "forbidden"."""
    from ioc.web.app import create_app

    redis = stack.client()
    settings = stack.settings(secret_key="fault-secret-key-" + "x" * 32)
    users = user_store(redis, settings, city)
    _token, bearer = users.create_token("fault platform", ["dispatcher"], Actor("test", "admin"))
    client = create_app(settings).server.test_client()
    headers = {"Authorization": f"Bearer {bearer}"}
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    stack.redis.kill()
    r = client.get("/api/v1/cases", headers=headers)
    assert r.status_code == 503 and r.json["message"]
    assert r.json["error"] == "unavailable", r.json
