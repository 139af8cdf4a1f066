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
