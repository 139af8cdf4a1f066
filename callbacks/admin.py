"""Callbacks of the users and API tokens page (admins only). (Being written.)"""


def register(app, services) -> None:
    return None
