"""What the soak (`scripts.soak`) and its report (`scripts.soak_report`) share: the faults it
injects and the product timings that bound what each fault may cost."""

from __future__ import annotations

FAULT_KINDS = ("broker_restart", "redis_restart", "ingest_kill", "cases_kill")
# reasons only the case worker gives (its report and update rejections share messages:rejected)
CASE_REASONS = {"bad_report", "unknown_category", "outside_city", "bad_update", "update_refused"}
# paho's reconnect back-off in the product's clients (ioc.adapters.mqtt): 1 s, doubling, at most 10 s
PAHO_MIN_DELAY, PAHO_MAX_DELAY = 1.0, 10.0
INGEST_ROLLUP_FLUSH_S = 1.0  # IOC_COUNTER_FLUSH_MS default / 1000: counters held in memory this long
INGEST_FLUSH_MS = 5  # IOC_INGEST_FLUSH_MS default


def next_attempt(down: float) -> float:
    """When a paho client of the product (back-off 1 s doubling to 10 s) first tries again at
    or after `down` seconds of outage: 1, 3, 7, 15, 25, 35, … s after the loss."""
    t, delay = PAHO_MIN_DELAY, PAHO_MIN_DELAY
    while t < down:
        delay = min(delay * 2, PAHO_MAX_DELAY)
        t += delay
    return t
