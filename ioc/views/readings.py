"""A device's latest reading in words, for the map's device tooltip: one line per attribute in the
page's language, with the words of `ioc.views.readings_text` (the same names, units and value
words as the alarm board, the ticker and the API's display texts).

Pure: the latest reading (as stored in `ioc:{sN}:latest`) in, lines of text out.
"""

from __future__ import annotations


from ioc.domain.clock import local_text
from ioc.domain.kinds import KINDS
from ioc.views.readings_text import reading_text



def reading_lines(kind: str, latest: dict | None, lang: str = "zh") -> list[str]:
    """Every attribute of the latest reading, in the catalogue's order (unknown ones last)."""
    if not latest:
        return []
    order = [a.name for a in KINDS[kind].attributes] if kind in KINDS else []
    keys = [k for k in order if k in latest] + sorted(k for k in latest if k not in order and k != "ts")
    return [reading_text(kind, k, latest[k], lang) for k in keys]


def reading_time(latest: dict | None) -> str:
    """When the latest reading was taken, China time (HH:MM:SS), "" without one."""
    ts = (latest or {}).get("ts")
    return local_text(ts, "%H:%M:%S") if isinstance(ts, (int, float)) else ""
