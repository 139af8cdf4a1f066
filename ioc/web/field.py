"""The inspector's 巡查上报 page and the installable web app (PWA), served by Flask (no Dash).

- `GET /report`: a standalone phone-first page for principals holding `view:report` (inspectors,
  who also hold `case:report` to send; a row of the page table, `ioc.web.pages`,
  so the guard sends the signed-out to `/login` and others to their home page). Its words (both languages), the class catalog and the map's settings travel in one
  JSON block (`ioc.views.report.report_page_data`); the script `report.js` does the rest: photos,
  position, class, description, submit through `POST /api/v1/cases` and
  `POST /api/v1/cases/<id>/media`, and the offline queue in IndexedDB.
- `GET /field/<file>`: the page's static files (`ioc/web/field_static/`: script, styles, the
  vendored Leaflet 1.9.4 with its BSD-2 licence, icons); cacheable, open to everyone.
- `GET /manifest.webmanifest`: the web app manifest (open: browsers fetch it without cookies).
- `GET /sw.js`: the service worker at root scope (`Service-Worker-Allowed: /`, `no-cache`). It
  keeps the report shell (the page, its files, the district outlines) in a cache named after the
  shell's version, answers the page network-first with the cache as fallback, and never touches
  anything else (API posts, case data, the portal's pages pass straight through).

The shell's version is a hash of the static files and the worker's template, computed once at
start: a deploy that changes any of them changes `sw.js`, so phones fetch the new shell.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import orjson
from flask import Flask, Response, redirect, render_template_string, request, send_from_directory
from werkzeug.exceptions import NotFound

from ioc.domain.access import allowed
from ioc.i18n import resolve_lang, t
from ioc.views.report import report_page_data

from . import pages
from .auth import current_principal
from .map_data import DISTRICTS_URL
from .services import Services, current_services

STATIC_DIR = Path(__file__).resolve().parent / "field_static"
STATIC_URL = "/field/"
REPORT_PATH = "/report"
MANIFEST_PATH = "/manifest.webmanifest"
WORKER_PATH = "/sw.js"
STATIC_MAX_AGE_S = 7 * 86400  # the page asks for its files with ?v=<version>: a new shell has new URLs
THEME_COLOR = "#0b1a2e"  # the portal's page colour (assets/ioc.css)
# what the portal's Dash pages carry in <head> so the portal is installable too (ioc.web.app)
HEAD_LINKS = (f'<link rel="manifest" href="/manifest.webmanifest">'
              f'<meta name="theme-color" content="{THEME_COLOR}">')
# the files of the report shell the service worker keeps (relative to STATIC_DIR); versioned URLs
VERSIONED = ("report.js", "report.css", "leaflet/leaflet.js", "leaflet/leaflet.css")
# files Leaflet and the manifest ask for by their plain names
UNVERSIONED = ("leaflet/images/marker-icon.png", "leaflet/images/marker-icon-2x.png",
               "leaflet/images/marker-shadow.png", "icon-192.png", "icon-512.png")

PAGE = """<!doctype html>
<html lang="{{ 'en' if lang == 'en' else 'zh-CN' }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="{{ theme }}">
<title>{{ title }}</title>
<link rel="manifest" href="{{ manifest }}">
<link rel="icon" type="image/png" sizes="192x192" href="/field/icon-192.png">
<link rel="apple-touch-icon" href="/field/icon-192.png">
<link rel="stylesheet" href="{{ url('leaflet/leaflet.css') }}">
<link rel="stylesheet" href="{{ url('report.css') }}">
<script type="application/json" id="report-data">{{ data | safe }}</script>
<script src="{{ url('leaflet/leaflet.js') }}" defer></script>
<script src="{{ url('report.js') }}" defer></script>
</head>
<body class="report-body">
<header class="report-top">
  <a class="report-back" id="report-back" href="/" data-t="report_back">{{ tx('report_back') }}</a>
  <h1 class="report-title" data-t="report_title">{{ tx('report_title') }}</h1>
  <button type="button" class="report-lang" id="report-lang" data-t="language">{{ tx('language') }}</button>
