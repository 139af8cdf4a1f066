"""The alarm texts a person reads on the wall: board, ticker, pop-up, clear dialog, map tooltip,
refusals; devices by name (id secondary), readings in words, people by display name."""

from __future__ import annotations

import pytest

from ioc.adapters.alarm_store import AlarmNotFound
from ioc.domain.city_state import DeviceRow
from ioc.domain.alarm_handling import AlarmActionError, EscalationPolicy, check_clear
from ioc.views.bigscreen import alarm_board, alarm_words_for, alarms_geojson, escalation_text, ticker
from ioc.views.cases import timeline_rows

NOW = 1_795_600_000_000
POLICY = EscalationPolicy(critical=5, major=15, minor=None)
MANHOLE = DeviceRow("mh-yangshe-0040", "manhole", "杨舍 井盖 40", 120.55, 31.87, "yangshe", True)
LAMP = DeviceRow("sl-yangshe-0053", "streetlight", "路灯 53", 120.56, 31.88, "yangshe", True)


def manhole_alarm(**kw):
    return {"id": "mh-yangshe-0040|manhole_displaced", "device_id": MANHOLE.id, "kind": "manhole", "rule_id": "manhole_displaced",
            "severity": "critical", "district": "yangshe", "attribute": "displaced", "value": True, "threshold": True,
            "raised_at": NOW - 60_000, "name_zh": "井盖移位/丢失", "name_en": "Manhole cover displaced", "ack": None, **kw}


def lamp_alarm(**kw):
    return {"id": "sl-yangshe-0053|streetlight_fault", "device_id": LAMP.id, "kind": "streetlight", "rule_id": "streetlight_fault",
            "severity": "major", "district": "yangshe", "attribute": "status", "value": "defectiveLamp", "threshold": "ok",
            "raised_at": NOW - 120_000, "name_zh": "路灯故障", "name_en": "Street light fault", "ack": None, **kw}


@pytest.fixture
def board(city):
    def make(alarms, lang="zh", people=None, now=NOW):
        return {r["id"]: r for r in alarm_board(alarms, [MANHOLE, LAMP], city, now, POLICY, lang, people=people)}
    return make


def test_the_board_names_the_device_and_keeps_its_id_secondary(board):
    row = board([manhole_alarm()])[manhole_alarm()["id"]]
    assert (row["device"], row["device_id"]) == ("杨舍 井盖 40", "mh-yangshe-0040")


@pytest.mark.parametrize("lang,manhole,lamp", [("zh", "井盖移位", "灯具故障"), ("en", "cover displaced", "defective lamp")])
def test_the_board_reads_values_as_words(board, lang, manhole, lamp):
    rows = board([manhole_alarm(), lamp_alarm()], lang)
    assert rows[manhole_alarm()["id"]]["reading"] == manhole and rows[lamp_alarm()["id"]]["reading"] == lamp


def test_the_board_names_who_acknowledged_by_display_name(board):
    acked = manhole_alarm(ack={"by": "op1", "role": "operator", "at_ms": NOW})
    row = board([acked], people={"op1": "王值班"})[acked["id"]]
    assert (row["acked_by"], row["acked_login"]) == ("王值班", "op1")


def test_an_acknowledger_without_a_display_name_keeps_the_login(board):
    acked = manhole_alarm(ack={"by": "op1", "role": "operator", "at_ms": NOW})
    assert board([acked], people={})[acked["id"]]["acked_by"] == "op1"


def test_an_alarm_just_escalated_does_not_say_overdue_zero_minutes(board):
    just = manhole_alarm(raised_at=NOW - 5 * 60_000 - 10_000)  # escalated 10 s ago
    row = board([just])[just["id"]]
    assert row["escalated"] and row["overdue_minutes"] == 0
    assert "0 分钟" not in row["escalation"] and row["escalation"] == "已升级 · 超时不足1分钟"


def test_an_escalated_alarm_says_how_long_it_is_overdue():
    assert escalation_text(7, "zh") == "已升级 · 超时 7 分钟"
    assert escalation_text(0, "en") == "Escalated · overdue < 1 min"


def event(e, alarm, **times):
    return {"event": e, **alarm, **times}


def test_the_ticker_names_the_device_as_the_board_does(city, board):
    rows = ticker([event("raised", lamp_alarm())], city, "zh", devices=[LAMP])
    assert (rows[0]["device"], rows[0]["device_id"], rows[0]["reading"]) == ("路灯 53", LAMP.id, "灯具故障")
    assert rows[0]["device"] == board([lamp_alarm()])[lamp_alarm()["id"]]["device"]


def test_the_ticker_is_newest_first_by_each_events_own_time(city):
    # stream order (newest written first): an ack written last, a clear of an old sample, a raise
    events = [event("acknowledged", manhole_alarm(raised_at=NOW - 600_000), acknowledged_at=NOW - 10_000),
              event("cleared", lamp_alarm(raised_at=NOW - 900_000), cleared_at=NOW - 300_000),
              event("raised", lamp_alarm(raised_at=NOW - 60_000))]
    rows = ticker(events, city, "zh", devices=[MANHOLE, LAMP])
    assert [r["event"] for r in rows] == ["acknowledged", "raised", "cleared"]
    assert rows == sorted(rows, key=lambda r: r["time"], reverse=True)


