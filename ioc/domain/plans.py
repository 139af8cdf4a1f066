"""Contingency plans (应急预案) for linked events (大联动): response levels, triggers and tasks.

A **plan** (flood control 防汛, water pollution 水污染, crowd safety 大客流, hazardous-chemical
leak 危化品泄漏 …) has up to four **response levels** in ascending severity

    Ⅳ级 IV 一般 General → Ⅲ级 III 较大 Significant → Ⅱ级 II 重大 Major → Ⅰ级 I 特别重大 Extraordinary

and each level has

- **triggers** on live data (any one met proposes the level; a level without triggers is started
  by hand only). A trigger counts the devices of one kind whose attribute meets a threshold —
  each for at least `minutes` without a break — and is met when at least `devices` such
  devices in at least `districts` distinct districts meet it. Nothing starts without a person:
  a met trigger only *proposes* an event (`ioc.domain.event_triggers`).
- **tasks**: exactly one lead department (牵头) and any supporting departments (配合), each with
  its task text in Chinese and English and its time limits in minutes: acknowledge (签收)
  and arrive on site (到场) within so many minutes of being issued, and report progress at
  least every so many minutes once on site. The department `territory` (属地) stands for the
  government of the event's district (`town_<district>`), resolved when the event starts.

Plans are plain data (`BUILTIN_PLANS_DATA`, the same shape as the JSON file an administrator
may point `IOC_PLANS_FILE` at) validated on loading by `validate_plans`, which refuses with a
`PlanError` naming the place (`flood.levels.III.tasks[2].department`) and the reason:
unknown or missing fields, a missing Chinese or English name or text, a duplicate plan id, an
unknown level name, levels out of order or repeated, a level without tasks, a level assigning
fewer tasks than the level below it, not exactly one lead in a level, a department twice in a
level, an unknown department, a trigger on a kind or attribute that cannot trigger or with a
bad operator or number, and time limits that are not whole minutes from 1 to 1440 (or an
arrival limit shorter than the acknowledgement limit).

Pure: no I/O except `plans_from_file`, which reads the JSON file.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from .kinds import KINDS

LEVELS: tuple[str, ...] = ("IV", "III", "II", "I")  # ascending severity; LEVELS.index(level) is the rank
LEVEL_NAMES: dict[str, tuple[str, str]] = {
    "IV": ("一般", "General"),
    "III": ("较大", "Significant"),
    "II": ("重大", "Major"),
    "I": ("特别重大", "Extraordinary"),
}
LEVEL_NUMERALS: dict[str, str] = {"IV": "Ⅳ", "III": "Ⅲ", "II": "Ⅱ", "I": "Ⅰ"}  # as written in Chinese: Ⅳ级
TERRITORY = "territory"  # a task department meaning the government of the event's district (属地)
TASK_ROLES: tuple[str, ...] = ("lead", "support")  # 牵头, 配合
OPS: dict[str, str] = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}
LIMIT_MAX_MIN = 24 * 60
PLAN_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

# what a trigger may watch: kind -> attribute -> (name_zh, name_en, unit when the kind catalog lacks it, decimals)
TRIGGER_ATTRIBUTES: dict[str, dict[str, tuple[str, str, str, int]]] = {
    "water_level": {"waterLevel": ("水位", "water level", "m", 2)},
    "rain_gauge": {"precipitation": ("雨强", "rainfall", "mm/h", 0)},
    "water_quality": {"cod": ("化学需氧量", "COD", "mg/L", 0), "pH": ("pH", "pH", "", 1)},
    "crowd": {"peopleCount": ("人数", "people", "persons", 0)},
    "manhole": {"waterDepth": ("积水深度", "water depth", "m", 2)},
}


def level_rank(level: str) -> int:
    """0 for IV … 3 for I (ValueError for an unknown level)."""
    return LEVELS.index(level)


def level_label(level: str, lang: str) -> str:
    """"Ⅳ级（一般）" in Chinese, "Level IV (General)" in English."""
    zh, en = LEVEL_NAMES[level]
    return f"Level {level} ({en})" if lang == "en" else f"{LEVEL_NUMERALS[level]}级（{zh}）"


def attribute_unit(kind: str, attribute: str) -> str:
    """The attribute's unit from the kind catalog (`ioc.domain.kinds`), else the trigger table's."""
    known = KINDS.get(kind)
    attr = known.attribute(attribute) if known else None
    if attr is not None:
        return "" if attr.unit in ("pH", "persons") else attr.unit
    return TRIGGER_ATTRIBUTES.get(kind, {}).get(attribute, ("", "", "", 0))[2].replace("persons", "")


def _number(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if decimals or not float(value).is_integer() else str(int(value))


@dataclass(frozen=True)
class Trigger:
    kind: str  # device kind: water_level | rain_gauge | water_quality | crowd | manhole
    attribute: str  # waterLevel | precipitation | cod | pH | peopleCount | waterDepth
    op: str  # ">=" | ">" | "<=" | "<"
    threshold: float
    districts: int = 1  # distinct districts with at least one device meeting it
    devices: int = 1  # distinct devices meeting it
    minutes: int = 0  # each counted device has met it continuously for this long

    def met(self, value: float) -> bool:
        """Whether one reading meets the condition (not counting devices, districts, minutes)."""
        op, t = self.op, self.threshold
        return value >= t if op == ">=" else value > t if op == ">" else value <= t if op == "<=" else value < t

    def describe(self, lang: str) -> str:
        """"水位 ≥ 4.20 m，至少 2 个区镇" / "water level ≥ 4.20 m in at least 2 districts"."""
        zh, en, _unit, decimals = TRIGGER_ATTRIBUTES.get(self.kind, {}).get(
            self.attribute, (self.attribute, self.attribute, "", 2))
        unit = attribute_unit(self.kind, self.attribute)
        value = _number(self.threshold, decimals) + (f" {unit}" if unit else "")
        if lang == "en":
            parts = [f"{en} {OPS.get(self.op, self.op)} {value}"]
            if self.devices > 1:
                parts.append(f"at {self.devices} or more devices")
            if self.districts > 1:
                parts.append(f"in at least {self.districts} districts")
            if self.minutes:
                parts.append(f"for {self.minutes} min")
            return " ".join(parts)
        parts = [f"{zh} {OPS.get(self.op, self.op)} {value}"]
        if self.devices > 1:
            parts.append(f"至少 {self.devices} 个设备")
        if self.districts > 1:
            parts.append(f"至少 {self.districts} 个区镇")
        if self.minutes:
            parts.append(f"持续 {self.minutes} 分钟")
        return "，".join(parts)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "attribute": self.attribute, "op": self.op, "threshold": self.threshold,
                "districts": self.districts, "devices": self.devices, "minutes": self.minutes}


@dataclass(frozen=True)
class TaskTemplate:
    department: str  # a department id (ioc.domain.departments) or TERRITORY
    role: str  # "lead" (牵头, exactly one per level) | "support" (配合)
    text_zh: str
    text_en: str
    ack_min: int  # 签收 within minutes of being issued
    arrive_min: int  # 到场 within minutes of being issued
    report_min: int  # a progress report at least every N minutes once on site

    def text(self, lang: str) -> str:
        return self.text_en if lang == "en" else self.text_zh

    def to_dict(self) -> dict:
        return {"department": self.department, "role": self.role, "text_zh": self.text_zh, "text_en": self.text_en,
                "ack_min": self.ack_min, "arrive_min": self.arrive_min, "report_min": self.report_min}


@dataclass(frozen=True)
class Level:
    level: str
    triggers: tuple[Trigger, ...]  # a level is proposed when ANY of its triggers is met; none: manual only
    tasks: tuple[TaskTemplate, ...]

    @property
    def lead(self) -> TaskTemplate:
        return next(t for t in self.tasks if t.role == "lead")

    def to_dict(self) -> dict:
        return {"level": self.level, "triggers": [t.to_dict() for t in self.triggers],
                "tasks": [t.to_dict() for t in self.tasks]}


@dataclass(frozen=True)
class Plan:
    id: str  # ASCII: flood | water_pollution | crowd | hazmat
    name_zh: str
    name_en: str
    summary_zh: str
    summary_en: str
    levels: tuple[Level, ...]  # ascending (IV first); a plan may lack levels

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def summary(self, lang: str) -> str:
        return self.summary_en if lang == "en" else self.summary_zh

    def level(self, level: str) -> Level | None:
        """The plan's level `level` ("IV" … "I"), None when the plan lacks it."""
        return next((lv for lv in self.levels if lv.level == level), None)

    @property
    def level_ids(self) -> tuple[str, ...]:
        return tuple(lv.level for lv in self.levels)

    def to_dict(self) -> dict:
        """The plan as plain data: the shape of `BUILTIN_PLANS_DATA` and of the plans file."""
        return {"id": self.id, "name_zh": self.name_zh, "name_en": self.name_en, "summary_zh": self.summary_zh,
                "summary_en": self.summary_en, "levels": [lv.to_dict() for lv in self.levels]}


