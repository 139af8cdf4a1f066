"""`/api/v1/cases…` and Open311 GeoReport v2 over HTTP (the Flask app with a real Redis):
the workflow through the API with tokens per role, idempotent intake, conflicts, departments
seeing only their tasks, and the four Open311 endpoints."""

from __future__ import annotations

import pytest

from ioc.adapters.user_store import Actor

YANGSHE = {"lat": 31.872, "lon": 120.556}
ADMIN = Actor("test", "admin")


@pytest.fixture
def tokens(portal_client):
    """A bearer header (and the bare key) per role: handlers of two departments, two reporting systems."""
    made = {}
    for name, roles, department in (("dispatcher", ["dispatcher"], ""), ("inspector", ["inspector"], ""),
                                    ("leader", ["leader"], ""), ("operator", ["operator"], ""),
                                    ("water", ["handler"], "water_affairs"), ("lights", ["handler"], "street_lighting"),
                                    ("hotline", ["reporter"], ""), ("app", ["reporter"], "")):
        _, secret = portal_client.users.create_token(name, roles, ADMIN, department=department)
        made[name] = {"Authorization": f"Bearer {secret}"}
        made[name + "_key"] = secret
    return made


def new_case(portal_client, tokens, who="dispatcher", **extra):
    body = {"category": "10101", **YANGSHE, "description": "井盖丢失", **extra}
    return portal_client.post("/api/v1/cases", json=body, headers=tokens[who])


def act(portal_client, tokens, who, case_id, action, **params):
    return portal_client.post(f"/api/v1/cases/{case_id}/actions", json={"action": action, **params}, headers=tokens[who])


def test_a_dispatcher_enters_a_phone_report_as_a_case(portal_client, tokens):
    answer = new_case(portal_client, tokens)
    assert answer.status_code == 201
    case = answer.get_json()
    assert (case["stage"], case["source"], case["district"], case["suggested_department"]) == \
        ("reported", "phone", "yangshe", "water_affairs")


def test_a_case_runs_from_report_to_close_through_the_api_as_the_right_roles(portal_client, tokens):
    case_id = new_case(portal_client, tokens).get_json()["id"]
    for who, action, params in (("dispatcher", "accept", {}), ("inspector", "verify", {}), ("dispatcher", "dispatch", {}),
                                ("water", "acknowledge", {}), ("water", "handle", {"note": "已更换"}),
                                ("inspector", "check_pass", {}), ("dispatcher", "close", {})):
        answer = act(portal_client, tokens, who, case_id, action, **params)
        assert answer.status_code == 200, (action, answer.get_json())
    case = portal_client.get(f"/api/v1/cases/{case_id}", headers=tokens["leader"]).get_json()
    assert case["stage"] == "closed" and not case["open"]
    assert [e["action"] for e in case["timeline"]] == ["report", "accept", "verify", "dispatch", "acknowledge", "handle",
                                                       "check_pass", "close"]


def test_the_same_report_id_twice_makes_one_case(portal_client, tokens):
    first = new_case(portal_client, tokens, report_id="12345-2026-0001")
    again = new_case(portal_client, tokens, report_id="12345-2026-0001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"] and again.get_json()["created"] is False


LONG_A, LONG_B = "k" * 100 + "a" * 28, "k" * 100 + "b" * 28  # 128 characters each, the same first 100
NOT_LINKS = ["/x", "//evil.example/x", "https:///x", "javascript:alert(1)", "ftp://files.example/1.jpg"]


def total_cases(portal_client, tokens) -> int:
    return portal_client.get("/api/v1/cases?open=0", headers=tokens["leader"]).get_json()["total"]


def test_report_ids_of_128_characters_are_kept_whole_so_two_that_share_100_make_two_cases(portal_client, tokens):
    first, second = new_case(portal_client, tokens, report_id=LONG_A), new_case(portal_client, tokens, report_id=LONG_B)
    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.get_json()["report_id"], second.get_json()["report_id"]) == (LONG_A, LONG_B)


