"""`/api/v1/reports…` and `/api/v1/indicators?from=&to=` over HTTP on a real record: the XLSX built in
the background, opened with openpyxl, has the report's sheets, headers and numbers exactly as the
JSON; the job's status is visible and ends ready; CSV of a table; permissions."""

from __future__ import annotations

import csv
import io
import time

import openpyxl
import psycopg
import pytest

from ioc.adapters.user_store import Actor
from ioc.domain.case_indicators import indicator_facts, indicators_of
from ioc.reports import jobs, synth
from ioc.reports.monthly import month_bounds

ADMIN = Actor("test", "admin")
MONTH = "2026-08"
DISTRICTS = ("yangshe", "jinfeng", "tangqiao")
DEPARTMENTS = ("water_affairs", "street_lighting", "urban_management")


@pytest.fixture
def filled(database_url):
    now = int(time.time() * 1000)
    start, _ = month_bounds("2025-06")
    items = list(synth.generate(800, start, now - 86_400_000, now, seed=11, districts=DISTRICTS, departments=DEPARTMENTS))
    with psycopg.connect(database_url) as conn:
        synth.ensure_partitions(conn, start, now + 86_400_000)
        synth.write(conn, items, facts=False)
    return items


@pytest.fixture
def client(record_settings, redis_client, filled):
    from ioc.web.app import create_app

    app = create_app(record_settings)
    c = app.server.test_client()
    c.users = app.server.extensions["ioc_users"]
    c.services = app.server.extensions["ioc_services"]
    return c


@pytest.fixture
def tokens(client):
    made = {}
    for name, role in (("leader", "leader"), ("handler", "handler"), ("operator", "operator")):
        _, secret = client.users.create_token(name, [role], ADMIN, department="water_affairs" if role == "handler" else "")
        made[name] = {"Authorization": f"Bearer {secret}"}
    return made


def build(client, tokens, **body):
    answer = client.post("/api/v1/reports", json={"kind": "monthly", "month": MONTH, **body}, headers=tokens["leader"])
    assert answer.status_code == 202, answer.get_json()
    job = jobs.wait(client.services.redis, answer.get_json()["id"], 60)
    return answer.get_json(), job


def test_the_xlsx_has_a_sheet_per_section_with_the_jsons_headers_and_numbers(client, tokens):
    report = client.get(f"/api/v1/reports/monthly?month={MONTH}", headers=tokens["leader"]).get_json()
    started, job = build(client, tokens)
    assert job["status"] == "ready", job
    answer = client.get(started["file_url"], headers=tokens["leader"])
    assert answer.status_code == 200 and answer.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(answer.data))
    assert book.sheetnames == [s["title"] for s in report["sections"]]
    for section in report["sections"]:
        sheet = book[section["title"]]
        rows = list(sheet.iter_rows(values_only=True))
        assert list(rows[0]) == section["columns"], section["key"]
        body = [list(r) for r in rows[1:]]
        assert body == section["rows"], section["key"]


def test_the_summary_sheet_carries_a_native_chart(client, tokens):
    started, _ = build(client, tokens)
    book = openpyxl.load_workbook(io.BytesIO(client.get(started["file_url"], headers=tokens["leader"]).data))
    assert book["综合指标"]._charts or book["部门排名"]._charts  # noqa: SLF001 - openpyxl keeps read charts here


def test_the_jobs_status_is_readable_and_ends_ready_with_full_progress(client, tokens):
    started, _ = build(client, tokens)
    status = client.get(started["status_url"], headers=tokens["leader"]).get_json()
    assert (status["status"], status["progress"], status["what"]) == ("ready", 1.0, MONTH)


def test_a_report_not_ready_is_a_409_and_an_unknown_one_a_404(client, tokens):
    assert client.get("/api/v1/reports/20260101000000-0000abcd", headers=tokens["leader"]).status_code == 404
    job_id = jobs.start(client.services.redis, client.services.settings.data_dir, lambda p: time.sleep(2) or b"x",
                        "monthly", MONTH, "leader", "x.xlsx")
    assert client.get(f"/api/v1/reports/{job_id}/file", headers=tokens["leader"]).status_code == 409
    jobs.wait(client.services.redis, job_id, 10)


def test_a_job_whose_worker_stopped_reads_as_failed(client):
    redis = client.services.redis
    jobs._set(redis, "20260101000000-deadbeef", status="running", progress=0.3)  # noqa: SLF001 - a dead worker's last word
    redis.hset("ioc:reports:job:20260101000000-deadbeef", "heartbeat", 1)
    assert jobs.status(redis, "20260101000000-deadbeef")["status"] == "failed"


