"""A device's latest reading in words, for the map's device tooltip: attribute names in the page's
language, values with their units, booleans and enumerations as words, ratios as percentages.

Pure: the latest reading (as stored in `ioc:{sN}:latest`) in, lines of text out. The names and
words live here in one table (`ATTRIBUTE_NAMES`, `VALUE_WORDS`) and one function (`reading_text`)
so that the tooltip can later use a shared catalogue of readable attribute names without change.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ioc.domain.kinds import KINDS

CST = timezone(timedelta(hours=8))

# attribute -> (中文, English); the catalogue's own names (ioc.domain.kinds) are machine keys
ATTRIBUTE_NAMES: dict[str, tuple[str, str]] = {
    "pm25": ("PM2.5", "PM2.5"), "pm10": ("PM10", "PM10"), "no2": ("二氧化氮", "NO₂"), "o3": ("臭氧", "O₃"),
    "so2": ("二氧化硫", "SO₂"), "co": ("一氧化碳", "CO"), "airQualityIndex": ("空气质量指数", "AQI"),
    "LAeq": ("等效声级", "Equivalent level"), "LAmax": ("最大声级", "Maximum level"),
    "intensity": ("车流量", "Vehicles"), "occupancy": ("占有率", "Occupancy"), "averageVehicleSpeed": ("平均车速", "Average speed"),
    "congested": ("拥堵", "Congested"), "powerState": ("开关状态", "Power"), "status": ("状态", "Status"),
    "illuminanceLevel": ("调光水平", "Dimming level"), "tilt": ("倾角", "Tilt"), "displaced": ("井盖移位", "Cover displaced"),
    "waterDepth": ("井内水深", "Water depth"), "batteryLevel": ("电池电量", "Battery"), "waterLevel": ("水位", "Water level"),
    "flowRate": ("流量", "Discharge"), "pH": ("pH", "pH"), "cod": ("化学需氧量", "COD"), "NH4": ("氨氮", "Ammonia nitrogen"),
    "turbidity": ("浊度", "Turbidity"), "temperature": ("水温", "Water temperature"), "peopleCount": ("人数", "People"),
    "calls": ("接口调用", "Interface calls"), "errors": ("调用错误", "Failed calls"), "errorRate": ("错误率", "Error rate"),
    "latencyMs": ("平均时延", "Mean latency"), "interfacesUp": ("可用接口", "Interfaces up"),
    "interfacesTotal": ("开放接口", "Interfaces open"),
}
# enumeration value -> (中文, English)
VALUE_WORDS: dict[str, tuple[str, str]] = {
    "on": ("亮灯", "on"), "off": ("关灯", "off"), "low": ("调暗", "dimmed"), "bootingUp": ("启动中", "starting"),
    "ok": ("正常", "working"), "defectiveLamp": ("灯具故障", "lamp defective"), "columnIssue": ("灯杆故障", "column damaged"),
    "brokenLantern": ("灯罩破损", "lantern broken"), "free": ("空闲", "free"), "occupied": ("占用", "occupied"),
    "closed": ("关闭", "closed"), "unknown": ("未知", "unknown"),
}
UNIT_WORDS: dict[str, tuple[str, str]] = {
    "veh/5min": ("辆/5分钟", "vehicles/5 min"), "persons": ("人", "people"), "calls/interval": ("次", "calls"),
    "interfaces": ("个", ""), "pH": ("", ""),
}


def reading_text(kind: str, attribute: str, value, lang: str = "zh") -> str:
    """One attribute of a reading as a person reads it, e.g. `水位 4.61 m`, `状态 灯具故障`, `错误率 19.3%`."""
    en = lang == "en"
    names = ATTRIBUTE_NAMES.get(attribute)
    name = (names[1] if en else names[0]) if names else attribute
    spec = KINDS[kind].attribute(attribute) if kind in KINDS else None
    if value is True or value is False:
        text = ("yes" if value else "no") if en else ("是" if value else "否")
    elif isinstance(value, str):
        words = VALUE_WORDS.get(value)
        text = (words[1] if en else words[0]) if words else value
    elif isinstance(value, (int, float)) and spec is not None and spec.unit == "ratio":
        text = f"{100 * value:.1f}%"
    elif isinstance(value, (int, float)):
        unit = spec.unit if spec is not None else ""
        if unit in UNIT_WORDS:
            unit = UNIT_WORDS[unit][1 if en else 0]
        number = f"{value:,}" if isinstance(value, int) or float(value).is_integer() and abs(value) >= 100 else f"{value:.4g}"
        text = f"{number}{unit}" if unit == "°" else f"{number} {unit}".strip()
    else:
        text = str(value)
    return f"{name} {text}"


def reading_lines(kind: str, latest: dict | None, lang: str = "zh") -> list[str]:
    """Every attribute of the latest reading, in the catalogue's order (unknown ones last)."""
    if not latest:
        return []
    order = [a.name for a in KINDS[kind].attributes] if kind in KINDS else []
    keys = [k for k in order if k in latest] + sorted(k for k in latest if k not in order and k != "ts")
    return [reading_text(kind, k, latest[k], lang) for k in keys]


def reading_time(latest: dict | None) -> str:
    """When the latest reading was taken, China time (HH:MM:SS), "" without one."""
    ts = (latest or {}).get("ts")
    return datetime.fromtimestamp(ts / 1000, CST).strftime("%H:%M:%S") if isinstance(ts, (int, float)) else ""
