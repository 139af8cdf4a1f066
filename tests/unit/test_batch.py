"""Specification of one ingest batch without I/O (ioc.ingest.batch): `prepare` turns raw MQTT
messages into the store script's items (special items and plain readings per shard) after the
per-device rate limit, `conclude` turns the script's verdicts into rejections, counters, rollup
sums, rule states and alarm changes, and `RollupBuffer` sums the rollups of several batches.
The store is replaced by hand-made ShardResults."""

from __future__ import annotations

import json

import orjson
import pytest

from ioc.adapters.redis_keys import shard_of
from ioc.adapters.telemetry_store import ShardResult
from ioc.domain.rules import RuleState
from ioc.domain.telemetry import Limits
from ioc.ingest.batch import RollupBuffer, conclude, prepare
from ioc.ingest.rate_limit import DeviceRateLimit

NOW = 1_746_000_000_000  # a whole minute: 2025-04-30T08:00:00Z
MINUTE = NOW // 60_000
LIMITS = Limits()
DAXIN = (120.545, 31.962)  # (lon, lat) of Daxin's seat, inside the city
OUTSIDE = (120.0, 31.0)    # far south-west of the city


def raw(topic: str, obj, received_ms: int = NOW) -> tuple[str, bytes, int]:
    return topic, json.dumps(obj).encode(), received_ms


def reading(device: str, kind: str, values: dict, ts=NOW, at=None, received_ms: int = NOW) -> tuple[str, bytes, int]:
    obj = {"ts": ts, **values}
    if at:
        obj.update(lon=at[0], lat=at[1])
    return raw(f"ioc/v1/{kind}/{device}/telemetry", obj, received_ms)


def birth(device: str, kind: str, at=DAXIN, **fields) -> tuple[str, bytes, int]:
    obj = {"state": "online", **fields}
    if at:
        obj.update(lon=at[0], lat=at[1])
    return raw(f"ioc/v1/{kind}/{device}/status", obj)


def noise(device: str, level: float, ts: int = NOW):
    return reading(device, "noise", {"LAeq": level}, ts=ts)


@pytest.fixture
def run(city):
    """prepare() against the real city map, one shard and no rate limit unless told otherwise."""
    def run(*messages, shards: int = 1, rate_limit: DeviceRateLimit | None = None):
        return prepare(list(messages), city, shards, LIMITS, rate_limit)
    return run


def answer(prepared, verdicts: str | None = None, district: str = "daxin", states: dict | None = None,
           shard: int = 0) -> dict[int, ShardResult]:
    """What the store script would answer for one shard: a verdict and district per item (specials
    first, then plain readings) and the stored rule states (`states`: device -> {rule id:
    RuleState}) of the devices that have one."""
    n = len(prepared.per_shard[shard].messages())
    stored = {device: orjson.dumps({rid: s.to_list() for rid, s in rules.items()}).decode()
              for device, rules in (states or {}).items()}
    return {shard: ShardResult(verdicts or "a" * n, [district] * n, stored)}


def answer_all(prepared, verdicts: str | None = None, district: str = "daxin") -> dict[int, ShardResult]:
    results = {}
    for shard in prepared.per_shard:
        results.update(answer(prepared, verdicts, district, shard=shard))
    return results


def specials(prepared, shard: int = 0) -> list[list]:
    return prepared.per_shard[shard].specials


def plain(prepared, shard: int = 0) -> list[list]:
    """The shard's plain readings, four strings each: device, ts, latest JSON, rules flag."""
    args = prepared.per_shard[shard].plain
    return [list(args[i:i + 4]) for i in range(0, len(args), 4)]


def devices_in_verdict_order(prepared, shard: int = 0) -> list[str]:
    return [message.device_id for message, _, _ in prepared.per_shard[shard].messages()]


# --- prepare: locating -----------------------------------------------------------------------

def test_a_located_birth_gets_its_district_and_cell(run, city):
    prepared = run(birth("sl-1", "streetlight", name="Lamp 1", model="SL-2"))
    [item] = specials(prepared)
    assert item == ["s", "sl-1", "streetlight", "online", "daxin", DAXIN[0], DAXIN[1],
                    city.cell_at(*DAXIN), "Lamp 1", '{"model":"SL-2"}', NOW]  # NOW: when it arrived (the registry stream's `at`)
    assert item[7]