class PlanError(ValueError):
    """A plan refused on loading: `path` names the place (`flood.levels.III.tasks[2].department`),
    `reason` says why; the message is both."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


# --- validation -----------------------------------------------------------------------------------

_PLAN_FIELDS = {"id", "name_zh", "name_en", "summary_zh", "summary_en", "levels"}
_LEVEL_FIELDS = {"level", "triggers", "tasks"}
_TRIGGER_FIELDS = {"kind", "attribute", "op", "threshold", "districts", "devices", "minutes"}
_TASK_FIELDS = {"department", "role", "text_zh", "text_en", "ack_min", "arrive_min", "report_min"}


def _mapping(raw, path: str, fields: set[str], required: set[str]) -> dict:
    if not isinstance(raw, dict):
        raise PlanError(path, "must be an object")
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise PlanError(f"{path}.{unknown[0]}", f"unknown field; the fields are {', '.join(sorted(fields))}")
    missing = sorted(required - set(raw))
    if missing:
        raise PlanError(f"{path}.{missing[0]}", "missing")
    return raw


def _text(raw: dict, key: str, path: str, required: bool = True) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise PlanError(f"{path}.{key}", "must be a non-empty text" if required else "must be a text")
    return value.strip()


def _int(raw: dict, key: str, path: str, lo: int, hi: int, default: int | None = None) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise PlanError(f"{path}.{key}", f"must be a whole number from {lo} to {hi}")
    return value


def _trigger(raw, path: str) -> Trigger:
    raw = _mapping(raw, path, _TRIGGER_FIELDS, {"kind", "attribute", "op", "threshold"})
    kind, attribute = raw["kind"], raw["attribute"]
    if kind not in TRIGGER_ATTRIBUTES:
        raise PlanError(f"{path}.kind", f"{kind!r} cannot trigger a plan; kinds are {', '.join(TRIGGER_ATTRIBUTES)}")
    if attribute not in TRIGGER_ATTRIBUTES[kind]:
        raise PlanError(f"{path}.attribute",
                        f"{attribute!r} of {kind} cannot trigger a plan; attributes are {', '.join(TRIGGER_ATTRIBUTES[kind])}")
    if raw["op"] not in OPS:
        raise PlanError(f"{path}.op", f"{raw['op']!r} is not an operator; operators are {', '.join(OPS)}")
    threshold = raw["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise PlanError(f"{path}.threshold", "must be a number")
    return Trigger(kind, attribute, raw["op"], float(threshold), _int(raw, "districts", path, 1, 100, 1),
                   _int(raw, "devices", path, 1, 10000, 1), _int(raw, "minutes", path, 0, LIMIT_MAX_MIN, 0))


def _task(raw, path: str, departments: frozenset[str]) -> TaskTemplate:
    raw = _mapping(raw, path, _TASK_FIELDS, _TASK_FIELDS)
    department = raw["department"]
    if department != TERRITORY and department not in departments:
        raise PlanError(f"{path}.department", f"unknown department {department!r} (a department id or {TERRITORY!r})")
    if raw["role"] not in TASK_ROLES:
        raise PlanError(f"{path}.role", f"must be one of {', '.join(TASK_ROLES)}")
    ack, arrive, report = (_int(raw, k, path, 1, LIMIT_MAX_MIN) for k in ("ack_min", "arrive_min", "report_min"))
    if arrive < ack:
        raise PlanError(f"{path}.arrive_min", "arriving cannot be due before acknowledging (arrive_min < ack_min)")
    return TaskTemplate(department, raw["role"], _text(raw, "text_zh", path), _text(raw, "text_en", path),
                        ack, arrive, report)


def _level(raw, path: str, departments: frozenset[str]) -> Level:
    raw = _mapping(raw, path, _LEVEL_FIELDS, {"level", "tasks"})
    if raw["level"] not in LEVELS:
        raise PlanError(f"{path}.level", f"unknown level {raw['level']!r}; levels are {', '.join(LEVELS)}")
    path = f"{path.rsplit('.levels', 1)[0]}.levels.{raw['level']}"
    triggers, tasks = raw.get("triggers", []), raw["tasks"]
    if not isinstance(triggers, list):
        raise PlanError(f"{path}.triggers", "must be a list")
    if not isinstance(tasks, list) or not tasks:
        raise PlanError(f"{path}.tasks", "a level needs at least one task")
    level = Level(raw["level"], tuple(_trigger(t, f"{path}.triggers[{i}]") for i, t in enumerate(triggers)),
                  tuple(_task(t, f"{path}.tasks[{i}]", departments) for i, t in enumerate(tasks)))
    leads = [i for i, t in enumerate(level.tasks) if t.role == "lead"]
    if len(leads) != 1:
        where = f"{path}.tasks[{leads[1]}].role" if leads else f"{path}.tasks"
        raise PlanError(where, f"a level has exactly one lead department (牵头); found {len(leads)}")
    seen: set[str] = set()
    for i, t in enumerate(level.tasks):
        if t.department in seen:
            raise PlanError(f"{path}.tasks[{i}].department", f"{t.department} has two tasks in this level")
        seen.add(t.department)
    return level


def _plan(raw, index: int, departments: frozenset[str]) -> Plan:
    path = f"plans[{index}]"
    raw = _mapping(raw, path, _PLAN_FIELDS, {"id"})
    if not isinstance(raw["id"], str) or not PLAN_ID.match(raw["id"]):
        raise PlanError(f"{path}.id", "a plan id is 2 to 40 lower-case ASCII letters, digits or _ (e.g. flood)")
    path = raw["id"]
    _mapping(raw, path, _PLAN_FIELDS, {"name_zh", "name_en", "levels"})
    if not isinstance(raw["levels"], list) or not raw["levels"]:
        raise PlanError(f"{path}.levels", "a plan needs at least one level")
    levels = tuple(_level(lv, f"{path}.levels[{i}]", departments) for i, lv in enumerate(raw["levels"]))
    for below, above in zip(levels, levels[1:]):
        where = f"{path}.levels.{above.level}"
        if level_rank(above.level) <= level_rank(below.level):
            raise PlanError(where, f"levels go from IV up to I, each once ({above.level} follows {below.level})")
        if len(above.tasks) < len(below.tasks):
            raise PlanError(f"{where}.tasks", f"level {above.level} assigns {len(above.tasks)} tasks, fewer than the "
                                              f"{len(below.tasks)} of level {below.level} below it")
    return Plan(path, _text(raw, "name_zh", path), _text(raw, "name_en", path), _text(raw, "summary_zh", path, False),
                _text(raw, "summary_en", path, False), levels)


def validate_plans(raw: list[dict], departments: frozenset[str]) -> dict[str, Plan]:
    """The plans of `raw` (plain data, the shape of `BUILTIN_PLANS_DATA`) by id, in their order;
    `departments` are the known department ids. Raises `PlanError` at the first fault."""
    if not isinstance(raw, list) or not raw:
        raise PlanError("plans", "must be a non-empty list of plans")
    plans: dict[str, Plan] = {}
    for i, item in enumerate(raw):
        plan = _plan(item, i, departments)
        if plan.id in plans:
            raise PlanError(f"plans[{i}].id", f"plan {plan.id!r} is defined twice")
        plans[plan.id] = plan
    return plans


def plans_from_file(path, departments: frozenset[str]) -> dict[str, Plan]:
    """The plans in a JSON file (a list of plans, the shape of `BUILTIN_PLANS_DATA`); `PlanError`
    when the file cannot be read, is not JSON, or a plan is invalid (the message names the file)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PlanError("", f"cannot read the plans file {path}: {e.strerror or e}") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PlanError("", f"the plans file {path} is not valid JSON: {e}") from e
    try:
        return validate_plans(raw, departments)
    except PlanError as e:
        raise PlanError(e.path, f"{e.reason} (in {path})") from e


