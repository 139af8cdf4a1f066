"""Specification of the trend series (ioc.views.trends): merged rollup buckets -> plain x/y lists
for a Plotly trace, per city or district, with gaps (None) where a bucket holds nothing."""

from __future__ import annotations

import pytest

from ioc.views.trends import trend

HOUR = 490_000  # an epoch hour
H_MS = HOUR * 3_600_000

BUCKETS = {
    HOUR: {
        "yangshe|noise|LAeq:s": 120.0, "yangshe|noise|LAeq:n": 2, "yangshe|noise|LAeq:x": 70.0,
        "yangshe|noise|_:n": 2,
        "daxin|noise|LAeq:s": 50.0, "daxin|noise|LAeq:n": 1, "daxin|noise|LAeq:x": 50.0,
        "daxin|noise|_:n": 1,
        "yangshe|streetlight|status=ok:n": 3, "yangshe|streetlight|status=defectiveLamp:n": 1,
        "daxin|streetlight|status=ok:n": 4,
        "yangshe|streetlight|_:n": 4, "daxin|streetlight|_:n": 4,
        "yangshe|crowd|congested=true:n": 1, "yangshe|crowd|congested=false:n": 3, "yangshe|crowd|_:n": 4,
    },
    HOUR + 1: {},  # nothing was written in this hour
    HOUR + 2: {
        "yangshe|noise|LAeq:s": 60.0, "yangshe|noise|LAeq:n": 1, "yangshe|noise|LAeq:x": 60.0,
        "yangshe|noise|_:n": 1,
    },
}


def test_x_is_the_bucket_start_in_epoch_ms():
    assert trend(BUCKETS, "hour", "noise", "LAeq", "avg").x == [H_MS, H_MS + 3_600_000, H_MS + 7_200_000]
    assert trend({10: {}}, "minute", "noise", "LAeq", "avg").x == [600_000]


def test_avg_is_the_sum_over_the_count():
    assert trend(BUCKETS, "hour", "noise", "LAeq", "avg").y[0] == pytest.approx(170.0 / 3)


def test_max_is_the_largest_reading():
    assert trend(BUCKETS, "hour", "noise", "LAeq", "max").y[0] == 70.0


def test_sum_and_count_of_a_numeric_attribute():
    assert trend(BUCKETS, "hour", "noise", "LAeq", "sum").y[0] == 170.0
    assert trend(BUCKETS, "hour", "noise", "LAeq", "count").y[0] == 3
    assert trend(BUCKETS, "hour", "noise", "_", "count").y[0] == 3


def test_empty_and_missing_buckets_are_gaps_not_zeros():
    sparse = {HOUR: BUCKETS[HOUR], HOUR + 3: BUCKETS[HOUR + 2]}  # HOUR+1 and +2 absent
    assert trend(sparse, "hour", "noise", "LAeq", "count").y == [3, None, None, 1]
    assert trend(BUCKETS, "hour", "noise", "LAeq", "avg").y[1] is None


def test_a_bucket_without_readings_of_the_series_is_a_gap():
    assert trend(BUCKETS, "hour", "noise", "LAeq", "max", district="daxin").y == [50.0, None, None]


def test_the_district_filter_keeps_only_that_district():
    series = trend(BUCKETS, "hour", "noise", "LAeq", "avg", district="yangshe")
    assert series.y == [60.0, None, 60.0]


def test_the_share_of_an_enum_value_is_over_readings_carrying_the_attribute():
    assert trend(BUCKETS, "hour", "streetlight", "status", "share", value="ok").y[0] == pytest.approx(7 / 8)
    assert trend(BUCKETS, "hour", "streetlight", "status", "share", value="ok", district="yangshe").y[0] == 0.75
    assert trend(BUCKETS, "hour", "streetlight", "status", "count", value="defectiveLamp").y[0] == 1


def test_the_share_of_a_boolean_value():
    assert trend(BUCKETS, "hour", "crowd", "congested", "share", value=True).y[0] == 0.25


def test_a_value_absent_from_a_bucket_with_other_values_has_share_zero():
    assert trend(BUCKETS, "hour", "streetlight", "status", "share", value="columnIssue").y[0] == 0.0


