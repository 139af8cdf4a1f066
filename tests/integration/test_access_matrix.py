"""Role × action matrix over real HTTP against a running portal (`python -m ioc web` on gunicorn).

One web process, one private Redis and one broker serve the whole module; each principal signs
in once through the real sign-in form (or opens a kiosk link, or sends a bearer token). Then:

- every Dash callback listed by `/_dash-dependencies` is posted by every principal: anonymous
  gets 401, a principal without the callback's permission 403 with no data, one holding it a
  200/204 (the permission each callback was registered with is read from the app itself);
- every `/api/…` route of the Flask url_map likewise (401 with WWW-Authenticate, 403, else not
  401/403), the alarm actions on a real active alarm;
- every portal page (redirect to sign-in, or to the principal's home page);
- sign-in, sign-out, lockout, CSRF, off-site `next`, and sessions that end when a user is
  disabled, a password reset, a kiosk link or a token revoked.

Expectations come from `ioc.domain.access.allowed()` (and, for pages, the page table
`ioc.web.pages`) with principals built here by hand.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from urllib.parse import urlsplit

import orjson
import pytest
import requests
from dash._utils import split_callback_id, stringify_id

from ioc.adapters import redis_keys as keys
from ioc.adapters.embedded import _die_with_parent, free_port, mqtt_broker, redis_server
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.user_store import Actor
from ioc.domain.access import PERMISSIONS, SIGNED_IN, Principal, allowed
from ioc.domain.alarms import Alarm
from ioc.domain.rules import RULES_BY_ID
from ioc.settings import REPO_ROOT, Settings
from ioc.web.pages import home_path, may_view_path
from ioc.web.services import user_store as make_user_store
from tests.conftest import TEST_PASSWORD

SECRET_KEY = "access-matrix-test-secret-key-0123456789abcdef"
MAX_FAILURES = 3
DEPARTMENT = "town_yangshe"
DISTRICT = "yangshe"
ADMIN_ACTOR = Actor("matrix-setup", "admin", "127.0.0.9")
BOARD_ALARM = "wl-matrix-board|water_level_warning"  # stays active: the alarm board shows it
API_ALARM = "wl-matrix-api|water_level_warning"  # re-raised before every API action on it

ROLE_USERS = ("operator", "leader", "dispatcher", "inspector", "handler", "admin", "reporter")
PRINCIPALS = ("anonymous",) + ROLE_USERS + ("kiosk", "bearer")
SIGNED_IN_PRINCIPALS = PRINCIPALS[1:]


def expected_principal(who: str) -> Principal | None:
    """The principal the portal should see for `who`, built independently of the product code."""
    if who == "anonymous":
        return None
    if who == "kiosk":
        return Principal("kiosk:matrix wall", frozenset({"operator"}), "matrix wall", "", "kiosk", True)
    if who == "bearer":
        return Principal("token:matrix platform", frozenset({"dispatcher"}), "matrix platform", "", "token", False)
    return Principal(f"m-{who}", frozenset({who}), "", DEPARTMENT if who == "handler" else "", "user", False)


# Every API route and the permission it needs: the spec. A new route must be added here.
API_PERMISSIONS = {
    ("GET", "/api/v1/me"): SIGNED_IN,
    ("GET", "/api/v1/sensors"): "view:bigscreen",
    ("GET", "/api/v1/sensors/<device_id>"): "view:bigscreen",
    ("GET", "/api/v1/districts"): "view:districts",
    ("GET", "/api/v1/districts/<district_id>"): "view:districts",
    ("GET", "/api/v1/alarms"): "view:bigscreen",
    ("GET", "/api/v1/map/cases"): "view:bigscreen",  # with ?at= also view:rewind (tests/integration/test_map_data.py)
    ("GET", "/api/v1/map/devices"): "view:bigscreen",
    ("GET", "/api/v1/map/devices/<device_id>"): "view:bigscreen",
    ("GET", "/api/v1/map/districts"): SIGNED_IN,  # the district outlines (the report page's map)
    ("POST", "/api/v1/alarms/<alarm_id>/acknowledge"): "alarm:acknowledge",
    ("POST", "/api/v1/alarms/<alarm_id>/clear"): "alarm:clear",
    ("GET", "/api/v1/audit"): "view:audit",
    ("GET", "/api/v1/catalog"): SIGNED_IN,
    ("GET", "/api/v1/cases"): "case:read",
    ("POST", "/api/v1/cases"): "case:report",
    ("GET", "/api/v1/cases/<case_id>"): "case:read",
    ("POST", "/api/v1/cases/<case_id>/actions"): SIGNED_IN,  # then each workflow action names its roles
    ("POST", "/api/v1/cases/<case_id>/media"): "case:attach",  # issue 16, media
    ("GET", "/api/v1/cases/<case_id>/media"): SIGNED_IN,  # then `visible_to`: 404 for a case one may not read
    ("GET", "/api/v1/cases/<case_id>/media/<media_id>"): SIGNED_IN,
    ("GET", "/api/v1/cases/<case_id>/media/<media_id>/thumb"): SIGNED_IN,
    ("GET", "/api/v1/indicators"): "view:indicators",
    ("GET", "/api/v1/events/plans"): "event:read",
    ("GET", "/api/v1/events/indicators"): "view:indicators",
    ("GET", "/api/v1/events/proposals"): "event:read",
    ("POST", "/api/v1/events/proposals/<proposal_id>/dismiss"): "event:command",
    ("GET", "/api/v1/events"): "event:read",
    ("POST", "/api/v1/events"): "event:command",
    ("GET", "/api/v1/events/<event_id>"): "event:read",
    ("POST", "/api/v1/events/<event_id>/level"): "event:command",
    ("POST", "/api/v1/events/<event_id>/instructions"): "event:instruct",
    ("POST", "/api/v1/events/<event_id>/close"): "event:command",
    ("POST", "/api/v1/events/<event_id>/actions"): SIGNED_IN,  # then each event action names its roles
    ("POST", "/api/v1/events/<event_id>/tasks/<department>/actions"): "event:task",
    ("GET", "/api/v1/notifications"): "view:duty",  # piece notify: the sent log
    ("GET", "/api/v1/exports/<export_file>"): "report:export",  # issue 17, piece geo: GeoPackage / GeoJSON of the record
    ("GET", "/api/v1/reports/monthly"): "view:reports",  # issue 17, reports
    ("GET", "/api/v1/reports/monthly.csv"): "report:export",
    ("POST", "/api/v1/reports"): "report:export",
    ("GET", "/api/v1/reports/<job_id>"): "report:export",
    ("GET", "/api/v1/reports/<job_id>/file"): "report:export",
}
API_PERMISSIONS.update({(method, rule): SIGNED_IN  # the fallback: a path that is no route is a JSON 404 (401 anonymous)
                        for rule in ("/api/", "/api/<path:_rest>") for method in ("DELETE", "GET", "PATCH", "POST", "PUT")})
ROUTE_ARGS = {"device_id": "wl-matrix-board", "district_id": DISTRICT, "alarm_id": API_ALARM, "case_id": "ZJG-20260101-999999",
              "event_id": "EV-20260101-999", "department": DEPARTMENT, "proposal_id": "flood:IV", "_rest": "v1/no-such-route",
              "media_id": "0" * 64, "export_file": "cases.geojson",
              "job_id": "20260101000000-0000abcd"}

PAGES = ("/", "/districts", f"/district/{DISTRICT}", "/cases", "/case/ZJG-20260101-999999", "/tasks", "/inspections",
         "/indicators", "/status", "/audit", "/admin", "/account", "/events", "/event/EV-20260101-999", "/duty", "/notify",
         "/report", "/reports", "/device/gauge-1")


def alarm_json(alarm_id: str) -> bytes:
    device, rule_id = alarm_id.split("|")
    rule = RULES_BY_ID[rule_id]
    alarm = Alarm(alarm_id, device, "water_level", rule_id, "major", DISTRICT, rule.attribute, 4.4, rule.threshold,
                  int(time.time() * 1000) - 60_000, rule.name_zh, rule.name_en)
    return orjson.dumps(alarm.to_dict())


# ---- the running portal ---------------------------------------------------------------------------

class Portal:
    """The web process under test and helpers to talk to it like a browser or a machine client."""

    def __init__(self, base: str, settings: Settings, redis_client, users, app):
        self.base = base
        self.settings = settings
        self.redis = redis_client
        self.users = users
        self.app = app  # the same app built in-process: its callback permissions and url_map
        self.sessions: dict[str, requests.Session] = {}
        self.passwords: dict[str, str] = {}
        self.kiosk_token = self.bearer_token = None

    def url(self, path: str) -> str:
        return self.base + path

    def new_session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False  # never through a proxy from the environment
        return s

    def csrf(self, session: requests.Session) -> str:
        page = session.get(self.url("/login"), timeout=10)
        assert page.status_code == 200, page.text[:300]
        match = re.search(r'<input type="hidden" name="csrf" value="([^"]+)">', page.text)
        assert match, "the sign-in form has no csrf field"
        return match.group(1)

    def post_login(self, session: requests.Session, name: str, password: str, next_path: str = "", csrf: str | None = None):
        data = {"name": name, "password": password, "csrf": self.csrf(session) if csrf is None else csrf}
        if next_path:
            data["next"] = next_path
        return session.post(self.url("/login"), data=data, allow_redirects=False, timeout=10)

    def sign_in(self, name: str, password: str = TEST_PASSWORD) -> requests.Session:
        session = self.new_session()
        response = self.post_login(session, name, password)
        assert response.status_code == 302, f"sign-in of {name} failed: {response.status_code}"
        return session

    def open_kiosk(self, secret: str) -> requests.Session:
        session = self.new_session()
        response = session.get(self.url(f"/kiosk/{secret}"), allow_redirects=False, timeout=10)
        assert response.status_code == 302 and response.headers["Location"] == "/", response.status_code
        return session

    def bearer(self, secret: str) -> requests.Session:
        session = self.new_session()
        session.headers["Authorization"] = f"Bearer {secret}"
        return session

    def callback(self, session: requests.Session, body: dict) -> requests.Response:
        return session.post(self.url("/_dash-update-component"), json=body, timeout=20)

    def add_user(self, *roles: str, department: str = "", name: str | None = None) -> str:
        name = name or f"x-{'-'.join(roles)}-{os.urandom(3).hex()}"
        self.users.add(name, list(roles), ADMIN_ACTOR, password=TEST_PASSWORD, department=department)
        return name

    def raise_alarm(self, alarm_id: str) -> None:
        self.redis.hset(keys.ALARMS_ACTIVE, alarm_id, alarm_json(alarm_id))
        self.redis.hdel(keys.ALARMS_ACKS, alarm_id)

    def audit(self, action: str, actor: str = ""):
        return self.users.audit.recent(1000, actor=actor, action=action)


def _wait_healthy(base: str, proc: subprocess.Popen, log_path, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"`python -m ioc web` exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the portal did not become healthy within {timeout:.0f}s:\n{log_path.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """A private Redis and broker (not flushed per test), the portal on gunicorn, and one
    session per principal."""
    from ioc.web.app import create_app

    tmp = tmp_path_factory.mktemp("access-matrix")
    redis_proc = redis_server(tmp / "redis").start()
    broker_proc = mqtt_broker(tmp / "mqtt").start()
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_proc.url, "MQTT_URL": broker_proc.url, "PORT": str(port), "IOC_HOST": "127.0.0.1",
        "IOC_WEB_WORKERS": "1", "IOC_SECRET_KEY": SECRET_KEY, "IOC_LOGIN_MAX_FAILURES": str(MAX_FAILURES),
        "IOC_DATA_DIR": str(tmp), "IOC_PUBLIC_METRICS": "1", "IOC_LOG_LEVEL": "WARNING", "IOC_PROXY_HOPS": "0",
        "IOC_COOKIE_SECURE": "0", "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp / "web.log"
    with open(log_path, "wb") as log:
        web = subprocess.Popen([sys.executable, "-m", "ioc", "web"], cwd=REPO_ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    base = f"http://127.0.0.1:{port}"
    client = connect_redis(redis_proc.url)
    try:
        settings = Settings.from_env(env={}, redis_url=redis_proc.url, mqtt_url=broker_proc.url, data_dir=tmp,
                                     secret_key=SECRET_KEY, login_max_failures=MAX_FAILURES)
        app = create_app(settings)
        users = make_user_store(client, settings, app.server.extensions["ioc_services"].city)
        p = Portal(base, settings, client, users, app)
        for role in ROLE_USERS:
            p.add_user(role, name=f"m-{role}", department=DEPARTMENT if role == "handler" else "")
        p.kiosk_token, kiosk_secret = users.create_token("matrix wall", [], ADMIN_ACTOR, kiosk=True)
        p.bearer_token, bearer_secret = users.create_token("matrix platform", ["dispatcher"], ADMIN_ACTOR)
        p.raise_alarm(BOARD_ALARM)
        _wait_healthy(base, web, log_path)
        p.sessions["anonymous"] = p.new_session()
        for role in ROLE_USERS:
            p.sessions[role] = p.sign_in(f"m-{role}")
        p.sessions["kiosk"] = p.open_kiosk(kiosk_secret)
        p.sessions["bearer"] = p.bearer(bearer_secret)
        yield p
    finally:
        web.terminate()
        try:
            web.wait(10)
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait()
        client.close()
        broker_proc.stop()
        redis_proc.stop()


@pytest.fixture(autouse=True)
def no_sign_in_failures(portal):
    """Every test starts with no failure counters (all requests come from 127.0.0.1)."""
    failures = list(portal.redis.scan_iter(match=f"{keys.LOGIN_FAILURES}:*"))
    if failures:
        portal.redis.delete(*failures)
    yield


# ---- Dash callbacks -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dependencies(portal):
    response = portal.sessions["admin"].get(portal.url("/_dash-dependencies"), timeout=10)
    assert response.status_code == 200
    deps = response.json()
    assert len(deps) >= 20
    # a clientside callback runs in the browser alone (the field pages' position, the rewind's playback
    # clock, the device page writing its window into the address): nothing to guard
    assert all(d["clientside_function"]["namespace"] in ("iocField", "iocRewind", "iocDevice")
               for d in deps if d.get("clientside_function"))
    return [d for d in deps if not d.get("clientside_function")]


@pytest.fixture(scope="module")
def layout_defaults(portal):
    """(component id, property) -> the value the page starts with (from the validation layout)."""
    values = {}
    for component in portal.app.validation_layout._traverse():
        component_id = getattr(component, "id", None)
        if isinstance(component_id, str):
            for prop in component._prop_names:
                values[(component_id, prop)] = getattr(component, prop, None)
    return values


def callback_label(portal, output: str) -> str:
    fn = portal.app.callback_map[output]["callback"]
    return f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"


def callback_body(dep: dict, defaults: dict) -> dict:
    """What the renderer posts when the callback's first input changes, with plausible values."""
    overrides = {("lang", "data"): "zh", ("url", "pathname"): "/", ("district-id", "data"): DISTRICT,
                 ("popup-alarm", "data"): "no-such-device|no_rule", ("clear-alarm", "data"): "no-such-device|no_rule"}

    def value(component_id: str, prop: str, triggered: bool):
        if (component_id, prop) in overrides:
            return overrides[(component_id, prop)]
        if prop == "n_intervals":
            return 1
        if prop == "n_clicks":
            return 1 if triggered else defaults.get((component_id, prop)) or 0
        if prop == "id":
            return component_id
        return defaults.get((component_id, prop))

    changed: list[str] = []

    def entry(dependency: dict, is_input: bool):
        triggered = is_input and not changed
        if dependency["id"].startswith("{"):  # a pattern-matching (ALL) input: one matching component
            pattern = json.loads(dependency["id"])
            assert all(v == ["ALL"] for v in pattern.values() if isinstance(v, list)), dependency
            component_id = {k: ("no-such-device|no_rule" if v == ["ALL"] else v) for k, v in pattern.items()}
            item = {"id": component_id, "property": dependency["property"],
                    "value": 1 if dependency["property"] == "n_clicks" else None}
            if triggered:
                changed.append(f"{stringify_id(component_id)}.{dependency['property']}")
            return [item]
        if triggered:
            changed.append(f"{dependency['id']}.{dependency['property']}")
        return {"id": dependency["id"], "property": dependency["property"],
                "value": value(dependency["id"], dependency["property"], triggered)}

    inputs = [entry(d, True) for d in dep["inputs"]]
    state = [entry(d, False) for d in dep["state"]]
    return {"output": dep["output"], "outputs": split_callback_id(dep["output"]), "inputs": inputs, "state": state,
            "changedPropIds": changed}