def watched_attributes(plans: dict[str, Plan]) -> frozenset[tuple[str, str]]:
    """The (kind, attribute) pairs the plans' triggers watch: the latest values to read."""
    return frozenset((t.kind, t.attribute) for plan in plans.values() for lv in plan.levels for t in lv.triggers)


def builtin_plans(departments: frozenset[str]) -> dict[str, Plan]:
    """The four built-in plans, validated against `departments`."""
    return validate_plans(BUILTIN_PLANS_DATA, departments)


# --- the built-in plans ---------------------------------------------------------------------------

def _tr(kind, attribute, op, threshold, districts=1, devices=1, minutes=0) -> dict:
    return {"kind": kind, "attribute": attribute, "op": op, "threshold": threshold,
            "districts": districts, "devices": devices, "minutes": minutes}


def _tk(department, role, zh, en, ack, arrive, report) -> dict:
    return {"department": department, "role": role, "text_zh": zh, "text_en": en,
            "ack_min": ack, "arrive_min": arrive, "report_min": report}


def _lv(level, triggers, tasks) -> dict:
    return {"level": level, "triggers": triggers, "tasks": tasks}


# flood control 防汛: the Water Affairs Bureau leads
_FLOOD_WATER = ("水务局牵头：启动排涝泵站、监测河道水位，调度闸站预降水位",
                "Lead: start the drainage pumping stations, watch river levels, lower levels at the sluices")
