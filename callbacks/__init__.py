"""Dash callbacks: thin `register(app, services)` glue around pure functions.

The frame's callbacks are in `shell`; each page's are in the module its row of the page table
names (`ioc.web.pages.PAGES`). Every callback is registered with
`ioc.web.dash_guard.secured_callback(app, permission, …)`: the server refuses it (403, no data) to
a principal without that permission.
"""

from importlib import import_module

from ioc.web.pages import callback_modules

FRAME = "shell"  # routing, navigation, language, clock and data freshness


def register(app, services) -> None:
    for name in (FRAME, *callback_modules()):
        import_module(f"{__name__}.{name}").register(app, services)
