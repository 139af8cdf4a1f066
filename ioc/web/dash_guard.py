"""The Dash guard: every Dash callback runs only for a principal holding the permission it was
registered with.

- `secured_callback(app, permission, …)` registers a callback (`app.callback`) and enters it in
  the callback permission table (`server.extensions[CALLBACK_PERMISSIONS]`: callback id ->
  permission).
- `check_callback(principal)`, called by the request guard for `/_dash-update-component`:
  a callback that is not in the table is refused to everybody (fail closed), one whose permission
  the principal lacks gets 403 with no data (and an audit entry), a request whose shape is not the
  callback's gets 400 instead of an error deep inside Dash.
"""

from __future__ import annotations

import logging

from dash.exceptions import CallbackException
from flask import current_app, request

from ioc.domain.access import AccessDenied, Principal, require

from .auth import client_ip, deny
from .outage import guard_callback
from .services import current_services

log = logging.getLogger("ioc.web.dash_guard")

CALLBACK_PERMISSIONS = "ioc_callback_permissions"  # server.extensions key: Dash callback id -> permission
DASH_APP = "ioc_dash_app"  # server.extensions key: the Dash app (its callback_map, for the shape check)


def install(app) -> None:
    """Prepare the permission table and answer Dash's own request mismatch with a 400."""
    app.server.extensions.setdefault(CALLBACK_PERMISSIONS, {})
    app.server.extensions[DASH_APP] = app
    app.server.register_error_handler(CallbackException, callback_mismatch)


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


def check_callback(principal: Principal):
    """None when `principal` may run the callback this request posts; else the 400/403 answer."""
    body = request.get_json(silent=True) or {}
    callback_id = body.get("output") if isinstance(body, dict) else None
    permission = current_app.extensions[CALLBACK_PERMISSIONS].get(callback_id) if isinstance(callback_id, str) else None
    if permission is None:
        return deny(403, "unknown callback")
    try:
        require(principal, permission)
    except AccessDenied as e:
        current_services().users.audit.record(principal.name, principal.role, "access.denied", permission, "denied",
                                              client_ip(), {"callback": str(callback_id)[:200]})
        return deny(403, str(e))
    problem = callback_shape_error(body, current_app.extensions[DASH_APP].callback_map.get(callback_id) or {})
    if problem:
        log.warning("malformed callback request from %s for %s: %s", principal.name, str(callback_id)[:120], problem)
        return deny(400, f"malformed callback request: {problem}")
    return None


def callback_mismatch(e):
    """Dash's own check that the request's outputs and inputs are the callback's (a forged or stale
    request): the caller's error, not the server's. Anything else stays a 500."""
    if request.path == "/_dash-update-component" and type(e) is CallbackException:
        log.warning("callback request does not match its definition: %s", e)
        return deny(400, "malformed callback request: it does not match the callback's definition")
    raise e


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
