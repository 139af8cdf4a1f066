"""The notification pages' view models (ioc.views.notify): masked keys, who is on duty now and
next, the week's shifts, the sent log's rows, silence states, and roster edits and refusals in
people's words."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from ioc.domain.departments import FUNCTIONAL
from ioc.domain.roster import Contact, Group, Roster, Shift
from ioc.views import notify as view
from ioc.views.notify import parse_local

DEPS = {d.id: d for d in FUNCTIONAL}
NOW = parse_local("2026-12-06 10:00")
KEY = "693a91f6-7d2e-4b8c-9a1e-0c5f2a7be4f1"


def contact(cid, name, phone="13912345678", department="", email="", channels=("sms",), title=""):
    return Contact(cid, name, phone, email, department, title, channels)


def shift(unit, cid, starts, ends, role="值班员"):
    return Shift(unit, cid, starts, ends, role)


def group(gid, name, department, channel, key=KEY, secret="", mentions=()):
    return Group(gid, name, department, channel, key, secret, mentions)


ROSTER = Roster(
    contacts=(contact("c1", "张三"), contact("c2", "李四", department="water_affairs"), contact("c3", "王五"),
              contact("c4", "赵六", phone="0512-58123456", channels=())),
    groups=(group("g1", "水务局工作群", "water_affairs", "dingtalk", secret="SECabcdef0123456789"),
            group("g2", "调度群", "dispatch", "email", key="ops@zjg.gov.cn,duty@zjg.gov.cn")),
    shifts=(shift("center", "c1", "2026-12-06T08:00", "2026-12-06T20:00", "值班领导"),
            shift("center", "c3", "2026-12-06T20:00", "2026-12-07T08:00"),
            shift("water_affairs", "c2", "2026-12-05T08:00", "2026-12-06T08:00"),
            shift("water_affairs", "c2", "2026-12-07T08:00", "2026-12-07T20:00"),
            shift("center", "c4", "2026-12-20T08:00", "2026-12-20T20:00")),
)


# ---- masking ------------------------------------------------------------------------------------

def test_a_long_key_shows_only_its_ends_around_the_mask():
    assert view.mask_key(KEY) == "693••••4f1"


def test_a_short_key_shows_nothing_but_the_mask_and_no_key_nothing():
    assert view.mask_key("abc123") == view.MASK
    assert view.mask_key("") == ""


def test_group_rows_never_carry_a_robot_key_or_secret_whole():
    rows = view.group_rows(ROSTER, DEPS, "zh")
    assert KEY not in str(rows) and "SECabcdef0123456789" not in str(rows)
    robot, mail = rows
    assert (robot["channel"], robot["key"], robot["secret"], robot["unit"]) == ("钉钉", "693••••4f1", "已设置", "市水务局")
    assert (mail["channel"], mail["unit"], mail["secret"]) == ("邮件", "调度席", "未设置")


def test_an_email_groups_addresses_are_shown_they_are_recipients():
    assert view.group_rows(ROSTER, DEPS, "en")[1]["key"] == "ops@zjg.gov.cn,duty@zjg.gov.cn"


# ---- on duty now and next -----------------------------------------------------------------------

def test_the_center_card_names_who_is_on_duty_now_with_a_tel_link_and_the_next_shift():
    cards = {c.unit: c for c in view.duty_cards(ROSTER, DEPS, FUNCTIONAL, NOW, "zh")}
    center = cards["center"]
    assert center.name == "城运中心"
    (now,) = center.now
    assert (now.role, now.name, now.phone, now.href, now.ends) == ("值班领导", "张三", "13912345678", "tel:13912345678", "12-06 20:00")
    assert [p.name for p in center.next] == ["王五"] and center.next[0].starts == "12-06 20:00"


def test_a_department_between_shifts_has_nobody_now_and_its_next_shift():
    water = {c.unit: c for c in view.duty_cards(ROSTER, DEPS, FUNCTIONAL, NOW, "en")}["water_affairs"]
    assert water.name == "Water Affairs Bureau" and water.now == ()
    assert [(p.name, p.starts) for p in water.next] == [("李四", "12-07 08:00")]


def test_a_shift_is_on_duty_from_its_start_up_to_not_including_its_end():
    at_end = parse_local("2026-12-06 20:00")
    cards = {c.unit: c for c in view.duty_cards(ROSTER, DEPS, FUNCTIONAL, at_end, "zh")}
    assert [p.name for p in cards["center"].now] == ["王五"]


def test_the_duty_board_lists_the_center_then_the_units_in_use():
    assert view.roster_units(ROSTER, FUNCTIONAL) == ["center", "dispatch", "water_affairs"]


def test_a_landline_becomes_a_tel_link_without_its_dash():
    assert view.phone_href("0512-58123456") == "tel:051258123456"


# ---- the week's shifts --------------------------------------------------------------------------

def test_shift_rows_show_the_running_and_coming_weeks_shifts_by_unit_then_start():
    rows = view.shift_rows(ROSTER, DEPS, NOW, "zh")
    assert [(r["unit"], r["name"], r["state"]) for r in rows] == [
        ("城运中心", "张三", "在岗"), ("城运中心", "王五", "待班"), ("市水务局", "李四", "待班")]
    assert rows[0]["starts"] == "2026-12-06 08:00"


def test_a_shifts_key_finds_it_for_removal():
    data = ROSTER.to_dict()
    key = view.shift_rows(ROSTER, DEPS, NOW, "zh")[1]["key"]
    kept, removed = view.without_shift(data, key)
    assert removed["contact_id"] == "c3" and len(kept["shifts"]) == len(ROSTER.shifts) - 1


# ---- silences -----------------------------------------------------------------------------------

@pytest.mark.parametrize("starts, ends, state", [
    ("2026-12-06 09:00", "2026-12-06 11:00", "active"),
    ("2026-12-06 11:00", "2026-12-06 12:00", "upcoming"),
    ("2026-12-06 08:00", "2026-12-06 10:00", "expired"),  # its end is now: over
])
def test_a_silence_is_active_upcoming_or_expired_by_its_window(starts, ends, state):
    assert view.silence_state(NS(starts_at=parse_local(starts), ends_at=parse_local(ends)), NOW) == state


def test_silence_rows_list_active_first_and_name_what_they_match_in_words():
    silences = [NS(id="s1", matchers={"kind": "case.overdue"}, starts_at=NOW - 7200_000, ends_at=NOW - 3600_000, by="root", comment="旧"),
                NS(id="s2", matchers={"department": "water_affairs", "district": "yangshe"}, starts_at=NOW - 60_000,
                   ends_at=NOW + 3600_000, by="dd", comment="泵站检修")]
    rows = view.silence_rows(silences, DEPS, {"yangshe": "杨舍镇"}, NOW, "zh")
    assert [r["state"] for r in rows] == ["生效中", "已过期"]
    assert rows[0]["matches"] == "部门：市水务局；区镇：杨舍镇"
    assert view.silence_rows(silences, DEPS, {}, NOW, "en")[1]["matches"] == "Kind: Case overdue"


def test_empty_silence_fields_are_left_out_of_the_matchers():
    assert view.silence_matchers("case.overdue", None, "", "  ") == {"kind": "case.overdue"}


# ---- the sent log -------------------------------------------------------------------------------

LOG = [
    {"at": NOW - 60_000, "kind": "case.dispatched", "subject": "case:ZJG-20261206-000001", "channel": "dingtalk",
     "recipient": "group:g1", "result": "sent", "attempts": 1, "text": "新派遣案件：井盖缺失"},
    {"at": NOW - 30_000, "kind": "alarm.escalated", "subject": "alarm:wl-1|water_level_warning", "channel": "sms",
     "recipient": "contact:c1", "result": "failed", "attempts": 8, "reason": "rate limited", "text": "水位告警升级"},
    {"at": NOW, "kind": "event.task", "subject": "event:EV-20261206-001", "channel": "email", "recipient": "group:g2",
     "result": "silenced", "attempts": 0, "text": "联动任务"},
]


def test_log_rows_name_the_recipient_channel_and_result_newest_first():
    rows = view.log_rows(LOG, view.roster_names(ROSTER), "zh")
    assert [(r["to"], r["channel"], r["result"]) for r in rows] == [
        ("调度群", "邮件", "已静默"), ("张三", "短信", "发送失败"), ("水务局工作群", "钉钉", "已发送")]
    assert rows[1]["attempts"] == 8 and rows[1]["reason"] == "rate limited"
    assert KEY not in str(rows)


def test_log_rows_link_to_the_case_or_event_but_not_an_alarm():
    rows = view.log_rows(LOG, view.roster_names(ROSTER), "en")
    assert [r["link"] for r in rows] == ["/event/EV-20261206-001", "", "/case/ZJG-20261206-000001"]
    assert rows[2]["subject"] == "Case ZJG-20261206-000001" and rows[2]["kind"] == "Case dispatched"


def test_log_rows_filter_by_channel_and_result():
    names = view.roster_names(ROSTER)
    assert [r["to"] for r in view.log_rows(LOG, names, "zh", channel="sms")] == ["张三"]
    assert [r["to"] for r in view.log_rows(LOG, names, "zh", result="sent")] == ["水务局工作群"]
    assert view.log_rows(LOG, names, "zh", channel="sms", result="sent") == []


def test_a_removed_recipient_is_unknown_not_its_id():
    (row,) = view.log_rows([{**LOG[0], "recipient": "group:gone"}], {}, "zh")
    assert row["to"] == "（未知接收人）"


# ---- routes and quiet hours ---------------------------------------------------------------------

def test_route_rows_say_targets_and_intervals_in_words():
    route = NS(id="overdue", name="超期通知", kinds=("case.overdue",), severities=(), departments=(),
               targets=("department_group", "dispatch_group", "group:g1"), channels=(), group_window_s=300, repeat_min=0,
               quiet=True, enabled=False)
    (row,) = view.route_rows([route], DEPS, view.roster_names(ROSTER), "zh")
    assert row["targets"] == "部门工作群、调度席工作群、群：水务局工作群"
    assert (row["window"], row["repeat"], row["quiet"], row["enabled"], row["severities"]) == ("5 分钟", "无", "是", "停用", "全部")


@pytest.mark.parametrize("text, ok", [("22:00", True), ("7:05", True), ("24:00", False), ("22:60", False), ("22", False), ("", False)])
def test_quiet_hours_take_a_24_hour_clock(text, ok):
    assert view.valid_clock(text) is ok


def test_a_window_must_be_a_whole_number_in_range():
    assert view.whole_number("300", 0, 3600) == 300
    assert view.whole_number(2.5, 0, 3600) is None and view.whole_number(-1, 0, 3600) is None
    assert view.whole_number("x", 0, 3600) is None


# ---- roster edits -------------------------------------------------------------------------------

def test_editing_a_group_without_a_new_key_keeps_the_stored_key_and_secret():
    data = {"groups": [{"id": "g1", "name": "水务局工作群", "department": "water_affairs", "channel": "dingtalk", "key": KEY,
                        "secret": "SEC1", "mentions": []}]}
    fields = view.group_form("水务局值班群", "water_affairs", "dingtalk", "", "", "13912345678，13812345678")
    new, gid = view.with_group(data, fields, "g1")
    assert gid == "g1" and new["groups"][0] == {"id": "g1", "name": "水务局值班群", "department": "water_affairs",
                                                 "channel": "dingtalk", "key": KEY, "secret": "SEC1",
                                                 "mentions": ["13912345678", "13812345678"]}


def test_a_new_key_replaces_the_stored_one():
    data = {"groups": [{"id": "g1", "name": "群", "department": "", "channel": "wecom", "key": KEY, "secret": "", "mentions": []}]}
    new, _ = view.with_group(data, view.group_form("群", "center", "wecom", "newkey", "", ""), "g1")
    assert new["groups"][0]["key"] == "newkey" and new["groups"][0]["department"] == ""


def test_a_new_contact_gets_a_free_id_and_the_center_is_stored_as_empty():
    data = {"contacts": [{"id": "c-1", "name": "甲"}]}
    new, cid = view.with_contact(data, view.contact_form("乙", "139 1234 5678", "", "center", "", ["sms"]))
    assert cid == "c-2" and new["contacts"][1] == {"id": "c-2", "name": "乙", "phone": "13912345678", "email": "",
                                                    "department": "", "title": "", "channels": ["sms"]}


def test_a_refused_roster_names_the_contact_and_field_in_the_page_language():
    data = {"contacts": [{"id": "c-1", "name": "张三", "phone": "123"}]}
    error = NS(path="contacts[0].phone", reason="'123' is neither a mainland mobile number (11 digits, 1[3-9]…) nor a landline")
    assert view.roster_error_text(error, data, DEPS, "zh") == \
        "联系人“张三” · 电话：不是有效的手机号（11 位）或固定电话（如 0512-58xxxxxx）"
    assert view.roster_error_text(error, data, DEPS, "en").startswith("Contact 张三 · Phone: is neither a mobile number")


def test_an_overlapping_shift_is_refused_with_the_other_shifts_times():
    data = {"contacts": [{"id": "c1", "name": "张三"}],
            "shifts": [{"unit": "center", "contact_id": "c1", "starts": "2026-12-06T08:00", "ends": "2026-12-06T20:00"},
                       {"unit": "center", "contact_id": "c1", "starts": "2026-12-06T12:00", "ends": "2026-12-06T22:00"}]}
    error = NS(path="shifts[1]", reason="overlaps shifts[0] (center 值班员, 2026-12-06T08:00 – 2026-12-06T20:00)")
    assert view.roster_error_text(error, data, DEPS, "zh") == \
        "班次（城运中心 张三 12-06 12:00）：与同一单位同一岗位的班次（12-06 08:00 至 12-06 20:00）时间重叠"


def test_words_for_channels_and_units():
    assert [view.channel_name(c, "zh") for c in view.CHANNELS] == ["企业微信", "钉钉", "飞书", "邮件", "短信"]
    assert view.unit_name("", DEPS, "en") == "Operations center" and view.unit_name("dispatch", DEPS, "zh") == "调度席"
