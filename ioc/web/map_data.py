"""`GET /api/v1/map/devices`: the map's device layer as GeoJSON, fetched by the browser itself
(dash-leaflet's `url`), never through a Dash callback. `GET /api/v1/map/devices/<id>?lang=zh|en`:
one device's latest reading in words, fetched by the device tooltip when it opens.
`GET /api/v1/map/districts`: the district outlines as GeoJSON (any signed-in principal; the
inspector's report page draws them under its marker and its service worker keeps a copy).
`GET /api/v1/map/cases?district=&at=`: the open cases as GeoJSON points, live or (`at`, epoch ms)
as the record holds them at that moment (the wall's and the district pages' 在办案件 layer).

At 50,000 devices the layer is about 9 MB of JSON: it is built and gzip-compressed once per
registry version of the process's `CityCache` and served from memory, so a page load costs a
memory copy (and about a tenth of the bytes on the wire).
"""

from __future__ import annotations

import gzip
import math
import threading
import time
import weakref
from collections import OrderedDict

import orjson
from flask import Flask, Response, request

from ioc.domain.kinds import KINDS
from ioc.i18n import resolve_lang, t
from ioc.views.bigscreen import DEVICES_URL, devices_geojson
from ioc.views.case_map import CASES_URL, LIVE_EVERY_MS, cases_geojson, next_change
from ioc.views.readings import reading_lines, reading_time

from ioc.domain.access import SIGNED_IN

from .auth import api_principal
from .services import Services, current_services


def _error(status: int, error: str, message: str) -> Response:
    return Response(orjson.dumps({"error": error, "message": message}), status, mimetype="application/json")


def map_devices():
    """The device layer (of one district with `?district=`), gzip-compressed for a client that takes it."""
    api_principal("view:bigscreen")
    services = current_services()
    district = request.args.get("district", "")
    fleet = services.city_cache.devices()
    if district and district not in {d.id for d in services.city.districts}:
        return _error(404, "not_found", f"no district {district!r}")
    key = ("map-devices", district)
    body = fleet.derived.get(key)
    if body is None:  # once per registry version and district, shared by every viewer of the process
        rows = fleet.in_district(district) if district else fleet.devices
        raw = orjson.dumps(devices_geojson(rows))
        body = fleet.derived[key] = (raw, gzip.compress(raw, 6))
    return _geojson(body)


def _geojson(body: tuple[bytes, bytes]) -> Response:
    """A layer as built once (raw, gzip-compressed): compressed for a client that takes it."""
    raw, packed = body
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = Response(packed, mimetype="application/geo+json")
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(raw, mimetype="application/geo+json")
    response.headers["Vary"] = "Accept-Encoding"
    return response


def map_device(device_id: str):
    """What the device tooltip shows: name, kind and state in words, the latest reading line by line."""
    api_principal("view:bigscreen")
    services = current_services()
    lang = resolve_lang(request.args.get("lang"), services.settings.lang)
    device = services.snapshot.device(device_id)
    if device is None:
        return _error(404, "not_found", f"no device {device_id!r}")
    meta, latest = device["meta"], device["latest"]
    kind = KINDS.get(meta.get("kind", ""))
    body = {
        "id": device_id, "name": meta.get("name") or device_id,
        "kind": (kind.name_en if lang == "en" else kind.name_zh) if kind else meta.get("kind", ""),
        "state": t("tooltip_online" if device["state"] == "online" else "tooltip_offline", lang),
        "time": reading_time(latest), "lines": reading_lines(meta.get("kind", ""), latest, lang),
        "empty": t("tooltip_no_reading", lang),
    }
    return Response(orjson.dumps(body), mimetype="application/json")


