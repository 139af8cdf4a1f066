"""People's words for readings and alarms (ioc.views.readings_text)."""

from __future__ import annotations

import re

import pytest

from ioc.domain.cases import STAGE_NAMES
from ioc.domain.kinds import KINDS
from ioc.views.readings_text import (ATTRIBUTE_NAMES, UNITS, VALUE_WORDS, alarm_text, alarm_words, attribute_name,
                                      reading_text, sensor_case_description, threshold_text, value_text)
from ioc.domain.rules import RULES

ATTRIBUTES = [(k.id, a) for k in KINDS.values() for a in k.attributes]
CHOICES = [(k, a.name, c) for k, a in ATTRIBUTES if a.type == "enum" for c in a.choices]
BOOLEANS = [(k, a.name, v) for k, a in ATTRIBUTES if a.type == "boolean" for v in (True, False)]
HAN = re.compile(r"[\u4e00-\u9fff]")


def sample(a):
    """A value in range of a numeric attribute."""
    lo, hi = a.minimum or 0, a.maximum if a.maximum is not None else 1
    return (lo + hi) / 3 if a.type == "number" else int((lo + hi) // 3)


def alarm(**kw):
    base = {"id": "x", "device_id": "dev-1", "kind": "noise", "rule_id": "noise_high", "severity": "minor", "district": "",
            "attribute": "LAeq", "value": 69.75, "threshold": 85, "raised_at": 1_795_600_000_000,
            "name_zh": "噪声超标", "name_en": "Noise above limit"}
    return {**base, **kw}


@pytest.mark.parametrize("kind,attribute", [(k, a.name) for k, a in ATTRIBUTES])
def test_every_attribute_of_every_kind_has_a_chinese_and_an_english_name(kind, attribute):
    zh, en = ATTRIBUTE_NAMES[(kind, attribute)]
    assert zh and en and not HAN.search(en)
    assert attribute_name(kind, attribute, "zh") == zh and attribute_name(kind, attribute, "en") == en


def test_no_words_for_attributes_the_catalog_does_not_have():
    known = {(k, a.name) for k, a in ATTRIBUTES} | {("case", "stage")}
    assert set(ATTRIBUTE_NAMES) <= known and {k for k in VALUE_WORDS} <= known


@pytest.mark.parametrize("unit", sorted({a.unit for _, a in ATTRIBUTES}))
def test_every_unit_of_the_catalog_is_written_for_people(unit):
    assert unit in UNITS


@pytest.mark.parametrize("kind,attribute,choice", CHOICES)
def test_every_choice_of_every_enumeration_has_words_in_both_languages(kind, attribute, choice):
    zh, en = value_text(kind, attribute, choice, "zh"), value_text(kind, attribute, choice, "en")
    assert HAN.search(zh)
    assert en and not HAN.search(en) and en != "defectiveLamp" and not re.search(r"[a-z][A-Z]", en)  # no camelCase keys


@pytest.mark.parametrize("kind,attribute,value", BOOLEANS)
def test_every_boolean_reads_as_words_in_both_languages(kind, attribute, value):
    zh, en = value_text(kind, attribute, value, "zh"), value_text(kind, attribute, value, "en")
    assert HAN.search(zh) and en and not HAN.search(en)
    assert "True" not in zh + en and "False" not in zh + en


@pytest.mark.parametrize("kind,attribute", [(k, a.name) for k, a in ATTRIBUTES if a.is_numeric])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_number_is_rounded_and_carries_its_unit(kind, attribute, lang):
    a = KINDS[kind].attribute(attribute)
    text = value_text(kind, attribute, sample(a), lang)
    number = re.match(r"-?[\d,]+(\.(\d+))?", text)
    assert number and len(number.group(2) or "") <= 2
    if a.unit == "ratio":
        assert text.endswith(" %")
    elif UNITS[a.unit][lang == "en"]:
        assert text.endswith(UNITS[a.unit][lang == "en"])


def test_a_ratio_reads_as_a_percentage():
    assert value_text("platform", "errorRate", 0.1927) == "19.3 %"
    assert value_text("manhole", "batteryLevel", 0.5, "en") == "50 %"


def test_numbers_are_rounded_per_measure_with_their_unit():
    assert value_text("noise", "LAeq", 69.75) == "69.8 dB(A)"
    assert value_text("water_level", "waterLevel", 4.351) == "4.35 m"
    assert value_text("air_quality", "pm25", 75.4) == "75 µg/m³"
    assert value_text("crowd", "peopleCount", 5231, "zh") == "5,231人"
    assert value_text("crowd", "peopleCount", 5231, "en") == "5,231 people"


def test_the_manhole_cover_and_the_lamp_speak_words():
    assert value_text("manhole", "displaced", True) == "井盖移位"
    assert value_text("manhole", "displaced", True, "en") == "cover displaced"
    assert value_text("manhole", "displaced", False) == "正常"
    assert value_text("streetlight", "status", "defectiveLamp") == "灯具故障"
    assert value_text("streetlight", "powerState", "on") == "亮" and value_text("streetlight", "powerState", "off") == "灭"


def test_a_reading_names_its_attribute_unless_the_words_say_it_all():
    assert reading_text("water_level", "waterLevel", 4.351) == "水位 4.35 m"
    assert reading_text("manhole", "displaced", True) == "井盖移位"
    assert reading_text("streetlight", "status", "defectiveLamp", "en") == "defective lamp"


def test_a_missing_value_is_a_dash_not_none():
    assert value_text("noise", "LAeq", None) == "—" and "None" not in reading_text("noise", "LAeq", None)


@pytest.mark.parametrize("stage", sorted(STAGE_NAMES))
def test_a_case_stage_is_named_in_the_uis_language(stage):
    assert value_text("case", "stage", stage, "zh") == STAGE_NAMES[stage]["zh"]
    assert value_text("case", "stage", stage, "en") == STAGE_NAMES[stage]["en"]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_rules_alarm_reads_without_machine_values(rule, lang):
    a = alarm(kind=rule.kind, attribute=rule.attribute, rule_id=rule.id, threshold=rule.threshold,
              value=rule.threshold if not isinstance(rule.threshold, str) else "defectiveLamp",
              name_zh=rule.name_zh, name_en=rule.name_en, device_id="dev-1")
    words = alarm_words(a, lang, "设备一")
    assert words.reading.startswith(words.value) or words.reading.startswith(attribute_name(rule.kind, rule.attribute, lang))
    for raw in ("True", "False", "None", " = ", "defectiveLamp", rule.id):
        assert raw not in words.text()


def test_a_numeric_alarm_names_its_threshold_with_the_rules_operator():
    assert threshold_text(alarm()) == "阈值 > 85 dB(A)"
    assert threshold_text(alarm(), "en") == "threshold > 85 dB(A)"
    assert threshold_text(alarm(kind="platform", attribute="errorRate", rule_id="platform_errors", threshold=0.05)) == "阈值 > 5 %"


def test_a_boolean_or_choice_alarm_needs_no_threshold():
    assert threshold_text(alarm(kind="manhole", attribute="displaced", rule_id="manhole_displaced", threshold=True)) == ""
    assert threshold_text(alarm(kind="streetlight", attribute="status", rule_id="streetlight_fault", threshold="ok")) == ""


def test_an_overdue_case_alarm_names_its_stage_and_deadline():
    a = alarm(kind="case", attribute="stage", value="reported", rule_id="case_overdue", device_id="ZJG-1",
              threshold=1_795_600_000_000)
    words = alarm_words(a, "zh")
    assert words.value == "上报" and words.threshold.startswith("期限 ")
    assert "reported" not in words.text()


def test_the_alarm_text_names_district_rule_device_reading_with_the_id_secondary():
    a = alarm(kind="manhole", attribute="displaced", value=True, threshold=True, rule_id="manhole_displaced",
              device_id="mh-yangshe-0040", name_zh="井盖移位/丢失", name_en="Manhole cover displaced")
    assert alarm_text(a, "zh", "杨舍 井盖 40", "杨舍镇") == "杨舍镇 · 井盖移位/丢失 · 杨舍 井盖 40（mh-yangshe-0040） · 井盖移位"
    assert alarm_text(a, "en", "Yangshe manhole 40", "Yangshe") == \
        "Yangshe · Manhole cover displaced · Yangshe manhole 40 (mh-yangshe-0040) · cover displaced"


def test_a_device_without_a_name_is_named_by_its_id_once():
    assert alarm_text(alarm(device_id="n-1")).count("n-1") == 1


def test_a_case_from_a_manhole_alarm_says_what_happened_and_where():
    a = alarm(kind="manhole", attribute="displaced", value=True, threshold=True, rule_id="manhole_displaced",
              device_id="mh-yangshe-0040", name_zh="井盖移位/丢失")
    assert sensor_case_description(a, "杨舍 井盖 40") == "井盖移位：杨舍 井盖 40（mh-yangshe-0040）"


def test_a_case_from_a_numeric_alarm_gives_the_reading_and_threshold_in_chinese():
    a = alarm(kind="water_level", attribute="waterLevel", value=4.351, threshold=4.2, rule_id="water_level_warning",
              device_id="wl-1", name_zh="水位超警戒")
    assert sensor_case_description(a, "长江 水位站") == "水位超警戒：长江 水位站（wl-1），水位 4.35 m（阈值 ≥ 4.20 m）"
