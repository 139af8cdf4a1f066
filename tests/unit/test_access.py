"""Specification of who may see and do what (ioc.domain.access): the permission table per role,
the read-only kiosk, fail-closed unknown permissions, role aliases; and, through the page table
(ioc.web.pages), views by URL path and where each role lands after signing in."""

from __future__ import annotations

import pytest

from ioc.domain.access import PERMISSIONS, ROLES, SIGNED_IN, AccessDenied, Principal, allowed, normalise_role, require
from ioc.web.pages import NAVIGATION, home_path, may_view_path, view_for_path, visible_views

# The spec: role -> every permission it holds. Anything not listed is denied.
SPEC: dict[str, set[str]] = {
    "operator": {SIGNED_IN, "view:bigscreen", "view:districts", "view:status", "view:account", "view:events", "alarm:acknowledge",
                 "event:read", "view:duty", "view:rewind"},
    "leader": {SIGNED_IN, "view:bigscreen", "view:districts", "view:console", "view:indicators", "view:status", "view:audit",
               "view:account", "view:events", "alarm:acknowledge", "alarm:clear", "case:read", "event:read", "event:command",
               "event:instruct", "view:duty", "notify:silence", "view:cockpit", "view:rewind"},
    "dispatcher": {SIGNED_IN, "view:bigscreen", "view:districts", "view:console", "view:indicators", "view:status",
                   "view:account", "view:events", "alarm:acknowledge", "alarm:clear", "case:read", "case:report", "event:read",
                   "event:command", "view:duty", "notify:silence", "view:rewind"},
    "inspector": {SIGNED_IN, "view:bigscreen", "view:districts", "view:inspections", "view:account", "view:events", "case:read",
                  "case:report", "event:read", "view:report"},
    "handler": {SIGNED_IN, "view:tasks", "view:account", "view:events", "case:read", "event:read", "event:task"},
    "admin": {SIGNED_IN, "view:indicators", "view:status", "view:audit", "view:admin", "view:account", "user:manage",
              "token:manage", "view:duty", "view:notify", "notify:manage", "notify:silence"},
    "reporter": {SIGNED_IN, "view:account", "case:report"},
}
# A kiosk is a read-only operator: an operator's views and the frame, no action.
for _role in ("dispatcher", "inspector", "handler"):  # issue 16, media: who may upload a case's photos
    SPEC[_role].add("case:attach")
for _role in ("leader", "dispatcher", "admin"):  # issue 17: the record's exports (GeoPackage, GeoJSON, XLSX/CSV)
    SPEC[_role] |= {"view:reports", "report:export"}
KIOSK_SPEC = {SIGNED_IN, "view:bigscreen", "view:districts", "view:status", "view:account", "view:events", "view:duty", "view:rewind"}
CONTROLS = {"view:rewind"}  # a view permission of a control on other pages (the time control), no page of its own
# views reached from another page, with no navigation entry of their own (the monthly report: from the indicators)
LINKED = {"view:reports"}
ALL_PERMISSIONS = sorted(set().union(*SPEC.values()))

# Where each role lands after signing in (its first view in navigation order).
HOME = {"operator": "/", "leader": "/", "dispatcher": "/", "inspector": "/", "handler": "/tasks", "admin": "/status",
        "reporter": "/account"}


def person(*roles: str, department: str = "") -> Principal:
    return Principal("someone", frozenset(roles), department=department)


KIOSK = Principal("kiosk:wall", frozenset({"operator"}), "wall", "", "kiosk", True)


def test_the_roles_are_the_six_of_the_issue_plus_the_reporting_system():
    assert ROLES == ("operator", "leader", "dispatcher", "inspector", "handler", "admin", "reporter")


def test_the_permission_table_names_exactly_the_permissions_of_the_spec():
    assert set(PERMISSIONS) == set(ALL_PERMISSIONS)
    assert all(holders <= set(ROLES) for holders in PERMISSIONS.values())


@pytest.mark.parametrize("role", ROLES)
def test_each_role_holds_exactly_its_permissions(role):
    p = person(role, department="urban_management" if role == "handler" else "")
    held = {perm for perm in ALL_PERMISSIONS if allowed(p, perm)}
    assert held == SPEC[role]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_open_exactly_its_views(role):
    views = {view for view, _path in visible_views(person(role))}
    assert views == {perm.split(":", 1)[1] for perm in SPEC[role]
                     if perm.startswith("view:") and perm not in CONTROLS and perm not in LINKED}


def test_admin_holds_no_operational_permission():
    admin = person("admin")
    for perm in ("view:bigscreen", "view:districts", "alarm:acknowledge", "alarm:clear"):
        assert not allowed(admin, perm), perm


def test_several_roles_hold_the_union_of_their_permissions():
    p = person("inspector", "admin")
    held = {perm for perm in ALL_PERMISSIONS if allowed(p, perm)}
    assert held == SPEC["inspector"] | SPEC["admin"]


def test_a_kiosk_is_a_read_only_operator():
    held = {perm for perm in ALL_PERMISSIONS if allowed(KIOSK, perm)}
    assert held == KIOSK_SPEC
    assert not allowed(KIOSK, "alarm:acknowledge")  # an operator could; the wall cannot


def test_read_only_denies_every_action_even_to_roles_that_hold_it():
    ro_admin = Principal("x", frozenset({"admin", "leader"}), read_only=True)
    for perm in ALL_PERMISSIONS:
        expected = (perm == SIGNED_IN or perm.startswith("view:")) and perm in SPEC["admin"] | SPEC["leader"]
        assert allowed(ro_admin, perm) == expected, perm