_FLOOD_URBAN = ("城管局：低洼路段、下穿通道积水抽排，清理雨水口", "Pump out flooded low roads and underpasses; clear the storm drains")
_FLOOD_TOWN = ("属地政府：巡查低洼地区，转移受威胁群众并安置", "District government: patrol low-lying areas, move and shelter people at risk")
_FLOOD_TRANSPORT = ("交通局：积水路段交通管制与绕行，调度公交避让", "Close flooded road sections, set up detours, reroute buses")
_FLOOD_POLICE = ("公安局：现场秩序维护与疏散，保障抢险通道畅通", "Keep order and evacuate on site; keep the rescue routes clear")
_FLOOD_HOUSING = ("住建局：排查在建工地基坑与地下空间，停止室外作业", "Inspect construction pits and underground spaces; stop outdoor work")
_FLOOD_LIGHTS = ("路灯所：积水区域路灯及箱变断电排险，防止漏电", "Cut power to street lights and cabinets in flooded areas to prevent electrocution")
_FLOOD_TREES = ("园林处：清理倒伏树木，加固行道树", "Clear fallen trees and brace street trees")
_FLOOD_MARKET = ("市场监管局：保障防汛物资与生活必需品供应，稳定价格", "Secure flood supplies and daily necessities; keep prices stable")

