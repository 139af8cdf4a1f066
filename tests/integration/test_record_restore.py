"""The archive and the restore (issue 17) against a real Redis and a real PostgreSQL: ended cases
leave Redis for the record and stay readable (API, Open311, the case page), read-only; a repeated
report still finds its case; `python -m ioc restore` rebuilds Redis from the record after a loss
and the portal and the API answer as before.

The record is filled either by the recorder (`ioc.record.recorder.record_once`, piece `recorder`)
or, where a test is about reading the record, by `copy_to_record` below: plain SQL inserts of
what Redis holds, the rows the recorder writes (tables of migrations/0001_record.sql)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import orjson
import psycopg
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters.case_store import CaseStore
from ioc.adapters.user_store import Actor
from ioc.domain.access import Principal
from ioc.domain.alarms import Alarm
from ioc.domain.cases import ENDED
from ioc.record.archive import CaseArchive
from ioc.record.restore import RestoreRefused, restore

YANGSHE = (31.872, 120.556)
DAY = 86_400_000
DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}))
INSPECTOR = Principal("setup-inspector", frozenset({"inspector"}))
LEADER = Principal("setup-leader", frozenset({"leader"}))
ADMIN = Actor("test", "admin")


# ---- filling the record ----------------------------------------------------------------------------

def _ts(ms) -> datetime | None:
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc) if ms else None


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _partition(conn, table: str, at: datetime) -> None:
    conn.execute("SELECT ioc_ensure_partition(%s, %s, 'month')", (table, at))


def copy_to_record(redis_client, url: str) -> None:
    """Write what Redis holds into the record as the recorder would (latest versions, timelines
    with their entry ids, users, tokens, the audit log, the active alarms)."""
    store = CaseStore(redis_client)
    with psycopg.connect(url) as conn:
        for case in store.all():
            ended = case.stage in ENDED
            conn.execute(
                """INSERT INTO cases (id, version, class_code, district, department, source, stage, urgent, lon, lat, cell,
                                      created_at, closed_at, due_at, stage_deadline, updated_at, data)
                   VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)
                   ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, stage = EXCLUDED.stage,
                       closed_at = EXCLUDED.closed_at, updated_at = EXCLUDED.updated_at, data = EXCLUDED.data""",
                (case.id, case.version, case.class_code, case.district, case.department, case.source, case.stage, case.urgent,
                 case.lon, case.lat, case.cell, _ts(case.created_at), _ts(case.closed_at or case.updated_at) if ended else None,
                 _ts(case.due_at), _ts(case.stage_deadline), _ts(case.updated_at), psycopg.types.json.Jsonb(case.to_dict())))
            for entry_id, fields in redis_client.xrange(keys.case_timeline(case.id)):
                f = {_text(k): _text(v) for k, v in fields.items()}
                at = _ts(int(f["at"]))
                _partition(conn, "case_timeline", at)
                conn.execute(
                    """INSERT INTO case_timeline (case_id, entry_id, at, action, actor, role, from_stage, to_stage, note, detail, fields)
                       VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING""",
                    (case.id, _text(entry_id), at, f["action"], f["actor"], f["role"], f["from"], f["to"], f.get("note", ""),
                     psycopg.types.json.Jsonb(orjson.loads(f.get("detail") or "{}")), psycopg.types.json.Jsonb(f)))
        for name, raw in redis_client.hgetall(keys.USERS).items():
            conn.execute("INSERT INTO users (name, updated_at, data) VALUES (%s, now(), %s) ON CONFLICT (name) DO UPDATE "
                         "SET data = EXCLUDED.data", (_text(name), psycopg.types.json.Jsonb(orjson.loads(raw))))
        for token_id, raw in redis_client.hgetall(keys.TOKENS).items():
            conn.execute("INSERT INTO tokens (id, updated_at, data) VALUES (%s, now(), %s) ON CONFLICT (id) DO UPDATE "
                         "SET data = EXCLUDED.data", (_text(token_id), psycopg.types.json.Jsonb(orjson.loads(raw))))
        for entry_id, fields in redis_client.xrange(keys.AUDIT):
            f = {_text(k): _text(v) for k, v in fields.items()}
            at = _ts(int(f["at_ms"]))
            _partition(conn, "audit", at)
            conn.execute("""INSERT INTO audit (stream_id, at, actor, role, action, target, outcome, ip, detail)
                            VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING""",
                         (_text(entry_id), at, f["actor"], f["role"], f["action"], f["target"], f["outcome"], f["ip"],
                          psycopg.types.json.Jsonb(orjson.loads(f["detail"]))))
        acks = {_text(k): orjson.loads(v) for k, v in redis_client.hgetall(keys.ALARMS_ACKS).items()}
        for alarm_id, raw in redis_client.hgetall(keys.ALARMS_ACTIVE).items():
            alarm_id, alarm = _text(alarm_id), orjson.loads(raw)
            ack = acks.get(alarm_id)
            conn.execute("""INSERT INTO alarms (alarm_id, raised_at, acknowledged_at, acknowledged_by, device_id, kind, rule,
                                                severity, district, data) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)
                            ON CONFLICT DO NOTHING""",
                         (alarm_id, _ts(alarm["raised_at"]), _ts(ack["at_ms"]) if ack else None, ack["by"] if ack else "",
                          alarm["device_id"], alarm["kind"], alarm["rule_id"], alarm["severity"], alarm["district"],
                          psycopg.types.json.Jsonb({**alarm, **({"ack": ack} if ack else {})})))


def recorder_once():
    try:
        from ioc.record.recorder import record_once
    except ImportError:
        return None
    return record_once


def fill_record(how: str, redis_client, settings) -> None:
    if how == "sql":
        copy_to_record(redis_client, settings.database_url)
        return
    record_once = recorder_once()
    if record_once is None:
        pytest.skip("ioc.record.recorder.record_once (piece `recorder`) is not on this branch yet: the restore is shown "
                    "end to end with the record filled by plain SQL inserts (the `sql` case) until it is merged")
    record_once(settings)


# ---- fixtures --------------------------------------------------------------------------------------

@pytest.fixture
def portal_app(record_settings, redis_client):
    """The web app on the test Redis with DATABASE_URL set (overrides conftest's: `signed_in` uses it)."""
    from ioc.web.app import create_app

    return create_app(record_settings)


@pytest.fixture
def service(portal_app):
    return portal_app.server.extensions["ioc_services"].cases


@pytest.fixture
def client(portal_app):
    return portal_app.server.test_client()


@pytest.fixture
def bearer(portal_app):
    users = portal_app.server.extensions["ioc_users"]
    _, secret = users.create_token("leader-system", ["leader"], ADMIN)
    return {"Authorization": f"Bearer {secret}"}


def file_case(service, now_ms: int, report_id: str = "", source: str = "hotline"):
    case, _ = service.report(class_code="10101", lat=YANGSHE[0], lon=YANGSHE[1], source=source, actor=source, report_id=report_id,
                             description="井盖丢失", now_ms=now_ms)
    return case


def rejected_case(service, now_ms: int, report_id: str = ""):
    """A case filed and not accepted (不予受理) at `now_ms`: ended then."""
    case = file_case(service, now_ms, report_id)
    return service.act(case.id, "reject", DISPATCHER, note="重复上报", now_ms=now_ms + 60_000)


@pytest.fixture
def worker(record_settings, redis_client, city):
    from ioc.casework.worker import CaseWorker

    return CaseWorker(record_settings, redis_client, city)


# ---- the archive -----------------------------------------------------------------------------------

def test_the_archive_reads_a_case_and_its_timeline_as_redis_had_them(service, redis_client, record_settings):
    now = int(time.time() * 1000)
    case = rejected_case(service, now - 40 * DAY)
    copy_to_record(redis_client, record_settings.database_url)
    archive = CaseArchive(record_settings.database_url)
    assert archive.get(case.id) == case
    assert archive.timeline(case.id) == service.store.timeline(case.id)
    assert archive.get("ZJG-20990101-999999") is None


def test_closed_between_lists_the_ended_cases_of_a_period_newest_first(service, redis_client, record_settings):
    now = int(time.time() * 1000)
    old, older = rejected_case(service, now - 40 * DAY), rejected_case(service, now - 50 * DAY)
    file_case(service, now - 45 * DAY)  # open: not among them
    copy_to_record(redis_client, record_settings.database_url)
    archive = CaseArchive(record_settings.database_url)
    assert [c.id for c in archive.closed_between(now - 60 * DAY, now)] == [old.id, older.id]
    assert [c.id for c in archive.closed_between(now - 60 * DAY, now - 45 * DAY)] == [older.id]
    assert [c.id for c in archive.closed_between(now - 60 * DAY, now, field="created", exclude=[old.id])] == [older.id]


# ---- leaving Redis ---------------------------------------------------------------------------------

def test_cases_ended_before_the_hot_days_leave_redis_and_the_others_stay(service, worker, redis_client, record_settings):
    now = int(time.time() * 1000)
    old = rejected_case(service, now - 40 * DAY)
    recent = rejected_case(service, now - 5 * DAY)
    still_open = file_case(service, now - 60 * DAY)
    copy_to_record(redis_client, record_settings.database_url)
    assert worker.evict_archived(now) == 1
    store = CaseStore(redis_client)
    assert store.find(old.id) is None and not redis_client.exists(keys.case_timeline(old.id))
    assert store.find(recent.id) is not None and store.find(still_open.id) is not None
    assert worker.evict_archived(now) == 0  # nothing more to do


def test_cases_that_ended_in_the_same_millisecond_all_leave_a_batch_at_a_time(service, worker, redis_client, record_settings,
                                                                               monkeypatch):
    from ioc.casework import worker as worker_module

    monkeypatch.setattr(worker_module, "EVICT_BATCH", 2)
    now = int(time.time() * 1000)
    ended = [rejected_case(service, now - 40 * DAY) for _ in range(5)]  # each rejected at the same moment
    copy_to_record(redis_client, record_settings.database_url)
    assert worker.evict_archived(now) == 5
    assert all(CaseStore(redis_client).find(c.id) is None for c in ended)


def test_a_case_whose_latest_version_the_record_lacks_stays_in_redis(service, worker, redis_client, record_settings):
    now = int(time.time() * 1000)
    case = file_case(service, now - 40 * DAY)
    copy_to_record(redis_client, record_settings.database_url)  # the record has version 1, open
    service.act(case.id, "reject", DISPATCHER, note="重复上报", now_ms=now - 40 * DAY)
    with psycopg.connect(record_settings.database_url) as conn:  # the record says ended, at the old version
        conn.execute("UPDATE cases SET stage = 'rejected', closed_at = %s WHERE id = %s", (_ts(now - 40 * DAY), case.id))
    assert worker.evict_archived(now) == 0
    assert CaseStore(redis_client).find(case.id).stage == "rejected"
    copy_to_record(redis_client, record_settings.database_url)  # the recorder caught up
    assert worker.evict_archived(now) == 1


def test_a_timeline_entry_the_record_lacks_keeps_the_case_in_redis(service, worker, redis_client, record_settings):
    now = int(time.time() * 1000)
    case = rejected_case(service, now - 40 * DAY)
    copy_to_record(redis_client, record_settings.database_url)
    redis_client.xadd(keys.case_timeline(case.id), {"action": "notify", "actor": "notifier", "role": "system", "from": "",
                                                    "to": "", "at": str(now), "note": "", "detail": "{}"})
    assert worker.evict_archived(now) == 0
    assert CaseStore(redis_client).find(case.id) is not None


def test_leaving_redis_moves_the_case_revision_and_the_console_counts_nothing_missing(service, worker, redis_client,
                                                                                   record_settings, portal_app):
    now = int(time.time() * 1000)
    old = rejected_case(service, now - 40 * DAY)
    open_case = file_case(service, now - DAY)
    copy_to_record(redis_client, record_settings.database_url)
    index = portal_app.server.extensions["ioc_services"].case_index
    assert [c.id for c in index.open_cases()] == [open_case.id]
    before = CaseStore(redis_client).revision()
    worker.evict_archived(now)
    assert CaseStore(redis_client).revision() == before + 1
    assert [c.id for c in index.open_cases()] == [open_case.id]
    assert index.revision == before + 1
    assert old.id not in CaseStore(redis_client).changed_since(0)


# ---- reading archived cases ------------------------------------------------------------------------

@pytest.fixture
def archived(service, worker, redis_client, record_settings):
    """A case ended 40 days ago that left Redis (its report id `r-archived`)."""
    now = int(time.time() * 1000)
    case = rejected_case(service, now - 40 * DAY, report_id="r-archived")
    copy_to_record(redis_client, record_settings.database_url)
    assert worker.evict_archived(now) == 1
    return case


def test_the_api_reads_an_archived_case_with_its_timeline(client, bearer, archived):
    answer = client.get(f"/api/v1/cases/{archived.id}", headers=bearer)
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["id"], body["stage"], body["open"]) == (archived.id, "rejected", False)
    assert [e["action"] for e in body["timeline"]] == ["report", "reject"]
    assert body["allowed_actions"] == []


