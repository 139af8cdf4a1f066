"""`python -m ioc web`: the Dash app on gunicorn (sync workers; the app is stateless)."""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from ioc.settings import Settings

log = logging.getLogger("ioc.web")


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from ioc import heap

        from .app import create_app
        from .services import Services

        heap.enable()  # a serving process: the city's rows and facts are settled once built
        services = Services.from_settings(self.settings)
        server = create_app(self.settings, services).server
        heap.settle("the app")  # modules, Dash's registry and layouts
        services.warm_up()
        return server


def main(settings: Settings) -> int:
    options = {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.web_workers,
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
    }
    log.info("web on http://%s:%d/ (%d gunicorn workers)", settings.host, settings.port, settings.web_workers)
    _Gunicorn(settings, options).run()
    return 0