def test_every_callback_is_registered_with_a_permission(portal, dependencies):
    permissions = portal.app.server.extensions["ioc_callback_permissions"]
    outputs = [dep["output"] for dep in dependencies]
    unguarded = [o for o in outputs if o not in permissions]
    assert unguarded == [], "callbacks without a permission (refused to everybody)"
    server_side = {k for k, v in portal.app.callback_map.items() if "callback" in v}  # clientside ones run in the browser
    assert set(permissions) == set(outputs) == server_side
    assert set(permissions.values()) <= set(PERMISSIONS), "a callback names an unknown permission"


@pytest.mark.parametrize("path", ["/_dash-layout", "/_dash-dependencies"])
def test_anonymous_gets_no_layout_or_dependencies(portal, path):
    response = portal.sessions["anonymous"].get(portal.url(path), timeout=10)
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert set(response.json()) == {"error", "message"}


@pytest.mark.parametrize("who", PRINCIPALS)
def test_callback_matrix(portal, dependencies, layout_defaults, who):
    """Every callback for one principal: 401 anonymous, 403 with no data when lacking, else 200/204."""
    permissions = portal.app.server.extensions["ioc_callback_permissions"]
    principal = expected_principal(who)
    session = portal.sessions[who]
    mismatches = []
    for dep in dependencies:
        permission = permissions.get(dep["output"])
        label = f"{who}-{callback_label(portal, dep['output'])} ({permission})"
        response = portal.callback(session, callback_body(dep, layout_defaults))
        if principal is None:
            expected = "401"
        elif permission is not None and allowed(principal, permission):
            expected = "200/204"
        else:
            expected = "403"
        got = str(response.status_code)
        if expected == "200/204":
            ok = response.status_code in (200, 204)
            if ok and response.status_code == 200:
                ok = "response" in response.json() or "sideUpdate" in response.json()
        else:
            ok = got == expected
            if ok:
                body = response.json()
                ok = set(body) == {"error", "message"} and body["error"] == ("unauthorized" if got == "401" else "forbidden")
                if got == "401":
                    ok = ok and response.headers.get("WWW-Authenticate", "").startswith("Bearer")
        if not ok:
            mismatches.append(f"{label}: expected {expected}, got {got} {response.text[:200]!r}")
    assert mismatches == []


