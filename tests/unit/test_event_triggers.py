"""Specification of proposals to start a linked event (ioc.domain.event_triggers): when live
data meets a plan's trigger, which level is proposed, what a dismissal holds back, and how a
proposal reads (ioc.views.proposal_text)."""

from __future__ import annotations

import pytest

from ioc.domain.access import Principal
from ioc.domain.departments import department_ids
from ioc.domain.event_triggers import (PEAK_MARGINS, Evidence, Proposal, Reading, TriggerWatch, due_proposals,
                                       lapsed_dismissals)
from ioc.domain.events import Area, cancel, start_event
from ioc.domain.plans import Level, Plan, Trigger, builtin_plans
from ioc.views.proposal_text import evidence_line, headline, proposal_words

T0 = 1_764_000_000_000
MIN = 60_000


@pytest.fixture(scope="module")
def plans(city):
    return builtin_plans(department_ids(city))


def gauge(device_id: str, district: str, level: float) -> Reading:
    return Reading(device_id, f"{district} gauge {device_id}", "water_level", district, "waterLevel", level)


def outfall(device_id: str, cod: float, district: str = "jinfeng") -> Reading:
    return Reading(device_id, f"outfall {device_id}", "water_quality", district, "cod", cod)


def one_plan(*levels: Level) -> dict[str, Plan]:
    return {"test": Plan("test", "测试", "Test", "", "", tuple(levels))}


def level(name: str, *triggers: Trigger) -> Level:
    return Level(name, tuple(triggers), ())


def watch_of(plans, plan_id: str) -> TriggerWatch:
    return TriggerWatch({plan_id: plans[plan_id]})


def flood_iv(plans, watch=None, now=T0) -> Proposal:
    """The flood IV proposal of two gauges over the warning line in two districts."""
    watch = watch or watch_of(plans, "flood")
    (proposal,) = watch.observe([gauge("g1", "yangshe", 4.32), gauge("g2", "jinfeng", 4.25)], now)
    assert proposal.id == "flood:IV"
    return proposal


# --- triggers -----------------------------------------------------------------------------------

def test_the_warning_line_in_one_district_is_not_enough_for_flood_level_iv(plans):
    watch = watch_of(plans, "flood")
    assert watch.observe([gauge("g1", "yangshe", 4.32), gauge("g2", "yangshe", 4.41)], T0) == []


def test_the_warning_line_in_two_districts_proposes_flood_level_iv_with_the_gauges_as_evidence(plans):
    proposal = flood_iv(plans)
    assert (proposal.plan, proposal.level, proposal.districts, proposal.raised_at) == ("flood", "IV", ("jinfeng", "yangshe"), T0)
    assert [(e.device_id, e.value, e.threshold, e.district) for e in proposal.evidence] == [
        ("g1", 4.32, 4.2, "yangshe"), ("g2", 4.25, 4.2, "jinfeng")]


def test_the_highest_level_met_is_proposed(plans):
    watch = watch_of(plans, "flood")
    readings = [gauge("g1", "yangshe", 4.75), gauge("g2", "jinfeng", 4.72), gauge("g3", "leyu", 4.3)]
    assert [p.id for p in watch.observe(readings, T0)] == ["flood:II"]


def test_the_evidence_lists_at_most_thirty_devices_with_every_district_but_counts_them_all(plans):
    readings = [gauge(f"g{i:02d}", "yangshe", 4.3 + i / 1000) for i in range(40)] + [gauge("g99", "leyu", 4.21)]
    (proposal,) = watch_of(plans, "flood").observe(readings, T0)
    assert len(proposal.evidence) == 30 and proposal.devices == 41 and proposal.summary()["devices"] == 41
    assert proposal.evidence[0].device_id == "g39" and proposal.evidence[-1].device_id == "g99"

def test_a_level_is_met_by_any_of_its_triggers(plans):
    watch = watch_of(plans, "flood")
    (proposal,) = watch.observe([gauge("g1", "yangshe", 4.55)], T0)  # III: ≥ 4.50 anywhere
    assert (proposal.level, proposal.trigger) == ("III", 0)


