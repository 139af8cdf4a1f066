"""The request guard: who makes a request, and whether it may.

- **Sessions** (Flask-Login on Flask's signed cookie `ioc_session`: HttpOnly, SameSite=Lax,
  Secure with `IOC_COOKIE_SECURE=1`): the cookie carries the user name and its *epoch*; the user
  is re-read from Redis on every request, so disabling a user or resetting their password ends
  their sessions at once. A session ends `IOC_SESSION_HOURS` after sign-in; a kiosk session
  (opened by `ioc.web.sign_in`) `IOC_KIOSK_DAYS` after, or when its link is revoked.
- **Bearer tokens** (`Authorization: Bearer ioc_…`, or Open311's `api_key`) for machine clients,
  on the API and on the Dash callback endpoint alike.
- **The guard** (`before_request`): static assets (`/assets/…`, the report page's `/field/…`),
  the web app's `/manifest.webmanifest` and `/sw.js`, `/login`, `/logout`, `/kiosk/…` and
  `/healthz` are open (and `/metrics` while `IOC_PUBLIC_METRICS=1`). Every other route needs a
  principal: portal pages redirect to `/login`, the Dash endpoints and the API answer 401. A
  portal page the principal may not open (by the page table, `ioc.web.pages`) redirects to its
  home page; a Dash callback goes through `ioc.web.dash_guard.check_callback`; API routes check
  their own permission (`ioc.web.auth.api_principal`).

State: the sessions seen lately (`KnownSessions`, in `server.extensions[KNOWN_SESSIONS]`), so a
signed-in user keeps their session through a short Redis outage.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from urllib.parse import quote

import orjson
from flask import Flask, Response, current_app, g, redirect, request, session
from flask_login import LoginManager
from werkzeug.middleware.proxy_fix import ProxyFix

from ioc.adapters import redis_keys as keys
from ioc.adapters import user_store
from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.domain.access import allowed

from . import dash_guard, pages
from .auth import PortalUser, current_principal, deny
from .login_page import unavailable_html
from .services import Services, current_services

log = logging.getLogger("ioc.web.guard")

SESSION_COOKIE = "ioc_session"
KNOWN_SESSIONS = "ioc_known_sessions"  # server.extensions key: the KnownSessions of this process
OPEN_PREFIXES = ("/assets/", "/_dash-component-suites/", "/kiosk/", "/field/")  # /field/: the report page's files
OPEN_PATHS = frozenset({"/login", "/logout", "/healthz", "/favicon.ico", "/_favicon.ico",
                        "/manifest.webmanifest", "/sw.js"})  # the web app: fetched without cookies
OUTAGE_GRACE_S = 600  # how long a known session outlives a Redis outage in this process
DASH_DATA = ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies")


class KnownSessions:
    """Session id -> (user, when last loaded): while Redis is down, a session that was valid a
    moment ago stays valid for `grace_s`, so its pages can say "data source unavailable" instead
    of signing everyone out; a new session is never admitted from here."""

    def __init__(self, grace_s: float = OUTAGE_GRACE_S, limit: int = 10_000):
        self.grace_s = grace_s
        self.limit = limit
        self._users: dict[str, tuple[PortalUser, float]] = {}
        self._lock = threading.Lock()

    def remember(self, session_id: str, user: PortalUser) -> None:
        with self._lock:
            if len(self._users) > self.limit:
                self._users.clear()
            self._users[session_id] = (user, time.monotonic())

    def forget(self, session_id: str | None) -> None:
        with self._lock:
            self._users.pop(session_id, None)

    def recall(self, session_id: str) -> PortalUser | None:
        known = self._users.get(session_id)
        return known[0] if known is not None and time.monotonic() - known[1] < self.grace_s else None


def known_sessions() -> KnownSessions:
    return current_app.extensions[KNOWN_SESSIONS]


def install(server: Flask, services: Services) -> None:
    """Cookies, Flask-Login's loaders, the guard in front of every route and the 401 answer."""
    settings = services.settings
    if settings.proxy_hops > 0:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops, x_host=settings.proxy_hops)
    server.secret_key = shared_secret_key(settings, services.redis)
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=settings.kiosk_days * 86400,  # only kiosk sessions are permanent
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.init_app(server)
    manager.user_loader(load_user)
    manager.request_loader(load_from_bearer)
    server.extensions[KNOWN_SESSIONS] = KnownSessions()
    server.before_request(guard)
    server.register_error_handler(401, unauthorized)


def shared_secret_key(settings, redis_client) -> str:
    """IOC_SECRET_KEY, or one random key kept in Redis so every web process and host signs alike."""
    if settings.secret_key:
        return settings.secret_key
    if redis_client is not None:
        try:
            value = user_store.shared_secret_key(redis_client)
            if value:
                log.warning("IOC_SECRET_KEY is not set; using the shared key in Redis (%s). Set IOC_SECRET_KEY in production.", keys.SECRET_KEY)
                return value
        except REDIS_UNAVAILABLE as e:
            log.warning("IOC_SECRET_KEY is not set and Redis is unreachable (%s): sessions will not be shared between processes", e)
    return secrets.token_hex(32)


