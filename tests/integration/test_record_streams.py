"""The streams the recorder reads, in a real Redis (RECORD-SPEC section 1): every control-plane
write path puts exactly one well-formed entry on `ioc:{core}:record` in the same step as its
change (and nothing when the change is refused); each ingest batch puts its registry changes on
`ioc:{sN}:registry` and its accepted readings on `ioc:{sN}:readings`; every stream is capped."""

from __future__ import annotations

import time

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.case_store import CaseConflict, CaseStore
from ioc.adapters.event_store import EventConflict, EventStore, audit_fields
from ioc.adapters.notify_store import NotifyStore
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.user_store import AccountError, Actor
from ioc.domain import events as ev
from ioc.domain.access import Principal
from ioc.domain.cases import Case, CaseEvent, apply
from ioc.domain.plans import builtin_plans
from ioc.ingest.worker import IngestWorker
from ioc.web.services import user_store as make_user_store

T0 = 1_764_000_000_000  # 2025-11-25 00:00 in China
NOW = int(time.time() * 1000)
DISPATCHER = Principal("li", frozenset({"dispatcher"}), "李调度")
INSPECTOR = Principal("zhao", frozenset({"inspector"}))
ADMIN = Actor("root-admin", "admin", "10.0.0.9")


def text(raw: dict) -> dict:
    return {k.decode(): v.decode() for k, v in raw.items()}


def entries(client, key: str = keys.RECORD) -> list[tuple[str, dict]]:
    return [(i.decode(), text(f)) for i, f in client.xrange(key)]


def record(client) -> list[dict]:
    return [f for _i, f in entries(client)]


# ---- cases -------------------------------------------------------------------------------------

def new_case(store: CaseStore, report_id: str = "") -> tuple[Case, bool]:
    case = Case(store.next_id(T0), "10105", 31.87, 120.55, "yangshe", "hotline", T0, report_id=report_id)
    return store.create(case, CaseEvent(case.id, "report", "hotline", "system", "", "reported", T0, "井盖丢失", {"k": 1}))


def test_a_new_case_writes_one_case_entry_with_its_report_entry(case_store, redis_client):
    case, _ = new_case(case_store)
    (entry,) = record(redis_client)
    assert set(entry) == {"type", "id", "version", "at", "case", "entry_id", "entry"}
    assert (entry["type"], entry["id"], entry["version"], entry["at"]) == ("case", case.id, "1", str(T0))
    assert entry["case"] == redis_client.hget(keys.CASES_DATA, case.id).decode()
    ((timeline_id, timeline_fields),) = entries(redis_client, keys.case_timeline(case.id))
    assert entry["entry_id"] == timeline_id
    assert orjson.loads(entry["entry"]) == timeline_fields
    assert orjson.loads(orjson.loads(entry["entry"])["detail"]) == {"k": 1}


def test_the_same_report_again_writes_no_entry(case_store, redis_client):
    new_case(case_store, report_id="hl-1")
    new_case(case_store, report_id="hl-1")
    assert len(record(redis_client)) == 1


def test_each_transition_writes_one_case_entry_with_its_version_and_timeline_entry(case_store, redis_client):
    case, _ = new_case(case_store)
    for i, (action, who) in enumerate((("accept", DISPATCHER), ("verify", INSPECTOR)), 1):
        after, event = apply(case, action, who, T0 + i * 60_000)
        case = case_store.save_transition(case, after, event)
    got = record(redis_client)
    assert [(e["type"], e["id"], e["version"]) for e in got] == [("case", case.id, "1"), ("case", case.id, "2"),
                                                               ("case", case.id, "3")]
    assert [e["at"] for e in got] == [str(T0), str(T0 + 60_000), str(T0 + 120_000)]
    assert got[-1]["case"] == redis_client.hget(keys.CASES_DATA, case.id).decode()
    timeline = entries(redis_client, keys.case_timeline(case.id))
    assert [e["entry_id"] for e in got] == [i for i, _f in timeline]
    assert [orjson.loads(e["entry"]) for e in got] == [f for _i, f in timeline]
    assert orjson.loads(got[-1]["entry"])["action"] == "verify"


def test_a_transition_over_a_stale_version_writes_no_entry(case_store, redis_client):
    case, _ = new_case(case_store)
    after, event = apply(case, "accept", DISPATCHER, T0 + 60_000)
    case_store.save_transition(case, after, event)
    again, event = apply(case, "reject", DISPATCHER, T0 + 120_000, note="重复上报")  # from version 1, now 2
    with pytest.raises(CaseConflict):
        case_store.save_transition(case, again, event)
    assert [e["version"] for e in record(redis_client)] == ["1", "2"]


