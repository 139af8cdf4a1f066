"""`GET /api/v1/map/devices`: the map's device layer as GeoJSON, fetched by the browser itself
(dash-leaflet's `url`), never through a Dash callback. `GET /api/v1/map/devices/<id>?lang=zh|en`:
one device's latest reading in words, fetched by the device tooltip when it opens.
`GET /api/v1/map/districts`: the district outlines as GeoJSON (any signed-in principal; the
inspector's report page draws them under its marker and its service worker keeps a copy).

At 50,000 devices the layer is about 9 MB of JSON: it is built and gzip-compressed once per
registry version of the process's `CityCache` and served from memory, so a page load costs a
memory copy (and about a tenth of the bytes on the wire).
"""

from __future__ import annotations

import gzip

import orjson
from flask import Flask, Response, request

from ioc.domain.kinds import KINDS
from ioc.i18n import resolve_lang, t
from ioc.views.bigscreen import DEVICES_URL, devices_geojson
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


DISTRICTS_URL = "/api/v1/map/districts"


def map_districts():
    """The district outlines: the city map's own GeoJSON (about 13 kB)."""
    api_principal(SIGNED_IN)
    return Response(orjson.dumps(current_services().city.district_geojson), mimetype="application/geo+json")


def register(server: Flask, services: Services | None = None) -> None:
    server.add_url_rule(DISTRICTS_URL, view_func=map_districts, methods=["GET"])
    server.add_url_rule(DEVICES_URL, view_func=map_devices, methods=["GET"])
    server.add_url_rule(DEVICES_URL + "/<device_id>", view_func=map_device, methods=["GET"])