@pytest.mark.parametrize("perm", ["view:secret", "alarm:delete", "", "VIEW:BIGSCREEN", "view:bigscreen ", "user:*"])
def test_an_unknown_permission_is_denied_to_everybody(perm):
    everybody = Principal("root", frozenset(ROLES))
    assert not allowed(everybody, perm)
    assert not allowed(KIOSK, perm)
    with pytest.raises(AccessDenied, match="nobody"):
        require(everybody, perm)


def test_nobody_without_a_principal_or_without_roles_holds_anything():
    for perm in ALL_PERMISSIONS:
        assert not allowed(None, perm)
        assert not allowed(Principal("ghost"), perm)


def test_require_names_the_permission_and_its_holders():
    require(person("dispatcher"), "alarm:clear")  # no error
    with pytest.raises(AccessDenied) as e:
        require(person("operator"), "alarm:clear")
    assert "alarm:clear" in str(e.value) and "leader, dispatcher" in str(e.value) and "operator" in str(e.value)
    with pytest.raises(AccessDenied, match="read-only kiosk"):
        require(KIOSK, "alarm:acknowledge")
    with pytest.raises(AccessDenied, match="anonymous"):
        require(None, SIGNED_IN)


def test_the_acting_role_is_the_first_role_in_order_that_holds_the_permission():
    p = person("dispatcher", "leader")
    assert p.acting_role("alarm:clear") == "leader"
    assert person("operator", "dispatcher").acting_role("alarm:acknowledge") == "operator"
    assert person("admin", "handler").acting_role("user:manage") == "admin"
    assert p.role == "dispatcher+leader"
    assert Principal("x").role == "-"


@pytest.mark.parametrize("alias", ["department", "Department", " department_handler ", "department-handler", "HANDLER"])
def test_role_aliases_name_the_handler(alias):
    assert normalise_role(alias) == "handler"


def test_roles_are_normalised_and_unknown_roles_refused():
    assert normalise_role(" Admin ") == "admin"
    for role in ROLES:
        assert normalise_role(role.upper()) == role
    for bad in ("root", "", "superuser", "operators"):
        with pytest.raises(ValueError, match="unknown role"):
            normalise_role(bad)


@pytest.mark.parametrize("role", ROLES)
def test_home_path_per_role(role):
    assert home_path(person(role)) == HOME[role]
    assert may_view_path(person(role), HOME[role])


def test_home_path_of_a_kiosk_and_of_nobody():
    assert home_path(KIOSK) == "/"
    assert home_path(person("admin", "operator")) == "/"  # the first visible view in navigation order
    assert home_path(None) == "/account"


@pytest.mark.parametrize("path, view", [
    ("/", "bigscreen"), ("", "bigscreen"), (None, "bigscreen"),
    ("/districts", "districts"), ("/districts/", "districts"), ("/district/yangshe", "districts"),
    ("/status", "status"), ("/status/", "status"), ("/audit", "audit"), ("/admin", "admin"), ("/account", "account"),
    ("/district", None), ("/district/", None), ("/nope", None), ("/statusx", None), ("/admin/users", None),
    ("/Status", None), ("/login", None), ("/api/v1/me", None),
    ("/cases", "console"), ("/tasks", "tasks"), ("/inspections", "inspections"), ("/indicators", "indicators"),
    ("/case/ZJG-20260101-000001", "case"), ("/case/ZJG-20260101-000001/", "case"), ("/case", None), ("/case/", None),
    ("/case/a/b", None), ("/cases/x", None),
])
def test_view_for_path(path, view):
    assert view_for_path(path) == view


def test_every_view_path_maps_back_to_its_view():
    for page in NAVIGATION:
        assert view_for_path(page.path) == page.view


def test_may_view_path_follows_the_view_permission():
    assert may_view_path(person("operator"), "/district/yangshe")
    assert not may_view_path(person("handler"), "/district/yangshe")
    assert not may_view_path(person("admin"), "/")
    assert may_view_path(person("admin"), "/admin")
    assert not may_view_path(person("leader"), "/admin")
    assert not may_view_path(person("admin"), "/no-such-page")
    assert may_view_path(KIOSK, "/status")
    assert not may_view_path(KIOSK, "/audit")
    assert not may_view_path(None, "/account")


@pytest.mark.parametrize("role", ROLES)
def test_one_case_page_is_open_to_the_case_readers_and_never_in_the_navigation(role):
    assert may_view_path(person(role), "/case/ZJG-20260101-000001") == ("case:read" in SPEC[role])
    assert "case" not in {view for view, _path in visible_views(person(role))}
    assert not may_view_path(KIOSK, "/case/ZJG-20260101-000001")


def test_the_navigation_order_puts_the_case_views_after_the_districts_and_indicators_after_status():
    everybody = Principal("root", frozenset(ROLES))
    assert [view for view, _path in visible_views(everybody)] == [
        "bigscreen", "cockpit", "districts", "console", "tasks", "events", "inspections", "report", "status", "indicators",
        "audit", "admin", "duty", "notify", "account"]


def test_who_may_open_the_report_page_may_also_send_a_report():
    assert PERMISSIONS["view:report"] <= PERMISSIONS["case:report"]


@pytest.mark.parametrize("role", ROLES)
def test_one_devices_rewind_is_open_to_the_rewind_holders_and_never_in_the_navigation(role):
    assert may_view_path(person(role), "/device/gauge-1") == ("view:rewind" in SPEC[role])
    assert "device" not in {view for view, _path in visible_views(person(role))}


def test_a_kiosk_opens_the_device_rewind_its_board_links_to():
    assert may_view_path(KIOSK, "/device/gauge-1")
