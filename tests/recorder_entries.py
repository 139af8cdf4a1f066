"""Stream entries in the formats of RECORD-SPEC section 1, XADDed by the recorder's tests (the
producers of branch `streams` write the same)."""

from __future__ import annotations

import orjson

from ioc.adapters import redis_keys as keys
from ioc.adapters.redis_keys import shard_of

T0 = 1_796_000_000_000  # 2026-11-30 00:53 UTC (ms)


def dumps(v) -> str:
    return orjson.dumps(v).decode()


def a_case(case_id="C-1", version=1, stage="reported", at=T0, **extra) -> dict:
    return {"id": case_id, "class_code": "0101", "lat": 31.87, "lon": 120.55, "district": "320582001",
            "source": "hotline", "created_at": T0, "stage": stage, "version": version, "department": extra.pop("department", ""),
            "updated_at": at, "closed_at": extra.pop("closed_at", 0), "due_at": T0 + 86_400_000, "stage_deadline": 0,
            "urgent": False, "cell": "c1", **extra}


def add_case(r, case: dict, entry_id: str, action="report", at=None):
    at = at or case["updated_at"]
    entry = {"action": action, "actor": "ops", "role": "dispatcher", "from": "", "to": case["stage"], "at": at,
             "note": "", "detail": "{}"}
    return r.xadd(keys.RECORD, {"type": "case", "id": case["id"], "version": str(case["version"]), "at": str(at),
                                "case": dumps(case), "entry_id": entry_id, "entry": dumps(entry)})


def add_timeline(r, case_id: str, entry_id: str, at=T0, action="notify"):
    entry = {"action": action, "actor": "notifier", "role": "", "from": "", "to": "", "at": at, "note": "sent",
             "detail": dumps({"channel": "sms"})}
    return r.xadd(keys.RECORD, {"type": "timeline", "id": case_id, "entry_id": entry_id, "entry": dumps(entry), "at": str(at)})


def add_event(r, event_id="EV-20261129-001", version=1, status="active", at=T0):
    event = {"id": event_id, "plan": "flood", "level": "III", "status": status, "version": version, "started_at": T0,
             "updated_at": at, "closed_at": at if status == "closed" else 0, "title": "内涝"}
    return r.xadd(keys.RECORD, {"type": "event", "id": event_id, "version": str(version), "at": str(at), "event": dumps(event)})


def add_user(r, name="wang", at=T0, user=None):
    data = "" if user is False else dumps(user or {"name": name, "roles": ["dispatcher"], "hash": "argon2id$x"})
    return r.xadd(keys.RECORD, {"type": "user", "name": name, "at": str(at), "user": data})


def add_token(r, token_id="t1", at=T0):
    return r.xadd(keys.RECORD, {"type": "token", "id": token_id, "at": str(at),
                                "token": dumps({"id": token_id, "sha256": "ab" * 32, "role": "api"})})


def add_audit(r, at=T0, action="case.report", actor="ops"):
    return r.xadd(keys.AUDIT, {"at_ms": str(at), "actor": actor, "role": "dispatcher", "action": action, "target": "C-1",
                               "outcome": "ok", "ip": "10.0.0.1", "detail": dumps({"k": 1})})


def an_alarm(device="wl-1", rule="high", raised_at=T0) -> dict:
    return {"id": f"{device}|{rule}", "device_id": device, "kind": "water_level", "rule_id": rule, "severity": "critical",
            "district": "320582001", "attribute": "level", "value": 3.2, "threshold": 3.0, "raised_at": raised_at,
            "name_zh": "水位高", "name_en": "High water"}


def add_alarm_event(r, event: str, alarm: dict, **extra):
    return r.xadd(keys.ALARMS_EVENTS, {"event": event, "alarm": dumps({**alarm, **extra})})


def add_registry(r, shards: int, items: list):
    """items: [device, event, at_ms, online, meta] (all of one shard's batch; the shard of the first)."""
    return r.xadd(keys.registry_stream(shard_of(items[0][0], shards)), {"d": dumps(items)})


def add_readings(r, shards: int, items: list):
    """items: [device, kind, district, ts_ms, values]."""
    return r.xadd(keys.readings_stream(shard_of(items[0][0], shards)), {"r": dumps(items)})


def device_meta(name="水位计1", lon=120.55, lat=31.87, district="320582001", kind="water_level") -> dict:
    return {"kind": kind, "name": name, "lat": lat, "lon": lon, "district": district, "cell": "c1"}