def test_an_acknowledgement_shows_when_it_was_acknowledged_not_raised(city):
    ack = event("acknowledged", manhole_alarm(raised_at=NOW - 600_000), acknowledged_at=NOW)
    raised = event("raised", manhole_alarm(raised_at=NOW))
    assert ticker([ack], city)[0]["time"] == ticker([raised], city)[0]["time"]


@pytest.mark.parametrize("lang,expected", [
    ("zh", "杨舍镇 · 井盖移位/丢失 · 杨舍 井盖 40（mh-yangshe-0040） · 井盖移位"),
    ("en", "Yangshe · Manhole cover displaced · 杨舍 井盖 40 (mh-yangshe-0040) · cover displaced"),
])
def test_the_popup_and_clear_dialog_words(city, lang, expected):
    district = city.district("yangshe").name(lang)
    words = alarm_words_for(manhole_alarm(), {MANHOLE.id: MANHOLE.name}, city, lang)
    assert words.text() == expected.replace("杨舍镇", district).replace("Yangshe", district, 1)


def test_the_popup_and_clear_dialog_components_show_the_device_id_secondary(city):
    from callbacks.bigscreen import alarm_text

    parts = alarm_text(alarm_words_for(lamp_alarm(), {LAMP.id: LAMP.name}, city, "zh"))
    assert "路灯 53" in parts and parts[-1] == " · 灯具故障"
    assert any(getattr(p, "className", "") == "dev-id" and p.children == LAMP.id for p in parts)


def test_the_map_tooltip_reads_the_alarm_in_words(city):
    tip = alarms_geojson([lamp_alarm()], [LAMP], "en")["features"][0]["properties"]["tooltip"]
    assert "路灯 53" in tip and "defective lamp" in tip and "defectiveLamp" not in tip


def test_the_case_timeline_names_actors_by_display_name():
    from ioc.domain.cases import CaseEvent

    e = CaseEvent("ZJG-1", "accept", "disp1", "dispatcher", "reported", "accepted", NOW, "", {})
    row = timeline_rows([e], "zh", people={"disp1": "李调度"})[0]
    assert (row["actor"], row["actor_login"]) == ("李调度", "disp1")


@pytest.mark.parametrize("actor, role, lang, words", [
    ("camera", "system", "zh", ("视频发现", "系统")),
    ("sensor", "system", "en", ("Sensor", "System")),
    ("dept:water_affairs", "handler", "zh", ("市水务局业务系统", "处置部门")),
    ("token:模拟值班台", "dispatcher", "zh", ("模拟值班台", "调度员")),
])
def test_the_case_timeline_names_systems_and_departments_in_words(actor, role, lang, words):
    from ioc.domain.cases import CaseEvent
    from ioc.domain.departments import FUNCTIONAL

    e = CaseEvent("ZJG-1", "report", actor, role, "", "reported", NOW, "", {})
    row = timeline_rows([e], lang, {d.id: d for d in FUNCTIONAL})[0]
    assert (row["actor"], row["role"]) == words and row["actor_login"] == actor


@pytest.mark.parametrize("lang,words", [("zh", "手动消警须填写消警说明。"), ("en", "Clearing an alarm by hand needs a note saying why.")])
def test_a_clear_without_a_note_is_refused_in_the_pages_language(lang, words):
    from callbacks.bigscreen import message

    with pytest.raises(AlarmActionError) as refused:
        check_clear({"dispatcher"}, "  ")
    assert message(refused.value, lang) == words


def test_a_missing_alarm_is_said_in_the_pages_language():
    from callbacks.bigscreen import message

    assert message(AlarmNotFound("no active alarm 'x'"), "zh") == "该告警已不存在（已消除或从未产生）。"


def test_a_too_long_note_says_its_length():
    from callbacks.bigscreen import message

    with pytest.raises(AlarmActionError) as refused:
        check_clear({"leader"}, "x" * 501)
    assert message(refused.value, "zh") == "消警说明共 501 字，最多 500 字。"


class CountingUsers:
    """A user store stand-in that counts its reads (the lookup must not read per row)."""

    def __init__(self, users):
        self.users, self.reads = users, 0

    def list(self):
        self.reads += 1
        return self.users


def test_display_names_are_read_once_per_period_not_per_row():
    from ioc.domain.accounts import User
    from ioc.web.people import DisplayNames

    now = [0.0]
    users = CountingUsers([User("op1", ("operator",), "", display_name="王值班"), User("op2", ("operator",), "")])
    names = DisplayNames(users, ttl_s=30, clock=lambda: now[0])
    assert names.get() == {"op1": "王值班"} and names.label("op2") == "op2"
    for _ in range(100):
        names.label("op1")
    assert users.reads == 1
    now[0] = 31.0
    names.get()
    assert users.reads == 2


def test_the_map_tooltip_leaves_the_district_to_the_map(city):
    tip = alarms_geojson([manhole_alarm()], [MANHOLE], "zh")["features"][0]["properties"]["tooltip"]
    assert tip == "井盖移位/丢失 · 杨舍 井盖 40（mh-yangshe-0040） · 井盖移位" and "yangshe" not in tip.replace("mh-yangshe", "")
