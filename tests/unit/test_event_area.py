"""Specification of a linked event's area (ioc.domain.event_area): what the API accepts and
refuses, the districts an area touches, and what lies inside it (devices, alarms, open cases)."""

from __future__ import annotations

import math

import pytest
import shapely

from ioc.domain.cases import Case
from ioc.domain.city_state import DeviceRow
from ioc.domain.event_area import (DevicePoints, area_bounds, area_district, area_districts, area_from_input,
                                   area_geojson, area_geometry, inside, linked, linked_with)
from ioc.domain.events import Area, EventError

OUTSIDE = (121.30, 31.40)  # Shanghai's Baoshan side, well beyond the city


def refusal(raw, city, default_district: str = "") -> EventError:
    with pytest.raises(EventError) as caught:
        area_from_input(raw, city, default_district)
    assert caught.value.field == "area"
    return caught.value


def circle(centre, radius_m=500) -> dict:
    return {"type": "circle", "center": list(centre), "radius_m": radius_m}


def polygon(*points) -> dict:
    return {"type": "Polygon", "coordinates": [[list(p) for p in points]]}


def seat(city, district_id):
    return city.district(district_id).seat


def border_point(city, a: str, b: str) -> tuple[float, float]:
    """A point in the middle of the border districts `a` and `b` share."""
    border = city.district_geometry(a).boundary.intersection(city.district_geometry(b).boundary)
    line = shapely.line_merge(border)
    if line.geom_type == "MultiLineString":
        line = max(line.geoms, key=lambda g: g.length)
    middle = line.interpolate(0.5, normalized=True)
    return float(middle.x), float(middle.y)


def metres(a, b) -> float:
    """Great-circle distance between two (lon, lat) points."""
    (lon1, lat1), (lon2, lat2) = map(lambda p: (math.radians(p[0]), math.radians(p[1])), (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def offset(point, east_m=0.0, north_m=0.0):
    lon, lat = point
    return (lon + east_m / (111_320 * math.cos(math.radians(lat))), lat + north_m / 110_574)


# --- what the API accepts -----------------------------------------------------------------------

def test_a_circle_inside_the_city_is_accepted_with_its_centre_and_radius(city):
    area = area_from_input(circle(seat(city, "yangshe"), 800), city)
    assert area == Area("circle", seat(city, "yangshe"), 800.0)


def test_a_polygon_is_kept_as_its_ring_without_the_closing_point(city):
    s = seat(city, "jinfeng")
    ring = [offset(s, -500, -500), offset(s, 500, -500), offset(s, 500, 500), offset(s, -500, 500)]
    area = area_from_input(polygon(*ring, ring[0]), city)
    assert area.kind == "polygon" and area.ring == tuple(ring)


def test_no_area_means_the_default_district(city):
    assert area_from_input(None, city, default_district="daxin") == Area("district", district="daxin")


def test_a_district_is_accepted_by_its_id(city):
    assert area_from_input({"type": "district", "district": "leyu"}, city) == Area("district", district="leyu")


def test_a_map_drawing_of_a_circle_as_a_point_with_a_radius_is_accepted(city):
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(seat(city, "nanfeng"))},
               "properties": {"radius": 300}}
    assert area_from_input(feature, city) == Area("circle", seat(city, "nanfeng"), 300.0)


def test_a_stored_area_reads_back_as_the_same_area(city):
    area = area_from_input(circle(seat(city, "tangqiao"), 1200), city)
    assert area_from_input(area.to_dict(), city) == area


def test_a_circle_partly_outside_the_city_is_accepted(city):
    lon_min, _, _, _ = city.bounds
    west_edge = (lon_min, seat(city, "jingang")[1])
    area = area_from_input(circle(offset(west_edge, east_m=-1000), 3000), city)
    assert area.kind == "circle"


# --- what it refuses, with the reason -----------------------------------------------------------

def test_a_polygon_crossing_itself_is_refused(city):
    s = seat(city, "yangshe")
    bow_tie = [offset(s, -500, -500), offset(s, 500, 500), offset(s, 500, -500), offset(s, -500, 500)]
    error = refusal(polygon(*bow_tie), city)
    assert error.code == "self_crossing" and "crosses itself" in str(error)


def test_a_circle_wholly_outside_the_city_is_refused(city):
    error = refusal(circle(OUTSIDE, 5000), city)
    assert error.code == "outside_city" and "outside the city" in str(error)


def test_a_polygon_wholly_outside_the_city_is_refused(city):
    ring = [OUTSIDE, offset(OUTSIDE, 1000), offset(OUTSIDE, 1000, 1000)]
    assert refusal(polygon(*ring), city).code == "outside_city"


