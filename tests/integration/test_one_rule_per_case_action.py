"""One rule per case decision: the same refusal, whichever door a request comes in by.

Every entry to the cases (the portal's case page, the JSON API, Open311, a department system
over MQTT) goes through the process's one `CaseService`, which decides who may see a case and
checks every input, in one order: the inputs' types (400), whether the principal's roles may
ever take the action (403: it depends on no case), the case and whether the principal may see it
(404), the version (409), then the workflow's rules of this case (400). Each refusal below is
driven through every entry it applies to, and each entry must answer it alike (normalised to the
JSON API's `(error, field)`) and change nothing:

- the portal: the case page's action callback (`callbacks.cases.act`), called as Dash calls it
  in a request of the app signed in as the person (its words are read back to the refusal they
  say); the guard's own refusal of that callback is the one request posted as the browser posts it;
- the JSON API: `POST /api/v1/cases/{id}/actions` (reads: `GET /api/v1/cases/{id}`);
- Open311: `GET /open311/v2/requests/{id}.json` (Open311 takes no workflow actions);
- MQTT: a department update `ioc/v1/departments/{department}/updates` handled by the case
  worker (its dead letter read back).

An action that goes through answers ("ok", "").
"""

from __future__ import annotations

import contextlib
import time

import orjson
import pytest
from dash import no_update
from dash._utils import split_callback_id
from flask import g

from callbacks import cases as case_page

from ioc.adapters import redis_keys as keys
from ioc.adapters.embedded import redis_server
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.user_store import Actor
from ioc.domain.access import Principal
from ioc.domain.cases import DEFERRAL_MAX_HOURS, NOTE_MAX
from ioc.i18n import t
from ioc.settings import Settings
from ioc.views.cases import failed_text
from tests.conftest import dash_callback

YANGSHE = (31.872, 120.556)
UNKNOWN = "ZJG-19990101-000001"
DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}))
INSPECTOR = Principal("setup-inspector", frozenset({"inspector"}))
LEADER = Principal("setup-leader", frozenset({"leader"}))
# who acts, by token: (roles, department); a handler is also a department system over MQTT
PEOPLE = {"dispatcher": (["dispatcher"], ""), "inspector": (["inspector"], ""), "water": (["handler"], "water_affairs"),
          "lights": (["handler"], "street_lighting"), "hotline": (["reporter"], ""), "operator": (["operator"], ""),
          "admin": (["admin"], "")}


@pytest.fixture(scope="module")
def house(tmp_path_factory, city):
    """One web app on a private Redis (its Flask test client), its case service, a bearer token
    and the principal of each person, a kiosk (a wall session opened from its link, with a test
    client of its own), and a case worker to hand MQTT department updates to (no broker needed):
    shared by the module, every test on a case of its own."""
    from ioc.casework.worker import CaseWorker
    from ioc.web.app import create_app

    tmp = tmp_path_factory.mktemp("one-rule")
    server = redis_server(tmp / "redis").start()
    settings = Settings.from_env(env={}, redis_url=server.url, mqtt_url="mqtt://127.0.0.1:1", data_dir=tmp)
    client = connect_redis(settings.redis_url)
    app = create_app(settings)
    services = app.server.extensions["ioc_services"]
    house = House(app, services.cases, CaseWorker(settings, client, city), client)
    for name, (roles, department) in PEOPLE.items():
        token, secret = services.users.create_token(name, roles, Actor("test", "admin"), department=department)
        house.tokens[name], house.principals[name] = {"Authorization": f"Bearer {secret}"}, token.principal()
    kiosk, secret = services.users.create_token("wall", [], Actor("test", "admin"), kiosk=True)
    wall = app.server.test_client()
    assert wall.get(f"/kiosk/{secret}").status_code == 302  # the wall's session cookie, in its own client
    house.tokens["kiosk"], house.principals["kiosk"], house.clients["kiosk"] = {}, kiosk.principal(), wall
    yield house
    client.close()
    server.stop()


