"""Security headers of the web process (ioc.web.security_headers) on pages, Dash data, the API,
sign-in and the kiosk view, with and without IOC_KIOSK_FRAME_ANCESTORS; no secret in the page,
in Dash's layout and config, or in the request logs (werkzeug, and gunicorn run with
deploy/gunicorn/gunicorn.conf.py)."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import subprocess
import sys
import time

import pytest
import requests

from ioc.adapters.embedded import _die_with_parent, free_port
from ioc.adapters.user_store import Actor
from ioc.settings import REPO_ROOT
from ioc.web.app import create_app
from ioc.web.security_headers import content_security_policy, frame_ancestors, redact, tile_source
from tests.conftest import TEST_PASSWORD, add_test_user, wait_for

SECRET_KEY = "test-secret-key-0123456789abcdef-never-in-a-page"
ADMIN = Actor("test", "admin")
WALL = "https://wall.example.gov.cn"


def csp(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    out = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        out[name] = values
    return out


class Web:
    """The app's Flask test client with helpers to sign in and open a kiosk link."""

    def __init__(self, settings, **changes):
        self.settings = settings.replace(secret_key=SECRET_KEY, **changes)
        self.app = create_app(self.settings)
        self.client = self.app.server.test_client()
        self.users = self.app.server.extensions["ioc_users"]

    def sign_in(self, *roles: str, client=None) -> tuple[str, str]:
        """Sign a new user in through the form, in `client` (another browser) or the default one."""
        client = client or self.client
        name, password = add_test_user(self.users, *roles)
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        response = client.post("/login", data={"name": name, "password": password, "csrf": csrf})
        assert response.status_code == 302 and "/login" not in response.headers["Location"]
        return name, password

    def open_kiosk(self):
        _token, secret = self.users.create_token("wall 1", [], ADMIN, kiosk=True)
        response = self.client.get(f"/kiosk/{secret}")
        assert response.status_code == 302 and response.headers["Location"] == "/"
        return secret, response


@pytest.fixture
def web(settings):
    return Web(settings)


@pytest.fixture
def framing_web(settings):
    return Web(settings, kiosk_frame_ancestors=f"{WALL} https://screens.example.gov.cn:8443")


def assert_common(response):
    h = response.headers
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    # the field pages may ask for the position (this origin only, never a framing one)
    assert "camera=()" in h["Permissions-Policy"] and "geolocation=(self)" in h["Permissions-Policy"]
    policy = csp(response)
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"] and policy["media-src"] == ["'self'"]
    assert policy["form-action"] == ["'self'"] and policy["base-uri"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]