def test_cod_over_the_limit_is_proposed_only_once_it_has_lasted_the_plans_minutes(plans):
    watch = watch_of(plans, "water_pollution")  # IV: cod > 100 for 3 minutes
    for minute in range(3):
        assert watch.observe([outfall("o1", 160 if minute else 140)], T0 + minute * MIN) == []
    (proposal,) = watch.observe([outfall("o1", 130)], T0 + 3 * MIN)
    assert proposal.id == "water_pollution:IV" and proposal.evidence[0].since_ms == T0


def test_a_dip_below_the_limit_starts_the_clock_again(plans):
    watch = watch_of(plans, "water_pollution")
    watch.observe([outfall("o1", 140)], T0)
    watch.observe([outfall("o1", 95)], T0 + 1 * MIN)
    watch.observe([outfall("o1", 140)], T0 + 2 * MIN)
    assert watch.observe([outfall("o1", 140)], T0 + 4 * MIN) == []
    assert [p.id for p in watch.observe([outfall("o1", 140)], T0 + 5 * MIN)] == ["water_pollution:IV"]


def test_a_device_missing_from_an_observation_starts_its_clock_again():
    watch = TriggerWatch(one_plan(level("IV", Trigger("water_quality", "cod", ">", 100, minutes=2))))
    watch.observe([outfall("o1", 140)], T0)
    watch.observe([], T0 + MIN)
    assert watch.observe([outfall("o1", 140)], T0 + 2 * MIN) == []


def test_a_value_that_is_not_a_number_meets_no_trigger():
    watch = TriggerWatch(one_plan(level("IV", Trigger("water_quality", "cod", ">", 100))))
    readings = [outfall("o1", float("nan")), outfall("o2", True), outfall("o3", "high"), outfall("o4", None)]
    assert watch.observe(readings, T0) == []


def test_a_device_without_a_district_counts_as_a_device_but_not_as_a_district():
    watch = TriggerWatch(one_plan(level("IV", Trigger("water_quality", "cod", ">", 100, districts=2))))
    assert watch.observe([outfall("o1", 140, "jinfeng"), outfall("o2", 150, "")], T0) == []
    watch = TriggerWatch(one_plan(level("IV", Trigger("water_quality", "cod", ">", 100, devices=2))))
    assert len(watch.observe([outfall("o1", 140, "jinfeng"), outfall("o2", 150, "")], T0)) == 1


def test_a_proposal_keeps_its_raised_time_while_its_level_holds_and_takes_a_new_one_with_a_new_level(plans):
    watch = watch_of(plans, "flood")
    flood_iv(plans, watch, T0)
    assert flood_iv(plans, watch, T0 + MIN).raised_at == T0
    (higher,) = watch.observe([gauge("g1", "yangshe", 4.6), gauge("g2", "jinfeng", 4.25)], T0 + 2 * MIN)
    assert (higher.level, higher.raised_at) == ("III", T0 + 2 * MIN)


def test_when_the_conditions_end_the_plan_has_no_proposal(plans):
    watch = watch_of(plans, "flood")
    flood_iv(plans, watch)
    assert watch.observe([gauge("g1", "yangshe", 4.1), gauge("g2", "jinfeng", 4.25)], T0 + MIN) == []


def test_the_clocks_survive_a_restart_through_their_dict(plans):
    watch = watch_of(plans, "water_pollution")
    watch.observe([outfall("o1", 140)], T0)
    restarted = TriggerWatch.from_dict({"water_pollution": plans["water_pollution"]}, watch.to_dict())
    assert [p.id for p in restarted.observe([outfall("o1", 140)], T0 + 3 * MIN)] == ["water_pollution:IV"]


def test_the_watch_says_which_attributes_to_read(plans):
    assert TriggerWatch(plans).watched >= {("water_level", "waterLevel"), ("water_quality", "cod"),
                                           ("water_quality", "pH"), ("crowd", "peopleCount")}


def test_a_proposal_reads_back_from_its_dict(plans):
    proposal = flood_iv(plans)
    assert Proposal.from_dict(proposal.to_dict()) == proposal


# --- what a person sees: live events and dismissals ---------------------------------------------

DISPATCHER = Principal("li", frozenset({"dispatcher"}), display_name="李娜")


