"""The case classes (案件分类), GB/T 30428 style: major and minor classes with time limits.

Two kinds of problems, as in digital city management:

* components (部件): a city object that is broken or missing (a street light, a manhole cover);
  it goes to its owner department first, then the territory (先属主后属地);
* events (事件): something happening in the street (garbage, illegal construction, a crowd);
  it goes to the territory first, then the functional department (先属地后属主).

Codes
-----
A major class code has three digits: the kind digit (1 component, 2 event) and the major class
number. A minor class code has five: the major class code and the minor number. So "10105" is
component (1), major class 01 公用设施 (public utilities), minor 05 路灯损坏 (street light
broken). The major classes follow the standard:

    components 1xx: 101 公用设施  102 道路交通  103 市容环境  104 园林绿化  105 房屋土地  106 其他设施
    events     2xx: 201 市容环境  202 宣传广告  203 施工管理  204 突发事件  205 街面秩序  206 其他事件

The minor classes are a realistic selection, not the standard's full table; codes are stable
(cases store them), so add new classes with new numbers and never renumber.

Time limits
-----------
`MinorClass.limits` gives the hours allowed for each stage's work (the values of
`ioc.domain.cases.STAGE_WORK`): accept 受理, verify 核实, dispatch 派遣, handle 处置, check
核查, close 结案. Urgent classes (a hazard to life or property: an open manhole, a gas leak, a
crowd) count calendar hours, round the clock; the others count working hours on the city's
`ioc.domain.work_calendar.WorkCalendar` (e.g. exposed garbage: handled within 4 working hours).
The handle limit of illegal construction (4 h) is the limit to stop the work; demolition
follows a legal procedure outside the case.

Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .cases import STAGE_WORK

KINDS: tuple[str, ...] = ("component", "event")
KIND_NAMES: dict[str, dict[str, str]] = {
    "component": {"zh": "部件", "en": "Component"},
    "event": {"zh": "事件", "en": "Event"},
}
# the stage works, in workflow order: accept, verify, dispatch, handle, check, close
WORKS: tuple[str, ...] = tuple(STAGE_WORK.values())


@dataclass(frozen=True)
class MajorClass:
    """A major class 大类, e.g. "101" 公用设施 (component) or "201" 市容环境 (event)."""

    code: str
    kind: str  # "component" (部件) | "event" (事件)
    name_zh: str
    name_en: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"major class {self.code}: kind must be one of {KINDS}, not {self.kind!r}")
        if not (len(self.code) == 3 and self.code.isdigit() and self.code[0] == str(KINDS.index(self.kind) + 1)):
            raise ValueError(f"major class code {self.code!r} must be 3 digits starting with "
                             f"{KINDS.index(self.kind) + 1} for a {self.kind}")

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class MinorClass:
    """A minor class 小类: the problem a case is about, its owner department and time limits."""

    code: str
    major: str  # the major class code, the first three digits of `code`
    name_zh: str
    name_en: str
    department: str  # the functional department that owns it (see ioc.domain.departments)
    urgent: bool
    limits: dict[str, float] = field(default_factory=dict)  # hours per stage work (see WORKS)
    calendar_hours: bool = False  # True: limits count calendar hours; False: working hours

    def __post_init__(self):
        if not (len(self.code) == 5 and self.code.isdigit() and self.code[:3] == self.major):
            raise ValueError(f"minor class code {self.code!r} must be 5 digits starting with its major class "
                             f"{self.major!r}")
        unknown = set(self.limits) - set(WORKS)
        if unknown:
            raise ValueError(f"minor class {self.code}: unknown work(s) {sorted(unknown)} in limits; "
                             f"works are {', '.join(WORKS)}")
        bad = [w for w, h in self.limits.items() if not (isinstance(h, (int, float)) and h > 0)]
        if bad:
            raise ValueError(f"minor class {self.code}: limits must be positive hours ({', '.join(bad)})")

    @property
    def kind(self) -> str:
        return KINDS[int(self.code[0]) - 1]

    @property
    def is_component(self) -> bool:
        return self.kind == "component"

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def limit(self, work: str) -> float:
        """Hours allowed for `work` (0: no limit)."""
        return float(self.limits.get(work, 0))

    @property
    def total_hours(self) -> float:
        """Hours from report to close: the sum of all stage limits (on the class's clock)."""
        return float(sum(self.limits.values()))


MAJOR_CLASSES: dict[str, MajorClass] = {m.code: m for m in (
    MajorClass("101", "component", "公用设施", "Public utilities"),
    MajorClass("102", "component", "道路交通", "Roads and traffic"),
    MajorClass("103", "component", "市容环境", "City appearance"),
    MajorClass("104", "component", "园林绿化", "Landscaping and greenery"),
    MajorClass("105", "component", "房屋土地", "Buildings and land"),
    MajorClass("106", "component", "其他设施", "Other facilities"),
    MajorClass("201", "event", "市容环境", "City appearance and environment"),
    MajorClass("202", "event", "宣传广告", "Advertising"),
    MajorClass("203", "event", "施工管理", "Construction management"),
    MajorClass("204", "event", "突发事件", "Emergencies"),
    MajorClass("205", "event", "街面秩序", "Street order"),
    MajorClass("206", "event", "其他事件", "Other events"),
)}

# stage limits other than handling: minutes-scale for an ordinary class (working hours) and
# shorter for an urgent one (calendar hours)
_ORDINARY = {"accept": 0.5, "verify": 1.0, "dispatch": 0.5, "check": 1.0, "close": 0.5}
_URGENT = {"accept": 0.25, "verify": 0.5, "dispatch": 0.25, "check": 0.5, "close": 0.5}


def _c(code: str, zh: str, en: str, department: str, handle: float, urgent: bool = False) -> MinorClass:
    """A minor class with the usual stage limits and `handle` hours to handle it; urgent
    classes count calendar hours, the others working hours."""
    limits = dict(_URGENT if urgent else _ORDINARY, handle=float(handle))
    return MinorClass(code, code[:3], zh, en, department, urgent, {w: limits[w] for w in WORKS}, calendar_hours=urgent)


MINOR_CLASSES: dict[str, MinorClass] = {c.code: c for c in (
    # components 部件 — 101 public utilities 公用设施
    _c("10101", "井盖丢失", "Manhole cover missing", "water_affairs", 6, urgent=True),
    _c("10102", "井盖破损/移位", "Manhole cover damaged or tilted", "water_affairs", 24),
    _c("10103", "供水井损坏", "Water supply manhole damaged", "water_affairs", 16),
    _c("10104", "消防栓损坏", "Fire hydrant damaged", "water_affairs", 16),
    _c("10105", "路灯损坏", "Street light broken", "street_lighting", 16),
    _c("10106", "雨水箅子缺失", "Storm drain grate missing", "water_affairs", 8),
    # 102 roads and traffic 道路交通
    _c("10201", "道路破损", "Road damaged", "transport", 40),
    _c("10202", "交通信号灯故障", "Traffic signal fault", "public_security", 4, urgent=True),
    _c("10203", "交通护栏损坏", "Traffic guardrail damaged", "transport", 24),
    _c("10204", "交通标志牌损坏", "Traffic sign damaged", "public_security", 40),
    _c("10205", "公交站亭损坏", "Bus shelter damaged", "transport", 40),
    # 103 city appearance 市容环境
    _c("10301", "果皮箱破损", "Litter bin damaged", "urban_management", 16),
    _c("10302", "公厕设施损坏", "Public toilet facilities damaged", "urban_management", 16),
    # 104 landscaping 园林绿化
    _c("10401", "行道树损坏", "Street tree damaged", "landscaping", 24),
    _c("10402", "绿地损坏", "Green space damaged", "landscaping", 40),
    # 105 buildings and land 房屋土地
    _c("10501", "危险房屋", "Dangerous building", "housing_construction", 24),
    # 106 other facilities 其他设施
    _c("10601", "环境监测设施损坏", "Environmental monitoring station damaged", "ecology_environment", 40),
    # events 事件 — 201 city appearance and environment 市容环境
    _c("20101", "暴露垃圾", "Exposed garbage", "urban_management", 4),
    _c("20102", "乱倒垃圾", "Illegal dumping", "urban_management", 8),
    _c("20103", "道路不洁", "Dirty road", "urban_management", 2),
    _c("20104", "河道漂浮物", "Floating debris in a river", "water_affairs", 8),
    _c("20105", "企业排污", "Illegal discharge by an enterprise", "ecology_environment", 4, urgent=True),
    # 202 advertising 宣传广告
    _c("20201", "非法小广告", "Illegal advertising", "urban_management", 8),
    _c("20202", "违规户外广告", "Unauthorised outdoor advertisement", "urban_management", 40),
    # 203 construction management 施工管理
    _c("20301", "违章搭建", "Illegal construction", "urban_management", 4),
    _c("20302", "夜间施工噪声", "Construction noise at night", "urban_management", 2, urgent=True),
    _c("20303", "工地扬尘", "Construction site dust", "housing_construction", 8),
    _c("20304", "渣土撒漏", "Construction waste spilled on the road", "urban_management", 4),
    # 204 emergencies 突发事件
    _c("20401", "燃气泄漏", "Gas leak", "housing_construction", 2, urgent=True),
    _c("20402", "道路塌陷", "Road collapse", "transport", 4, urgent=True),
    _c("20403", "树木倒伏", "Fallen tree", "landscaping", 4, urgent=True),
    _c("20404", "聚众闹事", "Crowd disturbance", "public_security", 1, urgent=True),
    _c("20405", "道路积水", "Waterlogging", "water_affairs", 4, urgent=True),
    _c("20406", "供水管破裂", "Water main burst", "water_affairs", 4, urgent=True),
    # 205 street order 街面秩序
    _c("20501", "占道经营", "Street vending", "urban_management", 2),
    _c("20502", "违章停车", "Illegal parking", "public_security", 2),
    _c("20503", "废弃车辆", "Abandoned vehicle", "public_security", 40),
    _c("20504", "无照经营", "Unlicensed business", "market_regulation", 16),
    # 206 other events 其他事件
    _c("20601", "黑臭水体", "Black and odorous water", "ecology_environment", 40),
)}

# the five problems of the product seed
SEED_CLASSES: dict[str, str] = {
    "street_light_broken": "10105",
    "manhole_cover_missing": "10101",
    "illegal_discharge": "20105",
    "illegal_construction": "20301",
    "crowd_disturbance": "20404",
}

# the minor class of the case raised automatically from a sensor alarm, by rule id
# (ioc.domain.rules.RULES); rules not listed (air quality, noise, traffic, water level,
# crowd_dense, platform) raise alarms only, no case
ALARM_CLASSES: dict[str, str] = {
    "manhole_displaced": "10101",
    "manhole_tilt": "10102",
    "streetlight_fault": "10105",
    "outfall_cod": "20105",
    "outfall_ph_low": "20105",
    "outfall_ph_high": "20105",
    "crowd_critical": "20404",
}


def minor(code: str) -> MinorClass:
    """The minor class with this code; KeyError naming the code and the known ones otherwise."""
    try:
        return MINOR_CLASSES[code]
    except (KeyError, TypeError):
        raise KeyError(f"unknown case class {code!r}: a minor class code is 5 digits "
                       f"(e.g. 10105 street light broken); known codes are {', '.join(MINOR_CLASSES)}") from None


def major_of(minor_class: MinorClass) -> MajorClass:
    return MAJOR_CLASSES[minor_class.major]


def classes_of(major_code: str) -> list[MinorClass]:
    """The minor classes of a major class, in code order."""
    return [c for code, c in sorted(MINOR_CLASSES.items()) if c.major == major_code]


# The classes an inspector reports most (巡查上报's short list, in this order); every other class
# is found by searching its name or code. Each is a minor-class code of MINOR_CLASSES.
COMMON_CLASSES: tuple[str, ...] = (
    "20101",  # 暴露垃圾 exposed garbage
    "20501",  # 占道经营 street vending
    "20201",  # 非法小广告 illegal advertising
    "20502",  # 违章停车 illegal parking
    "10102",  # 井盖破损/移位 manhole cover damaged
    "10101",  # 井盖丢失 manhole cover missing
    "10105",  # 路灯损坏 street light broken
    "10201",  # 道路破损 road damaged
    "20304",  # 渣土撒漏 construction waste spilled
    "20301",  # 违章搭建 illegal construction
    "20405",  # 道路积水 waterlogging
    "20403",  # 树木倒伏 fallen tree
)


def common_classes() -> list[MinorClass]:
    """The short list of COMMON_CLASSES, in its order."""
    return [MINOR_CLASSES[code] for code in COMMON_CLASSES]