def test_the_city_is_the_sum_of_its_districts():
    for stat in ("sum", "count"):
        city = trend(BUCKETS, "hour", "noise", "LAeq", stat).y[0]
        parts = [trend(BUCKETS, "hour", "noise", "LAeq", stat, district=d).y[0] for d in ("yangshe", "daxin")]
        assert city == sum(parts)


def test_the_city_max_is_the_max_of_its_districts():
    assert trend(BUCKETS, "hour", "noise", "LAeq", "max").y[0] == 70.0


def test_no_buckets_give_empty_lists():
    series = trend({}, "hour", "noise", "LAeq", "avg")
    assert (series.x, series.y) == ([], [])


@pytest.mark.parametrize("kwargs", [
    dict(resolution="day", stat="avg"), dict(resolution="hour", stat="median"),
    dict(resolution="hour", stat="share"), dict(resolution="hour", stat="avg", value="ok"),
])
def test_unknown_resolution_stat_or_misused_value_is_refused(kwargs):
    with pytest.raises(ValueError):
        trend(BUCKETS, kind="streetlight", attribute="status", **kwargs)


# --------------------------------------------------------------------------- issue 13: panels that say something

from ioc.views.trends import TREND_PANELS, panel_figure, panel_series, y_range  # noqa: E402

PANELS = {p.key: p for p in TREND_PANELS}


def test_the_aqi_axis_starts_at_zero_and_spans_at_least_0_to_100():
    lo, hi = y_range([55.0, 56.0], PANELS["trend_aqi"].floor, PANELS["trend_aqi"].min_span)
    assert lo == 0 and 100 <= hi <= 110


def test_a_high_aqi_widens_the_axis():
    assert y_range([80.0, 260.0], 0.0, 100.0)[1] > 260


def test_the_people_axis_starts_at_zero():
    assert y_range([5200.0, 5210.0], PANELS["trend_people"].floor, PANELS["trend_people"].min_span)[0] == 0


def test_the_water_axis_keeps_the_warning_line_in_view_and_a_wobble_small():
    lo, hi = y_range([3.00, 3.01], PANELS["trend_water"].floor, PANELS["trend_water"].min_span, reference=4.2)
    assert lo < 3.0 and hi > 4.2 and hi - lo >= 1.5
    lo, hi = y_range([4.0, 4.01], None, 1.5, reference=4.2)
    assert hi - lo >= 1.5


def test_an_axis_without_values_is_left_to_plotly():
    assert y_range([None, None], 0.0, 100.0) is None


def bucket(hour_fields):
    return {HOUR + i: fields for i, fields in enumerate(hour_fields)}


def crowd(total, n):
    return {"yangshe|crowd|peopleCount:s": total, "yangshe|crowd|peopleCount:n": n}


def test_the_hour_in_progress_is_drawn_dotted_and_labelled():
    buckets = bucket([crowd(3000.0, 3), crowd(3300.0, 3), crowd(1200.0, 1)])
    now_ms = (HOUR + 2) * 3_600_000 + 20 * 60_000  # 20 minutes into the third hour
    figure = panel_figure(PANELS["trend_people"], buckets, now_ms, "人流", "本小时（进行中）", devices=2)
    complete, partial = figure["data"]
    assert complete["y"] == [2000.0, 2200.0]
    assert partial["y"] == [2200.0, 2400.0] and partial["line"]["dash"] == "dot"
    assert "本小时（进行中）" in partial["hovertemplate"]
    assert figure["layout"]["annotations"][0]["text"] == "本小时（进行中）"


def test_complete_hours_only_are_drawn_as_one_solid_line():
    figure = panel_figure(PANELS["trend_people"], bucket([crowd(3000.0, 3)]), (HOUR + 5) * 3_600_000, "人流", "x", devices=2)
    assert len(figure["data"]) == 1 and "dash" not in figure["data"][0]["line"]


def test_the_crowd_trend_is_the_crowd_cards_measure(city):
    from ioc.domain.city_state import CitySnapshot, DeviceRow
    from ioc.views.bigscreen import kpis

    fields = {"yangshe|crowd|peopleCount:s": 3000.0, "yangshe|crowd|peopleCount:n": 2,
              "jinfeng|crowd|peopleCount:s": 1000.0, "jinfeng|crowd|peopleCount:n": 1}
    devices = [DeviceRow(f"cr-{i}", "crowd", f"c{i}", 120.55, 31.87, "yangshe", True) for i in range(3)]
    card = kpis(CitySnapshot(HOUR * 3_600_000, devices, [], {}, fields, {})).people
    trend_value = panel_series(PANELS["trend_people"], {HOUR: fields}, devices=3).y[0]
    assert card == round(trend_value) == 4000  # the mean per hotspot (4000 / 3) × 3 hotspots


