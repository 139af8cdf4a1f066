"""Pure functions behind the wall's critical pop-up (ioc.views.bigscreen.popup_step)."""

from __future__ import annotations

from ioc.views.bigscreen import popup_step

NOW = 1_795_600_000_000
ACK = {"by": "lisi", "role": "operator", "at_ms": NOW}


def alarm(id_, severity="critical", seconds_ago=10, ack=None):
    return {"id": id_, "severity": severity, "raised_at": NOW - seconds_ago * 1000, "ack": ack}


def test_a_new_critical_alarm_is_shown():
    step = popup_step([alarm("a")], [], None, "popup hidden", None, NOW)
    assert (step.action, step.alarm["id"]) == ("show", "a")


def test_the_popup_closes_when_its_alarm_is_no_longer_active():
    assert popup_step([alarm("b")], ["a", "b"], "a", "popup", NOW - 1000, NOW).action == "close"


def test_the_popup_closes_when_its_alarm_is_acknowledged():
    assert popup_step([alarm("a", ack=ACK)], ["a"], "a", "popup", NOW - 1000, NOW).action == "close"


def test_the_badge_closes_too_when_its_alarm_clears():
    assert popup_step([], ["a"], "a", "popup badge", NOW - 60_000, NOW, fold_after_ms=30_000).action == "close"


def test_an_open_popup_folds_after_the_kiosk_delay_only():
    alarms = [alarm("a")]
    assert popup_step(alarms, ["a"], "a", "popup", NOW - 29_000, NOW, fold_after_ms=30_000).action == "keep"
    assert popup_step(alarms, ["a"], "a", "popup", NOW - 30_000, NOW, fold_after_ms=30_000).action == "fold"
    assert popup_step(alarms, ["a"], "a", "popup", NOW - 3_600_000, NOW).action == "keep"  # not a kiosk
    assert popup_step(alarms, ["a"], "a", "popup hidden", NOW - 60_000, NOW, fold_after_ms=30_000).action == "keep"


def test_a_newer_critical_alarm_replaces_the_one_shown():
    step = popup_step([alarm("a"), alarm("b", seconds_ago=1)], ["a"], "a", "popup badge", NOW - 60_000, NOW, fold_after_ms=30_000)
    assert (step.action, step.alarm["id"]) == ("show", "b")


# --- a device's latest reading in words (the map's device tooltip) ------------------------------

from ioc.views.readings import reading_lines, reading_time  # noqa: E402


def test_a_reading_reads_in_words_with_units_in_the_page_language():
    latest = {"ts": NOW, "waterLevel": 4.61, "flowRate": 12.5}
    assert reading_lines("water_level", latest, "zh") == ["水位 4.61 m", "流量 12.5 m³/s"]
    assert reading_lines("water_level", latest, "en") == ["Water level 4.61 m", "Discharge 12.5 m³/s"]


def test_enumerations_booleans_and_ratios_are_words_and_percentages():
    assert reading_lines("streetlight", {"status": "defectiveLamp", "illuminanceLevel": 0.8}, "zh") == ["灯具故障", "调光亮度 80 %"]
    assert reading_lines("manhole", {"displaced": True, "tilt": 40.0}, "en") == ["Tilt 40.0°", "cover displaced"]
    assert reading_lines("platform", {"errorRate": 0.1927}, "zh") == ["接口错误率 19.3 %"]


def test_no_reading_is_no_lines_and_no_time():
    assert reading_lines("noise", None) == [] and reading_time(None) == ""
