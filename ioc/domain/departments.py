"""The city's departments (处置部门): functional bureaus and the territorial governments.

Components go to their owner first, then the territory (先属主后属地); events to the territory
first (先属地后属主). The owners are the functional departments below; the territory is the
government of the district (town, park or resort) where the problem is.

Department ids are ASCII and topic-safe: they appear in MQTT topics
(`ioc/v1/dispatch/{department}`) and user records (a handler is bound to one department).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .geo import CityMap

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class Department:
    id: str
    name_zh: str
    name_en: str
    kind: str  # "functional" (owner of components, a bureau) or "territorial" (a district government)
    district: str = ""  # for territorial departments: the district they govern

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


FUNCTIONAL: tuple[Department, ...] = (
    Department("urban_management", "市城市管理局", "City Management Bureau", "functional"),
    Department("street_lighting", "市路灯管理所", "Street Lighting Office", "functional"),
    Department("water_affairs", "市水务局", "Water Affairs Bureau", "functional"),
    Department("ecology_environment", "苏州市张家港生态环境局", "Ecology and Environment Bureau", "functional"),
    Department("public_security", "市公安局", "Public Security Bureau", "functional"),
    Department("transport", "市交通运输局", "Transport Bureau", "functional"),
    Department("housing_construction", "市住房和城乡建设局", "Housing and Urban-Rural Development Bureau", "functional"),
    Department("market_regulation", "市市场监督管理局", "Market Regulation Bureau", "functional"),
    Department("landscaping", "市园林绿化管理处", "Landscaping Office", "functional"),
)


def territorial(city: CityMap) -> tuple[Department, ...]:
    """One government per district: a town's 人民政府, a park's or resort's 管委会."""
    out = []
    for d in city.districts:
        if d.name_zh.endswith("镇"):
            zh, en = f"{d.name_zh}人民政府", f"{d.name_en} Town Government"
        else:
            zh, en = f"{d.name_zh}管理委员会", f"{d.name_en} Administrative Committee"
        out.append(Department(f"town_{d.id}", zh, en, "territorial", d.id))
    return tuple(out)


def all_departments(city: CityMap) -> tuple[Department, ...]:
    return FUNCTIONAL + territorial(city)


def department_ids(city: CityMap) -> frozenset[str]:
    return frozenset(d.id for d in all_departments(city))
