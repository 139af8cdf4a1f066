"""Pure functions behind the big screen: a snapshot in, figures and map styles out."""

from __future__ import annotations

import pytest

from ioc.adapters.city_snapshot import CitySnapshot, DeviceRow
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
