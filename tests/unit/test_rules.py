"""Specification of the threshold rules (ioc.domain.rules): raise after consecutive breaches,
clear with hysteresis, ignore stale samples, and a catalog of rules consistent with the kinds."""

from __future__ import annotations

import pytest

from ioc.domain.kinds import KINDS
from ioc.domain.rules import RULES, RULES_BY_ID, Rule, RuleState, evaluate, rules_for, step

NOISE = RULES_BY_ID["noise_high"]           # LAeq > 85, clears below 80
JAM = RULES_BY_ID["traffic_jam"]            # averageVehicleSpeed < 10, clears above 15
LAMP = RULES_BY_ID["streetlight_fault"]     # status != "ok"
MANHOLE = RULES_BY_ID["manhole_displaced"]  # displaced == True


def feed(rule: Rule, values, state: RuleState = RuleState(), start_ts: int | None = None):
    """Feed values 1 s apart, after the state's last sample (or from ts 1000); return the final
    state and the transition kinds in order."""
    if start_ts is None:
        start_ts = state.last_ts + 1000 if state.last_ts else 1000
    transitions = []
    for i, value in enumerate(values):
        state, t = step(rule, state, value, start_ts + i * 1000)
        if t:
            transitions.append(t.kind)
    return state, transitions


def active(rule: Rule, breach, ts: int = 10_000) -> RuleState:
    state, transitions = feed(rule, [breach] * rule.for_samples, start_ts=ts - rule.for_samples * 1000)
    assert transitions == ["raised"] and state.active
    return state


# Per rule family: a breaching value, a value inside the hysteresis band (or None) and a safe one.
FAMILIES = {
    "above": (NOISE, 90, 82, 70),
    "below": (JAM, 5, 12, 40),
    "not_equal": (LAMP, "defectiveLamp", None, "ok"),
    "equal": (MANHOLE, True, None, False),
}


@pytest.fixture(params=sorted(FAMILIES))
def family(request):
    return FAMILIES[request.param]


# --- raising ---------------------------------------------------------------------------------

def test_a_single_breaching_sample_does_not_raise(family):
    rule, breach, _, _ = family
    state, transitions = feed(rule, [breach])
    assert transitions == []
    assert state.breaching == 1 and not state.active


def test_two_consecutive_breaching_samples_raise(family):
    rule, breach, _, _ = family
    state, transitions = feed(rule, [breach, breach])
    assert transitions == ["raised"]
    assert state.active and state.since == 2000


def test_the_raised_transition_carries_rule_value_and_ts():
    _, t1 = step(NOISE, RuleState(), 90, 1000)
    _, t2 = step(NOISE, RuleState(1, 0, False, 1000, 0), 95, 2000)
    assert t1 is None
    assert (t2.kind, t2.rule, t2.value, t2.ts) == ("raised", NOISE, 95, 2000)


def test_a_non_breaching_sample_in_between_resets_the_count(family):
    rule, breach, _, safe = family
    state, transitions = feed(rule, [breach, safe, breach])
    assert transitions == []
    assert state.breaching == 1


def test_a_sample_in_the_band_also_resets_the_count_before_an_alarm():
    state, transitions = feed(NOISE, [90, 82, 90])
    assert transitions == [] and state.breaching == 1


def test_a_value_equal_to_a_strict_threshold_does_not_breach():
    assert feed(NOISE, [85, 85, 85])[1] == []
    assert feed(JAM, [10, 10, 10])[1] == []


def test_a_value_equal_to_an_inclusive_threshold_breaches():
    rule = RULES_BY_ID["water_level_warning"]  # >= 4.2
    assert feed(rule, [4.2, 4.2])[1] == ["raised"]


def test_an_active_alarm_is_not_raised_again_while_breaching(family):
    rule, breach, _, _ = family
    _, transitions = feed(rule, [breach] * 6)
    assert transitions == ["raised"]


def test_a_rule_needing_more_samples_waits_for_them():
    rule = Rule("slow", "noise", "LAeq", ">", 85, "minor", "慢", "slow", 80, for_samples=3)
    assert feed(rule, [90, 90])[1] == []
    assert feed(rule, [90, 90, 90])[1] == ["raised"]


# --- clearing --------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, breach, band", [(NOISE, 90, 82), (JAM, 5, 12)], ids=["above", "below"])
def test_an_active_alarm_does_not_clear_inside_the_hysteresis_band(rule, breach, band):
    state, transitions = feed(rule, [band] * 5, state=active(rule, breach))
    assert transitions == []
    assert state.active


@pytest.mark.parametrize("rule, breach, band_edge", [(NOISE, 90, 80), (JAM, 5, 15)], ids=["above", "below"])
def test_a_sample_exactly_at_clear_does_not_clear(rule, breach, band_edge):
    _, transitions = feed(rule, [band_edge], state=active(rule, breach))
    assert transitions == []


