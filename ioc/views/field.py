"""Pure view model of the field pages: the inspector's queues (/inspections, 核实 and 核查,
nearest first) and a department's tasks (/tasks, by deadline), as cards a phone shows.

Cases and the phone's position in; cards (plain dicts of texts already in people's words),
sort notes, navigation links and refusal texts out. No I/O: the callbacks (callbacks/field.py)
read the case index and the browser's position and call these; tests call them directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlencode

from ioc.domain.access import Principal
from ioc.domain.cases import TRANSITIONS, Case, allowed_actions
from ioc.domain.clock import local_text
from ioc.domain.departments import Department
from ioc.i18n import t
from ioc.views.cases import class_name, department_name, failed_text

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
# the actions each field page offers on a case, in the order of its buttons
INSPECTOR_ACTIONS: tuple[str, ...] = ("verify", "void", "check_pass", "check_fail")
HANDLER_ACTIONS: tuple[str, ...] = ("acknowledge", "arrive", "handle", "request_deferral", "return")
QUEUES: dict[str, str] = {"verify": "accepted", "check": "handled"}  # the inspector's queue -> the stage it holds
# the browser's geolocation error codes (GeolocationPositionError.code), and ours
POSITION_ERRORS = {1: "denied", 2: "unavailable", 3: "timeout", "unsupported": "unsupported", "insecure": "insecure"}


# ---- position and distance ---------------------------------------------------------------------

def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def position_of(data) -> dict | None:
    """The phone's position from the page's store (`{lat, lon, accuracy, at}` as the browser gave
    it), or None when there is none or it is not a position on Earth."""
    if not isinstance(data, dict):
        return None
    lat, lon = _number(data.get("lat")), _number(data.get("lon"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    accuracy = _number(data.get("accuracy"))
    at = _number(data.get("at"))
    return {"lat": lat, "lon": lon, "accuracy": max(accuracy, 0.0) if accuracy is not None else None,
            "at": int(at) if at is not None else 0}


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine) between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_text(metres: float | None, lang: str = "zh") -> str:
    """`850 米` / `1.2 公里` (`850 m` / `1.2 km`); under 1 km to 10 m, to 100 m up to 10 km, then whole km."""
    if metres is None:
        return ""
    if metres < 1000:
        value, unit = f"{max(10, int(round(metres / 10.0)) * 10)}", "fq_dist_m"
        if metres < 10:
            value = "<10"
    elif metres < 10_000:
        value, unit = f"{metres / 1000:.1f}", "fq_dist_km"
    else:
        value, unit = f"{metres / 1000:.0f}", "fq_dist_km"
    return t(unit, lang).format(n=value)


def accuracy_text(position: dict | None, now_ms: int, lang: str = "zh") -> str:
    """Where the page thinks the phone is: `已定位（精度 ±15 米，刚刚）`."""
    if position is None:
        return ""
    accuracy = position.get("accuracy")
    parts = [t("fq_accuracy", lang).format(m=int(round(accuracy)))] if accuracy is not None else []
    age = now_ms - position.get("at", 0) if position.get("at") else 0
    parts.append(age_text(age, lang))
    sep = "，" if lang == "zh" else ", "
    return t("fq_located", lang).format(detail=sep.join(parts))


def age_text(age_ms: int, lang: str = "zh") -> str:
    if age_ms < MINUTE_MS:
        return t("fq_just_now", lang)
    if age_ms < HOUR_MS:
        return t("fq_minutes_ago", lang).format(n=age_ms // MINUTE_MS)
    return t("fq_hours_ago", lang).format(n=age_ms // HOUR_MS)


def position_problem_text(data, lang: str = "zh") -> str:
    """Why there is no position (the browser's error in the store, or none asked yet)."""
    code = data.get("error") if isinstance(data, dict) else None
    reason = POSITION_ERRORS.get(code, "waiting" if code is None else "unavailable")
    return t(f"fq_pos_{reason}", lang)


def fit_view(points: list[tuple[float, float]], width_px: int, height_px: int, max_zoom: float = 16,
             padding_px: int = 12) -> tuple[list[float], float]:
    """The centre and the zoom (in quarters) of a web-mercator map `width_px` x `height_px` that
    shows every (lat, lon) point with `padding_px` to spare, at most `max_zoom`."""
    ys = [math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) for lat, _ in points]
    lons = [lon for _, lon in points]
    span_x = math.radians(max(lons) - min(lons)) or 1e-9
    span_y = (max(ys) - min(ys)) or 1e-9
    usable_w, usable_h = max(width_px - 2 * padding_px, 1), max(height_px - 2 * padding_px, 1)
    zoom = min(math.log2(usable_w * 2 * math.pi / (256 * span_x)), math.log2(usable_h * 2 * math.pi / (256 * span_y)), max_zoom)
    zoom = math.floor(zoom * 4) / 4
    mid_y = (max(ys) + min(ys)) / 2
    center = [math.degrees(2 * math.atan(math.exp(mid_y)) - math.pi / 2), (max(lons) + min(lons)) / 2]
    return [round(center[0], 6), round(center[1], 6)], zoom


