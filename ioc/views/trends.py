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

TREND_PANELS = (
    # key, kind, attribute, stat, colour
    ("trend_aqi", "air_quality", "airQualityIndex", "avg", "#e9c46a"),
    ("trend_people", "crowd", "peopleCount", "avg", "#7fd1ff"),
    ("trend_water", "water_level", "waterLevel", "max", "#2fa4e7"),
)


def trend_figure(series: Series, title: str, color: str, reference: float | None = None) -> dict:
    """A compact dark Plotly figure (as a plain dict) for a big-screen trend panel."""
    from datetime import datetime, timedelta, timezone

    cst = timezone(timedelta(hours=8))
    x = [datetime.fromtimestamp(ms / 1000, cst).strftime("%Y-%m-%d %H:%M") for ms in series.x]
    data = [{"type": "scatter", "mode": "lines+markers", "marker": {"size": 4}, "x": x, "y": series.y, "line": {"color": color, "width": 2},
             "connectgaps": False, "hovertemplate": "%{x}<br>%{y:.1f}<extra></extra>"}]
    shapes = []
    if reference is not None:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": reference, "y1": reference,
                       "line": {"color": "#ff3b30", "width": 1, "dash": "dash"}})
    return {
        "data": data,
        "layout": {
            "title": {"text": title, "font": {"size": 14, "color": "#dbe7f5"}, "x": 0.02, "y": 0.95},
            "margin": {"l": 36, "r": 8, "t": 26, "b": 30}, "height": 160,
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"color": "#8aa4c2", "size": 11},
            "xaxis": {"showgrid": False, "tickformat": "%H:%M", "type": "date", "tickangle": 0, "nticks": 6},
            "yaxis": {"gridcolor": "#1a3350", "zeroline": False},
            "shapes": shapes, "showlegend": False,
        },
    }
