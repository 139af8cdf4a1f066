"""Pure view model of the inspector's 巡查上报 page (ioc.web.field): what the page's script is
handed in one JSON block, so the page works offline from the service worker's cache (the class
catalog and the words of both languages travel with the page).

No I/O here: the web layer passes the city's bounds and the settings' values in.
"""

from __future__ import annotations

from ioc.domain import case_catalog
from ioc.i18n import LANGS, STRINGS

TEXT_PREFIX = "report_"
MAX_PHOTOS = 9  # photos one report sends (the media route allows more per case: IOC_MEDIA_PER_CASE)
RETRY_S = 30  # how often the page tries a waiting report again while it is open (and on `online`)


def catalog_entries() -> list[dict]:
    """Every minor class as the page searches it: code, names, its major class's names, urgent."""
    out = []
    for code, minor in sorted(case_catalog.MINOR_CLASSES.items()):
        major = case_catalog.MAJOR_CLASSES[minor.major]
        out.append({"code": code, "zh": minor.name_zh, "en": minor.name_en, "major_zh": major.name_zh,
                    "major_en": major.name_en, "urgent": minor.urgent})
    return out


def page_texts() -> dict[str, dict[str, str]]:
    """The page's words in every language: {lang: {key: text}} for the keys starting `report_`
    (and the navigation label and the language switch)."""
    keys = [k for k in STRINGS if k.startswith(TEXT_PREFIX)] + ["nav_report", "language", "app_title"]
    return {lang: {k: STRINGS[k].get(lang) or STRINGS[k]["zh"] for k in keys} for lang in LANGS}


def report_page_data(lang: str, bounds: tuple[float, float, float, float], tile_url: str, districts_url: str,
                     version: str) -> dict:
    """Everything the page's script needs, JSON-ready. `bounds`: the city's (minx, miny, maxx, maxy)."""
    minx, miny, maxx, maxy = bounds
    return {
        "lang": lang,
        "version": version,
        "texts": page_texts(),
        "classes": catalog_entries(),
        "common": list(case_catalog.COMMON_CLASSES),
        "bounds": [[miny, minx], [maxy, maxx]],  # Leaflet's [[south, west], [north, east]]
        "tile_url": tile_url,
        "districts_url": districts_url,
        "max_photos": MAX_PHOTOS,
        "retry_s": RETRY_S,
    }
