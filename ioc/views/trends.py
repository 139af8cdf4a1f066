"""Pure trend series from merged rollup buckets (no I/O).

Input: `{bucket: {field: value}}` as `SnapshotStore.rollup_series()` returns it, where a bucket is
an epoch minute or an epoch hour and the fields follow the rollup scheme
(`<district>|<kind>|<attribute>:s|:n|:x`, `<district>|<kind>|<attribute>=<value>:n`,
`<district>|<kind>|_:n`). Output: plain lists for a Plotly trace, x = bucket start (epoch ms),
y = the value or None where the bucket holds no reading of the series (a gap, never a zero).

Stats:
- `avg`, `max`, `sum`, `count` of a numeric attribute (`count` = readings carrying it);
- `count` of the attribute `_` = readings of the kind;
- `count` and `share` of one value of an enum or boolean attribute (`value="ok"`, `value=True`):
  share = readings with that value / readings carrying the attribute (0..1).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from ioc.domain.clock import local_text
from ioc.domain.rules import RULES_BY_ID
from ioc.i18n import t

BUCKET_MS = {"minute": 60_000, "hour": 3_600_000}
STATS = ("avg", "max", "sum", "count", "share")
READINGS = "_"  # attribute name of the per-kind reading count


@dataclass(frozen=True)
class Series:
    x: list[int]                # bucket start, epoch ms
    y: list[float | None]       # None = no reading of the series in that bucket


def value_name(value) -> str:
    """An enum or boolean value as it appears in rollup field names."""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def kind_totals(fields: dict[str, float], kind: str, district: str | None = None) -> dict[str, float]:
    """Fields of one kind without the `<district>|<kind>|` prefix, for one district or added up over
    all districts (sums and counts added, maxima maxed)."""
    out: dict[str, float] = defaultdict(float)
    for name, value in fields.items():
        d, _, rest = name.partition("|")
        k, _, rest = rest.partition("|")
        if k != kind or (district is not None and d != district):
            continue
        if rest.endswith(":x"):
            out[rest] = max(out.get(rest, value), value)
        else:
            out[rest] += value
    return dict(out)


def stat_value(totals: dict[str, float], attribute: str, stat: str, value=None) -> float | None:
    """One stat from one bucket's `kind_totals`; None when the bucket holds no reading of it."""
    if stat not in STATS:
        raise ValueError(f"stat must be one of {STATS}, not {stat!r}")
    if value is None:
        if stat == "share":
            raise ValueError("stat 'share' needs a value")
        n = totals.get(f"{attribute}:n", 0.0)
        if n <= 0:
            return None
        if stat == "count":
            return n
        if stat == "avg":
            return totals[f"{attribute}:s"] / n if f"{attribute}:s" in totals else None
        if stat == "sum":
            return totals.get(f"{attribute}:s")
        return totals.get(f"{attribute}:x")
    if stat not in ("count", "share"):
        raise ValueError(f"stat {stat!r} does not apply to a value; use 'count' or 'share'")
    prefix = f"{attribute}="
    carrying = sum(v for f, v in totals.items() if f.startswith(prefix) and f.endswith(":n"))
    if carrying <= 0:
        return None
    hits = totals.get(f"{prefix}{value_name(value)}:n", 0.0)
    return hits if stat == "count" else hits / carrying


def trend(buckets: dict[int, dict[str, float]], resolution: str, kind: str, attribute: str, stat: str,
          district: str | None = None, value=None) -> Series:
    """Series of one (kind, attribute, stat) over every bucket from the first to the last key of
    `buckets`, for the whole city (`district=None`) or one district. Buckets missing from the dict
    or without readings of the series are None."""
    step = BUCKET_MS.get(resolution)
    if step is None:
        raise ValueError(f"resolution must be one of {sorted(BUCKET_MS)}, not {resolution!r}")
    if not buckets:
        return Series([], [])
    xs, ys = [], []
    for bucket in range(min(buckets), max(buckets) + 1):
        fields = buckets.get(bucket) or {}
        xs.append(bucket * step)
        ys.append(stat_value(kind_totals(fields, kind, district), attribute, stat, value) if fields else None)
    return Series(xs, ys)


# --- figures ---------------------------------------------------------------------------------------

