"""`create_app(settings)`: the one factory of the web process (Dash on Flask)."""

from __future__ import annotations

from pathlib import Path

import dash

import callbacks
import layouts
from ioc.i18n import t
from ioc.settings import Settings

from . import api, cases_api, health, map_data, open311, security_headers
from .auth import setup_auth
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
    if services.users is None:
        raise RuntimeError("the portal needs Redis (REDIS_URL) for its users and sessions")
    setup_auth(app, services, services.users)
    app.layout = layouts.root(settings)
    app.validation_layout = layouts.validation_layout(settings, services.city)
    callbacks.register(app, services)
    health.register(app.server, services)
    api.register(app.server, services)
    map_data.register(app.server, services)
    cases_api.register(app.server, services)
    open311.register(app.server, services)
    install_error_handler(app.server)  # a Redis outage: 503 for every route, in one place
    security_headers.install(app.server, settings, app.csp_hashes)  # CSP, framing, no-store; secrets out of logs
    app.server.extensions["ioc_services"] = services
    return app
