"""The dead-letter stream `ioc:deadletter`: every message a worker refused, with why.

One shape for every writer (the ingest and the case worker): `reason`, `detail` (a sentence the
sender can act on), `topic`, `device` ("" when the topic names none), `payload` (the raw bytes),
`received_ms`, `worker` (the id of the worker that refused it). The stream is capped at about
IOC_DEADLETTER_MAXLEN entries. This module is its one writer and reader.
"""

from __future__ import annotations

from ioc.adapters import redis_keys as keys
from ioc.domain.telemetry import Rejection


def entry(rejection: Rejection, worker: str) -> dict:
    """The stream fields of one refused message."""
    return {
        "reason": rejection.reason,
        "detail": rejection.detail,
        "topic": rejection.topic,
        "device": rejection.device_id or "",
        "payload": rejection.payload,
        "received_ms": rejection.received_ms,
        "worker": worker,
    }


def add_in(pipe, rejection: Rejection, worker: str, maxlen: int) -> None:
    """Queue one refused message on a pipeline (it commits with the batch that refused it)."""
    pipe.xadd(keys.DEADLETTER, entry(rejection, worker), maxlen=maxlen, approximate=True)


def recent(client, count: int = 50) -> list[dict]:
    """The newest `count` entries, newest first, decoded (the payload stays bytes)."""
    out = []
    for entry_id, fields in client.xrevrange(keys.DEADLETTER, count=count):
        f = {_s(k): v for k, v in fields.items()}
        out.append({
            "id": _s(entry_id),
            "reason": _s(f.get("reason", b"")),
            "detail": f.get("detail", b"").decode("utf-8", "replace"),
            "topic": f.get("topic", b"").decode("utf-8", "replace"),
            "device": _s(f.get("device", b"")),
            "payload": f.get("payload", b""),
            "received_ms": int(f.get("received_ms", 0)),
        })
    return out


def length(client) -> int:
    return int(client.xlen(keys.DEADLETTER))


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else v
