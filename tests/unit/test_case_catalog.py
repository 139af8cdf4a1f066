"""Specification of the case classes (ioc.domain.case_catalog): GB/T 30428-style major and
minor classes, each with an owner department and a time limit for every stage's work."""

from __future__ import annotations

import pytest

from ioc.domain.case_catalog import (ALARM_CLASSES, MAJOR_CLASSES, MINOR_CLASSES, SEED_CLASSES, WORKS, MinorClass,
                                     classes_of, major_of, minor)
from ioc.domain.cases import STAGE_WORK
from ioc.domain.departments import FUNCTIONAL
from ioc.domain.rules import RULES_BY_ID


def test_the_catalog_has_at_least_24_minor_classes():
    assert len(MINOR_CLASSES) >= 24


def test_major_classes_follow_the_standard_for_both_kinds():
    assert {c: (m.kind, m.name_zh) for c, m in MAJOR_CLASSES.items()} == {
        "101": ("component", "公用设施"), "102": ("component", "道路交通"), "103": ("component", "市容环境"),
        "104": ("component", "园林绿化"), "105": ("component", "房屋土地"), "106": ("component", "其他设施"),
        "201": ("event", "市容环境"), "202": ("event", "宣传广告"), "203": ("event", "施工管理"),
        "204": ("event", "突发事件"), "205": ("event", "街面秩序"), "206": ("event", "其他事件"),
    }


def test_a_minor_code_is_its_major_code_plus_two_digits():
    for code, c in MINOR_CLASSES.items():
        assert c.code == code and len(code) == 5 and code.isdigit() and code[:3] == c.major
        assert major_of(c).kind == c.kind  # the first digit: 1 component, 2 event


def test_every_major_class_has_minor_classes():
    assert all(classes_of(code) for code in MAJOR_CLASSES)


def test_the_seed_problems_are_in_the_catalog_with_their_names():
    names = {key: (minor(code).name_zh, minor(code).name_en, minor(code).kind) for key, code in SEED_CLASSES.items()}
    assert names == {
        "street_light_broken": ("路灯损坏", "Street light broken", "component"),
        "manhole_cover_missing": ("井盖丢失", "Manhole cover missing", "component"),
        "illegal_discharge": ("企业排污", "Illegal discharge by an enterprise", "event"),
        "illegal_construction": ("违章搭建", "Illegal construction", "event"),
        "crowd_disturbance": ("聚众闹事", "Crowd disturbance", "event"),
    }


def test_class_names_are_unique():
    for attr in ("name_zh", "name_en"):
        names = [getattr(c, attr) for c in MINOR_CLASSES.values()]
        assert len(names) == len(set(names)), attr


def test_the_works_are_the_stage_works_of_the_workflow_in_order():
    assert WORKS == ("accept", "verify", "dispatch", "handle", "check", "close")
    assert WORKS == tuple(STAGE_WORK.values())


def test_every_class_has_a_positive_limit_for_every_work():
    for c in MINOR_CLASSES.values():
        assert set(c.limits) == set(WORKS) and all(h > 0 for h in c.limits.values()), c.code


def test_urgent_classes_count_calendar_hours_and_the_others_working_hours():
    for c in MINOR_CLASSES.values():
        assert c.calendar_hours is c.urgent, c.code


def test_hazards_to_life_are_urgent():
    for en in ("Manhole cover missing", "Gas leak", "Road collapse", "Crowd disturbance", "Fallen tree"):
        assert next(c for c in MINOR_CLASSES.values() if c.name_en == en).urgent, en


def test_the_seed_time_limits():
    assert minor("20101").name_zh == "暴露垃圾" and minor("20101").limit("handle") == 4  # working hours
    assert not minor("20101").calendar_hours
    assert minor(SEED_CLASSES["manhole_cover_missing"]).limit("handle") == 6
    assert minor(SEED_CLASSES["illegal_construction"]).limit("handle") == 4  # stop the work


def test_every_class_is_owned_by_a_functional_department():
    ids = {d.id for d in FUNCTIONAL}
    assert {c.code: c.department for c in MINOR_CLASSES.values() if c.department not in ids} == {}


def test_minor_looks_a_class_up_by_code():
    assert minor("10105").name_en == "Street light broken"


def test_an_unknown_code_raises_a_key_error_naming_it_and_the_known_codes():
    with pytest.raises(KeyError, match="unknown case class '99999'.*10105"):
        minor("99999")


def test_alarm_classes_map_real_rules_to_real_classes():
    assert set(ALARM_CLASSES) <= set(RULES_BY_ID)
    assert set(ALARM_CLASSES.values()) <= set(MINOR_CLASSES)


def test_sensor_alarms_raise_the_seed_cases():
    assert ALARM_CLASSES["manhole_displaced"] == SEED_CLASSES["manhole_cover_missing"]
    assert ALARM_CLASSES["streetlight_fault"] == SEED_CLASSES["street_light_broken"]
    assert ALARM_CLASSES["outfall_cod"] == SEED_CLASSES["illegal_discharge"]
    assert ALARM_CLASSES["crowd_critical"] == SEED_CLASSES["crowd_disturbance"]


def test_a_minor_class_refuses_an_unknown_work_in_its_limits():
    with pytest.raises(ValueError, match="unknown work"):
        MinorClass("10199", "101", "测试", "Test", "water_affairs", False, {"repair": 4})


def test_a_minor_class_refuses_a_code_outside_its_major_class():
    with pytest.raises(ValueError, match="starting with its major class"):
        MinorClass("10299", "101", "测试", "Test", "water_affairs", False, {"handle": 4})


def test_names_follow_the_language():
    assert minor("10101").name("en") == "Manhole cover missing" and minor("10101").name("zh") == "井盖丢失"
    assert MAJOR_CLASSES["204"].name("en") == "Emergencies"