def test_a_refused_callback_is_audited(portal, dependencies, layout_defaults):
    status_dep = next(d for d in dependencies if d["output"].startswith("..value-devices.children"))
    before = len(portal.audit("access.denied", "m-handler"))
    response = portal.callback(portal.sessions["handler"], callback_body(status_dep, layout_defaults))
    assert response.status_code == 403
    assert "view:status" in response.json()["message"]
    entries = portal.audit("access.denied", "m-handler")
    assert len(entries) == before + 1
    entry = entries[0]
    assert (entry.role, entry.target, entry.outcome, entry.ip) == ("handler", "view:status", "denied", "127.0.0.1")
    assert entry.detail["callback"] == status_dep["output"][:200]  # the callback id, capped


def test_a_callback_unknown_to_the_app_is_refused(portal):
    body = {"output": "no-such.children", "outputs": {"id": "no-such", "property": "children"}, "inputs": [],
            "state": [], "changedPropIds": []}
    response = portal.callback(portal.sessions["admin"], body)
    assert response.status_code == 403 and set(response.json()) == {"error", "message"}
    assert portal.callback(portal.sessions["anonymous"], body).status_code == 401


@pytest.mark.parametrize("who", ["operator", "leader", "dispatcher", "admin", "kiosk", "bearer"])
def test_the_status_refresh_returns_real_figures(portal, dependencies, layout_defaults, who):
    dep = next(d for d in dependencies if d["output"].startswith("..value-devices.children"))
    response = portal.callback(portal.sessions[who], callback_body(dep, layout_defaults))
    assert response.status_code == 200
    data = response.json()["response"]
    assert "value-devices" in data and "kind-table" in data and "updated" in data
    assert data["value-alarms_active"]["children"] not in ("", None)


