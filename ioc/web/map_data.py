"""`GET /api/v1/map/devices`: the map's device layer as GeoJSON, fetched by the browser itself
(dash-leaflet's `url`), never through a Dash callback.

At 50,000 devices the layer is about 9 MB of JSON: it is built and gzip-compressed once per
registry version of the process's `CityCache` and served from memory, so a page load costs a
memory copy (and about a tenth of the bytes on the wire).
"""

from __future__ import annotations

import gzip

import orjson
from flask import Flask, Response, request

from ioc.adapters.redis_client import REDIS_UNAVAILABLE
from ioc.views.bigscreen import DEVICES_URL, devices_geojson

from .auth import api_principal
from .services import Services

def register(server: Flask, services: Services) -> None:
    @server.get(DEVICES_URL)
    def map_devices():
        api_principal("view:bigscreen")
        district = request.args.get("district", "")
        if services.city_cache is None:
            return Response(orjson.dumps({"error": "unavailable", "message": "REDIS_URL is not set"}), 503, mimetype="application/json")
        try:
            fleet = services.city_cache.devices()
        except REDIS_UNAVAILABLE as e:
            return Response(orjson.dumps({"error": "unavailable", "message": f"Redis is unavailable: {e}"}), 503,
                            mimetype="application/json")
        if district and district not in {d.id for d in services.city.districts}:
            return Response(orjson.dumps({"error": "not_found", "message": f"no district {district!r}"}), 404,
                            mimetype="application/json")
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
