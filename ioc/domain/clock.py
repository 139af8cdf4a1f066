"""China Standard Time, defined once: the city's clock for every date and time people read.

China keeps UTC+8 all year (Asia/Shanghai, no daylight saving), so a fixed offset is exact and
needs no time-zone database. Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

UTC_OFFSET_HOURS = 8
UTC_OFFSET_S = UTC_OFFSET_HOURS * 3600
UTC_OFFSET_MS = UTC_OFFSET_S * 1000
CHINA_TZ = timezone(timedelta(hours=UTC_OFFSET_HOURS), "Asia/Shanghai")
DAY_MS = 86_400_000


def local_time(epoch_ms: float) -> datetime:
    """An epoch-milliseconds instant as an aware datetime in China time."""
    return datetime.fromtimestamp(epoch_ms / 1000, CHINA_TZ)


def local_text(epoch_ms: float, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An epoch-milliseconds instant as China time in `fmt` (strftime)."""
    return local_time(epoch_ms).strftime(fmt)


def local_iso(epoch_ms: float, timespec: str = "seconds") -> str:
    """An epoch-milliseconds instant as ISO 8601 with the +08:00 offset."""
    return local_time(epoch_ms).isoformat(timespec=timespec)


def local_midnight_ms(epoch_ms: int) -> int:
    """The epoch milliseconds of the China-time midnight that began the day of `epoch_ms`."""
    return epoch_ms - (epoch_ms + UTC_OFFSET_MS) % DAY_MS


def local_hour(epoch_ms: float) -> float:
    """The China-time hour of the day of `epoch_ms`, with its fraction (0 <= h < 24)."""
    return ((epoch_ms + UTC_OFFSET_MS) % DAY_MS) / 3_600_000