def test_the_account_page_shows_the_handlers_department(portal, dependencies, layout_defaults):
    dep = next(d for d in dependencies if d["output"].startswith("..account-facts.children"))
    handler = portal.callback(portal.sessions["handler"], callback_body(dep, layout_defaults)).json()["response"]
    assert "m-handler" in json.dumps(handler, ensure_ascii=False) and "杨舍镇人民政府" in json.dumps(handler, ensure_ascii=False)
    kiosk = portal.callback(portal.sessions["kiosk"], callback_body(dep, layout_defaults)).json()["response"]
    assert kiosk["password-form"]["style"] == {"display": "none"}  # a wall cannot change a password


def test_only_the_audit_page_roles_read_the_audit_log_through_its_callback(portal, dependencies, layout_defaults):
    dep = next(d for d in dependencies if d["output"].startswith("..audit-grid.rowData"))
    # the newest entry (the grid shows the newest page; the module's other tests write many entries)
    portal.users.audit.record("m-leader", "leader", "auth.sign_in", "", "ok", "127.0.0.1")
    rows = portal.callback(portal.sessions["leader"], callback_body(dep, layout_defaults)).json()["response"]["audit-grid"]["rowData"]
    assert any(r["action"] == "auth.sign_in" and r["actor"] == "m-leader" for r in rows)
    assert portal.callback(portal.sessions["dispatcher"], callback_body(dep, layout_defaults)).status_code == 403


