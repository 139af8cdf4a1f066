"""One device's rewind (设备回溯): the window, the words and the figures (`ioc.views.device_rewind`)."""

from __future__ import annotations

from datetime import datetime, timezone

from ioc.views.device_rewind import (AFTER_MS, ALARM_PAGE, BEFORE_MS, DEFAULT_SPAN_MS, HOUR_MS, Window, alarm_line, around_alarm,
                                     chart_attributes, device_facts, device_figures, device_path, find_alarm, first_window, last_page,
                                     markers, page_query, pager_text, parse_at, parse_page, parse_window, position_text, series_note,
                                     shifted, thresholds, window_text, zoomed)

BASE = int(datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc).timestamp() * 1000)  # 16:00 China time
MIN = 60_000
NOW = BASE + 24 * HOUR_MS


def alarm(raised, cleared=None, acked=None, rule="water_level_warning", severity="major", by="zhangsan", **data):
    return {"alarm_id": f"gauge-1|{rule}", "rule": rule, "severity": severity, "raised_ms": raised, "acknowledged_ms": acked,
            "acknowledged_by": by if acked else "", "cleared_ms": cleared, "data": data}


RAW = {"resolution": "raw", "points": [
    {"at_ms": BASE - 30 * MIN, "values": {"waterLevel": 4.0, "flowRate": 120.0}},
    {"at_ms": BASE, "values": {"waterLevel": 4.3, "flowRate": 130.0}},
    {"at_ms": BASE + 30 * MIN, "values": {"waterLevel": 4.05}},
]}
HOURLY = {"resolution": "hour", "points": [
    {"at_ms": BASE - HOUR_MS, "attribute": "waterLevel", "n": 12, "mean": 4.0, "min": 3.9, "max": 4.1, "last": 4.1, "last_text": None},
    {"at_ms": BASE, "attribute": "waterLevel", "n": 12, "mean": 4.3, "min": 4.2, "max": 4.5, "last": 4.4, "last_text": None},
]}


# ---- links and the window -----------------------------------------------------------------------------

def test_the_device_path_carries_the_alarms_raise_and_escapes_the_id():
    assert device_path("gauge-1", BASE) == f"/device/gauge-1?at={BASE}"
    assert device_path("a b/c") == "/device/a%20b%2Fc"


def test_the_query_strings_at_is_read_and_anything_else_ignored():
    assert parse_at(f"?at={BASE}") == BASE
    assert parse_at("?at=yesterday") is None
    assert parse_at("") is None and parse_at(None) is None


def test_a_cleared_alarms_window_runs_from_two_hours_before_to_one_hour_after_the_clear():
    window = around_alarm(alarm(BASE, cleared=BASE + 40 * MIN), NOW)
    assert (window.from_ms, window.to_ms, window.focus) == (BASE - BEFORE_MS, BASE + 40 * MIN + AFTER_MS, BASE)


def test_an_active_alarms_window_runs_to_now():
    assert around_alarm(alarm(BASE), BASE + 10 * MIN).to_ms == BASE + 10 * MIN


def test_a_window_never_ends_after_now():
    assert around_alarm(alarm(BASE, cleared=BASE + 10 * MIN), BASE + 20 * MIN).to_ms == BASE + 20 * MIN


def test_the_link_names_the_alarm_by_its_raise():
    alarms = [alarm(BASE + 5 * HOUR_MS), alarm(BASE)]
    assert find_alarm(alarms, BASE) is alarms[1]


def test_without_a_moment_the_latest_alarm_is_taken():
    alarms = [alarm(BASE), alarm(BASE + 5 * HOUR_MS)]
    assert find_alarm(alarms, None) is alarms[1]


def test_a_moment_inside_an_alarm_names_that_alarm():
    alarms = [alarm(BASE, cleared=BASE + HOUR_MS)]
    assert find_alarm(alarms, BASE + 10 * MIN) is alarms[0]


def test_a_device_with_no_alarm_opens_on_its_last_six_hours():
    assert first_window([], None, NOW) == Window(NOW - DEFAULT_SPAN_MS, NOW)


