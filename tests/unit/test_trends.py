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