def test_the_media_listing_of_an_archived_case_answers_from_the_record(client, bearer, archived):
    answer = client.get(f"/api/v1/cases/{archived.id}/media", headers=bearer)
    assert answer.status_code == 200
    assert (answer.get_json()["case_id"], answer.get_json()["media"]) == (archived.id, [])


def test_an_action_on_an_archived_case_is_refused_saying_it_is_closed(client, bearer, archived):
    answer = client.post(f"/api/v1/cases/{archived.id}/actions", json={"action": "urge"}, headers=bearer)  # a leader's action
    assert answer.status_code == 400
    assert "archived" in answer.get_json()["message"]


def test_open311_answers_an_archived_request_and_lists_it_in_its_period(client, bearer, archived):
    one = client.get(f"/open311/v2/requests/{archived.id}.json", headers=bearer)
    assert one.status_code == 200 and one.get_json()[0]["status"] == "closed"
    listed = client.get("/open311/v2/requests.json", headers=bearer).get_json()
    assert archived.id in [r["service_request_id"] for r in listed]
    assert archived.id not in [r["service_request_id"] for r in
                               client.get("/open311/v2/requests.json?status=open", headers=bearer).get_json()]


def test_the_list_of_cases_with_the_ended_ones_includes_the_archived_ones(client, bearer, archived, service):
    recent = rejected_case(service, int(time.time() * 1000) - 2 * DAY)
    body = client.get("/api/v1/cases?open=0", headers=bearer).get_json()
    assert (body["total"], [c["id"] for c in body["items"]]) == (2, [recent.id, archived.id])
    assert client.get("/api/v1/cases?open=0&stage=closed", headers=bearer).get_json()["total"] == 0
    assert client.get("/api/v1/cases", headers=bearer).get_json()["total"] == 0  # the open ones only


