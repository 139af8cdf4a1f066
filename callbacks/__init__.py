"""Dash callbacks: thin `register(app, services)` glue around pure functions.

Every callback is registered with `ioc.web.auth.secured_callback(app, permission, …)`: the
server refuses it (403, no data) to a principal without that permission.
"""

from . import account, admin, audit, bigscreen, cases, district, shell, status


def register(app, services) -> None:
    for module in (shell, bigscreen, district, cases, status, audit, admin, account):
        module.register(app, services)