def test_a_report_id_over_128_characters_is_a_400_naming_it_and_stores_nothing(portal_client, tokens):
    answer = new_case(portal_client, tokens, report_id="r" * 129)
    assert answer.status_code == 400 and answer.get_json()["field"] == "report_id"
    assert total_cases(portal_client, tokens) == 0


def test_an_integer_report_id_is_taken_as_the_mqtt_intake_takes_it(portal_client, tokens):
    first = new_case(portal_client, tokens, report_id=20261125001)
    again = new_case(portal_client, tokens, report_id="20261125001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["report_id"] == "20261125001" and again.get_json()["id"] == first.get_json()["id"]


@pytest.mark.parametrize("field, limit", [("reporter", 100), ("address", 200)])
def test_a_reporter_or_address_over_its_limit_is_refused_never_cut(portal_client, tokens, field, limit):
    whole = new_case(portal_client, tokens, **{field: "王" * limit})
    assert whole.status_code == 201 and whole.get_json()[field] == "王" * limit
    answer = new_case(portal_client, tokens, **{field: "王" * (limit + 1)})
    assert answer.status_code == 400 and answer.get_json()["field"] == field
    assert total_cases(portal_client, tokens) == 1


@pytest.mark.parametrize("link", NOT_LINKS)
def test_media_that_are_not_absolute_http_links_with_a_host_are_a_400(portal_client, tokens, link):
    answer = new_case(portal_client, tokens, media=["https://img.example/1.jpg", link])
    assert answer.status_code == 400 and answer.get_json()["field"] == "media"
    assert total_cases(portal_client, tokens) == 0


@pytest.mark.parametrize("body, field", [
    ({"lat": 31.87, "lon": 120.55}, "category"), ({"category": "10101", "lon": 120.55}, "lat"),
    ({"category": "nope", **YANGSHE}, "category"), ({"category": "10101", "lat": 39.9, "lon": 116.4}, "lat"),
    ({"category": "10101", **YANGSHE, "description": "x" * 4001}, "description"),
    ({"category": "10101", **YANGSHE, "description": 42}, "description"),
])
def test_a_bad_report_gets_400_with_the_field_and_no_case(portal_client, tokens, body, field):
    answer = portal_client.post("/api/v1/cases", json=body, headers=tokens["dispatcher"])
    assert answer.status_code == 400 and answer.get_json()["field"] == field
    assert portal_client.get("/api/v1/cases", headers=tokens["leader"]).get_json()["total"] == 0


def test_an_action_on_a_stale_version_is_a_409_conflict(portal_client, tokens):
    case = new_case(portal_client, tokens).get_json()
    assert act(portal_client, tokens, "dispatcher", case["id"], "accept", version=case["version"]).status_code == 200
    answer = act(portal_client, tokens, "dispatcher", case["id"], "reject", version=case["version"], note="重复")
    assert answer.status_code == 409 and answer.get_json()["version"] == case["version"] + 1


def test_a_wrong_role_gets_403_and_the_case_is_unchanged(portal_client, tokens):
    case = new_case(portal_client, tokens).get_json()
    assert act(portal_client, tokens, "inspector", case["id"], "accept").status_code == 403
    assert portal_client.get(f"/api/v1/cases/{case['id']}", headers=tokens["leader"]).get_json()["version"] == case["version"]


def test_a_department_sees_only_its_own_tasks(portal_client, tokens):
    case_id = new_case(portal_client, tokens).get_json()["id"]
    for who, action in (("dispatcher", "accept"), ("inspector", "verify"), ("dispatcher", "dispatch")):
        act(portal_client, tokens, who, case_id, action)
    assert portal_client.get("/api/v1/cases", headers=tokens["water"]).get_json()["total"] == 1
    assert portal_client.get("/api/v1/cases", headers=tokens["lights"]).get_json()["total"] == 0
    assert portal_client.get(f"/api/v1/cases/{case_id}", headers=tokens["lights"]).status_code == 404
    assert act(portal_client, tokens, "lights", case_id, "handle").status_code == 404




def test_the_catalog_lists_classes_departments_and_actions(portal_client, tokens):
    catalog = portal_client.get("/api/v1/catalog", headers=tokens["operator"]).get_json()
    assert len(catalog["classes"]) >= 20 and any(c["code"] == "10105" for c in catalog["classes"])
    assert catalog["actions"]["dispatch"]["roles"] == ["dispatcher"]


def test_an_operator_may_not_list_cases(portal_client, tokens):
    assert portal_client.get("/api/v1/cases", headers=tokens["operator"]).status_code == 403


# ---- Open311 GeoReport v2 -----------------------------------------------------------------------

def test_open311_services_lists_the_catalog(portal_client, tokens):
    services = portal_client.get(f"/open311/v2/services.json?api_key={tokens['hotline_key']}").get_json()
    codes = {s["service_code"] for s in services}
    assert {"10101", "10105", "20105", "20301", "20404"} <= codes
    assert all({"service_code", "service_name", "metadata", "type"} <= set(s) for s in services)


def test_open311_post_files_a_request_and_get_follows_it(portal_client, tokens):
    answer = portal_client.post("/open311/v2/requests.json", data={
        "api_key": tokens["hotline_key"], "service_code": "10105", "lat": "31.872", "long": "120.556",
        "description": "路灯不亮", "address_string": "杨舍镇 人民路", "first_name": "张", "email": "z@example.cn"})
    assert answer.status_code == 201
    (filed,) = answer.get_json()
    request_id = filed["service_request_id"]
    (one,) = portal_client.get(f"/open311/v2/requests/{request_id}.json?api_key={tokens['hotline_key']}").get_json()
    assert (one["status"], one["service_code"], one["lat"], one["long"]) == ("open", "10105", 31.872, 120.556)
    assert one["expected_datetime"] and one["requested_datetime"].endswith("+08:00")
    listed = portal_client.get(f"/open311/v2/requests.json?status=open&api_key={tokens['hotline_key']}").get_json()
    assert [r["service_request_id"] for r in listed] == [request_id]


def test_open311_a_retried_post_with_the_same_idempotency_key_files_once(portal_client, tokens):
    form = {"api_key": tokens["hotline_key"], "service_code": "10105", "lat": "31.872", "long": "120.556"}
    first = portal_client.post("/open311/v2/requests.json", data=form, headers={"Idempotency-Key": "app-77"}).get_json()
    again = portal_client.post("/open311/v2/requests.json", data=form, headers={"Idempotency-Key": "app-77"}).get_json()
    assert first[0]["service_request_id"] == again[0]["service_request_id"]


def open311_post(portal_client, tokens, headers=None, **form):
    return portal_client.post("/open311/v2/requests.json", headers=headers or {}, data={
        "api_key": tokens["hotline_key"], "service_code": "10105", "lat": "31.872", "long": "120.556", **form})


def open311_error(answer) -> str:
    assert answer.status_code == 400, answer.get_json()
    (error,) = answer.get_json()
    assert error["code"] == 400
    return error["description"]


def test_open311_idempotency_keys_of_128_characters_are_kept_whole(portal_client, tokens):
    first = open311_post(portal_client, tokens, {"Idempotency-Key": LONG_A}).get_json()[0]["service_request_id"]
    second = open311_post(portal_client, tokens, {"Idempotency-Key": LONG_B}).get_json()[0]["service_request_id"]
    retried = open311_post(portal_client, tokens, {"Idempotency-Key": LONG_A}).get_json()[0]["service_request_id"]
    assert first != second and retried == first
    by_field = open311_post(portal_client, tokens, report_id=LONG_B).get_json()[0]["service_request_id"]
    assert by_field == second


def test_open311_an_idempotency_key_over_128_characters_is_a_400_naming_the_header(portal_client, tokens):
    assert open311_error(open311_post(portal_client, tokens, {"Idempotency-Key": "k" * 129})).startswith("Idempotency-Key")
    assert open311_error(open311_post(portal_client, tokens, report_id="k" * 129)).startswith("report_id")
    assert total_cases(portal_client, tokens) == 0


def test_open311_a_reporter_over_100_characters_is_refused_never_cut(portal_client, tokens):
    assert "first_name" in open311_error(open311_post(portal_client, tokens, first_name="张" * 60, last_name="三" * 60))
    assert open311_error(open311_post(portal_client, tokens, address_string="路" * 201)).startswith("address_string")
    assert total_cases(portal_client, tokens) == 0


@pytest.mark.parametrize("link", NOT_LINKS)
def test_open311_a_media_url_that_is_not_an_absolute_http_link_is_a_400(portal_client, tokens, link):
    assert open311_error(open311_post(portal_client, tokens, media_url=link)).startswith("media_url")
    assert total_cases(portal_client, tokens) == 0


@pytest.mark.parametrize("form, words", [
    ({"lat": "31.872", "long": "120.556"}, "service_code"), ({"service_code": "10105", "long": "120.556"}, "lat"),
    ({"service_code": "99999", "lat": "31.872", "long": "120.556"}, "service_code"),
    ({"service_code": "10105", "lat": "north", "long": "120.556"}, "lat"),
    ({"service_code": "10105", "lat": "39.9", "long": "116.4"}, "outside"),
])
def test_open311_errors_are_a_list_with_code_and_description(portal_client, tokens, form, words):
    answer = portal_client.post("/open311/v2/requests.json", data={"api_key": tokens["hotline_key"], **form})
    assert answer.status_code == 400
    (error,) = answer.get_json()
    assert error["code"] == 400 and words in error["description"]


def test_open311_needs_an_api_key(portal_client):
    answer = portal_client.get("/open311/v2/services.json")
    assert answer.status_code == 401 and answer.get_json()[0]["code"] == 401
    assert portal_client.post("/open311/v2/requests.json", data={"api_key": "ioc_bad_key", "service_code": "10105"}).status_code == 401


def test_open311_a_reporting_system_follows_only_what_it_filed(portal_client, tokens):
    form = {"service_code": "10105", "lat": "31.872", "long": "120.556"}
    mine = portal_client.post("/open311/v2/requests.json", data={"api_key": tokens["hotline_key"], **form}).get_json()[0]
    other = portal_client.post("/open311/v2/requests.json", data={"api_key": tokens["app_key"], **form}).get_json()[0]
    assert portal_client.get(f"/open311/v2/requests/{other['service_request_id']}.json?api_key={tokens['hotline_key']}").status_code == 404
    listed = portal_client.get(f"/open311/v2/requests.json?api_key={tokens['hotline_key']}").get_json()
    assert [r["service_request_id"] for r in listed] == [mine["service_request_id"]]


def test_open311_a_closed_case_reads_closed(portal_client, tokens):
    case_id = new_case(portal_client, tokens).get_json()["id"]
    act(portal_client, tokens, "dispatcher", case_id, "reject", note="非城管问题")
    (one,) = portal_client.get(f"/open311/v2/requests/{case_id}.json", headers=tokens["leader"]).get_json()
    assert one["status"] == "closed" and "不予受理" in one["status_notes"]


def test_the_indicators_of_this_month_rank_the_departments(portal_client, tokens):
    case_id = new_case(portal_client, tokens).get_json()["id"]
    for who, action, params in (("dispatcher", "accept", {}), ("inspector", "verify", {}), ("dispatcher", "dispatch", {}),
                                ("water", "handle", {}), ("inspector", "check_pass", {}), ("dispatcher", "close", {})):
        answer = act(portal_client, tokens, who, case_id, action, **params)
        assert answer.status_code == 200, (action, answer.get_json())
    body = portal_client.get("/api/v1/indicators?period=month&group=department", headers=tokens["leader"]).get_json()
    assert body["overall"]["closed"] == 1 and body["groups"]["water_affairs"]["closed_on_time"] == 1
    assert body["ranking"][0]["department"] == "water_affairs" and "结案率" in str(body["formulas"])
    assert portal_client.get("/api/v1/indicators?period=fortnight", headers=tokens["leader"]).status_code == 400


def test_a_case_closed_in_the_millisecond_the_indicators_are_asked_is_counted(portal_client, tokens, monkeypatch):
    from types import SimpleNamespace

    frozen = SimpleNamespace(time=lambda: 1_780_000_000.123)  # every action and the request in one millisecond
    monkeypatch.setattr("ioc.casework.service.time", frozen)
    monkeypatch.setattr("ioc.web.cases_api.time", frozen)
    case_id = new_case(portal_client, tokens).get_json()["id"]
    run_steps(portal_client, tokens, case_id, TO_DISPATCHED + [("water", "handle", {}), ("inspector", "check_pass", {}),
                                                               ("dispatcher", "close", {})])
    body = portal_client.get("/api/v1/indicators?period=month&group=department", headers=tokens["leader"]).get_json()
    assert (body["overall"]["registered"], body["overall"]["closed"], body["overall"]["closed_on_time"]) == (1, 1, 1)


def run_steps(portal_client, tokens, case_id, steps):
    for who, action, params in steps:
        answer = act(portal_client, tokens, who, case_id, action, **params)
        assert answer.status_code == 200, (who, action, answer.get_json())
    return portal_client.get(f"/api/v1/cases/{case_id}", headers=tokens["leader"]).get_json()


TO_DISPATCHED = [("dispatcher", "accept", {}), ("inspector", "verify", {}), ("dispatcher", "dispatch", {})]


@pytest.mark.parametrize("branch, steps, expected", [
    ("not accepted", [("dispatcher", "reject", {"note": "非城管职责"})], {"stage": "rejected", "open": False}),
    ("voided", [("dispatcher", "accept", {}), ("inspector", "void", {"note": "现场无此问题"})], {"stage": "voided"}),
    ("returned and re-dispatched", TO_DISPATCHED + [("water", "return", {"note": "非本部门职责"}),
                                                    ("dispatcher", "dispatch", {"department": "water_affairs"}),
                                                    ("water", "handle", {}), ("inspector", "check_pass", {}),
                                                    ("dispatcher", "close", {})], {"stage": "closed", "return_count": 1}),
    ("rework", TO_DISPATCHED + [("water", "handle", {}), ("inspector", "check_fail", {"note": "未修复"}),
                                ("water", "handle", {}), ("inspector", "check_pass", {}), ("dispatcher", "close", {})],
     {"stage": "closed", "rework_count": 1}),
    ("deferral approved", TO_DISPATCHED + [("water", "request_deferral", {"note": "等待配件", "hours": 8}),
                                           ("dispatcher", "approve_deferral", {})], {"deferral_count": 1, "deferred_hours": 8}),
    ("deferral denied", TO_DISPATCHED + [("water", "request_deferral", {"note": "等待配件", "hours": 8}),
                                         ("dispatcher", "deny_deferral", {"note": "先临时处置"})], {"deferral_count": 0}),
    ("urged", [("leader", "urge", {"note": "请加快"})], {"stage": "reported", "urge_count": 1}),
])
def test_each_branch_of_the_workflow_runs_through_the_api(portal_client, tokens, branch, steps, expected):
    case_id = new_case(portal_client, tokens).get_json()["id"]
    case = run_steps(portal_client, tokens, case_id, steps)
    assert {k: case[k] for k in expected} == expected
    assert [e["action"] for e in case["timeline"]][1:] == [action for _who, action, _p in steps]


NOTE_NEEDED = {  # action -> (the steps to a stage it may be taken from, who takes it)
    "reject": ([], "dispatcher"),
    "void": ([("dispatcher", "accept", {})], "inspector"),
    "return": (TO_DISPATCHED, "water"),
    "request_deferral": (TO_DISPATCHED, "water"),
    "deny_deferral": (TO_DISPATCHED + [("water", "request_deferral", {"note": "等待配件", "hours": 8})], "dispatcher"),
    "check_fail": (TO_DISPATCHED + [("water", "handle", {})], "inspector"),
}


@pytest.mark.parametrize("action", sorted(NOTE_NEEDED))
def test_a_missing_note_is_a_400_naming_the_note(portal_client, tokens, action):
    steps, who = NOTE_NEEDED[action]
    case_id = new_case(portal_client, tokens).get_json()["id"]
    before = run_steps(portal_client, tokens, case_id, steps)
    answer = act(portal_client, tokens, who, case_id, action, **({"hours": 8} if action == "request_deferral" else {}))
    assert answer.status_code == 400 and answer.get_json()["field"] == "note", answer.get_json()
    assert portal_client.get(f"/api/v1/cases/{case_id}", headers=tokens["leader"]).get_json()["version"] == before["version"]


@pytest.mark.parametrize("hours", [0, 721, None])
def test_a_deferral_of_no_hours_or_too_many_is_a_400_naming_the_hours(portal_client, tokens, hours):
    case_id = new_case(portal_client, tokens).get_json()["id"]
    run_steps(portal_client, tokens, case_id, TO_DISPATCHED)
    answer = act(portal_client, tokens, "water", case_id, "request_deferral", note="等待配件",
                 **({"hours": hours} if hours is not None else {}))
    assert answer.status_code == 400 and answer.get_json()["field"] == "hours", answer.get_json()


def test_a_duplicate_merges_into_its_master_through_the_api(portal_client, tokens):
    master = new_case(portal_client, tokens).get_json()
    duplicate = new_case(portal_client, tokens, description="同一井盖").get_json()
    assert duplicate["possible_duplicates"] == [master["id"]]
    case = run_steps(portal_client, tokens, duplicate["id"], [("dispatcher", "merge", {"master_id": master["id"]})])
    assert (case["stage"], case["master_id"]) == ("merged", master["id"])


# ---- unknown routes and ids under /api/ and /open311/ ------------------------------------------------

@pytest.fixture
def signed_in(portal_client):
    """The portal client with a leader's browser session (cookie)."""
    from tests.conftest import add_test_user

    name, password = add_test_user(portal_client.users, "leader")
    assert portal_client.post("/login", data={"name": name, "password": password}).status_code == 302
    return portal_client


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/api/v1/cases/ZJG%2F1", "/api/v1/no-such-route", "/api/", "/api/v2/cases"])
def test_an_unknown_api_route_or_id_is_a_json_404_for_a_signed_in_browser(signed_in, path, method):
    answer = signed_in.open(path, method=method)
    assert (answer.status_code, answer.mimetype) == (404, "application/json"), answer.get_data(as_text=True)[:200]
    body = answer.get_json()
    assert body["error"] == "not_found" and body["message"]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize("path", ["/open311/v2/no-such.json", "/open311/v2/requests/ZJG%2F1.json", "/open311/"])
def test_an_unknown_open311_route_or_id_is_the_standard_error_list_404(portal_client, tokens, path, method):
    answer = portal_client.open(path, method=method, headers=tokens["leader"])
    assert (answer.status_code, answer.mimetype) == (404, "application/json"), answer.get_data(as_text=True)[:200]
    (error,) = answer.get_json()
    assert error["code"] == 404 and error["description"]


def test_a_known_api_route_asked_with_another_method_is_a_json_405(signed_in):
    answer = signed_in.delete("/api/v1/cases")
    assert (answer.status_code, answer.mimetype) == (405, "application/json")
    assert answer.get_json()["error"] == "method_not_allowed" and set(answer.headers["Allow"].split(", ")) == {"GET", "POST"}


@pytest.mark.parametrize("path", ["/api/v1/no-such-route", "/api/v1/cases/ZJG%2F1"])
def test_an_unknown_api_route_still_answers_401_to_anonymous_callers(portal_client, path):
    answer = portal_client.get(path)
    assert answer.status_code == 401 and answer.get_json()["error"] == "unauthorized"
    assert portal_client.get("/open311/v2/no-such.json").status_code == 401


# ---- malformed query parameters -------------------------------------------------------------------

@pytest.mark.parametrize("path, field", [
    ("/api/v1/cases?stage=flying", "stage"), ("/api/v1/cases?overdue=maybe", "overdue"), ("/api/v1/cases?urgent=perhaps", "urgent"),
    ("/api/v1/cases?open=sometimes", "open"), ("/api/v1/cases?district=atlantis", "district"),
    ("/api/v1/cases?class_code=99999", "class_code"), ("/api/v1/cases?department=nasa", "department"),
    ("/api/v1/cases?source=../x", "source"), ("/api/v1/cases?limit=lots", "limit"), ("/api/v1/cases?offset=-1", "offset"),
    ("/api/v1/sensors?kind=spaceship", "kind"), ("/api/v1/sensors?district=atlantis", "district"),
    ("/api/v1/sensors?state=asleep", "state"), ("/api/v1/sensors?limit=0", "limit"),
    ("/api/v1/alarms?severity=apocalyptic", "severity"), ("/api/v1/alarms?district=atlantis", "district"),
    ("/api/v1/districts?lang=fr", "lang"),
    ("/api/v1/audit?action=nonsense", "action"), ("/api/v1/audit?before=yesterday", "before"), ("/api/v1/audit?since_ms=soon", "since_ms"),
    ("/api/v1/indicators?period=fortnight", "period"), ("/api/v1/indicators?group=mood", "group"),
    ("/api/v1/indicators?offset=soon", "offset"), ("/api/v1/indicators?period=year&offset=-99999", "offset"),
])
def test_a_malformed_query_parameter_is_a_400_naming_it(portal_client, tokens, path, field):
    answer = portal_client.get(path, headers=tokens["leader"])
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
    body = answer.get_json()
    assert (body["error"], body["field"]) == ("bad_request", field) and body["message"]


def test_well_formed_case_filters_still_filter(portal_client, tokens):
    case_id = new_case(portal_client, tokens).get_json()["id"]  # 10101 manhole cover missing: urgent
    for query, total in (("stage=reported&district=yangshe&class_code=10101&source=phone&urgent=1&overdue=0&open=1", 1),
                         ("stage=accepted", 0), ("overdue=1", 0), ("open=0&department=water_affairs", 0)):
        body = portal_client.get(f"/api/v1/cases?{query}", headers=tokens["leader"]).get_json()
        assert body["total"] == total, (query, body)
    assert portal_client.get("/api/v1/cases?urgent=1", headers=tokens["leader"]).get_json()["items"][0]["id"] == case_id


@pytest.mark.parametrize("query, words", [("service_code=99999", "service_code"), ("status=maybe", "status"),
                                          ("start_date=yesterday", "start_date")])
def test_open311_a_malformed_query_parameter_is_a_400_naming_it(portal_client, tokens, query, words):
    answer = portal_client.get(f"/open311/v2/requests.json?{query}", headers=tokens["leader"])
    assert answer.status_code == 400
    (error,) = answer.get_json()
    assert error["code"] == 400 and error["description"].startswith(words)


def test_indicators_still_being_prepared_are_a_503_with_retry_after(settings, redis_client, portal_client, tokens):
    from ioc.web.app import create_app
    from ioc.web.services import Services

    services = Services.from_settings(settings)
    services.case_index.load_wait_s = 0  # the first read of every case has not finished when the request asks
    client = create_app(settings, services).server.test_client()
    answer = client.get("/api/v1/indicators?period=month", headers=tokens["leader"])
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.get_json()["error"] == "unavailable"
