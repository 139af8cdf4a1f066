"""IOC on a 3-node Redis Cluster (started locally with `ioc.adapters.embedded.redis_cluster`):
`connect_redis` detects it, and every key family and script works there: the ingest pipeline
with two workers on a shared subscription (registry, latest state, rollups, alarms), alarm
acknowledge and clear, cases with timelines, outbox and audit entries, the case worker's
stream consumers, users, sessions and tokens, and the web app's health and API."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest
from redis.cluster import RedisCluster

from ioc.adapters import redis_keys as keys
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters.audit_log import AuditLog
from ioc.adapters.case_store import OUTBOX, CaseConflict, CaseStore, geo_key, timeline_key
from ioc.adapters.embedded import mqtt_broker, redis_cluster
from ioc.adapters.redis_client import DeferredRedis, connect_redis, is_cluster
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.adapters.user_store import Actor
from ioc.casework.service import CaseService
from ioc.domain.access import Principal
from ioc.ingest.worker import IngestWorker
from ioc.settings import Settings
from tests.conftest import RunningWorker, add_test_user, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

YANGSHE = (120.553, 31.870)  # lon, lat
DISPATCHER = Principal("li", frozenset({"dispatcher"}))
INSPECTOR = Principal("zhao", frozenset({"inspector"}))
HANDLER = Principal("h-water", frozenset({"handler"}), department="water_affairs")
ADMIN = Actor("root", "admin", "10.0.0.1")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    servers = redis_cluster(tmp_path_factory.mktemp("redis-cluster"), nodes=3)
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    server = mqtt_broker(tmp_path_factory.mktemp("mqtt-cluster")).start()
    yield server
    server.stop()


@pytest.fixture
def client(cluster):
    c = connect_redis(cluster.url)
    c.flushall()  # every primary
    yield c
    c.close()


@pytest.fixture
def cluster_settings(cluster, broker, tmp_path, client) -> Settings:
    return Settings.from_env(env={}, redis_url=cluster.url, mqtt_url=broker.url, data_dir=tmp_path,
                             ingest_client_id=f"test-ingest-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def mqtt_publisher(broker):
    from ioc.adapters.mqtt import connect, make_client

    c = make_client(broker.url, f"test-pub-{uuid.uuid4().hex[:8]}", name="test-publisher")
    connect(c)
    yield c
    c.disconnect()
    c.loop_stop()


def node_of(client: RedisCluster, key: str) -> str:
    return client.get_node_from_key(key).name


def publish(publisher, topic: str, body: dict, retain: bool = False) -> None:
    publisher.publish(topic, orjson.dumps(body), qos=1, retain=retain).wait_for_publish(5)


def counter(client, name: str) -> int:
    return int(client.hget(keys.METRICS, name) or 0)


# ---- the cluster and the client ------------------------------------------------------------------

def test_connect_redis_returns_a_cluster_client_from_any_node(cluster, client):
    assert isinstance(client, RedisCluster) and is_cluster(client)
    assert len(cluster.ports) == 3 and cluster.url == f"redis://127.0.0.1:{cluster.ports[0]}"
    for port in cluster.ports:
        other = connect_redis(f"redis://127.0.0.1:{port}")
        assert isinstance(other, RedisCluster)
        assert other.set(f"probe:{port}", "x") and client.get(f"probe:{port}") == b"x"
        other.close()
    assert {n.port for n in client.get_primaries()} == set(cluster.ports)


def test_the_control_plane_shares_one_slot_and_telemetry_spreads_over_the_nodes(client):
    core = [keys.ALARMS_ACTIVE, keys.ALARMS_ACKS, keys.ALARMS_EVENTS, keys.USERS, keys.TOKENS, keys.TOKEN_INDEX, keys.AUDIT,
            OUTBOX, timeline_key("ZJG-20261125-000001"), geo_key("10101"), keys.EVENTS_DATA, keys.EVENTS_VERSION,
            keys.EVENTS_ACTIVE, keys.EVENTS_SEQ, keys.EVENTS_OUTBOX, keys.EVENTS_REVISION, keys.EVENTS_CHANGED,
            keys.EVENTS_PROPOSALS, keys.EVENTS_DISMISSED, keys.RECORD, keys.NOTIFY_OUTBOX]
    assert len({client.keyslot(k) for k in core}) == 1
    shards = range(8)
    for shard in shards:  # every key of one shard's script on one slot
        family = (keys.latest, keys.latest_ts, keys.meta, keys.district, keys.state, keys.geo, keys.rules,
                  keys.registry_stream, keys.readings_stream)
        assert len({client.keyslot(f(shard)) for f in family}) == 1
    assert len({node_of(client, keys.latest(s)) for s in shards}) == 3


def test_an_unreachable_cluster_defers_the_choice_of_client(cluster):
    from ioc.adapters.embedded import free_port

    deferred = connect_redis(f"redis://127.0.0.1:{free_port()}")
    assert isinstance(deferred, DeferredRedis) and not is_cluster(deferred)
    deferred.url = cluster.url  # as if it came up at this address
    assert deferred.ping() and is_cluster(deferred)


# ---- ingest ------------------------------------------------------------------------------------

def test_two_ingest_workers_on_a_shared_subscription_fill_every_shard(cluster_settings, client, mqtt_publisher, city):
    workers = [RunningWorker(IngestWorker(cluster_settings.replace(ingest_group="ioc", ingest_client_id=f"ingest-{n}-{uuid.uuid4().hex[:6]}"),
                                          connect_redis(cluster_settings.redis_url), city)).start() for n in "ab"]
    try:
        devices = [f"wl-c-{i}" for i in range(24)]
        for i, dev in enumerate(devices):
            publish(mqtt_publisher, f"ioc/v1/water_level/{dev}/status",
                    {"state": "online", "lat": YANGSHE[1] + i * 1e-4, "lon": YANGSHE[0], "name": dev}, retain=True)
        wait_for(lambda: counter(client, "messages:accepted") >= len(devices), message="births")
        now = int(time.time() * 1000)
        minute_start = now - now % 60_000
        for step in range(5):
            for dev in devices:
                publish(mqtt_publisher, f"ioc/v1/water_level/{dev}/telemetry", {"ts": minute_start + 1000 + step, "waterLevel": 2.0})
        total = len(devices) * 6
        wait_for(lambda: counter(client, "messages:accepted") >= total, timeout=20, message="all readings")
        for i, value in enumerate((4.3, 4.35)):  # one at a time: the two workers may each take one
            publish(mqtt_publisher, "ioc/v1/water_level/wl-c-0/telemetry", {"ts": minute_start + 2000 + i, "waterLevel": value})
            total += 1
            wait_for(lambda: counter(client, "messages:accepted") >= total, message="breaching reading")
        assert counter(client, "messages:rejected") == 0
        assert all(w.worker.processed > 0 for w in workers)
        assert sum(w.worker.processed for w in workers) == total

        snapshot = SnapshotStore(client, cluster_settings.redis_shards)
        rows = snapshot.devices()
        assert [r.id for r in rows] == sorted(devices) and all(r.online and r.district == "yangshe" for r in rows)
        assert snapshot.device("wl-c-5")["latest"] == {"ts": minute_start + 1004, "waterLevel": 2.0}
        roll = snapshot.rollup(minute_start // 60_000)
        assert roll["yangshe|water_level|waterLevel:n"] == len(devices) * 5 + 2
        assert roll["yangshe|water_level|waterLevel:x"] == pytest.approx(4.35)
        series = snapshot.rollup_series("hour", minute_start // 3_600_000, minute_start // 3_600_000 + 1)
        assert series[minute_start // 3_600_000]["yangshe|water_level|waterLevel:n"] == len(devices) * 5 + 2
        used = {node_of(client, keys.meta(keys.shard_of(d, cluster_settings.redis_shards))) for d in devices}
        assert len(used) == 3  # the fleet's registry is spread over all three primaries
        shards = range(cluster_settings.redis_shards)  # the record's streams, one pair per shard on its node
        births = [c for s in shards for _i, f in client.xrange(keys.registry_stream(s)) for c in orjson.loads(f[b"d"])]
        assert sorted((c[0], c[1]) for c in births) == [(d, "birth") for d in sorted(devices)]
        recorded = [r for s in shards for _i, f in client.xrange(keys.readings_stream(s)) for r in orjson.loads(f[b"r"])]
        assert len(recorded) == len(devices) * 5 + 2

        alarm_id = "wl-c-0|water_level_warning"
        alarms = AlarmStore(client)
        wait_for(lambda: [a["id"] for a in alarms.active()] == [alarm_id], message="alarm raised")
        assert set(snapshot.workers()) == {w.worker.worker_id for w in workers}  # first heartbeat at start
        # the rule's own clear: the ingest's pipelined conditional-clear script
        publish(mqtt_publisher, "ioc/v1/water_level/wl-c-0/telemetry", {"ts": minute_start + 3000, "waterLevel": 4.0})
        wait_for(lambda: alarms.active() == [], message="alarm cleared by its rule")
        assert [e["event"] for e in reversed(snapshot.alarm_events())] == ["raised", "cleared"]
        # counters are held with the rollups and written about once a second
        wait_for(lambda: counter(client, "alarms:cleared") == 1, message="the clear counted")
        assert counter(client, "alarms:raised") == 1
    finally:
        for w in workers:
            w.stop()


def test_alarms_are_acknowledged_and_cleared_by_hand_with_audit_entries(cluster_settings, client, city):
    worker = IngestWorker(cluster_settings, connect_redis(cluster_settings.redis_url), city)
    now = int(time.time() * 1000)

    def msg(channel, **body):
        return (f"ioc/v1/water_level/wl-h-1/{channel}", orjson.dumps(body), now)

    worker.process([msg("status", state="online", lat=31.87, lon=120.553),
                    msg("telemetry", ts=now - 2000, waterLevel=4.3), msg("telemetry", ts=now - 1000, waterLevel=4.35)])
    alarm_id = "wl-h-1|water_level_warning"
    store = AlarmStore(client)
    ack = store.acknowledge(alarm_id, "zhang", "operator", now, ip="10.1.1.1")
    assert store.acknowledge(alarm_id, "li", "leader", now + 1) == ack  # the first ack stays
    assert store.active()[0]["ack"] == {"by": "zhang", "role": "operator", "at_ms": now}
    event = store.clear(alarm_id, "wang", "dispatcher", "sensor fouled", now + 1000)
    assert event["manual"] is True and store.active() == [] and client.hget(keys.ALARMS_ACKS, alarm_id) is None
    events = [e["event"] for e in reversed(SnapshotStore(client, cluster_settings.redis_shards).alarm_events())]
    assert events == ["raised", "acknowledged", "cleared"]
    audit = AuditLog(client).recent(action="alarm.")
    assert [(e.action, e.actor, e.target) for e in audit] == [("alarm.clear", "wang", alarm_id), ("alarm.acknowledge", "zhang", alarm_id)]


def test_scripts_run_again_after_every_node_forgot_them(cluster_settings, client, city):
    worker = IngestWorker(cluster_settings, connect_redis(cluster_settings.redis_url), city)
    now = int(time.time() * 1000)
    devices = [f"wl-f-{i}" for i in range(12)]  # spread over the shards, so over the nodes

    def batch(channel, **body):
        return [(f"ioc/v1/water_level/{d}/{channel}", orjson.dumps(body), now) for d in devices]

    worker.process(batch("status", state="online", lat=31.87, lon=120.553))
    client.script_flush()  # every primary
    assert worker.process(batch("telemetry", ts=now - 2000, waterLevel=4.3)).accepted == len(devices)
    worker.process(batch("telemetry", ts=now - 1000, waterLevel=4.35))
    store = AlarmStore(client)
    store.acknowledge(f"{devices[0]}|water_level_warning", "zhang", "operator", now)
    client.script_flush()
    assert store.acknowledge(f"{devices[1]}|water_level_warning", "zhang", "operator", now).by == "zhang"


# ---- cases ---------------------------------------------------------------------------------------

def test_a_case_goes_from_report_to_close_with_its_timeline_outbox_and_audit(client, city, cluster_settings):
    service = CaseService.from_settings(client, city, cluster_settings)
    now = int(time.time() * 1000)
    case, created = service.report(class_code="10101", lat=YANGSHE[1], lon=YANGSHE[0], source="hotline", actor="hotline",
                                   report_id="hl-c-1", now_ms=now)
    assert created and case.district == "yangshe"
    again, created = service.report(class_code="10101", lat=YANGSHE[1], lon=YANGSHE[0], source="hotline", actor="hotline",
                                    report_id="hl-c-1", now_ms=now)
    assert not created and again.id == case.id
    near, _ = service.report(class_code="10101", lat=YANGSHE[1] + 0.0003, lon=YANGSHE[0], source="hotline", actor="hotline", now_ms=now + 1)
    assert near.possible_duplicates == (case.id,)
    steps = [("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}), ("dispatch", DISPATCHER, {}), ("acknowledge", HANDLER, {}),
             ("handle", HANDLER, {"note": "已更换井盖"}), ("check_pass", INSPECTOR, {}), ("close", DISPATCHER, {})]
    for i, (action, who, params) in enumerate(steps, 1):
        stale = case.version
        case = service.act(case.id, action, who, expected_version=case.version, now_ms=now + i * 60_000, **params)
    with pytest.raises(CaseConflict):
        service.act(case.id, "urge", Principal("chen", frozenset({"leader"})), expected_version=stale, now_ms=now + 10**6)
    store = CaseStore(client)
    assert store.get(case.id).stage == "closed"
    assert [e.action for e in store.timeline(case.id)] == ["report", "accept", "verify", "dispatch", "acknowledge", "handle",
                                                           "check_pass", "close"]
    assert [c.id for c in store.open_cases()] == [near.id]
    assert list(store.timelines([case.id, near.id])) == [case.id, near.id]
    (_, fields), = client.xrange(OUTBOX)
    assert orjson.loads(fields[b"payload"])["case_id"] == case.id
    audited = [e.action for e in AuditLog(client).recent(action="case.") if e.target == case.id]
    assert audited == [f"case.{a}" for a in ("close", "check_pass", "handle", "acknowledge", "dispatch", "verify", "accept", "report")]
    recorded = [f for _i, f in client.xrange(keys.RECORD) if f[b"id"] == case.id.encode()]
    assert [int(f[b"version"]) for f in recorded] == list(range(1, 9))  # the report and 7 steps, the conflict none


def test_the_case_worker_takes_reports_over_mqtt_and_publishes_dispatches(cluster_settings, client, city, mqtt_publisher, broker):
    from ioc.adapters.mqtt import connect, make_client
    from ioc.casework.worker import CaseWorker

    received = []
    listener = make_client(broker.url, f"test-dept-{uuid.uuid4().hex[:6]}", name="test-department")
    listener.on_message = lambda _c, _u, m: received.append(orjson.loads(m.payload))
    connect(listener)
    listener.subscribe("ioc/v1/dispatch/#", qos=1)
    settings = cluster_settings.replace(cases_client_id=f"test-cases-{uuid.uuid4().hex[:8]}", cases_scan_s=1)
    running = RunningWorker(CaseWorker(settings, connect_redis(settings.redis_url), city)).start()
    try:
        publish(mqtt_publisher, "ioc/v1/reports/hotline", {"report_id": "hl-w-1", "category": "10101", "lat": YANGSHE[1],
                                                           "lon": YANGSHE[0], "description": "井盖不见了"})
        store = CaseStore(client)
        case = wait_for(lambda: store.by_report("hl-w-1"), message="case from the MQTT report")
        service = CaseService.from_settings(client, city, settings)
        for action, who in (("accept", DISPATCHER), ("verify", INSPECTOR), ("dispatch", DISPATCHER)):
            case = service.act(case.id, action, who)
        wait_for(lambda: any(m.get("case_id") == case.id for m in received), message="dispatch published from the outbox")
        wait_for(lambda: counter(client, "cases:dispatch_published") == 1, message="publish counted")
    finally:
        running.stop()
        listener.disconnect()
        listener.loop_stop()


def test_a_linked_event_is_started_worked_and_closed_with_its_outbox_and_audit(client, city, cluster_settings):
    from ioc.events.service import EventService

    events = EventService.from_settings(client, city, cluster_settings)
    events.store.put_proposals({"flood:IV": {"id": "flood:IV", "plan": "flood", "level": "IV", "evidence": [],
                                             "districts": ["yangshe"], "raised_at": 0, "trigger": 0}})
    event = events.start(DISPATCHER, plan=None, level=None, proposal_id="flood:IV", district="yangshe")
    assert events.store.proposals() == {} and events.store.active_ids() == [event.id]
    for department in ("urban_management", "town_yangshe"):
        events.act(event.id, "withdraw_task", DISPATCHER, department=department, reason="演练")
    for action, note in (("acknowledge", ""), ("arrive", ""), ("done", "完成")):
        event = events.task_act(event.id, "water_affairs", action, HANDLER, note=note, expected_version=None)
    closed = events.close(event.id, DISPATCHER, summary="演练结束", expected_version=event.version)
    assert closed.status == "closed" and events.store.active_ids() == []
    assert client.xlen(keys.EVENTS_OUTBOX) == 5  # three tasks issued, two withdrawn
    audited = [e.action for e in AuditLog(client).recent(action="event.") if e.target == event.id]
    assert audited[0] == "event.close" and audited[-1] == "event.start" and len(audited) == 7
    events.store.put_proposals({"crowd:IV": {"id": "crowd:IV", "plan": "crowd", "level": "IV", "evidence": [],
                                             "districts": ["yangshe"], "raised_at": 0, "trigger": 0}})
    events.dismiss("crowd:IV", DISPATCHER, reason="正常客流")
    assert list(events.store.dismissals()) == ["crowd:IV"]


# ---- users, sessions, tokens -----------------------------------------------------------------------

def test_users_sessions_and_tokens_with_their_audit_entries(client, city, cluster_settings):
    from ioc.web.services import user_store

    users = user_store(client, cluster_settings, city)
    name, password = add_test_user(users, "dispatcher", name="disp-c")
    users.update(name, ADMIN, display_name="调度员")
    assert users.authenticate(name, "wrong-password-x", ip="10.0.0.9").user is None and users.failures(name) == 1
    signed = users.authenticate(name, password, ip="10.0.0.9")
    assert signed.user is not None and signed.user.display_name == "调度员" and users.failures(name) == 0
    sid = users.open_session(name, 600)
    assert users.session_user(sid, name).name == name
    users.close_session(sid)
    assert users.session_user(sid, name) is None
    users.set_disabled(name, True, ADMIN)
    assert users.require(name).disabled and users.authenticate(name, password).user is None
    _, new_password = users.reset_password(name, ADMIN)
    users.set_disabled(name, False, ADMIN)
    assert users.authenticate(name, new_password).user is not None

    token, secret = users.create_token("city-gis", ["operator"], ADMIN)
    assert users.token_for_secret(secret).id == token.id
    kiosk, kiosk_secret = users.create_token("wall", [], ADMIN, kiosk=True)
    ksid = users.open_session(f"kiosk:{kiosk.id}", 600)
    assert users.session_token(ksid, kiosk.id).id == kiosk.id
    users.revoke_token(token.id, ADMIN)
    assert users.token_for_secret(secret) is None and users.token_for_secret(kiosk_secret).id == kiosk.id
    actions = [e.action for e in AuditLog(client).recent()]
    for expected in ("user.add", "user.update", "auth.sign_in_failed", "auth.sign_in", "user.disable", "user.reset_password",
                     "user.enable", "token.create", "token.revoke"):
        assert expected in actions, expected


# ---- the web app -------------------------------------------------------------------------------------

def test_the_web_app_serves_health_and_the_sensor_api_from_the_cluster(cluster_settings, client, city):
    from ioc.web.app import create_app

    now = int(time.time() * 1000)
    IngestWorker(cluster_settings, connect_redis(cluster_settings.redis_url), city).process(
        [(f"ioc/v1/noise/nz-c-{i}/status", orjson.dumps({"state": "online", "lat": YANGSHE[1], "lon": YANGSHE[0] + i * 1e-4}), now)
         for i in range(10)])
    app = create_app(cluster_settings)
    web = app.server.test_client()
    health = web.get("/healthz")
    assert health.status_code == 200 and health.get_json()["checks"]["redis"]["ok"]
    _, secret = app.server.extensions["ioc_users"].create_token("gis", ["operator"], ADMIN)
    response = web.get("/api/v1/sensors?kind=noise", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 10 and {item["id"] for item in body["items"]} == {f"nz-c-{i}" for i in range(10)}
    assert web.get("/api/v1/sensors").status_code == 401
    metrics = web.get("/metrics", headers={"Authorization": f"Bearer {secret}"}).get_data(as_text=True)
    assert 'ioc_devices{state="online"} 10.0' in metrics
