"""Pure view model of the maps' open-case layer (案件 / Cases) on the wall and the district pages.

The layer's points are fetched by the browser itself (`GET /api/v1/map/cases`, `ioc.web.map_data`)
like the device layer: at city scale 100,000 open cases, so each point carries only codes (case
number, class, stage, district, state) and the words the tooltip reads them with are sent once
with the page, in its language, in the layer's `hideout` (`case_layer_hideout`). No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from ioc.domain import case_catalog
from ioc.domain.cases import OPEN_STAGES
from ioc.domain.geo import CityMap
from ioc.i18n import t

from .cases import class_name, stage_name

CASES_URL = "/api/v1/map/cases"  # the open-case layer's GeoJSON (ioc.web.map_data)
LIVE_EVERY_MS = 15_000  # a live wall fetches the layer again at most this often (when it changed)
# a case's marker by its state: overdue red, urgent orange, any other open case a calm teal
CASE_STATES = ("overdue", "urgent", "open")
CASE_COLORS = {"overdue": "#ff3b30", "urgent": "#ff9f1c", "open": "#2ec4b6"}


def case_state(case, now_ms: int) -> str:
    """"overdue" (past its stage's deadline), "urgent" (marked urgent, not overdue) or "open"."""
    if case.overdue(now_ms):
        return "overdue"
    return "urgent" if case.urgent else "open"


def cases_geojson(cases: Iterable, now_ms: int, district: str = "") -> dict:
    """The open cases with a place (`ioc.domain.cases.Case` live, `ioc.record.rewind.CaseAt`
    replayed) as GeoJSON points, each as it stood at `now_ms`; only `district`'s when given.
    Compact properties: `id` the case number, `c` class code, `s` stage, `d` district, `k` state."""
    features = []
    for c in cases:
        if (district and c.district != district) or not (c.lon or c.lat) or not c.is_open:
            continue
        features.append({
            "type": "Feature",
            # 5 decimals are about 1 m, as the device layer
            "geometry": {"type": "Point", "coordinates": [round(c.lon, 5), round(c.lat, 5)]},
            "properties": {"id": c.id, "c": c.class_code, "s": c.stage, "d": c.district, "k": case_state(c, now_ms)},
        })
    return {"type": "FeatureCollection", "features": features}


def next_change(cases: Iterable, now_ms: int) -> float:
    """The first moment after `now_ms` when an open case of `cases` turns overdue (its layer is as
    built until then while the cases stay the same); infinity when none will."""
    later = [c.stage_deadline for c in cases if c.is_open and c.stage_deadline and c.stage_deadline >= now_ms]
    return min(later) if later else float("inf")


def cases_url(district: str = "", at: int | None = None, version: str | int | None = None) -> str:
    """The layer's address: of one district with `district`, the record's moment `at` (epoch ms)
    when given, else live (`v`: only so that a changed layer has a new address the map fetches)."""
    query = {k: v for k, v in (("district", district), ("at", at), ("v", version)) if v not in (None, "")}
    return f"{CASES_URL}?{urlencode(query)}" if query else CASES_URL


def case_layer_hideout(city: CityMap, lang: str, can_open: bool = False) -> dict:
    """What the browser's marker and tooltip functions read (sent once with the page): the colours,
    the names of classes, stages and districts in the page's language, the tooltip's words, and
    whether a click opens the case's page (`open`: the viewer holds case:read)."""
    return {
        "lang": lang, "open": bool(can_open), "colors": dict(CASE_COLORS),
        "classes": {code: class_name(code, lang) for code in case_catalog.MINOR_CLASSES},
        "stages": {stage: stage_name(stage, lang) for stage in OPEN_STAGES},
        "districts": {d.id: d.name(lang) for d in city.districts},
        "words": {"case": t("case_marker_case", lang), "overdue": t("case_marker_overdue", lang),
                  "urgent": t("case_marker_urgent", lang), "open_hint": t("case_marker_open", lang),
                  "unknown": t("case_marker_unknown", lang)},
    }


def case_marker_text(properties: dict, hideout: dict) -> list[str]:
    """A case marker's tooltip lines as the browser writes them (`iocMap.caseTip`): the case number
    with its state, the class in words, the stage, the district (an unknown code is said as such)."""
    words, unknown = hideout["words"], hideout["words"]["unknown"]
    state = {"overdue": words["overdue"], "urgent": words["urgent"]}.get(properties["k"], "")
    head = f"{words['case']} {properties['id']}" + (f" · {state}" if state else "")
    lines = [head, hideout["classes"].get(properties["c"], unknown),
             " · ".join((hideout["stages"].get(properties["s"], unknown), hideout["districts"].get(properties["d"], unknown)))]
    return lines + ([words["open_hint"]] if hideout["open"] else [])


PLAY_EVERY_S = 5  # while the record plays, the layer moves to a new moment about this often (real seconds)


def replay_moment(at: int, play: dict | None) -> int:
    """The moment the layer shows of the replayed moment `at`: `at` itself while paused; while
    playing, the last moment of a grid of `PLAY_EVERY_S` real seconds from playback's start (a
    wall fetches the layer every few seconds, not every step)."""
    if not play or not play.get("speed"):
        return int(at)
    t0, step = int(play.get("t0", at)), int(play["speed"]) * PLAY_EVERY_S * 1000
    return int(at) - (int(at) - t0) % step if at >= t0 else int(at)
