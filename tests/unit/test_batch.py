"""Specification of one ingest batch without I/O (ioc.ingest.batch): `prepare` turns raw MQTT
messages into the store script's items, `conclude` turns the script's verdicts into rejections,
counters, rule states and alarm changes. The store is replaced by hand-made ShardResults."""

from __future__ import annotations

import json

import orjson
import pytest

from ioc.adapters.redis_keys import shard_of
from ioc.adapters.telemetry_store import ShardResult, TelemetryStore
from ioc.domain.rules import RuleState
from ioc.domain.telemetry import Limits
from ioc.ingest.batch import FIXED_KEYS, conclude, prepare

NOW = 1_746_000_000_000  # a whole minute: 2025-04-30T08:00:00Z
MINUTE = NOW // 60_000
LIMITS = Limits()
DAXIN = (120.545, 31.962)  # (lon, lat) of Daxin's seat, inside the city
OUTSIDE = (120.0, 31.0)    # far south-west of the city


def raw(topic: str, obj, received_ms: int = NOW) -> tuple[str, bytes, int]:
    return topic, json.dumps(obj).encode(), received_ms


def reading(device: str, kind: str, values: dict, ts: int = NOW, at=None) -> tuple[str, bytes, int]:
    obj = {"ts": ts, **values}
    if at:
        obj.update(lon=at[0], lat=at[1])
    return raw(f"ioc/v1/{kind}/{device}/telemetry", obj)


def birth(device: str, kind: str, at=DAXIN, **fields) -> tuple[str, bytes, int]:
    obj = {"state": "online", **fields}
    if at:
        obj.update(lon=at[0], lat=at[1])
    return raw(f"ioc/v1/{kind}/{device}/status", obj)


@pytest.fixture
def run(city):
    """prepare() against the real city map, one shard unless told otherwise."""
    def run(*messages, shards: int = 1):
        return prepare(list(messages), city, shards, LIMITS)
    return run


def answer(prepared, verdicts: str | None = None, district: str = "daxin", states: dict | None = None,
           shard: int = 0) -> dict[int, ShardResult]:
    """What the store script would answer for one shard: a verdict, district and stored rule
    states (`states`: device -> {rule id: RuleState}) per item."""
    messages = prepared.messages[shard]
    verdicts = verdicts or "a" * len(messages)
    stored = []
    for message, _, _ in messages:
        device_states = (states or {}).get(message.device_id, {})
        stored.append(orjson.dumps({rid: s.to_list() for rid, s in device_states.items()}).decode())
    return {shard: ShardResult(verdicts, [district] * len(messages), stored)}


def items(prepared, shard: int = 0) -> list[list]:
    return prepared.per_shard[shard][1]


# --- prepare: locating -----------------------------------------------------------------------

def test_a_located_birth_gets_its_district_and_cell(run, city):
    prepared = run(birth("sl-1", "streetlight", name="Lamp 1", model="SL-2"))
    [item] = items(prepared)
    assert item == ["s", "sl-1", "streetlight", "online", "daxin", DAXIN[0], DAXIN[1],
                    city.cell_at(*DAXIN), "Lamp 1", '{"model":"SL-2"}']
    assert item[7]


def test_an_offline_last_will_without_location_has_no_district(run):
    [item] = items(run(raw("ioc/v1/noise/n-1/status", {"state": "offline"})))
    assert item == ["s", "n-1", "noise", "offline", "", 0.0, 0.0, "", "", "{}"]


def test_a_located_reading_gets_its_district_and_cell(run, city):
    [item] = items(run(reading("n-1", "noise", {"LAeq": 50}, at=DAXIN)))
    assert item[4:8] == ["daxin", DAXIN[0], DAXIN[1], city.cell_at(*DAXIN)]


def test_an_unlocated_reading_leaves_the_district_to_the_store(run):
    [item] = items(run(reading("n-1", "noise", {"LAeq": 50})))
    assert item[4:8] == ["", 0.0, 0.0, ""]


