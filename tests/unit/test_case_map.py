"""The maps' open-case layer (在办案件): open cases in, compact GeoJSON points and the words of
their tooltips out (ioc/views/case_map.py)."""

from __future__ import annotations

import pytest

from ioc.domain.cases import Case
from ioc.record.rewind import CaseAt
from ioc.views.case_map import (CASE_COLORS, case_layer_hideout, case_marker_text, cases_geojson, cases_url, next_change,
                                replay_moment)
from ioc.web.map_data import CaseLayers

NOW = 1_795_600_000_000
HOUR = 3_600_000


def case(case_id, district="yangshe", stage="dispatched", deadline=0, urgent=False, lon=120.5512345, lat=31.8712345, code="10101"):
    return Case(id=case_id, class_code=code, lat=lat, lon=lon, district=district, source="hotline", created_at=NOW - HOUR,
                stage=stage, urgent=urgent, stage_deadline=deadline)


def points(layer) -> dict[str, dict]:
    return {f["properties"]["id"]: f for f in layer["features"]}


def test_each_open_case_is_a_point_at_its_place_to_five_decimals():
    (feature,) = cases_geojson([case("C-1")], NOW)["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [120.55123, 31.87123]}
    assert feature["properties"] == {"id": "C-1", "c": "10101", "s": "dispatched", "d": "yangshe", "k": "open"}


def test_a_case_past_its_deadline_is_overdue_even_when_urgent():
    layer = points(cases_geojson([case("late", deadline=NOW - 1, urgent=True), case("soon", deadline=NOW + HOUR, urgent=True),
                                  case("calm", deadline=NOW + HOUR)], NOW))
    assert {k: f["properties"]["k"] for k, f in layer.items()} == {"late": "overdue", "soon": "urgent", "calm": "open"}


def test_overdue_is_red_urgent_orange_and_the_others_a_calm_colour():
    assert CASE_COLORS == {"overdue": "#ff3b30", "urgent": "#ff9f1c", "open": "#2ec4b6"}
    assert case_layer_hideout_for("zh")["colors"] == CASE_COLORS


def test_a_case_without_a_place_or_already_ended_is_not_drawn():
    layer = points(cases_geojson([case("nowhere", lon=0.0, lat=0.0), case("closed", stage="closed"), case("here")], NOW))
    assert set(layer) == {"here"}


def test_one_districts_layer_holds_only_its_cases():
    assert set(points(cases_geojson([case("a", "yangshe"), case("b", "jinfeng")], NOW, "jinfeng"))) == {"b"}


def test_a_replayed_case_is_drawn_as_it_stood_at_that_moment():
    then = CaseAt("C1", 2, "dispatched", "daxin", "10105", 120.3, 30.3, False, NOW - HOUR, NOW - 60_000)
    assert points(cases_geojson([then], NOW - 120_000))["C1"]["properties"]["k"] == "open"
    assert points(cases_geojson([then], NOW))["C1"]["properties"]["k"] == "overdue"


def case_layer_hideout_for(lang, can_open=False):
    from ioc.adapters.geodata_files import load_city_map
    from ioc.settings import Settings

    return case_layer_hideout(load_city_map(Settings.from_env(env={}).geodata_dir), lang, can_open)


@pytest.mark.parametrize("lang, words", [
    ("zh", ["案件 C-1 · 已超期", "井盖丢失", "处置中 · 杨舍镇"]),
    ("en", ["Case C-1 · overdue", "Manhole cover missing", "Being handled · Yangshe"]),
])
def test_a_tooltip_says_the_case_number_its_class_stage_and_district_in_words(lang, words):
    (feature,) = cases_geojson([case("C-1", deadline=NOW - 1)], NOW)["features"]
    lines = case_marker_text(feature["properties"], case_layer_hideout_for(lang))
    assert lines == words


def test_the_tooltip_offers_the_case_page_only_to_who_may_open_it():
    (feature,) = cases_geojson([case("C-1")], NOW)["features"]
    assert case_marker_text(feature["properties"], case_layer_hideout_for("zh", can_open=True))[-1] == "点击打开案件"
    assert len(case_marker_text(feature["properties"], case_layer_hideout_for("zh"))) == 3


def test_a_class_or_stage_the_words_do_not_know_is_said_unknown_not_shown_as_a_code():
    (feature,) = cases_geojson([case("C-1", code="0101", stage="reviewing")], NOW)["features"]
    lines = case_marker_text(feature["properties"], case_layer_hideout_for("en"))
    assert lines[1] == "unknown" and lines[2].startswith("unknown · ")


def test_the_layer_address_is_live_with_a_version_or_a_moment_of_the_record():
    assert cases_url() == "/api/v1/map/cases"
    assert cases_url("daxin", version=3) == "/api/v1/map/cases?district=daxin&v=3"
    assert cases_url(at=NOW) == f"/api/v1/map/cases?at={NOW}"


def test_while_playing_the_layer_moves_every_few_seconds_of_playback_and_paused_to_the_moment():
    play = {"speed": 60, "t0": NOW, "w0": 0, "last": NOW + 24 * HOUR}
    assert [replay_moment(NOW + s * 60_000, play) for s in range(7)] == [NOW] * 5 + [NOW + 300_000] * 2
    assert replay_moment(NOW + 61_000, None) == NOW + 61_000


def test_the_next_change_is_when_the_first_open_case_turns_overdue():
    assert next_change([case("a", deadline=NOW + HOUR), case("b", deadline=NOW + 2 * HOUR), case("c", deadline=NOW - 1)], NOW) == NOW + HOUR
    assert next_change([case("a")], NOW) == float("inf")


def test_the_live_layer_moves_when_the_cases_change_or_one_turns_overdue_and_at_most_every_interval():
    layers, first, second = CaseLayers(every_ms=15_000), [case("a", deadline=NOW + 20_000)], [case("a"), case("b")]
    current = [first]
    v1 = layers.version(lambda: current[0], NOW)
    current[0] = second
    assert layers.version(lambda: current[0], NOW + 5_000) == v1  # looked at again only after the interval
    v2 = layers.version(lambda: current[0], NOW + 15_000)
    assert v2 != v1
    assert layers.version(lambda: current[0], NOW + 30_000) == v2  # nothing changed, nothing turned overdue
    current[0] = first
    v3 = layers.version(lambda: current[0], NOW + 45_000)
    assert layers.version(lambda: current[0], NOW + 60_000) == v3  # "a" is overdue since NOW + 20 s: built so already
