"""People's words for readings and alarms: `(kind, attribute, value, lang)` -> text.

Every attribute of every kind in `ioc.domain.kinds` has a Chinese and an English name here,
its unit as people write it, booleans and enumeration choices as words (井盖移位, 灯具故障),
ratios as percentages and numbers rounded to what the measure means. A unit test fails when a
kind gains an attribute (or an enumeration a choice) without words.

An alarm reads `<district> · <rule name> · <device name> · <reading> (<threshold>)`, the device's
id only as secondary text (`AlarmWords.device_id`).

Pure: no I/O, no framework imports.
"""

from __future__ import annotations

from dataclasses import dataclass

from ioc.domain.cases import STAGE_NAMES
from ioc.domain.clock import local_text
from ioc.domain.kinds import KINDS
from ioc.domain.rules import RULES_BY_ID

CASE_KIND = "case"  # the case worker's `case_overdue` alarms: attribute "stage", threshold the deadline (ms)

# (kind, attribute) -> (zh, en)
ATTRIBUTE_NAMES: dict[tuple[str, str], tuple[str, str]] = {
    ("air_quality", "pm25"): ("PM2.5", "PM2.5"),
    ("air_quality", "pm10"): ("PM10", "PM10"),
    ("air_quality", "no2"): ("二氧化氮", "NO₂"),
    ("air_quality", "o3"): ("臭氧", "O₃"),
    ("air_quality", "so2"): ("二氧化硫", "SO₂"),
    ("air_quality", "co"): ("一氧化碳", "CO"),
    ("air_quality", "airQualityIndex"): ("空气质量指数", "AQI"),
    ("noise", "LAeq"): ("等效声级", "Noise level"),
    ("noise", "LAmax"): ("最大声级", "Peak noise level"),
    ("traffic", "intensity"): ("车流量", "Traffic volume"),
    ("traffic", "occupancy"): ("占有率", "Occupancy"),
    ("traffic", "averageVehicleSpeed"): ("平均车速", "Average speed"),
    ("traffic", "congested"): ("路况", "Road state"),
    ("streetlight", "powerState"): ("亮灯状态", "Lamp"),
    ("streetlight", "status"): ("灯况", "Lamp health"),
    ("streetlight", "illuminanceLevel"): ("调光亮度", "Dimming level"),
    ("manhole", "tilt"): ("倾斜角", "Tilt"),
    ("manhole", "displaced"): ("井盖状态", "Cover"),
    ("manhole", "waterDepth"): ("井内水深", "Water depth"),
    ("manhole", "batteryLevel"): ("电池电量", "Battery"),
    ("water_level", "waterLevel"): ("水位", "Water level"),
    ("water_level", "flowRate"): ("流量", "Discharge"),
    ("rain_gauge", "precipitation"): ("雨强", "Rainfall"),
    ("water_quality", "pH"): ("pH值", "pH"),
    ("water_quality", "cod"): ("化学需氧量", "COD"),
    ("water_quality", "NH4"): ("氨氮", "Ammonia nitrogen"),
    ("water_quality", "turbidity"): ("浊度", "Turbidity"),
    ("water_quality", "temperature"): ("水温", "Water temperature"),
    ("crowd", "peopleCount"): ("人数", "People"),
    ("crowd", "congested"): ("拥挤状态", "Crowding"),
    ("parking", "status"): ("车位状态", "Spot"),
    ("platform", "calls"): ("接口调用", "Interface calls"),
    ("platform", "errors"): ("调用失败", "Failed calls"),
    ("platform", "errorRate"): ("接口错误率", "Interface error rate"),
    ("platform", "latencyMs"): ("平均时延", "Mean latency"),
    ("platform", "interfacesUp"): ("在线接口", "Interfaces up"),
    ("platform", "interfacesTotal"): ("注册接口", "Interfaces registered"),
    (CASE_KIND, "stage"): ("所处环节", "Stage"),
}

# the catalog's unit -> (zh, en) as people write it; "ratio" is shown as a percentage
UNITS: dict[str, tuple[str, str]] = {
    "": ("", ""),
    "µg/m³": ("µg/m³", "µg/m³"),
    "mg/m³": ("mg/m³", "mg/m³"),
    "dB(A)": ("dB(A)", "dB(A)"),
    "veh/5min": ("辆/5分钟", "veh/5 min"),
    "ratio": ("%", "%"),
    "km/h": ("km/h", "km/h"),
    "°": ("°", "°"),
    "m": ("m", "m"),
    "m³/s": ("m³/s", "m³/s"),
    "mm/h": ("mm/h", "mm/h"),
    "pH": ("", ""),  # the name says it: "pH值 5.2"
    "mg/L": ("mg/L", "mg/L"),
    "NTU": ("NTU", "NTU"),
    "°C": ("°C", "°C"),
    "persons": ("人", "people"),
    "calls/interval": ("次", "calls"),
    "ms": ("ms", "ms"),
    "interfaces": ("个", "interfaces"),
}