class TrendPanel(NamedTuple):
    """One big-screen trend panel: what it draws and how its y axis is kept honest."""

    key: str  # its element id and title text key (ioc.i18n)
    kind: str
    attribute: str
    stat: str
    color: str
    floor: float | None = None  # the y axis starts here (counts and indices: 0)
    min_span: float = 0.0  # the y axis spans at least this much, so a small wobble stays small
    reference_rule: str = ""  # a rule whose threshold is drawn as a dashed line and kept in view
    total: bool = False  # the mean per device × the devices of the kind (the KPI card's figure)


TREND_PANELS = (
    # the same IAQI as the 空气质量指数 card: the stations' mean airQualityIndex (HJ 633), axis from 0, at least 0-100
    TrendPanel("trend_aqi", "air_quality", "airQualityIndex", "avg", "#e9c46a", floor=0.0, min_span=100.0),
    # the same measure as the 重点区域人流 card: mean count per hotspot × hotspots = people at all of them
    TrendPanel("trend_people", "crowd", "peopleCount", "avg", "#7fd1ff", floor=0.0, min_span=500.0, total=True),
    # the highest gauge, with the warning line in view; at least 1.5 m of axis
    TrendPanel("trend_water", "water_level", "waterLevel", "max", "#2fa4e7", min_span=1.5, reference_rule="water_level_warning"),
)


def panel_series(panel: TrendPanel, buckets: dict[int, dict[str, float]], resolution: str = "hour",
                 devices: int = 0, district: str | None = None) -> Series:
    """The panel's series; a `total` panel is scaled by `devices` (the kind's devices now): while
    that is not known yet (0), its values are gaps, never zeros."""
    series = trend(buckets, resolution, panel.kind, panel.attribute, panel.stat, district)
    if panel.total:
        return Series(series.x, [None if y is None or devices <= 0 else y * devices for y in series.y])
    return series


def y_range(values: list[float | None], floor: float | None = None, min_span: float = 0.0,
            reference: float | None = None) -> list[float] | None:
    """The y axis of a trend: from `floor` (or just below the lowest value), at least `min_span`
    high, the reference line in view, 5 % headroom. None (Plotly's autorange) without values."""
    shown = [v for v in values if v is not None]
    if not shown:
        return None
    if reference is not None:
        shown.append(reference)
    lo = floor if floor is not None else min(shown)
    hi = max(shown)
    if hi - lo < min_span:
        if floor is not None:
            hi = lo + min_span
        else:
            mid = (lo + hi) / 2
            lo, hi = mid - min_span / 2, mid + min_span / 2
    pad = 0.05 * (hi - lo or 1.0)
    return [lo if floor is not None else lo - pad, hi + pad]


MOMENT_COLOR = "#f2c14e"  # the replayed moment's line: the amber of the rewind's banner


