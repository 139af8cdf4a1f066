"""Sign-in, sessions, bearer tokens and the server-side guard in front of every route.

- **Sessions** (Flask-Login on Flask's signed cookie `ioc_session`: HttpOnly, SameSite=Lax,
  Secure with `IOC_COOKIE_SECURE=1`): the cookie carries the user name and its *epoch*; the user
  is re-read from Redis on every request, so disabling a user or resetting their password ends
  their sessions at once. A session ends `IOC_SESSION_HOURS` after sign-in.
- **Kiosk links** (`/kiosk/<token>`): open a read-only operator session for an unattended wall
  that lasts `IOC_KIOSK_DAYS`; revoking the link ends it.
- **Bearer tokens** (`Authorization: Bearer ioc_…`) for machine clients, on the API and on the
  Dash callback endpoint alike.
- **The guard** (`before_request`): static assets, `/login`, `/logout`, `/kiosk/…` and
  `/healthz` are open (and `/metrics` while `IOC_PUBLIC_METRICS=1`). Every other route needs a
  principal: portal pages redirect to `/login`, the Dash endpoints and the API answer 401. A Dash
  callback is run only if the principal holds the permission it was registered with
  (`secured_callback`), else 403 with no data; a callback registered without one is refused to
  everybody (fail closed).
"""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import quote, urlsplit

import orjson
from dash.exceptions import CallbackException
from flask import Flask, Response, abort, g, redirect, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.middleware.proxy_fix import ProxyFix

from ioc.adapters import redis_keys as keys
from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.adapters.user_store import UserStore
from ioc.domain.access import Principal, allowed, home_path, may_view_path, require, AccessDenied
from ioc.i18n import resolve_lang

from .login_page import login_html, unavailable_html
from .outage import guard_callback

log = logging.getLogger("ioc.web.auth")

CALLBACK_PERMISSIONS = "ioc_callback_permissions"  # server.extensions key: Dash callback id -> permission
SESSION_COOKIE = "ioc_session"
OPEN_PREFIXES = ("/assets/", "/_dash-component-suites/", "/kiosk/")
OPEN_PATHS = frozenset({"/login", "/logout", "/healthz", "/favicon.ico", "/_favicon.ico"})
OUTAGE_GRACE_S = 600  # how long a known session outlives a Redis outage in this process
DASH_DATA = ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies")


class PortalUser(UserMixin):
    """Flask-Login's view of a principal. Session id: `u|<name>|<epoch>` or `k|<token id>`."""

    def __init__(self, principal: Principal, session_id: str):
        self.principal = principal
        self._id = session_id

    def get_id(self) -> str:
        return self._id


def secured_callback(app, permission: str, *args, **kwargs):
    """`app.callback(*args, **kwargs)` that records the permission the guard checks before running it."""
    before = set(app.callback_map)
    register = app.callback(*args, **kwargs)  # Dash enters the callback in callback_map here

    def decorate(fn):
        result = register(guard_callback(fn))  # a Redis outage: the banner (ioc.web.outage)
        table = app.server.extensions.setdefault(CALLBACK_PERMISSIONS, {})
        for callback_id in set(app.callback_map) - before:
            table[callback_id] = permission
        return result

    return decorate


def current_principal() -> Principal | None:
    """The principal of this request (session, kiosk or bearer token), or None."""
    if getattr(g, "ioc_principal", None) is not None:
        return g.ioc_principal
    user = current_user._get_current_object()
    return user.principal if user is not None and getattr(user, "is_authenticated", False) else None


def client_ip() -> str:
    return request.remote_addr or ""


DENIAL_ERRORS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 503: "unavailable"}


def deny(status: int, message: str, www_bearer: bool = False) -> Response:
    response = Response(orjson.dumps({"error": DENIAL_ERRORS[status], "message": message}),
                        status=status, mimetype="application/json")
    if www_bearer:
        response.headers["WWW-Authenticate"] = 'Bearer realm="ioc"'
    return response