# (kind, attribute) -> decimals shown (of the percentage for ratios); integers show none
DIGITS: dict[tuple[str, str], int] = {
    ("air_quality", "co"): 1,
    ("noise", "LAeq"): 1,
    ("noise", "LAmax"): 1,
    ("traffic", "averageVehicleSpeed"): 1,
    ("manhole", "tilt"): 1,
    ("manhole", "waterDepth"): 2,
    ("water_level", "waterLevel"): 2,
    ("water_level", "flowRate"): 1,
    ("rain_gauge", "precipitation"): 1,
    ("water_quality", "pH"): 1,
    ("water_quality", "NH4"): 2,
    ("water_quality", "temperature"): 1,
    ("platform", "errorRate"): 1,
}

# (kind, attribute) -> {value: (zh, en)}: booleans and every enumeration choice as words
VALUE_WORDS: dict[tuple[str, str], dict[object, tuple[str, str]]] = {
    ("traffic", "congested"): {True: ("拥堵", "congested"), False: ("畅通", "free-flowing")},
    ("streetlight", "powerState"): {"on": ("亮", "on"), "off": ("灭", "off"), "low": ("调暗", "dimmed"),
                                    "bootingUp": ("启动中", "starting")},
    ("streetlight", "status"): {"ok": ("正常", "working"), "defectiveLamp": ("灯具故障", "defective lamp"),
                                "columnIssue": ("灯杆故障", "column fault"), "brokenLantern": ("灯罩破损", "broken lantern")},
    ("manhole", "displaced"): {True: ("井盖移位", "cover displaced"), False: ("正常", "in place")},
    ("crowd", "congested"): {True: ("拥挤", "crowded"), False: ("正常", "not crowded")},
    ("parking", "status"): {"free": ("空闲", "free"), "occupied": ("占用", "occupied"), "closed": ("关闭", "closed"),
                            "unknown": ("未知", "unknown")},
}

# a word that says the whole reading (井盖移位), so the attribute's name is not repeated before it
SELF_SPEAKING = {("manhole", "displaced"), ("traffic", "congested"), ("crowd", "congested"), ("streetlight", "status")}

OPS = {">": ">", ">=": "≥", "<": "<", "<=": "≤", "==": "=", "!=": "≠"}
_THRESHOLD = {"zh": "阈值", "en": "threshold"}
_DEADLINE = {"zh": "期限", "en": "due"}
_NO_VALUE = "—"