# ---- deadlines ---------------------------------------------------------------------------------

def span_text(ms: int, lang: str = "zh") -> str:
    """A length of time in two units at most: `2 天 3 小时`, `3 小时 5 分钟`, `12 分钟` (`2 d 3 h`…)."""
    ms = abs(ms)
    days, rest = divmod(ms, DAY_MS)
    hours, rest = divmod(rest, HOUR_MS)
    minutes = rest // MINUTE_MS
    if days:
        parts = [t("fq_days", lang).format(n=days)] + ([t("fq_hours", lang).format(n=hours)] if hours else [])
    elif hours:
        parts = [t("fq_hours", lang).format(n=hours)] + ([t("fq_minutes", lang).format(n=minutes)] if minutes else [])
    else:
        parts = [t("fq_minutes", lang).format(n=max(minutes, 1))]
    return " ".join(parts)


def deadline_words(deadline_ms: int, now_ms: int, lang: str = "zh") -> tuple[str, bool]:
    """(text, overdue): `还剩 3 小时 5 分钟（12-06 17:30 前）`, `已超期 2 天 1 小时`, `无时限`."""
    if not deadline_ms:
        return t("case_no_limit", lang), False
    left = deadline_ms - now_ms
    if left >= 0:
        return t("fq_left", lang).format(span=span_text(left, lang), at=local_text(deadline_ms, "%m-%d %H:%M")), False
    return t("fq_overdue", lang).format(span=span_text(left, lang)), True


# ---- navigation --------------------------------------------------------------------------------

def geo_link(lat: float, lon: float) -> str:
    """The RFC 5870 `geo:` URI Android hands to the navigation app the user picked:
    `geo:31.872,120.556?q=31.872,120.556` (the `q` puts a pin there)."""
    return f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}"


def amap_link(lat: float, lon: float, name: str) -> str:
    """Amap's web URI for a route to the place from where the phone is (the app when installed,
    `callnative=1`; else Amap's mobile web page): `to=lon,lat,name`, WGS84 coordinates as the
    phone measures them (`coordinate=wgs84`; Amap's default is GCJ-02), by car."""
    query = urlencode({"to": f"{lon:.6f},{lat:.6f},{name}", "mode": "car", "coordinate": "wgs84", "callnative": 1,
                       "src": "ioc"}, quote_via=quote, safe=",")
    return f"https://uri.amap.com/navigation?{query}"


# ---- cards -------------------------------------------------------------------------------------

def card(case: Case, now_ms: int, lang: str, district_names: Mapping[str, str], departments: Mapping[str, Department],
         position: dict | None = None) -> dict:
    """One case as a field card: what, where, how far, how long left, the way there."""
    name = class_name(case.class_code, lang)
    deadline, overdue = deadline_words(case.stage_deadline, now_ms, lang)
    metres = distance_m(position["lat"], position["lon"], case.lat, case.lon) if position else None
    district = district_names.get(case.district, case.district)
    pending = case.pending_deferral or {}
    return {
        "id": case.id, "version": case.version, "stage": case.stage, "class": name, "urgent": case.urgent,
        "district": district, "district_id": case.district, "address": case.address or district,
        "lat": case.lat, "lon": case.lon, "distance_m": None if metres is None else round(metres),
        "distance": distance_text(metres, lang), "deadline": deadline, "overdue": overdue,
        "deadline_at": case.stage_deadline, "department": department_name(case.department, departments, lang),
        "acknowledged": bool(case.acknowledged_at), "arrived": bool(case.arrived_at),
        "rework": case.rework_count, "description": case.description,
        "pending_deferral": t("fq_pending_deferral", lang).format(hours=pending.get("hours", "")) if pending else "",
        "before": sum(1 for a in case.attachments if a.get("stage") == "before"),
        "after": sum(1 for a in case.attachments if a.get("stage") == "after"),
        "nav_geo": geo_link(case.lat, case.lon), "nav_amap": amap_link(case.lat, case.lon, case.address or name),
    }