class House:
    def __init__(self, app, cases, worker, redis):
        self.app, self.http, self.cases, self.worker, self.redis = app, app.server.test_client(), cases, worker, redis
        self.tokens: dict[str, dict] = {}  # who -> the request headers of their bearer token
        self.principals: dict = {}  # who -> their principal, as the guard finds it
        self.clients: dict = {}  # who -> a test client of their own (the kiosk's session)

    def client(self, who: str):
        return self.clients.get(who, self.http)

    @contextlib.contextmanager
    def signed_in(self, who: str, triggered: str = ""):
        """A request of the app whose principal is `who`'s, in a Dash callback context."""
        with self.app.server.test_request_context(), dash_callback(triggered) as sent:
            g.ioc_principal = self.principals[who]
            yield sent

    def new_case(self, *steps) -> str:
        """A fresh case in 杨舍 (class 10101: water affairs), taken through `steps` of (action, who, params)."""
        case, _ = self.cases.report(class_code="10101", lat=YANGSHE[0], lon=YANGSHE[1], source="hotline", actor="hotline")
        for action, who, params in steps:
            self.cases.act(case.id, action, who, **params)
        return case.id

    def version(self, case_id: str) -> int:
        return self.cases.store.get(case_id).version


TO_DISPATCHED = (("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}), ("dispatch", DISPATCHER, {}))


# ---- the entries, each answering a refusal as (error, field) ---------------------------------------

def portal_words() -> dict[str, tuple[str, str]]:
    """What the case page says (Chinese) -> the refusal it words."""
    return {t("case_not_found", "zh"): ("not_found", ""), t("case_conflict", "zh"): ("conflict", ""),
            failed_text("case_err_permission"): ("forbidden", ""),
            failed_text("case_err_hours", n=DEFERRAL_MAX_HOURS): ("bad_request", "hours"),
            failed_text("case_err_note_long", n=NOTE_MAX): ("bad_request", "note"),
            failed_text("case_err_note_required"): ("bad_request", "note"),
            failed_text("case_err_department"): ("bad_request", "department"),
            failed_text("case_err_master"): ("bad_request", "master_id")}


def through_portal(house: House, who: str, case_id: str, action: str, version=None, **params) -> tuple[str, str]:
    """The case page's action button: its callback called with the case id, the version shown and the inputs."""
    with house.signed_in(who, triggered=f"case-act-{action}.n_clicks"):
        message, changed, _note = case_page.act(*[None] * len(case_page.ACTIONS), case_id, version, params.get("note"),
                                                params.get("department"), params.get("hours"), params.get("master_id"), 0, "zh")
    if changed is not no_update:  # done: the page reloads the case
        assert message.startswith("已办理"), message
        return "ok", ""
    assert message in portal_words(), message
    return portal_words()[message]


def through_api(house: House, who: str, case_id: str, action: str, version=None, **params) -> tuple[str, str]:
    body = {"action": action, **({"version": version} if version is not None else {}), **params}
    answer = house.client(who).post(f"/api/v1/cases/{case_id}/actions", json=body, headers=house.tokens[who])
    if answer.status_code == 200:
        return "ok", ""
    error = answer.get_json()
    assert answer.status_code == {"not_found": 404, "conflict": 409, "forbidden": 403, "bad_request": 400}[error["error"]]
    if answer.status_code == 404:
        assert error["message"] == f"no case {case_id!r}"  # an unknown case and a hidden one read alike
    return error["error"], error.get("field", "")


def through_open311(house: House, who: str, case_id: str, action: str = "", version=None, **params) -> tuple[str, str]:
    """Open311 takes no actions: following the request is its one door to a case."""
    answer = house.client(who).get(f"/open311/v2/requests/{case_id}.json", headers=house.tokens[who])
    (error,) = answer.get_json()
    assert error["code"] == answer.status_code == 404 and error["description"] == f"no service request {case_id}"
    return "not_found", ""


UPDATE_ACTIONS = {"acknowledge": "acknowledge", "handle": "handled", "return": "return"}


def through_mqtt(house: House, who: str, case_id: str, action: str, version=None, **params) -> tuple[str, str]:
    """A department update from `who`'s department system, handled by the case worker."""
    department = PEOPLE[who][1]
    payload = {"case_id": case_id, "action": UPDATE_ACTIONS[action], **({"note": params["note"]} if "note" in params else {})}
    reason = house.worker.handle_message(f"ioc/v1/departments/{department}/updates", orjson.dumps(payload), int(time.time() * 1000))
    if reason == "update":
        return "ok", ""
    (_id, letter), = house.redis.xrevrange(keys.DEADLETTER, count=1)
    detail = letter[b"detail"].decode()
    if reason == "update_refused" and detail == f"case_id: no case {case_id!r}":
        return "not_found", ""
    if reason == "bad_update" and detail.startswith("note:"):  # refused at the edge, by the same NOTE_MAX
        return "bad_request", "note"
    raise AssertionError(f"unexpected refusal {reason}: {detail}")


ENTRIES = {"portal": through_portal, "api": through_api, "open311": through_open311, "mqtt": through_mqtt}


def entries(*names: str):
    return pytest.mark.parametrize("entry", names)


# ---- the refusals --------------------------------------------------------------------------------------

@entries("portal", "api", "open311", "mqtt")
def test_an_unknown_case_is_not_found(house, entry):
    assert ENTRIES[entry](house, "water", UNKNOWN, "acknowledge") == ("not_found", "")


@entries("portal", "api", "open311", "mqtt")
def test_a_case_of_another_department_is_not_found_never_forbidden(house, entry):
    case_id = house.new_case(*TO_DISPATCHED)  # dispatched to water affairs
    before = house.version(case_id)
    assert ENTRIES[entry](house, "lights", case_id, "acknowledge") == ENTRIES[entry](house, "lights", UNKNOWN, "acknowledge")
    assert ENTRIES[entry](house, "lights", case_id, "acknowledge") == ("not_found", "")
    assert house.version(case_id) == before


@entries("portal", "api")
def test_an_action_on_a_stale_version_is_a_conflict(house, entry):
    case_id = house.new_case(("urge", LEADER, {"note": "请尽快"}))  # version 2: the page still shows 1
    assert ENTRIES[entry](house, "dispatcher", case_id, "accept", version=1) == ("conflict", "")
    assert house.version(case_id) == 2


@entries("api")
def test_a_version_that_is_not_an_integer_is_refused(house, entry):
    """(The page always sends the version it shows, an integer.)"""
    case_id = house.new_case()
    assert ENTRIES[entry](house, "dispatcher", case_id, "accept", version="1") == ("bad_request", "version")
    assert house.version(case_id) == 1


@entries("portal", "api")
@pytest.mark.parametrize("hours", [0, DEFERRAL_MAX_HOURS + 1, 2.5, "8"])
def test_a_deferral_of_bad_hours_is_refused_naming_the_hours(house, entry, hours):
    case_id = house.new_case(*TO_DISPATCHED)
    before = house.version(case_id)
    assert ENTRIES[entry](house, "water", case_id, "request_deferral", note="等待配件", hours=hours) == ("bad_request", "hours")
    assert house.version(case_id) == before


@entries("portal", "api")
def test_hours_that_are_not_an_integer_are_refused_whatever_the_action(house, entry):
    """Stricter of the two old rules: the API refused them, the portal used to read them as 0."""
    case_id = house.new_case(*TO_DISPATCHED)
    assert ENTRIES[entry](house, "water", case_id, "acknowledge", hours=2.5) == ("bad_request", "hours")
    assert house.version(case_id) == 4


@entries("portal", "api")
def test_an_action_the_role_may_not_take_is_forbidden(house, entry):
    case_id = house.new_case()
    assert ENTRIES[entry](house, "inspector", case_id, "accept") == ("forbidden", "")
    assert house.version(case_id) == 1


@entries("portal", "api")
@pytest.mark.parametrize("who", ["operator", "admin", "kiosk", "hotline"])
@pytest.mark.parametrize("which", ["unknown", "existing", "filed by the caller"])
def test_a_principal_whose_roles_never_take_the_action_is_forbidden_whatever_the_case(house, entry, who, which):
    """The role check comes before the case and depends on none, so it reveals nothing: an
    operator, an administrator, a kiosk (read-only) or a reporting system gets the same 403 for
    an unknown id, a case it may not see and a case it filed itself (as the API documents it)."""
    case_id = {"unknown": UNKNOWN, "existing": house.new_case()}.get(which)
    if which == "filed by the caller":
        case_id, _ = house.cases.report(class_code="10101", lat=YANGSHE[0], lon=YANGSHE[1], source="api",
                                        actor=house.principals[who].name)
        case_id = case_id.id
    assert ENTRIES[entry](house, who, case_id, "accept") == ("forbidden", "")
    if which != "unknown":
        assert house.version(case_id) == 1


@entries("portal", "api")
def test_an_action_a_role_may_not_take_is_forbidden_even_on_an_unknown_case(house, entry):
    assert ENTRIES[entry](house, "inspector", UNKNOWN, "accept") == ("forbidden", "")


@entries("api")
def test_an_unknown_action_is_refused_before_the_case_is_looked_up(house, entry):
    """(The page has a button per known action only.)"""
    assert ENTRIES[entry](house, "dispatcher", UNKNOWN, "teleport") == ("bad_request", "action")


@entries("portal", "api")
def test_a_case_one_may_not_see_is_not_found_before_its_version_is_compared(house, entry):
    case_id = house.new_case(*TO_DISPATCHED)  # dispatched to water affairs, version 4
    assert ENTRIES[entry](house, "lights", case_id, "acknowledge", version=1) == ("not_found", "")
    assert house.version(case_id) == 4


@entries("portal", "api")
def test_a_stale_version_is_a_conflict_before_the_workflow_rules_of_the_case(house, entry):
    case_id = house.new_case(("urge", LEADER, {"note": "请尽快"}))  # version 2: the page still shows 1
    assert ENTRIES[entry](house, "dispatcher", case_id, "reject", version=1, note=" ") == ("conflict", "")
    assert house.version(case_id) == 2


def test_the_guard_refuses_the_case_pages_action_callback_to_a_principal_without_case_read(house):
    """The portal's door to an action is the case page's callback, registered under `case:read`:
    an operator posting it as the browser would gets the guard's 403, before any callback runs."""
    headers = house.tokens["operator"]
    deps = house.http.get("/_dash-dependencies", headers=headers).get_json()
    dep = next(d for d in deps if d["output"].startswith("..case-message.children"))
    case_id = house.new_case()
    state = {"case-id": case_id, "case-version": 1, "case-changed": 0, "lang": "zh"}
    body = {"output": dep["output"], "outputs": split_callback_id(dep["output"]),
            "inputs": [{**i, "value": 1 if i["id"] == "case-act-accept" else None} for i in dep["inputs"]],
            "state": [{**s, "value": state.get(s["id"])} for s in dep["state"]], "changedPropIds": ["case-act-accept.n_clicks"]}
    answer = house.http.post("/_dash-update-component", json=body, headers=headers)
    assert answer.status_code == 403 and answer.get_json()["error"] == "forbidden"
    assert house.version(case_id) == 1


@entries("portal", "api", "mqtt")
def test_a_note_over_the_limit_is_refused_never_cut(house, entry):
    case_id = house.new_case(*TO_DISPATCHED)
    assert ENTRIES[entry](house, "water", case_id, "return", note="井" * (NOTE_MAX + 1)) == ("bad_request", "note")
    assert house.version(case_id) == 4


@entries("portal", "api")
def test_a_note_that_an_action_needs_is_required(house, entry):
    case_id = house.new_case()
    assert ENTRIES[entry](house, "dispatcher", case_id, "reject", note="  ") == ("bad_request", "note")
    assert house.version(case_id) == 1


@entries("portal", "api")
def test_a_dispatch_to_a_department_the_city_does_not_have_is_refused(house, entry):
    case_id = house.new_case(("accept", DISPATCHER, {}), ("verify", INSPECTOR, {}))
    assert ENTRIES[entry](house, "dispatcher", case_id, "dispatch", department="nasa") == ("bad_request", "department")
    assert house.version(case_id) == 3


@entries("portal", "api")
@pytest.mark.parametrize("master", ["self", UNKNOWN, "closed"])
def test_a_merge_needs_another_open_case_as_its_master(house, entry, master):
    case_id = house.new_case()
    master_id = {"self": case_id, "closed": house.new_case(("reject", DISPATCHER, {"note": "重复"}))}.get(master, master)
    assert ENTRIES[entry](house, "dispatcher", case_id, "merge", master_id=master_id) == ("bad_request", "master_id")
    assert house.version(case_id) == 1


@entries("portal", "api")
def test_the_same_action_with_good_inputs_goes_through(house, entry):
    """The control: what the refusals above change is the one thing at fault."""
    case_id = house.new_case(*TO_DISPATCHED)
    assert ENTRIES[entry](house, "water", case_id, "request_deferral", version=4, note="等待配件", hours=8) == ("ok", "")
    assert house.cases.store.get(case_id).pending_deferral["hours"] == 8


@entries("portal", "api", "mqtt")
def test_a_department_acts_on_its_own_case(house, entry):
    case_id = house.new_case(*TO_DISPATCHED)
    assert ENTRIES[entry](house, "water", case_id, "acknowledge") == ("ok", "")
    assert house.cases.store.get(case_id).acknowledged_at
