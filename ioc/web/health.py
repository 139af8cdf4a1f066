"""`GET /healthz` and `GET /metrics`, served by the web process next to the Dash app."""

from __future__ import annotations

import time
from collections import Counter

from flask import Flask, Response, jsonify
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ioc.adapters import redis_keys as keys
from ioc.adapters.redis_client import REDIS_UNAVAILABLE

from .metrics import metric_families, recorder_families, registry_for
from .services import Services, current_services


def healthz():
    """200 when Redis answers PING and the broker accepts a connection, else 503; either way
    JSON naming each check. The outage is this route's answer, so it checks Redis itself."""
    services = current_services()
    checks = {}
    try:
        services.redis.ping()
        checks["redis"] = {"ok": True, "detail": "PONG"}
    except REDIS_UNAVAILABLE as e:
        checks["redis"] = {"ok": False, "detail": str(e)}
    ok, detail = services.broker.check()
    checks["mqtt"] = {"ok": ok, "detail": detail}
    healthy = all(c["ok"] for c in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks, "time_ms": int(time.time() * 1000)}
    return jsonify(body), (200 if healthy else 503)


def metrics():
    """Prometheus text of the whole pipeline (a Redis outage: 503, by `ioc.web.outage`)."""
    services = current_services()
    snap = services.snapshot
    fleet = snap.fleet()
    severities = Counter(a.get("severity") for a in snap.active_alarms())
    now_ms = time.time() * 1000
    beats = snap.workers()
    live_workers = sum(1 for w in beats.values()
                       if now_ms - w.get("seen_ms", 0) < 30_000 and w.get("role", "ingest") == "ingest")  # ingest workers only
    families = metric_families(snap.counters(), fleet.devices, fleet.online, severities,
                               services.redis.xlen(keys.DEADLETTER), live_workers, services.redis.zcard(keys.NOTIFY_PENDING))
    families += recorder_families(snap.counters(), beats, now_ms)
    # the classic text format generate_latest writes; `content_type` is sent as is (`mimetype`
    # would have Flask append a second charset)
    return Response(generate_latest(registry_for(families)), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def register(server: Flask, services: Services | None = None) -> None:
    server.add_url_rule("/healthz", view_func=healthz, methods=["GET"])
    server.add_url_rule("/metrics", view_func=metrics, methods=["GET"])