def _lang(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def attribute_name(kind: str, attribute: str, lang: str = "zh") -> str:
    """The attribute's name in `lang` (the key itself only for an attribute no catalog knows)."""
    names = ATTRIBUTE_NAMES.get((kind, attribute))
    return _lang(names, lang) if names else attribute


def unit_text(kind: str, attribute: str, lang: str = "zh") -> str:
    k = KINDS.get(kind)
    a = k.attribute(attribute) if k else None
    return _lang(UNITS.get(a.unit, (a.unit, a.unit)), lang) if a else ""


def _number(value: float, digits: int) -> str:
    text = f"{value:,.{digits}f}"
    return "0" if text.strip("-0.,") == "" else text  # no "-0.0"


def value_text(kind: str, attribute: str, value, lang: str = "zh", trim: bool = False) -> str:
    """A reading's value for people: words for booleans and choices, percentages for ratios,
    numbers rounded for their measure with their unit; a case stage by its name. `trim` drops
    zero decimals (a threshold of 85 reads `85 dB(A)`, not `85.0 dB(A)`)."""
    if value is None or value == "":
        return _NO_VALUE
    if kind == CASE_KIND and attribute == "stage":
        names = STAGE_NAMES.get(str(value))
        return (names.get(lang) or names["zh"]) if names else str(value)
    words = VALUE_WORDS.get((kind, attribute))
    if words is not None:
        key = value if isinstance(value, bool) else str(value)
        if key in words:
            return _lang(words[key], lang)
    if isinstance(value, bool):
        return ("yes" if value else "no") if lang == "en" else ("是" if value else "否")
    if not isinstance(value, (int, float)):
        return str(value)
    k = KINDS.get(kind)
    a = k.attribute(attribute) if k else None
    if a is None:
        return _number(value, 0 if isinstance(value, int) else 2)
    digits = 0 if a.type == "integer" else DIGITS.get((kind, attribute), 0)
    if trim and float(100 * value if a.unit == "ratio" else value).is_integer():
        digits = 0
    if a.unit == "ratio":
        return f"{_number(100 * value, digits)} %"
    unit = unit_text(kind, attribute, lang)
    number = _number(value, digits)
    if not unit:
        return number
    return f"{number}{unit}" if unit in ("°", "人", "次", "个") else f"{number} {unit}"


def reading_text(kind: str, attribute: str, value, lang: str = "zh") -> str:
    """`水位 4.35 m`, `灯具故障`, `井盖移位`: the attribute's name and its value, or the value's
    words alone when they say the whole reading."""
    words = value_text(kind, attribute, value, lang)
    if (kind, attribute) in SELF_SPEAKING and words != _NO_VALUE:
        return words
    return f"{attribute_name(kind, attribute, lang)} {words}"


def _clock(ms: int) -> str:
    return local_text(ms, "%m-%d %H:%M")


def threshold_text(alarm: dict, lang: str = "zh") -> str:
    """`阈值 > 85 dB(A)` for a numeric rule, `期限 12-06 10:30` for an overdue case; "" where the
    value's words already say what is wrong (booleans, choices)."""
    kind, attribute, threshold = alarm.get("kind", ""), alarm.get("attribute", ""), alarm.get("threshold")
    if kind == CASE_KIND:
        return f"{_DEADLINE[_l(lang)]} {_clock(int(threshold))}" if isinstance(threshold, (int, float)) and threshold else ""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        return ""
    rule = RULES_BY_ID.get(alarm.get("rule_id", ""))
    op = OPS.get(rule.op, "") if rule else ""
    return f"{_THRESHOLD[_l(lang)]} {op} {value_text(kind, attribute, threshold, lang, trim=True)}".replace("  ", " ")


def _l(lang: str) -> str:
    return "en" if lang == "en" else "zh"


@dataclass(frozen=True)
class AlarmWords:
    """An alarm in people's words; `device_id` is the secondary text beside `device`."""

    district: str
    rule: str
    device: str
    device_id: str
    reading: str
    value: str
    threshold: str
    lang: str = "zh"

    def paren(self, text: str) -> str:
        """` (text)` in English, `（text）` in Chinese."""
        return f" ({text})" if self.lang == "en" else f"（{text}）"

    @property
    def reading_with_threshold(self) -> str:
        return self.reading + self.paren(self.threshold) if self.threshold else self.reading

    def text(self, with_id: bool = True, with_district: bool = True) -> str:
        """`<district> · <rule> · <device>（<id>） · <reading>（<threshold>）`."""
        device = self.device
        if with_id and self.device_id and self.device_id != self.device:
            device += self.paren(self.device_id)
        district = self.district if with_district else ""
        return " · ".join(p for p in (district, self.rule, device, self.reading_with_threshold) if p)


def alarm_words(alarm: dict, lang: str = "zh", device_name: str = "", district_name: str = "") -> AlarmWords:
    """An alarm (or an alarm event) in `lang`; `device_name` from the fleet, the id when unknown;
    `district_name` in `lang` ("" leaves the district out)."""
    kind, attribute, value = alarm.get("kind", ""), alarm.get("attribute", ""), alarm.get("value")
    device_id = str(alarm.get("device_id") or "")
    return AlarmWords(
        district=district_name,
        rule=str(alarm.get("name_en" if lang == "en" else "name_zh") or alarm.get("rule_id") or ""),
        device=device_name or device_id,
        device_id=device_id,
        reading=reading_text(kind, attribute, value, lang),
        value=value_text(kind, attribute, value, lang),
        threshold=threshold_text(alarm, lang),
        lang=_l(lang),
    )


def alarm_text(alarm: dict, lang: str = "zh", device_name: str = "", district_name: str = "") -> str:
    return alarm_words(alarm, lang, device_name, district_name).text()


def device_place(device_id: str, device_name: str = "") -> str:
    """Where a sensor case is, for a device registered without an address: `<name>（<id>）`."""
    return f"{device_name}（{device_id}）" if device_name and device_name != device_id else device_id


def sensor_case_description(alarm: dict, device_name: str = "") -> str:
    """The description of a case opened from a sensor alarm, in Chinese (the case's language):
    `井盖移位：<device name>（<id>）`, a numeric reading with its threshold."""
    kind, attribute, value = alarm.get("kind", ""), alarm.get("attribute", ""), alarm.get("value")
    device = device_place(str(alarm.get("device_id") or ""), device_name)
    reading = reading_text(kind, attribute, value, "zh")
    threshold = threshold_text(alarm, "zh")
    rule = str(alarm.get("name_zh") or alarm.get("rule_id") or "")
    if (kind, attribute) in SELF_SPEAKING:
        return f"{reading}：{device}"
    return f"{rule}：{device}，{reading}" + (f"（{threshold}）" if threshold else "")