# water pollution 水污染: the Ecology and Environment Bureau leads
_POLL_ECO = ("生态环境局牵头：现场采样监测，排查溯源污染源，划定影响范围",
             "Lead: sample and monitor on site, trace the source, mark out the affected water")
_POLL_WATER = ("水务局：关闸控污，调度水体稀释，保障取水口安全", "Close sluices to contain the pollution, dilute by flow control, protect the water intakes")
_POLL_TOWN = ("属地政府：排查涉事企业，协助封堵排污口", "District government: check the suspected companies, help seal the outfall")
_POLL_POLICE = ("公安局：固定证据，控制涉事人员，现场警戒", "Secure evidence, hold the people involved, cordon the site")
_POLL_MARKET = ("市场监管局：检查涉事企业生产经营，依法责令停产", "Inspect the suspected company's operations; order production stopped where the law allows")
_POLL_URBAN = ("城管局：沿河巡查，清捞漂浮物与死鱼", "Patrol the riverbanks; remove floating debris and dead fish")
_POLL_HOUSING = ("住建局：排查污水管网与泵站，封堵错接混排", "Inspect sewers and pumping stations; seal misconnected discharges")

# crowd safety 大客流: the Public Security Bureau leads
_CROWD_POLICE = ("公安局牵头：现场秩序维护，疏导人流，必要时限流", "Lead: keep order, steer the crowd, limit entry when needed")
_CROWD_TRANSPORT = ("交通局：加密公交与接驳，疏运散场人流", "Add buses and shuttles to carry people away")
_CROWD_TOWN = ("属地政府：现场引导，组织志愿者与应急广播", "District government: guide people on site, deploy volunteers and announcements")
_CROWD_URBAN = ("城管局：清理占道经营与障碍物，设置临时隔离设施", "Clear street vendors and obstacles; put up temporary barriers")
_CROWD_LIGHTS = ("路灯所：保障现场及疏散通道照明", "Keep the site and the evacuation routes lit")
_CROWD_HOUSING = ("住建局：检查临时搭建舞台、看台结构安全", "Check the safety of temporary stages and stands")
_CROWD_TREES = ("园林处：开放周边公园绿地分流人群", "Open nearby parks to spread the crowd")
_CROWD_MARKET = ("市场监管局：现场食品安全与价格监管", "Food safety and price checks on site")

