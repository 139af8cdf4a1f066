"""Hostile MQTT payloads and topics through the real ingest and case workers (threads on a
private Redis and broker): every bad message is dead-lettered with a known reason, the counters
add up, nothing of it is stored, and the worker still takes a valid message afterwards. Then a
hypothesis run of generated payloads on a real device's telemetry topic through the worker."""

from __future__ import annotations

import json
import time
from collections import Counter

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ioc.adapters import redis_keys as keys
from ioc.adapters.case_store import CaseStore
from ioc.domain.telemetry import REASONS, Limits, Reading, Rejection, parse_message
from tests.conftest import wait_for
from tests.resilience.fuzz_corpus import BORN, GOOD_REPORT, REPORTS, TELEMETRY, UNPUBLISHABLE_TOPICS, UPDATES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

YANGSHE = (120.553, 31.870)


def counter(redis_client, name: str) -> int:
    return int(redis_client.hget(keys.METRICS, name) or 0)


def rejected_by_reason(redis_client) -> Counter:
    metrics = redis_client.hgetall(keys.METRICS)
    return Counter({k.decode()[len("rejected:"):]: int(v) for k, v in metrics.items() if k.startswith(b"rejected:") and int(v)})


def deadletters(redis_client) -> list[dict]:
    return [{k.decode(): v for k, v in fields.items()} for _id, fields in redis_client.xrange(keys.DEADLETTER)]


def birth(publisher, kind: str, device: str, lonlat=YANGSHE) -> None:
    payload = orjson.dumps({"state": "online", "lat": lonlat[1], "lon": lonlat[0], "name": "fuzz"})
    publisher.publish(f"ioc/v1/{kind}/{device}/status", payload, qos=1, retain=True).wait_for_publish(5)


def publish(publisher, topic: str, payload) -> None:
    payload = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    publisher.publish(topic, payload, qos=1).wait_for_publish(10)


def latest(redis_client, settings, device: str):
    return redis_client.hget(keys.latest(keys.shard_of(device, settings.redis_shards)), device)


@pytest.fixture
def fuzz_ingest(start_ingest, settings, publisher, redis_client):
    """An ingest worker without the per-device rate limit (the corpus hits one device fast), and
    the noise sensor the corpus talks about, born."""
    running = start_ingest(settings.replace(device_max_rate=0))
    birth(publisher, "noise", BORN)
    wait_for(lambda: counter(redis_client, "messages:accepted") >= 1, message="the birth")
    return running


# ---- the corpus ------------------------------------------------------------------------------------

def test_every_hostile_telemetry_and_status_message_is_dead_lettered_and_nothing_is_stored(fuzz_ingest, publisher, redis_client, settings):
    for topic, payload, _reason in TELEMETRY.values():
        publish(publisher, topic, payload)
    expected = Counter(reason for _t, _p, reason in TELEMETRY.values())
    wait_for(lambda: counter(redis_client, "messages:rejected") >= len(TELEMETRY), timeout=90,
             message=f"{len(TELEMETRY)} rejections (have {counter(redis_client, 'messages:rejected')})")
    # the worker holds its counters for IOC_COUNTER_FLUSH_MS: once it holds none, none may come late
    wait_for(lambda: not fuzz_ingest.worker.queue and not fuzz_ingest.worker.holding(), message="the worker's counts written")
    assert rejected_by_reason(redis_client) == expected
    assert counter(redis_client, "messages:rejected") == len(TELEMETRY) == sum(rejected_by_reason(redis_client).values())
    assert counter(redis_client, "messages:accepted") == 1  # the birth only

    entries = deadletters(redis_client)
    assert len(entries) == len(TELEMETRY)
    sent = {(t, p): r for t, p, r in TELEMETRY.values()}
    for entry in entries:  # each one with the raw payload, the topic as sent, its reason and a detail
        key = (entry["topic"].decode(), entry["payload"])
        assert key in sent and entry["reason"].decode() == sent[key] in REASONS, entry["topic"][:80]
        assert entry["detail"]

    # nothing of a refused message is stored: no latest state, no registration of a refused device
    assert latest(redis_client, settings, BORN) is None
    for device in ("nz-f-sh", "nz-f-ghost", "aq-f-1", "wl-f-1", "tt-f-1", "gw-f-1", "..", "nz-f-2"):
        shard = keys.shard_of(device, settings.redis_shards)
        assert latest(redis_client, settings, device) is None
        assert redis_client.hget(keys.meta(shard), device) is None, device

    # and the worker is alive and takes a valid reading afterwards
    assert fuzz_ingest.thread.is_alive() and not fuzz_ingest.errors
    ts = int(time.time() * 1000)
    publish(publisher, f"ioc/v1/noise/{BORN}/telemetry", {"ts": ts, "LAeq": 55.5})
    stored = wait_for(lambda: latest(redis_client, settings, BORN), message="the valid reading after the corpus")
    assert orjson.loads(stored) == {"ts": ts, "LAeq": 55.5}
    # the worker writes its counters on their own beat (IOC_COUNTER_FLUSH_MS), after the reading
    wait_for(lambda: counter(redis_client, "messages:accepted") >= 2, message="the accepted counter after the valid reading")
    assert counter(redis_client, "messages:accepted") == 2


def test_duplicate_keys_take_the_last_value_like_every_json_parser_of_the_product(fuzz_ingest, publisher, redis_client, settings):
    ts = int(time.time() * 1000)
    publish(publisher, f"ioc/v1/noise/{BORN}/telemetry", b'{"ts": %d, "LAeq": "loud", "LAeq": 61.5}' % ts)
    stored = wait_for(lambda: latest(redis_client, settings, BORN), message="the reading")
    assert orjson.loads(stored) == {"ts": ts, "LAeq": 61.5}


