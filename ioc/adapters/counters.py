"""The counters hash `ioc:metrics`: field -> a count that only grows (HINCRBY), summed over every
worker and process, read by `/metrics`, the status page and the wall.

Fields: `messages:accepted`, `messages:rejected`, `messages:late`, `messages:dropped`,
`rejected:<reason>`, `accepted:<kind>`, `alarms:raised`, `alarms:cleared` (the ingest), and
`cases:reported`, `cases:updates`, `cases:from_alarms`, `cases:dispatch_published`,
`cases:overdue_raised`, `cases:overdue_cleared`, `events:updates`, `events:published`,
`events:proposals_raised`, `cases:archived` (ended cases that left Redis for the record) (the
case worker), plus the rejections it refuses, counted like the
ingest's (`rejections`), `events:refused` (actions on linked events the event service
refused), and `media:stored`, `media:refused`, `media_refused:<code>` (photo uploads, by
`ioc.media.service`). This module is the hash's one writer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from ioc.adapters import redis_keys as keys


def rejections(by_reason: Mapping[str, int]) -> Counter:
    """The counts of refused messages: `messages:rejected` (all of them) and `rejected:<reason>`."""
    counts = Counter()
    for reason, n in by_reason.items():
        if n:
            counts["messages:rejected"] += n
            counts[f"rejected:{reason}"] += n
    return counts


def add_in(pipe, counts: Mapping[str, int]) -> None:
    """Queue the increments `counts` (field -> n; zeros skipped) on a pipeline."""
    for name, n in counts.items():
        if n:
            pipe.hincrby(keys.METRICS, name, n)


def add(client, name: str, n: int = 1) -> None:
    """Add `n` to one counter now."""
    client.hincrby(keys.METRICS, name, n)


def read(client) -> dict[str, int]:
    """Every counter."""
    return {_s(k): int(v) for k, v in client.hgetall(keys.METRICS).items()}


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else v
