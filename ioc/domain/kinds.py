"""The catalog of device kinds: which attributes each kind may report, their units and ranges.

Attribute names follow the FIWARE Smart Data Models where one exists for the kind
(AirQualityObserved, NoiseLevelObserved, TrafficFlowObserved, Streetlight, CrowdFlowObserved,
ParkingSpot, WaterQualityObserved, WeatherObserved for the rain gauge's `precipitation`). Kinds without a model (manhole cover, water level,
platform heartbeat, gateway) document theirs here; the README table is generated from this
catalog and a test keeps the two in sync.

Pure data: no I/O, no framework imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attribute:
    """One reported attribute: a number in [minimum, maximum], a boolean, or one of `choices`."""

    name: str
    type: str  # "number" | "integer" | "boolean" | "enum"
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    description: str = ""

    @property
    def is_numeric(self) -> bool:
        return self.type in ("number", "integer")


@dataclass(frozen=True)
class Kind:
    """A device kind: the `{kind}` segment of `ioc/v1/{kind}/{device_id}/...`."""

    id: str
    name_zh: str
    name_en: str
    data_model: str  # FIWARE model name, or "" when the kind documents its own
    attributes: tuple[Attribute, ...] = field(default_factory=tuple)
    telemetry: bool = True  # False: status messages only (e.g. gateways)

    def attribute(self, name: str) -> Attribute | None:
        for a in self.attributes:
            if a.name == name:
                return a
        return None


def _num(name, unit, lo, hi, description="", integer=False):
    return Attribute(name, "integer" if integer else "number", unit, lo, hi, (), description)


def _enum(name, choices, description=""):
    return Attribute(name, "enum", "", None, None, tuple(choices), description)


def _bool(name, description=""):
    return Attribute(name, "boolean", "", None, None, (), description)


KINDS: dict[str, Kind] = {
    k.id: k
    for k in (
        Kind(
            "air_quality", "空气质量", "Air quality", "AirQualityObserved",
            (
                _num("pm25", "µg/m³", 0, 1000, "PM2.5 concentration"),
                _num("pm10", "µg/m³", 0, 2000, "PM10 concentration"),
                _num("no2", "µg/m³", 0, 2000, "Nitrogen dioxide"),
                _num("o3", "µg/m³", 0, 1000, "Ozone"),
                _num("so2", "µg/m³", 0, 2000, "Sulphur dioxide"),
                _num("co", "mg/m³", 0, 150, "Carbon monoxide"),
                _num("airQualityIndex", "", 0, 500, "AQI (HJ 633-2012)", integer=True),
            ),
        ),
        Kind(
            "noise", "噪声", "Noise", "NoiseLevelObserved",
            (
                _num("LAeq", "dB(A)", 0, 140, "Equivalent continuous A-weighted level"),
                _num("LAmax", "dB(A)", 0, 160, "Maximum A-weighted level"),
            ),
        ),
        Kind(
            "traffic", "交通流量", "Traffic flow", "TrafficFlowObserved",
            (
                _num("intensity", "veh/5min", 0, 10000, "Vehicles counted in the interval", integer=True),
                _num("occupancy", "ratio", 0, 1, "Fraction of time the detector was occupied"),
                _num("averageVehicleSpeed", "km/h", 0, 250, "Average vehicle speed"),
                _bool("congested", "Detector reports congestion"),
            ),
        ),
        Kind(
            "streetlight", "路灯", "Street light", "Streetlight",
            (
                _enum("powerState", ("on", "off", "low", "bootingUp"), "Lamp power state"),
                _enum("status", ("ok", "defectiveLamp", "columnIssue", "brokenLantern"), "Lamp health"),
                _num("illuminanceLevel", "ratio", 0, 1, "Dimming level"),
            ),
        ),
        Kind(
            "manhole", "井盖", "Manhole cover", "",
            (
                _num("tilt", "°", 0, 180, "Tilt of the cover from horizontal"),
                _bool("displaced", "Cover lifted or missing from its frame"),
                _num("waterDepth", "m", 0, 10, "Water depth below the cover"),
                _num("batteryLevel", "ratio", 0, 1, "Sensor battery"),
            ),
        ),
        Kind(
            "water_level", "水位", "Water level", "",
            (
                _num("waterLevel", "m", -5, 20, "Water level above the Wusong datum"),
                _num("flowRate", "m³/s", 0, 100000, "Discharge, where measured"),
            ),
        ),
        Kind(
            "rain_gauge", "雨量站", "Rain gauge", "WeatherObserved",
            (_num("precipitation", "mm/h", 0, 300, "Rainfall intensity (tipping bucket, over the last interval)"),),
        ),
        Kind(
            "water_quality", "排口水质", "Outfall water quality", "WaterQualityObserved",
            (
                _num("pH", "pH", 0, 14, "Acidity"),
                _num("cod", "mg/L", 0, 5000, "Chemical oxygen demand"),
                _num("NH4", "mg/L", 0, 500, "Ammonia nitrogen"),
                _num("turbidity", "NTU", 0, 4000, "Turbidity"),
                _num("temperature", "°C", -5, 60, "Water temperature"),
            ),
        ),
        Kind(
            "crowd", "人流", "Crowd counter", "CrowdFlowObserved",
            (
                _num("peopleCount", "persons", 0, 200000, "People in the counted area", integer=True),
                _bool("congested", "Area reported as congested"),
            ),
        ),
        Kind(
            "parking", "停车位", "Parking spot", "ParkingSpot",
            (_enum("status", ("free", "occupied", "closed", "unknown"), "Spot state"),),
        ),
        Kind(
            "platform", "平台系统", "Platform system", "",
            (
                _num("calls", "calls/interval", 0, 10_000_000, "Interface calls since the last heartbeat", integer=True),
                _num("errors", "calls/interval", 0, 10_000_000, "Failed interface calls since the last heartbeat", integer=True),
                _num("errorRate", "ratio", 0, 1, "Share of failed calls over the system's recent calls (errors / calls, as its monitoring reports it)"),
                _num("latencyMs", "ms", 0, 600000, "Mean interface latency"),
                _num("interfacesUp", "interfaces", 0, 10000, "Open interfaces answering", integer=True),
                _num("interfacesTotal", "interfaces", 0, 10000, "Open interfaces registered", integer=True),
            ),
        ),
        Kind("gateway", "网关", "Gateway", "", (), telemetry=False),
    )
}


def kind(kind_id: str) -> Kind | None:
    return KINDS.get(kind_id)