def test_an_offline_last_will_without_location_has_no_district(run):
    [item] = specials(run(raw("ioc/v1/noise/n-1/status", {"state": "offline"})))
    assert item == ["s", "n-1", "noise", "offline", "", 0.0, 0.0, "", "", "{}", NOW]


def test_a_located_reading_is_a_special_item_with_its_district_cell_and_latest_state(run, city):
    [item] = specials(run(reading("n-1", "noise", {"LAeq": 50}, ts=NOW - 5, at=DAXIN)))
    assert item[:8] == ["t", "n-1", "noise", NOW - 5, "daxin", DAXIN[0], DAXIN[1], city.cell_at(*DAXIN)]
    assert orjson.loads(item[8]) == {"ts": NOW - 5, "LAeq": 50}
    assert item[9] == 1


def test_an_unlocated_reading_is_a_plain_reading_that_leaves_the_district_to_the_store(run):
    prepared = run(reading("n-1", "noise", {"LAeq": 55.5}, ts=NOW - 5))
    assert specials(prepared) == []
    [(device, ts, latest, flag)] = plain(prepared)
    assert (device, ts, flag) == ("n-1", NOW - 5, "1")
    assert orjson.loads(latest) == {"ts": NOW - 5, "LAeq": 55.5}


def test_an_unlocated_reading_with_an_iso_timestamp_is_a_plain_reading_in_epoch_ms(run):
    [(device, ts, latest, _)] = plain(run(reading("n-1", "noise", {"LAeq": 50}, ts="2025-04-30T08:00:00Z")))
    assert (device, ts) == ("n-1", NOW)
    assert orjson.loads(latest) == {"ts": NOW, "LAeq": 50}


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
    assert prepared.per_shard == {}


def test_parse_rejections_are_collected_and_not_sent_to_the_store(run):
    bad = raw("ioc/v1/noise/n-1/telemetry", {"LAeq": "loud"})
    prepared = run(bad, noise("n-2", 50))
    assert [(r.reason, r.payload) for r in prepared.rejections] == [("wrong_type", bad[1])]
    assert [p[0] for p in plain(prepared)] == ["n-2"]
    assert devices_in_verdict_order(prepared) == ["n-2"]


# --- prepare: items ----------------------------------------------------------------------------

def test_births_and_located_readings_are_special_and_the_rest_plain(run):
    prepared = run(
        noise("n-1", 50),
        birth("n-2", "noise"),
        reading("n-3", "noise", {"LAeq": 50}, at=DAXIN),
        raw("ioc/v1/noise/n-4/status", {"state": "offline"}),
        noise("n-5", 50),
    )
    assert [item[1] for item in specials(prepared)] == ["n-2", "n-3", "n-4"]
    assert [p[0] for p in plain(prepared)] == ["n-1", "n-5"]


def test_the_verdict_order_is_specials_first_then_plain_readings_each_in_arrival_order(run):
    messages = [noise("n-1", 50), birth("n-2", "noise"), noise("n-3", 50), birth("n-4", "noise")]
    prepared = run(*messages)
    assert devices_in_verdict_order(prepared) == ["n-2", "n-4", "n-1", "n-3"]
    assert [(topic, payload) for _, topic, payload in prepared.per_shard[0].messages()] == \
        [messages[i][:2] for i in (1, 3, 0, 2)]


def test_messages_are_grouped_per_shard_in_arrival_order(run):
    messages = [noise(f"dev-{i}", 50 + i) for i in range(8)]
    prepared = run(*messages, shards=4)
    assert len(prepared.per_shard) > 1
    for shard in prepared.per_shard:
        expected = [f"dev-{i}" for i in range(8) if shard_of(f"dev-{i}", 4) == shard]
        assert devices_in_verdict_order(prepared, shard) == expected
        assert [p[0] for p in plain(prepared, shard)] == expected
        assert all(payload == messages[int(m.device_id[4:])][1] for m, _, payload in prepared.per_shard[shard].messages())