def shared_secret_key(settings, redis_client) -> str:
    """IOC_SECRET_KEY, or one random key kept in Redis so every web process and host signs alike."""
    if settings.secret_key:
        return settings.secret_key
    if redis_client is not None:
        try:
            redis_client.set(keys.SECRET_KEY, secrets.token_hex(32), nx=True)
            value = redis_client.get(keys.SECRET_KEY)
            if value:
                log.warning("IOC_SECRET_KEY is not set; using the shared key in Redis (%s). Set IOC_SECRET_KEY in production.", keys.SECRET_KEY)
                return value.decode() if isinstance(value, bytes) else value
        except REDIS_UNAVAILABLE as e:
            log.warning("IOC_SECRET_KEY is not set and Redis is unreachable (%s): sessions will not be shared between processes", e)
    return secrets.token_hex(32)


def open311_api_key(req) -> str:
    """The Open311 `api_key`: a query or form field, or a field of a JSON body."""
    key = req.values.get("api_key")
    if key is None and req.is_json:
        body = req.get_json(silent=True)
        key = body.get("api_key") if isinstance(body, dict) else None
    return str(key or "")


def safe_next(target: str | None) -> str:
    """Only a local path may be a redirect target after sign-in: it starts with one `/`, has no
    control character (browsers and werkzeug drop tabs, so `/\t/evil` would become `//evil`), no
    backslash, and parses without a scheme or host."""
    if not target or not target.startswith("/") or "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return ""
    parts = urlsplit(target)
    if target.startswith("//") or parts.scheme or parts.netloc:
        return ""
    return target


