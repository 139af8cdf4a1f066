"""The heartbeats hash `ioc:workers`: worker id -> its last heartbeat JSON, every few seconds.

One shape for every worker: `role` (`ingest`, `cases`), `pid`, `host`, `started_ms`, `seen_ms`
(when it beat), `processed` (messages so far), `queued` (messages waiting in its memory),
`group` (its shared-subscription group, "" when none), plus what a role adds (the case worker:
`client_id`, `mqtt` connected). A heartbeat without `role` (a worker of an older IOC) is an
ingest worker's. This module is the hash's one writer and reader.
"""

from __future__ import annotations

import os
import socket
import time

import orjson

from ioc.adapters import redis_keys as keys


def beat(client, worker_id: str, role: str, started_ms: int, processed: int, queued: int, group: str, **extra) -> None:
    """Write the worker's heartbeat now."""
    client.hset(keys.WORKERS, worker_id, orjson.dumps({
        "role": role, "pid": os.getpid(), "host": socket.gethostname(), "started_ms": started_ms,
        "seen_ms": int(time.time() * 1000), "processed": processed, "queued": queued, "group": group, **extra,
    }))


def read(client) -> dict[str, dict]:
    """worker id -> its last heartbeat (live or not)."""
    return {_s(k): orjson.loads(v) for k, v in client.hgetall(keys.WORKERS).items()}


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else v
