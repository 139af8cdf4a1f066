"""Case density per unit-grid cell and per district, for any period (pandas).

The record query (`case_counts`) counts the cases created in [from_ms, to_ms) per (district,
cell) in PostgreSQL; everything else is pure functions over that DataFrame (columns
`district`, `cell`, `cases`; a frame with one row per case and no `cases` column counts each row
once), so tests and the monthly report can call them on any frame.

- `by_cell(counts, city, district=None)`: every unit-grid cell of the city (or of one district),
  0 where no case, with its geodesic area (km²) and cases per km²; cases the record holds
  without a cell (a position outside the grid) are one more row with `cell` "" and no area.
- `by_district(counts, city)`: every district with its area (km², geodata/) and cases per km²;
  cases without a district are one more row with `district` "".

The rows of either table sum to the number of cases in the period.

For the report (piece `reports`): `density_table(url, from_ms, to_ms, city, by=...)` gives the
table with people's words (district names in Chinese and English) and `density_geojson(...)`
a GeoJSON FeatureCollection (the cells or the districts as polygons, each with its figures) to
draw or embed. `map_classes(values)` gives the colour classes the map and the legend share.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import pandas as pd
from pyproj import Geod

from ioc.domain.geo import CityMap

QUERY = """
    SELECT district, cell, count(*) AS cases FROM cases
    WHERE created_at >= %(start)s AND created_at < %(end)s AND (%(district)s = '' OR district = %(district)s)
    GROUP BY district, cell"""

CELL_COLUMNS = ("cell", "district", "district_zh", "district_en", "row", "col", "cases", "area_km2", "per_km2")
DISTRICT_COLUMNS = ("district", "district_zh", "district_en", "cases", "area_km2", "per_km2")
# sequential colours (pale yellow to red, bright enough on the wall's dark map) for the map's classes;
# a cell without a case is not filled
COLORS = ("#fff3b0", "#ffd166", "#f4a259", "#e4572e", "#d00000")
_GEOD = Geod(ellps="WGS84")


# ---- the record query ---------------------------------------------------------------------------

def case_counts(url: str, from_ms: int, to_ms: int, district: str = "") -> pd.DataFrame:
    """Cases created in [from_ms, to_ms) per (district, cell) from the record (one district, or
    all with ""): columns district, cell, cases."""
    from datetime import datetime, timezone

    from ioc.record.db import connection

    params = {"start": datetime.fromtimestamp(from_ms / 1000, timezone.utc),
              "end": datetime.fromtimestamp(to_ms / 1000, timezone.utc), "district": district or ""}
    with connection(url) as conn:
        rows = conn.execute(QUERY, params).fetchall()
    return pd.DataFrame(rows, columns=["district", "cell", "cases"]).astype({"district": str, "cell": str, "cases": "int64"})


# ---- pure: tables from a frame ------------------------------------------------------------------

def _counted(frame: pd.DataFrame, key: str) -> pd.Series:
    """Cases per value of `key` (the `cases` column summed, or one per row without it)."""
    if frame.empty:
        return pd.Series(dtype="int64")
    weights = frame["cases"] if "cases" in frame.columns else pd.Series(1, index=frame.index)
    keys = frame[key].fillna("").astype(str)
    return weights.groupby(keys).sum().astype("int64")


@functools.lru_cache(maxsize=4)
def _cell_areas(origin_lon: float, origin_lat: float, dlon: float, dlat: float, rows: int) -> tuple[float, ...]:
    """Geodesic area (km²) of a lattice cell per row (cells of one row have the same area)."""
    out = []
    for row in range(rows):
        y0 = origin_lat + row * dlat
        lons, lats = [origin_lon, origin_lon + dlon, origin_lon + dlon, origin_lon], [y0, y0, y0 + dlat, y0 + dlat]
        area, _ = _GEOD.polygon_area_perimeter(lons, lats)
        out.append(abs(area) / 1e6)
    return tuple(out)


def cell_frame(city: CityMap) -> pd.DataFrame:
    """Every city cell: cell, district, row, col, area_km2 (geodesic, of the whole 1 km square)."""
    lat = city.lattice
    areas = _cell_areas(lat.origin_lon, lat.origin_lat, lat.cell_lon_deg, lat.cell_lat_deg, lat.rows)
    rows = []
    for cell_id in city.cell_ids:
        row, col = int(cell_id[-4:-2]), int(cell_id[-2:])
        rows.append((cell_id, city.cell_district(cell_id) or "", row, col, areas[row]))
    return pd.DataFrame(rows, columns=["cell", "district", "row", "col", "area_km2"])


def _names(frame: pd.DataFrame, city: CityMap) -> None:
    names = {d.id: (d.name_zh, d.name_en) for d in city.districts}
    frame["district_zh"] = [names.get(d, ("未定位", ""))[0] if d else "未定位" for d in frame["district"]]
    frame["district_en"] = [names.get(d, ("", "Not located"))[1] if d else "Not located" for d in frame["district"]]


def _per_km2(frame: pd.DataFrame) -> None:
    area = frame["area_km2"]
    frame["per_km2"] = (frame["cases"] / area.where(area > 0)).round(3)


def by_cell(counts: pd.DataFrame, city: CityMap, district: str = "") -> pd.DataFrame:
    """Cases per unit-grid cell (every cell of the city, or of `district`), with area and density.
    Cases of the frame without a cell, or in a cell that is no city cell, make a last row with
    `cell` "" (no area, no density), so the `cases` column sums to the frame's cases."""
    cells = cell_frame(city)
    if district:
        cells = cells[cells["district"] == district].reset_index(drop=True)
    counted = _counted(counts, "cell")
    cells["cases"] = cells["cell"].map(counted).fillna(0).astype("int64")
    rest = int(counted.sum()) - int(cells["cases"].sum())
    if rest:
        cells = pd.concat([cells, pd.DataFrame([{"cell": "", "district": district, "row": -1, "col": -1,
                                                 "area_km2": float("nan"), "cases": rest}])], ignore_index=True)
    _names(cells, city)
    _per_km2(cells)
    return cells[list(CELL_COLUMNS)]