def setup_auth(app, services, users: UserStore) -> None:
    settings = services.settings
    server: Flask = app.server
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
    server.extensions.setdefault(CALLBACK_PERMISSIONS, {})

    last_known: dict[str, tuple[PortalUser, float]] = {}  # session id -> (user, when loaded) for Redis outages

    @manager.user_loader
    def load_user(session_id: str):
        if int(session.get("exp_ms", 0)) < time.time() * 1000:
            return None
        try:
            user = _load(session_id)
        except REDIS_UNAVAILABLE:
            # Redis is down: keep a session that was valid a moment ago, so its pages can say
            # "data source unavailable" instead of signing everyone out; never admit a new one
            known = last_known.get(session_id)
            if known is not None and time.monotonic() - known[1] < OUTAGE_GRACE_S:
                return known[0]
            raise
        if user is None:
            last_known.pop(session_id, None)
        else:
            if len(last_known) > 10_000:
                last_known.clear()
            last_known[session_id] = (user, time.monotonic())
        return user

    def _load(session_id: str) -> PortalUser | None:
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

    @manager.request_loader
    def load_from_bearer(req):
        header = req.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            secret = header[7:].strip()
        elif req.path.startswith("/open311/"):
            secret = open311_api_key(req)  # GeoReport v2 passes the key as `api_key`
        else:
            return None
        token = users.token_for_secret(secret)
        if token is None or token.kiosk:  # a kiosk link opens a wall session; it is no API credential
            return None
        return PortalUser(token.principal(), f"t|{token.id}")

    def start_session(make_user, subject: str, lifetime_s: int, permanent: bool = False) -> None:
        """A new session (fresh cookie, new server-side id): a browser-session cookie for people,
        a cookie that outlives the browser for a kiosk; either way it ends `lifetime_s` after
        sign-in, or at sign-out (the server-side id is deleted)."""
        session.clear()
        session.permanent = permanent
        login_user(make_user(users.open_session(subject, lifetime_s)))
        session["exp_ms"] = int((time.time() + lifetime_s) * 1000)
        session["csrf"] = secrets.token_urlsafe(24)

    def page_lang() -> str:
        return resolve_lang(request.args.get("lang") or request.form.get("lang"), settings.lang)

    def login_page(lang: str, error: str = "", status: int = 200, name: str = "", retry_after: int = 0) -> Response:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        html = login_html(lang, session["csrf"], safe_next(request.values.get("next")), error, name, retry_after)
        response = Response(html, status=status, mimetype="text/html")
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    def login_fields() -> dict:
        """The sign-in fields: the form (`name` or `username`, `password`, `csrf`, `next`) or the same as JSON."""
        body = request.get_json(silent=True) if request.is_json else None
        return body if isinstance(body, dict) else request.form.to_dict()

    def login_origin_ok(fields: dict) -> bool:
        """Login CSRF defence. The portal's own form carries the session's `csrf` token, which
        must match. A request without one is accepted only when no browser marks it as coming
        from another site (`Origin` of another host, or `Sec-Fetch-Site: cross-site`), which is
        what a script or another system signing in looks like."""
        token = str(fields.get("csrf") or "")
        if token:
            return secrets.compare_digest(token, str(session.get("csrf", "-")))
        if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
            return False
        origin = request.headers.get("Origin")
        return not origin or urlsplit(origin).netloc == request.host

    @server.route("/login", methods=["GET", "POST"])
    def login():
        lang = page_lang()
        if request.method == "GET":
            principal = current_principal_or_none()
            if principal is not None and principal.kind == "user":
                return redirect(safe_next(request.args.get("next")) or home_path(principal))
            return login_page(lang)
        fields = login_fields()
        if not login_origin_ok(fields):
            return login_page(lang, "login_expired", 400, str(fields.get("name") or ""))
        name = str(fields.get("name") or fields.get("username") or "").strip().lower()[:64]
        try:
            outcome = users.authenticate(name, str(fields.get("password") or ""), client_ip())
        except REDIS_UNAVAILABLE:
            return login_page(lang, "data_unavailable", 503, name)
        if outcome.reason == "locked":
            log.warning("sign-in locked for %r from %s (%d s left)", name, client_ip(), outcome.retry_after_s)
            return login_page(lang, "login_locked", 429, name, outcome.retry_after_s)
        if outcome.user is None:
            log.warning("failed sign-in for %r from %s", name, client_ip())
            return login_page(lang, "login_failed", 401, name)
        user = outcome.user
        start_session(lambda sid: PortalUser(user.principal(), f"u|{user.name}|{user.epoch}|{sid}"), user.name,
                      settings.session_hours * 3600)
        log.info("%s signed in from %s", user.name, client_ip())
        return redirect(safe_next(str(fields.get("next") or "")) or home_path(user.principal()))

    @server.route("/logout", methods=["GET", "POST"])
    def logout():
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            return redirect("/")  # another site may not sign our users out
        principal = current_principal_or_none()
        session_id = current_user.get_id() if principal is not None else None
        if principal is not None and principal.kind in ("user", "kiosk"):
            try:
                users.close_session(session_id.rsplit("|", 1)[-1])
                users.audit.record(principal.name, principal.role, "auth.sign_out", principal.name, "ok", client_ip())
            except REDIS_UNAVAILABLE:
                pass
            last_known.pop(session_id, None)
        logout_user()
        session.clear()
        return redirect("/login" + (f"?lang={request.args['lang']}" if request.args.get("lang") in ("zh", "en") else ""))

    def current_principal_or_none() -> Principal | None:
        try:
            return current_principal()
        except REDIS_UNAVAILABLE:
            return None

    @server.get("/kiosk/<secret>")
    def kiosk(secret: str):
        token = users.token_for_secret(secret)
        if token is None or not token.kiosk:
            users.audit.record("-", "-", "auth.kiosk", "", "failed", client_ip(), {"error": "unknown or revoked kiosk link"})
            return login_page(page_lang(), "kiosk_invalid", 401)
        start_session(lambda sid: PortalUser(token.principal(), f"k|{token.id}|{sid}"), f"kiosk:{token.id}",
                      settings.kiosk_days * 86400, permanent=True)
        users.audit.record(token.principal().name, "operator", "auth.kiosk", token.id, "ok", client_ip())
        return redirect("/")

    @server.before_request
    def guard():
        path = request.path
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
            return check_callback(principal)
        if path == "/metrics":
            return None if allowed(principal, "view:status") else deny(403, "this token may not read metrics")
        if path.startswith(DASH_DATA) or api:
            return None  # layout / dependencies carry no data; API routes check their own permission
        if request.method in ("GET", "HEAD") and not may_view_path(principal, path):
            return redirect(home_path(principal))
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

    def check_callback(principal: Principal):
        body = request.get_json(silent=True) or {}
        callback_id = body.get("output") if isinstance(body, dict) else None
        permission = server.extensions[CALLBACK_PERMISSIONS].get(callback_id) if isinstance(callback_id, str) else None
        if permission is None:
            return deny(403, "unknown callback")
        try:
            require(principal, permission)
        except AccessDenied as e:
            users.audit.record(principal.name, principal.role, "access.denied", permission, "denied", client_ip(),
                               {"callback": str(callback_id)[:200]})
            return deny(403, str(e))
        problem = callback_shape_error(body, app.callback_map.get(callback_id) or {})
        if problem:
            log.warning("malformed callback request from %s for %s: %s", principal.name, str(callback_id)[:120], problem)
            return deny(400, f"malformed callback request: {problem}")
        return None

    @server.errorhandler(CallbackException)
    def callback_mismatch(e):
        # Dash's own check that the request's outputs and inputs are the callback's (a forged or
        # stale request): the caller's error, not the server's. Anything else stays a 500.
        if request.path == "/_dash-update-component" and type(e) is CallbackException:
            log.warning("callback request does not match its definition: %s", e)
            return deny(400, "malformed callback request: it does not match the callback's definition")
        raise e

    @server.errorhandler(401)
    def unauthorized(_e):
        return deny(401, "sign in first", www_bearer=True)

    server.extensions["ioc_users"] = users