def test_store_items_give_each_shard_its_special_items_and_flat_plain_args(run):
    prepared = run(birth("dev-0", "noise"), noise("dev-0", 50), noise("dev-1", 51), shards=4)
    items = prepared.store_items()
    assert set(items) == {shard_of("dev-0", 4), shard_of("dev-1", 4)}
    for shard, (special_items, plain_args) in items.items():
        assert special_items is specials(prepared, shard)
        assert plain_args is prepared.per_shard[shard].plain
        assert len(plain_args) % 4 == 0


@pytest.mark.parametrize("kind, values, flag", [
    ("noise", {"LAeq": 50}, 1), ("parking", {"status": "free"}, 0), ("platform", {"calls": 3}, 1),
])
def test_a_reading_asks_for_rule_states_only_when_its_kind_has_rules(run, kind, values, flag):
    [(_, _, _, plain_flag)] = plain(run(reading("d-1", kind, values)))
    [item] = specials(run(reading("d-2", kind, values, at=DAXIN)))
    assert (plain_flag, item[9]) == (str(flag), flag)


def test_special_items_are_json_serialisable_for_the_script(run):
    prepared = run(birth("sl-1", "streetlight"), reading("sl-1", "streetlight", {"status": "ok"}, at=DAXIN))
    assert orjson.loads(orjson.dumps(specials(prepared))) == specials(prepared)


# --- prepare: the per-device rate limit ------------------------------------------------------

def flood(device: str, n: int, received_ms: int = NOW, start_ts: int = NOW - 10_000) -> list:
    return [reading(device, "noise", {"LAeq": 50}, ts=start_ts + i, received_ms=received_ms) for i in range(n)]


def test_messages_over_a_devices_rate_are_counted_not_sent_to_the_store(run):
    prepared = run(*flood("n-1", 6), noise("n-2", 50), rate_limit=DeviceRateLimit(3))
    assert [p[0] for p in plain(prepared)] == ["n-1"] * 3 + ["n-2"]
    assert prepared.rate_limited == 3


def test_the_first_excess_message_of_a_second_is_a_rate_limited_sample(run):
    messages = flood("n-1", 6)
    prepared = run(*messages, rate_limit=DeviceRateLimit(3))
    [sample] = prepared.rejections
    assert (sample.reason, sample.device_id, sample.topic, sample.payload, sample.received_ms) == \
        ("rate_limited", "n-1", messages[3][0], messages[3][1], NOW)
    assert "3" in sample.detail and "IOC_DEVICE_MAX_RATE" in sample.detail


def test_each_second_has_its_own_allowance_and_its_own_sample(run):
    prepared = run(*flood("n-1", 4, received_ms=NOW + 999), *flood("n-1", 4, received_ms=NOW + 1000, start_ts=NOW - 5000),
                   rate_limit=DeviceRateLimit(3))
    assert len(plain(prepared)) == 6
    assert prepared.rate_limited == 2
    assert [r.received_ms for r in prepared.rejections] == [NOW + 999, NOW + 1000]


def test_status_messages_count_towards_the_rate_too(run):
    prepared = run(birth("n-1", "noise"), *flood("n-1", 3), rate_limit=DeviceRateLimit(3))
    assert prepared.rate_limited == 1
    assert [item[0] for item in specials(prepared)] == ["s"]


def test_without_a_rate_limit_nothing_is_limited(run):
    prepared = run(*flood("n-1", 200))
    assert (len(plain(prepared)), prepared.rate_limited, prepared.rejections) == (200, 0, [])


def test_rate_limited_messages_are_rejected_once_each_and_only_the_sample_is_dead_lettered(run):
    prepared = run(*flood("n-1", 6), rate_limit=DeviceRateLimit(3))
    outcome = conclude(prepared, answer(prepared))
    assert (outcome.accepted, outcome.rejected) == (3, 3)
    assert outcome.rejected_by_reason() == {"rate_limited": 3}
    assert [r.reason for r in outcome.rejections] == ["rate_limited"]


# --- conclude: verdicts ----------------------------------------------------------------------