# ---- the API ------------------------------------------------------------------------------------

def api_routes(portal) -> list[tuple[str, str]]:
    routes = []
    for rule in portal.app.server.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((method, rule.rule))
    return sorted(routes)


def concrete(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: ROUTE_ARGS[m.group(1)], rule)


def test_every_api_route_has_a_specified_permission(portal):
    assert api_routes(portal) == sorted(API_PERMISSIONS)


@pytest.mark.parametrize("who", PRINCIPALS)
def test_api_matrix(portal, who):
    """Every API route for one principal: 401 + WWW-Authenticate, 403 with no data, else 200/400/404."""
    principal = expected_principal(who)
    session = portal.sessions[who]
    mismatches = []
    for method, rule in api_routes(portal):
        permission = API_PERMISSIONS.get((method, rule))
        path = concrete(rule)
        if method == "POST":
            portal.raise_alarm(API_ALARM)
            response = session.post(portal.url(path), json={"note": "checked on site by the matrix"}, timeout=10)
        else:
            response = session.get(portal.url(path), timeout=10)
        label = f"{who}-{method} {rule}"
        got = response.status_code
        if principal is None:
            ok = got == 401 and response.headers.get("WWW-Authenticate", "").startswith("Bearer") \
                and set(response.json()) == {"error", "message"}
            expected = "401"
        elif permission is not None and allowed(principal, permission):
            ok = got in (200, 400, 404)
            expected = "200/400/404"
        else:
            ok = got == 403 and set(response.json()) == {"error", "message"} and response.json()["error"] == "forbidden"
            expected = "403"
        if method == "POST" and not (principal is not None and permission is not None and allowed(principal, permission)):
            # a refused action changes nothing
            still = portal.redis.hexists(keys.ALARMS_ACTIVE, API_ALARM) and not portal.redis.hexists(keys.ALARMS_ACKS, API_ALARM)
            if not still:
                mismatches.append(f"{label}: the refused action changed the alarm")
        if not ok:
            mismatches.append(f"{label}: expected {expected}, got {got} {response.text[:200]!r}")
    assert mismatches == []


