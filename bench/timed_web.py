"""`python -m bench.timed_web`: the product's web process (`python -m ioc web`: the same app, the
same gunicorn options and worker count) with one addition for the harness: every response
carries `Server-Timing: app;dur=<ms>`, the time inside the worker from the WSGI call until the
response starts (Flask has by then run the whole request: the sign-in or token, the view, the
service, Redis, the JSON body). Accepting the connection, parsing the request and sending the
body are not in it; the harness's own HTTP timing has them.

The header is the bench's, not the product's: the product does not announce its timings to
every client.
"""

from __future__ import annotations

import sys
import time

from ioc.logsetup import setup_logging
from ioc.settings import Settings
from ioc.web import serve

HEADER = "Server-Timing"
METRIC = "app"


class ServerTiming:
    """WSGI middleware: `Server-Timing: app;dur=<ms>` on every response."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        t0 = time.perf_counter()

        def timed_start_response(status, headers, exc_info=None):
            ms = (time.perf_counter() - t0) * 1000
            return start_response(status, [*headers, (HEADER, f"{METRIC};dur={ms:.3f}")], exc_info)

        return self.app(environ, timed_start_response)


def server_ms(headers) -> float | None:
    """The `app` duration of a response's Server-Timing header (ms), None when it has none."""
    value = headers.get(HEADER, "") if headers is not None else ""
    for metric in value.split(","):
        name, _, params = metric.strip().partition(";")
        if name.strip() != METRIC:
            continue
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "dur":
                try:
                    return float(number)
                except ValueError:
                    return None
    return None


class _TimedGunicorn(serve._Gunicorn):
    def load(self):
        server = super().load()
        server.wsgi_app = ServerTiming(server.wsgi_app)
        return server


def main() -> int:
    settings = Settings.from_env()
    setup_logging(settings.log_level, "web")
    serve._Gunicorn = _TimedGunicorn  # serve.main builds its application from this name: same options
    return serve.main(settings)


if __name__ == "__main__":
    sys.exit(main())