@pytest.mark.parametrize("message", [
    birth("sl-1", "streetlight", at=OUTSIDE),
    reading("n-1", "noise", {"LAeq": 50}, at=OUTSIDE),
], ids=["birth", "reading"])
def test_a_location_outside_the_city_is_rejected_as_outside_city(run, message):
    prepared = run(message)
    [rejection] = prepared.rejections
    assert rejection.reason == "outside_city"
    assert rejection.payload == message[1]
    assert rejection.topic == message[0]
    assert rejection.device_id in ("sl-1", "n-1")
    assert str(OUTSIDE[1]) in rejection.detail and str(OUTSIDE[0]) in rejection.detail
    assert prepared.per_shard == {} and prepared.messages == {}


def test_parse_rejections_are_collected_and_not_sent_to_the_store(run):
    bad = raw("ioc/v1/noise/n-1/telemetry", {"LAeq": "loud"})
    prepared = run(bad, reading("n-2", "noise", {"LAeq": 50}))
    assert [(r.reason, r.payload) for r in prepared.rejections] == [("wrong_type", bad[1])]
    assert [item[1] for item in items(prepared)] == ["n-2"]


# --- prepare: items --------------------------------------------------------------------------

def test_fixed_keys_match_the_store():
    assert FIXED_KEYS == TelemetryStore.FIXED_KEYS


def test_readings_of_one_minute_share_one_rollup_key_and_the_next_minute_gets_the_next(run):
    prepared = run(
        reading("n-1", "noise", {"LAeq": 50}, ts=NOW - 60_000 + 1),   # previous minute
        reading("n-2", "noise", {"LAeq": 51}, ts=NOW),                # this minute
        reading("n-3", "noise", {"LAeq": 52}, ts=NOW + 59_999),       # still this minute
        birth("n-4", "noise"),
        reading("n-5", "noise", {"LAeq": 53}, ts=NOW - 1),            # previous minute again
    )
    minutes, its = prepared.per_shard[0]
    assert minutes == [MINUTE - 1, MINUTE]
    rollup_index = {item[1]: item[9] for item in its if item[0] == "t"}
    assert rollup_index == {"n-1": FIXED_KEYS + 1, "n-2": FIXED_KEYS + 2, "n-3": FIXED_KEYS + 2, "n-5": FIXED_KEYS + 1}


def test_every_shard_numbers_its_own_rollup_keys_from_the_first_free_key(run):
    devices = ["dev-0", "dev-1", "dev-5"]  # shards 0, 2 and 3 of 4
    prepared = run(*(reading(d, "noise", {"LAeq": 50}) for d in devices), shards=4)
    assert set(prepared.per_shard) == {shard_of(d, 4) for d in devices}
    for shard, (minutes, its) in prepared.per_shard.items():
        assert minutes == [MINUTE]
        assert [item[9] for item in its] == [FIXED_KEYS + 1]


def test_messages_are_grouped_per_shard_in_arrival_order(run):
    messages = [reading(f"dev-{i}", "noise", {"LAeq": 50 + i}) for i in range(8)]
    prepared = run(*messages, shards=4)
    for shard, entries in prepared.messages.items():
        expected = [f"dev-{i}" for i in range(8) if shard_of(f"dev-{i}", 4) == shard]
        assert [m.device_id for m, _, _ in entries] == expected
        assert [item[1] for item in items(prepared, shard)] == expected
        assert all(payload == messages[int(m.device_id[4:])][1] for m, _, payload in entries)


@pytest.mark.parametrize("kind, values, nums, cats", [
    ("noise", {"LAeq": 55.5, "LAmax": 70}, [["LAeq", 55.5], ["LAmax", 70]], []),
    ("traffic", {"intensity": 12, "congested": True}, [["intensity", 12]], ["congested=true"]),
    ("crowd", {"congested": False}, [], ["congested=false"]),
    ("streetlight", {"powerState": "on", "status": "ok", "illuminanceLevel": 0.5},
     [["illuminanceLevel", 0.5]], ["powerState=on", "status=ok"]),
    ("parking", {"status": "free"}, [], ["status=free"]),
])
def test_numeric_values_go_to_the_numeric_list_and_the_others_to_categories(run, kind, values, nums, cats):
    [item] = items(run(reading("d-1", kind, values)))
    assert item[10] == nums
    assert item[11] == cats