def test_the_record_stream_is_capped_at_the_stores_maxlen(redis_client):
    store = CaseStore(redis_client, record_maxlen=10)
    for i in range(250):
        new_case(store)
    # MAXLEN ~ trims whole stream nodes (100 entries each by default): about 10, never all 250
    assert 10 <= redis_client.xlen(keys.RECORD) <= 110


# ---- linked events -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def flood(city):
    from ioc.domain.departments import department_ids

    return builtin_plans(department_ids(city))["flood"]


def started(store: EventStore, flood) -> ev.Event:
    return ev.start_event(event_id=store.next_id(T0), plan=flood, level="IV", title="", area=ev.Area("district", district="yangshe"),
                          district="yangshe", districts=("yangshe",), commander=DISPATCHER, now_ms=T0)


def event_audit(event: ev.Event, action: str = "event.start") -> dict:
    return audit_fields("li", "dispatcher", action, event.id, {"version": event.version}, "10.0.0.9", T0)


def test_an_event_create_and_change_each_write_one_event_entry(redis_client, flood):
    store = EventStore(redis_client)
    event = started(store, flood)
    store.create(event, event_audit(event))
    changed = ev.instruct(event, "全力排涝", Principal("chen", frozenset({"leader"})), T0 + 60_000)
    store.commit(event.version, changed, event_audit(changed, "event.instruct"))
    got = record(redis_client)
    assert [set(e) for e in got] == [{"type", "id", "version", "at", "event"}] * 2
    assert [(e["type"], e["id"], e["version"], e["at"]) for e in got] == [
        ("event", event.id, "1", str(event.updated_at)), ("event", event.id, "2", str(changed.updated_at))]
    assert got[-1]["event"] == redis_client.hget(keys.EVENTS_DATA, event.id).decode()
    assert orjson.loads(got[0]["event"]) == event.to_dict()


def test_an_event_change_refused_writes_no_entry(redis_client, flood):
    store = EventStore(redis_client)
    event = started(store, flood)
    store.create(event, event_audit(event))
    with pytest.raises(EventConflict):
        store.create(event, event_audit(event))
    assert len(record(redis_client)) == 1


# ---- users and tokens --------------------------------------------------------------------------

def test_a_user_add_update_and_disable_each_write_one_user_entry(user_store, redis_client):
    user_store.add("zhang", ["dispatcher"], ADMIN)
    user_store.update("zhang", ADMIN, display_name="张三")
    disabled = user_store.set_disabled("zhang", True, ADMIN)
    got = record(redis_client)
    assert [set(e) for e in got] == [{"type", "name", "at", "user"}] * 3
    assert [(e["type"], e["name"]) for e in got] == [("user", "zhang")] * 3
    assert [orjson.loads(e["user"])["display_name"] for e in got] == ["", "张三", "张三"]
    assert got[-1]["user"] == redis_client.hget(keys.USERS, "zhang").decode()
    assert got[-1]["at"] == str(disabled.updated_at)


def test_a_refused_user_add_writes_no_entry(user_store, redis_client):
    user_store.add("zhang", ["dispatcher"], ADMIN)
    with pytest.raises(AccountError):
        user_store.add("zhang", ["leader"], ADMIN)
    assert len(record(redis_client)) == 1


def test_a_token_create_and_revoke_each_write_one_token_entry_without_the_secret(user_store, redis_client):
    token, secret = user_store.create_token("gis", ["operator"], ADMIN)
    revoked = user_store.revoke_token(token.id, ADMIN)
    got = record(redis_client)
    assert [set(e) for e in got] == [{"type", "id", "at", "token"}] * 2
    assert [(e["type"], e["id"], e["at"]) for e in got] == [("token", token.id, str(token.created_at)),
                                                           ("token", token.id, str(revoked.revoked_at))]
    assert got[-1]["token"] == redis_client.hget(keys.TOKENS, token.id).decode()
    assert all(secret not in e["token"] for e in got)


def test_the_stores_made_from_settings_take_the_record_caps_from_them(redis_client, settings, city):
    from ioc.casework.service import CaseService
    from ioc.events.service import EventService

    small = settings.replace(record_stream_maxlen=7, record_readings_maxlen=9)
    assert make_user_store(redis_client, small, city).record_maxlen == 7
    assert CaseService.from_settings(redis_client, city, small).store.record_maxlen == 7
    assert EventService.from_settings(redis_client, city, small).store.record_maxlen == 7
    assert IngestWorker(small, redis_client, city).store.stream_maxlen == 9


# ---- the notifier's timeline entries -----------------------------------------------------------