def test_an_active_alarm_clears_on_the_safe_side(family):
    rule, breach, _, safe = family
    state, transitions = feed(rule, [safe], state=active(rule, breach))
    assert transitions == ["cleared"]
    assert state == RuleState(0, 0, False, 10_000, 0)


def test_the_cleared_transition_carries_the_clearing_value_and_ts():
    _, t = step(NOISE, active(NOISE, 90), 70, 20_000)
    assert (t.kind, t.rule, t.value, t.ts) == ("cleared", NOISE, 70, 20_000)


@pytest.mark.parametrize("rule, breach, safe", [(NOISE, 90, 79.9), (JAM, 5, 15.1)], ids=["above", "below"])
def test_just_past_clear_clears(rule, breach, safe):
    assert feed(rule, [safe], state=active(rule, breach))[1] == ["cleared"]


def test_the_alarm_can_be_raised_again_after_clearing(family):
    rule, breach, _, safe = family
    _, transitions = feed(rule, [breach, breach, safe, breach, breach])
    assert transitions == ["raised", "cleared", "raised"]


def test_a_rule_needing_several_clearing_samples_waits_for_them():
    rule = Rule("sticky", "noise", "LAeq", ">", 85, "minor", "粘", "sticky", 80, clear_samples=2)
    state, transitions = feed(rule, [70], state=active(rule, 90))
    assert transitions == [] and state.active and state.clearing == 1
    assert feed(rule, [70, 70], state=active(rule, 90))[1] == ["cleared"]


def test_a_breach_between_clearing_samples_restarts_the_clearing_count():
    rule = Rule("sticky", "noise", "LAeq", ">", 85, "minor", "粘", "sticky", 80, clear_samples=2)
    state, transitions = feed(rule, [70, 90, 70], state=active(rule, 90))
    assert transitions == [] and state.active and state.clearing == 1


@pytest.mark.parametrize("rule, values, expected", [
    (LAMP, ["defectiveLamp", "brokenLantern"], ["raised"]),
    (LAMP, ["columnIssue", "columnIssue", "ok"], ["raised", "cleared"]),
    (MANHOLE, [True, True], ["raised"]),
    (MANHOLE, [True, True, False], ["raised", "cleared"]),
    (MANHOLE, [False, False, False], []),
    (LAMP, ["ok", "ok"], []),
])
def test_equality_rules_raise_and_clear(rule, values, expected):
    assert feed(rule, values)[1] == expected


# --- stale samples ---------------------------------------------------------------------------

@pytest.mark.parametrize("delta", [0, -1, -5000])
def test_a_sample_not_newer_than_the_last_is_ignored(family, delta):
    rule, breach, _, _ = family
    state, _ = step(rule, RuleState(), breach, 10_000)
    after, transition = step(rule, state, breach, 10_000 + delta)
    assert transition is None
    assert after == state


def test_a_stale_safe_sample_does_not_clear_an_active_alarm(family):
    rule, breach, _, safe = family
    state = active(rule, breach, ts=10_000)
    assert step(rule, state, safe, 5_000) == (state, None)


# --- evaluate --------------------------------------------------------------------------------

def test_evaluate_runs_every_rule_of_the_kind():
    states = {}
    for ts in (1000, 2000):
        changed, transitions = evaluate("air_quality", {"airQualityIndex": 350}, ts, states)
        states.update(changed)
    assert set(changed) == {"aqi_heavy", "aqi_severe"}
    assert sorted(t.rule.id for t in transitions) == ["aqi_heavy", "aqi_severe"]


def test_evaluate_skips_rules_whose_attribute_is_absent():
    changed, transitions = evaluate("manhole", {"tilt": 30}, 1000, {})
    assert set(changed) == {"manhole_tilt"}
    assert transitions == []


def test_evaluate_ignores_other_kinds_rules():
    changed, transitions = evaluate("noise", {"LAeq": 90, "airQualityIndex": 400}, 1000, {})
    assert set(changed) == {"noise_high"}


def test_evaluate_of_a_kind_without_rules_changes_nothing():
    assert evaluate("parking", {"status": "occupied"}, 1000, {}) == ({}, [])


def test_evaluate_starts_from_the_given_states_and_does_not_mutate_them():
    states = {"noise_high": RuleState(1, 0, False, 1000, 0)}
    changed, transitions = evaluate("noise", {"LAeq": 90}, 2000, states)
    assert [t.kind for t in transitions] == ["raised"]
    assert changed["noise_high"].active
    assert states == {"noise_high": RuleState(1, 0, False, 1000, 0)}