def live_event(plans, level_: str, now=T0):
    return start_event(event_id="EV-20251124-001", plan=plans["flood"], level=level_, title="", now_ms=now,
                       area=Area("district", district="yangshe"), district="yangshe", commander=DISPATCHER)


def test_a_live_event_at_a_higher_level_suppresses_the_proposal(plans):
    assert due_proposals([flood_iv(plans)], [live_event(plans, "III")], {}) == []


def test_a_live_event_at_the_same_level_suppresses_the_proposal(plans):
    assert due_proposals([flood_iv(plans)], [{"plan": "flood", "level": "IV", "status": "responding"}], {}) == []


def test_a_live_event_at_a_lower_level_leaves_the_escalation_proposed(plans):
    proposal = flood_iv(plans)
    assert due_proposals([proposal], [{"plan": "crowd", "level": "I", "status": "active"}], {}) == [proposal]
    higher = Proposal.from_dict({**proposal.to_dict(), "id": "flood:III", "level": "III"})
    assert due_proposals([higher], [{"plan": "flood", "level": "IV", "status": "contained"}], {}) == [higher]


def test_a_cancelled_event_suppresses_nothing(plans):
    ended = cancel(live_event(plans, "II"), "误报", DISPATCHER, T0 + MIN)
    proposal = flood_iv(plans)
    assert due_proposals([proposal], [ended], {}) == [proposal]


def test_a_dismissed_proposal_is_not_raised_again_for_the_same_evidence(plans):
    proposal = flood_iv(plans)
    assert due_proposals([proposal], [], {proposal.id: proposal.summary()}) == []


def test_a_dismissed_proposal_is_not_raised_again_for_weaker_evidence(plans):
    watch = watch_of(plans, "flood")
    dismissed = {"flood:IV": watch.observe([gauge("g1", "yangshe", 4.45), gauge("g2", "jinfeng", 4.3),
                                            gauge("g3", "jinfeng", 4.3)], T0)[0].summary()}
    weaker = watch.observe([gauge("g1", "yangshe", 4.25), gauge("g2", "jinfeng", 4.22)], T0 + MIN)
    assert due_proposals(weaker, [], dismissed) == []


def test_a_dismissed_proposal_is_raised_again_when_more_districts_are_over_the_line(plans):
    watch = watch_of(plans, "flood")
    dismissed = {"flood:IV": flood_iv(plans, watch).summary()}
    worse = watch.observe([gauge("g1", "yangshe", 4.32), gauge("g2", "jinfeng", 4.25), gauge("g3", "leyu", 4.21)], T0 + MIN)
    assert [p.id for p in due_proposals(worse, [], dismissed)] == ["flood:IV"]


def test_a_dismissed_proposal_is_raised_again_when_a_district_not_in_its_evidence_is_over_the_line(plans):
    watch = watch_of(plans, "flood")
    dismissed = {"flood:IV": flood_iv(plans, watch).summary()}
    elsewhere = watch.observe([gauge("g1", "yangshe", 4.3), gauge("g4", "leyu", 4.25)], T0 + MIN)
    assert [p.id for p in due_proposals(elsewhere, [], dismissed)] == ["flood:IV"]


def test_a_dismissed_proposal_is_raised_again_when_more_devices_meet_the_trigger(plans):
    watch = watch_of(plans, "flood")
    dismissed = {"flood:IV": flood_iv(plans, watch).summary()}
    more = watch.observe([gauge("g1", "yangshe", 4.32), gauge("g2", "jinfeng", 4.25), gauge("g3", "jinfeng", 4.22)], T0 + MIN)
    assert [p.id for p in due_proposals(more, [], dismissed)] == ["flood:IV"]


def test_a_dismissed_proposal_is_raised_again_only_when_its_peak_passes_the_dismissed_peak_by_the_margin(plans):
    assert PEAK_MARGINS[("water_level", "waterLevel")] == 0.10
    watch = watch_of(plans, "flood")
    dismissed = {"flood:IV": flood_iv(plans, watch).summary()}  # peak 4.32 m
    a_little = watch.observe([gauge("g1", "yangshe", 4.40), gauge("g2", "jinfeng", 4.25)], T0 + MIN)
    assert due_proposals(a_little, [], dismissed) == []
    by_the_margin = watch.observe([gauge("g1", "yangshe", 4.42), gauge("g2", "jinfeng", 4.25)], T0 + 2 * MIN)
    assert [p.id for p in due_proposals(by_the_margin, [], dismissed)] == ["flood:IV"]