def test_a_section_downloads_as_csv_with_the_same_rows(client, tokens):
    report = client.get(f"/api/v1/reports/monthly?month={MONTH}", headers=tokens["leader"]).get_json()
    answer = client.get(f"/api/v1/reports/monthly.csv?month={MONTH}&section=districts", headers=tokens["leader"])
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
    districts = next(s for s in report["sections"] if s["key"] == "districts")
    assert rows[0] == districts["columns"] and len(rows) - 1 == len(districts["rows"])


def test_only_leaders_dispatchers_and_admins_get_reports(client, tokens):
    assert client.get(f"/api/v1/reports/monthly?month={MONTH}", headers=tokens["handler"]).status_code == 403
    assert client.post("/api/v1/reports", json={"month": MONTH}, headers=tokens["operator"]).status_code == 403


def test_a_malformed_month_is_a_400_naming_it(client, tokens):
    answer = client.get("/api/v1/reports/monthly?month=2026-13", headers=tokens["leader"])
    assert answer.status_code == 400 and answer.get_json()["field"] == "month"


def test_indicators_of_any_period_from_the_record_equal_the_domains(client, tokens, filled):
    start, end = month_bounds("2026-05")
    body = client.get("/api/v1/indicators?from=2026-05-01&to=2026-06-01&by=district", headers=tokens["leader"]).get_json()
    city, groups = indicators_of([indicator_facts(c, e) for c, e in filled], start, end, int(time.time() * 1000) + 1,
                                 by=("district",))
    assert body["overall"] == city.to_dict()
    assert body["groups"]["district"] == {k: v.to_dict() for k, v in groups["district"].items()}
    assert set(body["previous"]) >= {"overall", "groups"} and "last_year" in body


def test_a_linked_events_post_event_report_is_an_xlsx_of_its_versions_and_audit(client, tokens, record_settings):
    with psycopg.connect(record_settings.database_url) as conn:
        for table in ("event_versions", "audit"):
            conn.execute("SELECT ioc_ensure_partition(%s, '2026-08-03T00:00:00Z', 'month')", (table,))
        conn.execute("""INSERT INTO events (id, version, plan, level, status, started_at, ended_at, updated_at, data)
                        VALUES ('EV-20260803-001', 3, 'flood', 'III', 'closed', '2026-08-03T02:00Z', '2026-08-03T09:00Z',
                                '2026-08-03T09:00Z', '{"title": "暴雨防汛"}')""")
        for version, at, level, status in ((1, "02:00", "IV", "active"), (2, "03:00", "III", "active"),
                                           (3, "09:00", "III", "closed")):
            conn.execute("""INSERT INTO event_versions (event_id, version, at, status, level, stream_id, data)
                            VALUES ('EV-20260803-001', %s, %s, %s, %s, %s, '{}')""",
                         (version, f"2026-08-03T{at}Z", status, level, f"{version}-0"))
        conn.execute("""INSERT INTO audit (stream_id, at, actor, role, action, target, outcome)
                        VALUES ('1-0', '2026-08-03T03:00Z', 'wang', 'leader', 'event.level', 'EV-20260803-001', 'ok')""")
    answer = client.post("/api/v1/reports", json={"kind": "event", "event": "EV-20260803-001"}, headers=tokens["leader"])
    job = jobs.wait(client.services.redis, answer.get_json()["id"], 60)
    assert job["status"] == "ready", job
    book = openpyxl.load_workbook(io.BytesIO(client.get(answer.get_json()["file_url"], headers=tokens["leader"]).data))
    assert book.sheetnames == ["事件概况", "事件过程", "操作记录"]
    assert [r[2] for r in book["事件过程"].iter_rows(min_row=2, values_only=True)] == ["IV", "III", "III"]
    assert list(book["操作记录"].iter_rows(min_row=2, values_only=True))[0][1:] == ("wang", "event.level", "ok")


def test_the_report_page_opens_on_the_last_whole_month_when_the_record_holds_its_cases(filled, database_url):
    from ioc.reports.monthly import month_of, opening_month

    with psycopg.connect(database_url) as conn:
        assert opening_month(conn, int(time.time() * 1000)) == month_of(int(time.time() * 1000), 1)


def test_a_record_begun_this_month_opens_the_report_on_the_current_month(database_url):
    from ioc.reports.monthly import opening_month

    march_10 = int(time.mktime((2026, 3, 10, 12, 0, 0, 0, 0, -1)) * 1000)
    with psycopg.connect(database_url) as conn:  # the schema, no case yet
        assert opening_month(conn, march_10) == "2026-03"