def callback_shape_error(body: dict, spec: dict) -> str:
    """Why `body` cannot be the renderer's request for the callback `spec` (an entry of Dash's
    callback_map), or "". Only the shape Dash itself indexes into is checked (so a forged request
    gets a 400 instead of a TypeError deep in Dash); values are the callback's business."""
    def component_id(value) -> bool:  # a string, or a pattern-matching dict of strings, numbers, booleans
        return isinstance(value, str) or (isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in value.items()))

    def dependency(entry) -> bool:  # {id, property, value?}, or a list of them (pattern-matching ALL)
        items = entry if isinstance(entry, list) else [entry]
        return all(isinstance(i, dict) and component_id(i.get("id")) and isinstance(i.get("property"), str) for i in items)

    for key, declared in (("inputs", spec.get("inputs", [])), ("state", spec.get("state", []))):
        got = body.get(key, [])
        if not isinstance(got, list) or len(got) != len(declared) or not all(dependency(d) for d in got):
            return f"{key}: expected a list of {len(declared)} {{id, property, value}} entries"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds: expected a list of strings"
    if not spec.get("no_output"):
        outputs = body.get("outputs")
        indices = spec.get("outputs_indices", 0)
        expected = len(indices) if isinstance(indices, (list, tuple)) else 1
        many = isinstance(outputs, list) and expected > 1
        if not (dependency(outputs) if expected == 1 else many and len(outputs) == expected and all(dependency(o) for o in outputs)):
            return f"outputs: expected {expected} {{id, property}} entries"
    return ""


def api_principal(permission: str) -> Principal:
    """The request's principal if it holds `permission`; else abort with 401/403 JSON."""
    principal = current_principal()
    if principal is None:
        abort(deny(401, "sign in, or send an API token as 'Authorization: Bearer …'", www_bearer=True))
    try:
        require(principal, permission)
    except AccessDenied as e:
        users: UserStore | None = _users()
        if users is not None:
            try:
                users.audit.record(principal.name, principal.role, "access.denied", permission, "denied", client_ip(), {"path": request.path})
            except REDIS_UNAVAILABLE:
                pass
        abort(deny(403, str(e)))
    return principal


def _users() -> UserStore | None:
    from flask import current_app

    return current_app.extensions.get("ioc_users")