def test_verdict_u_becomes_an_unknown_device_rejection_with_the_raw_payload(run):
    message = noise("n-1", 50)
    prepared = run(message)
    outcome = conclude(prepared, answer(prepared, "u"))
    [rejection] = outcome.rejections
    assert (rejection.reason, rejection.payload, rejection.topic) == ("unknown_device", message[1], message[0])
    assert rejection.device_id == "n-1" and rejection.received_ms == NOW
    assert "lat/lon" in rejection.detail
    assert (outcome.accepted, outcome.rejected) == (0, 1)


def test_verdict_d_becomes_a_duplicate_rejection_with_the_raw_payload(run):
    message = noise("n-1", 50, ts=NOW - 7)
    prepared = run(message)
    outcome = conclude(prepared, answer(prepared, "d"))
    [rejection] = outcome.rejections
    assert (rejection.reason, rejection.payload, rejection.device_id) == ("duplicate", message[1], "n-1")
    assert str(NOW - 7) in rejection.detail


def test_verdicts_are_matched_to_specials_first_then_plain_readings(run):
    prepared = run(noise("n-1", 50), raw("ioc/v1/noise/s-1/status", {"state": "offline"}))
    outcome = conclude(prepared, answer(prepared, "ua"))
    [rejection] = outcome.rejections
    assert (rejection.reason, rejection.device_id) == ("unknown_device", "s-1")
    assert outcome.by_kind == {"noise": 1}


def test_accepted_and_late_verdicts_count_as_accepted_and_late_ones_as_late(run):
    prepared = run(
        noise("n-1", 50), noise("n-2", 50), reading("p-1", "parking", {"status": "free"}),
        birth("g-1", "gateway"), noise("n-3", 50), noise("n-4", 50),
    )
    # verdict order: g-1 (special), then n-1, n-2, p-1, n-3, n-4
    outcome = conclude(prepared, answer(prepared, "aaladu"))
    assert (outcome.accepted, outcome.late) == (4, 1)
    assert outcome.by_kind == {"noise": 2, "parking": 1, "gateway": 1}
    assert outcome.rejected_by_reason() == {"duplicate": 1, "unknown_device": 1}


def test_the_accepted_and_late_readings_are_kept_for_the_readings_stream_in_verdict_order(run):
    prepared = run(
        noise("n-1", 50), noise("n-2", 51, ts=NOW - 5), reading("p-1", "parking", {"status": "free"}),
        birth("g-1", "gateway"), noise("n-3", 52), noise("n-4", 53),
    )
    # verdict order: g-1 (a status: no reading), then n-1, n-2 (late), p-1, n-3 (duplicate), n-4 (unknown)
    outcome = conclude(prepared, answer(prepared, "aaladu"))
    assert outcome.readings == {0: [["n-1", "noise", "daxin", NOW, {"LAeq": 50}], ["n-2", "noise", "daxin", NOW - 5, {"LAeq": 51}],
                                    ["p-1", "parking", "daxin", NOW, {"status": "free"}]]}


def test_a_shard_without_an_accepted_reading_has_no_readings(run):
    prepared = run(noise("n-1", 50))
    assert conclude(prepared, answer(prepared, "d")).readings == {}


def test_prepare_rejections_are_part_of_the_outcome(run):
    prepared = run(noise("n-1", 500), reading("n-2", "noise", {"LAeq": 50}, at=OUTSIDE))
    outcome = conclude(prepared, {})
    assert outcome.rejected_by_reason() == {"out_of_range": 1, "outside_city": 1}
    assert (outcome.accepted, outcome.rejected) == (0, 2)


# --- conclude: rollups -----------------------------------------------------------------------

def test_accepted_readings_are_summed_per_minute_district_and_kind(run):
    prepared = run(noise("n-1", 50, NOW), noise("n-2", 55.5, NOW + 1000), noise("n-3", 40, NOW + 59_999))
    minutes = conclude(prepared, answer(prepared)).minutes
    assert minutes == {MINUTE: {"daxin|noise|_": [3], "daxin|noise|LAeq": [3, 145.5, 55.5]}}


