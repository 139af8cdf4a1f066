"""Dash callbacks: thin `register(app, services)` glue around pure functions."""

from . import bigscreen, district, shell, status


def register(app, services) -> None:
    for module in (shell, bigscreen, district, status):
        module.register(app, services)
