"""One device's rewind (设备回溯, `/device/<id>`): its readings around an alarm. Pure: no I/O.

- the window: around the alarm a link names (`?at=<raised_at ms>`) or the device's latest alarm —
  2 h before the raise to 1 h after the clear (or to now while it is active); with no alarm, the
  last 6 h; moved earlier / later by half its span, or set to 1 h / 6 h / 24 h around its centre,
  never beyond now;
- the device and its alarms in people's words (the catalogue's kind and attribute names, the
  rules' names, the severity words of the alarm board, China time);
- the page's state in its address (`?at=&from=&to=&page=`: the window, the alarm it was opened
  around and the alarm list's page), so a language switch or a reload keeps it;
- the alarm list a page (`ALARM_PAGE`) at a time, newest first, with its place in words;
- one Plotly figure (a plain dict) per numeric attribute of the device's readings in the window
  (`Rewind.device_series`): the raw points where the record keeps them, else the hourly
  min–max band with the mean line; the threshold of the window's alarm rules as a horizontal line,
  their raise / acknowledgement / clear as vertical markers.

Alarms are the record's rows as `Rewind.device_alarms` gives them: `{"alarm_id", "rule",
"severity", "raised_ms", "acknowledged_ms", "acknowledged_by", "cleared_ms", "data"}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote

from ioc.domain.clock import local_text
from ioc.domain.kinds import KINDS
from ioc.domain.rules import RULES_BY_ID, SEVERITIES
from ioc.i18n import t
from ioc.views.readings_text import OPS, attribute_name, unit_text, value_text

HOUR_MS = 3_600_000
BEFORE_MS = 2 * HOUR_MS  # the window opens this long before the raise
AFTER_MS = HOUR_MS  # and closes this long after the clear
DEFAULT_SPAN_MS = 6 * HOUR_MS  # a device with no alarm: its last 6 hours
SPANS_H = (1, 6, 24)  # the zoom buttons
ALARM_PAGE = 20  # alarms listed a page at a time, newest first
MARKS = {"raised": "#ff3b30", "acknowledged": "#ffd60a", "cleared": "#34c759"}  # the vertical markers' colours
LINE, BAND = "#4cc9f0", "rgba(76, 201, 240, 0.22)"


def device_path(device_id: str, at_ms: int | None = None) -> str:
    """`/device/<id>?at=<ms>`: the page of one device, around the alarm raised at `at_ms`."""
    path = f"/device/{quote(str(device_id), safe='')}"
    return f"{path}?at={int(at_ms)}" if at_ms else path


def _number_in(search: str | None, name: str) -> int | None:
    """A whole number of a query string, None when absent or not one (at most 15 digits)."""
    values = parse_qs((search or "").lstrip("?")).get(name) or []
    text = values[0].strip() if values else ""
    if not text.isdigit() or len(text) > 15:
        return None
    return int(text)


def parse_at(search: str | None) -> int | None:
    """The `at` of a query string (`?at=1796000000000`): epoch ms, None when absent or not a time."""
    return _number_in(search, "at")


def parse_window(search: str | None) -> "Window | None":
    """The window a query string keeps (`?from=&to=`, with `at` as the alarm it was opened
    around); None without one or when it is not a window (ends before it begins)."""
    first, last = _number_in(search, "from"), _number_in(search, "to")
    if first is None or last is None or last <= first:
        return None
    return Window(first, last, parse_at(search))


def parse_page(search: str | None) -> int:
    """The alarm list's page a query string keeps (`?page=2`: the second, 1-based); 0 (the newest) by default."""
    page = _number_in(search, "page")
    return page - 1 if page else 0