def test_each_reading_goes_to_the_bucket_of_its_own_minute(run):
    prepared = run(
        noise("n-1", 50, ts=NOW - 60_000 + 1),   # previous minute
        noise("n-2", 51, ts=NOW),                # this minute
        noise("n-3", 52, ts=NOW + 59_999),       # still this minute
        birth("n-4", "noise"),
        noise("n-5", 53, ts=NOW - 1),            # previous minute again
    )
    minutes = conclude(prepared, answer(prepared)).minutes
    assert {m: fields["daxin|noise|LAeq"] for m, fields in minutes.items()} == {
        MINUTE - 1: [2, 103, 53], MINUTE: [2, 103, 52]}


def test_the_district_is_the_one_the_store_resolved(run):
    prepared = run(noise("n-1", 50))
    assert set(conclude(prepared, answer(prepared, district="jinfeng")).minutes[MINUTE]) == {
        "jinfeng|noise|_", "jinfeng|noise|LAeq"}


def test_late_readings_count_in_the_rollups_and_rejected_ones_do_not(run):
    prepared = run(noise("n-1", 50), noise("n-2", 60), noise("n-3", 70), noise("n-4", 80))
    minutes = conclude(prepared, answer(prepared, "ladu")).minutes
    assert minutes[MINUTE]["daxin|noise|LAeq"] == [2, 110, 60]


def test_births_and_status_changes_add_nothing_to_the_rollups(run):
    prepared = run(birth("n-1", "noise"), raw("ioc/v1/noise/n-2/status", {"state": "offline"}))
    assert conclude(prepared, answer(prepared)).minutes == {}


def test_readings_of_all_shards_are_summed_into_one_bucket(run):
    devices = [f"dev-{i}" for i in range(8)]
    prepared = run(*(noise(d, 50) for d in devices), shards=4)
    assert len(prepared.per_shard) > 1
    minutes = conclude(prepared, answer_all(prepared)).minutes
    assert minutes[MINUTE]["daxin|noise|LAeq"] == [8, 400, 50]


@pytest.mark.parametrize("kind, values, fields", [
    ("noise", {"LAeq": 55.5, "LAmax": 70}, {"LAeq": [1, 55.5, 55.5], "LAmax": [1, 70, 70]}),
    ("traffic", {"intensity": 12, "congested": True}, {"intensity": [1, 12, 12], "congested=true": [1]}),
    ("crowd", {"congested": False}, {"congested=false": [1]}),
    ("streetlight", {"powerState": "on", "status": "ok", "illuminanceLevel": 0.5},
     {"illuminanceLevel": [1, 0.5, 0.5], "powerState=on": [1], "status=ok": [1]}),
    ("parking", {"status": "free"}, {"status=free": [1]}),
])
def test_numbers_are_summed_and_maxed_and_the_other_values_counted_per_value(run, kind, values, fields):
    prepared = run(reading("d-1", kind, values))
    bucket = conclude(prepared, answer(prepared)).minutes[MINUTE]
    assert bucket == {f"daxin|{kind}|_": [1], **{f"daxin|{kind}|{name}": cell for name, cell in fields.items()}}


def test_category_counts_add_up_per_value(run):
    prepared = run(*(reading(f"p-{i}", "parking", {"status": s}) for i, s in enumerate(["free", "occupied", "free"])))
    bucket = conclude(prepared, answer(prepared)).minutes[MINUTE]
    assert (bucket["daxin|parking|status=free"], bucket["daxin|parking|status=occupied"]) == ([2], [1])


# --- the rollup buffer -------------------------------------------------------------------------

def test_the_buffer_sums_the_minute_buckets_of_several_batches():
    buffer = RollupBuffer()
    buffer.add({MINUTE: {"a|noise|_": [1], "a|noise|LAeq": [1, 50, 50]}})
    buffer.add({MINUTE: {"a|noise|_": [2], "a|noise|LAeq": [2, 130, 70]}, MINUTE + 1: {"a|noise|_": [1]}})
    minutes, _ = buffer.buckets()
    assert minutes == {MINUTE: {"a|noise|_": [3], "a|noise|LAeq": [3, 180, 70]}, MINUTE + 1: {"a|noise|_": [1]}}


