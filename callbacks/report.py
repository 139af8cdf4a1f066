"""The report page (巡查上报) has no Dash callbacks: it is a standalone page served by Flask
(ioc.web.field) whose script talks to the JSON API."""


def register(app, services) -> None:
    return None