def page_query(window: "Window | None", page: int = 0) -> str:
    """The query string that keeps the page's state: `?at=<focus>&from=<ms>&to=<ms>&page=<n>`
    (`at` only for a window opened around an alarm, `page` past the first)."""
    parts = []
    if window is not None:
        if window.focus is not None:
            parts.append(f"at={int(window.focus)}")
        parts += [f"from={int(window.from_ms)}", f"to={int(window.to_ms)}"]
    if page > 0:
        parts.append(f"page={int(page) + 1}")
    return "?" + "&".join(parts) if parts else ""


def last_page(total: int) -> int:
    """The oldest page of `total` alarms (0-based)."""
    return max(int(total) - 1, 0) // ALARM_PAGE


def pager_text(page: int, shown: int, total: int, lang: str = "zh") -> str:
    """Where the listed alarms stand among all of the device's: `第 21–40 条，共 57 条`; "" with none."""
    if total <= 0 or shown <= 0:
        return ""
    first = page * ALARM_PAGE + 1
    return t("device_alarms_page", lang).format(first=first, last=first + shown - 1, total=total)


# ---- the window -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """The span of time the charts show (epoch ms) and the alarm it was opened around (its raise)."""

    from_ms: int
    to_ms: int
    focus: int | None = None  # raised_ms of the alarm the window was centred on

    @property
    def span(self) -> int:
        return self.to_ms - self.from_ms

    @property
    def centre(self) -> int:
        return (self.from_ms + self.to_ms) // 2

    def to_dict(self) -> dict:
        return {"from": self.from_ms, "to": self.to_ms, "focus": self.focus}

    @classmethod
    def from_dict(cls, data) -> "Window | None":
        try:
            window = cls(int(data["from"]), int(data["to"]), int(data["focus"]) if data.get("focus") is not None else None)
        except (TypeError, KeyError, ValueError):
            return None
        return window if window.to_ms > window.from_ms else None


def around_alarm(alarm: dict, now_ms: int) -> Window:
    """2 h before the raise to 1 h after the clear, or to now while the alarm is active (never past now)."""
    raised = int(alarm["raised_ms"])
    cleared = alarm.get("cleared_ms")
    end = min(int(cleared) + AFTER_MS, now_ms) if cleared else now_ms
    if end <= raised:  # raised "after now" (another clock): still an hour to look at
        end = raised + AFTER_MS
    return Window(raised - BEFORE_MS, end, raised)


def find_alarm(alarms: list[dict], at_ms: int | None) -> dict | None:
    """The alarm raised at `at_ms` (a link's), else the one active at that moment; the newest
    when no moment is given; None when no alarm fits."""
    if not alarms:
        return None
    if at_ms is None:
        return max(alarms, key=lambda a: a["raised_ms"])
    for alarm in alarms:
        if alarm["raised_ms"] == at_ms:
            return alarm
    for alarm in alarms:
        if alarm["raised_ms"] <= at_ms and (not alarm.get("cleared_ms") or at_ms < alarm["cleared_ms"]):
            return alarm
    return None


def first_window(alarms: list[dict], at_ms: int | None, now_ms: int) -> Window:
    """What the page opens on: around the alarm `at_ms` names (or the latest); around `at_ms`
    itself when no alarm of the record fits it; the last 6 h for a device with no alarm."""
    alarm = find_alarm(alarms, at_ms)
    if alarm is not None:
        return around_alarm(alarm, now_ms)
    if at_ms is not None:
        return clamped(Window(at_ms - BEFORE_MS, at_ms + AFTER_MS), now_ms)
    return Window(now_ms - DEFAULT_SPAN_MS, now_ms)


def clamped(window: Window, now_ms: int) -> Window:
    """The window moved back so that it ends at now at the latest (its span kept)."""
    if window.to_ms <= now_ms:
        return window
    return Window(now_ms - window.span, now_ms, window.focus)