def test_a_falling_trigger_is_worse_when_its_peak_falls_further():
    ph = Trigger("water_quality", "pH", "<", 5.5)
    watch = TriggerWatch(one_plan(level("III", ph)))
    reading = lambda v: [Reading("o1", "outfall o1", "water_quality", "jinfeng", "pH", v)]  # noqa: E731
    dismissed = {"test:III": watch.observe(reading(5.2), T0)[0].summary()}
    assert due_proposals(watch.observe(reading(4.9), T0 + MIN), [], dismissed) == []
    assert len(due_proposals(watch.observe(reading(4.7), T0 + 2 * MIN), [], dismissed)) == 1


def test_a_higher_level_is_proposed_though_a_lower_one_was_dismissed(plans):
    watch = watch_of(plans, "flood")
    dismissed = {"flood:IV": flood_iv(plans, watch).summary()}
    higher = watch.observe([gauge("g1", "yangshe", 4.55), gauge("g2", "jinfeng", 4.25)], T0 + MIN)
    assert [p.id for p in due_proposals(higher, [], dismissed)] == ["flood:III"]


def test_a_dismissal_at_a_higher_level_holds_back_a_lower_proposal(plans):
    watch = watch_of(plans, "flood")
    dismissed = {"flood:III": watch.observe([gauge("g1", "yangshe", 4.55)], T0)[0].summary()}
    assert due_proposals([flood_iv(plans, watch, T0 + MIN)], [], dismissed) == []


def test_a_stored_dismissal_record_holds_like_its_summary(plans):
    proposal = flood_iv(plans)
    record = {"summary": proposal.summary(), "by": "li", "reason": "城区排涝已在处置", "at": T0}
    assert due_proposals([proposal], [], {proposal.id: record}) == []


def test_dismissals_lapse_once_their_plan_meets_no_trigger(plans):
    proposal = flood_iv(plans)
    dismissed = {"flood:IV": proposal.summary(), "crowd:IV": {"plan": "crowd", "level": "IV"}}
    assert lapsed_dismissals([proposal], dismissed) == ["crowd:IV"]


# --- how a proposal reads -----------------------------------------------------------------------

def test_the_headline_names_the_plan_and_level_in_each_language(plans):
    proposal = flood_iv(plans)
    assert headline(proposal, plans["flood"], "zh") == "建议启动防汛Ⅳ级响应"
    assert headline(proposal, plans["flood"], "en") == "Proposed: flood control response, level IV"


def test_an_evidence_line_names_the_district_the_device_and_the_value_against_the_warning_line(plans, city):
    evidence = Evidence("g1", "暨阳湖水位站", "yangshe", "water_level", "waterLevel", 4.32, 4.2, T0, ">=")
    assert evidence_line(evidence, "zh", city) == "杨舍镇 · 暨阳湖水位站 · 水位 4.32 m（警戒 4.20 m）"
    assert evidence_line(evidence, "en", city) == "Yangshe · 暨阳湖水位站 · Water level 4.32 m (warning line 4.20 m)"


def test_an_evidence_line_of_a_sustained_trigger_says_how_long_it_has_lasted(city):
    evidence = Evidence("o1", "华达化工排口", "jinfeng", "water_quality", "cod", 182.4, 100.0, T0, ">")
    line = evidence_line(evidence, "zh", city, now_ms=T0 + 4 * MIN, minutes=3)
    assert line == "锦丰镇 · 华达化工排口 · 化学需氧量 182 mg/L（阈值 > 100 mg/L） · 已持续 4 分钟"


def test_the_words_of_a_proposal_give_its_trigger_districts_and_a_count_of_evidence_left_out(plans, city):
    words = proposal_words(flood_iv(plans), plans["flood"], "zh", city, limit=1)
    assert words.headline == "建议启动防汛Ⅳ级响应"
    assert words.trigger == plans["flood"].level("IV").triggers[0].describe("zh")
    assert words.districts == "涉及区镇：锦丰镇、杨舍镇"
    assert len(words.evidence) == 1 and words.more == "另有 1 个设备"

