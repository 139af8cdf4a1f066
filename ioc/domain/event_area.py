"""The area of a linked event (大联动) on the city map, and what lies inside it.

Pure code on shapely 2 (no I/O). Coordinates are WGS84 (lon, lat) degrees, as everywhere in IOC.

Input (`area_from_input`, the API's `area` field)
-------------------------------------------------
* ``{"type": "circle", "center": [lon, lat], "radius_m": 800}`` — a circle of 50 m … 30 km;
* ``{"type": "Polygon", "coordinates": [[[lon, lat], …]]}`` — a GeoJSON polygon, one outer ring of
  at least 3 distinct points (closed or not), no holes, not crossing itself;
* ``{"type": "district", "district": "yangshe"}`` — a whole district (town) of the city;
* a GeoJSON ``Feature`` whose geometry is such a Polygon, or a Point with a ``radius_m`` (or
  ``radius``) property — what a map's drawing tool hands over;
* ``None`` (or ``{}``) — the default district the caller gives (the alarm's or case's district).

Anything else is refused with `EventError(field="area", code=…)` and a reason a person can act
on; the code lets a page word it: `unknown_type` (not an object, or no such type), `bad_number`
(a coordinate not a finite number or out of range), `bad_radius` (not 50 m … 30 km),
`bad_polygon` (no rings), `polygon_holes`, `too_few_points` (< 3 distinct), `too_many_points`
(> 2000), `flat_polygon` (no area), `self_crossing`, `invalid_polygon` (any other invalidity),
`bad_feature`, `outside_city` (it does not touch the city's outline), `unknown_district`,
`no_area` (nothing given and no default district).

Geometry
--------
A circle is drawn as a 64-sided polygon whose corners are `radius_m` from the centre along the
sphere (the destination-point formula, mean Earth radius): exact to well under a metre at the
city's size. A district area is the district's polygon.

Districts of an area
--------------------
`area_districts`: every district whose interior the area's interior overlaps (touching a border
only does not count), in id order; a district area is just that district. `area_district`, the
primary one: the district where the area's centre lies (the circle's centre, the polygon's
centroid when it lies inside the polygon) by `CityMap.district_at`'s border rule; otherwise the
district the area overlaps most.

Linked items
------------
`linked` returns the devices, active alarms and open cases inside the area (on its edge counts as
inside). An alarm is placed at its device (from the device rows given), else at its own
``lon``/``lat``; a case at its ``lon``/``lat``. Items without a usable position are linked to a
district area when their ``district`` is that district, and to nothing else. The point test is
vectorised (`shapely.intersects_xy` on numpy arrays against a prepared geometry): 50,000 devices
take a few milliseconds. Nothing is cached here; a caller that asks often for the same area may
keep the geometry (`area_geometry`) and the device arrays (`device_points`) and use `linked_with`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable

import numpy as np
import shapely
from shapely.geometry import Polygon, mapping

from .cases import ENDED
from .events import Area, EventError
from .geo import CityMap

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
RADIUS_MIN_M = 50.0
RADIUS_MAX_M = 30_000.0
POLYGON_MAX_POINTS = 2000
CIRCLE_SIDES = 64
FLAT_DEG2 = 1e-10  # square degrees (about 1 m²): points spanning less lie on one line
FIELD = "area"


def _error(reason: str, code: str) -> EventError:
    return EventError(reason, FIELD, code)


# --- input -------------------------------------------------------------------------------------

def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or value is None:
        raise _error(f"{what} must be a number, got {value!r}", "bad_number")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _error(f"{what} must be a number, got {value!r}", "bad_number") from None
    else:
        raise _error(f"{what} must be a number, got {type(value).__name__}", "bad_number")
    if not math.isfinite(number):
        raise _error(f"{what} must be a finite number, got {value!r}", "bad_number")
    return number


def _position(value: Any, what: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise _error(f"{what} must be [longitude, latitude], got {value!r}", "bad_number")
    lon = _number(value[0], f"the longitude of {what}")
    lat = _number(value[1], f"the latitude of {what}")
    if not -180.0 <= lon <= 180.0:
        raise _error(f"the longitude of {what} must be within -180…180, got {lon}", "bad_number")
    if not -90.0 <= lat <= 90.0:
        raise _error(f"the latitude of {what} must be within -90…90, got {lat}", "bad_number")
    return lon, lat


def _circle(center: Any, radius: Any) -> Area:
    lon, lat = _position(center, "the circle's centre")
    radius_m = _number(radius, "the circle's radius (radius_m)")
    if not RADIUS_MIN_M <= radius_m <= RADIUS_MAX_M:
        raise _error(f"the circle's radius must be {RADIUS_MIN_M:g} m … {RADIUS_MAX_M / 1000:g} km, got {radius_m:g} m", "bad_radius")
    return Area(kind="circle", center=(lon, lat), radius_m=radius_m)


def _polygon(coordinates: Any) -> Area:
    if not isinstance(coordinates, (list, tuple)) or not coordinates:
        raise _error("a Polygon needs coordinates: [[[lon, lat], …]]", "bad_polygon")
    if len(coordinates) > 1:
        raise _error("a polygon with holes is not supported: draw its outline only", "polygon_holes")
    ring_in = coordinates[0]
    if not isinstance(ring_in, (list, tuple)):
        raise _error("a Polygon's coordinates must be a list of rings: [[[lon, lat], …]]", "bad_polygon")
    if len(ring_in) > POLYGON_MAX_POINTS:
        raise _error(f"the polygon has {len(ring_in)} points; at most {POLYGON_MAX_POINTS} are allowed", "too_many_points")
    ring: list[tuple[float, float]] = []
    for i, point in enumerate(ring_in):
        p = _position(point, f"point {i + 1} of the polygon")
        if not ring or ring[-1] != p:  # repeated points add nothing
            ring.append(p)
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()  # closed: the closing point is the first one again
    if len(ring) < 3:
        raise _error(f"a polygon needs at least 3 distinct points, got {len(ring)}", "too_few_points")
    polygon = Polygon(ring)
    if shapely.convex_hull(shapely.multipoints(ring)).area < FLAT_DEG2:
        raise _error("the polygon has no area (its points lie on one line)", "flat_polygon")
    if not polygon.is_valid:
        reason = shapely.is_valid_reason(polygon)
        if "Self-intersection" in reason:
            raise _error("the polygon's outline crosses itself; draw it without crossing lines", "self_crossing")
        raise _error(f"the polygon is not valid: {reason}", "invalid_polygon")
    return Area(kind="polygon", center=None, ring=tuple(ring))


def _district(district: Any, city: CityMap) -> Area:
    if not isinstance(district, str) or not district:
        raise _error("a district area needs the district's id, e.g. {\"type\": \"district\", \"district\": \"yangshe\"}", "unknown_district")
    if city.district(district) is None:
        known = ", ".join(d.id for d in city.districts)
        raise _error(f"unknown district {district!r}; the city's districts are {known}", "unknown_district")
    return Area(kind="district", center=None, district=district)


def _from_feature(raw: dict) -> dict:
    geometry = raw.get("geometry")
    if not isinstance(geometry, dict):
        raise _error("a Feature needs a geometry", "bad_feature")
    props = raw.get("properties") or {}
    if not isinstance(props, dict):
        raise _error("a Feature's properties must be an object", "bad_feature")
    if geometry.get("type") == "Point":
        radius = next((props[k] for k in ("radius_m", "radius", "_radius") if k in props), None)
        if radius is None:
            raise _error("a Point needs a radius_m property to make a circle", "bad_radius")
        return {"type": "circle", "center": geometry.get("coordinates"), "radius_m": radius}
    return geometry


def area_from_input(raw: dict | None, city: CityMap, default_district: str = "") -> Area:
    """The event's area from the API's or a form's `area` value (see the module's docstring);
    raises EventError(field="area") with the reason when it cannot be one."""
    if raw is None or (isinstance(raw, dict) and not raw):
        if not default_district:
            raise _error("no area given: draw a circle or a polygon, or pick a district", "no_area")
        return _district(default_district, city)
    if not isinstance(raw, dict):
        raise _error(f"the area must be an object (circle, Polygon or district), got {type(raw).__name__}", "unknown_type")
    if raw.get("type") == "Feature":
        raw = _from_feature(raw)
    kind = raw.get("type", raw.get("kind"))
    kind_key = kind.lower() if isinstance(kind, str) else kind
    if kind_key == "circle":
        area = _circle(raw.get("center"), raw.get("radius_m", raw.get("radius")))
    elif kind_key == "polygon":
        area = _polygon(raw.get("coordinates") if "coordinates" in raw else ([raw["ring"]] if "ring" in raw else None))
    elif kind_key == "district":
        return _district(raw.get("district"), city)
    else:
        raise _error(f"unknown area type {kind!r}; use circle, Polygon or district", "unknown_type")
    if not area_geometry(area, city).intersects(city.outline):
        raise _error("the area lies outside the city", "outside_city")
    return area


# --- geometry ----------------------------------------------------------------------------------

def _circle_ring(lon: float, lat: float, radius_m: float, sides: int = CIRCLE_SIDES) -> np.ndarray:
    """Corners `radius_m` from (lon, lat) along the sphere (destination-point formula)."""
    phi1, lam1 = math.radians(lat), math.radians(lon)
    delta = radius_m / EARTH_RADIUS_M
    bearings = np.linspace(0.0, 2.0 * math.pi, sides, endpoint=False)
    sin_phi2 = math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * np.cos(bearings)
    phi2 = np.arcsin(sin_phi2)
    lam2 = lam1 + np.arctan2(np.sin(bearings) * math.sin(delta) * math.cos(phi1),
                             math.cos(delta) - math.sin(phi1) * sin_phi2)
    return np.column_stack((np.degrees(lam2), np.degrees(phi2)))


def area_geometry(area: Area, city: CityMap):
    """The area as a shapely polygon: the district's polygon, the drawn polygon, or the circle."""
    if area.kind == "district":
        geometry = city.district_geometry(area.district)
        if geometry is None:
            raise _error(f"unknown district {area.district!r}", "unknown_district")
        return geometry
    if area.kind == "circle":
        lon, lat = area.center
        return Polygon(_circle_ring(float(lon), float(lat), float(area.radius_m)))
    if area.kind == "polygon":
        return Polygon(area.ring)
    raise _error(f"unknown area type {area.kind!r}", "unknown_type")