def shifted(window: Window, direction: int, now_ms: int) -> Window:
    """Earlier (`direction` -1) or later (+1) by half the window's span, never past now."""
    step = max(window.span // 2, 60_000) * (1 if direction > 0 else -1)
    return clamped(Window(window.from_ms + step, window.to_ms + step, window.focus), now_ms)


def zoomed(window: Window, hours: int, now_ms: int) -> Window:
    """`hours` around the window's centre, never past now."""
    half = int(hours) * HOUR_MS // 2
    return clamped(Window(window.centre - half, window.centre + half, window.focus), now_ms)


def window_text(window: Window, lang: str = "zh") -> str:
    """`12-01 14:05 至 12-01 18:02（北京时间）`."""
    return t("device_window", lang).format(first=local_text(window.from_ms, "%m-%d %H:%M"), last=local_text(window.to_ms, "%m-%d %H:%M"))


# ---- the device and its alarms in words -----------------------------------------------------------

def kind_name(kind: str, lang: str = "zh") -> str:
    k = KINDS.get(kind)
    if k is None:
        return t("device_kind_unknown", lang)
    return k.name_en if lang == "en" else k.name_zh


def position_text(lon, lat, lang: str = "zh") -> str:
    """`北纬 31.8720°，东经 120.5560°` / `31.8720° N, 120.5560° E`; "—" without a position."""
    if lon is None or lat is None:
        return "—"
    ns, ew = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
    if lang == "en":
        return f"{abs(lat):.4f}° {ns}, {abs(lon):.4f}° {ew}"
    return f"{'北纬' if lat >= 0 else '南纬'} {abs(lat):.4f}°，{'东经' if lon >= 0 else '西经'} {abs(lon):.4f}°"


def device_facts(device: dict, district_name: str, online: bool | None, lang: str = "zh") -> list[tuple[str, str]]:
    """(label, value) of the device for people: kind, district, position, online now, number."""
    state = "—" if online is None else t("device_online" if online else "device_offline", lang)
    return [
        (t("device_kind", lang), kind_name(device.get("kind", ""), lang)),
        (t("device_district", lang), district_name or "—"),
        (t("device_position", lang), position_text(device.get("lon"), device.get("lat"), lang)),
        (t("device_state", lang), state),
        (t("device_number", lang), str(device.get("id", ""))),
    ]


def rule_name(alarm: dict, lang: str = "zh") -> str:
    data = alarm.get("data") or {}
    rule = RULES_BY_ID.get(alarm.get("rule") or data.get("rule_id", ""))
    named = data.get("name_en" if lang == "en" else "name_zh")
    if named:
        return str(named)
    if rule is not None:
        return rule.name_en if lang == "en" else rule.name_zh
    return str(alarm.get("rule") or "—")


def severity_word(severity: str, lang: str = "zh") -> str:
    return t(f"severity_{severity}", lang) if severity in SEVERITIES else (severity or "—")


def alarm_line(alarm: dict, lang: str = "zh", people: dict[str, str] | None = None) -> str:
    """`12-01 16:05 · 水位超警戒 · 重要 · 已确认（王五 16:10） · 已解除 17:02`; an active alarm
    says so; who acknowledged by display name (`people`: login -> name)."""
    parts = [local_text(alarm["raised_ms"], "%m-%d %H:%M"), rule_name(alarm, lang), severity_word(alarm.get("severity", ""), lang)]
    if alarm.get("acknowledged_ms"):
        by = alarm.get("acknowledged_by") or ""
        who = (people or {}).get(by) or by
        parts.append(t("device_alarm_acked", lang).format(who=who, time=local_text(alarm["acknowledged_ms"], "%H:%M")).strip())
    parts.append(t("device_alarm_cleared", lang).format(time=local_text(alarm["cleared_ms"], "%m-%d %H:%M"))
                 if alarm.get("cleared_ms") else t("device_alarm_active", lang))
    return " · ".join(parts)


# ---- the charts -----------------------------------------------------------------------------------

def _in_window(alarm: dict, window: Window) -> bool:
    end = alarm.get("cleared_ms") or window.to_ms
    return alarm["raised_ms"] <= window.to_ms and end >= window.from_ms


def _scale(kind: str, attribute: str) -> float:
    k = KINDS.get(kind)
    a = k.attribute(attribute) if k else None
    return 100.0 if a is not None and a.unit == "ratio" else 1.0


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def chart_attributes(kind: str, series: dict) -> list[str]:
    """The numeric attributes of the device's kind that have readings in `series`, in the
    catalogue's order (an attribute the catalogue does not know comes after, by name)."""
    found: set[str] = set()
    if series.get("resolution") == "raw":
        for point in series.get("points", ()):
            found |= {a for a, v in (point.get("values") or {}).items() if _number(v) is not None}
    else:
        found = {p["attribute"] for p in series.get("points", ()) if _number(p.get("mean")) is not None}
    k = KINDS.get(kind)
    known = [a.name for a in k.attributes if a.is_numeric and a.name in found] if k else []
    catalogued = {a.name for a in k.attributes} if k else set()
    return known + sorted(a for a in found if a not in catalogued)


def thresholds(kind: str, attribute: str, alarms: list[dict], window: Window) -> list[tuple[float, str]]:
    """(threshold, label) of the numeric rules on `attribute` among the alarms in the window,
    each rule once: `水位超警戒 ≥ 4.2 m`."""
    out, seen = [], set()
    for alarm in alarms:
        rule = RULES_BY_ID.get(alarm.get("rule", ""))
        if rule is None or rule.id in seen or not _in_window(alarm, window):
            continue
        if rule.kind != kind or rule.attribute != attribute or _number(rule.threshold) is None:
            continue
        seen.add(rule.id)
        out.append((float(rule.threshold), rule.id))
    return out


def threshold_label(rule_id: str, lang: str = "zh") -> str:
    rule = RULES_BY_ID[rule_id]
    name = rule.name_en if lang == "en" else rule.name_zh
    return f"{name} {OPS.get(rule.op, rule.op)} {value_text(rule.kind, rule.attribute, rule.threshold, lang, trim=True)}"


def markers(alarms: list[dict], window: Window, lang: str = "zh") -> list[tuple[int, str, str]]:
    """(ms, what, words) of the raises, acknowledgements and clears inside the window, in time order."""
    out = []
    for alarm in alarms:
        for what, key in (("raised", "raised_ms"), ("acknowledged", "acknowledged_ms"), ("cleared", "cleared_ms")):
            at = alarm.get(key)
            if at and window.from_ms <= at <= window.to_ms:
                out.append((int(at), what, t(f"device_mark_{what}", lang)))
    return sorted(out)


def _x(ms: int) -> str:
    return local_text(ms, "%Y-%m-%d %H:%M:%S")


def attribute_figure(kind: str, attribute: str, series: dict, alarms: list[dict], window: Window, lang: str = "zh") -> dict:
    """One attribute's figure (a plain Plotly dict): raw points as a line with markers, or the
    hourly min–max band with the mean line; threshold lines and the alarm markers."""
    scale = _scale(kind, attribute)
    unit = "%" if scale != 1.0 else unit_text(kind, attribute, lang)
    name = attribute_name(kind, attribute, lang)
    hover = f"%{{x|%m-%d %H:%M}}<br>%{{y}} {unit}".rstrip() + "<extra></extra>"
    data: list[dict] = []
    if series.get("resolution") == "raw":
        points = [(p["at_ms"], _number((p.get("values") or {}).get(attribute))) for p in series.get("points", ())]
        points = [(at, v * scale) for at, v in points if v is not None]
        data.append({"type": "scatter", "mode": "lines+markers", "name": name, "x": [_x(at) for at, _ in points],
                     "y": [v for _, v in points], "line": {"color": LINE, "width": 2}, "marker": {"size": 5},
                     "hovertemplate": hover})
    else:
        rows = [p for p in series.get("points", ()) if p.get("attribute") == attribute and _number(p.get("mean")) is not None]
        x = [_x(p["at_ms"] + HOUR_MS // 2) for p in rows]  # an hour's figures at its middle
        low = [(_number(p.get("min")) if _number(p.get("min")) is not None else p["mean"]) * scale for p in rows]
        high = [(_number(p.get("max")) if _number(p.get("max")) is not None else p["mean"]) * scale for p in rows]
        data.append({"type": "scatter", "mode": "lines", "name": t("device_hour_max", lang), "x": x, "y": high,
                     "line": {"width": 0, "color": BAND}, "hovertemplate": hover, "showlegend": False})
        data.append({"type": "scatter", "mode": "lines", "name": t("device_hour_min", lang), "x": x, "y": low, "fill": "tonexty",
                     "fillcolor": BAND, "line": {"width": 0, "color": BAND}, "hovertemplate": hover, "showlegend": False})
        data.append({"type": "scatter", "mode": "lines+markers", "name": t("device_hour_mean", lang), "x": x,
                     "y": [float(p["mean"]) * scale for p in rows], "line": {"color": LINE, "width": 2}, "marker": {"size": 5},
                     "hovertemplate": hover})
    shapes, annotations = [], []
    for value, rule_id in thresholds(kind, attribute, alarms, window):
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": value * scale, "y1": value * scale,
                       "line": {"color": "#ff3b30", "width": 1.5, "dash": "dash"}, "name": "threshold"})
        annotations.append({"xref": "paper", "x": 0.01, "yref": "y", "y": value * scale, "text": threshold_label(rule_id, lang),
                            "showarrow": False, "xanchor": "left", "yanchor": "bottom", "font": {"size": 11, "color": "#ff8a80"}})
    for i, (at, what, words) in enumerate(markers(alarms, window, lang)):
        shapes.append({"type": "line", "xref": "x", "x0": _x(at), "x1": _x(at), "yref": "paper", "y0": 0, "y1": 1,
                       "line": {"color": MARKS[what], "width": 1.5, "dash": "dot"}, "name": what})
        # labels on three rows in turn: a raise, its acknowledgement and its clear close together
        # (a long window on a phone) do not overprint
        annotations.append({"xref": "x", "x": _x(at), "yref": "paper", "y": 1, "yshift": 13 * (i % 3), "text": words,
                            "showarrow": False, "xanchor": "left", "yanchor": "bottom", "font": {"size": 11, "color": MARKS[what]}})
    title = f"{name}（{unit}）" if unit and lang != "en" else (f"{name} ({unit})" if unit else name)
    return {
        "data": data,
        "layout": {
            "title": {"text": title, "font": {"size": 14, "color": "#dbe7f5"}, "x": 0.01, "y": 0.97},
            "margin": {"l": 44, "r": 12, "t": 60, "b": 32}, "height": 260,
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": "#8aa4c2", "size": 12},
            "xaxis": {"type": "date", "range": [_x(window.from_ms), _x(window.to_ms)], "showgrid": False, "tickformat": "%H:%M\n%m-%d",
                      "nticks": 6},
            "yaxis": {"gridcolor": "#1a3350", "zeroline": False},
            "shapes": shapes, "annotations": annotations, "showlegend": False,
        },
    }


def device_figures(kind: str, series: dict, alarms: list[dict], window: Window, lang: str = "zh") -> list[tuple[str, dict]]:
    """(attribute, figure) for each numeric attribute with readings in the window."""
    return [(a, attribute_figure(kind, a, series, alarms, window, lang)) for a in chart_attributes(kind, series)]


def series_note(series: dict, lang: str = "zh") -> str:
    """What the charts are made of: nothing recorded, or hourly aggregates (raw readings: no note)."""
    if not series.get("points"):
        return t("device_no_readings", lang)
    return t("device_hourly_note", lang) if series.get("resolution") == "hour" else ""
