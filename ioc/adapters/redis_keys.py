"""Every Redis key family of IOC, named in one place (the README documents each).

Telemetry families are split into `shards` hash-tag groups (`ioc:{s<N>}:…`): every key that
one batch script touches carries the same hash tag, so the script runs on a single Redis Cluster
node, and the shards spread the fleet over the cluster's nodes.
"""

from __future__ import annotations

import zlib

METRICS = "ioc:metrics"  # hash: counters (see ioc.adapters.redis_store.METRIC_FIELDS)
DEADLETTER = "ioc:deadletter"  # stream: rejected messages with reason, detail, topic, raw payload
ALARMS_ACTIVE = "ioc:alarms:active"  # hash: alarm id "<device>|<rule>" -> alarm JSON
ALARMS_EVENTS = "ioc:alarms:events"  # stream: raised / acknowledged / cleared events with the alarm JSON
ALARMS_ACKS = "ioc:alarms:acks"  # hash: alarm id -> acknowledgement JSON {by, role, at_ms}
ALARM_EVENTS_MAXLEN = 100_000  # approximate cap of ALARMS_EVENTS
WORKERS = "ioc:workers"  # hash: ingest worker id -> heartbeat JSON
USERS = "ioc:users"  # hash: user name -> user JSON (roles, department, Argon2id hash, disabled, epoch)
TOKENS = "ioc:tokens"  # hash: token id -> API token / kiosk link JSON (SHA-256 of the secret, never the secret)
TOKEN_INDEX = "ioc:tokens:sha256"  # hash: SHA-256 of a token -> token id
LOGIN_FAILURES = "ioc:auth:failures"  # prefix: `…:user:<name>` and `…:ip:<address>` counters expiring with the lock window
SESSIONS = "ioc:session"  # prefix: `ioc:session:<id>` -> user name or `kiosk:<token id>`, expiring with the session
AUDIT = "ioc:audit"  # stream: who did what, when, from where (append-only)
SECRET_KEY = "ioc:secret_key"  # string: the shared cookie-signing key when IOC_SECRET_KEY is unset


def shard_of(device_id: str, shards: int) -> int:
    return zlib.crc32(device_id.encode()) % shards


def _tag(shard: int) -> str:
    return f"ioc:{{s{shard}}}"


def latest(shard: int) -> str:
    """hash: device id -> latest reading JSON {"ts": ms, <attribute>: value, …}"""
    return f"{_tag(shard)}:latest"


def latest_ts(shard: int) -> str:
    """hash: device id -> ts (epoch ms) of the latest reading; guards order and duplicates"""
    return f"{_tag(shard)}:ts"


def meta(shard: int) -> str:
    """hash: device id -> JSON {kind, name, lat, lon, district, cell, …} from its birth"""
    return f"{_tag(shard)}:meta"


def district(shard: int) -> str:
    """hash: device id -> district id"""
    return f"{_tag(shard)}:district"


def state(shard: int) -> str:
    """hash: device id -> "online" | "offline" (birth / last will)"""
    return f"{_tag(shard)}:state"


def geo(shard: int) -> str:
    """geo set of device positions (GEOSEARCH)"""
    return f"{_tag(shard)}:geo"


def rules(shard: int) -> str:
    """hash: device id -> JSON {rule id: rule state} between samples"""
    return f"{_tag(shard)}:rules"


def rollup(shard: int, minute: int) -> str:
    """hash: 1-minute bucket (epoch minute) of per-district, per-kind aggregates; expires after the retention"""
    return f"{_tag(shard)}:roll:{minute}"


def rollup_hourly(shard: int, hour: int) -> str:
    """hash: 1-hour bucket (epoch hour) with the same fields as the 1-minute one; expires after the hourly retention"""
    return f"{_tag(shard)}:rollh:{hour}"
