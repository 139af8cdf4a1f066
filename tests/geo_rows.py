"""SQL fixtures for the geo exports and the density map: cases, devices and alarms written
straight into the record (the recorder's tables, as it writes them), so these tests need no
recorder. Times are China time (UTC+8) like the periods people pick."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import psycopg

CN = timezone(timedelta(hours=8))


def at(day: str, hour: int = 10) -> datetime:
    """`2026-11-03` at `hour` o'clock China time."""
    y, m, d = (int(p) for p in day.split("-"))
    return datetime(y, m, d, hour, tzinfo=CN)


# id, class, stage, district, cell, department, source, lon, lat, created (day, hour), closed
CASES = (
    ("ZJG-20261103-000001", "10101", "dispatched", "yangshe", "320582100001618", "water_affairs", "hotline",
     120.556, 31.872, ("2026-11-03", 9), None),
    ("ZJG-20261104-000002", "10105", "closed", "yangshe", "320582100001618", "street_lighting", "inspector",
     120.5571, 31.8733, ("2026-11-04", 14), ("2026-11-05", 9)),
    ("ZJG-20261110-000003", "20101", "reported", "yangshe", "320582100001719", "", "open311",
     120.5662, 31.8741, ("2026-11-10", 8), None),
    ("ZJG-20261120-000004", "20301", "verified", "jingang", "", "", "camera",
     120.45, 31.95, ("2026-11-20", 23), None),  # a case the record holds without a cell
    ("ZJG-20261130-000005", "10101", "accepted", "", "", "", "phone",
     None, None, ("2026-11-30", 23), None),  # no position at all: no geometry, no district
    ("ZJG-20261031-000006", "10101", "closed", "yangshe", "320582100001618", "water_affairs", "hotline",
     120.556, 31.872, ("2026-10-31", 23), ("2026-11-01", 8)),  # the day before the period
    ("ZJG-20261201-000007", "10101", "reported", "yangshe", "320582100001618", "", "hotline",
     120.556, 31.872, ("2026-12-01", 0), None),  # midnight after the period
)

# id, kind, name, district, cell, lon, lat, online, first seen (day)
DEVICES = (
    ("wl-001", "water_level", "长江水位站1", "jinfeng", "320582103002922", 120.6, 31.99, True, "2026-10-01"),
    ("ml-002", "manhole", "井盖传感器2", "yangshe", "320582100001618", 120.5561, 31.8722, False, "2026-11-15"),
    ("aq-003", "air_quality", "空气站3", "yangshe", "320582100001719", 120.5665, 31.8745, True, "2026-12-02"),  # after
)

# alarm id, device, kind, rule, severity, district, raised (day, hour), cleared (day, hour) or None, value
ALARMS = (
    ("wl-001|water_level_warning", "wl-001", "water_level", "water_level_warning", "major", "jinfeng",
     ("2026-11-02", 3), ("2026-11-02", 5), 4.3),
    ("ml-002|manhole_displaced", "ml-002", "manhole", "manhole_displaced", "critical", "yangshe",
     ("2026-11-16", 12), None, True),
    ("ghost-9|noise_high", "ghost-9", "noise", "noise_high", "minor", "fenghuang",
     ("2026-11-18", 1), ("2026-11-18", 2), 90),  # a device the record does not know
    ("wl-001|water_level_danger", "wl-001", "water_level", "water_level_danger", "critical", "jinfeng",
     ("2026-12-03", 3), None, 4.8),  # after the period
)
PERIOD = ("2026-11-01", "2026-11-30")


def _day(spec):
    return at(*spec) if spec else None


def insert_cases(conn, cases=CASES) -> None:
    for cid, cls, stage, district, cell, dept, source, lon, lat, created, closed in cases:
        created_at, closed_at = _day(created), _day(closed)
        data = {"id": cid, "class_code": cls, "stage": stage, "district": district, "cell": cell, "lon": lon, "lat": lat,
                "source": source, "department": dept, "description": f"描述 {cid}", "address": "人民路1号"}
        conn.execute(
            "INSERT INTO cases (id, version, class_code, district, department, source, stage, urgent, lon, lat, cell,"
            " created_at, closed_at, due_at, updated_at, data) VALUES (%s, 3, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s)",
            (cid, cls, district, dept, source, stage, cls == "10101", lon, lat, cell, created_at, closed_at,
             created_at + timedelta(days=2), closed_at or created_at, orjson.dumps(data).decode()))


def insert_devices(conn, devices=DEVICES) -> None:
    for did, kind, name, district, cell, lon, lat, online, first in devices:
        conn.execute(
            "INSERT INTO devices (id, kind, name, district, cell, lon, lat, online, first_seen, updated_at, meta)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (did, kind, name, district, cell, lon, lat, online, at(first, 0), at(first, 1),
             orjson.dumps({"kind": kind, "name": name}).decode()))


def insert_alarms(conn, alarms=ALARMS) -> None:
    from ioc.domain.rules import RULES_BY_ID

    for aid, device, kind, rule, severity, district, raised, cleared, value in alarms:
        r = RULES_BY_ID[rule]
        data = {"id": aid, "device_id": device, "kind": kind, "rule_id": rule, "severity": severity, "district": district,
                "attribute": r.attribute, "value": value, "threshold": r.threshold, "name_zh": r.name_zh, "name_en": r.name_en}
        conn.execute(
            "INSERT INTO alarms (alarm_id, raised_at, cleared_at, device_id, kind, rule, severity, district, data)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (aid, _day(raised), _day(cleared), device, kind, rule, severity, district, orjson.dumps(data).decode()))


def fill(url: str) -> None:
    """The cases, devices and alarms above, in the record at `url`."""
    with psycopg.connect(url) as conn:
        insert_cases(conn)
        insert_devices(conn)
        insert_alarms(conn)
