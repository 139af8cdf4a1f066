"""Cases and timelines made up for tests and the bench, written straight into the record.

`generate` walks each case through the real workflow (ioc.domain.cases.TRANSITIONS: report,
accept, verify, dispatch, sometimes a return, a deferral, a failed check, then handle, check,
close; a few rejected or voided) with seeded random durations; events after `now_ms` do not
happen, so recent cases stay open. `write` copies the cases and their timeline entries into the
record as the recorder would (rows of `cases` and `case_timeline`) and, with `facts=True`, their
`case_facts` rows computed by the domain (what `refresh_facts` would compute, without reading the
timelines back: the bench's million cases load in minutes, not tens of minutes).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

import psycopg

from ioc.domain.case_indicators import indicator_facts
from ioc.domain.cases import Case, CaseEvent

from .indicators import facts_row, write_facts

HOUR = 3_600_000
DEFAULT_CLASSES = ("10105", "10201", "20101", "20203", "10301")
DEFAULT_SOURCES = ("hotline", "inspector", "camera", "sensor", "open311")


def city_groups():
    """(district ids, department ids) of the demo city."""
    from ioc.adapters.geodata_files import load_city_map
    from ioc.domain.departments import all_departments

    city = load_city_map()
    return tuple(d.id for d in city.districts), tuple(d.id for d in all_departments(city))


def generate(n: int, start_ms: int, end_ms: int, now_ms: int, seed: int = 17, districts: Iterable[str] = (),
             departments: Iterable[str] = (), classes: Iterable[str] = DEFAULT_CLASSES,
             sources: Iterable[str] = DEFAULT_SOURCES, prefix: str = "SY") -> Iterator[tuple[Case, list[CaseEvent]]]:
    """`n` cases reported evenly at random in [start_ms, end_ms), each with its timeline up to `now_ms`."""
    rng = random.Random(seed)
    districts, departments = tuple(districts), tuple(departments)
    if not districts or not departments:
        d, p = city_groups()
        districts, departments = districts or d, departments or p
    classes, sources = tuple(classes), tuple(sources)
    span = end_ms - start_ms
    for i in range(n):
        created = start_ms + int(rng.random() * span)
        case_id = f"{prefix}-{i:07d}"
        evs: list[CaseEvent] = []
        limit_h = rng.choice((4, 6, 24, 48, 72, 120))
        due = created + limit_h * HOUR
        state = {"t": created, "stage": "reported", "department": "", "deferrals": 0, "rework": 0, "returns": 0,
                 "closed": 0, "due": 0}

        def step(action: str, to: str, hours: float) -> bool:
            at = state["t"] + max(1, int(hours * HOUR * (0.2 + rng.random() * 1.6)))
            if at >= now_ms:
                return False
            evs.append(CaseEvent(case_id, action, "synth", "dispatcher", state["stage"], to, at))
            state["t"] = at
            state["stage"] = to or state["stage"]
            return True

        evs.append(CaseEvent(case_id, "report", "synth", "", "", "reported", created))
        r = rng.random()
        ok = step("accept", "accepted", 0.3) if r > 0.03 else step("reject", "rejected", 0.2)
        if ok and state["stage"] == "accepted":
            ok = step("verify", "verified", 1.0) if rng.random() > 0.04 else step("void", "voided", 1.0)
        if ok and state["stage"] == "verified":
            dept = rng.choice(departments)
            ok = step("dispatch", "dispatched", 0.5)
            state["department"] = dept
            if ok:
                state["due"] = due
            if ok and rng.random() < 0.03:
                ok = step("return", "verified", 1.0) and step("dispatch", "dispatched", 0.5)
                state["returns"] += 1
                state["department"] = rng.choice(departments)
            if ok and rng.random() < 0.06:
                ok = step("request_deferral", "", limit_h * 0.3) and step("approve_deferral", "", 0.5)
                if ok:
                    state["deferrals"] += 1
                    state["due"] += 48 * HOUR
            while ok:
                ok = step("handle", "handled", limit_h * 0.5)
                if not ok:
                    break
                if rng.random() < 0.05 and state["rework"] < 2:
                    ok = step("check_fail", "dispatched", 1.0)
                    state["rework"] += ok
                    continue
                ok = step("check_pass", "checked", 1.0) and step("close", "closed", 0.5)
                if ok:
                    state["closed"] = state["t"]
                break
        case = Case(id=case_id, class_code=rng.choice(classes), lat=31.87 + rng.random() * 0.1,
                    lon=120.5 + rng.random() * 0.1, district=rng.choice(districts), source=rng.choice(sources),
                    created_at=created, stage=state["stage"], version=len(evs), department=state["department"],
                    stage_since=state["t"], due_at=state["due"], rework_count=state["rework"],
                    return_count=state["returns"], deferral_count=state["deferrals"],
                    closed_at=state["closed"] if state["stage"] == "closed" else 0, updated_at=state["t"],
                    stage_deadline=0 if state["stage"] in ("closed", "rejected", "voided") else state["due"])
        yield case, evs


def _ts(ms: int | None):
    return None if not ms else datetime.fromtimestamp(ms / 1000, timezone.utc)


def ensure_partitions(conn: psycopg.Connection, start_ms: int, end_ms: int, tables=("case_timeline", "case_versions")) -> None:
    t = datetime.fromtimestamp(start_ms / 1000, timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = datetime.fromtimestamp(end_ms / 1000, timezone.utc)
    while t <= end:
        for table in tables:
            conn.execute("SELECT ioc_ensure_partition(%s, %s, 'month')", (table, t))
        t = t.replace(year=t.year + (t.month == 12), month=t.month % 12 + 1)


def write(conn: psycopg.Connection, items: Iterable[tuple[Case, list[CaseEvent]]], facts: bool = True,
          batch: int = 20_000) -> int:
    """Copy the cases and their timelines into the record (partitions made as needed); with
    `facts`, their `case_facts` too, and nothing left marked for refresh. Returns the cases written."""
    written = 0
    made: set[tuple[int, int]] = set()
    chunk: list[tuple[Case, list[CaseEvent]]] = []

    def flush() -> None:
        nonlocal written
        if not chunk:
            return
        with conn.transaction():
            for case, evs in chunk:
                for ev in evs:
                    d = datetime.fromtimestamp(ev.at / 1000, timezone.utc)
                    if (d.year, d.month) not in made:
                        made.add((d.year, d.month))
                        conn.execute("SELECT ioc_ensure_partition('case_timeline', %s, 'month')", (d,))
            with conn.cursor().copy("COPY cases (id, version, class_code, district, department, source, stage, urgent, "
                                    "lon, lat, cell, created_at, closed_at, due_at, stage_deadline, updated_at, data) "
                                    "FROM STDIN") as copy:
                for c, _ in chunk:
                    copy.write_row((c.id, c.version, c.class_code, c.district, c.department, c.source, c.stage, c.urgent,
                                    c.lon, c.lat, c.cell, _ts(c.created_at), _ts(c.closed_at), _ts(c.due_at),
                                    _ts(c.stage_deadline), _ts(c.updated_at), json.dumps(c.to_dict(), ensure_ascii=False)))
            with conn.cursor().copy("COPY case_timeline (case_id, entry_id, at, action, actor, role, from_stage, to_stage, "
                                    "note, detail, fields) FROM STDIN") as copy:
                for c, evs in chunk:
                    for seq, ev in enumerate(evs):
                        fields = {"action": ev.action, "actor": ev.actor, "role": ev.role, "from": ev.from_stage,
                                  "to": ev.to_stage, "at": str(ev.at), "note": ev.note}
                        copy.write_row((c.id, f"{ev.at}-{seq}", _ts(ev.at), ev.action, ev.actor, ev.role, ev.from_stage,
                                        ev.to_stage, ev.note, "{}", json.dumps(fields, ensure_ascii=False)))
            if facts:
                write_facts(conn, (facts_row(indicator_facts(c, evs), c.version) for c, evs in chunk))
                conn.execute("DELETE FROM case_facts_dirty WHERE case_id = ANY(%s)", ([c.id for c, _ in chunk],))
                conn.execute("UPDATE case_facts_state SET revision = revision + 1, refreshed_at = now()")
        written += len(chunk)
        chunk.clear()

    for item in items:
        chunk.append(item)
        if len(chunk) >= batch:
            flush()
    flush()
    return written