def test_a_reading_item_carries_the_latest_state_as_json(run):
    [item] = items(run(reading("n-1", "noise", {"LAeq": 55.5}, ts=NOW - 5)))
    assert item[:4] == ["t", "n-1", "noise", NOW - 5]
    assert orjson.loads(item[8]) == {"ts": NOW - 5, "LAeq": 55.5}


@pytest.mark.parametrize("kind, values, flag", [
    ("noise", {"LAeq": 50}, 1), ("parking", {"status": "free"}, 0), ("platform", {"calls": 3}, 1),
])
def test_a_reading_asks_for_rule_states_only_when_its_kind_has_rules(run, kind, values, flag):
    [item] = items(run(reading("d-1", kind, values)))
    assert item[12] == flag


def test_prepared_items_are_json_serialisable_for_the_script(run):
    prepared = run(birth("sl-1", "streetlight"), reading("sl-1", "streetlight", {"status": "ok"}))
    assert orjson.loads(orjson.dumps(items(prepared))) == items(prepared)


# --- conclude: verdicts ----------------------------------------------------------------------

def test_verdict_u_becomes_an_unknown_device_rejection_with_the_raw_payload(run):
    message = reading("n-1", "noise", {"LAeq": 50})
    prepared = run(message)
    outcome = conclude(prepared, answer(prepared, "u"))
    [rejection] = outcome.rejections
    assert (rejection.reason, rejection.payload, rejection.topic) == ("unknown_device", message[1], message[0])
    assert rejection.device_id == "n-1" and rejection.received_ms == NOW
    assert "lat/lon" in rejection.detail
    assert outcome.accepted == 0


def test_verdict_d_becomes_a_duplicate_rejection_with_the_raw_payload(run):
    message = reading("n-1", "noise", {"LAeq": 50}, ts=NOW - 7)
    prepared = run(message)
    outcome = conclude(prepared, answer(prepared, "d"))
    [rejection] = outcome.rejections
    assert (rejection.reason, rejection.payload, rejection.device_id) == ("duplicate", message[1], "n-1")
    assert str(NOW - 7) in rejection.detail


def test_accepted_and_late_verdicts_count_as_accepted_and_late_ones_as_late(run):
    prepared = run(
        reading("n-1", "noise", {"LAeq": 50}), reading("n-2", "noise", {"LAeq": 50}),
        reading("p-1", "parking", {"status": "free"}), birth("g-1", "gateway"),
        reading("n-3", "noise", {"LAeq": 50}), reading("n-4", "noise", {"LAeq": 50}),
    )
    outcome = conclude(prepared, answer(prepared, "alaadu"))
    assert (outcome.accepted, outcome.late) == (4, 1)
    assert outcome.by_kind == {"noise": 2, "parking": 1, "gateway": 1}
    assert outcome.rejected_by_reason() == {"duplicate": 1, "unknown_device": 1}


def test_prepare_rejections_are_part_of_the_outcome(run):
    prepared = run(reading("n-1", "noise", {"LAeq": 500}), reading("n-2", "noise", {"LAeq": 50}, at=OUTSIDE))
    outcome = conclude(prepared, {})
    assert outcome.rejected_by_reason() == {"out_of_range": 1, "outside_city": 1}
    assert outcome.accepted == 0


# --- conclude: rules -------------------------------------------------------------------------

def noise(device: str, level: float, ts: int):
    return reading(device, "noise", {"LAeq": level}, ts=ts)


