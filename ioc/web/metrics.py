"""Prometheus metrics of the whole pipeline, computed from the counters in Redis.

Counters live in Redis (HINCRBY by every ingest worker), so any number of workers add up and
any web worker serves the same figures. `metric_families()` is pure: it turns a counters hash
and a few gauges into metric families; `/metrics` renders them with prometheus-client.
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from ioc.domain.media import CODES as MEDIA_CODES
from ioc.domain.rules import SEVERITIES
from ioc.domain.telemetry import REASONS


NOTIFY_CHANNELS = ("wecom", "dingtalk", "feishu", "email", "sms")
NOTIFY_RESULTS = ("sent", "failed", "retry", "silenced", "held", "grouped")
NOTIFY_BUCKETS = ("0.1", "0.25", "0.5", "1", "2", "5", "10", "30", "60", "300", "3600")  # ioc.notify.worker.LATENCY_BUCKETS


def notify_families(counters: dict[str, int], pending: int) -> list:
    """The notifier's figures (piece notify): intents read, deliveries by channel and result,
    jobs waiting, and trigger -> delivered seconds as a histogram."""
    intents = CounterMetricFamily("ioc_notify_intents", "Notification intents the notifier read from the outbox")
    intents.add_metric([], counters.get("notify:intents", 0))
    deliveries = CounterMetricFamily("ioc_notify_deliveries", "Notification deliveries by channel and result "
                                     "(sent, failed, retry, silenced, held, grouped)", labels=["channel", "result"])
    for channel in NOTIFY_CHANNELS:
        for result in NOTIFY_RESULTS:
            deliveries.add_metric([channel, result], counters.get(f"notify:{channel}:{result}", 0))
    waiting = GaugeMetricFamily("ioc_notify_pending", "Notification jobs waiting: sends, retries, grouping windows, "
                                "quiet-hour holds, reminders")
    waiting.add_metric([], pending)
    cumulative, buckets = 0, []
    for le in NOTIFY_BUCKETS:
        cumulative += counters.get(f"notify:latency:{le}", 0)
        buckets.append((le, cumulative))
    buckets.append(("+Inf", cumulative + counters.get("notify:latency:inf", 0)))
    latency = HistogramMetricFamily("ioc_notify_delivery_seconds", "Seconds from the triggering change to the delivery "
                                    "(quiet-hour holds and grouping windows included)", buckets=buckets,
                                    sum_value=counters.get("notify:latency_ms_sum", 0) / 1000)
    return [intents, deliveries, waiting, latency]


RECORDER_LIVE_MS = 30_000  # a recorder heartbeat older than this is not counted


def recorder_lag(workers: dict[str, dict], now_ms: float) -> dict[str, float] | None:
    """Seconds of lag per stream from the live, active recorder's heartbeat (None: no recorder)."""
    beats = [w for w in workers.values() if w.get("role") == "recorder" and w.get("active")
             and now_ms - w.get("seen_ms", 0) < RECORDER_LIVE_MS]
    if not beats:
        return None
    return dict(max(beats, key=lambda w: w.get("seen_ms", 0)).get("lag") or {})


def recorder_families(counters: dict[str, int], workers: dict[str, dict], now_ms: float) -> list:
    """The recorder's figures (issue 17): lag per stream (from its heartbeat), rows written per
    table, entries lost per stream (trimmed before they were recorded), errors by reason."""
    lag = GaugeMetricFamily("ioc_recorder_lag_seconds", "Age of the oldest stream entry not yet recorded in PostgreSQL "
                            "(0 when caught up; absent while no recorder runs)", labels=["stream"])
    for stream, seconds in sorted((recorder_lag(workers, now_ms) or {}).items()):
        lag.add_metric([stream], float(seconds))
    rows = CounterMetricFamily("ioc_recorder_rows", "Rows the recorder wrote to the record, by table", labels=["table"])
    lost = CounterMetricFamily("ioc_recorder_lost", "Stream entries trimmed (stream cap reached) before the recorder "
                               "recorded them", labels=["stream"])
    errors = CounterMetricFamily("ioc_recorder_errors", "Recorder errors by reason (postgres, redis, redis_lost, "
                                 "bad_entry, unexpected)", labels=["reason"])
    for name, value in sorted(counters.items()):
        if name.startswith("recorder:rows:"):
            rows.add_metric([name[len("recorder:rows:"):]], value)
        elif name.startswith("recorder:lost:"):
            lost.add_metric([name[len("recorder:lost:"):]], value)
        elif name.startswith("recorder:errors:"):
            errors.add_metric([name[len("recorder:errors:"):]], value)
    return [lag, rows, lost, errors]


