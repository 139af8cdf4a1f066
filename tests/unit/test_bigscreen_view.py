"""Pure functions behind the big screen: a snapshot in, figures and map styles out."""

from __future__ import annotations

import pytest

from ioc.domain.city_state import CitySnapshot, DeviceRow
from ioc.domain.air_quality import iaqi, primary_pollutant
from ioc.views.bigscreen import (alarms_geojson, city_stat, district_hideout, district_ranking, district_values, fmt_value,
                                 freshness, kpi_texts, kpis, offline_ids, value_share, water_alert)

NOW = 1_795_600_000_000


def dev(i, kind, district, online=True):
    return DeviceRow(f"{kind}-{i}", kind, f"{kind} {i}", 120.55, 31.87, district, online)


@pytest.fixture
def snapshot():
    devices = [dev(1, "air_quality", "yangshe"), dev(2, "air_quality", "jinfeng", online=False),
               dev(3, "water_level", "yangshe"), dev(4, "crowd", "yangshe"), dev(5, "crowd", "jinfeng")]
    recent = {
        "yangshe|air_quality|airQualityIndex:s": 160.0, "yangshe|air_quality|airQualityIndex:n": 2,
        "jinfeng|air_quality|airQualityIndex:s": 120.0, "jinfeng|air_quality|airQualityIndex:n": 1,
        "yangshe|air_quality|pm25:s": 180.0, "yangshe|air_quality|pm25:n": 2,
        "yangshe|water_level|waterLevel:s": 8.6, "yangshe|water_level|waterLevel:n": 2, "yangshe|water_level|waterLevel:x": 4.5,
        "yangshe|crowd|peopleCount:s": 3000.0, "yangshe|crowd|peopleCount:n": 2,
        "jinfeng|crowd|peopleCount:s": 1000.0, "jinfeng|crowd|peopleCount:n": 1,
        "yangshe|streetlight|powerState=on:n": 3, "yangshe|streetlight|powerState=off:n": 1,
        "yangshe|air_quality|_:n": 2, "jinfeng|air_quality|_:n": 1,
    }
    alarms = [{"id": "water_level-3|water_level_warning", "device_id": "water_level-3", "severity": "major", "district": "yangshe",
               "rule_id": "water_level_warning", "name_zh": "水位超警戒", "name_en": "Water level above warning line"},
              {"id": "crowd-5|crowd_critical", "device_id": "crowd-5", "severity": "critical", "district": "jinfeng",
               "rule_id": "crowd_critical", "name_zh": "人员严重聚集", "name_en": "Crowd critical"}]
    return CitySnapshot(NOW, devices, alarms, {"messages:accepted": 10}, recent, {})


def test_city_statistics_add_every_district(snapshot):
    assert city_stat(snapshot.recent, "air_quality", "airQualityIndex") == (280.0, 3, None)


def test_district_statistics_keep_to_their_district(snapshot):
    assert city_stat(snapshot.recent, "air_quality", "airQualityIndex", "jinfeng") == (120.0, 1, None)


def test_enum_shares_count_readings_of_that_value(snapshot):
    assert value_share(snapshot.recent, "streetlight", "powerState", "on") == pytest.approx(0.75)


def test_kpis_of_the_city(snapshot):
    k = kpis(snapshot)
    assert (k.devices, k.online) == (5, 4)
    assert k.online_rate == pytest.approx(80.0)
    assert k.alarms == {"critical": 1, "major": 1, "minor": 0}
    assert k.aqi == pytest.approx(280 / 3)
    assert k.water_level_max == 4.5 and water_alert(k)
    assert k.people == round(4000 / 3 * 2)


def test_kpis_of_one_district(snapshot):
    k = kpis(snapshot, district="jinfeng")
    assert (k.devices, k.online, k.aqi) == (2, 1, 120.0)
    assert k.alarms["critical"] == 1 and k.alarms["major"] == 0


def test_kpi_texts_are_chinese_by_default_and_english_on_request(snapshot):
    assert "紧急 1" in kpi_texts(kpis(snapshot))["kpi_alarms"][1]
    assert "Critical 1" in kpi_texts(kpis(snapshot, "en"), "en")["kpi_alarms"][1]


def test_district_values_per_indicator(snapshot):
    assert district_values(snapshot, "alarms") == {"yangshe": 1, "jinfeng": 1}
    assert district_values(snapshot, "aqi") == {"yangshe": 80.0, "jinfeng": 120.0}
    assert district_values(snapshot, "online") == {"yangshe": 100.0, "jinfeng": 50.0}


def test_the_map_hideout_carries_values_breaks_colours_and_selection(snapshot):
    hideout = district_hideout({"yangshe": 2}, "alarms", selected="yangshe")
    assert hideout["values"] == {"yangshe": 2} and hideout["selected"] == "yangshe"
    assert len(hideout["breaks"]) == len(hideout["colors"])


def test_offline_devices_are_listed_for_greying(snapshot):
    assert offline_ids(snapshot.devices) == ["air_quality-2"]