@pytest.mark.parametrize("order", ["in_order", "reversed"])
def test_two_breaching_readings_of_one_device_in_a_batch_raise_exactly_one_alarm(run, order):
    messages = [noise("n-1", 90, NOW), noise("n-1", 95, NOW + 1000)]
    if order == "reversed":
        messages.reverse()
    prepared = run(*messages)
    outcome = conclude(prepared, answer(prepared, district="jinfeng"))
    [alarm] = outcome.raised
    assert (alarm.id, alarm.rule_id, alarm.device_id, alarm.kind) == ("n-1|noise_high", "noise_high", "n-1", "noise")
    assert alarm.district == "jinfeng"
    assert (alarm.value, alarm.raised_at) == (95, NOW + 1000)
    assert outcome.cleared == []


def test_one_breaching_reading_per_device_raises_nothing(run):
    prepared = run(noise("n-1", 90, NOW), noise("n-2", 90, NOW + 1000))
    assert conclude(prepared, answer(prepared)).raised == []


def test_rules_continue_from_the_stored_state(run):
    prepared = run(noise("n-1", 90, NOW))
    stored = {"n-1": {"noise_high": RuleState(1, 0, False, NOW - 1000, 0)}}
    [alarm] = conclude(prepared, answer(prepared, states=stored)).raised
    assert alarm.raised_at == NOW


def test_a_safe_reading_clears_a_stored_active_alarm(run):
    prepared = run(noise("n-1", 60, NOW))
    stored = {"n-1": {"noise_high": RuleState(2, 0, True, NOW - 1000, NOW - 2000)}}
    outcome = conclude(prepared, answer(prepared, states=stored))
    [(alarm, value, ts)] = outcome.cleared
    assert (alarm.id, value, ts) == ("n-1|noise_high", 60, NOW)
    assert outcome.raised == []


def test_rejected_readings_do_not_feed_the_rules(run):
    prepared = run(noise("n-1", 90, NOW), noise("n-1", 90, NOW + 1000), noise("n-1", 90, NOW + 2000))
    outcome = conclude(prepared, answer(prepared, "adu"))
    assert outcome.raised == []
    assert orjson.loads(outcome.rule_states[0]["n-1"]) == {"noise_high": [1, 0, 0, NOW, 0]}


def test_a_late_reading_still_feeds_the_rules(run):
    prepared = run(noise("n-1", 90, NOW), noise("n-1", 90, NOW + 1000))
    assert len(conclude(prepared, answer(prepared, "la")).raised) == 1


def test_changed_rule_states_are_returned_per_shard_as_json(run):
    devices = ["dev-0", "dev-1", "dev-5"]
    prepared = run(*(noise(d, 90, NOW) for d in devices), reading("dev-2", "parking", {"status": "free"}), shards=4)
    results = {}
    for shard in prepared.messages:
        results.update(answer(prepared, shard=shard))
    outcome = conclude(prepared, results)
    assert outcome.rule_states == {
        shard_of(d, 4): {d: json.dumps({"noise_high": [1, 0, 0, NOW, 0]}, separators=(",", ":"))} for d in devices
    }


def test_unchanged_rule_states_are_not_written_back(run):
    prepared = run(noise("n-1", 90, NOW - 1000))
    stored = {"n-1": {"noise_high": RuleState(1, 0, False, NOW, 0)}}  # the reading is older
    outcome = conclude(prepared, answer(prepared, states=stored))
    assert outcome.rule_states == {}
    assert outcome.raised == []


def test_rule_states_of_other_rules_are_kept_when_one_changes(run):
    prepared = run(reading("m-1", "manhole", {"tilt": 30}))
    stored = {"m-1": {"manhole_displaced": RuleState(2, 0, True, NOW - 5000, NOW - 6000)}}
    outcome = conclude(prepared, answer(prepared, states=stored))
    assert orjson.loads(outcome.rule_states[0]["m-1"]) == {
        "manhole_displaced": [2, 0, 1, NOW - 5000, NOW - 6000],
        "manhole_tilt": [1, 0, 0, NOW, 0],
    }
