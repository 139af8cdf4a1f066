"""The fields of a telemetry rollup bucket, without I/O: one reading added to a bucket.

One semantics for every place that sums readings: the ingest's Redis minute and hour buckets
(`ioc.ingest.batch`) and the recorder's `rollup_minute` rows (`ioc.record.writers`). A bucket maps
a field name (`<prefix><attribute>`) to a cell: `[n]` for the reading count (`<prefix>_`) and for
an enum or boolean value (`<prefix><attribute>=<value>`), `[n, sum, max]` for a numeric attribute.
"""

from __future__ import annotations

from ioc.domain.kinds import KINDS

# kind -> attribute -> True when numeric (summed in rollups) / False when counted per value
NUMERIC: dict[str, dict[str, bool]] = {k.id: {a.name: a.is_numeric for a in k.attributes} for k in KINDS.values()}

READINGS = "_"  # the field that counts readings


def category(name: str, value) -> str:
    """The field of an enum or boolean value: `attribute=value` (`true`/`false` for booleans)."""
    if value is True:
        return f"{name}=true"
    if value is False:
        return f"{name}=false"
    return f"{name}={value}"


def is_numeric(kind: str, attribute: str, value) -> bool:
    """Whether `attribute` of `kind` is summed (a number) or counted per value. An attribute no kind
    declares (a reading recorded by an older or newer IOC) is judged by its value."""
    known = NUMERIC.get(kind, {}).get(attribute)
    if known is not None:
        return known
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def add_reading(bucket: dict, prefix: str, kind: str, values: dict) -> None:
    """Add one reading to a rollup bucket: a reading count per `prefix` (district|kind|), and per
    attribute [n, sum, max] for numbers or a count per value for the others."""
    name = prefix + READINGS
    cell = bucket.get(name)
    if cell is None:
        bucket[name] = [1]
    else:
        cell[0] += 1
    numeric = NUMERIC.get(kind, {})
    for attr, value in values.items():
        num = numeric.get(attr)
        if num is None:
            num = is_numeric(kind, attr, value)
        if num:
            name = prefix + attr
            cell = bucket.get(name)
            if cell is None:
                bucket[name] = [1, value, value]
            else:
                cell[0] += 1
                cell[1] += value
                if value > cell[2]:
                    cell[2] = value
        else:
            name = prefix + category(attr, value)
            cell = bucket.get(name)
            if cell is None:
                bucket[name] = [1]
            else:
                cell[0] += 1