class CaseLayers:
    """The open-case layer's bodies of one process, shared by every viewer.

    Live: what the layer shows is looked at again at most every `every_ms` (a wall asks every
    tick); it moves (`version`) when the open cases changed or one of them has turned overdue
    since, and its GeoJSON is built once per version and district. Replayed: built once per
    moment (second) and district, the last `MOMENTS` kept."""

    MOMENTS = 32

    def __init__(self, every_ms: int = LIVE_EVERY_MS):
        self.every_ms = every_ms
        self._lock = threading.Lock()
        self._checked_at = -math.inf
        self._cases = None  # the open-case list the version was taken from
        self._until = -math.inf  # when one of them turns overdue
        self._version = 0
        self._bodies: dict[tuple[int, str], tuple[bytes, bytes]] = {}
        self._moments: OrderedDict[tuple[int, str], tuple[bytes, bytes]] = OrderedDict()

    def version(self, cases_of, now_ms: int) -> int:
        """The live layer's version at `now_ms` (`cases_of()`: the open cases now, read only when
        the last look is older than `every_ms`)."""
        with self._lock:
            return self._look(cases_of, now_ms)

    def _look(self, cases_of, now_ms: int) -> int:
        if now_ms - self._checked_at >= self.every_ms:
            cases = cases_of()
            if cases is not self._cases or now_ms >= self._until:
                self._cases, self._until, self._version = cases, next_change(cases, now_ms), self._version + 1
                self._bodies = {}
            self._checked_at = now_ms
        return self._version

    def live(self, cases_of, now_ms: int, district: str) -> tuple[bytes, bytes]:
        """The live layer of `district` ("": the city) as of its version at `now_ms`."""
        with self._lock:  # one build per version and district: the other viewers wait for it
            version = self._look(cases_of, now_ms)
            body = self._bodies.get((version, district))
            if body is None:
                body = self._bodies[(version, district)] = _packed(cases_geojson(self._cases, now_ms, district))
            return body

    def moment(self, cases_at, at_ms: int, district: str) -> tuple[bytes, bytes]:
        """The layer at the record's moment `at_ms` (`cases_at(ms)`: the cases open then)."""
        key = (at_ms // 1000, district)
        with self._lock:
            body = self._moments.get(key)
            if body is not None:
                self._moments.move_to_end(key)
                return body
        t_ms = key[0] * 1000
        body = _packed(cases_geojson(cases_at(t_ms), t_ms, district))
        with self._lock:
            self._moments[key] = body
            while len(self._moments) > self.MOMENTS:
                self._moments.popitem(last=False)
        return body


_CASE_LAYERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # city cache -> its process's CaseLayers


def case_layers(services: Services) -> CaseLayers:
    return _CASE_LAYERS.setdefault(services.city_cache, CaseLayers())


def live_cases(services: Services):
    """() -> the open cases of the process's shared snapshot (what the wall counts)."""
    return lambda: services.city_cache.snapshot().cases


def _packed(layer: dict) -> tuple[bytes, bytes]:
    raw = orjson.dumps(layer)
    return raw, gzip.compress(raw, 6)


def map_cases():
    """The open-case layer (of one district with `?district=`), live, or with `?at=<epoch ms>` the
    record's moment (needs view:rewind, as the time control); gzip-compressed for a client that takes it."""
    api_principal("view:bigscreen")
    services = current_services()
    district = request.args.get("district", "")
    at = request.args.get("at")
    if at is not None:
        if not at.isdigit():
            return _error(400, "bad_request", f"'at' must be a moment in milliseconds since 1970 (e.g. 1796112000000), not {at!r}")
        api_principal("view:rewind")
    if district and services.city.district(district) is None:
        return _error(404, "not_found", f"no district {district!r}")
    layers = case_layers(services)
    if at is None:
        return _geojson(layers.live(live_cases(services), int(time.time() * 1000), district))
    if services.rewind is None:
        return _error(404, "no_record", "this process keeps no record of the city (no DATABASE_URL): no moment to show")
    return _geojson(layers.moment(services.rewind.open_cases_at, int(at), district))


DISTRICTS_URL = "/api/v1/map/districts"


def map_districts():
    """The district outlines: the city map's own GeoJSON (about 13 kB)."""
    api_principal(SIGNED_IN)
    return Response(orjson.dumps(current_services().city.district_geojson), mimetype="application/geo+json")


def register(server: Flask, services: Services | None = None) -> None:
    server.add_url_rule(DISTRICTS_URL, view_func=map_districts, methods=["GET"])
    server.add_url_rule(DEVICES_URL, view_func=map_devices, methods=["GET"])
    server.add_url_rule(DEVICES_URL + "/<device_id>", view_func=map_device, methods=["GET"])
    server.add_url_rule(CASES_URL, view_func=map_cases, methods=["GET"])