def test_alarm_points_sit_on_their_devices_worst_first(snapshot):
    features = alarms_geojson(snapshot.alarms, snapshot.devices)["features"]
    assert [f["properties"]["severity"] for f in features] == ["critical", "major"]


def test_freshness_turns_stale_when_the_counter_stops():
    first = freshness(None, 10, NOW)
    assert not first["stale"]
    assert not freshness(first, 10, NOW + 5_000)["stale"]
    assert freshness(first, 10, NOW + 20_000)["stale"]
    assert not freshness(freshness(first, 10, NOW + 20_000), 11, NOW + 21_000)["stale"]


def test_the_ranking_has_a_row_per_district(snapshot, city):
    rows = district_ranking(snapshot, city)
    assert len(rows) == len(city.districts)
    yangshe = next(r for r in rows if r["id"] == "yangshe")
    assert (yangshe["alarms"], yangshe["aqi"], yangshe["devices"]) == (1, 80.0, 3)


def test_values_are_shown_for_people():
    assert fmt_value(True) == "是" and fmt_value(False, "en") == "no"
    assert fmt_value(4.123456) == "4.123"


def test_iaqi_follows_the_hj_633_breakpoints():
    assert iaqi("pm25", 35) == 50 and iaqi("pm25", 75) == 100
    assert iaqi("pm25", 55) == pytest.approx(75)


def test_no_primary_pollutant_when_the_air_is_excellent():
    assert primary_pollutant({"pm25": 20, "pm10": 30})[0] is None
    assert primary_pollutant({"pm25": 90, "pm10": 30})[0] == "pm25"


# --- operator attention ------------------------------------------------------------------------

from ioc.domain.alarm_handling import EscalationPolicy  # noqa: E402
from ioc.views.bigscreen import alarm_board, escalated_count, grid_values, popup_alarm  # noqa: E402
from ioc.views.trends import Series, trend_figure  # noqa: E402

POLICY = EscalationPolicy(critical=5, major=15, minor=None)


def alarm(id_, severity, minutes_ago, ack=None, device="water_level-3"):
    return {"id": id_, "device_id": device, "severity": severity, "district": "yangshe", "rule_id": "r",
            "name_zh": "规则", "name_en": "rule", "value": 1.0, "raised_at": NOW - minutes_ago * 60_000, "ack": ack}


def test_the_board_puts_escalated_alarms_first_then_severity_then_newest(snapshot, city):
    alarms = [alarm("a", "minor", 1), alarm("b", "critical", 1), alarm("c", "major", 20), alarm("d", "critical", 2)]
    rows = alarm_board(alarms, snapshot.devices, city, NOW, POLICY)
    assert [r["id"] for r in rows] == ["c", "b", "d", "a"]
    assert rows[0]["escalated"] and rows[0]["overdue_minutes"] >= 5


def test_an_acknowledged_alarm_shows_who_and_never_escalates(snapshot, city):
    acked = alarm("a", "critical", 30, ack={"by": "张三", "role": "operator", "at_ms": NOW - 60_000})
    row = alarm_board([acked], snapshot.devices, city, NOW, POLICY)[0]
    assert row["acked_by"] == "张三" and not row["escalated"]
    assert escalated_count([acked, alarm("b", "critical", 30)], NOW, POLICY) == 1


def test_the_popup_shows_the_newest_unseen_unacknowledged_critical_alarm():
    alarms = [alarm("old", "critical", 5), alarm("new", "critical", 1), alarm("major", "major", 0),
              alarm("acked", "critical", 0, ack={"by": "x", "role": "operator", "at_ms": NOW})]
    assert popup_alarm(alarms, [])["id"] == "new"
    assert popup_alarm(alarms, ["new"])["id"] == "old"
    assert popup_alarm(alarms, ["new", "old"]) is None


def test_grid_cells_weigh_alarms_by_severity():
    devices = [DeviceRow("d1", "manhole", "d1", 120.55, 31.87, "yangshe", True, "C1"),
               DeviceRow("d2", "manhole", "d2", 120.55, 31.87, "yangshe", True, "C1")]
    alarms = [alarm("a", "critical", 1, device="d1"), alarm("b", "minor", 1, device="d2")]
    assert grid_values(alarms, devices) == {"C1": 4}


def test_trend_figures_keep_gaps_and_draw_the_warning_line():
    figure = trend_figure(Series([NOW, NOW + 3_600_000], [4.1, None]), "水位", "#2fa4e7", reference=4.2)
    assert figure["data"][0]["y"] == [4.1, None] and figure["data"][0]["connectgaps"] is False
    assert figure["layout"]["shapes"][0]["y0"] == 4.2


