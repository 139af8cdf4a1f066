"""The bench's `recorder` scenario (`python -m bench --only recorder`): the recorder's lag is read
from outside it, from the consumer group's state in a real Redis (the age of the oldest entry not
yet recorded); the quick scenario runs the real recorder against its own PostgreSQL with the
ingest fed, and reports every figure against its target. Timing is never asserted."""

from __future__ import annotations

import pytest

from bench import recorder

GROUP = "ioc-recorder"
KEY = "bench-test:readings"


def _ms(stream_id: bytes) -> int:
    return int(stream_id.decode().split("-")[0])


def test_a_missing_stream_has_nothing_to_record(redis_client):
    assert recorder.oldest_unrecorded_ms(redis_client, KEY, GROUP) is None


def test_before_the_group_exists_the_stream_s_first_entry_is_unrecorded(redis_client):
    first = redis_client.xadd(KEY, {"n": 1}, id="1000-0")
    redis_client.xadd(KEY, {"n": 2}, id="2000-0")

    assert recorder.oldest_unrecorded_ms(redis_client, KEY, GROUP) == _ms(first)


def test_an_entry_read_but_not_acknowledged_is_the_oldest_unrecorded(redis_client):
    redis_client.xadd(KEY, {"n": 1}, id="1000-0")
    redis_client.xadd(KEY, {"n": 2}, id="2000-0")
    redis_client.xgroup_create(KEY, GROUP, id="0")
    redis_client.xreadgroup(GROUP, "c", {KEY: ">"}, count=1)

    assert recorder.oldest_unrecorded_ms(redis_client, KEY, GROUP) == 1000


def test_after_every_read_entry_is_acknowledged_the_next_undelivered_one_is_the_oldest(redis_client):
    redis_client.xadd(KEY, {"n": 1}, id="1000-0")
    redis_client.xadd(KEY, {"n": 2}, id="2000-0")
    redis_client.xgroup_create(KEY, GROUP, id="0")
    redis_client.xreadgroup(GROUP, "c", {KEY: ">"}, count=1)
    redis_client.xack(KEY, GROUP, "1000-0")

    assert recorder.oldest_unrecorded_ms(redis_client, KEY, GROUP) == 2000


def test_a_stream_recorded_to_its_end_has_no_lag(redis_client):
    redis_client.xadd(KEY, {"n": 1}, id="1000-0")
    redis_client.xgroup_create(KEY, GROUP, id="0")
    redis_client.xreadgroup(GROUP, "c", {KEY: ">"})
    redis_client.xack(KEY, GROUP, "1000-0")

    assert recorder.lags(redis_client, [KEY], GROUP, now_ms=9_000) == {KEY: 0.0}


def test_the_lag_is_the_age_of_the_oldest_unrecorded_entry_in_seconds(redis_client):
    redis_client.xadd(KEY, {"n": 1}, id="1000-0")

    assert recorder.lags(redis_client, [KEY], GROUP, now_ms=3_500) == {KEY: 2.5}


@pytest.mark.integration
@pytest.mark.slow
def test_the_quick_scenario_records_the_fed_ingest_and_reports_every_figure(quick_bench):
    rows, page = quick_bench("recorder")

    lag = rows["lag p99 (largest stream)"]
    assert lag["target"] == "≤ 2 s" and lag["passed"] in (True, False) and lag["value"] >= 0
    readings = rows["readings recorded, sustained"]
    assert readings["value"] > 0 and readings["passed"] in (True, False) and readings["detail"]["ingest_msg_s"] > 0
    assert rows["all rows recorded, sustained"]["detail"]["per_table"]["readings"] > 0
    assert rows["PostgreSQL growth per day at this rate"]["value"] >= 0
    assert rows["raw readings per hour kept at this rate"]["detail"]["bytes_per_row"] > 0
    assert rows["baseline: the same readings COPY'd by a bare psycopg loop"]["value"] > 0
    assert rows["ratio to baseline (cost per reading / bare COPY's)"]["value"] > 0
    assert "| recorder | lag p99 (largest stream) |" in page