def test_evaluate_reports_only_states_that_changed():
    states = {"noise_high": RuleState(1, 0, False, 5000, 0)}
    assert evaluate("noise", {"LAeq": 90}, 4000, states) == ({}, [])


def test_rules_for_lists_the_rules_of_one_kind_in_catalog_order():
    assert rules_for("water_level") == (RULES_BY_ID["water_level_warning"], RULES_BY_ID["water_level_danger"])
    assert rules_for("gateway") == ()


# --- RuleState -------------------------------------------------------------------------------

@pytest.mark.parametrize("state", [
    RuleState(),
    RuleState(3, 0, True, 1_746_000_000_000, 1_745_999_000_000),
    RuleState(0, 2, True, 5, 1),
])
def test_rule_state_round_trips_through_a_list(state):
    assert RuleState.from_list(state.to_list()) == state


def test_rule_state_list_is_json_friendly():
    assert RuleState(1, 0, True, 10, 9).to_list() == [1, 0, 1, 10, 9]


def test_rule_state_from_list_coerces_types():
    assert RuleState.from_list(["2", "0", 1, "10", "0"]) == RuleState(2, 0, True, 10, 0)


# --- Rule construction -----------------------------------------------------------------------

def make_rule(**changes) -> Rule:
    base = dict(id="r", kind="noise", attribute="LAeq", op=">", threshold=85, severity="minor",
                name_zh="规则", name_en="rule", clear=80)
    return Rule(**{**base, **changes})


@pytest.mark.parametrize("for_samples", [1, 0, -1])
def test_a_rule_firing_on_fewer_than_two_samples_is_refused(for_samples):
    with pytest.raises(ValueError, match="two samples"):
        make_rule(for_samples=for_samples)


@pytest.mark.parametrize("op, threshold, clear", [
    (">", 85, 85), (">", 85, 90), (">=", 85, 86), ("<", 10, 10), ("<", 10, 5), ("<=", 10, 9),
])
def test_a_clear_bound_on_the_breaching_side_is_refused(op, threshold, clear):
    with pytest.raises(ValueError, match="clear must be"):
        make_rule(op=op, threshold=threshold, clear=clear)


def test_an_unknown_severity_is_refused():
    with pytest.raises(ValueError, match="severity"):
        make_rule(severity="urgent")


@pytest.mark.parametrize("op, threshold, clear", [(">", 85, 80), ("<=", 10, 15), (">", 85, None), ("==", True, None)])
def test_consistent_rules_are_built(op, threshold, clear):
    assert make_rule(op=op, threshold=threshold, clear=clear).op == op


def test_an_unknown_operator_fails_loudly():
    with pytest.raises(ValueError):
        make_rule(op="~=").breaches(1)


# --- the catalog -----------------------------------------------------------------------------

@pytest.fixture(params=RULES, ids=lambda r: r.id)
def rule(request) -> Rule:
    return request.param


def test_rule_ids_are_unique():
    assert len(RULES_BY_ID) == len(RULES)


def test_every_rule_watches_an_attribute_of_an_existing_kind(rule):
    assert rule.kind in KINDS
    assert KINDS[rule.kind].telemetry
    assert KINDS[rule.kind].attribute(rule.attribute) is not None


def test_every_rule_threshold_is_reachable_for_its_attribute(rule):
    attr = KINDS[rule.kind].attribute(rule.attribute)
    if attr.is_numeric:
        assert rule.op in (">", ">=", "<", "<=")
        assert attr.minimum <= rule.threshold <= attr.maximum
        if rule.clear is not None:
            assert attr.minimum <= rule.clear <= attr.maximum
    elif attr.type == "enum":
        assert rule.op in ("==", "!=")
        assert rule.threshold in attr.choices
    else:
        assert attr.type == "boolean"
        assert rule.op in ("==", "!=")
        assert isinstance(rule.threshold, bool)


def test_every_numeric_rule_has_a_hysteresis_band(rule):
    if KINDS[rule.kind].attribute(rule.attribute).is_numeric:
        assert rule.clear is not None


def test_every_rule_has_both_names(rule):
    assert rule.name_zh.strip() and rule.name_en.strip()


def test_a_stricter_threshold_on_the_same_attribute_is_at_least_as_severe():
    rank = {"critical": 0, "major": 1, "minor": 2}
    groups: dict[tuple, list[Rule]] = {}
    for r in RULES:
        groups.setdefault((r.kind, r.attribute, r.op[0]), []).append(r)
    for (_, _, direction), rules in groups.items():
        strictest_last = sorted(rules, key=lambda r: r.threshold, reverse=direction == "<")
        ranks = [rank[r.severity] for r in strictest_last]
        assert ranks == sorted(ranks, reverse=True), [r.id for r in strictest_last]
