"""Specification of contingency plans (ioc.domain.plans): levels, triggers, tasks, the four
built-in plans, validation on loading and the plans file."""

from __future__ import annotations

import copy
import json
import math

import pytest

from ioc.domain.departments import department_ids
from ioc.domain.plans import (BUILTIN_PLANS_DATA, LEVEL_NAMES, LEVELS, TERRITORY, PlanError, Trigger, builtin_plans,
                              level_label, plans_from_file, validate_plans, watched_attributes)


@pytest.fixture(scope="module")
def departments(city) -> frozenset[str]:
    return department_ids(city)


@pytest.fixture(scope="module")
def plans(departments):
    return builtin_plans(departments)


def data() -> list[dict]:
    """A fresh copy of the built-in plans' data, to spoil in one place."""
    return copy.deepcopy(BUILTIN_PLANS_DATA)


def refusal(raw, departments) -> PlanError:
    with pytest.raises(PlanError) as caught:
        validate_plans(raw, departments)
    return caught.value


# --- levels -----------------------------------------------------------------------------------

def test_levels_ascend_in_severity_from_iv_to_i():
    assert LEVELS == ("IV", "III", "II", "I")
    assert [LEVEL_NAMES[level][0] for level in LEVELS] == ["一般", "较大", "重大", "特别重大"]


def test_a_level_reads_as_people_write_it_in_each_language():
    assert level_label("IV", "zh") == "Ⅳ级（一般）"
    assert level_label("I", "zh") == "Ⅰ级（特别重大）"
    assert level_label("III", "en") == "Level III (Significant)"
    assert level_label("I", "en") == "Level I (Extraordinary)"


# --- the built-in plans ------------------------------------------------------------------------

def test_the_four_built_in_plans_are_valid_against_the_citys_departments(plans):
    assert list(plans) == ["flood", "water_pollution", "crowd", "hazmat"]
    assert all(plan.level_ids == LEVELS for plan in plans.values())


def test_each_built_in_plan_has_chinese_and_english_names_and_summaries(plans):
    for plan in plans.values():
        assert plan.name("zh") and plan.name("en") and plan.summary("zh") and plan.summary("en")
    assert (plans["flood"].name("zh"), plans["flood"].name("en")) == ("防汛", "Flood control")
    assert plans["hazmat"].name("zh") == "危化品泄漏"


@pytest.mark.parametrize("plan_id, lead", [("flood", "water_affairs"), ("water_pollution", "ecology_environment"),
                                           ("crowd", "public_security"), ("hazmat", "ecology_environment")])
def test_each_built_in_plan_is_led_by_the_department_responsible_at_every_level(plans, plan_id, lead):
    assert {level.lead.department for level in plans[plan_id].levels} == {lead}


def test_every_built_in_plan_involves_the_district_government_at_every_level(plans):
    for plan in plans.values():
        for level in plan.levels:
            assert TERRITORY in {t.department for t in level.tasks}, (plan.id, level.level)


def test_a_higher_built_in_level_keeps_every_department_of_the_level_below(plans):
    for plan in plans.values():
        for below, above in zip(plan.levels, plan.levels[1:]):
            assert {t.department for t in below.tasks} < {t.department for t in above.tasks}, (plan.id, above.level)


def test_built_in_time_limits_are_those_of_a_duty_office(plans):
    for plan in plans.values():
        for level in plan.levels:
            for task in level.tasks:
                assert 5 <= task.ack_min <= 15 and 20 <= task.arrive_min <= 60 and 30 <= task.report_min <= 60
                assert task.text("zh") != task.text("en")


def test_flood_control_is_proposed_on_the_river_levels_and_the_rainfall(plans):
    flood = plans["flood"]
    assert Trigger("water_level", "waterLevel", ">=", 4.2, districts=2) in flood.level("IV").triggers
    assert Trigger("water_level", "waterLevel", ">=", 4.5) in flood.level("III").triggers
    assert Trigger("rain_gauge", "precipitation", ">=", 50, districts=3) in flood.level("III").triggers
    assert Trigger("water_level", "waterLevel", ">=", 4.7, districts=2) in flood.level("II").triggers


def test_water_pollution_is_proposed_on_sustained_outfall_cod_or_acid_water(plans):
    pollution = plans["water_pollution"]
    assert pollution.level("IV").triggers == (Trigger("water_quality", "cod", ">", 100, minutes=3),)
    assert Trigger("water_quality", "cod", ">", 150, minutes=5) in pollution.level("III").triggers
    assert any(t.attribute == "pH" and t.op == "<" and t.threshold == 5.5 for t in pollution.level("III").triggers)


def test_crowd_safety_is_proposed_on_people_counts(plans):
    crowd = plans["crowd"]
    assert crowd.level("IV").triggers == (Trigger("crowd", "peopleCount", ">", 5000),)
    assert crowd.level("III").triggers == (Trigger("crowd", "peopleCount", ">", 8000),)


def test_a_hazardous_chemical_leak_is_started_by_hand_only(plans):
    assert all(level.triggers == () for level in plans["hazmat"].levels)