def _overlaps(geometry, city: CityMap) -> list[tuple[str, float]]:
    """(district, overlapped area in square degrees) for each district whose interior the area overlaps."""
    out = []
    for district in city.districts:
        shape = city.district_geometry(district.id)
        if shape.intersects(geometry) and not shape.touches(geometry):
            out.append((district.id, float(shape.intersection(geometry).area)))
    return out


def area_districts(area: Area, city: CityMap) -> tuple[str, ...]:
    """Every district the area overlaps (a border touched only does not count), in id order."""
    if area.kind == "district":
        return (area.district,)
    return tuple(d for d, _ in _overlaps(area_geometry(area, city), city))


def area_centre(area: Area, city: CityMap) -> tuple[float, float]:
    """(lon, lat) of the area's centre: the circle's centre, the polygon's centroid (a point inside
    it when the centroid falls outside), the district's seat."""
    if area.kind == "circle":
        return float(area.center[0]), float(area.center[1])
    if area.kind == "district":
        district = city.district(area.district)
        if district is None:
            raise _error(f"unknown district {area.district!r}", "unknown_district")
        return district.seat
    geometry = area_geometry(area, city)
    centre = geometry.centroid
    if not geometry.covers(centre):
        centre = geometry.representative_point()
    return float(centre.x), float(centre.y)


