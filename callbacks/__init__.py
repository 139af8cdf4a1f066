"""Dash callbacks: thin `register(app, services)` glue around pure functions."""

from . import status


def register(app, services) -> None:
    status.register(app, services)