def test_a_handler_lists_no_archived_case_of_another_department(client, archived, portal_app):
    users = portal_app.server.extensions["ioc_users"]
    _, secret = users.create_token("water-system", ["handler"], ADMIN, department="water_affairs")
    body = client.get("/api/v1/cases?open=0", headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert body["total"] == 0  # never dispatched: no department's


def test_the_same_report_again_after_archiving_makes_no_new_case(service, archived):
    again = file_case(service, int(time.time() * 1000), report_id="r-archived")
    assert again.id == archived.id and again.stage == "rejected"


def test_the_case_page_shows_an_archived_case(signed_in, archived):
    from callbacks import cases as case_callbacks

    with signed_in("leader", triggered="case-id.data"):
        outputs = case_callbacks.load_case(archived.id, 0, 0, 0, "zh")
    out = {f"{o.component_id}.{o.component_property}": v for o, v in zip(case_callbacks.LOAD_OUTPUTS, outputs)}
    assert out["case-title.children"].endswith(archived.id)
    assert out["case-body.style"] == case_callbacks.SHOWN  # the case's body, not "no such case"
    assert len(out["case-timeline.rowData"]) == 2  # its timeline


# ---- restore ---------------------------------------------------------------------------------------

def test_restore_refuses_a_redis_that_holds_cases(service, record_settings, redis_client):
    file_case(service, int(time.time() * 1000))
    with pytest.raises(RestoreRefused):
        restore(record_settings, redis_client)


def test_the_cli_restores_and_prints_what_it_restored(service, record_settings, redis_client, capsys, monkeypatch):
    from ioc.__main__ import main

    case = file_case(service, int(time.time() * 1000))
    copy_to_record(redis_client, record_settings.database_url)
    redis_client.flushall()
    monkeypatch.setenv("REDIS_URL", record_settings.redis_url)
    monkeypatch.setenv("DATABASE_URL", record_settings.database_url)
    assert main(["restore"]) == 0
    assert "cases: 1 (1 open" in capsys.readouterr().out
    assert CaseStore(redis_client).find(case.id) == case
    assert main(["restore"]) == 1  # again: Redis holds cases now


def _views(client, headers, case_ids, signed_in):
    """What the API, Open311 and the case page answer about the city's cases."""
    from callbacks import cases as case_callbacks

    out = {"list": client.get("/api/v1/cases?open=0&limit=1000", headers=headers).get_json(),
           "open311": client.get("/open311/v2/requests.json", headers=headers).get_json(),
           "alarms": client.get("/api/v1/alarms", headers=headers).get_json()}
    for case_id in case_ids:
        out[case_id] = client.get(f"/api/v1/cases/{case_id}", headers=headers).get_json()
        with signed_in("leader", triggered="case-id.data"):
            page = case_callbacks.load_case(case_id, 0, 0, 0, "zh")
        shown = {f"{o.component_id}.{o.component_property}": v for o, v in zip(case_callbacks.LOAD_OUTPUTS, page)}
        out[f"page:{case_id}"] = repr(tuple(shown[k] for k in ("case-title.children", "case-stage.children", "case-facts.children",
                                                              "case-timeline.rowData")))  # components compare by what they show
    return out


def audit_entries(redis_client) -> list:
    return [(entry_id, {**fields, b"detail": orjson.loads(fields[b"detail"])}) for entry_id, fields in redis_client.xrange(keys.AUDIT)]


@pytest.mark.parametrize("how", ["sql", "recorder"])
def test_after_redis_is_lost_restore_brings_back_what_the_portal_and_the_api_answered(
        how, service, worker, redis_client, record_settings, client, portal_app, signed_in, make_user):
    now = int(time.time() * 1000)
    users = portal_app.server.extensions["ioc_users"]
    make_user("dispatcher", name="wang", password="a-long-test-password-1")
    _, secret = users.create_token("leader-system", ["leader"], ADMIN)
    headers = {"Authorization": f"Bearer {secret}"}
    worked = file_case(service, now - 2 * DAY)
    for action, who in (("accept", DISPATCHER), ("verify", INSPECTOR), ("dispatch", DISPATCHER)):
        service.act(worked.id, action, who, now_ms=now - 2 * DAY + 60_000)
    ended = rejected_case(service, now - 3 * DAY, report_id="r-ended")
    old = rejected_case(service, now - 40 * DAY, report_id="r-old")
    alarms = AlarmStore(redis_client)
    alarm = Alarm(id="wl-1|high", device_id="wl-1", kind="water_level", rule_id="high", severity="critical", district="yangshe",
                  attribute="level_m", value=4.2, threshold=4.0, raised_at=now - 600_000, name_zh="水位超警", name_en="Water high")
    alarms.raise_alarm(alarm)
    alarms.acknowledge(alarm.id, "wang", "dispatcher", now - 300_000)
    fill_record(how, redis_client, record_settings)
    assert worker.evict_archived(now) == 1  # `old` left Redis: it is read from the record before and after
    fill_record(how, redis_client, record_settings)
    ids = [worked.id, ended.id, old.id]
    before = _views(client, headers, ids, signed_in)
    assert {c["id"] for c in before["list"]["items"]} == set(ids)  # `old` from the record
    assert len(before["alarms"]["items"] if isinstance(before["alarms"], dict) else before["alarms"]) == 1
    audit_before = audit_entries(redis_client)
    seq_before = int(redis_client.get(keys.CASES_SEQ))

    redis_client.flushall()  # Redis lost, AOF and all
    done = restore(record_settings, redis_client, now_ms=now)

    assert (done.cases, done.open_cases, done.users, done.active_tokens, done.alarms, done.acknowledged) == (2, 1, 1, 1, 1, 1)
    assert _views(client, headers, ids, signed_in) == before
    assert audit_entries(redis_client) == audit_before  # same ids and fields (the detail's JSON: jsonb orders its keys)
    assert int(redis_client.get(keys.CASES_SEQ)) >= seq_before
    assert users.authenticate("wang", "a-long-test-password-1").user is not None
    assert file_case(service, now, report_id="r-old").id == old.id  # the report map came back, archived cases too
    newer = file_case(service, now)
    assert newer.id not in ids
    assert [c.id for c in portal_app.server.extensions["ioc_services"].case_index.open_cases()] == [worked.id, newer.id]


def test_the_indicators_of_a_new_process_count_the_archived_cases_as_before(service, worker, redis_client, record_settings):
    from ioc.adapters.case_index import CaseIndex

    now = int(time.time() * 1000)
    old = rejected_case(service, now - 40 * DAY)
    copy_to_record(redis_client, record_settings.database_url)
    before = {f.id: f for f in CaseIndex(lambda: redis_client).facts().facts}
    assert worker.evict_archived(now) == 1
    after = {f.id: f for f in CaseIndex(lambda: redis_client, archive=CaseArchive(record_settings.database_url)).facts().facts}
    assert after == before and old.id in after


def test_restore_with_force_writes_over_the_cases_there_and_keeps_the_audit_entries_already_there(service, record_settings,
                                                                                                   redis_client):
    case = file_case(service, int(time.time() * 1000))
    copy_to_record(redis_client, record_settings.database_url)
    audit = redis_client.xlen(keys.AUDIT)
    done = restore(record_settings, redis_client, force=True)
    assert (done.cases, done.timeline_entries, done.audit, done.audit_skipped) == (1, 1, 0, audit)
    assert CaseStore(redis_client).timeline(case.id) == service.store.timeline(case.id)
    assert redis_client.xlen(keys.AUDIT) == audit