</header>
<div class="report-net hidden" id="report-net" role="status" data-t="report_offline">{{ tx('report_offline') }}</div>
<section class="report-queue hidden" id="report-queue" aria-live="polite">
  <div class="report-queue-head"><span id="report-waiting"></span>
    <button type="button" class="report-small" id="report-retry" data-t="report_retry">{{ tx('report_retry') }}</button></div>
  <ul class="report-list" id="report-queue-list"></ul>
</section>
<main class="report-main">
<form id="report-form" class="report-form" novalidate>
  <fieldset class="report-card">
    <legend data-t="report_photos">{{ tx('report_photos') }}</legend>
    <div class="report-photo-buttons">
      <label class="report-button" for="report-camera" id="report-camera-label"><span data-t="report_take_photo">{{ tx('report_take_photo') }}</span></label>
      <input type="file" id="report-camera" class="report-file" accept="image/*" capture="environment">
      <label class="report-button secondary" for="report-files" id="report-files-label"><span data-t="report_pick_photo">{{ tx('report_pick_photo') }}</span></label>
      <input type="file" id="report-files" class="report-file" accept="image/*" multiple>
    </div>
    <div class="report-photos" id="report-photos"></div>
    <p class="report-hint" id="report-photos-note" data-t="report_photos_none">{{ tx('report_photos_none') }}</p>
  </fieldset>
  <fieldset class="report-card">
    <legend data-t="report_position">{{ tx('report_position') }}</legend>
    <div class="report-position-row">
      <span><span class="report-accuracy" id="report-accuracy" data-t="report_locating">{{ tx('report_locating') }}</span>
        <span class="report-coords" id="report-coords"></span></span>
      <button type="button" class="report-small" id="report-locate" data-t="report_locate_again">{{ tx('report_locate_again') }}</button>
    </div>
    <div class="report-map" id="report-map"></div>
    <p class="report-hint" data-t="report_map_hint">{{ tx('report_map_hint') }}</p>
  </fieldset>
  <fieldset class="report-card">
    <legend data-t="report_class">{{ tx('report_class') }}</legend>
    <div class="report-selected" id="report-selected"></div>
    <div class="report-sub" data-t="report_common">{{ tx('report_common') }}</div>
    <div class="report-chips" id="report-common"></div>
    <input type="search" id="report-search" class="report-input" autocomplete="off" data-t-ph="report_search" placeholder="{{ tx('report_search') }}">
    <div class="report-results" id="report-results"></div>
  </fieldset>
  <fieldset class="report-card">
    <legend data-t="report_description">{{ tx('report_description') }}</legend>
    <textarea id="report-description" class="report-input" rows="3" maxlength="4000" data-t-ph="report_description_ph" placeholder="{{ tx('report_description_ph') }}"></textarea>
  </fieldset>
  <div class="report-message hidden" id="report-message" role="alert"></div>
  <button type="submit" class="report-submit" id="report-submit" data-t="report_submit">{{ tx('report_submit') }}</button>
</form>
<section class="report-history hidden" id="report-history">
  <h2 data-t="report_history_heading">{{ tx('report_history_heading') }}</h2>
  <ul class="report-list" id="report-history-list"></ul>
