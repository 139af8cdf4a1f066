"""Security headers on every response of the web process, and secrets kept out of its logs.

`install(server, settings, script_hashes)` registers one `after_request` on the Flask server:

- **Content-Security-Policy**: scripts only from this origin plus the hashes of Dash's own inline
  scripts (`app.csp_hashes()`: the renderer start-up line; no `'unsafe-inline'`, no
  `'unsafe-eval'`); styles from this origin and inline (React, Leaflet and Plotly set element
  styles); images from this origin, `data:`/`blob:` and the origin of `IOC_TILE_URL` when set;
  fetches, fonts, media (the alert chime) and workers from this origin only; no plugins; forms
  post only here; `frame-ancestors 'none'`, except for the kiosk (wall) view when
  `IOC_KIOSK_FRAME_ANCESTORS` names the origins allowed to frame it.
- **X-Frame-Options: DENY** wherever framing is refused (older browsers ignore frame-ancestors).
- **X-Content-Type-Options: nosniff**, **Referrer-Policy: same-origin** (a kiosk link carries
  its secret in the path; no other origin, the tile server included, ever sees a portal URL),
  a **Permissions-Policy** that turns off what the portal never uses, **Cross-Origin-Opener-Policy**.
- **Strict-Transport-Security** only when `IOC_COOKIE_SECURE=1` (the portal is served over HTTPS).
- **Cache-Control: no-store** on everything but static assets: portal pages, Dash data, the API,
  Open311, sign-in and kiosk responses may carry personal or case data and must not be kept by
  browsers or shared caches. A case's photos (`ioc.web.media_api`, marked `response.private_cache`)
  keep their own `private, max-age=3600`: the browser may keep them, a shared proxy never.

Logging: the kiosk secret (`/kiosk/<secret>`) and Open311's `api_key=` query field are replaced
by `…` in every record of the `werkzeug` and `gunicorn.access` loggers (request lines of the
development server and gunicorn's access log), so no credential reaches a log file.
"""

from __future__ import annotations

import logging
import re
from typing import Callable, Iterable
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

STATIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico", "/favicon.ico")
KIOSK_PREFIX = "/kiosk/"
HSTS = "max-age=31536000; includeSubDomains"
# only features Chromium knows: an unknown one ("bluetooth") makes it warn on every page
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "camera", "display-capture", "geolocation", "gyroscope", "magnetometer", "microphone",
    "midi", "payment", "usb", "serial", "hid", "idle-detection", "publickey-credentials-get",
    "screen-wake-lock", "xr-spatial-tracking", "browsing-topics",
))

# An origin allowed to frame the kiosk: scheme://host[:port], host may start with "*."
_ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$")


def frame_ancestors(value: str) -> tuple[str, ...]:
    """IOC_KIOSK_FRAME_ANCESTORS as CSP sources: space-separated origins, or `'self'`.
    Anything else (paths, quotes, semicolons that would inject directives) is refused."""
    out = []
    for item in value.split():
        item = item.rstrip("/")
        if item in ("'self'", "self"):
            out.append("'self'")
        elif _ORIGIN.match(item):
            out.append(item)
        else:
            raise ValueError(f"IOC_KIOSK_FRAME_ANCESTORS: {item!r} is not an origin like https://wall.example.gov.cn or 'self'")
    return tuple(out)


def tile_source(tile_url: str) -> str:
    """The CSP source of an XYZ tile URL template: its origin, a `{s}` subdomain as `*.`;
    "" for a relative URL (same origin) or none."""
    if not tile_url or "://" not in tile_url:
        return ""
    parts = urlsplit(tile_url.replace("{s}", "tile-subdomain"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"IOC_TILE_URL must be an http(s) URL template, not {tile_url!r}")
    host = parts.netloc.rsplit("@", 1)[-1]
    if host.startswith("tile-subdomain."):
        host = "*." + host[len("tile-subdomain."):]
    if "tile-subdomain" in host or not re.fullmatch(r"[A-Za-z0-9.*:-]+", host):
        raise ValueError(f"IOC_TILE_URL: cannot derive a CSP source from {tile_url!r}")
    return f"{parts.scheme}://{host}"


def content_security_policy(script_hashes: Iterable[str], tile_url: str = "", ancestors: Iterable[str] = ()) -> str:
    ancestors = tuple(ancestors)
    tiles = tile_source(tile_url)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *([tiles] if tiles else [])],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "media-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": list(ancestors) or ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _is_kiosk_view(response: Response) -> bool:
    """A kiosk link that opened its session (the redirect to the wall), or any page of a kiosk
    (wall) session. A refused kiosk link shows the sign-in form, which is never framable."""
    if request.path.startswith(KIOSK_PREFIX):
        return response.status_code in (302, 303)
    principal = getattr(g, "ioc_principal", None)
    return principal is not None and getattr(principal, "kind", "") == "kiosk"


def install(server: Flask, settings, script_hashes: Callable[[], Iterable[str]] | Iterable[str] = ()) -> None:
    """Add the headers to every response of `server`. `script_hashes`: the CSP hashes of the
    page's inline scripts, or a callable giving them (e.g. `app.csp_hashes`, called at the first
    request, once every callback is registered)."""
    ancestors = frame_ancestors(settings.kiosk_frame_ancestors)
    tile_source(settings.tile_url)  # a malformed tile URL fails at start, not at the first page
    policies: dict[bool, str] = {}

    def policy(kiosk_framable: bool) -> str:
        if kiosk_framable not in policies:
            hashes = script_hashes() if callable(script_hashes) else script_hashes
            policies[kiosk_framable] = content_security_policy(
                hashes, settings.tile_url, ancestors if kiosk_framable else ())
        return policies[kiosk_framable]

    @server.after_request
    def security_headers(response: Response) -> Response:
        path = request.path
        headers = response.headers
        framable = bool(ancestors) and _is_kiosk_view(response)
        headers["Content-Security-Policy"] = policy(framable)
        if not framable:
            headers["X-Frame-Options"] = "DENY"
        else:
            headers.pop("X-Frame-Options", None)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["Permissions-Policy"] = PERMISSIONS_POLICY
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if settings.cookie_secure:
            headers["Strict-Transport-Security"] = HSTS
        if not path.startswith(STATIC_PREFIXES) and not getattr(response, "private_cache", False):
            headers["Cache-Control"] = "no-store"
            headers.pop("Expires", None)
            headers.pop("ETag", None)
        return response

    for name in ("werkzeug", "gunicorn.access"):
        logging.getLogger(name).addFilter(REDACT_SECRETS)


# --- secrets out of request logs ----------------------------------------------------------------

_KIOSK_SECRET = re.compile(r"(/kiosk/)[^\s\"'?#/]+")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:api_key|token|password|secret)=)[^&\s\"']*")


def redact(text: str) -> str:
    """`text` with kiosk secrets and credential query fields replaced by `…`."""
    return _QUERY_SECRET.sub(r"\1…", _KIOSK_SECRET.sub(r"\1…", text))


class RedactSecrets(logging.Filter):
    """Rewrites a log record's message with `redact` (after formatting its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's problem, not ours
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


REDACT_SECRETS = RedactSecrets()