@pytest.mark.parametrize("who", ["operator", "leader", "dispatcher", "bearer"])
def test_an_alarm_acknowledged_over_the_api_is_recorded_with_who_did_it(portal, who):
    principal = expected_principal(who)
    portal.raise_alarm(API_ALARM)
    response = portal.sessions[who].post(portal.url(f"/api/v1/alarms/{API_ALARM}/acknowledge"), timeout=10)
    assert response.status_code == 200
    assert response.json()["by"] == principal.name
    assert response.json()["role"] == principal.acting_role("alarm:acknowledge")
    entry = portal.audit("alarm.acknowledge", principal.name)[0]
    assert (entry.target, entry.outcome, entry.ip) == (API_ALARM, "ok", "127.0.0.1")


@pytest.mark.parametrize("who", ["leader", "dispatcher", "bearer"])
def test_an_alarm_cleared_over_the_api_is_gone_and_audited_with_the_note(portal, who):
    principal = expected_principal(who)
    portal.raise_alarm(API_ALARM)
    url = portal.url(f"/api/v1/alarms/{API_ALARM}/clear")
    missing_note = portal.sessions[who].post(url, json={}, timeout=10)
    assert missing_note.status_code == 400 and missing_note.json()["field"] == "note"
    response = portal.sessions[who].post(url, json={"note": "pump restarted"}, timeout=10)
    assert response.status_code == 200 and response.json()["note"] == "pump restarted"
    assert not portal.redis.hexists(keys.ALARMS_ACTIVE, API_ALARM)
    entry = portal.audit("alarm.clear", principal.name)[0]
    assert (entry.target, entry.outcome, entry.detail["note"]) == (API_ALARM, "ok", "pump restarted")
    again = portal.sessions[who].post(url, json={"note": "again"}, timeout=10)
    assert again.status_code == 404


@pytest.mark.parametrize("who", SIGNED_IN_PRINCIPALS)
def test_api_me_describes_the_principal(portal, who):
    principal = expected_principal(who)
    me = portal.sessions[who].get(portal.url("/api/v1/me"), timeout=10).json()
    assert (me["name"], me["roles"], me["department"], me["kind"], me["read_only"]) == (
        principal.name, sorted(principal.roles), principal.department, principal.kind, principal.read_only)


def test_a_refused_api_call_is_audited(portal):
    response = portal.sessions["inspector"].post(portal.url(f"/api/v1/alarms/{API_ALARM}/clear"), json={"note": "x"}, timeout=10)
    assert response.status_code == 403
    entry = portal.audit("access.denied", "m-inspector")[0]
    assert (entry.target, entry.outcome, entry.detail["path"]) == ("alarm:clear", "denied", f"/api/v1/alarms/{API_ALARM}/clear")


# ---- portal pages -------------------------------------------------------------------------------

@pytest.mark.parametrize("who", PRINCIPALS)
def test_portal_pages(portal, who):
    principal = expected_principal(who)
    mismatches = []
    for path in PAGES + ("/no-such-page",):
        response = portal.sessions[who].get(portal.url(path), allow_redirects=False, timeout=10)
        location = response.headers.get("Location", "")
        if principal is None:
            expected = (302, f"/login?next={path}")
        elif may_view_path(principal, path):
            expected = (200, "")
        else:
            expected = (302, home_path(principal))
        got = (response.status_code, urlsplit(location)._replace(scheme="", netloc="").geturl() if location else "")
        if got != expected:
            mismatches.append(f"{who} GET {path}: expected {expected}, got {got}")
    assert mismatches == []


def test_open_routes(portal):
    anonymous = portal.sessions["anonymous"]
    assert anonymous.get(portal.url("/healthz"), timeout=10).status_code == 200
    assert anonymous.get(portal.url("/metrics"), timeout=10).status_code == 200  # IOC_PUBLIC_METRICS=1
    assert anonymous.get(portal.url("/login"), timeout=10).status_code == 200
    for path in ("/manifest.webmanifest", "/sw.js", "/field/icon-192.png"):  # the web app: fetched without cookies
        assert anonymous.get(portal.url(path), timeout=10).status_code == 200, path


# ---- signing in and out -------------------------------------------------------------------------