def test_a_polygon_of_two_points_is_refused(city):
    s = seat(city, "yangshe")
    error = refusal(polygon(s, offset(s, 100), s), city)
    assert error.code == "too_few_points" and "at least 3" in str(error)


def test_a_polygon_whose_points_lie_on_one_line_is_refused(city):
    s = seat(city, "yangshe")
    assert refusal(polygon(s, offset(s, 100, 100), offset(s, 200, 200)), city).code == "flat_polygon"


def test_a_polygon_with_a_hole_is_refused(city):
    s = seat(city, "yangshe")
    outer = [offset(s, -900, -900), offset(s, 900, -900), offset(s, 900, 900), offset(s, -900, 900)]
    hole = [offset(s, -100, -100), offset(s, 100, -100), offset(s, 100, 100)]
    raw = {"type": "Polygon", "coordinates": [[list(p) for p in outer], [list(p) for p in hole]]}
    assert refusal(raw, city).code == "polygon_holes"


@pytest.mark.parametrize("radius", [10, 49.9, 30_001, 0, -5])
def test_a_radius_outside_50_m_to_30_km_is_refused(city, radius):
    error = refusal(circle(seat(city, "yangshe"), radius), city)
    assert error.code == "bad_radius" and "50 m … 30 km" in str(error)


@pytest.mark.parametrize("centre", [["x", 31.87], [float("nan"), 31.87], [120.55], [True, 31.87], [120.55, 95.0], None])
def test_a_centre_that_is_not_two_finite_coordinates_is_refused(city, centre):
    assert refusal({"type": "circle", "center": centre, "radius_m": 500}, city).code == "bad_number"


@pytest.mark.parametrize("radius", ["abc", None, float("inf"), False])
def test_a_radius_that_is_not_a_finite_number_is_refused(city, radius):
    assert refusal(circle(seat(city, "yangshe"), radius), city).code == "bad_number"


def test_an_unknown_district_is_refused(city):
    error = refusal({"type": "district", "district": "atlantis"}, city)
    assert error.code == "unknown_district" and "atlantis" in str(error)


def test_an_unknown_default_district_is_refused(city):
    assert refusal(None, city, default_district="atlantis").code == "unknown_district"


def test_no_area_and_no_default_district_is_refused(city):
    assert refusal(None, city).code == "no_area"


@pytest.mark.parametrize("raw", [{"type": "hexagon"}, {"type": "LineString", "coordinates": []}, "yangshe", [1, 2]])
def test_an_unknown_type_is_refused(city, raw):
    assert refusal(raw, city).code == "unknown_type"


# --- geometry -----------------------------------------------------------------------------------

def test_a_circle_is_drawn_with_its_radius_in_metres(city):
    centre = seat(city, "leyu")
    ring = shapely.get_coordinates(area_geometry(Area("circle", centre, 2000.0), city).exterior)
    assert all(abs(metres(centre, tuple(p)) - 2000) < 1 for p in ring)


def test_the_bounds_enclose_the_area_in_latitude_longitude_order(city):
    area = Area("circle", seat(city, "fenghuang"), 1000.0)
    (lat_min, lon_min), (lat_max, lon_max) = area_bounds(area, city)
    lon, lat = seat(city, "fenghuang")
    assert lat_min < lat < lat_max and lon_min < lon < lon_max
    assert metres((lon, lat_min), (lon, lat)) == pytest.approx(1000, abs=1)


def test_the_geojson_is_a_feature_with_the_area_and_its_districts(city):
    feature = area_geojson(Area("circle", seat(city, "daxin"), 700.0), city)
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Polygon"
    assert feature["properties"] == {"kind": "circle", "district": "daxin", "districts": ["daxin"], "radius_m": 700.0,
                                     "center": list(seat(city, "daxin"))}


def test_the_map_s_geojson_is_simplified_to_what_a_city_map_shows_in_fewer_points(city):
    from shapely.geometry import shape

    area = Area("circle", seat(city, "daxin"), 3000.0)
    full, light = area_geojson(area, city), area_geojson(area, city, simplified=True)
    ring = light["geometry"]["coordinates"][0]
    assert len(ring) <= len(full["geometry"]["coordinates"][0])
    assert all(round(c, 5) == c for point in ring for c in point)
    assert shape(light["geometry"]).symmetric_difference(shape(full["geometry"])).area < 0.02 * shape(full["geometry"]).area
    assert light["properties"] == full["properties"]


# --- districts ----------------------------------------------------------------------------------

def test_a_district_area_is_that_district_alone_though_it_borders_others(city):
    assert area_districts(Area("district", district="yangshe"), city) == ("yangshe",)
    assert area_district(Area("district", district="yangshe"), city) == "yangshe"


def test_a_circle_on_a_border_touches_both_districts(city):
    area = Area("circle", border_point(city, "tangqiao", "yangshe"), 300.0)
    assert area_districts(area, city) == ("tangqiao", "yangshe")


