"""Small statistics used by every scenario."""

from __future__ import annotations

import math
import statistics


def percentile(values, q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary(values) -> dict:
    """Median and spread of repeated runs, for a measurement's `detail`."""
    data = [v for v in values if v == v]
    if not data:
        return {"runs": [], "median": float("nan")}
    med = statistics.median(data)
    return {
        "runs": [round(v, 2) for v in values],
        "median": round(med, 2),
        "min": round(min(data), 2),
        "max": round(max(data), 2),
        "spread_pct": round(100 * (max(data) - min(data)) / med, 1) if med else 0.0,
    }
