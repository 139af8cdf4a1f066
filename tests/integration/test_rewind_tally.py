"""The rewind's case figures from the tally (migration 0004) equal a full reconstruction from the
open cases of the moment, at any moment: bucket starts, between them, around deadlines and China
midnight, with versions recorded out of order and spans rewritten or deleted."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest

from ioc.domain.clock import local_midnight_ms
from ioc.record import db
from ioc.record.rewind import Rewind, TALLY_MS

# 15:00 UTC: China midnight (16:00 UTC) falls inside the fixture's range
BASE = int(datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc).timestamp() * 1000)
MIN = 60_000
DISTRICTS = ("d1", "d2", "d3")


def ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def full_counts(rewind: Rewind, t_ms: int) -> dict[str, tuple[int, int, int]]:
    """What the wall counted from every open case of the moment before the tally."""
    midnight = local_midnight_ms(t_ms)
    out: dict[str, list[int]] = {}
    for c in rewind.open_cases_at(t_ms):
        row = out.setdefault(c.district, [0, 0, 0])
        row[0] += 1
        row[1] += int(c.overdue(t_ms))
        row[2] += int(c.created_at >= midnight)
    return {d: tuple(n) for d, n in out.items()}


def insert_cases(url: str, count: int, seed: int) -> list[int]:
    """`count` made-up cases reported → dispatched (deadline) → handled → closed, their versions
    inserted in a shuffled order (the recorder may write them in any order); returns moments of interest."""
    rnd = random.Random(seed)
    rows, moments = [], []
    for n in range(count):
        created = BASE + rnd.randrange(0, 120 * MIN) + rnd.randrange(0, 1000)
        dispatched = created + rnd.randrange(1, 40 * MIN)
        deadline = dispatched + rnd.choice((10 * MIN, 20 * MIN, TALLY_MS))  # some exactly on a bucket start
        handled = dispatched + rnd.randrange(1, 60 * MIN)
        closed = handled + rnd.randrange(1, 60 * MIN)
        steps = [(1, created, "reported", 0), (2, dispatched, "dispatched", deadline), (3, handled, "handled", 0),
                 (4, closed, "closed", 0)][: rnd.randrange(1, 5)]
        district = DISTRICTS[n % len(DISTRICTS)]
        for version, at, stage, dl in steps:
            data = {"id": f"C{n}", "version": version, "stage": stage, "district": district, "created_at": created,
                    "stage_deadline": dl, "lon": 120.0, "lat": 30.0}
            rows.append((f"C{n}", version, ts(at), stage, district, f"{at}-{n}", json.dumps(data)))
            moments += [at, at - 1, at + 1]
        moments += [deadline, deadline + 1]
    rnd.shuffle(rows)
    with db.connection(url) as conn:
        conn.execute("SELECT ioc_ensure_partition('case_versions', %s, 'month')", (ts(BASE),))
        for row in rows:
            conn.execute("INSERT INTO case_versions (case_id, version, at, stage, district, stream_id, data) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                         row)
    return moments


@pytest.fixture
def rewind(database_url):
    yield Rewind(database_url)
    db.close_pools()


def moments_to_check(extra: list[int]) -> list[int]:
    grid = list(range(BASE - TALLY_MS, BASE + 5 * 3_600_000, 7 * MIN + 13_000))  # between bucket starts
    buckets = list(range(BASE - TALLY_MS, BASE + 5 * 3_600_000, TALLY_MS))  # on bucket starts
    midnight = local_midnight_ms(BASE) + 86_400_000
    return sorted({m // 1000 * 1000 for m in grid + buckets + extra + [midnight - 1000, midnight, midnight + 1000]})


def test_tally_figures_equal_a_full_reconstruction_at_every_moment(rewind, database_url):
    extra = insert_cases(database_url, 150, seed=7)
    for t in moments_to_check(extra[::5]):
        assert rewind.snapshot_at(t).case_counts == full_counts(rewind, t), t


def test_a_frame_carries_no_case_rows(rewind, database_url):
    insert_cases(database_url, 20, seed=3)
    snapshot = rewind.snapshot_at(BASE + 60 * MIN)
    assert snapshot.cases == [] and snapshot.case_counts == full_counts(rewind, BASE + 60 * MIN)


def test_tally_follows_spans_deleted_and_rewritten(rewind, database_url):
    insert_cases(database_url, 60, seed=11)
    with db.connection(database_url) as conn:
        conn.execute("DELETE FROM case_spans WHERE case_id IN ('C1', 'C2', 'C3')")
        conn.execute("UPDATE case_spans SET stage_deadline = stage_deadline + interval '17 minutes' WHERE stage_deadline IS NOT NULL")
    for t in moments_to_check([])[::3]:
        assert rewind.snapshot_at(t).case_counts == full_counts(rewind, t), t


def test_rebuild_gives_the_tally_the_triggers_kept(database_url):
    insert_cases(database_url, 80, seed=5)
    with db.connection(database_url) as conn:
        kept = conn.execute("SELECT bucket, district, open, overdue, today FROM case_tally"
                            " WHERE (open, overdue, today) <> (0, 0, 0) ORDER BY 1, 2").fetchall()
        conn.execute("SELECT ioc_case_tally_rebuild()")
        rebuilt = conn.execute("SELECT bucket, district, open, overdue, today FROM case_tally"
                               " WHERE (open, overdue, today) <> (0, 0, 0) ORDER BY 1, 2").fetchall()
    db.close_pools()
    assert kept == rebuilt and kept
