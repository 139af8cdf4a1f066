"""China Standard Time (ioc.domain.clock): UTC+8 all year, computed by hand."""

from __future__ import annotations

from datetime import datetime, timezone

from ioc.domain.clock import local_hour, local_iso, local_midnight_ms, local_text

# 2026-11-25 16:30:00 UTC is 2026-11-26 00:30 in China
LATE_UTC = int(datetime(2026, 11, 25, 16, 30, tzinfo=timezone.utc).timestamp() * 1000)


def test_an_instant_reads_in_china_time_past_utc_midnight():
    assert local_text(LATE_UTC, "%Y-%m-%d %H:%M") == "2026-11-26 00:30"


def test_iso_text_carries_the_plus_eight_offset():
    assert local_iso(LATE_UTC) == "2026-11-26T00:30:00+08:00"
    assert local_iso(LATE_UTC + 123, "milliseconds") == "2026-11-26T00:30:00.123+08:00"


def test_the_day_starts_at_china_midnight():
    assert local_midnight_ms(LATE_UTC) == LATE_UTC - 30 * 60_000


def test_the_local_hour_has_its_fraction():
    assert local_hour(LATE_UTC) == 0.5
