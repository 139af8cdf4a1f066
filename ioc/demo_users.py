"""The demo city's users: one per role and one handler per department, seeded only by
`python -m ioc demo` (never by `web` or `ingest`), plus a kiosk link for the wall and an API
token for the simulated duty desk.

Every start gives the demo users fresh passwords (or IOC_DEMO_PASSWORD for all) and prints
them; users added by hand are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from ioc.adapters.user_store import Actor, UserStore
from ioc.domain.departments import all_departments
from ioc.domain.geo import CityMap
from ioc.i18n import ROLE_NAMES

SEEDER = Actor("demo", "admin", "")
# Token names are read on the portal (timelines, the alarm board, the token list) as an admin gave
# them: the demo's are in the city's language. The English ones of earlier demos are revoked too.
KIOSK_NAME = "演示大屏"
DUTY_DESK_NAME = "模拟值班台"  # the simulators' dispatcher and inspector on duty (API token)
EARLIER_NAMES = {KIOSK_NAME: "demo wall", DUTY_DESK_NAME: "simulated duty desk"}
DUTY_DESK_ROLES = ("dispatcher", "inspector")
PEOPLE = (  # name, role, display name
    ("operator", "operator", "值班员 王敏"),
    ("leader", "leader", "市领导 陈刚"),
    ("dispatcher", "dispatcher", "调度员 李娜"),
    ("inspector", "inspector", "监督员 赵强"),
    ("admin", "admin", "系统管理员"),
)


@dataclass(frozen=True)
class DemoUser:
    name: str
    role: str
    department: str
    password: str
    display_name: str


def demo_people(city: CityMap) -> list[tuple[str, str, str, str]]:
    """(name, role, department, display name) of every demo user."""
    rows = [(name, role, "", display) for name, role, display in PEOPLE]
    rows += [(f"handler-{d.id}", "handler", d.id, f"{d.name_zh} 处置员") for d in all_departments(city)]
    return rows


def seed_demo_users(store: UserStore, city: CityMap, password: str = "") -> list[DemoUser]:
    """Create the demo users, or give existing demo users a new password; returns the credentials."""
    seeded = []
    for name, role, department, display in demo_people(city):
        existing = store.get(name)
        if existing is None:
            _, secret = store.add(name, [role], SEEDER, password=password or None, display_name=display,
                                  department=department, demo=True)
        elif existing.demo:
            if existing.disabled:
                store.set_disabled(name, False, SEEDER)
            _, secret = store.reset_password(name, SEEDER, password=password or None)
        else:
            continue  # a real user of that name: leave it alone
        seeded.append(DemoUser(name, role, department, secret, display))
    return seeded


def demo_kiosk_link(store: UserStore, portal: str) -> str:
    """A fresh kiosk link for the demo wall (the previous demo one is revoked)."""
    for token in store.tokens():
        if token.kiosk and token.name in (KIOSK_NAME, EARLIER_NAMES[KIOSK_NAME]) and token.active:
            store.revoke_token(token.id, SEEDER)
    _, secret = store.create_token(KIOSK_NAME, ["operator"], SEEDER, kiosk=True)
    return f"{portal.rstrip('/')}/kiosk/{secret}"


def demo_duty_desk_token(store: UserStore) -> str:
    """A fresh API token for the simulated duty desk (roles dispatcher and inspector); the
    previous demo one is revoked. Returns the secret, handed to the simulators only."""
    for token in store.tokens():
        if (not token.kiosk and token.name in (DUTY_DESK_NAME, EARLIER_NAMES[DUTY_DESK_NAME]) and token.created_by == SEEDER.name
                and token.active):
            store.revoke_token(token.id, SEEDER)
    _, secret = store.create_token(DUTY_DESK_NAME, list(DUTY_DESK_ROLES), SEEDER)
    return secret


def credentials_table(users: list[DemoUser]) -> str:
    """The demo users as printed at start: role, user name, password."""
    width = max((len(u.name) for u in users), default=8)
    lines = []
    for u in users:
        role = f"{u.role} ({ROLE_NAMES[u.role]['zh']})"
        lines.append(f"    {role:<24} {u.name:<{width}}  {u.password}")
    return "\n".join(lines)