def by_district(counts: pd.DataFrame, city: CityMap) -> pd.DataFrame:
    """Cases per district (every district), with area (km², geodata/) and density; cases of the
    frame in no known district make a last row with `district` ""."""
    table = pd.DataFrame([(d.id, d.area_km2) for d in city.districts], columns=["district", "area_km2"])
    counted = _counted(counts, "district")
    table["cases"] = table["district"].map(counted).fillna(0).astype("int64")
    rest = int(counted.sum()) - int(table["cases"].sum())
    if rest:
        table = pd.concat([table, pd.DataFrame([{"district": "", "area_km2": float("nan"), "cases": rest}])],
                          ignore_index=True)
    _names(table, city)
    _per_km2(table)
    return table[list(DISTRICT_COLUMNS)]


def map_classes(values: Mapping[str, int] | pd.Series, colors: tuple[str, ...] = COLORS) -> tuple[list[int], list[str]]:
    """Colour classes for counts: `breaks` are the lower bounds (the first is 1: no case is not
    coloured), rounded to 1-2-5 steps so the legend reads well, at most len(colors) classes."""
    top = int(max(values.values() if isinstance(values, Mapping) else values.tolist(), default=0) or 0)
    if top <= 0:
        return [1], [colors[0]]
    steps = [n * 10 ** e for e in range(len(str(top))) for n in (1, 2, 5) if n * 10 ** e <= top]
    if len(steps) > len(colors):  # spread over the range, keeping the first (1) and the last
        last = len(steps) - 1
        steps = [steps[round(i * last / (len(colors) - 1))] for i in range(len(colors))]
    return steps, list(colors[len(colors) - len(steps):])


def class_labels(breaks: list[int]) -> list[str]:
    """The legend's range of each class: "1–4", "5–9", …, "50+"."""
    out = []
    for i, lo in enumerate(breaks):
        hi = breaks[i + 1] - 1 if i + 1 < len(breaks) else None
        out.append(f"{lo}+" if hi is None else (str(lo) if hi == lo else f"{lo}–{hi}"))
    return out


# ---- for the report and the page ------------------------------------------------------------

def density_table(url: str, from_ms: int, to_ms: int, city: CityMap, by: str = "district", district: str = "") -> pd.DataFrame:
    """The density table of a period from the record: `by` "district" (DISTRICT_COLUMNS) or
    "cell" (CELL_COLUMNS, optionally of one district)."""
    if by not in ("district", "cell"):
        raise ValueError(f"by must be 'district' or 'cell', not {by!r}")
    counts = case_counts(url, from_ms, to_ms, district if by == "cell" else "")
    return by_cell(counts, city, district) if by == "cell" else by_district(counts, city)


def table_geojson(table: pd.DataFrame, city: CityMap, by: str = "cell") -> dict:
    """A density table (by_cell / by_district) as a GeoJSON FeatureCollection of the cells' or
    the districts' polygons, each with the table's columns as properties (rows without a
    cell or district are left out: they have no shape)."""
    if by == "cell":
        shapes = {f["properties"]["id"]: f["geometry"] for f in city.grid_geojson()["features"]}
        key = "cell"
    else:
        shapes = {f["properties"]["id"]: f["geometry"] for f in city.district_geojson["features"]}
        key = "district"
    features = []
    for row in table.to_dict("records"):
        geometry = shapes.get(row[key])
        if geometry is None:
            continue
        props = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        props = {k: (int(v) if hasattr(v, "item") and isinstance(v.item(), int) else v) for k, v in props.items()}
        features.append({"type": "Feature", "id": row[key], "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def density_geojson(url: str, from_ms: int, to_ms: int, city: CityMap, by: str = "cell", district: str = "") -> dict:
    """`density_table` as GeoJSON polygons (EPSG:4326) with each cell's or district's figures."""
    return table_geojson(density_table(url, from_ms, to_ms, city, by, district), city, by)


def cell_values(cells: pd.DataFrame) -> dict[str, int]:
    """{cell: cases} of the cells with at least one case (the map's hideout values)."""
    hit = cells[(cells["cell"] != "") & (cells["cases"] > 0)]
    return {str(c): int(n) for c, n in zip(hit["cell"], hit["cases"])}
