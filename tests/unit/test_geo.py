"""Specification of the city's geodata and the pure district / grid lookups (ioc.domain.geo)."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import pytest
import shapely
from shapely.geometry import Point, shape

from ioc.adapters.geodata_files import load_city_map

GEODATA = Path(__file__).resolve().parents[2] / "geodata"
BBOX = (120.3, 31.65, 120.95, 32.1)  # generous box around Zhangjiagang, WGS84


@pytest.fixture(scope="module")
def city_map():
    return load_city_map(GEODATA)


@pytest.fixture(scope="module")
def district_shapes():
    fc = json.loads((GEODATA / "districts.geojson").read_text(encoding="utf-8"))
    return {f["properties"]["id"]: shape(f["geometry"]) for f in fc["features"]}


@pytest.fixture(scope="module")
def city_shape():
    fc = json.loads((GEODATA / "city.geojson").read_text(encoding="utf-8"))
    return shape(fc["features"][0]["geometry"])


@pytest.fixture(scope="module")
def grid():
    return json.loads((GEODATA / "grid.geojson").read_text(encoding="utf-8"))


def _shared_vertex(district_shapes):
    """A vertex that lies on the border of two districts: (lon, lat), and the ids covering it."""
    for (a, ga), (b, gb) in itertools.combinations(sorted(district_shapes.items()), 2):
        border = ga.boundary.intersection(gb.boundary)
        if border.is_empty or border.length == 0:
            continue
        coords = shapely.get_coordinates(border)
        x, y = coords[len(coords) // 2]
        point = Point(x, y)
        covering = sorted(k for k, g in district_shapes.items() if g.covers(point))
        if len(covering) == 2:
            return (float(x), float(y)), covering
    raise AssertionError("no shared border found")


def test_each_seat_lies_in_its_own_district(city_map):
    for district in city_map.districts:
        assert city_map.district_at(*district.seat) == district.id


def test_districts_are_sorted_by_id_and_found_by_id(city_map):
    ids = [d.id for d in city_map.districts]
    assert ids == sorted(ids)
    assert city_map.district("yangshe").name("en") == "Yangshe"
    assert city_map.district("yangshe").name("zh") == "杨舍镇"
    assert city_map.district("nowhere") is None


def test_point_outside_the_city_is_in_no_district(city_map):
    assert city_map.district_at(120.30, 31.70) is None  # Jiangyin, west of the city
    assert city_map.contains(120.30, 31.70) is False
    assert city_map.cell_at(120.30, 31.70) is None


def test_point_on_a_shared_border_belongs_to_the_smallest_id(city_map, district_shapes):
    (lon, lat), covering = _shared_vertex(district_shapes)
    answers = {city_map.district_at(lon, lat) for _ in range(5)}
    assert answers == {covering[0]}


def test_point_on_the_outer_boundary_is_inside(city_map, city_shape):
    lon, lat = city_shape.exterior.coords[0]
    assert city_map.contains(lon, lat)
    assert city_map.district_at(lon, lat) is not None


@pytest.mark.parametrize("lon, lat", [
    (math.nan, 31.9), (120.6, math.nan), (math.inf, 31.9), (120.6, -math.inf),
    (500.0, 31.9), (120.6, 95.0), (None, 31.9), ("east", 31.9),
])
def test_invalid_coordinates_give_none(city_map, lon, lat):
    assert city_map.district_at(lon, lat) is None
    assert city_map.cell_at(lon, lat) is None
    assert city_map.contains(lon, lat) is False


def test_partition_has_no_overlaps(district_shapes):
    for (a, ga), (b, gb) in itertools.combinations(district_shapes.items(), 2):
        assert ga.intersection(gb).area < 1e-12, (a, b)


def test_partition_area_equals_the_outline(district_shapes, city_shape):
    total = sum(g.area for g in district_shapes.values())
    assert abs(total - city_shape.area) / city_shape.area < 0.005
    assert shapely.union_all(list(district_shapes.values())).symmetric_difference(city_shape).area \
        < 0.005 * city_shape.area


def test_every_grid_cell_district_matches_its_centre(city_map, grid):
    for feature in grid["features"]:
        p = feature["properties"]
        lon, lat = city_map.lattice.centre(p["row"], p["col"])
        assert city_map.district_at(lon, lat) == p["district"], p["id"]


def test_cell_at_a_cell_centre_returns_that_cell(city_map, grid):
    for feature in grid["features"]:
        p = feature["properties"]
        lon, lat = city_map.lattice.centre(p["row"], p["col"])
        assert city_map.cell_at(lon, lat) == p["id"]


def test_cell_ids_follow_the_documented_structure(city_map, grid):
    codes = {d.id: d.code for d in city_map.districts}
    for feature in grid["features"]:
        p = feature["properties"]
        assert len(p["id"]) == 15 and p["id"].isdigit()
        assert p["id"] == f"{codes[p['district']]}00{p['row']:02d}{p['col']:02d}"


def test_random_point_in_is_reproducible_and_inside(city_map):
    for district in city_map.districts:
        first = city_map.random_point_in(district.id, random.Random(42))
        again = city_map.random_point_in(district.id, random.Random(42))
        assert first == again
        assert city_map.district_at(*first) == district.id


def test_geodata_files_are_wgs84_within_the_city_bbox():
    for name in ("city.geojson", "districts.geojson", "grid.geojson"):
        fc = json.loads((GEODATA / name).read_text(encoding="utf-8"))
        assert fc["type"] == "FeatureCollection"
        assert "crs" not in fc  # RFC 7946: no crs member means WGS84 lon/lat
        coords = shapely.get_coordinates([shape(f["geometry"]) for f in fc["features"]])
        assert coords[:, 0].min() >= BBOX[0] and coords[:, 0].max() <= BBOX[2], name
        assert coords[:, 1].min() >= BBOX[1] and coords[:, 1].max() <= BBOX[3], name


def test_city_bounds_match_the_outline(city_map, city_shape):
    assert city_map.bounds == pytest.approx(city_shape.bounds)