def test_the_session_cookie_is_http_only_and_same_site_lax(portal):
    session = portal.new_session()
    response = portal.post_login(session, "m-operator", TEST_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("ioc_session=")
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert not any(a.startswith(("expires=", "max-age=")) for a in attributes)  # a browser-session cookie


def test_a_kiosk_cookie_outlives_the_browser(portal):
    token, secret = portal.users.create_token("matrix wall 2", [], ADMIN_ACTOR, kiosk=True)
    response = portal.new_session().get(portal.url(f"/kiosk/{secret}"), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    attributes = [a.strip().lower() for a in response.headers["Set-Cookie"].split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert any(a.startswith("expires=") for a in attributes)
    entry = portal.audit("auth.kiosk", "kiosk:matrix wall 2")[0]
    assert (entry.target, entry.outcome) == (token.id, "ok")


def test_an_unknown_kiosk_link_is_refused(portal):
    response = portal.new_session().get(portal.url("/kiosk/ioc_deadbeef_nope"), allow_redirects=False, timeout=10)
    assert response.status_code == 401
    entry = portal.audit("auth.kiosk", "-")[0]
    assert (entry.outcome, entry.ip) == ("failed", "127.0.0.1")


def test_a_wrong_password_gets_the_form_again_with_401(portal):
    session = portal.new_session()
    response = portal.post_login(session, "m-operator", "not-the-password")
    assert response.status_code == 401
    assert 'id="login-form"' in response.text and 'id="login-error"' in response.text
    assert session.get(portal.url("/api/v1/me"), timeout=10).status_code == 401


def test_after_max_failures_the_name_is_locked_with_retry_after(portal):
    name = portal.add_user("operator")
    session = portal.new_session()
    for _ in range(MAX_FAILURES):
        assert portal.post_login(session, name, "not-the-password").status_code == 401
    locked = portal.post_login(session, name, TEST_PASSWORD)  # even the right password now
    assert locked.status_code == 429
    retry = int(locked.headers["Retry-After"])
    assert 1 <= retry <= portal.settings.login_lock_minutes * 60
    assert session.get(portal.url("/api/v1/me"), timeout=10).status_code == 401
    assert portal.audit("auth.locked_out", name)[0].outcome == "denied"


def test_a_sign_in_with_a_forged_csrf_token_is_refused(portal):
    session = portal.new_session()
    portal.csrf(session)  # the session has a token; the post carries another one
    response = portal.post_login(session, "m-operator", TEST_PASSWORD, csrf="forged-token")
    assert response.status_code == 400
    assert session.get(portal.url("/api/v1/me"), timeout=10).status_code == 401


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
                         ids=["foreign-origin", "cross-site"])
def test_a_sign_in_posted_from_another_site_is_refused(portal, headers):
    session = portal.new_session()
    response = session.post(portal.url("/login"), data={"name": "m-operator", "password": TEST_PASSWORD},
                            headers=headers, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert session.get(portal.url("/api/v1/me"), timeout=10).status_code == 401


@pytest.mark.parametrize("how", ["form", "username-field", "json"])
def test_a_script_signs_in_without_the_form(portal, how):
    session = portal.new_session()
    if how == "json":
        response = session.post(portal.url("/login"), json={"name": "m-operator", "password": TEST_PASSWORD},
                                allow_redirects=False, timeout=10)
    else:
        field = "username" if how == "username-field" else "name"
        response = session.post(portal.url("/login"), data={field: "m-operator", "password": TEST_PASSWORD},
                                allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert session.get(portal.url("/api/v1/me"), timeout=10).json()["name"] == "m-operator"


def test_a_csrf_token_of_another_browser_is_refused(portal):
    other = portal.new_session()
    token = portal.csrf(other)
    victim = portal.new_session()
    portal.csrf(victim)
    assert portal.post_login(victim, "m-operator", TEST_PASSWORD, csrf=token).status_code == 400


@pytest.mark.parametrize("next_path", [
    "//evil.example", "https://evil.example", "//evil.example/status", "/\\evil.example",
    "http://127.0.0.1.evil.example/", "evil.example", "javascript:alert(1)",
    pytest.param("/\t/evil.example", id="tab-slash"),
    pytest.param("/\t\t/evil.example/status", id="tabs-slash"),
])
def test_an_off_site_next_is_ignored(portal, next_path):
    session = portal.new_session()
    response = portal.post_login(session, "m-dispatcher", TEST_PASSWORD, next_path=next_path)
    assert response.status_code == 302
    assert off_site(portal, response.headers["Location"]) is False and response.headers["Location"] == "/"
    again = session.get(portal.url("/login"), params={"next": next_path}, allow_redirects=False, timeout=10)
    assert again.status_code == 302
    assert off_site(portal, again.headers["Location"]) is False and again.headers["Location"] == "/"


def off_site(portal, location: str) -> bool:
    """Whether a browser following `location` would leave the portal (browsers drop tabs and newlines)."""
    from urllib.parse import urljoin

    resolved = urlsplit(urljoin(portal.base + "/", re.sub(r"[\t\r\n]", "", location)))
    return (resolved.scheme, resolved.netloc) != ("http", urlsplit(portal.base).netloc)


def test_a_local_next_is_followed(portal):
    session = portal.new_session()
    response = portal.post_login(session, "m-leader", TEST_PASSWORD, next_path="/audit")
    assert response.headers["Location"] == "/audit"


def test_the_sign_in_page_keeps_a_local_next_only(portal):
    anonymous = portal.new_session()
    redirect = anonymous.get(portal.url("/status"), allow_redirects=False, timeout=10)
    assert redirect.headers["Location"] == "/login?next=/status"
    page = anonymous.get(portal.url("/login?next=/status"), timeout=10).text
    assert '<input type="hidden" name="next" value="/status">' in page
    page = anonymous.get(portal.url("/login?next=//evil.example"), timeout=10).text
    assert '<input type="hidden" name="next" value="">' in page


def test_sign_out_ends_the_session_and_is_audited(portal, dependencies, layout_defaults):
    name = portal.add_user("operator")
    session = portal.sign_in(name)
    dep = next(d for d in dependencies if d["output"] == "page.children")
    assert portal.callback(session, callback_body(dep, layout_defaults)).status_code == 200
    response = session.get(portal.url("/logout"), allow_redirects=False, timeout=10)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert portal.callback(session, callback_body(dep, layout_defaults)).status_code == 401
    entry = portal.audit("auth.sign_out", name)[0]
    assert (entry.actor, entry.role, entry.target, entry.outcome, entry.ip) == (name, "operator", name, "ok", "127.0.0.1")


def test_a_session_cookie_copied_before_sign_out_is_dead_after_it(portal):
    name = portal.add_user("operator")
    session = portal.sign_in(name)
    copied = session.cookies.get("ioc_session")
    assert session.get(portal.url("/logout"), allow_redirects=False, timeout=10).status_code == 302
    replay = portal.new_session()
    replay.cookies.set("ioc_session", copied)
    assert replay.get(portal.url("/api/v1/me"), timeout=10).status_code == 401


@pytest.mark.parametrize("change", ["disable", "reset_password"])
def test_disabling_a_user_or_resetting_the_password_ends_their_session_at_once(portal, dependencies, layout_defaults, change):
    name = portal.add_user("dispatcher")
    session = portal.sign_in(name)
    dep = next(d for d in dependencies if d["output"] == "page.children")
    assert portal.callback(session, callback_body(dep, layout_defaults)).status_code == 200
    assert session.get(portal.url("/api/v1/alarms"), timeout=10).status_code == 200
    if change == "disable":
        portal.users.set_disabled(name, True, ADMIN_ACTOR)
    else:
        portal.users.reset_password(name, ADMIN_ACTOR)
    assert portal.callback(session, callback_body(dep, layout_defaults)).status_code == 401
    assert session.get(portal.url("/api/v1/alarms"), timeout=10).status_code == 401
    page = session.get(portal.url("/"), allow_redirects=False, timeout=10)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    if change == "disable":
        portal.users.set_disabled(name, False, ADMIN_ACTOR)  # enabling again does not revive the old session
        assert portal.callback(session, callback_body(dep, layout_defaults)).status_code == 401


def test_revoking_a_kiosk_link_ends_the_kiosk_session(portal, dependencies, layout_defaults):
    token, secret = portal.users.create_token("matrix wall 3", [], ADMIN_ACTOR, kiosk=True)
    session = portal.open_kiosk(secret)
    dep = next(d for d in dependencies if d["output"].startswith("..value-kpi_online.children"))
    assert portal.callback(session, callback_body(dep, layout_defaults)).status_code == 200
    portal.users.revoke_token(token.id, ADMIN_ACTOR)
    assert portal.callback(session, callback_body(dep, layout_defaults)).status_code == 401
    assert portal.new_session().get(portal.url(f"/kiosk/{secret}"), allow_redirects=False, timeout=10).status_code == 401


def test_a_kiosk_link_is_no_bearer_token_for_actions(portal):
    _token, secret = portal.users.create_token("matrix wall 4", [], ADMIN_ACTOR, kiosk=True)
    portal.raise_alarm(API_ALARM)
    response = portal.bearer(secret).post(portal.url(f"/api/v1/alarms/{API_ALARM}/acknowledge"), timeout=10)
    assert response.status_code in (401, 403)
    assert not portal.redis.hexists(keys.ALARMS_ACKS, API_ALARM)


def test_a_revoked_bearer_token_gets_401(portal):
    token, secret = portal.users.create_token("matrix platform 2", ["dispatcher"], ADMIN_ACTOR)
    client = portal.bearer(secret)
    assert client.get(portal.url("/api/v1/alarms"), timeout=10).status_code == 200
    portal.users.revoke_token(token.id, ADMIN_ACTOR)
    response = client.get(portal.url("/api/v1/alarms"), timeout=10)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post(portal.url("/_dash-update-component"), json={"output": "page.children"}, timeout=10).status_code == 401


@pytest.mark.parametrize("header", ["Bearer ", "Bearer ioc_00000000_forged", "Basic bTpvcGVyYXRvcjp4", "bearer"])
def test_a_malformed_or_unknown_bearer_token_gets_401(portal, header):
    session = portal.new_session()
    session.headers["Authorization"] = header
    assert session.get(portal.url("/api/v1/me"), timeout=10).status_code == 401


def test_another_site_cannot_sign_a_user_out(portal):
    name = portal.add_user("operator")
    session = portal.sign_in(name)
    forged = session.get(portal.url("/logout"), headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False, timeout=10)
    assert forged.status_code == 302 and forged.headers["Location"] == "/"
    assert session.get(portal.url("/api/v1/me"), timeout=10).json()["name"] == name


def test_a_head_request_for_a_forbidden_view_is_redirected_too(portal):
    session = portal.sign_in(portal.add_user("operator"))
    response = session.head(portal.url("/admin"), allow_redirects=False, timeout=10)
    assert response.status_code == 302 and response.headers["Location"] == "/"