# hazardous-chemical leak 危化品泄漏: the Ecology and Environment Bureau leads (manual only)
_HAZ_ECO = ("生态环境局牵头：布点监测，划定污染与警戒范围，指导围堵处置",
            "Lead: set up monitoring points, mark out the contaminated and cordoned zones, direct containment")
_HAZ_POLICE = ("公安局：设置警戒区，疏散周边人员，管控涉事车辆与人员", "Set up the cordon, evacuate people nearby, hold the vehicle and people involved")
_HAZ_TOWN = ("属地政府：转移安置周边群众，开放应急避难场所", "District government: move and shelter residents nearby, open emergency shelters")
_HAZ_TRANSPORT = ("交通局：封闭事故路段，组织危化品车辆转运与绕行", "Close the road section, arrange transfer of the tanker's load and detours")
_HAZ_URBAN = ("城管局：调集吸附材料，协助围堵泄漏物", "Bring absorbent materials and help contain the spill")
_HAZ_WATER = ("水务局：关闭周边闸门，防止泄漏物进入河道", "Close nearby sluices to keep the spill out of the rivers")
_HAZ_HOUSING = ("住建局：排查周边建筑与燃气管线安全", "Check nearby buildings and gas pipelines")
_HAZ_MARKET = ("市场监管局：检查涉事危化品经营与运输单位", "Inspect the hazardous-chemical dealers and carriers involved")


def _tasks(spec: list[tuple]) -> list[dict]:
    return [_tk(dep, role, texts[0], texts[1], *limits) for dep, role, texts, limits in spec]