def test_a_circle_within_one_district_touches_only_it(city):
    assert area_districts(Area("circle", seat(city, "jingang"), 500.0), city) == ("jingang",)


def test_the_primary_district_is_where_the_centre_lies(city):
    point = border_point(city, "tangqiao", "yangshe")
    towards_yangshe = [offset(point, east_m=e, north_m=n) for e in (-150, 150) for n in (-150, 150)]
    centre = next(p for p in towards_yangshe if city.district_at(*p) == "yangshe")
    assert area_district(Area("circle", centre, 1000.0), city) == "yangshe"


def test_the_primary_district_of_a_polygon_whose_centre_lies_outside_it_is_the_most_overlapped(city):
    s = seat(city, "jinfeng")
    # a U: its centroid falls in the notch, outside the polygon
    u = [offset(s, -900, -900), offset(s, 900, -900), offset(s, 900, 900), offset(s, 600, 900),
         offset(s, 600, -600), offset(s, -600, -600), offset(s, -600, 900), offset(s, -900, 900)]
    area = area_from_input(polygon(*u), city)
    geometry = area_geometry(area, city)
    assert not geometry.covers(geometry.centroid)
    assert area_district(area, city) == "jinfeng"


# --- what lies inside ---------------------------------------------------------------------------

def test_inside_answers_for_each_point_in_order_and_bad_points_are_outside(city):
    centre = seat(city, "tangqiao")
    area = Area("circle", centre, 1000.0)
    points = [centre, offset(centre, 990), offset(centre, 1010), (float("nan"), 31.8), ("x", 31.8), OUTSIDE]
    assert inside(area, city, points) == [True, True, False, False, False, False]


def device(id_, point, kind="water_level", district="") -> DeviceRow:
    return DeviceRow(id_, kind, f"gauge {id_}", point[0], point[1], district, True)


def case(id_, point, stage="dispatched", district="") -> Case:
    return Case(id=id_, class_code="0101", lat=point[1], lon=point[0], district=district, source="hotline",
                created_at=0, stage=stage)


def test_linked_gathers_devices_alarms_and_open_cases_inside_the_area_and_nothing_outside(city):
    centre = seat(city, "yangshe")
    near, far = offset(centre, 200), offset(centre, 5000)
    devices = [device("in", near), device("out", far)]
    alarms = [{"id": "in|water_level_warning", "device_id": "in"}, {"id": "out|water_level_warning", "device_id": "out"}]
    cases = [case("C-in", near), case("C-out", far), case("C-closed", near, stage="closed")]
    result = linked(Area("circle", centre, 1000.0), city, devices, alarms, cases)
    assert [d.id for d in result.devices] == ["in"]
    assert [a["id"] for a in result.alarms] == ["in|water_level_warning"]
    assert [c.id for c in result.cases] == ["C-in"]
    assert result.to_dict() == {"devices": ["in"], "alarms": ["in|water_level_warning"], "cases": ["C-in"]}


def test_an_alarm_of_an_unknown_device_is_placed_by_its_own_position(city):
    centre = seat(city, "leyu")
    alarms = [{"id": "x|r", "device_id": "x", "lon": centre[0], "lat": centre[1]}, {"id": "y|r", "device_id": "y"}]
    assert [a["id"] for a in linked(Area("circle", centre, 500.0), city, [], alarms, []).alarms] == ["x|r"]


def test_an_item_without_a_position_is_linked_to_its_district_area_only(city):
    alarms = [{"id": "x|r", "device_id": "x", "district": "leyu"}]
    assert len(linked(Area("district", district="leyu"), city, [], alarms, []).alarms) == 1
    assert len(linked(Area("circle", seat(city, "leyu"), 30_000.0), city, [], alarms, []).alarms) == 0


def test_cases_as_plain_dicts_are_linked_like_cases(city):
    centre = seat(city, "daxin")
    cases = [{"id": "C1", "lon": centre[0], "lat": centre[1], "stage": "accepted"},
             {"id": "C2", "lon": centre[0], "lat": centre[1], "stage": "voided"}]
    assert [c["id"] for c in linked(Area("district", district="daxin"), city, [], [], cases).cases] == ["C1"]


def test_linked_with_kept_device_arrays_answers_like_linked(city):
    centre = seat(city, "nanfeng")
    devices = [device(f"d{i}", offset(centre, 100 * i + 50)) for i in range(40)]  # 50 m, 150 m … 3950 m east
    area = Area("circle", centre, 1500.0)
    kept = linked_with(area, area_geometry(area, city), DevicePoints(devices), [], [])
    assert kept == linked(area, city, devices, [], []) and len(kept.devices) == 15
