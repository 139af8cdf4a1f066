"""`GET /api/v1/notifications`: what the notifier delivered, retried, held, grouped, silenced or
failed, for the operations center and other systems (permission `view:duty`: operator,
dispatcher, leader, admin).

Query: `subject` (`case:<id>`, `alarm:<alarm id>`, `event:<id>`; unset: every subject, newest
first), `since` (epoch ms; results recorded at or after it), `limit` (1-1000, default 200).
Each item: `at`, `subject`, `kind`, `version`, `channel`, `recipient` (`group:<id>` /
`contact:<id>`), `name` (the group's or person's name), `result` (sent, failed, retry, silenced,
held, grouped), `attempt`, `reason`, `route`, `latency_ms` (trigger -> delivered, for sent), `id`.
Never a robot key, token, secret or address. 400 names a bad parameter; a Redis outage is the
one 503 of `ioc.web.outage`.
"""

from __future__ import annotations

import re

from flask import Flask, jsonify, request

from ioc.adapters.notify_store import NotifyStore

from .api import int_arg
from .auth import api_principal
from .services import Services, current_services

MAX_LIMIT = 1000
SUBJECT = re.compile(r"^(case|alarm|event|test):[^\s]{1,200}$")


def notifications():
    api_principal("view:duty")
    subject = request.args.get("subject", "")
    if subject and not SUBJECT.match(subject):
        return jsonify({"error": "bad_request", "field": "subject",
                        "message": "subject must be case:<id>, alarm:<alarm id> or event:<id>"}), 400
    since = int_arg("since", 0, 0, 10**15)
    limit = int_arg("limit", 200, 1, MAX_LIMIT)
    services = current_services()
    store = services.notify or NotifyStore(services.redis)
    items = store.for_subject(subject, since, limit) if subject else store.log(since, limit)
    return jsonify({"subject": subject, "since": since, "count": len(items), "items": items})


def register(server: Flask, services: Services) -> None:
    server.add_url_rule("/api/v1/notifications", endpoint="notify_notifications", view_func=notifications, methods=["GET"])