def test_a_plan_answers_none_for_a_level_it_lacks(departments):
    raw = data()
    raw[0]["levels"] = [raw[0]["levels"][1], raw[0]["levels"][3]]  # III and I only
    flood = validate_plans(raw, departments)["flood"]
    assert flood.level_ids == ("III", "I") and flood.level("II") is None and flood.level("III").level == "III"


def test_a_plan_survives_a_round_trip_through_its_data(plans, departments):
    assert validate_plans([plan.to_dict() for plan in plans.values()], departments) == plans


def test_the_built_in_plans_watch_river_levels_rainfall_outfall_quality_and_crowds(plans):
    assert watched_attributes(plans) == {("water_level", "waterLevel"), ("rain_gauge", "precipitation"),
                                         ("water_quality", "cod"), ("water_quality", "pH"), ("crowd", "peopleCount")}


# --- triggers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("op, value, met", [(">=", 4.2, True), (">=", 4.19, False), (">", 4.2, False),
                                            (">", 4.21, True), ("<=", 4.2, True), ("<", 4.2, False)])
def test_a_trigger_compares_a_reading_with_its_threshold(op, value, met):
    assert Trigger("water_level", "waterLevel", op, 4.2).met(value) is met


def test_a_trigger_describes_itself_with_the_attributes_name_and_unit():
    trigger = Trigger("water_level", "waterLevel", ">=", 4.2, districts=2)
    assert trigger.describe("zh") == "水位 ≥ 4.20 m，至少 2 个区镇"
    assert trigger.describe("en") == "water level ≥ 4.20 m in at least 2 districts"


def test_a_sustained_trigger_says_for_how_long():
    trigger = Trigger("water_quality", "cod", ">", 150, minutes=5)
    assert trigger.describe("zh") == "化学需氧量 > 150 mg/L，持续 5 分钟"
    assert trigger.describe("en") == "COD > 150 mg/L for 5 min"


def test_a_trigger_on_several_devices_says_how_many():
    assert Trigger("crowd", "peopleCount", ">", 8000, devices=2).describe("zh") == "人数 > 8000，至少 2 个设备"


# --- validation refusals ------------------------------------------------------------------------

def _set(path, value):
    """A change to the plans' data: set the item at `path` (keys and indexes) to `value`."""
    def change(raw):
        target = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _delete(path):
    def change(raw):
        target = raw
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


FLOOD_III_TASKS = (0, "levels", 1, "tasks")