def test_the_aqi_trend_is_the_aqi_cards_iaqi():
    from ioc.domain.city_state import CitySnapshot
    from ioc.views.bigscreen import kpis

    fields = {"yangshe|air_quality|airQualityIndex:s": 160.0, "yangshe|air_quality|airQualityIndex:n": 2,
              "jinfeng|air_quality|airQualityIndex:s": 40.0, "jinfeng|air_quality|airQualityIndex:n": 1}
    card = kpis(CitySnapshot(HOUR * 3_600_000, [], [], {}, fields, {})).aqi
    assert panel_series(PANELS["trend_aqi"], {HOUR: fields}).y[0] == pytest.approx(card) == pytest.approx(200 / 3)


def test_a_total_without_its_device_count_is_a_gap_not_a_zero():
    assert panel_series(PANELS["trend_people"], bucket([crowd(3000.0, 3)]), devices=0).y == [None]


# --------------------------------------------------------------------------- issue 17: the trends of a replayed moment

from ioc.domain.clock import local_text  # noqa: E402
from ioc.views.trends import panel_figures  # noqa: E402

MOMENT = (HOUR + 2) * 3_600_000 + 40 * 60_000 + 25_000  # 40 min 25 s into the third hour


def test_a_replayed_moment_is_marked_by_a_line_and_ends_the_x_axis():
    figure = panel_figure(PANELS["trend_people"], bucket([crowd(3000.0, 3), {}, crowd(1200.0, 1)]), MOMENT, "人流", "截至",
                          devices=2, moment_label="回放 16:40")
    at = local_text(MOMENT, "%Y-%m-%d %H:%M")
    (line,) = [s for s in figure["layout"]["shapes"] if s.get("name") == "moment"]
    assert line["x0"] == line["x1"] == at
    assert figure["layout"]["xaxis"]["range"][1] == at
    assert "回放 16:40" in [a["text"] for a in figure["layout"]["annotations"]]


def test_early_in_its_hour_the_replayed_axis_still_has_room_for_the_hours_marker():
    early = (HOUR + 2) * 3_600_000 + 5 * 60_000
    figure = panel_figure(PANELS["trend_aqi"], bucket([{}, {}, {}]), early, "AQI", "x", moment_label="回放")
    assert figure["layout"]["xaxis"]["range"][1] == local_text((HOUR + 2) * 3_600_000 + 15 * 60_000, "%Y-%m-%d %H:%M")


def test_a_live_figure_has_no_moment_line():
    figure = panel_figure(PANELS["trend_people"], bucket([crowd(3000.0, 3)]), HOUR * 3_600_000 + 60_000, "人流", "x", devices=2)
    assert not [s for s in figure["layout"]["shapes"] if s.get("name") == "moment"]


def test_the_replayed_panels_say_until_when_their_last_hour_counts_in_both_languages():
    buckets = bucket([crowd(3000.0, 3), {}, crowd(1200.0, 1)])
    clock = local_text(MOMENT, "%H:%M")
    zh = panel_figures(buckets, MOMENT, 2, "zh", replayed=True)
    en = panel_figures(buckets, MOMENT, 2, "en", replayed=True)
    people = [f for f in zh if "人流" in f["layout"]["title"]["text"]][0]
    assert [a["text"] for a in people["layout"]["annotations"]] == [f"截至 {clock}", f"回放 {clock}"]
    assert f"Replay {clock}" in [a["text"] for f in en for a in f["layout"]["annotations"]]


def test_the_live_panels_keep_their_hour_in_progress_words():
    now = (HOUR + 2) * 3_600_000 + 10 * 60_000
    figures = panel_figures(bucket([crowd(3000.0, 3), {}, crowd(1200.0, 1)]), now, 2, "zh")
    assert len(figures) == len(TREND_PANELS)
    assert [a["text"] for f in figures for a in f["layout"]["annotations"]] == ["本小时（进行中）"]