def delivery(subject: str, result: str) -> dict:
    return {"subject": subject, "kind": "case.dispatched", "version": "3", "channel": "wecom", "recipient": "group:dept-um",
            "name": "城管局值班群", "result": result, "attempt": 1, "reason": "", "route": "dispatch", "latency_ms": 800}


def test_a_notifier_timeline_entry_writes_one_timeline_entry(case_store, redis_client):
    case, _ = new_case(case_store)
    NotifyStore(redis_client).record("", T0 + 5000, results=[delivery(f"case:{case.id}", "sent")])
    got = record(redis_client)
    assert len(got) == 2 and set(got[1]) == {"type", "id", "at", "entry", "entry_id"}
    assert (got[1]["type"], got[1]["id"], got[1]["at"]) == ("timeline", case.id, str(T0 + 5000))
    timeline = entries(redis_client, keys.case_timeline(case.id))
    assert got[1]["entry_id"] == timeline[-1][0]
    assert orjson.loads(got[1]["entry"]) == timeline[-1][1]
    assert orjson.loads(got[1]["entry"])["action"] == "notify"


def test_a_delivery_result_off_the_case_timeline_writes_no_entry(redis_client):
    store = NotifyStore(redis_client)
    store.record("", T0, results=[delivery("case:ZJG-1", "retry"), delivery("alarm:lv-1|high", "sent")])
    assert record(redis_client) == []


# ---- the device registry and the readings ------------------------------------------------------

@pytest.fixture
def worker(settings, city, redis_client):
    return IngestWorker(settings.replace(redis_shards=1), connect_redis(settings.redis_url), city)


def msg(kind, device, channel, received=NOW, **body):
    return (f"ioc/v1/{kind}/{device}/{channel}", orjson.dumps(body), received)


def registry(client, shard: int = 0) -> list[list]:
    return [orjson.loads(f["d"]) for _i, f in entries(client, keys.registry_stream(shard))]


def readings(client, shard: int = 0) -> list[list]:
    return [orjson.loads(f["r"]) for _i, f in entries(client, keys.readings_stream(shard))]


def test_a_birth_writes_one_registry_entry_with_the_meta(worker, redis_client):
    worker.process([msg("noise", "nz-1", "status", received=NOW - 5, state="online", lat=31.87, lon=120.553, name="杨舍噪声1")])
    ((change,),) = registry(redis_client)
    device, event, at, online, meta = change
    assert (device, event, at, online) == ("nz-1", "birth", NOW - 5, True)
    assert meta == orjson.loads(redis_client.hget(keys.meta(0), "nz-1"))
    assert (meta["kind"], meta["name"], meta["district"]) == ("noise", "杨舍噪声1", "yangshe")


def test_offline_and_online_write_one_registry_entry_each(worker, redis_client):
    worker.process([msg("noise", "nz-1", "status", state="online", lat=31.87, lon=120.553)])
    worker.process([msg("noise", "nz-1", "status", received=NOW + 1, state="offline")])
    worker.process([msg("noise", "nz-1", "status", received=NOW + 2, state="online")])
    got = registry(redis_client)
    assert [[c[:4] for c in d] for d in got[1:]] == [[["nz-1", "offline", NOW + 1, False]], [["nz-1", "online", NOW + 2, True]]]
    assert got[1][0][4]["district"] == "yangshe"


def test_a_located_reading_elsewhere_writes_a_move_and_in_place_writes_nothing(worker, redis_client):
    worker.process([msg("noise", "nz-1", "status", state="online", lat=31.87, lon=120.553)])
    worker.process([msg("noise", "nz-1", "telemetry", ts=NOW - 2000, LAeq=50.0, lat=31.87, lon=120.553)])
    assert len(registry(redis_client)) == 1
    worker.process([msg("noise", "nz-1", "telemetry", ts=NOW - 1000, LAeq=50.0, lat=31.871, lon=120.554)])
    got = registry(redis_client)
    assert len(got) == 2
    ((device, event, at, online, meta),) = got[1]
    assert (device, event, at, online) == ("nz-1", "moved", NOW - 1000, None)
    assert (meta["lat"], meta["lon"]) == (31.871, 120.554)


def test_a_batch_of_plain_readings_writes_no_registry_entry(worker, redis_client):
    worker.process([msg("noise", "nz-1", "status", state="online", lat=31.87, lon=120.553)])
    worker.process([msg("noise", "nz-1", "telemetry", ts=NOW, LAeq=50.0)])
    assert len(registry(redis_client)) == 1