def test_topics_with_wildcards_cannot_even_be_published(publisher):
    for topic in UNPUBLISHABLE_TOPICS:
        if any(ord(c) < 0x20 for c in topic):
            continue  # paho sends it; the broker closes such a connection (MQTT 3.1.1 §1.5.3)
        with pytest.raises(ValueError):
            publisher.publish(topic, b'{"LAeq": 50}', qos=1)


def case_count(redis_client) -> int:
    return len(CaseStore(redis_client).all())


def test_every_hostile_report_and_update_is_dead_lettered_and_makes_no_case(cases, publisher, redis_client):
    corpus = {**REPORTS, **UPDATES}
    for topic, payload, _reason in corpus.values():
        publish(publisher, topic, payload)
    wait_for(lambda: counter(redis_client, "messages:rejected") >= len(corpus), timeout=90,
             message=f"{len(corpus)} rejections (have {counter(redis_client, 'messages:rejected')})")
    time.sleep(0.5)
    assert rejected_by_reason(redis_client) == Counter(reason for _t, _p, reason in corpus.values())
    assert counter(redis_client, "messages:rejected") == len(corpus)
    assert case_count(redis_client) == 0 and counter(redis_client, "cases:reported") == 0
    assert counter(redis_client, "cases:updates") == 0
    reasons = {e["reason"].decode() for e in deadletters(redis_client)}
    assert reasons <= set(REASONS)
    assert len(deadletters(redis_client)) == len(corpus)

    # the worker is alive and still files a valid report, once
    assert cases.thread.is_alive() and not cases.errors
    publish(publisher, "ioc/v1/reports/hotline", GOOD_REPORT)
    wait_for(lambda: case_count(redis_client) == 1, message="the valid report after the corpus")
    (case,) = CaseStore(redis_client).all()
    assert (case.report_id, case.class_code, case.description) == (GOOD_REPORT["report_id"], "10101", "井盖丢失")


def test_a_report_with_script_text_is_stored_as_the_text_sent(cases, publisher, redis_client):
    text = "<script>alert(1)</script> ' OR 1=1 -- {{7*7}}"
    publish(publisher, "ioc/v1/reports/hotline", {**GOOD_REPORT, "report_id": "fz-xss", "description": text, "address": text})
    wait_for(lambda: case_count(redis_client) == 1, message="the report")
    (case,) = CaseStore(redis_client).all()
    assert case.description == text and case.address == text


def test_a_4000_character_description_is_taken_and_4001_refused(cases, publisher, redis_client):
    publish(publisher, "ioc/v1/reports/hotline", {**GOOD_REPORT, "report_id": "fz-4001", "description": "井" * 4001})
    publish(publisher, "ioc/v1/reports/hotline", {**GOOD_REPORT, "report_id": "fz-4000", "description": "井" * 4000})
    wait_for(lambda: case_count(redis_client) == 1 and counter(redis_client, "rejected:bad_report") == 1, message="one case, one refusal")
    (case,) = CaseStore(redis_client).all()
    assert case.report_id == "fz-4000" and len(case.description) == 4000
    (entry,) = deadletters(redis_client)
    assert b"description" in entry["detail"]


# ---- hypothesis through the real worker ------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                         st.text(max_size=20), st.sampled_from([0, 50, 55.5, 140, 141, "on", "ts"]))
json_values = st.recursive(json_scalars, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=6), c, max_size=3)),
                           max_leaves=8)
noise_objects = st.dictionaries(st.sampled_from(["LAeq", "LAmax", "ts", "lat", "lon", "state", "x"]), json_values, max_size=4)
wire_payloads = st.one_of(
    noise_objects.map(lambda o: json.dumps(o, allow_nan=True).encode()),
    json_values.map(lambda o: json.dumps(o, allow_nan=True).encode()),
    st.binary(max_size=64),
)


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payloads=st.lists(wire_payloads, min_size=1, max_size=4))
def test_generated_payloads_through_the_ingest_worker(fuzz_ingest, publisher, redis_client, settings, payloads):
    """Each example: a few generated payloads on the born sensor's topic. The worker's verdict for
    each equals the pure parser's (a rejection with the same reason, or an accepted reading, which
    may only be refused again as a duplicate/late one of the same ts), and every message is counted
    once."""
    topic = f"ioc/v1/noise/{BORN}/telemetry"
    before_acc, before_rej = counter(redis_client, "messages:accepted"), counter(redis_client, "messages:rejected")
    before_dl = redis_client.xlen(keys.DEADLETTER)
    now = int(time.time() * 1000)
    predicted = [parse_message(topic, p, now, Limits(settings.ingest_max_payload, settings.ingest_max_future_s * 1000,
                                                      settings.ingest_max_age_s * 1000)) for p in payloads]
    for p in payloads:
        publisher.publish(topic, p, qos=1)
    total = lambda: counter(redis_client, "messages:accepted") + counter(redis_client, "messages:rejected")  # noqa: E731
    wait_for(lambda: total() >= before_acc + before_rej + len(payloads), timeout=15, interval=0.02, message="every payload counted")
    assert total() == before_acc + before_rej + len(payloads)
    new_entries = redis_client.xrange(keys.DEADLETTER)[before_dl:]
    got = Counter(fields[b"reason"].decode() for _id, fields in new_entries)
    want = Counter(m.reason for m in predicted if isinstance(m, Rejection))
    readings = sum(isinstance(m, Reading) for m in predicted)
    assert set(got) <= set(REASONS)
    extra = got - want  # a predicted reading may be refused as a repeat of a ts already stored
    assert set(extra) <= {"duplicate"} and sum(extra.values()) <= readings, (got, want)
    assert not (want - got), (got, want)
    assert fuzz_ingest.thread.is_alive() and not fuzz_ingest.errors
