"""Which past hours `python -m ioc demo` backfills for the 24-hour trend panels (ioc.demo.history_gap)."""

from __future__ import annotations

from ioc.demo import history_gap

HOUR = 494_000  # the hour in progress (epoch hours)
FIRST = HOUR - 23  # the panels' first hour


def test_a_fresh_demo_fills_the_whole_window_up_to_now():
    assert history_gap(set(), HOUR) == (FIRST, None)


def test_a_restart_on_a_full_day_fills_nothing():
    assert history_gap(set(range(FIRST, HOUR + 1)), HOUR) is None


def test_a_restart_after_a_short_run_fills_the_hours_before_it():
    assert history_gap({HOUR - 2, HOUR - 1, HOUR}, HOUR) == (FIRST, HOUR - 2)


def test_a_gap_after_the_first_hour_is_history_and_stays():
    assert history_gap({FIRST, HOUR - 1}, HOUR) is None


def test_hours_older_than_the_window_do_not_count():
    assert history_gap({FIRST - 5}, HOUR) == (FIRST, None)
