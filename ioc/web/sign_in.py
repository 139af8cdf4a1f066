"""Signing in and out: the blueprint of `/login`, `/logout` and `/kiosk/<secret>`.

- `/login` (GET: the form; POST: a form or the same fields as JSON) checks the name and
  password in the user store (which counts failures and locks a name out), then opens a session
  that ends `IOC_SESSION_HOURS` later and redirects to `next` (a local path only) or to the
  user's home page.
- `/logout` ends the session (its server-side id is deleted); another site may not sign a user out.
- `/kiosk/<secret>` opens a read-only operator session for an unattended wall that lasts
  `IOC_KIOSK_DAYS`; revoking the link ends it.

Login CSRF: the form carries the session's `csrf` token; see `origin_ok`.
"""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, request, session
from flask_login import current_user, login_user, logout_user

from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.domain.access import Principal
from ioc.i18n import resolve_lang

from .auth import PortalUser, client_ip, current_principal
from .guard import known_sessions
from .login_page import login_html
from .pages import home_path
from .services import current_services

log = logging.getLogger("ioc.web.sign_in")

blueprint = Blueprint("sign_in", __name__)


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    lang = page_lang()
    if request.method == "GET":
        principal = principal_or_none()
        if principal is not None and principal.kind == "user":
            return redirect(safe_next(request.args.get("next")) or home_path(principal))
        return login_page(lang)
    fields = login_fields()
    if not origin_ok(fields):
        return login_page(lang, "login_expired", 400, str(fields.get("name") or ""))
    services = current_services()
    name = str(fields.get("name") or fields.get("username") or "").strip().lower()[:64]
    try:
        outcome = services.users.authenticate(name, str(fields.get("password") or ""), client_ip())
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
                  services.settings.session_hours * 3600)
    log.info("%s signed in from %s", user.name, client_ip())
    return redirect(safe_next(str(fields.get("next") or "")) or home_path(user.principal()))


@blueprint.route("/logout", methods=["GET", "POST"])
def logout():
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return redirect("/")  # another site may not sign our users out
    principal = principal_or_none()
    session_id = current_user.get_id() if principal is not None else None
    if principal is not None and principal.kind in ("user", "kiosk"):
        users = current_services().users
        try:
            users.close_session(session_id.rsplit("|", 1)[-1])
            users.audit.record(principal.name, principal.role, "auth.sign_out", principal.name, "ok", client_ip())
        except REDIS_UNAVAILABLE:
            pass
        known_sessions().forget(session_id)
    logout_user()
    session.clear()
    return redirect("/login" + (f"?lang={request.args['lang']}" if request.args.get("lang") in ("zh", "en") else ""))


@blueprint.get("/kiosk/<secret>")
def kiosk(secret: str):
    services = current_services()
    users = services.users
    token = users.token_for_secret(secret)
    if token is None or not token.kiosk:
        users.audit.record("-", "-", "auth.kiosk", "", "failed", client_ip(), {"error": "unknown or revoked kiosk link"})
        return login_page(page_lang(), "kiosk_invalid", 401)
    start_session(lambda sid: PortalUser(token.principal(), f"k|{token.id}|{sid}"), f"kiosk:{token.id}",
                  services.settings.kiosk_days * 86400, permanent=True)
    users.audit.record(token.principal().name, "operator", "auth.kiosk", token.id, "ok", client_ip())
    return redirect("/")


# ---- helpers --------------------------------------------------------------------------------------

def start_session(make_user, subject: str, lifetime_s: int, permanent: bool = False) -> None:
    """A new session (fresh cookie, new server-side id): a browser-session cookie for people,
    a cookie that outlives the browser for a kiosk; either way it ends `lifetime_s` after
    sign-in, or at sign-out (the server-side id is deleted)."""
    session.clear()
    session.permanent = permanent
    login_user(make_user(current_services().users.open_session(subject, lifetime_s)))
    session["exp_ms"] = int((time.time() + lifetime_s) * 1000)
    session["csrf"] = secrets.token_urlsafe(24)


def principal_or_none() -> Principal | None:
    try:
        return current_principal()
    except REDIS_UNAVAILABLE:
        return None


def page_lang() -> str:
    return resolve_lang(request.args.get("lang") or request.form.get("lang"), current_services().settings.lang)


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


def origin_ok(fields: dict) -> bool:
    """Login CSRF defence. The portal's own form carries the session's `csrf` token, which
    must match. A request without one is accepted only when no browser marks it as coming
    from another site (`Origin` of another host, or `Sec-Fetch-Site: cross-site`), which is
    what a script or another system signing in looks like."""
    token = str(fields.get("csrf") or "")
    if token:
        return secrets.compare_digest(token, str(session.get("csrf", "-")))
    return not cross_site_request()


def cross_site_request() -> bool:
    """Whether a browser marks this request as coming from another site (`Sec-Fetch-Site:
    cross-site` or `same-site`, or an `Origin` of another host). Scripts and other systems send
    neither, and pass. The check of every cookie-authenticated form or upload (login, media)."""
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("Origin")
    return bool(origin) and urlsplit(origin).netloc != request.host


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
