"""`create_app(settings)`: the one factory of the web process (Dash on Flask)."""

from __future__ import annotations

from pathlib import Path

import dash

import callbacks
from ioc.i18n import t
from ioc.settings import Settings
from layouts.shell import shell

from . import (api, cases_api, dash_guard, events_api, exports_api, field, guard, health, map_data, media_api, notify_api, open311,
               pages, reports_api, security_headers, sign_in)
from .outage import install_error_handler
from .prejson import use_orjson
from .services import Services

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"


def create_app(settings: Settings | None = None, services: Services | None = None) -> dash.Dash:
    settings = settings or Settings.from_env()
    services = services or Services.from_settings(settings)
    use_orjson()  # callback outputs serialized once per snapshot are orjson fragments
    app = dash.Dash(
        __name__,
        title=t("app_title", settings.lang),
        assets_folder=str(ASSETS),
        serve_locally=True,
        update_title=None,
        suppress_callback_exceptions=False,
        compress=True,  # gzip/brotli (Flask-Compress): the 50,000-device layer is ~10x smaller on the wire
    )
    # the portal is installable as a web app: its manifest and theme colour on every page (ioc.web.field)
    app.index_string = dash.dash._default_index.replace("{%favicon%}", "{%favicon%}\n" + field.HEAD_LINKS)
    server = app.server
    server.extensions["ioc_services"] = services  # reached in requests through `current_services()`
    server.extensions["ioc_users"] = services.users  # the user store, for tests and tools
    guard.install(server, services)  # sessions, bearer tokens, the guard before every route
    server.register_blueprint(sign_in.blueprint)  # /login, /logout, /kiosk/<secret>
    dash_guard.install(app)  # the permission of every Dash callback
    app.layout = shell(settings)
    app.validation_layout = pages.validation_layout(settings, services.city)
    callbacks.register(app, services)  # the frame's and every page's (the page table's modules)
    for module in (health, api, map_data, cases_api, media_api, events_api, notify_api, open311, field, exports_api, reports_api):
        module.register(server, services)
    install_error_handler(server)  # a Redis outage: 503 for every route, in one place
    security_headers.install(server, settings, app.csp_hashes)  # CSP, framing, no-store; secrets out of logs
    return app
