"""An unavailable Redis, answered in one place.

Callback and route bodies do not catch `REDIS_UNAVAILABLE`; it reaches one of two answers:

- **Dash callbacks** (`guard_callback`, applied to every callback by `secured_callback`): the
  frame's banner says "data source unavailable" at once (`dash.set_props`; the heartbeat keeps
  saying it every 2 s until Redis answers, then hides it) and the callback's own outputs keep
  what they show (`no_update`). A callback that carries out an action the user asked for is
  marked with `notice_in(<its message component>)`: the banner and that component then say the
  action was NOT carried out, so the user who clicked is told even after the banner changes.
- **HTTP routes** (`install_error_handler`): one Flask error handler answers 503 with
  `Retry-After`, in the shape of the route family: `/api/…` (map data included)
  `{"error": "unavailable", "message": …}`, `/open311/…` GeoReport's `[{"code": 503,
  "description": …}]`, `/metrics` plain text, a Dash request JSON like the guard's, a page the
  "unavailable" page. `/healthz` checks Redis itself: the outage is its answer.
"""

from __future__ import annotations

import functools
import logging

import orjson
from dash import ctx, no_update, set_props
from flask import Flask, Response, current_app, request

from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.i18n import resolve_lang, t

from .login_page import unavailable_html

log = logging.getLogger(__name__)

BANNER = "banner"  # the frame's banner (layouts.shell), under the top bar on every page
RETRY_AFTER_S = 5
NOTICE = "ioc_outage_notice"  # attribute of a callback marked with `notice_in`
DASH_DATA = ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies")


# ---- Dash callbacks ----------------------------------------------------------------------------

def notice_in(component_id: str, prop: str = "children"):
    """Mark an action callback: on an outage, `component_id.prop` (where the callback reports
    its result) says the action was not carried out, as well as the banner."""

    def mark(fn):
        setattr(fn, NOTICE, (component_id, prop))
        return fn

    return mark


def guard_callback(fn):
    """`fn` as a Dash callback body whose Redis outage becomes the banner (see the module)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except REDIS_UNAVAILABLE as e:
            return callback_outage(fn, e)

    return run


def callback_outage(fn, error: BaseException):
    """The answer of callback `fn` that met `error` (Redis unavailable): the banner (and the
    action's own message, for an action), nothing else changed."""
    lang = callback_lang()
    notice = getattr(fn, NOTICE, None)
    text = t("action_unavailable" if notice else "data_unavailable", lang)
    log.debug("callback %s: Redis unavailable (%s)", getattr(fn, "__name__", fn), error)
    set_props(BANNER, {"children": text, "className": "banner"})
    if notice is not None:
        component_id, prop = notice
        set_props(component_id, {prop: text})
    return no_update if ctx.outputs_list else None


def callback_lang() -> str:
    """The page's language (the `lang` store, as an Input or a State of the callback), else the
    process's default."""
    value = ctx.states.get("lang.data") or ctx.inputs.get("lang.data")
    return resolve_lang(value, _default_lang())


# ---- HTTP routes -------------------------------------------------------------------------------

def install_error_handler(server: Flask) -> None:
    """Register `http_outage` for every exception type that means "Redis is unavailable"."""
    for error_type in REDIS_UNAVAILABLE:
        server.register_error_handler(error_type, http_outage)


def http_outage(error: BaseException) -> Response:
    """503 with `Retry-After`, in the shape of the requested route family."""
    path = request.path
    log.debug("%s %s: Redis unavailable (%s)", request.method, path, error)
    if path.startswith("/open311/"):
        response = _json([{"code": 503, "description": "the service is unavailable; try again shortly"}])
    elif path == "/metrics":
        response = Response(f"Redis unavailable: {error}\n", status=503, mimetype="text/plain")
    elif path.startswith("/api/") or path.startswith(DASH_DATA):
        response = _json({"error": "unavailable", "message": f"Redis is unavailable: {error}"})
    else:
        response = Response(unavailable_html(_default_lang()), status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _json(body) -> Response:
    return Response(orjson.dumps(body), status=503, mimetype="application/json")


def _default_lang() -> str:
    services = current_app.extensions.get("ioc_services")
    return services.settings.lang if services is not None else "zh"