def test_the_buffer_keeps_the_larger_maximum():
    buffer = RollupBuffer()
    buffer.add({MINUTE: {"a|noise|LAeq": [1, 90, 90]}})
    buffer.add({MINUTE: {"a|noise|LAeq": [1, 40, 40]}})
    assert buffer.buckets()[0][MINUTE]["a|noise|LAeq"] == [2, 130, 90]


def test_the_minutes_of_one_hour_merge_into_its_hour_bucket():
    hour = MINUTE // 60
    buffer = RollupBuffer()
    buffer.add({
        hour * 60: {"a|noise|LAeq": [1, 50, 50], "a|parking|status=free": [2]},
        hour * 60 + 59: {"a|noise|LAeq": [2, 150, 80], "a|parking|status=free": [1]},
        hour * 60 + 60: {"a|noise|LAeq": [1, 10, 10]},
    })
    _, hours = buffer.buckets()
    assert hours == {
        hour: {"a|noise|LAeq": [3, 200, 80], "a|parking|status=free": [3]},
        hour + 1: {"a|noise|LAeq": [1, 10, 10]},
    }


def test_the_buffer_never_changes_the_batches_it_was_given():
    batch = {MINUTE: {"a|noise|LAeq": [1, 50, 50]}}
    buffer = RollupBuffer()
    buffer.add(batch)
    buffer.add(batch)
    buffer.buckets()
    assert batch == {MINUTE: {"a|noise|LAeq": [1, 50, 50]}}
    assert buffer.buckets()[0] == {MINUTE: {"a|noise|LAeq": [2, 100, 50]}}


def test_a_cleared_buffer_is_empty_and_false():
    buffer = RollupBuffer()
    assert not buffer
    buffer.add({MINUTE: {"a|noise|_": [1]}})
    assert buffer
    buffer.clear()
    assert not buffer and buffer.buckets() == ({}, {})