def test_the_unit_grid_layer_has_a_square_per_city_cell(city):
    grid = city.grid_geojson()
    assert len(grid["features"]) == len(city.cell_ids)
    ring = grid["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5


@pytest.fixture
def with_cases(snapshot):
    """Three open cases: two in Yangshe (one past its deadline, one reported yesterday), one in Jinfeng."""
    from dataclasses import replace

    from ioc.domain.cases import Case

    midnight = NOW - (NOW + 8 * 3_600_000) % 86_400_000
    base = Case("C1", "10101", 31.87, 120.55, "yangshe", "hotline", NOW - 60_000, stage_deadline=NOW - 1)
    cases = [base, replace(base, id="C2", created_at=midnight - 1, stage_deadline=NOW + 3_600_000),
             replace(base, id="C3", district="jinfeng", stage_deadline=NOW + 3_600_000)]
    return replace(snapshot, cases=cases)


def test_the_cases_card_counts_open_overdue_and_todays_cases(with_cases):
    k = kpis(with_cases)
    assert (k.cases_open, k.cases_overdue, k.cases_today) == (3, 1, 2)
    assert kpi_texts(k)["kpi_cases"] == ("3", "超期 1 · 今日上报在办 2")


def test_a_districts_case_card_keeps_to_its_district(with_cases):
    k = kpis(with_cases, district="jinfeng")
    assert (k.cases_open, k.cases_overdue) == (1, 0)


def test_the_map_colours_districts_by_open_cases(with_cases):
    assert district_values(with_cases, "cases") == {"yangshe": 2, "jinfeng": 1}


def test_the_ranking_lists_open_and_overdue_cases(with_cases, city):
    rows = {r["id"]: r for r in district_ranking(with_cases, city)}
    assert (rows["yangshe"]["cases"], rows["yangshe"]["cases_overdue"], rows["jinfeng"]["cases"]) == (2, 1, 1)


# --------------------------------------------------------------------------- issue 13: cards that say something

def at_local(snapshot, hour: float):
    """The snapshot taken at local (Asia/Shanghai) `hour` of its day."""
    from dataclasses import replace

    midnight = NOW - (NOW + 8 * 3_600_000) % 86_400_000
    return replace(snapshot, now_ms=int(midnight + hour * 3_600_000))


def test_street_lights_by_day_say_off_by_day_and_count_the_faulty(snapshot):
    from dataclasses import replace

    faulty = {"id": "sl-1|streetlight_fault", "device_id": "sl-1", "severity": "major", "district": "yangshe",
              "rule_id": "streetlight_fault", "name_zh": "路灯故障", "name_en": "Street light fault"}
    noon = replace(at_local(snapshot, 12.0), alarms=snapshot.alarms + [faulty])
    assert kpi_texts(kpis(noon))["kpi_lights"] == ("白天关灯", "按时段 18:00–06:00 亮灯 · 故障路灯 1")
    assert kpi_texts(kpis(noon, "en"), "en")["kpi_lights"][0] == "Off by day"


def test_street_lights_at_night_show_the_share_lit_of_the_lamps_scheduled_on(snapshot):
    value, sub = kpi_texts(kpis(at_local(snapshot, 22.0)))["kpi_lights"]
    assert value == "75.0%" and sub.startswith("按时段应亮路灯中")


def test_street_lights_while_the_controllers_switch_say_so(snapshot):
    assert kpi_texts(kpis(at_local(snapshot, 18.0)))["kpi_lights"][1].startswith("开关灯时段")


def test_the_highest_water_level_names_its_gauge_and_district(snapshot, city):
    from dataclasses import replace

    gauges = snapshot.devices + [DeviceRow("wl-jinfeng-0001", "water_level", "锦丰 长江水位站 1", 120.6, 31.9, "jinfeng", True),
                                 DeviceRow("wl-daxin-0001", "water_level", "大新 长江水位站 1", 120.5, 31.9, "daxin", False)]
    levels = {"water_level-3": 3.1, "wl-jinfeng-0001": 3.6, "wl-daxin-0001": 9.9}  # the offline gauge's old reading is not news
    with_gauges = replace(snapshot, devices=gauges, water_levels=levels)
    k = kpis(with_gauges)
    assert (k.water_gauge, k.water_district) == ("wl-jinfeng-0001", "jinfeng")
    assert kpi_texts(k, "zh", city)["kpi_water"][1] == "锦丰 长江水位站 1 (锦丰镇) · 警戒水位 4.20 m"
    assert kpi_texts(k, "en", city)["kpi_water"][1].startswith("锦丰 长江水位站 1 (Jinfeng")
    assert kpis(with_gauges, district="yangshe").water_gauge == "water_level-3"


def test_the_crowd_card_is_the_total_at_its_hotspots(snapshot):
    k = kpis(snapshot)
    assert k.people == round(4000 / 3 * 2) and k.people_hotspots == 2
    assert kpi_texts(k)["kpi_people"] == ("2,667", "2 处重点区域合计")
    assert kpi_texts(k, "en")["kpi_people"][1] == "Total at 2 hotspots"


def test_the_digital_hub_card_shows_calls_a_minute_and_the_error_rate(snapshot):
    from dataclasses import replace

    recent = dict(snapshot.recent, **{"yangshe|platform|calls:s": 4200.0, "yangshe|platform|calls:n": 288,
                                       "yangshe|platform|errors:s": 21.0, "yangshe|platform|errors:n": 288})
    value, sub = kpi_texts(kpis(replace(snapshot, recent=recent)))["kpi_platform"]
    assert "接口调用/分钟 4,200" in sub and "错误率 0.50 %" in sub