def metric_families(counters: dict[str, int], devices: int, online: int, alarms_by_severity: dict[str, int],
                    deadletter_length: int, workers: int, notify_pending: int = 0) -> list:
    messages = CounterMetricFamily("ioc_ingest_messages", "MQTT messages processed by the ingest workers", labels=["result"])
    messages.add_metric(["accepted"], counters.get("messages:accepted", 0))
    messages.add_metric(["rejected"], counters.get("messages:rejected", 0))
    rejected = CounterMetricFamily("ioc_ingest_rejected", "Rejected messages by reason (see the README)", labels=["reason"])
    for reason in REASONS:
        rejected.add_metric([reason], counters.get(f"rejected:{reason}", 0))
    by_kind = CounterMetricFamily("ioc_ingest_accepted_by_kind", "Accepted messages by device kind", labels=["kind"])
    for name, value in sorted(counters.items()):
        if name.startswith("accepted:"):
            by_kind.add_metric([name.split(":", 1)[1]], value)
    late = CounterMetricFamily("ioc_ingest_late", "Accepted readings older than the stored latest (kept in rollups, not as latest)")
    late.add_metric([], counters.get("messages:late", 0))
    dropped = CounterMetricFamily("ioc_ingest_dropped", "Messages dropped because a worker's buffer overflowed while Redis was down")
    dropped.add_metric([], counters.get("messages:dropped", 0))
    alarms = CounterMetricFamily("ioc_alarms", "Alarm transitions", labels=["event"])
    alarms.add_metric(["raised"], counters.get("alarms:raised", 0))
    alarms.add_metric(["cleared"], counters.get("alarms:cleared", 0))
    active = GaugeMetricFamily("ioc_alarms_active", "Active alarms by severity", labels=["severity"])
    for severity in SEVERITIES:
        active.add_metric([severity], alarms_by_severity.get(severity, 0))
    fleet = GaugeMetricFamily("ioc_devices", "Registered devices by state", labels=["state"])
    fleet.add_metric(["online"], online)
    fleet.add_metric(["offline"], devices - online)
    dead = GaugeMetricFamily("ioc_deadletter_length", "Entries in the dead-letter stream")
    dead.add_metric([], deadletter_length)
    w = GaugeMetricFamily("ioc_ingest_workers", "Ingest workers with a heartbeat in the last 30 s")
    w.add_metric([], workers)
    event_messages = CounterMetricFamily("ioc_event_messages", "Linked-event messages: task and instruction messages published to "
                                         "department systems, their updates applied", labels=["direction"])
    event_messages.add_metric(["published"], counters.get("events:published", 0))
    event_messages.add_metric(["applied"], counters.get("events:updates", 0))
    proposals = CounterMetricFamily("ioc_event_proposals_raised", "Proposals to start a linked event raised by the trigger scan")
    proposals.add_metric([], counters.get("events:proposals_raised", 0))
    refused = CounterMetricFamily("ioc_event_actions_refused", "Linked-event actions refused (portal, API, MQTT)")
    refused.add_metric([], counters.get("events:refused", 0))
    archived = CounterMetricFamily("ioc_cases_archived", "Ended cases that left Redis for the record (IOC_CASE_HOT_DAYS after "
                                   "their end; still read from the record)")
    archived.add_metric([], counters.get("cases:archived", 0))
    return [messages, rejected, by_kind, late, dropped, alarms, active, fleet, dead, w, event_messages, proposals, refused,
            archived, *notify_families(counters, notify_pending), *media_families(counters)]


def media_families(counters: dict[str, int]) -> list:
    """Photo uploads (issue 16): stored and refused, and the refusals by reason (`ioc.domain.media.CODES`)."""
    uploads = CounterMetricFamily("ioc_media_uploads", "Photos uploaded to cases, by result", labels=["result"])
    uploads.add_metric(["stored"], counters.get("media:stored", 0))
    uploads.add_metric(["refused"], counters.get("media:refused", 0))
    refused = CounterMetricFamily("ioc_media_refused", "Refused photo uploads by reason", labels=["reason"])
    for reason in MEDIA_CODES:
        refused.add_metric([reason], counters.get(f"media_refused:{reason}", 0))
    return [uploads, refused]


class _Snapshot(Collector):
    def __init__(self, families):
        self.families = families

    def collect(self):
        return iter(self.families)


def registry_for(families) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return registry
