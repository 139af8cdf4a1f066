"""Dash callback requests forged by hand (`POST /_dash-update-component`) against the real web
app (Flask test client, private Redis): anonymous gets 401; a callback of a view the role may not
see 403 with no data; an unknown output 403; a request whose shape is not the callback's
(missing keys, wrong types, wrong counts, `changedPropIds` lies, injected pattern ids, huge or
deeply nested bodies) 400 JSON — never a 500, never a traceback, never another role's data."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ioc.adapters.embedded import mqtt_broker, redis_server
from ioc.settings import Settings
from ioc.web.app import create_app
from tests.conftest import add_test_user

pytestmark = [pytest.mark.integration]

ENDPOINT = "/_dash-update-component"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz-dash")
    redis, broker = redis_server(tmp / "redis").start(), mqtt_broker(tmp / "mqtt").start()
    app = create_app(Settings.from_env(env={}, redis_url=redis.url, mqtt_url=broker.url, data_dir=tmp,
                                       secret_key="fuzz-dash-secret-key-0123456789"))
    users = app.server.extensions["ioc_users"]
    clients = {"anonymous": app.server.test_client()}
    for role in ("operator", "handler", "admin", "dispatcher"):
        name, password = add_test_user(users, role, department="water_affairs" if role == "handler" else "")
        client = app.server.test_client()
        assert client.post("/login", json={"name": name, "password": password}).status_code == 302
        clients[role] = client
    yield app, clients
    broker.stop()
    redis.stop()


@pytest.fixture(scope="module")
def deps(web):
    app, clients = web
    return {d["output"]: d for d in clients["admin"].get("/_dash-dependencies").get_json()}


def body_for(dep: dict, value=None) -> dict:
    """What the renderer posts for `dep` when its first input changes (values: `value`)."""
    def entry(d):
        if d["id"].startswith("{"):
            pattern = json.loads(d["id"])
            return [{"id": {k: ("x" if v == ["ALL"] else v) for k, v in pattern.items()}, "property": d["property"], "value": value}]
        return {"id": d["id"], "property": d["property"], "value": value}

    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]} for o in dep["output"].strip(".").split("...")]
    return {"output": dep["output"], "outputs": outputs[0] if len(outputs) == 1 else outputs,
            "inputs": [entry(d) for d in dep["inputs"]], "state": [entry(d) for d in dep["state"]],
            "changedPropIds": [f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"] if dep["inputs"] else []}


def find(deps, start: str) -> dict:
    return next(d for o, d in deps.items() if o.startswith(start))


def post(client, body=None, raw: bytes | None = None, content_type="application/json"):
    return client.post(ENDPOINT, data=raw if raw is not None else json.dumps(body), content_type=content_type)


def assert_refusal(response, statuses=(400, 401, 403)):
    text = response.get_data(as_text=True)
    assert response.status_code in statuses, (response.status_code, text[:300])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "message"} and "Traceback" not in text and 'File "' not in text
    return body


# ---- forged requests ---------------------------------------------------------------------------------

def test_a_valid_request_for_a_view_the_role_may_see_runs(web, deps):
    _app, clients = web
    response = post(clients["operator"], body_for(find(deps, "..value-devices.children")))
    assert response.status_code == 200 and "response" in response.get_json()


def test_anonymous_gets_401_for_anything_even_garbage(web, deps):
    _app, clients = web
    for body in (body_for(find(deps, "..value-devices.children")), {"output": 5}, [1]):
        assert_refusal(post(clients["anonymous"], body), (401,))
    assert_refusal(post(clients["anonymous"], raw=b"[" * 100_000), (401,))


@pytest.mark.parametrize("role, start", [
    ("handler", "..value-devices.children"),  # data intake: operator, leader, dispatcher, admin
    ("operator", "..admin-users-grid.rowData"),  # users and tokens: admin only
    ("admin", "..value-kpi_online.children"),  # the big screen: not an admin's
    ("operator", "..case-title.children"),  # a case page: case:read
    ("handler", "..audit-grid.rowData"),
])
def test_a_callback_of_a_view_the_role_may_not_see_is_403_without_data(web, deps, role, start):
    _app, clients = web
    body = assert_refusal(post(clients[role], body_for(find(deps, start))), (403,))
    assert body["error"] == "forbidden"


MALFORMED = {
    "not json": (None, b"{{{"),
    "json array": ([1, 2], None),
    "empty object": ({}, None),
    "output number": ({"output": 5}, None),
    "output unknown": ({"output": "no-such.children", "outputs": {"id": "no-such", "property": "children"}, "inputs": []}, None),
    "output with injected pattern": ({"output": '{"id":{"$ne":1},"type":"ack"}.n_clicks'}, None),
    "deep nesting": (None, b'{"output": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    "unterminated deep nesting": (None, b"[" * 200_000),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
@pytest.mark.parametrize("role", ["operator", "admin"])
def test_a_body_that_is_no_callback_request_is_refused(web, role, name):
    _app, clients = web
    body, raw = MALFORMED[name]
    assert_refusal(post(clients[role], body, raw), (400, 403))


def mutations(dep: dict) -> dict:
    good = body_for(dep)
    first = dep["inputs"][0]
    return {
        "missing inputs": {k: v for k, v in good.items() if k != "inputs"},
        "missing outputs": {k: v for k, v in good.items() if k != "outputs"},
        "inputs a number": {**good, "inputs": 5},
        "inputs of numbers": {**good, "inputs": [1] * len(good["inputs"])},
        "inputs without property": {**good, "inputs": [{"id": first["id"]}] * len(good["inputs"])},
        "one input too many": {**good, "inputs": good["inputs"] + good["inputs"][:1]},
        "one input too few": {**good, "inputs": good["inputs"][:-1]},
        "state a string": {**good, "state": "x"},
        "outputs of another callback": {**good, "outputs": {"id": "admin-users-grid", "property": "rowData"}},
        "outputs a string": {**good, "outputs": "page.children"},
        "outputs list of numbers": {**good, "outputs": [1, 2, 3]},
        "changedPropIds lie": {**good, "changedPropIds": ["admin-user-add.n_clicks", "no-such.value"]},
        "changedPropIds objects": {**good, "changedPropIds": [{"id": 1}]},
        "changedPropIds a string": {**good, "changedPropIds": "tick.n_intervals"},
        "huge value": {**good, "inputs": [{**i, "value": "x" * 3_000_000} if isinstance(i, dict) else i for i in good["inputs"]]},
    }


@pytest.mark.parametrize("role, start", [
    ("operator", "..value-devices.children"), ("operator", "..ack-message.children"),
    ("dispatcher", "..case-stage-all-value.children"), ("admin", "..admin-users-grid.rowData"),
    ("operator", "..value-kpi_online.children"),
])
def test_malformed_requests_for_a_permitted_callback_get_400_or_run_never_500(web, deps, role, start):
    """For a callback the role may run, each mutation gets a 400 JSON answer, or runs
    (a `changedPropIds` lie or a huge value is only data: the callback decides)."""
    _app, clients = web
    failures = []
    for name, body in mutations(find(deps, start)).items():
        response = post(clients[role], body)
        text = response.get_data(as_text=True)
        if response.status_code >= 500 or "Traceback" in text or (role != "admin" and "admin-users-grid" in text):
            failures.append(f"{name}: {response.status_code} {text[:120]!r}")
        elif response.status_code not in (200, 204):
            assert_refusal(response, (400,))
    assert failures == []


def test_injected_pattern_ids_reach_the_callback_as_data_only(web, deps):
    """The acknowledge buttons are pattern-matching ({"id": ALL, "type": "ack"}): an id with an
    injected value is just an alarm id that does not exist; it is refused, nothing acknowledged."""
    _app, clients = web
    dep = find(deps, "..ack-message.children")
    body = body_for(dep, value=1)
    for injected in ({"$gt": ""}, "<script>alert(1)</script>", "../../etc/passwd|rule", "x" * 10_000, ["a"], None):
        body["inputs"][0] = [{"id": {"id": injected, "type": "ack"}, "property": "n_clicks", "value": 1}]
        body["changedPropIds"] = [json.dumps({"id": injected, "type": "ack"}, separators=(",", ":"), sort_keys=True) + ".n_clicks"]
        response = post(clients["operator"], body)
        text = response.get_data(as_text=True)
        assert response.status_code in (200, 204, 400), (str(injected)[:40], response.status_code, text[:200])
        assert "<script>" not in text or response.mimetype == "application/json"


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_generated_callback_bodies_are_never_a_500(web, deps, data):
    _app, clients = web
    leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10))
    junk = st.recursive(leaf, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c, max_size=3)),
                        max_leaves=10)
    dep = deps[data.draw(st.sampled_from(sorted(deps)))]
    body = body_for(dep)
    for key in data.draw(st.lists(st.sampled_from(["output", "outputs", "inputs", "state", "changedPropIds"]), max_size=3, unique=True)):
        body[key] = data.draw(junk)
    role = data.draw(st.sampled_from(["operator", "handler", "admin", "dispatcher"]))
    response = post(clients[role], body)
    text = response.get_data(as_text=True)
    assert response.status_code < 500, (role, dep["output"][:60], response.status_code, text[:300])
    assert "Traceback" not in text
    if response.status_code >= 400:
        assert_refusal(response)
