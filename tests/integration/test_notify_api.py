"""`GET /api/v1/notifications` and the notifier's figures on `/metrics`."""

from __future__ import annotations

import time

import pytest
from werkzeug.exceptions import HTTPException

from ioc.adapters.notify_store import NotifyStore
from ioc.domain.notifications import Intent
from ioc.web import health, notify_api


def a_result(store: NotifyStore, subject: str, result: str = "sent", latency_ms: int = 800) -> None:
    """One recorded delivery result, as the notifier writes it."""
    intent = Intent("case.dispatched", subject, "3", int(time.time() * 1000) - latency_ms, "info", ("urban_management",))
    store.record("", int(time.time() * 1000), results=[{
        "subject": intent.subject, "kind": intent.kind, "version": intent.version, "channel": "wecom",
        "recipient": "group:dept-um", "name": "城管局值班群", "result": result, "attempt": 1, "reason": "",
        "route": "dispatch", "latency_ms": latency_ms}])


def test_an_operator_reads_the_results_of_one_subject_without_any_key(portal_app, signed_in, redis_client):
    store = NotifyStore(redis_client)
    a_result(store, "case:ZJG-1")
    a_result(store, "case:ZJG-2")
    with signed_in("operator"):
        body = notify_api.notifications().get_json()
    assert body["count"] == 2  # no subject: the whole log, newest first
    with portal_app.server.test_request_context("/api/v1/notifications?subject=case:ZJG-1"):
        from flask import g

        from ioc.domain.access import Principal

        g.ioc_principal = Principal("op", frozenset({"operator"}))
        body = notify_api.notifications().get_json()
    assert [(i["subject"], i["name"], i["result"]) for i in body["items"]] == [("case:ZJG-1", "城管局值班群", "sent")]
    assert "key" not in body["items"][0]


@pytest.mark.parametrize("role", ["handler", "inspector", "reporter"])
def test_the_sent_log_is_refused_to_roles_outside_the_duty_desk(signed_in, role):
    with signed_in(role), pytest.raises(HTTPException) as e:
        notify_api.notifications()
    assert e.value.response.status_code == 403


def test_a_bad_subject_is_a_400_naming_it(portal_app):
    from flask import g

    from ioc.domain.access import Principal

    with portal_app.server.test_request_context("/api/v1/notifications?subject=nonsense"):
        g.ioc_principal = Principal("op", frozenset({"operator"}))
        answer, status = notify_api.notifications()
    assert status == 400 and answer.get_json()["field"] == "subject"


def test_metrics_count_deliveries_and_their_latency(portal_app, redis_client):
    from ioc.adapters import counters

    pipe = redis_client.pipeline()
    counters.add_in(pipe, {"notify:intents": 3, "notify:wecom:sent": 2, "notify:sms:failed": 1, "notify:latency:1": 2,
                           "notify:latency_ms_sum": 1500, "notify:latency_count": 2})
    pipe.execute()
    with portal_app.server.test_request_context("/metrics"):
        text = health.metrics().get_data(as_text=True)
    assert "ioc_notify_intents_total 3.0" in text
    assert 'ioc_notify_deliveries_total{channel="wecom",result="sent"} 2.0' in text
    assert 'ioc_notify_delivery_seconds_bucket{le="1"} 2.0' in text and "ioc_notify_delivery_seconds_sum 1.5" in text
    assert "ioc_notify_pending 0.0" in text
