"""Loading the city's GeoJSON files (geodata/) into a `CityMap`.

The files are built by `geodata/build.py`; this module only reads them. The map is cached
per directory, so every caller in a process shares one instance (it is immutable).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from ioc.domain.geo import CityMap

CITY_FILE = "city.geojson"
DISTRICTS_FILE = "districts.geojson"
GRID_FILE = "grid.geojson"

DEFAULT_GEODATA_DIR = Path(__file__).resolve().parents[2] / "geodata"


def _read(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


@functools.lru_cache(maxsize=8)
def _load(directory: Path) -> CityMap:
    return CityMap.from_geojson(
        _read(directory / CITY_FILE),
        _read(directory / DISTRICTS_FILE),
        _read(directory / GRID_FILE),
    )


def load_city_map(geodata_dir: Path = DEFAULT_GEODATA_DIR) -> CityMap:
    """The city map built from `geodata_dir` (default: the repository's geodata/), cached."""
    return _load(Path(geodata_dir).resolve())
