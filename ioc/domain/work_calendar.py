"""Working time for case deadlines (工作时): working days, office hours, holidays, make-up days.

Most case classes have limits in working hours: a case reported on Friday at 17:00 with 4
working hours to handle is due on Monday at 11:30, not on Friday at 21:00. Urgent classes count
calendar hours (`add_hours(..., calendar_hours=True)`).

Times are epoch milliseconds (UTC); the calendar reads them in the city's local time, a fixed
UTC offset (China: UTC+8, no daylight saving). A day is a working day when it is a make-up
working day (调休上班), or when it is one of `workdays` (0 Monday … 6 Sunday) and not a
holiday. Working time is the `periods` of a working day, half-open [start, end) in minutes of
the day (default 08:30–12:00 and 13:30–17:30, eight hours a day).

The holidays and make-up days are configuration: `CHINA_2026_HOLIDAYS` and
`CHINA_2026_WORKDAYS` hold the State Council's arrangement for 2026 (国办发明电, published
2025-11-04); each later year needs its own list (the State Council publishes it in November),
set through the settings string parser `WorkCalendar.from_settings_strings`.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from .clock import UTC_OFFSET_HOURS

MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000
_EPOCH = date(1970, 1, 1)
_MAX_IDLE_DAYS = 3660  # give up after ten years without a working minute (a calendar with none)


def _dates(first: str, last: str) -> frozenset[date]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return frozenset(a + timedelta(days=i) for i in range((b - a).days + 1))


# 2026: 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04)
CHINA_2026_HOLIDAYS: frozenset[date] = (
    _dates("2026-01-01", "2026-01-03")     # 元旦 New Year
    | _dates("2026-02-15", "2026-02-23")   # 春节 Spring Festival
    | _dates("2026-04-04", "2026-04-06")   # 清明节 Qingming
    | _dates("2026-05-01", "2026-05-05")   # 劳动节 Labour Day
    | _dates("2026-06-19", "2026-06-21")   # 端午节 Dragon Boat Festival
    | _dates("2026-09-25", "2026-09-27")   # 中秋节 Mid-Autumn Festival
    | _dates("2026-10-01", "2026-10-07")   # 国庆节 National Day
)
CHINA_2026_WORKDAYS: frozenset[date] = frozenset(date.fromisoformat(d) for d in (
    "2026-01-04",                  # Sunday, for New Year
    "2026-02-14", "2026-02-28",    # Saturdays, for the Spring Festival
    "2026-05-09",                  # Saturday, for Labour Day
    "2026-09-20", "2026-10-10",    # Sunday and Saturday, for National Day
))

DEFAULT_PERIODS: tuple[tuple[int, int], ...] = ((8 * 60 + 30, 12 * 60), (13 * 60 + 30, 17 * 60 + 30))


@dataclass(frozen=True)
class WorkCalendar:
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # date.weekday(): 0 Monday … 6 Sunday
    periods: tuple[tuple[int, int], ...] = DEFAULT_PERIODS  # [start, end) minutes of the day
    holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)  # 调休 make-up working days
    utc_offset_hours: float = UTC_OFFSET_HOURS

    def __post_init__(self):
        object.__setattr__(self, "workdays", tuple(sorted(set(self.workdays))))
        object.__setattr__(self, "periods", tuple(sorted((int(a), int(b)) for a, b in self.periods)))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "extra_workdays", frozenset(self.extra_workdays))
        bad_days = [d for d in self.workdays if d not in range(7)]
        if bad_days:
            raise ValueError(f"workdays are 0 (Monday) to 6 (Sunday), not {bad_days}")
        if not self.periods:
            raise ValueError("a working day needs at least one period of working hours")
        for start, end in self.periods:
            if not 0 <= start < end <= 24 * 60:
                raise ValueError(f"a working period must start before it ends, within the day: "
                                 f"{_hhmm(start)}-{_hhmm(end)}")
        for (_, end), (start, _) in zip(self.periods, self.periods[1:]):
            if start < end:
                raise ValueError(f"working periods overlap at {_hhmm(start)}")
        both = self.holidays & self.extra_workdays
        if both:
            raise ValueError(f"a day cannot be both a holiday and a make-up working day: "
                             f"{', '.join(d.isoformat() for d in sorted(both))}")
        if not -14 <= self.utc_offset_hours <= 14:
            raise ValueError(f"utc_offset_hours must be within -14..14, not {self.utc_offset_hours}")

    # ---- days

    @property
    def _offset_ms(self) -> int:
        return round(self.utc_offset_hours * MS_PER_HOUR)

    def local_date(self, ms: int) -> date:
        return _EPOCH + timedelta(days=(ms + self._offset_ms) // MS_PER_DAY)

    def _midnight_ms(self, day: date) -> int:
        """The epoch ms of local midnight starting `day`."""
        return (day - _EPOCH).days * MS_PER_DAY - self._offset_ms

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        return day.weekday() in self.workdays and day not in self.holidays

    def _segments(self, day: date):
        """The working periods of `day` as (start_ms, end_ms); none on a day off."""
        if not self.is_working_day(day):
            return ()
        midnight = self._midnight_ms(day)
        return tuple((midnight + a * MS_PER_MINUTE, midnight + b * MS_PER_MINUTE) for a, b in self.periods)

    # ---- queries

    def is_working_time(self, ms: int) -> bool:
        return any(a <= ms < b for a, b in self._segments(self.local_date(ms)))

    def add_working_hours(self, start_ms: int, hours: float) -> int:
        """The moment `hours` working hours after `start_ms`. A start outside working time
        begins at the next working moment; a deadline that falls on the end of a period is
        that end (12:00, not 13:30)."""
        if hours < 0:
            raise ValueError(f"hours must not be negative, not {hours}")
        remaining = round(hours * MS_PER_HOUR)
        cursor = int(start_ms)
        day = self.local_date(cursor)
        idle = 0
        while True:
            segments = self._segments(day)
            for a, b in segments:
                begin = max(a, cursor)
                if b <= begin:
                    continue
                if remaining <= b - begin:
                    return begin + remaining
                remaining -= b - begin
                cursor = b
            idle = 0 if segments else idle + 1
            if idle > _MAX_IDLE_DAYS:
                raise ValueError("this calendar has no working time (no working days within ten years)")
            day += timedelta(days=1)

    def working_hours_between(self, a_ms: int, b_ms: int) -> float:
        """Working hours from `a_ms` to `b_ms` (negative when `b_ms` is earlier)."""
        if b_ms < a_ms:
            return -self.working_hours_between(b_ms, a_ms)
        total = 0
        day, last = self.local_date(a_ms), self.local_date(b_ms)
        while day <= last:
            for a, b in self._segments(day):
                total += max(0, min(b, b_ms) - max(a, a_ms))
            day += timedelta(days=1)
        return total / MS_PER_HOUR

    def add_hours(self, start_ms: int, hours: float, calendar_hours: bool) -> int:
        """`hours` after `start_ms`: calendar hours round the clock, or working hours."""
        if calendar_hours:
            if hours < 0:
                raise ValueError(f"hours must not be negative, not {hours}")
            return int(start_ms) + round(hours * MS_PER_HOUR)
        return self.add_working_hours(start_ms, hours)

    # ---- configuration

    @classmethod
    def from_settings_strings(cls, days: str = "1-5", hours: str = "08:30-12:00,13:30-17:30",
                              holidays: str | None = None, workdays: str | None = None,
                              utc_offset_hours: float = UTC_OFFSET_HOURS) -> "WorkCalendar":
        """Build a calendar from settings text.

        * `days`: ISO weekdays, 1 Monday … 7 Sunday, as numbers and ranges: "1-5", "1-5,7".
        * `hours`: periods "HH:MM-HH:MM" separated by commas: "08:30-12:00,13:30-17:30".
        * `holidays`, `workdays` (make-up working days): dates "YYYY-MM-DD" and ranges
          "YYYY-MM-DD..YYYY-MM-DD" separated by commas. None: the built-in China 2026 lists;
          "": none.
        Raises ValueError saying which part is wrong.
        """
        weekdays = _parse_weekdays(days)
        periods = _parse_periods(hours)
        off = CHINA_2026_HOLIDAYS if holidays is None else _parse_dates(holidays, "holidays")
        extra = CHINA_2026_WORKDAYS if workdays is None else _parse_dates(workdays, "workdays")
        return cls(weekdays, periods, off, extra, utc_offset_hours)


CHINA_2026 = WorkCalendar(holidays=CHINA_2026_HOLIDAYS, extra_workdays=CHINA_2026_WORKDAYS)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parts(text: str) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _parse_weekdays(text: str) -> tuple[int, ...]:
    out: set[int] = set()
    for part in _parts(text):
        m = re.fullmatch(r"([1-7])(?:\s*-\s*([1-7]))?", part)
        if not m:
            raise ValueError(f"working days: {part!r} is not a weekday 1 (Monday) to 7 (Sunday) or a range like 1-5")
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        if last < first:
            raise ValueError(f"working days: the range {part!r} runs backwards")
        out.update(range(first - 1, last))
    if not out:
        raise ValueError("working days: give at least one weekday, e.g. 1-5 for Monday to Friday")
    return tuple(sorted(out))


def _minutes(text: str, part: str) -> int:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not m or int(m.group(2)) > 59 or int(m.group(1)) * 60 + int(m.group(2)) > 24 * 60:
        raise ValueError(f"working hours: {text.strip()!r} in {part!r} is not a time HH:MM (00:00 to 24:00)")
    return int(m.group(1)) * 60 + int(m.group(2))


def _parse_periods(text: str) -> tuple[tuple[int, int], ...]:
    periods = []
    for part in _parts(text):
        if part.count("-") != 1:
            raise ValueError(f"working hours: {part!r} is not a period like 08:30-12:00")
        start, end = (_minutes(t, part) for t in part.split("-"))
        if start >= end:
            raise ValueError(f"working hours: the period {part!r} ends before it starts")
        periods.append((start, end))
    if not periods:
        raise ValueError("working hours: give at least one period, e.g. 08:30-12:00,13:30-17:30")
    return tuple(periods)


def _parse_dates(text: str, what: str) -> frozenset[date]:
    out: set[date] = set()
    for part in _parts(text):
        first, _, last = part.partition("..")
        try:
            a = date.fromisoformat(first.strip())
            b = date.fromisoformat(last.strip()) if last else a
        except ValueError:
            raise ValueError(f"{what}: {part!r} is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD") from None
        if b < a:
            raise ValueError(f"{what}: the range {part!r} runs backwards")
        out.update(a + timedelta(days=i) for i in range((b - a).days + 1))
    return frozenset(out)
