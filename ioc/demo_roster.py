"""The demo city's duty roster (for `python -m ioc demo`, with the local provider receivers).

One group per department, the channels rotating WeCom / DingTalk (signed) / Feishu (signed) /
email; a center group and a dispatch-desk group; a duty officer (sms + email) and a duty leader
for the operations center and one duty officer per department, on day (08:00–20:00) and night
(20:00–08:00) shifts from yesterday for `days` days. Keys and secrets are made-up demo values
(the receivers learn them from the stored roster). Nothing here is written: the demo stores it
with RosterStore.put unless a roster is already stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ioc.domain.clock import local_time
from ioc.domain.departments import Department
from ioc.domain.roster import Contact, Group, Roster, Shift

ROTATION = ("wecom", "dingtalk", "feishu", "email")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "敏强伟芳娜静磊洋艳军杰涛明超"


def _person(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)]


def _phone(i: int) -> str:
    return f"1390512{i:04d}"


def _group(gid: str, name: str, department: str, channel: str, i: int) -> Group:
    if channel == "email":
        return Group(gid, name, department, channel, f"{gid}@demo.ioc.local")
    secret = f"SECdemo{i:04d}{gid.replace('-', '')[:20]}" if channel in ("dingtalk", "feishu") else ""
    return Group(gid, name, department, channel, f"demo-{channel}-{gid}", secret)


def demo_roster(departments: tuple[Department, ...], now_ms: int, days: int = 7) -> Roster:
    contacts = [
        Contact("center-officer", "值班员 王敏", _phone(1), "duty@demo.ioc.local", "", "城运中心值班员", ("sms", "email")),
        Contact("center-leader", "值班领导 陈刚", _phone(2), "leader@demo.ioc.local", "", "城运中心值班领导", ("sms", "email")),
        Contact("dispatch-officer", "调度员 李娜", _phone(3), "dispatch@demo.ioc.local", "", "派遣席", ("sms", "email")),
    ]
    groups = [
        _group("center", "城运中心值班群", "", "dingtalk", 1),
        _group("dispatch", "派遣席工作群", "dispatch", "wecom", 2),
    ]
    for i, d in enumerate(departments):
        groups.append(_group(f"dept-{d.id}".replace("_", "-"), f"{d.name_zh}值班群", d.id, ROTATION[i % len(ROTATION)], 10 + i))
        contacts.append(Contact(f"duty-{d.id}".replace("_", "-"), _person(i), _phone(100 + i), f"duty-{d.id.replace('_', '-')}@demo.ioc.local",
                                d.id, f"{d.name_zh}值班员", ("sms", "email")))
    start = local_time(now_ms).replace(hour=8, minute=0, second=0, microsecond=0, tzinfo=None) - timedelta(days=1)
    shifts = []
    for day in range(days + 1):
        morning = start + timedelta(days=day)
        evening = morning + timedelta(hours=12)
        next_morning = morning + timedelta(days=1)
        for a, b in ((morning, evening), (evening, next_morning)):
            shifts.append(Shift("center", "center-officer", _iso(a), _iso(b), "值班员"))
            shifts.append(Shift("dispatch", "dispatch-officer", _iso(a), _iso(b), "值班员"))
        shifts.append(Shift("center", "center-leader", _iso(morning), _iso(next_morning), "值班领导"))
        for d in departments:
            shifts.append(Shift(d.id, f"duty-{d.id}".replace("_", "-"), _iso(morning), _iso(next_morning), "值班员"))
    return Roster(tuple(contacts), tuple(groups), tuple(shifts))


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")