def area_district(area: Area, city: CityMap) -> str:
    """The primary district: where the area's centre lies, else the one it overlaps most ("" if none)."""
    if area.kind == "district":
        return area.district
    geometry = area_geometry(area, city)
    if area.kind == "circle":
        centre = area_centre(area, city)
    else:
        point = geometry.centroid
        centre = (float(point.x), float(point.y)) if geometry.covers(point) else None
    if centre is not None:
        found = city.district_at(*centre)
        if found:
            return found
    overlaps = _overlaps(geometry, city)
    if not overlaps:
        return ""
    return min(overlaps, key=lambda pair: (-pair[1], pair[0]))[0]


def _rounded(coordinates: Any, decimals: int = 6) -> Any:
    if isinstance(coordinates, (list, tuple)):
        if coordinates and isinstance(coordinates[0], (int, float)):
            return [round(float(c), decimals) for c in coordinates]
        return [_rounded(c, decimals) for c in coordinates]
    return coordinates


MAP_TOLERANCE_DEG = 0.0002  # about 20 m: what a city map cannot tell apart (`area_geojson(simplified=True)`)


def area_geojson(area: Area, city: CityMap, simplified: bool = False) -> dict:
    """A GeoJSON Feature of the area for a map layer; properties: kind, district (primary),
    districts, radius_m and center ([lon, lat]) for a circle, district for a district area.
    `simplified`: the outline within MAP_TOLERANCE_DEG and coordinates to 5 decimals (about 1 m),
    what a map of the city draws alike in far fewer bytes."""
    shape = area_geometry(area, city)
    if simplified:
        shape = shape.simplify(MAP_TOLERANCE_DEG, preserve_topology=True)
    geometry = mapping(shape)
    props: dict[str, Any] = {"kind": area.kind, "district": area_district(area, city),
                             "districts": list(area_districts(area, city))}
    if area.kind == "circle":
        props["radius_m"] = float(area.radius_m)
        props["center"] = [float(area.center[0]), float(area.center[1])]
    return {"type": "Feature",
            "geometry": {"type": geometry["type"], "coordinates": _rounded(geometry["coordinates"], 5 if simplified else 6)},
            "properties": props}