REFUSALS = {
    "unknown department": (_set(FLOOD_III_TASKS + (2, "department"), "fire_brigade"),
                           "flood.levels.III.tasks[2].department", "unknown department 'fire_brigade'"),
    "empty level": (_set((0, "levels", 0, "tasks"), []), "flood.levels.IV.tasks", "at least one task"),
    "fewer tasks than the level below": (lambda raw: raw[0]["levels"][1]["tasks"].__delitem__(slice(2, None)),
                                         "flood.levels.III.tasks", "2 tasks, fewer than the 3 of level IV"),
    "no lead": (_set(FLOOD_III_TASKS + (0, "role"), "support"), "flood.levels.III.tasks", "exactly one lead"),
    "two leads": (_set(FLOOD_III_TASKS + (3, "role"), "lead"), "flood.levels.III.tasks[3].role", "exactly one lead"),
    "unknown task role": (_set(FLOOD_III_TASKS + (3, "role"), "helper"), "flood.levels.III.tasks[3].role",
                          "lead, support"),
    "department twice": (_set(FLOOD_III_TASKS + (2, "department"), "urban_management"),
                         "flood.levels.III.tasks[2].department", "urban_management has two tasks"),
    "unknown level name": (_set((0, "levels", 0, "level"), "V"), "flood.levels[0].level", "unknown level 'V'"),
    "levels out of order": (lambda raw: raw[0]["levels"].reverse(), "flood.levels.II", "from IV up to I"),
    "level repeated": (lambda raw: raw[2]["levels"].insert(1, copy.deepcopy(raw[2]["levels"][0])),
                       "crowd.levels.IV", "each once"),
    "trigger on an unknown kind": (_set((0, "levels", 0, "triggers", 0, "kind"), "tide_gauge"),
                                   "flood.levels.IV.triggers[0].kind", "'tide_gauge' cannot trigger"),
    "trigger on an attribute that cannot trigger": (
        _set((0, "levels", 0, "triggers", 0, "attribute"), "flowRate"), "flood.levels.IV.triggers[0].attribute",
        "'flowRate' of water_level cannot trigger"),
    "bad operator": (_set((0, "levels", 0, "triggers", 0, "op"), "=="), "flood.levels.IV.triggers[0].op",
                     "not an operator"),
    "threshold not a number": (_set((0, "levels", 0, "triggers", 0, "threshold"), "4.2"),
                               "flood.levels.IV.triggers[0].threshold", "must be a number"),
    "threshold not finite": (_set((0, "levels", 0, "triggers", 0, "threshold"), math.nan),
                             "flood.levels.IV.triggers[0].threshold", "must be a number"),
    "no district to count": (_set((0, "levels", 0, "triggers", 0, "districts"), 0),
                             "flood.levels.IV.triggers[0].districts", "whole number from 1"),
    "zero acknowledgement limit": (_set(FLOOD_III_TASKS + (1, "ack_min"), 0), "flood.levels.III.tasks[1].ack_min",
                                   "whole number from 1 to 1440"),
    "negative report interval": (_set(FLOOD_III_TASKS + (1, "report_min"), -30),
                                 "flood.levels.III.tasks[1].report_min", "whole number from 1 to 1440"),
    "limit not a whole number": (_set(FLOOD_III_TASKS + (1, "arrive_min"), 45.5),
                                 "flood.levels.III.tasks[1].arrive_min", "whole number"),
    "limit given as true": (_set(FLOOD_III_TASKS + (1, "arrive_min"), True), "flood.levels.III.tasks[1].arrive_min",
                            "whole number"),
    "arrival due before acknowledgement": (_set(FLOOD_III_TASKS + (1, "arrive_min"), 5),
                                           "flood.levels.III.tasks[1].arrive_min", "before acknowledging"),
    "task without Chinese text": (_set(FLOOD_III_TASKS + (1, "text_zh"), "  "), "flood.levels.III.tasks[1].text_zh",
                                  "non-empty text"),
    "task field misspelt": (_set(FLOOD_III_TASKS + (1, "ack_mins"), 10), "flood.levels.III.tasks[1].ack_mins",
                            "unknown field"),
    "duplicate plan id": (lambda raw: raw.append(copy.deepcopy(raw[0])), "plans[4].id", "'flood' is defined twice"),
    "missing Chinese name": (_delete((1, "name_zh")), "water_pollution.name_zh", "missing"),
    "empty English name": (_set((1, "name_en"), ""), "water_pollution.name_en", "non-empty text"),
    "plan id not ASCII": (_set((3, "id"), "危化品"), "plans[3].id", "lower-case ASCII"),
    "plan without levels": (_set((3, "levels"), []), "hazmat.levels", "at least one level"),
    "plan not an object": (_set((3,), "hazmat"), "plans[3]", "must be an object"),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_validation_refuses_a_faulty_plan_naming_the_place_and_the_reason(departments, name):
    change, path, reason = REFUSALS[name]
    raw = data()
    change(raw)
    error = refusal(raw, departments)
    assert error.path == path
    assert reason in error.reason
    assert str(error).startswith(f"{path}: ")


def test_plans_must_be_a_non_empty_list(departments):
    assert refusal([], departments).path == "plans"
    assert refusal({"flood": {}}, departments).path == "plans"


def test_a_plan_error_is_a_value_error(departments):
    raw = data()
    raw[0]["levels"][0]["tasks"] = []
    assert isinstance(refusal(raw, departments), ValueError)


def test_a_task_may_name_the_territory_or_one_towns_government(departments):
    raw = data()
    raw[0]["levels"][0]["tasks"][2]["department"] = "town_yangshe"
    assert validate_plans(raw, departments)["flood"].level("IV").tasks[2].department == "town_yangshe"
    assert builtin_plans(departments)["flood"].level("IV").tasks[2].department == TERRITORY


def test_a_level_may_have_more_tasks_than_the_one_below_it_skipping_missing_levels(departments):
    raw = data()
    raw[2]["levels"] = [raw[2]["levels"][0], raw[2]["levels"][2]]  # crowd IV (3 tasks) and II (7)
    assert validate_plans(raw, departments)["crowd"].level_ids == ("IV", "II")


# --- the plans file ----------------------------------------------------------------------------

def test_an_administrators_plans_file_loads_like_the_built_in_data(tmp_path, departments, plans):
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(BUILTIN_PLANS_DATA, ensure_ascii=False), encoding="utf-8")
    assert plans_from_file(path, departments) == plans


def test_a_plans_file_may_hold_other_plans(tmp_path, departments):
    raw = [data()[3]]
    raw[0].update(id="gas_leak", name_zh="燃气泄漏", name_en="Gas leak")
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    assert list(plans_from_file(str(path), departments)) == ["gas_leak"]


def test_a_faulty_plans_file_is_refused_naming_the_file_and_the_place(tmp_path, departments):
    raw = data()
    raw[0]["levels"][1]["tasks"][2]["department"] = "fire_brigade"
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        plans_from_file(path, departments)
    assert caught.value.path == "flood.levels.III.tasks[2].department"
    assert str(path) in str(caught.value)


def test_a_plans_file_that_is_not_json_is_refused(tmp_path, departments):
    path = tmp_path / "plans.json"
    path.write_text('[{"id": "flood",', encoding="utf-8")
    with pytest.raises(PlanError, match="not valid JSON"):
        plans_from_file(path, departments)


def test_a_missing_plans_file_is_refused(tmp_path, departments):
    with pytest.raises(PlanError, match="cannot read the plans file"):
        plans_from_file(tmp_path / "absent.json", departments)