def test_only_accepted_readings_go_on_the_readings_stream_one_entry_per_batch(worker, redis_client):
    worker.process([msg("noise", "nz-1", "status", state="online", lat=31.87, lon=120.553)])
    assert readings(redis_client) == []  # a birth is no reading
    worker.process([
        msg("noise", "nz-1", "telemetry", ts=NOW - 2000, LAeq=51.0),
        msg("noise", "nz-1", "telemetry", ts=NOW - 2000, LAeq=51.0),  # duplicate
        msg("noise", "nz-1", "telemetry", ts=NOW - 1000, LAeq=53.0, LAmax=60.0),
        msg("noise", "nz-1", "telemetry", ts=NOW - 2500, LAeq=49.0),  # late: accepted (it counts in the rollups)
        msg("noise", "nz-2", "telemetry", ts=NOW - 1000, LAeq=50.0),  # never born
        msg("noise", "nz-1", "telemetry", ts=NOW - 900, LAeq="loud"),  # invalid
    ])
    (batch,) = readings(redis_client)
    assert batch == [["nz-1", "noise", "yangshe", NOW - 2000, {"LAeq": 51.0}],
                     ["nz-1", "noise", "yangshe", NOW - 1000, {"LAeq": 53.0, "LAmax": 60.0}],
                     ["nz-1", "noise", "yangshe", NOW - 2500, {"LAeq": 49.0}]]


def test_a_batch_with_no_accepted_reading_writes_no_readings_entry(worker, redis_client):
    worker.process([msg("noise", "nz-2", "telemetry", ts=NOW, LAeq=50.0)])  # never born
    assert readings(redis_client) == []


def test_each_shard_of_a_batch_gets_its_own_readings_entry(settings, city, redis_client):
    shards = 4
    worker = IngestWorker(settings.replace(redis_shards=shards), connect_redis(settings.redis_url), city)
    devices = [f"nz-{i}" for i in range(20)]
    worker.process([msg("noise", d, "status", state="online", lat=31.87, lon=120.553) for d in devices])
    worker.process([msg("noise", d, "telemetry", ts=NOW, LAeq=50.0) for d in devices])
    by_shard = {s: readings(redis_client, s) for s in range(shards)}
    expected = {s: sorted(d for d in devices if keys.shard_of(d, shards) == s) for s in range(shards)}
    assert {s: sorted(r[0] for entry in got for r in entry) for s, got in by_shard.items()} == expected
    assert all(len(got) == (1 if expected[s] else 0) for s, got in by_shard.items())
    assert sum(len(registry(redis_client, s)) for s in range(shards)) == len([s for s in expected if expected[s]])


def test_the_registry_and_readings_streams_are_capped(settings, city, redis_client):
    worker = IngestWorker(settings.replace(redis_shards=1, record_readings_maxlen=10), connect_redis(settings.redis_url), city)
    for i in range(250):
        worker.process([msg("noise", "nz-1", "status", received=NOW + i, state="online" if i % 2 else "offline",
                            lat=31.87, lon=120.553),
                        msg("noise", "nz-1", "telemetry", ts=NOW - 250 + i, LAeq=50.0)])
    for key in (keys.registry_stream(0), keys.readings_stream(0)):
        assert 10 <= redis_client.xlen(key) <= 110  # MAXLEN ~: whole nodes of 100 entries


# ---- trimming what the recorder has committed --------------------------------------------------

def test_the_recorder_can_trim_the_record_stream_up_to_its_offset(case_store, redis_client):
    from ioc.adapters import record_stream

    for _ in range(250):
        new_case(case_store)
    ids = [i for i, _f in entries(redis_client)]
    record_stream.trim_recorded(redis_client, ids[200])
    left = [i for i, _f in entries(redis_client)]
    assert left[-50:] == ids[200:] and len(left) < 250  # never an entry at or after the offset


def test_the_recorder_can_trim_a_shards_readings_and_registry_streams(worker, redis_client):
    from ioc.adapters.telemetry_store import trim_recorded

    worker.process([msg("noise", "nz-1", "status", state="online", lat=31.87, lon=120.553)])
    for i in range(250):
        worker.process([msg("noise", "nz-1", "telemetry", received=NOW + i * 1000, ts=NOW + i, LAeq=50.0)])  # one a second: under the rate limit
    ids = [i for i, _f in entries(redis_client, keys.readings_stream(0))]
    trim_recorded(redis_client, 0, "readings", ids[200])
    left = [i for i, _f in entries(redis_client, keys.readings_stream(0))]
    assert left[-50:] == ids[200:] and len(left) < 250
    (birth,) = [i for i, _f in entries(redis_client, keys.registry_stream(0))]
    trim_recorded(redis_client, 0, "registry", birth)
    assert [i for i, _f in entries(redis_client, keys.registry_stream(0))] == [birth]