def test_a_moment_no_alarm_fits_opens_around_that_moment():
    window = first_window([alarm(BASE, cleared=BASE + MIN)], BASE + 5 * HOUR_MS, NOW)
    assert (window.from_ms, window.to_ms, window.focus) == (BASE + 5 * HOUR_MS - BEFORE_MS, BASE + 5 * HOUR_MS + AFTER_MS, None)


def test_earlier_moves_the_window_back_by_half_its_span():
    assert shifted(Window(BASE, BASE + 4 * HOUR_MS, BASE), -1, NOW) == Window(BASE - 2 * HOUR_MS, BASE + 2 * HOUR_MS, BASE)


def test_later_stops_at_now_keeping_the_span():
    assert shifted(Window(NOW - 4 * HOUR_MS, NOW - HOUR_MS), 1, NOW) == Window(NOW - 3 * HOUR_MS, NOW)


def test_a_zoom_keeps_the_windows_centre():
    window = zoomed(Window(BASE - 3 * HOUR_MS, BASE + 3 * HOUR_MS), 24, NOW)
    assert (window.from_ms, window.to_ms) == (BASE - 12 * HOUR_MS, BASE + 12 * HOUR_MS)


def test_a_window_survives_the_store_and_a_forged_one_does_not():
    window = Window(BASE, BASE + HOUR_MS, BASE)
    assert Window.from_dict(window.to_dict()) == window
    assert Window.from_dict({"from": "x", "to": 1}) is None and Window.from_dict({"from": 5, "to": 1}) is None


def test_the_window_reads_in_china_time():
    assert window_text(Window(BASE, BASE + HOUR_MS), "zh") == "12-01 16:00 至 12-01 17:00（北京时间）"
    assert window_text(Window(BASE, BASE + HOUR_MS), "en") == "12-01 16:00 to 12-01 17:00 (China time)"


# ---- words ------------------------------------------------------------------------------------------

def test_the_device_reads_as_its_kind_district_position_and_state():
    device = {"id": "gauge-1", "kind": "water_level", "name": "港城大道水位站", "lon": 120.556, "lat": 31.872}
    assert dict(device_facts(device, "杨舍镇", True, "zh")) == {
        "类型": "水位", "所在区镇": "杨舍镇", "位置": "北纬 31.8720°，东经 120.5560°", "当前状态": "在线", "设备编号": "gauge-1"}
    assert dict(device_facts(device, "Yangshe", False, "en"))["Now"] == "offline"


def test_a_position_unknown_is_a_dash():
    assert position_text(None, None) == "—"
    assert position_text(120.5, 31.8, "en") == "31.8000° N, 120.5000° E"


def test_an_alarm_reads_with_its_rule_severity_acknowledgement_and_clear():
    line = alarm_line(alarm(BASE, cleared=BASE + 40 * MIN, acked=BASE + 5 * MIN), "zh", {"zhangsan": "张三"})
    assert line == "12-01 16:00 · 水位超警戒 · 重要 · 已确认（张三 16:05） · 已解除 12-01 16:40"


def test_an_active_alarm_says_so_in_english():
    assert alarm_line(alarm(BASE, severity="critical"), "en") == "12-01 16:00 · Water level above warning line · Critical · still active"


def test_the_alarms_own_rule_name_is_preferred():
    assert "自定义规则" in alarm_line(alarm(BASE, rule="x", name_zh="自定义规则"), "zh")


# ---- figures ----------------------------------------------------------------------------------------

def test_each_numeric_attribute_with_readings_gets_a_chart_in_the_catalogues_order():
    assert chart_attributes("water_level", RAW) == ["waterLevel", "flowRate"]


def test_raw_readings_are_drawn_as_points():
    (_, figure), _ = device_figures("water_level", RAW, [], Window(BASE - HOUR_MS, BASE + HOUR_MS), "zh")
    (trace,) = figure["data"]
    assert trace["y"] == [4.0, 4.3, 4.05] and trace["mode"] == "lines+markers"
    assert trace["x"][1] == "2026-12-01 16:00:00"  # China time


def test_hourly_aggregates_are_a_min_max_band_and_a_mean_line():
    ((_, figure),) = device_figures("water_level", HOURLY, [], Window(BASE - HOUR_MS, BASE + HOUR_MS), "zh")
    high, low, mean = figure["data"]
    assert (high["y"], low["y"], mean["y"]) == ([4.1, 4.5], [3.9, 4.2], [4.0, 4.3])
    assert low["fill"] == "tonexty"


