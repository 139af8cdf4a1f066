"""The audit log page's view model (ioc.views.audit): every action by its name, roles and
outcomes as words, details readable (keys named, values plain, user changes as before → after)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ioc.adapters.audit_log import AuditEntry
from ioc.domain.departments import FUNCTIONAL
from ioc.i18n import STRINGS
from ioc.settings import REPO_ROOT
from ioc.views.audit import action_name, audit_rows, detail_text, outcome_text, role_text

DEPARTMENTS = {d.id: d for d in FUNCTIONAL}
DISTRICTS = {"yangshe": "杨舍镇"}
T0 = 1_767_225_600_000  # 2026-01-01 08:00 China time


def readme_actions() -> list[str]:
    """The actions of the audit table of the reference (docs/reference/access.md)."""
    text = Path(REPO_ROOT / "docs" / "reference" / "access.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `((?:auth|access|user|token|alarm|case)\.[a-z_]+)` \|", text, re.M)


def test_every_action_of_the_readme_has_a_name_in_both_languages():
    actions = readme_actions()
    assert "case.report" in actions and "case.urge" in actions and len(actions) >= 33
    for action in actions:
        assert f"audit:{action}" in STRINGS, action
        assert action_name(action, "zh") != action and action_name(action, "en") != action


def test_every_recorded_action_has_a_name_in_both_languages():
    from ioc.adapters.audit_log import ACTIONS
    from layouts.audit import ACTION_GROUPS

    for action in ACTIONS:
        assert f"audit:{action}" in STRINGS, action
        assert any(action.startswith(group) for group in ACTION_GROUPS if group), action


@pytest.mark.parametrize("action, zh, en", [("case.report", "上报案件", "Case reported"), ("auth.sign_in", "登录", "Signed in"),
                                            ("case.urge", "督办", "Case urged"), ("made.up", "made.up", "made.up")])
def test_an_action_is_shown_by_its_name(action, zh, en):
    assert (action_name(action, "zh"), action_name(action, "en")) == (zh, en)


def test_roles_and_outcomes_are_words():
    assert role_text("dispatcher+leader") == "调度员、领导" and role_text("-") == "—"
    assert role_text("dispatcher+leader", "en") == "Dispatcher, Leader"
    assert outcome_text("ok") == "成功" and outcome_text("denied", "en") == "Refused" and outcome_text("odd") == "odd"


def test_a_case_action_reads_as_its_stage_change_note_and_department():
    detail = {"from": "verified", "to": "dispatched", "note": "", "department": "water_affairs"}
    assert detail_text("case.dispatch", detail, "zh", DEPARTMENTS) == "环节：待派遣 → 处置中 · 部门：市水务局"
    urge = {"from": "dispatched", "to": "dispatched", "note": "抓紧"}
    assert detail_text("case.urge", urge, "en") == "Stage: Being handled · Note: 抓紧"
    report = {"from": "", "to": "reported", "note": "井盖丢失", "source": "sensor", "report_id": "r-1", "device_id": "mh-1"}
    assert detail_text("case.report", report) == "环节：待受理 · 意见：井盖丢失 · 来源：感知设备 · 上报编号：r-1 · 设备：mh-1"
    assert detail_text("case.report", {**report, "report_id": "", "device_id": None}) == "环节：待受理 · 意见：井盖丢失 · 来源：感知设备"


def test_a_user_change_reads_before_and_after_without_bookkeeping():
    detail = {"before": {"roles": ["operator"], "updated_at": T0, "disabled": False},
              "after": {"roles": ["operator", "leader"], "updated_at": T0 + 1, "disabled": True}}
    assert detail_text("user.update", detail) == "角色：值班员 → 值班员、领导 · 已停用：否 → 是"
    assert detail_text("user.reset_password", {"before": {"epoch": 1}, "after": {"epoch": 2}}) == ""


def test_other_details_name_their_keys_and_plain_values():
    assert detail_text("auth.sign_in_failed", {"error": "wrong password", "failures": 3}) == "原因：密码错误 · 连续失败：3 次"
    assert detail_text("auth.locked_out", {"retry_after_s": 120}, "en") == "Wait: 120 s"
    alarm = {"device_id": "mh-1", "rule_id": "manhole_displaced", "severity": "critical", "district": "yangshe", "value": True}
    assert detail_text("alarm.clear", {**alarm, "note": "已复位"}, "zh", districts=DISTRICTS) == (
        "意见：已复位 · 设备：mh-1 · 规则：井盖移位/丢失 · 级别：紧急 · 区镇：杨舍镇 · 数值：是")
    token = {"id": "t1", "name": "大厅大屏", "roles": ["operator"], "kiosk": True, "created_at": T0, "active": True}
    assert detail_text("token.create", token) == "名称：大厅大屏 · 角色：值班员 · 大屏链接：是 · 有效：是"
    assert detail_text("auth.kiosk", {}) == "" and detail_text("x", {"raw": "not json"}) == "not json"


def test_rows_keep_the_code_and_show_words():
    entry = AuditEntry("1-0", T0, "d1", "dispatcher", "case.accept", "ZJG-1", "ok", "10.0.0.1",
                       {"from": "reported", "to": "accepted", "note": ""})
    (row,) = audit_rows([entry], "zh")
    assert row == {"id": "1-0", "time": "2026-01-01 08:00:00", "actor": "d1", "role": "调度员", "action": "case.accept",
                   "action_label": "受理案件", "target": "ZJG-1", "outcome": "成功", "ip": "10.0.0.1",
                   "detail": "环节：待受理 → 待核实"}