def assert_not_framable(response):
    assert csp(response)["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"


# ---- pages, Dash data, API, sign-in ---------------------------------------------------------------

def test_the_sign_in_page_is_not_framable_not_cached_and_has_every_header(web):
    for response in (web.client.get("/login"), web.client.post("/login", data={"name": "x", "password": "y"})):
        assert_common(response)
        assert_not_framable(response)
        assert response.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS


def test_portal_pages_allow_exactly_dash_s_inline_scripts_by_hash(web):
    web.sign_in("operator")
    page = web.client.get("/")
    assert page.status_code == 200
    assert_common(page)
    assert_not_framable(page)
    assert page.headers["Cache-Control"] == "no-store"
    html = re.sub(r"<!--.*?-->", "", page.get_data(as_text=True), flags=re.S)  # e.g. Dash's IE-only warning
    executable = [body for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
                  if body.strip() and "application/json" not in attrs]
    assert executable, "Dash renders its start-up script inline"
    allowed = set(csp(page)["script-src"])
    for body in executable:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed, f"inline script not allowed by the CSP: {body[:80]}"
    assert csp(page)["style-src"] == ["'self'", "'unsafe-inline'"]
    assert csp(page)["img-src"] == ["'self'", "data:", "blob:"]


@pytest.mark.parametrize("path", ["/_dash-layout", "/_dash-dependencies", "/healthz", "/metrics"])
def test_dash_data_and_service_endpoints_are_not_cached(web, path):
    web.sign_in("operator")
    response = web.client.get(path)
    assert response.status_code == 200
    assert_common(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_api_answers_with_no_store_for_a_bearer_token_and_for_nobody(web):
    _token, secret = web.users.create_token("platform", ["dispatcher"], ADMIN)
    for headers, status in (({"Authorization": f"Bearer {secret}"}, 200), ({}, 401)):
        response = web.client.get("/api/v1/cases", headers=headers)
        assert response.status_code == status
        assert_common(response)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.mimetype == "application/json"


def test_static_assets_stay_cacheable(web):
    response = web.client.get("/assets/ioc.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_is_sent_only_behind_tls(settings):
    secure = Web(settings, cookie_secure=True).client.get("/login")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_tile_server_s_origin_may_serve_images(settings):
    response = Web(settings, tile_url="http://{s}.tiles.zjg.intranet:8080/osm/{z}/{x}/{y}.png").client.get("/login")
    assert csp(response)["img-src"] == ["'self'", "data:", "blob:", "http://*.tiles.zjg.intranet:8080"]
    assert tile_source("https://tiles.example/{z}/{x}/{y}.png") == "https://tiles.example"
    assert tile_source("/tiles/{z}/{x}/{y}.png") == ""


# ---- the kiosk and framing ---------------------------------------------------------------------------

def test_without_the_setting_not_even_the_kiosk_may_be_framed(web):
    _secret, redirect = web.open_kiosk()
    assert_not_framable(redirect)
    wall = web.client.get("/")
    assert wall.status_code == 200
    assert_not_framable(wall)
    assert_not_framable(web.client.get("/kiosk/not-a-valid-secret"))


def test_the_setting_lets_the_named_origins_frame_the_kiosk_view_only(framing_web):
    _secret, redirect = framing_web.open_kiosk()
    wall = framing_web.client.get("/")
    for response in (redirect, wall):
        assert csp(response)["frame-ancestors"] == [WALL, "https://screens.example.gov.cn:8443"]
        assert "X-Frame-Options" not in response.headers
        assert_common(response)
    assert_not_framable(framing_web.app.server.test_client().get("/kiosk/ioc_revoked-or-wrong"))  # the sign-in form
    layout = framing_web.client.get("/_dash-layout")
    assert "X-Frame-Options" not in layout.headers  # still the kiosk session
    people = framing_web.app.server.test_client()  # another browser: a person signing in
    assert_not_framable(people.get("/login"))
    framing_web.sign_in("operator", client=people)
    assert_not_framable(people.get("/"))


def test_a_malformed_frame_ancestors_setting_stops_the_app_at_start(settings):
    for bad in ("*", "https://wall.example; script-src *", "'unsafe-inline'", "javascript:alert(1)", "https://x/path"):
        with pytest.raises(ValueError, match="IOC_KIOSK_FRAME_ANCESTORS"):
            create_app(settings.replace(kiosk_frame_ancestors=bad))
    assert frame_ancestors("'self' https://a.example http://b.example:81/") == ("'self'", "https://a.example", "http://b.example:81")


def test_the_policy_is_one_header_of_known_directives():
    policy = content_security_policy(["'sha256-abc='"], "", [WALL])
    assert "\n" not in policy and policy.count("frame-ancestors") == 1
    assert "frame-ancestors https://wall.example.gov.cn" in policy and "'sha256-abc='" in policy


# ---- no secrets in the page or the logs ----------------------------------------------------------------

def test_no_secret_reaches_the_page_the_layout_or_the_config(web, caplog):
    caplog.set_level(logging.DEBUG)
    name, password = web.sign_in("admin")
    _token, api_secret = web.users.create_token("platform", ["dispatcher"], ADMIN)
    _kiosk, kiosk_secret = web.users.create_token("wall 2", [], ADMIN, kiosk=True)
    secrets_ = [SECRET_KEY, password, TEST_PASSWORD, api_secret, kiosk_secret]
    bodies = []
    for path in ("/", "/admin", "/account", "/_dash-layout", "/_dash-dependencies", "/login"):
        response = web.client.get(path)
        assert response.status_code in (200, 302)
        bodies.append(response.get_data(as_text=True))
    html = next(b for b in bodies if "_dash-config" in b)
    config = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html, re.S).group(1)
    assert config
    for secret in secrets_:
        for body in bodies:
            assert secret not in body
    kiosk_browser = web.app.server.test_client()
    kiosk_browser.get(f"/kiosk/{kiosk_secret}")
    kiosk_browser.get("/kiosk/ioc_wrong-secret-123")
    web.client.get(f"/open311/v2/requests.json?api_key={api_secret}")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets_ + ["ioc_wrong-secret-123"]:
        assert secret not in logged


def test_request_lines_in_the_werkzeug_log_are_redacted(web, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    logging.getLogger("werkzeug").info('%s - - [x] "%s" %s -', "127.0.0.1", "GET /kiosk/ioc_s3cr3t-kiosk HTTP/1.1", 302)
    logging.getLogger("werkzeug").info('"GET /open311/v2/requests.json?lang=en&api_key=ioc_t0ken&x=1 HTTP/1.1" 200')
    text = caplog.text
    assert "ioc_s3cr3t-kiosk" not in text and "ioc_t0ken" not in text
    assert "GET /kiosk/… HTTP/1.1" in text and "?lang=en&api_key=…&x=1" in text
    assert redact("/kiosk/abc/def?token=1&password=2") == "/kiosk/…/def?token=…&password=…"


def test_gunicorn_with_the_deploy_config_logs_no_secret(settings, tmp_path):
    users_web = Web(settings)
    _token, api_secret = users_web.users.create_token("platform", ["dispatcher"], ADMIN)
    _kiosk, kiosk_secret = users_web.users.create_token("wall 3", [], ADMIN, kiosk=True)
    port = free_port()
    env = {**os.environ, "REDIS_URL": settings.redis_url, "MQTT_URL": settings.mqtt_url, "IOC_SECRET_KEY": SECRET_KEY,
           "IOC_DATA_DIR": str(tmp_path), "IOC_WEB_WORKERS": "1", "IOC_LOG_LEVEL": "info", "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "deploy/gunicorn/gunicorn.conf.py"),
                                 "--bind", f"127.0.0.1:{port}"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.trust_env = False
    try:
        deadline = time.time() + 60
        while True:
            try:
                if session.get(base + "/healthz", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert proc.poll() is None and time.time() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        kiosk = session.get(f"{base}/kiosk/{kiosk_secret}", allow_redirects=False, timeout=10)
        assert kiosk.status_code == 302 and kiosk.headers["X-Frame-Options"] == "DENY"
        assert session.get(f"{base}/kiosk/ioc_guessed-secret-42", timeout=10).status_code == 401
        session.cookies.clear()  # a machine client: no kiosk session cookie
        assert session.get(f"{base}/open311/v2/requests.json?api_key={api_secret}", timeout=10).status_code != 401
        assert session.get(f"{base}/api/v1/cases", headers={"Authorization": f"Bearer {api_secret}"}, timeout=10).status_code == 200
        wait_for(lambda: '"GET /api/v1/cases HTTP/1.1"' in log_path.read_text(errors="replace"), timeout=10,
                 message="the access log's line of the last request")
    finally:
        proc.terminate()
        proc.wait(15)
    text = log_path.read_text(errors="replace")
    assert '"GET /kiosk/… HTTP/1.1" 302' in text and '"GET /open311/v2/requests.json HTTP/1.1"' in text
    for secret in (kiosk_secret, "ioc_guessed-secret-42", api_secret, SECRET_KEY):
        assert secret not in text