def trend_figure(series: Series, title: str, color: str, reference: float | None = None,
                 partial_label: str | None = None, y_axis: list[float] | None = None,
                 x_span_ms: tuple[int, int] | None = None, moment: tuple[int, str] | None = None) -> dict:
    """A compact dark Plotly figure (as a plain dict) for a big-screen trend panel. With
    `partial_label`, the last bucket is the one in progress: its segment is dotted and its marker
    hollow, labelled so. `y_axis` fixes the y range (see `y_range`), `x_span_ms` the x range
    (first and last bucket start, epoch ms). `moment` (epoch ms, words): a replayed moment, drawn
    as an amber vertical line labelled with the words at its top."""
    def label(ms: int) -> str:
        return local_text(ms, "%Y-%m-%d %H:%M")

    x = [label(ms) for ms in series.x]
    y = list(series.y)
    line = {"type": "scatter", "mode": "lines+markers", "marker": {"size": 4}, "line": {"color": color, "width": 2},
            "connectgaps": False, "hovertemplate": "%{x}<br>%{y:.1f}<extra></extra>"}
    annotations = []
    if partial_label and len(x) >= 1 and y[-1] is not None:
        data = [dict(line, x=x[:-1], y=y[:-1])]
        tail_x, tail_y = x[-2:], y[-2:]
        data.append(dict(line, x=tail_x, y=tail_y, mode="lines+markers",
                         line={"color": color, "width": 2, "dash": "dot"},
                         marker={"size": [0] * (len(tail_x) - 1) + [7], "color": "rgba(0,0,0,0)",
                                 "line": {"color": color, "width": 2}},
                         opacity=0.75, hovertemplate=f"%{{x}}<br>%{{y:.1f}} · {partial_label}<extra></extra>"))
        high = y_axis is not None and y[-1] > (y_axis[0] + y_axis[1]) / 2  # label below a high point, above a low one
        annotations.append({"x": x[-1], "y": y[-1], "xref": "x", "yref": "y", "text": partial_label, "showarrow": False,
                            "xanchor": "right", "yanchor": "top" if high else "bottom", "yshift": -8 if high else 8,
                            "font": {"size": 10, "color": "#8aa4c2"}})
    else:
        data = [dict(line, x=x, y=y)]
    shapes = []
    if reference is not None:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": reference, "y1": reference,
                       "line": {"color": "#ff3b30", "width": 1, "dash": "dash"}})
    if moment is not None:
        at = label(moment[0])
        shapes.append({"type": "line", "xref": "x", "x0": at, "x1": at, "yref": "paper", "y0": 0, "y1": 1,
                       "line": {"color": MOMENT_COLOR, "width": 2}, "name": "moment"})
        annotations.append({"x": at, "y": 1, "xref": "x", "yref": "paper", "text": moment[1], "showarrow": False,
                            "xanchor": "right", "yanchor": "top", "xshift": -3,
                            "font": {"size": 10, "color": MOMENT_COLOR}, "name": "moment"})
    yaxis = {"gridcolor": "#1a3350", "zeroline": False}
    if y_axis is not None:
        yaxis["range"] = y_axis
    xaxis = {"showgrid": False, "tickformat": "%H:%M", "type": "date", "tickangle": 0, "nticks": 6}
    if x_span_ms is not None:
        xaxis["range"] = [label(x_span_ms[0]), label(x_span_ms[1])]
    return {
        "data": data,
        "layout": {
            "title": {"text": title, "font": {"size": 14, "color": "#dbe7f5"}, "x": 0.02, "y": 0.95},
            "margin": {"l": 36, "r": 8, "t": 26, "b": 30}, "height": 160,
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"color": "#8aa4c2", "size": 11},
            "xaxis": xaxis,
            "yaxis": yaxis,
            "shapes": shapes, "annotations": annotations, "showlegend": False,
        },
    }


def panel_figure(panel: TrendPanel, buckets: dict[int, dict[str, float]], now_ms: int, title: str, partial_label: str,
                 devices: int = 0, reference: float | None = None, moment_label: str | None = None) -> dict:
    """A panel's figure over hourly `buckets` whose last one is the hour of `now_ms` (in progress).
    With `moment_label`, `now_ms` is a replayed moment: a line marks it, labelled so, and the x
    axis ends there (or just past the hour in progress's marker, early in the hour)."""
    series = panel_series(panel, buckets, "hour", devices)
    current_hour_ms = now_ms // 3_600_000 * 3_600_000
    partial = bool(series.x) and series.x[-1] == current_hour_ms
    span = (series.x[0], series.x[-1] + 15 * 60_000) if series.x else None  # room for the hour in progress's marker
    moment = None
    if moment_label is not None:
        moment = (now_ms, moment_label)
        span = (span[0], max(span[1], now_ms // 60_000 * 60_000)) if span else None
    return trend_figure(series, title, panel.color, reference, partial_label if partial else None,
                        y_range(series.y, panel.floor, panel.min_span, reference), span, moment)


def panel_figures(buckets: dict[int, dict[str, float]], now_ms: int, hotspots: int, lang: str = "zh",
                  replayed: bool = False) -> list[dict]:
    """The wall's panels (`TREND_PANELS`) over the 24 hourly `buckets` up to `now_ms`, in `lang`;
    the people panel scaled by `hotspots`. `replayed`: `now_ms` is a moment the time control
    shows: the line marks it (`回放 16:16`) and the hour in progress reads `截至 16:16`."""
    clock = local_text(now_ms, "%H:%M")
    partial = t("trend_partial_replay", lang).format(time=clock) if replayed else t("trend_partial", lang)
    return [
        panel_figure(panel, buckets, now_ms, t(panel.key, lang), partial, devices=hotspots if panel.total else 0,
                     reference=RULES_BY_ID[panel.reference_rule].threshold if panel.reference_rule else None,
                     moment_label=t("trend_moment", lang).format(time=clock) if replayed else None)
        for panel in TREND_PANELS
    ]