# ---- who makes the request ------------------------------------------------------------------------

def load_user(session_id: str) -> PortalUser | None:
    """Flask-Login's user loader: the session cookie's user or kiosk, re-read from the user store."""
    if int(session.get("exp_ms", 0)) < time.time() * 1000:
        return None
    known = known_sessions()
    try:
        user = session_user(session_id)
    except REDIS_UNAVAILABLE:
        user = known.recall(session_id)
        if user is not None:
            return user
        raise
    if user is None:
        known.forget(session_id)
    else:
        known.remember(session_id, user)
    return user


def session_user(session_id: str) -> PortalUser | None:
    """The user (`u|name|epoch|sid`) or kiosk (`k|token id|sid`) of a live server-side session."""
    users = current_services().users
    kind, _, rest = session_id.partition("|")
    if kind == "u":
        name, epoch, sid = (rest.split("|") + ["", ""])[:3]
        user = users.session_user(sid, name) if sid else None
        if user is None or user.disabled or str(user.epoch) != epoch:
            return None
        return PortalUser(user.principal(), session_id)
    if kind == "k":
        token_id, _, sid = rest.partition("|")
        token = users.session_token(sid, token_id) if sid else None
        if token is None or not token.active or not token.kiosk:
            return None
        return PortalUser(token.principal(), session_id)
    return None


def load_from_bearer(req) -> PortalUser | None:
    """Flask-Login's request loader: an API token from `Authorization: Bearer …` (or Open311's `api_key`)."""
    header = req.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        secret = header[7:].strip()
    elif req.path.startswith("/open311/"):
        secret = open311_api_key(req)  # GeoReport v2 passes the key as `api_key`
    else:
        return None
    token = current_services().users.token_for_secret(secret)
    if token is None or token.kiosk:  # a kiosk link opens a wall session; it is no API credential
        return None
    return PortalUser(token.principal(), f"t|{token.id}")


def open311_api_key(req) -> str:
    """The Open311 `api_key`: a query or form field, or a field of a JSON body."""
    key = req.values.get("api_key")
    if key is None and req.is_json:
        body = req.get_json(silent=True)
        key = body.get("api_key") if isinstance(body, dict) else None
    return str(key or "")


# ---- may it ---------------------------------------------------------------------------------------

def guard() -> Response | None:
    """`before_request`: None lets the request through; anything else is the answer."""
    path = request.path
    settings = current_services().settings
    if path == "/login" or path.startswith("/open311/"):  # their JSON body may carry the credentials
        too_deep = json_too_deep()
        if too_deep is not None:
            return too_deep
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return None
    if path == "/metrics" and settings.public_metrics:
        return None
    try:
        principal = current_principal()
    except REDIS_UNAVAILABLE:
        if path.startswith(DASH_DATA) or path.startswith(("/api/", "/open311/")):
            return deny(503, "the user store (Redis) is unavailable; try again shortly")
        return Response(unavailable_html(settings.lang), status=503, mimetype="text/html", headers={"Retry-After": "5"})
    g.ioc_principal = principal
    if principal is not None and (too_deep := json_too_deep()) is not None:
        return too_deep
    api = path.startswith("/api/") or path.startswith("/open311/")
    if principal is None:
        if path.startswith("/open311/"):
            response = Response(orjson.dumps([{"code": 401, "description": "an api_key is required"}]), status=401,
                                mimetype="application/json")
            response.headers["WWW-Authenticate"] = 'Bearer realm="ioc"'
            return response
        if path.startswith(DASH_DATA) or api or path == "/metrics":
            return deny(401, "sign in, or send an API token as 'Authorization: Bearer …'", www_bearer=True)
        return redirect(f"/login?next={quote(request.full_path.rstrip('?') if request.query_string else path)}")
    if path == "/_dash-update-component":
        return dash_guard.check_callback(principal)
    if path == "/metrics":
        return None if allowed(principal, "view:status") else deny(403, "this token may not read metrics")
    if path.startswith(DASH_DATA) or api:
        return None  # layout / dependencies carry no data; API routes check their own permission
    if request.method in ("GET", "HEAD") and not pages.may_view_path(principal, path):
        return redirect(pages.home_path(principal))
    return None


def json_too_deep() -> Response | None:
    """A 400 for a JSON body nested too deeply for the parser; it is parsed once here (and
    cached for the view), because `get_json(silent=True)` lets a RecursionError through."""
    if not request.is_json or request.method not in ("POST", "PUT", "PATCH"):
        return None
    try:
        request.get_json(silent=True)
    except RecursionError:
        if request.path.startswith("/open311/"):
            return Response(orjson.dumps([{"code": 400, "description": "the JSON body is nested too deeply"}]),
                            status=400, mimetype="application/json")
        return deny(400, "the JSON body is nested too deeply")
    return None


def unauthorized(_e) -> Response:
    return deny(401, "sign in first", www_bearer=True)