def test_the_buffer_sums_the_outcomes_of_concluded_batches(run):
    buffer = RollupBuffer()
    for level in (50, 70):
        prepared = run(noise("n-1", level))
        buffer.add(conclude(prepared, answer(prepared)).minutes)
    minutes, hours = buffer.buckets()
    assert minutes[MINUTE]["daxin|noise|LAeq"] == hours[MINUTE // 60]["daxin|noise|LAeq"] == [2, 120, 70]


# --- conclude: rules -------------------------------------------------------------------------

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


def test_late_readings_do_not_drive_the_rules(run):
    prepared = run(noise("n-1", 90, NOW), noise("n-1", 90, NOW + 1000))
    outcome = conclude(prepared, answer(prepared, "la"))
    assert outcome.raised == []
    assert orjson.loads(outcome.rule_states[0]["n-1"]) == {"noise_high": [1, 0, 0, NOW + 1000, 0]}


def test_a_late_safe_reading_does_not_clear_an_active_alarm(run):
    prepared = run(noise("n-1", 60, NOW - 5000))
    stored = {"n-1": {"noise_high": RuleState(2, 0, True, NOW - 1000, NOW - 2000)}}
    outcome = conclude(prepared, answer(prepared, "l", states=stored))
    assert (outcome.cleared, outcome.rule_states, outcome.quiet_devices) == ([], {}, {})


def test_changed_rule_states_are_returned_per_shard_as_json(run):
    devices = ["dev-0", "dev-1", "dev-5"]
    prepared = run(*(noise(d, 90, NOW) for d in devices), reading("dev-2", "parking", {"status": "free"}), shards=4)
    outcome = conclude(prepared, answer_all(prepared))
    assert outcome.rule_states == {
        shard_of(d, 4): {d: json.dumps({"noise_high": [1, 0, 0, NOW, 0]}, separators=(",", ":"))} for d in devices
    }


def test_unchanged_rule_states_are_not_written_back(run):
    prepared = run(noise("n-1", 90, NOW - 1000))
    stored = {"n-1": {"noise_high": RuleState(1, 0, False, NOW, 0)}}  # the reading is older
    outcome = conclude(prepared, answer(prepared, states=stored))
    assert (outcome.rule_states, outcome.quiet_devices, outcome.raised) == ({}, {}, [])


def test_rule_states_of_other_rules_are_kept_when_one_changes(run):
    prepared = run(reading("m-1", "manhole", {"tilt": 30}))
    stored = {"m-1": {"manhole_displaced": RuleState(2, 0, True, NOW - 5000, NOW - 6000)}}
    outcome = conclude(prepared, answer(prepared, states=stored))
    assert orjson.loads(outcome.rule_states[0]["m-1"]) == {
        "manhole_displaced": [2, 0, 1, NOW - 5000, NOW - 6000],
        "manhole_tilt": [1, 0, 0, NOW, 0],
    }


# --- conclude: quiet rule states ---------------------------------------------------------------

def test_a_device_without_a_stored_state_whose_reading_breaches_nothing_writes_nothing(run):
    prepared = run(noise("n-1", 50), noise("n-1", 60, NOW + 1000))
    outcome = conclude(prepared, answer(prepared))
    assert (outcome.rule_states, outcome.quiet_devices, outcome.raised, outcome.cleared) == ({}, {}, [], [])


def test_a_breach_that_subsides_within_the_batch_leaves_no_state_behind(run):
    prepared = run(noise("n-1", 90, NOW), noise("n-1", 50, NOW + 1000))
    outcome = conclude(prepared, answer(prepared))
    assert (outcome.rule_states, outcome.quiet_devices, outcome.raised) == ({}, {}, [])


def test_a_quiet_reading_after_a_breach_in_the_batch_still_resets_the_count(run):
    prepared = run(noise("n-1", 50, NOW), noise("n-1", 90, NOW + 1000), noise("n-1", 50, NOW + 2000),
                   noise("n-1", 90, NOW + 3000))
    outcome = conclude(prepared, answer(prepared))
    assert outcome.raised == []
    assert orjson.loads(outcome.rule_states[0]["n-1"]) == {"noise_high": [1, 0, 0, NOW + 3000, 0]}


def test_a_stored_state_that_becomes_quiet_is_dropped(run):
    prepared = run(noise("n-1", 50))
    stored = {"n-1": {"noise_high": RuleState(1, 0, False, NOW - 1000, 0)}}
    outcome = conclude(prepared, answer(prepared, states=stored))
    assert outcome.quiet_devices == {0: ["n-1"]}
    assert outcome.rule_states == {}


def test_a_cleared_alarm_drops_the_stored_state(run):
    prepared = run(noise("n-1", 60))
    stored = {"n-1": {"noise_high": RuleState(2, 0, True, NOW - 1000, NOW - 2000)}}
    outcome = conclude(prepared, answer(prepared, states=stored))
    assert len(outcome.cleared) == 1
    assert (outcome.quiet_devices, outcome.rule_states) == ({0: ["n-1"]}, {})


def test_only_the_rules_that_are_not_quiet_are_stored(run):
    prepared = run(reading("m-1", "manhole", {"tilt": 5, "displaced": True}))
    stored = {"m-1": {"manhole_displaced": RuleState(2, 0, True, NOW - 5000, NOW - 6000),
                      "manhole_tilt": RuleState(1, 0, False, NOW - 5000, 0)}}
    outcome = conclude(prepared, answer(prepared, states=stored))
    assert orjson.loads(outcome.rule_states[0]["m-1"]) == {"manhole_displaced": [3, 0, 1, NOW, NOW - 6000]}
    assert outcome.quiet_devices == {}


def test_quiet_devices_are_listed_per_shard(run):
    devices = ["dev-0", "dev-1", "dev-5"]
    prepared = run(*(noise(d, 50) for d in devices), shards=4)
    results = {}
    for shard in prepared.per_shard:
        on_shard = [d for d in devices if shard_of(d, 4) == shard]
        results.update(answer(prepared, shard=shard,
                              states={d: {"noise_high": RuleState(1, 0, False, NOW - 1000, 0)} for d in on_shard}))
    assert conclude(prepared, results).quiet_devices == {shard_of(d, 4): [d] for d in devices}