BUILTIN_PLANS_DATA: list[dict] = [
    {
        "id": "flood", "name_zh": "防汛", "name_en": "Flood control",
        "summary_zh": "暴雨、河道高水位引发内涝时启动，水务局牵头，城管、交通、公安、属地政府等配合。",
        "summary_en": "For waterlogging from rainstorms and high river levels; led by Water Affairs with "
                      "City Management, Transport, Public Security and the district government.",
        "levels": [
            _lv("IV", [_tr("water_level", "waterLevel", ">=", 4.20, districts=2),
                       _tr("rain_gauge", "precipitation", ">=", 30, districts=2)],
                _tasks([("water_affairs", "lead", _FLOOD_WATER, (10, 45, 60)),
                        ("urban_management", "support", _FLOOD_URBAN, (15, 60, 60)),
                        (TERRITORY, "support", _FLOOD_TOWN, (15, 60, 60))])),
            _lv("III", [_tr("water_level", "waterLevel", ">=", 4.50),
                        _tr("rain_gauge", "precipitation", ">=", 50, districts=3)],
                _tasks([("water_affairs", "lead", _FLOOD_WATER, (10, 30, 30)),
                        ("urban_management", "support", _FLOOD_URBAN, (10, 45, 60)),
                        ("transport", "support", _FLOOD_TRANSPORT, (10, 45, 60)),
                        ("public_security", "support", _FLOOD_POLICE, (10, 30, 60)),
                        (TERRITORY, "support", _FLOOD_TOWN, (10, 45, 60))])),
            _lv("II", [_tr("water_level", "waterLevel", ">=", 4.70, districts=2),
                       _tr("rain_gauge", "precipitation", ">=", 80, districts=3)],
                _tasks([("water_affairs", "lead", _FLOOD_WATER, (5, 30, 30)),
                        ("urban_management", "support", _FLOOD_URBAN, (10, 30, 30)),
                        ("transport", "support", _FLOOD_TRANSPORT, (10, 30, 30)),
                        ("public_security", "support", _FLOOD_POLICE, (10, 30, 30)),
                        (TERRITORY, "support", _FLOOD_TOWN, (10, 30, 30)),
                        ("housing_construction", "support", _FLOOD_HOUSING, (15, 60, 60)),
                        ("street_lighting", "support", _FLOOD_LIGHTS, (15, 45, 60))])),
            _lv("I", [_tr("water_level", "waterLevel", ">=", 5.00, districts=3, minutes=30)],
                _tasks([("water_affairs", "lead", _FLOOD_WATER, (5, 20, 30)),
                        ("urban_management", "support", _FLOOD_URBAN, (5, 30, 30)),
                        ("transport", "support", _FLOOD_TRANSPORT, (5, 30, 30)),
                        ("public_security", "support", _FLOOD_POLICE, (5, 20, 30)),
                        (TERRITORY, "support", _FLOOD_TOWN, (5, 30, 30)),
                        ("housing_construction", "support", _FLOOD_HOUSING, (10, 45, 60)),
                        ("street_lighting", "support", _FLOOD_LIGHTS, (10, 30, 60)),
                        ("landscaping", "support", _FLOOD_TREES, (15, 60, 60)),
                        ("market_regulation", "support", _FLOOD_MARKET, (15, 60, 60))])),
        ],
    },
    {
        "id": "water_pollution", "name_zh": "水污染", "name_en": "Water pollution",
        "summary_zh": "排口水质超标、河道突发污染时启动，生态环境局牵头，水务局、属地政府、公安局等配合。",
        "summary_en": "For a polluting discharge reaching the rivers; led by Ecology and Environment with "
                      "Water Affairs, the district government and Public Security.",
        "levels": [
            _lv("IV", [_tr("water_quality", "cod", ">", 100, minutes=3)],
                _tasks([("ecology_environment", "lead", _POLL_ECO, (10, 45, 60)),
                        ("water_affairs", "support", _POLL_WATER, (15, 60, 60)),
                        (TERRITORY, "support", _POLL_TOWN, (15, 60, 60))])),
            _lv("III", [_tr("water_quality", "cod", ">", 150, minutes=5),
                        _tr("water_quality", "pH", "<", 5.5, minutes=3)],
                _tasks([("ecology_environment", "lead", _POLL_ECO, (10, 30, 30)),
                        ("water_affairs", "support", _POLL_WATER, (10, 45, 60)),
                        (TERRITORY, "support", _POLL_TOWN, (10, 45, 60)),
                        ("public_security", "support", _POLL_POLICE, (15, 60, 60)),
                        ("market_regulation", "support", _POLL_MARKET, (15, 60, 60))])),
            _lv("II", [_tr("water_quality", "cod", ">", 300, devices=2, minutes=5)],
                _tasks([("ecology_environment", "lead", _POLL_ECO, (5, 30, 30)),
                        ("water_affairs", "support", _POLL_WATER, (10, 30, 30)),
                        (TERRITORY, "support", _POLL_TOWN, (10, 30, 30)),
                        ("public_security", "support", _POLL_POLICE, (10, 45, 60)),
                        ("market_regulation", "support", _POLL_MARKET, (10, 45, 60)),
                        ("urban_management", "support", _POLL_URBAN, (15, 60, 60))])),
            _lv("I", [],
                _tasks([("ecology_environment", "lead", _POLL_ECO, (5, 20, 30)),
                        ("water_affairs", "support", _POLL_WATER, (5, 30, 30)),
                        (TERRITORY, "support", _POLL_TOWN, (5, 30, 30)),
                        ("public_security", "support", _POLL_POLICE, (10, 30, 30)),
                        ("market_regulation", "support", _POLL_MARKET, (10, 30, 60)),
                        ("urban_management", "support", _POLL_URBAN, (10, 45, 60)),
                        ("housing_construction", "support", _POLL_HOUSING, (15, 60, 60))])),
        ],
    },
    {
        "id": "crowd", "name_zh": "大客流", "name_en": "Crowd safety",
        "summary_zh": "景区、商圈、活动现场人员聚集超限时启动，公安局牵头，交通局、属地政府、城管局等配合。",
        "summary_en": "For crowds building at a scenic spot, a shopping street or an event; led by Public Security "
                      "with Transport, the district government and City Management.",
        "levels": [
            _lv("IV", [_tr("crowd", "peopleCount", ">", 5000)],
                _tasks([("public_security", "lead", _CROWD_POLICE, (5, 30, 30)),
                        ("transport", "support", _CROWD_TRANSPORT, (15, 60, 60)),
                        (TERRITORY, "support", _CROWD_TOWN, (15, 45, 60))])),
            _lv("III", [_tr("crowd", "peopleCount", ">", 8000)],
                _tasks([("public_security", "lead", _CROWD_POLICE, (5, 20, 30)),
                        ("transport", "support", _CROWD_TRANSPORT, (10, 45, 60)),
                        (TERRITORY, "support", _CROWD_TOWN, (10, 30, 60)),
                        ("urban_management", "support", _CROWD_URBAN, (10, 45, 60)),
                        ("street_lighting", "support", _CROWD_LIGHTS, (15, 60, 60))])),
            _lv("II", [_tr("crowd", "peopleCount", ">", 12000),
                       _tr("crowd", "peopleCount", ">", 8000, devices=2, minutes=10)],
                _tasks([("public_security", "lead", _CROWD_POLICE, (5, 20, 30)),
                        ("transport", "support", _CROWD_TRANSPORT, (10, 30, 30)),
                        (TERRITORY, "support", _CROWD_TOWN, (10, 30, 30)),
                        ("urban_management", "support", _CROWD_URBAN, (10, 30, 60)),
                        ("street_lighting", "support", _CROWD_LIGHTS, (10, 45, 60)),
                        ("housing_construction", "support", _CROWD_HOUSING, (15, 60, 60)),
                        ("landscaping", "support", _CROWD_TREES, (15, 60, 60))])),
            _lv("I", [_tr("crowd", "peopleCount", ">", 20000)],
                _tasks([("public_security", "lead", _CROWD_POLICE, (5, 20, 30)),
                        ("transport", "support", _CROWD_TRANSPORT, (5, 30, 30)),
                        (TERRITORY, "support", _CROWD_TOWN, (5, 20, 30)),
                        ("urban_management", "support", _CROWD_URBAN, (10, 30, 30)),
                        ("street_lighting", "support", _CROWD_LIGHTS, (10, 30, 60)),
                        ("housing_construction", "support", _CROWD_HOUSING, (10, 45, 60)),
                        ("landscaping", "support", _CROWD_TREES, (10, 45, 60)),
                        ("market_regulation", "support", _CROWD_MARKET, (15, 60, 60))])),
        ],
    },
    {
        "id": "hazmat", "name_zh": "危化品泄漏", "name_en": "Hazardous-chemical leak",
        "summary_zh": "道路运输或企业危化品泄漏时由调度员人工启动，生态环境局牵头，公安、属地政府、交通、城管等配合。",
        "summary_en": "Started by hand for a hazardous-chemical spill on a road or at a plant; led by Ecology and "
                      "Environment with Public Security, the district government, Transport and City Management.",
        "levels": [
            _lv("IV", [], _tasks([("ecology_environment", "lead", _HAZ_ECO, (5, 30, 30)),
                                  ("public_security", "support", _HAZ_POLICE, (5, 20, 30)),
                                  (TERRITORY, "support", _HAZ_TOWN, (10, 45, 60))])),
            _lv("III", [], _tasks([("ecology_environment", "lead", _HAZ_ECO, (5, 30, 30)),
                                   ("public_security", "support", _HAZ_POLICE, (5, 20, 30)),
                                   (TERRITORY, "support", _HAZ_TOWN, (10, 30, 60)),
                                   ("transport", "support", _HAZ_TRANSPORT, (10, 30, 60)),
                                   ("urban_management", "support", _HAZ_URBAN, (10, 45, 60))])),
            _lv("II", [], _tasks([("ecology_environment", "lead", _HAZ_ECO, (5, 20, 30)),
                                  ("public_security", "support", _HAZ_POLICE, (5, 20, 30)),
                                  (TERRITORY, "support", _HAZ_TOWN, (10, 30, 30)),
                                  ("transport", "support", _HAZ_TRANSPORT, (10, 30, 30)),
                                  ("urban_management", "support", _HAZ_URBAN, (10, 30, 60)),
                                  ("water_affairs", "support", _HAZ_WATER, (10, 30, 60)),
                                  ("housing_construction", "support", _HAZ_HOUSING, (15, 45, 60))])),
            _lv("I", [], _tasks([("ecology_environment", "lead", _HAZ_ECO, (5, 20, 30)),
                                 ("public_security", "support", _HAZ_POLICE, (5, 20, 30)),
                                 (TERRITORY, "support", _HAZ_TOWN, (5, 20, 30)),
                                 ("transport", "support", _HAZ_TRANSPORT, (5, 20, 30)),
                                 ("urban_management", "support", _HAZ_URBAN, (10, 30, 30)),
                                 ("water_affairs", "support", _HAZ_WATER, (10, 30, 30)),
                                 ("housing_construction", "support", _HAZ_HOUSING, (10, 30, 60)),
                                 ("market_regulation", "support", _HAZ_MARKET, (15, 60, 60))])),
        ],
    },
]