</section>
</main>
</body>
</html>
"""


@lru_cache(maxsize=1)
def shell_version() -> str:
    """A hash of every static file and of this module (the page and the worker's template)."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(STATIC_DIR)).encode())
            digest.update(path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:12]


def static_url(name: str) -> str:
    return f"{STATIC_URL}{name}?v={shell_version()}"


def shell_urls() -> list[str]:
    """What the service worker keeps for the page to open offline (the page itself first)."""
    return [REPORT_PATH, *(static_url(n) for n in VERSIONED), *(STATIC_URL + n for n in UNVERSIONED), MANIFEST_PATH,
            DISTRICTS_URL]


def report_page():
    principal = current_principal()
    if not allowed(principal, "view:report"):  # the guard already sent them away; a second check costs nothing
        return redirect(pages.home_path(principal))
    services = current_services()
    settings = services.settings
    lang = resolve_lang(request.args.get("lang"), settings.lang)
    data = report_page_data(lang, services.city.bounds, settings.tile_url, DISTRICTS_URL, shell_version())
    # inside <script type="application/json">: "</" must not end the element early
    blob = orjson.dumps(data).decode().replace("</", "<\\/")
    html = render_template_string(PAGE, lang=lang, title=t("report_title", lang), theme=THEME_COLOR, manifest=MANIFEST_PATH,
                                  url=static_url, data=blob, tx=lambda key: t(key, lang))
    return Response(html, mimetype="text/html")


def field_file(name: str):
    try:
        return send_from_directory(STATIC_DIR, name, max_age=STATIC_MAX_AGE_S)
    except NotFound:
        return Response("not found", 404, mimetype="text/plain")


def manifest(lang: str = "zh") -> dict:
    return {
        "name": "张家港城市运行",
        "short_name": "城市运行",
        "description": t("app_title", lang),
        "lang": "zh-CN",
        "id": "/",
        "start_url": REPORT_PATH,
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "background_color": THEME_COLOR,
        "theme_color": THEME_COLOR,
        "icons": [{"src": f"{STATIC_URL}icon-{size}.png", "sizes": f"{size}x{size}", "type": "image/png",
                   "purpose": "any maskable"} for size in (192, 512)],
        "shortcuts": [{"name": t("nav_report", "zh"), "url": REPORT_PATH},
                      {"name": t("app_title", "zh"), "short_name": "门户", "url": "/"}],
    }


def manifest_route():
    return Response(orjson.dumps(manifest(current_services().settings.lang)), mimetype="application/manifest+json")


WORKER = """// The IOC field service worker (served by ioc/web/field.py). Shell version {version}.
'use strict';
const CACHE = 'ioc-field-{version}';
const SHELL = {shell};
const PAGE = '{page}';
const NETWORK_FIRST = new Set([PAGE, '{districts}']);

self.addEventListener('install', (event) => {{
  // each file on its own: one that cannot be fetched (signed out: /report redirects) is skipped, never a failed install
  event.waitUntil(caches.open(CACHE).then((cache) => Promise.all(SHELL.map((url) =>
    fetch(url, {{credentials: 'same-origin', redirect: 'manual'}})
      .then((response) => (response.ok && response.type !== 'opaqueredirect' ? cache.put(url, response) : null))
      .catch(() => null)))).then(() => self.skipWaiting()));
}});

self.addEventListener('activate', (event) => {{
  event.waitUntil(caches.keys().then((names) => Promise.all(names
    .filter((name) => name.startsWith('ioc-field-') && name !== CACHE).map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
}});

function networkFirst(request, key) {{
  return fetch(request).then((response) => {{
    // only a real answer is kept: never the sign-in page a redirect led to, never an error
    if (response.ok && !response.redirected) {{
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(key, copy));
    }}
    return response;
  }}).catch(() => caches.match(key).then((hit) => hit || Response.error()));
}}

function cacheFirst(request) {{
  return caches.match(request).then((hit) => hit || fetch(request).then((response) => {{
    if (response.ok) {{
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(request, copy));
    }}
    return response;
  }}));
}}

self.addEventListener('fetch', (event) => {{
  const request = event.request;
  if (request.method !== 'GET') return;  // API posts go straight to the network, never cached
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (NETWORK_FIRST.has(url.pathname)) {{
    event.respondWith(networkFirst(request, url.pathname));
  }} else if (url.pathname.startsWith('{static}') || url.pathname === '{manifest}') {{
    event.respondWith(cacheFirst(request));
  }}
  // anything else (the portal, the API, case data, photos): not handled here
}});
"""


def worker_route():
    body = WORKER.format(version=shell_version(), shell=orjson.dumps(shell_urls()).decode(), page=REPORT_PATH,
                         districts=DISTRICTS_URL, static=STATIC_URL, manifest=MANIFEST_PATH)
    response = Response(body, mimetype="application/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    return response


def register(server: Flask, services: Services | None = None) -> None:
    server.add_url_rule(REPORT_PATH, view_func=report_page, methods=["GET"])
    server.add_url_rule(STATIC_URL + "<path:name>", view_func=field_file, methods=["GET"])
    server.add_url_rule(MANIFEST_PATH, view_func=manifest_route, methods=["GET"])
    server.add_url_rule(WORKER_PATH, view_func=worker_route, methods=["GET"])
