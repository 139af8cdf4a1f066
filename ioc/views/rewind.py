"""The time control's pure parts (回溯): a picked date and time to a moment, the banner's words,
playback's state and the frames it will ask for next. No I/O."""

from __future__ import annotations

from datetime import datetime

from ioc.domain.clock import CHINA_TZ, local_text
from ioc.i18n import t
from ioc.views.cases import action_label, stage_name

SPEEDS = (60, 600, 3600)
PREFETCH_STEPS = 3  # frames made ahead while playing


def moment(date: str | None, time_text: str | None, bounds: tuple[int, int]) -> int | None:
    """"2026-12-01" and "08:16" (China time; seconds optional) -> epoch ms, clamped to the
    recorded range; None when the text is not a time or the record is empty."""
    first, last = bounds
    if not date or not last:
        return None
    text = (time_text or "00:00").strip()
    for fmt in ("%H:%M", "%H:%M:%S"):
        try:
            clock = datetime.strptime(text, fmt).time()
            break
        except ValueError:
            continue
    else:
        return None
    try:
        day = datetime.strptime(str(date)[:10], "%Y-%m-%d").date()
    except ValueError:
        return None
    at = int(datetime.combine(day, clock, CHINA_TZ).timestamp() * 1000)
    return min(max(at, first), last)


def clamp(at, bounds: tuple[int, int]) -> int | None:
    first, last = bounds
    if at is None or not last:
        return None
    return min(max(int(at), first), last)


def banner(at: int, play: dict | None, lang: str) -> str:
    """"回放 2026-12-01 16:16:00 · 倍速 600×" (or "· 已暂停")."""
    state = f"{t('rewind_playing', lang)} {play['speed']}×" if play and play.get("speed") else t("rewind_paused", lang)
    return f"{t('rewind_replay', lang)} · {local_text(at, '%Y-%m-%d %H:%M:%S')} · {state}"


def range_text(bounds: tuple[int, int], lang: str) -> str:
    first, last = bounds
    if not last:
        return t("rewind_empty", lang)
    return t("rewind_range", lang).format(first=local_text(first), last=local_text(last))


def play_state(speed: int, at: int | None, bounds: tuple[int, int], now_ms: int) -> dict:
    """Playback from `at` (the first recorded moment when none is shown) at `speed`× from now."""
    first, last = bounds
    start = at if at is not None and at < last else first
    return {"speed": int(speed), "t0": int(start), "w0": int(now_ms), "last": int(last)}


def next_moments(play: dict | None, at: int | None, steps: int = PREFETCH_STEPS) -> list[int]:
    """The moments playback shows next (what the browser will ask for in the next seconds)."""
    if not play or not play.get("speed") or at is None:
        return []
    step = int(play["speed"]) * 1000
    return [m for k in range(1, steps + 1) if (m := at + k * step) <= play.get("last", m)]


def date_of(at: int) -> str:
    return local_text(at, "%Y-%m-%d")


def time_of(at: int) -> str:
    return local_text(at, "%H:%M")


# ---- one case's rewind (the case page) ------------------------------------------------------------

def case_step_label(step: dict, lang: str = "zh") -> str:
    """A step of a case's timeline (`Rewind.case_steps`): its time, what was done and the stage it left."""
    case = step.get("case")
    stage = stage_name(case.stage, lang) if case is not None else "—"
    return t("case_rewind_at", lang).format(time=local_text(int(step["at_ms"])), action=action_label(step.get("action") or "", lang),
                                           stage=stage)


def case_step_figures(city, district, lang: str = "zh") -> list[str]:
    """The city's (and the case's district's) figures of a replayed moment (`ioc.views.bigscreen.Kpis`)."""
    rate = f"{city.online_rate:.1f}%" if city.online_rate is not None else "—"
    lines = [t("case_rewind_city", lang).format(open=f"{city.cases_open:,}", overdue=f"{city.cases_overdue:,}",
                                                  alarms=f"{sum(city.alarms.values()):,}", online=rate)]
    if district is not None:
        lines.append(t("case_rewind_district", lang).format(open=f"{district.cases_open:,}", overdue=f"{district.cases_overdue:,}",
                                                              alarms=f"{sum(district.alarms.values()):,}"))
    return lines
