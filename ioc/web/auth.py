"""Who is asking: the principal of the current request, as route and callback bodies see it.

Authentication is in three modules around this one:

- `ioc.web.sign_in` — the sign-in blueprint: `/login`, `/logout`, `/kiosk/<secret>`.
- `ioc.web.guard` — sessions and bearer tokens resolved into a `Principal`, and the
  `before_request` guard in front of every route (401/403, redirects to sign-in or home).
- `ioc.web.dash_guard` — `secured_callback` and the permission check of every Dash callback.

Here: `current_principal()`, `client_ip()`, `api_principal(permission)` for API routes, and
`deny()`, the JSON refusal every guard answers with.
"""

from __future__ import annotations

import orjson
from flask import Response, abort, g, request
from flask_login import UserMixin, current_user

from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.domain.access import AccessDenied, Principal, require

from .services import current_services


class PortalUser(UserMixin):
    """Flask-Login's view of a principal. Session id: `u|<name>|<epoch>|<sid>`, `k|<token id>|<sid>`
    or, for a bearer token, `t|<token id>`."""

    def __init__(self, principal: Principal, session_id: str):
        self.principal = principal
        self._id = session_id

    def get_id(self) -> str:
        return self._id


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


def api_principal(permission: str) -> Principal:
    """The request's principal if it holds `permission`; else abort with 401/403 JSON."""
    principal = current_principal()
    if principal is None:
        abort(deny(401, "sign in, or send an API token as 'Authorization: Bearer …'", www_bearer=True))
    try:
        require(principal, permission)
    except AccessDenied as e:
        try:
            current_services().users.audit.record(principal.name, principal.role, "access.denied", permission, "denied",
                                                  client_ip(), {"path": request.path})
        except REDIS_UNAVAILABLE:
            pass
        abort(deny(403, str(e)))
    return principal
