"""Geographic lookups for the demo city: which district (town) and which unit-grid cell a point is in.

Pure code: it receives already-parsed GeoJSON dicts (the adapter `ioc.adapters.geodata_files`
reads the files) and uses shapely for geometry. Coordinates are WGS84 (lon, lat) degrees.

Border rule
-----------
* A point on the city's outer boundary is inside the city (`covers`, not `contains`), and it
  belongs to the district whose polygon covers it.
* A point exactly on a border shared by two or more districts belongs to exactly one of them:
  the one with the smallest `id` (string order) among the districts that cover it. The answer
  is deterministic and does not depend on the order of features in the file.
* A point inside the city that no district covers (possible only within a metre of the
  outline, from coordinate rounding) belongs to the nearest district.
* Non-finite coordinates (NaN, inf), non-numbers, and values outside lon [-180, 180] /
  lat [-90, 90] give None (or False for `contains`); the lookups never raise on bad input.

Unit grid
---------
`cell_at` finds the lattice row and column arithmetically from the grid's `lattice` member
(origin, cell size in degrees) and returns the cell id when that cell is a city cell.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.strtree import STRtree


@dataclass(frozen=True)
class District:
    """One town, sub-district or zone of the city (boundaries are approximate, see geodata/README.md)."""

    id: str
    code: str
    name_zh: str
    name_en: str
    kind: str  # "town" | "subdistrict" | "zone"
    area_km2: float
    seat: tuple[float, float]  # (lon, lat)

    def name(self, lang: str) -> str:
        """The display name in `lang` ("en" gives English; anything else gives Chinese)."""
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class Lattice:
    """The regular unit-grid lattice: cell (row, col) spans [origin + index * size, + size)."""

    origin_lon: float
    origin_lat: float
    cell_lon_deg: float
    cell_lat_deg: float
    rows: int
    cols: int

    def row_col(self, lon: float, lat: float) -> tuple[int, int] | None:
        row = math.floor((lat - self.origin_lat) / self.cell_lat_deg)
        col = math.floor((lon - self.origin_lon) / self.cell_lon_deg)
        if 0 <= row < self.rows and 0 <= col < self.cols:
            return row, col
        return None

    def centre(self, row: int, col: int) -> tuple[float, float]:
        return (
            self.origin_lon + (col + 0.5) * self.cell_lon_deg,
            self.origin_lat + (row + 0.5) * self.cell_lat_deg,
        )


def _valid_point(lon: Any, lat: Any) -> Point | None:
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    if not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
        return None
    return Point(x, y)


class CityMap:
    """The city outline, its districts and its unit grid, with fast point lookups."""

    def __init__(self, city_geom, districts: list[tuple[District, Any]], lattice: Lattice,
                 cells: dict[tuple[int, int], tuple[str, str]], district_geojson: dict) -> None:
        ordered = sorted(districts, key=lambda pair: pair[0].id)
        self.districts: tuple[District, ...] = tuple(d for d, _ in ordered)
        self._by_id = {d.id: d for d in self.districts}
        self._geoms = [g for _, g in ordered]
        self._geom_by_id = {d.id: g for d, g in ordered}
        for g in self._geoms:
            shapely.prepare(g)
        self._tree = STRtree(self._geoms)
        self._city = city_geom
        shapely.prepare(self._city)
        self.bounds: tuple[float, float, float, float] = tuple(float(v) for v in city_geom.bounds)
        self.lattice = lattice
        self._cells = cells  # (row, col) -> (cell id, district id)
        self._cell_district = {cid: did for cid, did in cells.values()}
        self.district_geojson = district_geojson

    @classmethod
    def from_geojson(cls, city: dict, districts: dict, grid: dict) -> "CityMap":
        city_geom = shapely.union_all([shape(f["geometry"]) for f in city["features"]])
        parsed = []
        for feature in districts["features"]:
            p = feature["properties"]
            seat = p["seat"]
            parsed.append((
                District(
                    id=str(p["id"]),
                    code=str(p["code"]),
                    name_zh=str(p["name_zh"]),
                    name_en=str(p["name_en"]),
                    kind=str(p["kind"]),
                    area_km2=float(p["area_km2"]),
                    seat=(float(seat[0]), float(seat[1])),
                ),
                shape(feature["geometry"]),
            ))
        lat = grid["lattice"]
        lattice = Lattice(
            origin_lon=float(lat["origin_lon"]),
            origin_lat=float(lat["origin_lat"]),
            cell_lon_deg=float(lat["cell_lon_deg"]),
            cell_lat_deg=float(lat["cell_lat_deg"]),
            rows=int(lat["rows"]),
            cols=int(lat["cols"]),
        )
        cells = {
            (int(f["properties"]["row"]), int(f["properties"]["col"])):
                (str(f["properties"]["id"]), str(f["properties"]["district"]))
            for f in grid["features"]
        }
        return cls(city_geom, parsed, lattice, cells, districts)

    # --- districts -------------------------------------------------------------------------

    def district(self, district_id: str) -> District | None:
        return self._by_id.get(district_id)

    def district_at(self, lon: float, lat: float) -> str | None:
        """The id of the district containing (lon, lat), None outside the city (see border rule)."""
        point = _valid_point(lon, lat)
        if point is None:
            return None
        # Tree order is id order, so the first covering candidate has the smallest id.
        for index in sorted(self._tree.query(point)):
            if self._geoms[index].covers(point):
                return self.districts[index].id
        if self._city.covers(point):  # a rounding gap along the outline
            return self.districts[int(self._tree.nearest(point))].id
        return None

    def district_geometry(self, district_id: str):
        """The district's polygon (a prepared shapely geometry: read it, never change it), None when unknown."""
        return self._geom_by_id.get(district_id)

    @property
    def outline(self):
        """The city's outline (a prepared shapely geometry: read it, never change it)."""
        return self._city

    def contains(self, lon: float, lat: float) -> bool:
        point = _valid_point(lon, lat)
        return point is not None and bool(self._city.covers(point))

    def random_point_in(self, district_id: str, rng: random.Random) -> tuple[float, float]:
        """A point drawn uniformly inside the district (rejection sampling in its bounding box).

        Only points that `district_at` attributes to the district are returned. Raises KeyError
        for an unknown district.
        """
        geom = self._geom_by_id[district_id]
        minx, miny, maxx, maxy = geom.bounds
        for _ in range(100_000):
            lon = rng.uniform(minx, maxx)
            lat = rng.uniform(miny, maxy)
            if self.district_at(lon, lat) == district_id:
                return lon, lat
        raise RuntimeError(f"could not sample a point in district {district_id!r}")

    # --- unit grid -------------------------------------------------------------------------

    def cell_at(self, lon: float, lat: float) -> str | None:
        """The id of the unit-grid cell containing (lon, lat), None when it is not a city cell."""
        if _valid_point(lon, lat) is None:
            return None
        rc = self.lattice.row_col(float(lon), float(lat))
        if rc is None:
            return None
        cell = self._cells.get(rc)
        return cell[0] if cell else None

    def cell_district(self, cell_id: str) -> str | None:
        """The district a city cell is aggregated into (the one containing its centre)."""
        return self._cell_district.get(cell_id)

    @property
    def cell_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._cell_district))

    def grid_geojson(self) -> dict:
        """The city's unit-grid cells as square polygons (id, district), for a map layer."""
        lat0, lon0 = self.lattice.origin_lat, self.lattice.origin_lon
        dx, dy = self.lattice.cell_lon_deg, self.lattice.cell_lat_deg
        features = []
        for (row, col), (cell_id, district_id) in sorted(self._cells.items()):
            x0, y0 = round(lon0 + col * dx, 5), round(lat0 + row * dy, 5)
            x1, y1 = round(x0 + dx, 5), round(y0 + dy, 5)
            features.append({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]},
                "properties": {"id": cell_id, "district": district_id},
            })
        return {"type": "FeatureCollection", "features": features}


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine) between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(h)))