def area_bounds(area: Area, city: CityMap) -> list[list[float]]:
    """[[lat_min, lon_min], [lat_max, lon_max]]: the map's viewport for the area (Leaflet order)."""
    lon_min, lat_min, lon_max, lat_max = area_geometry(area, city).bounds
    return [[float(lat_min), float(lon_min)], [float(lat_max), float(lon_max)]]


# --- what lies inside --------------------------------------------------------------------------

def _inside_xy(geometry, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """A boolean mask: which (lon, lat) lie in or on the geometry (NaN never does)."""
    if lon.size == 0:
        return np.zeros(0, dtype=bool)
    shapely.prepare(geometry)  # no-op when already prepared (district polygons are)
    return np.asarray(shapely.intersects_xy(geometry, lon, lat), dtype=bool)


def _coordinate(value: Any) -> float:
    if isinstance(value, bool):
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _coordinates(values: list) -> np.ndarray:
    """Numbers as a float array, anything that is not a finite number as NaN."""
    try:
        if bool not in set(map(type, values)):
            array = np.array(values, dtype=float)
            array[~np.isfinite(array)] = np.nan
            return array
    except (TypeError, ValueError):
        pass
    return np.fromiter((_coordinate(v) for v in values), dtype=float, count=len(values))


def inside(area: Area, city: CityMap, points: Iterable[tuple[float, float]]) -> list[bool]:
    """For each (lon, lat): whether it lies in the area or on its edge (bad coordinates: False)."""
    pairs = [p if isinstance(p, (list, tuple)) and len(p) == 2 else (None, None) for p in points]
    lon = _coordinates([p[0] for p in pairs])
    lat = _coordinates([p[1] for p in pairs])
    return _inside_xy(area_geometry(area, city), lon, lat).tolist()


class DevicePoints:
    """The device rows' positions as numpy arrays, for repeated area queries (a caller may keep
    one per registry version)."""

    def __init__(self, devices: Iterable):
        self.devices = tuple(devices)
        self.lon = _coordinates([d.lon for d in self.devices])
        self.lat = _coordinates([d.lat for d in self.devices])

    @cached_property
    def index(self) -> dict[str, int]:
        """Device id -> row (built when first needed: placing alarms)."""
        return {d.id: i for i, d in enumerate(self.devices)}

    @classmethod
    def of(cls, devices: Iterable) -> "DevicePoints":
        return cls(devices)


def device_points(devices: Iterable) -> DevicePoints:
    return DevicePoints.of(devices)


@dataclass(frozen=True)
class Linked:
    """What lies inside an event's area: device rows, active alarms (dicts), open cases."""

    devices: tuple = ()
    alarms: tuple = ()
    cases: tuple = ()

    def to_dict(self) -> dict:
        """Ids only (the API's `linked`): {"devices": [...], "alarms": [...], "cases": [...]}."""
        return {"devices": [d.id for d in self.devices],
                "alarms": [a.get("id") for a in self.alarms],
                "cases": [_get(c, "id") for c in self.cases]}


def _get(item: Any, name: str, default: Any = None) -> Any:
    return item.get(name, default) if isinstance(item, dict) else getattr(item, name, default)


def _case_open(case: Any) -> bool:
    is_open = _get(case, "is_open")
    if isinstance(is_open, bool):
        return is_open
    return _get(case, "stage", "") not in ENDED


def _by_place(items: list, lon: list[float], lat: list[float], area: Area, geometry) -> list:
    lon_a, lat_a = _coordinates(lon), _coordinates(lat)
    mask = _inside_xy(geometry, lon_a, lat_a)
    placed = ~np.isnan(lon_a) & ~np.isnan(lat_a)
    out = []
    for item, hit, has_place in zip(items, mask.tolist(), placed.tolist()):
        if hit or (not has_place and area.kind == "district" and _get(item, "district") == area.district):
            out.append(item)
    return out


def devices_inside(geometry, points: DevicePoints) -> tuple:
    """The device rows of `points` inside the area's geometry (or on its edge)."""
    mask = _inside_xy(geometry, points.lon, points.lat)
    return tuple(points.devices[i] for i in np.flatnonzero(mask))


def linked_with(area: Area, geometry, points: DevicePoints, alarms: Iterable[dict], cases: Iterable,
                devices: bool = True) -> Linked:
    """`linked` with the area's geometry and the device arrays already at hand (`devices=False`:
    the alarms and cases alone, the devices left empty — a caller keeping them per registry)."""
    inside_devices = devices_inside(geometry, points) if devices else ()
    alarm_list = list(alarms)
    a_lon, a_lat = [], []
    index = points.index if alarm_list else {}
    for alarm in alarm_list:
        i = index.get(alarm.get("device_id"))
        if i is not None and not math.isnan(points.lon[i]):
            a_lon.append(float(points.lon[i]))
            a_lat.append(float(points.lat[i]))
        else:
            a_lon.append(_coordinate(alarm.get("lon")))
            a_lat.append(_coordinate(alarm.get("lat")))
    case_list = [c for c in cases if _case_open(c)]
    c_lon = [_coordinate(_get(c, "lon")) for c in case_list]
    c_lat = [_coordinate(_get(c, "lat")) for c in case_list]
    return Linked(devices=inside_devices,
                  alarms=tuple(_by_place(alarm_list, a_lon, a_lat, area, geometry)),
                  cases=tuple(_by_place(case_list, c_lon, c_lat, area, geometry)))


def linked(area: Area, city: CityMap, devices: Iterable, alarms: Iterable[dict], cases: Iterable) -> Linked:
    """The devices (DeviceRow), active alarms (dicts) and open cases (Case or dicts) inside the area."""
    return linked_with(area, area_geometry(area, city), DevicePoints.of(devices), alarms, cases)
