"""A small record written with SQL (the recorder is not needed): four devices, two alarms, one
case (C1: open 08:02–08:35, dispatched at 08:12 with a deadline of 08:22), a few minutes of
rollups and a gauge's hourly level, around BASE (an hour's start)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from ioc.record import db

BASE = int(datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc).timestamp() * 1000)
MIN = 60_000


def ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def alarm(alarm_id, device, kind, rule, severity, district, value, raised):
    return {"id": alarm_id, "device_id": device, "kind": kind, "rule_id": rule, "severity": severity, "district": district,
            "attribute": "airQualityIndex" if kind == "air_quality" else "averageVehicleSpeed", "value": value,
            "threshold": 150 if kind == "air_quality" else 10, "raised_at": raised, "name_zh": "规则", "name_en": "rule"}


def fill(url: str, d0: str, d1: str) -> dict:
    with db.connection(url) as conn:
        for table in ("case_versions", "case_timeline", "alarm_events", "device_events", "rollup_minute", "device_hourly",
                      "event_versions", "readings"):
            conn.execute("SELECT ioc_ensure_partition(%s, %s, %s)", (table, ts(BASE), "day" if table == "readings" else "month"))
        devices = [("aq-1", "air_quality", "空气站一", d0, 120.1, 30.1, True, BASE - 60 * MIN),
                   ("gauge-1", "water_level", "水位站一", d0, 120.2, 30.2, True, BASE - 60 * MIN),
                   ("tl-1", "traffic", "路口一", d1, 120.3, 30.3, True, BASE - 60 * MIN),
                   ("late-1", "air_quality", "新站", d1, 120.4, 30.4, True, BASE + 30 * MIN)]
        for dev, kind, name, district, lon, lat, online, born in devices:
            meta = {"kind": kind, "name": name, "district": district, "lon": lon, "lat": lat}
            conn.execute("INSERT INTO devices (id, kind, name, district, lon, lat, online, first_seen, updated_at, meta)"
                         " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                         (dev, kind, name, district, lon, lat, online, ts(born), ts(born), json.dumps(meta)))
            conn.execute("INSERT INTO device_events (stream_id, at, device_id, event, online, lon, lat, district, meta)"
                         " VALUES (%s,%s,%s,'birth',true,%s,%s,%s,%s)",
                         (f"{born}-0", ts(born), dev, lon, lat, district, json.dumps(meta)))
        for at, online in ((BASE + 10 * MIN, False), (BASE + 40 * MIN, True)):
            conn.execute("INSERT INTO device_events (stream_id, at, device_id, event, online, district)"
                         " VALUES (%s,%s,'aq-1',%s,%s,%s)", (f"{at}-0", ts(at), "online" if online else "offline", online, d0))
        a1 = alarm("aq-1|aqi_high", "aq-1", "air_quality", "aqi_high", "critical", d0, 180, BASE + 5 * MIN)
        a2 = alarm("tl-1|congestion", "tl-1", "traffic", "congestion", "major", d1, 6, BASE + 20 * MIN)
        ack = {"by": "op1", "role": "operator", "at_ms": BASE + 15 * MIN}
        conn.execute("INSERT INTO alarms (alarm_id, raised_at, cleared_at, acknowledged_at, acknowledged_by, device_id, kind, rule,"
                     " severity, district, data) VALUES (%s,%s,%s,%s,'op1','aq-1','air_quality','aqi_high','critical',%s,%s)",
                     (a1["id"], ts(a1["raised_at"]), ts(BASE + 25 * MIN), ts(BASE + 15 * MIN), d0, json.dumps({**a1, "ack": ack})))
        conn.execute("INSERT INTO alarms (alarm_id, raised_at, device_id, kind, rule, severity, district, data)"
                     " VALUES (%s,%s,'tl-1','traffic','congestion','major',%s,%s)", (a2["id"], ts(a2["raised_at"]), d1, json.dumps(a2)))
        for at, event, data in ((BASE + 5 * MIN, "raised", a1), (BASE + 15 * MIN, "acknowledged", {**a1, "by": "op1", "role": "operator", "acknowledged_at": BASE + 15 * MIN}),
                                (BASE + 20 * MIN, "raised", a2), (BASE + 21 * MIN, "notified", a2),
                                (BASE + 25 * MIN, "cleared", {**a1, "cleared_at": BASE + 25 * MIN})):
            conn.execute("INSERT INTO alarm_events (stream_id, at, event, alarm_id, device_id, data) VALUES (%s,%s,%s,%s,%s,%s)",
                         (f"{at}-0", ts(at), event, data["id"], data["device_id"], json.dumps(data)))
        for m in range(0, 60):
            at = ts(BASE + m * MIN)
            rows = [(d0, "air_quality", "airQualityIndex", 100.0 + m, 2, 60.0 + m), (d0, "air_quality", "_", None, 2, None),
                    (d1, "streetlight", "powerState=on", None, 3, None), (d1, "streetlight", "powerState=off", None, 1, None),
                    (d0, "water_level", "waterLevel", 2.0 + m / 100, 1, 2.0 + m / 100)]
            for district, kind, attribute, s, n, x in rows:
                conn.execute("INSERT INTO rollup_minute VALUES (%s,%s,%s,%s,%s,%s,%s)", (at, district, kind, attribute, s, n, x))
        conn.execute("INSERT INTO device_hourly VALUES (%s,'gauge-1','waterLevel',60,120.0,1.9,2.1,2.05,NULL,%s)",
                     (ts(BASE - 60 * MIN), ts(BASE - 1 * MIN)))
        conn.execute("INSERT INTO device_hourly VALUES (%s,'gauge-1','waterLevel',60,150.0,2.4,2.6,2.55,NULL,%s)",
                     (ts(BASE), ts(BASE + 59 * MIN)))
        # a broken street light in Daxin (the maps draw it there; d1 is Daxin in the city's map)
        case = {"id": "C1", "class_code": "10105", "lat": 31.962, "lon": 120.545, "district": d1, "source": "hotline",
                "created_at": BASE + 2 * MIN, "stage": "reported", "version": 1}
        versions = [(1, BASE + 2 * MIN, "reported", 0), (2, BASE + 12 * MIN, "dispatched", BASE + 22 * MIN),
                    (3, BASE + 35 * MIN, "closed", 0)]
        for version, at, stage, deadline in reversed(versions):  # out of order: the spans come out right anyway
            data = {**case, "version": version, "stage": stage, "stage_deadline": deadline}
            conn.execute("INSERT INTO case_versions (case_id, version, at, stage, district, stream_id, data)"
                         " VALUES ('C1',%s,%s,%s,%s,%s,%s)", (version, ts(at), stage, d1, f"{at}-0", json.dumps(data)))
        for at, action, from_stage, to_stage in ((BASE + 2 * MIN, "report", "", "reported"), (BASE + 12 * MIN, "dispatch", "reported", "dispatched"),
                                                 (BASE + 35 * MIN, "close", "dispatched", "closed")):
            conn.execute("INSERT INTO case_timeline (case_id, entry_id, at, action, actor, from_stage, to_stage, fields)"
                         " VALUES ('C1',%s,%s,%s,'disp1',%s,%s,'{}')", (f"{at}-0", ts(at), action, from_stage, to_stage))
        conn.execute("INSERT INTO readings VALUES (%s,'aq-1','air_quality','r-1',0,%s)", (ts(BASE + 4 * MIN), json.dumps({"airQualityIndex": 160})))
        conn.execute("INSERT INTO readings VALUES (%s,'aq-1','air_quality','r-2',0,%s)", (ts(BASE + 6 * MIN), json.dumps({"airQualityIndex": 180})))
    return {"a1": a1, "a2": a2}