def test_the_rules_threshold_is_a_horizontal_line_with_its_words():
    window = Window(BASE - HOUR_MS, BASE + HOUR_MS)
    (_, figure), _ = device_figures("water_level", RAW, [alarm(BASE)], window, "zh")
    (line,) = [s for s in figure["layout"]["shapes"] if s["name"] == "threshold"]
    assert line["y0"] == line["y1"] == 4.2
    assert "水位超警戒 ≥ 4.20 m" in [a["text"] for a in figure["layout"]["annotations"]]


def test_a_boolean_rule_draws_no_threshold():
    assert thresholds("manhole", "tilt", [alarm(BASE, rule="manhole_displaced")], Window(BASE - HOUR_MS, BASE + HOUR_MS)) == []


def test_an_alarm_outside_the_window_draws_nothing():
    window = Window(BASE + 5 * HOUR_MS, BASE + 6 * HOUR_MS)
    assert thresholds("water_level", "waterLevel", [alarm(BASE, cleared=BASE + MIN)], window) == []
    assert markers([alarm(BASE, cleared=BASE + MIN)], window) == []


def test_raise_acknowledgement_and_clear_are_vertical_markers_in_time_order():
    found = markers([alarm(BASE, cleared=BASE + 40 * MIN, acked=BASE + 5 * MIN)], Window(BASE - HOUR_MS, BASE + HOUR_MS), "zh")
    assert found == [(BASE, "raised", "告警"), (BASE + 5 * MIN, "acknowledged", "确认"), (BASE + 40 * MIN, "cleared", "解除")]


def test_a_ratio_is_charted_in_percent():
    series = {"resolution": "raw", "points": [{"at_ms": BASE, "values": {"occupancy": 0.25}}]}
    ((_, figure),) = device_figures("traffic", series, [], Window(BASE - HOUR_MS, BASE + HOUR_MS), "en")
    assert figure["data"][0]["y"] == [25.0] and figure["layout"]["title"]["text"] == "Occupancy (%)"


def test_the_note_says_hourly_aggregates_or_no_readings():
    assert "每小时汇总" in series_note(HOURLY, "zh")
    assert series_note(RAW, "zh") == ""
    assert series_note({"resolution": "hour", "points": []}, "en") == "The record holds no reading of this device in this window"


# ---- the page's state in its address, the alarm list's pages (issue 17) -------------------------------

def test_the_address_keeps_the_window_its_alarm_and_the_page():
    window = Window(BASE - 2 * HOUR_MS, BASE + HOUR_MS, BASE)
    search = page_query(window, 2)
    assert search == f"?at={BASE}&from={BASE - 2 * HOUR_MS}&to={BASE + HOUR_MS}&page=3"
    assert parse_window(search) == window and parse_page(search) == 2


def test_a_window_not_opened_around_an_alarm_and_the_first_page_keep_a_short_address():
    assert page_query(Window(BASE, BASE + HOUR_MS)) == f"?from={BASE}&to={BASE + HOUR_MS}"
    assert parse_window(f"?from={BASE}&to={BASE + HOUR_MS}") == Window(BASE, BASE + HOUR_MS, None)


def test_an_address_without_a_window_or_with_a_wrong_one_keeps_none():
    assert parse_window(f"?at={BASE}") is None
    assert parse_window(f"?from={BASE}&to={BASE}") is None  # no span
    assert parse_window(f"?from={BASE}&to=soon") is None
    assert parse_page("?page=0") == 0 and parse_page("?page=x") == 0 and parse_page(None) == 0


def test_the_pager_says_which_alarms_are_listed_of_how_many():
    assert pager_text(0, ALARM_PAGE, 57, "zh") == "第 1–20 条，共 57 条"
    assert pager_text(2, 17, 57, "en") == "41–57 of 57"
    assert pager_text(0, 0, 0, "zh") == ""


def test_the_last_page_holds_the_oldest_alarms():
    assert [last_page(n) for n in (0, 1, 20, 21, 40, 41)] == [0, 0, 0, 1, 1, 2]