def _by_deadline(c: Case) -> tuple:
    """Earliest stage deadline first (overdue ones are the earliest), cases without one last, oldest first."""
    return (0, c.stage_deadline, c.created_at, c.id) if c.stage_deadline else (1, 0, c.created_at, c.id)


def inspection_queue(cases: Iterable[Case], queue: str, position: dict | None) -> list[Case]:
    """The open cases of one inspector's queue (`verify`: accepted, `check`: handled), nearest
    first when the phone's position is known (the deadline breaks ties), else by deadline."""
    stage = QUEUES[queue]
    mine = [c for c in cases if c.stage == stage]
    if position is None:
        return sorted(mine, key=_by_deadline)
    return sorted(mine, key=lambda c: (distance_m(position["lat"], position["lon"], c.lat, c.lon),) + _by_deadline(c))


def department_tasks(cases: Iterable[Case], department: str) -> list[Case]:
    """The department's open case tasks (dispatched to it, not yet reported handled), by deadline."""
    return sorted((c for c in cases if department and c.department == department and c.stage == "dispatched"),
                  key=_by_deadline)


def task_counts(cases: Iterable[Case], department: str, now_ms: int) -> dict[str, int]:
    """Figures above the task list: to handle, overdue, not acknowledged, handled (awaiting check)."""
    mine = [c for c in cases if department and c.department == department and c.is_open]
    tasks = [c for c in mine if c.stage == "dispatched"]
    return {"open": len(tasks), "overdue": sum(1 for c in tasks if c.overdue(now_ms)),
            "unacked": sum(1 for c in tasks if not c.acknowledged_at), "handled": sum(1 for c in mine if c.stage == "handled")}


def sort_note(position: dict | None, data, now_ms: int, lang: str, by_distance: bool = True) -> str:
    """The line above a list saying how it is sorted, and where the page thinks the phone is."""
    if not by_distance:
        order = t("fq_sorted_deadline_tasks", lang)
        return order if position is None else f"{order} · {accuracy_text(position, now_ms, lang)}"
    if position is None:
        return f"{t('fq_sorted_deadline', lang)}（{position_problem_text(data, lang)}）" if lang == "zh" \
            else f"{t('fq_sorted_deadline', lang)} ({position_problem_text(data, lang)})"
    return f"{t('fq_sorted_distance', lang)} · {accuracy_text(position, now_ms, lang)}"


def count_text(n: int, lang: str = "zh") -> str:
    return f"（{n}）" if lang == "zh" else f" ({n})"


# ---- the work sheet of one case ----------------------------------------------------------------

def sheet_actions(case: Case, principal: Principal | None, page: str) -> list[str]:
    """The field page's actions this principal may take on the case now, in button order."""
    offered = INSPECTOR_ACTIONS if page == "inspections" else HANDLER_ACTIONS
    allowed = set(allowed_actions(case, principal))
    return [a for a in offered if a in allowed]


def needs_note(action: str) -> bool:
    transition = TRANSITIONS.get(action)
    return bool(transition and transition.note_required)


def field_action_label(action: str, lang: str = "zh") -> str:
    """A button's words, short for a phone: `核实属实`, `到场签到`, `回退（非本部门）`."""
    return t(f"fq_act_{action}", lang)


def no_position_text(lang: str = "zh") -> str:
    """A check-in tapped before the page knows where the phone is."""
    return failed_text("case_err_position_required", lang)


def done_words(action: str, lang: str = "zh") -> str:
    return t("fq_done", lang).format(action=field_action_label(action, lang))
