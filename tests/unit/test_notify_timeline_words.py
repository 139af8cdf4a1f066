"""Deliveries on a case's timeline and an event's log, in people's words."""

from __future__ import annotations

from ioc.domain.cases import CaseEvent
from ioc.domain.case_indicators import indicator_facts
from ioc.views.cases import notification_note, timeline_rows
from ioc.views.events import notification_rows, with_notifications

SENT = {"channel": "wecom", "recipient": "城管局值班群", "kind": "case.dispatched", "attempt": 1, "reason": ""}
FAILED = {"channel": "sms", "recipient": "值班员 王敏", "kind": "alarm.escalated", "attempt": 8, "reason": "rate limited"}


def test_a_delivery_reads_as_who_was_told_what_by_which_channel():
    assert notification_note(SENT, True) == "已通过企业微信通知城管局值班群（案件派遣）"
    assert notification_note(SENT, True, "en") == "Case dispatched: sent to 城管局值班群 by WeCom"


def test_a_failure_says_why_and_after_how_many_attempts():
    assert notification_note(FAILED, False) == "未能通过短信通知值班员 王敏（告警升级）：rate limited · 第 8 次尝试"


def test_the_timeline_shows_the_notifier_and_no_stage_change():
    rows = timeline_rows([CaseEvent("ZJG-1", "notify", "notifier", "system", "", "", 1_000, "", SENT)], "zh")
    assert (rows[0]["actor"], rows[0]["action"], rows[0]["transition"]) == ("通知服务", "通知", "")
    assert rows[0]["note"] == "已通过企业微信通知城管局值班群（案件派遣）"


def test_the_indicators_ignore_deliveries():
    from ioc.domain.cases import Case

    case = Case(id="ZJG-1", class_code="10101", lat=31.8, lon=120.5, district="yangshe", source="hotline", created_at=0)
    plain = [CaseEvent("ZJG-1", "report", "hotline", "system", "", "reported", 0)]
    noisy = plain + [CaseEvent("ZJG-1", "notify", "notifier", "system", "", "", 5, "", SENT),
                     CaseEvent("ZJG-1", "notify_failed", "notifier", "system", "", "", 6, "", FAILED)]
    assert indicator_facts(case, noisy) == indicator_facts(case, plain)


def test_an_events_log_carries_its_deliveries_by_time():
    log = [{"n": "0", "time": "2025-12-02 10:00:00", "clock": "10:00", "who": "调度员", "login": "d", "what": "启动", "kind": "started"}]
    results = [{"id": "1-0", "at": 1_764_641_100_000, "result": "sent", "channel": "dingtalk", "name": "水务局值班群",
                "kind": "event.task", "attempt": 1, "reason": ""},
               {"id": "2-0", "at": 1_764_641_100_000, "result": "retry", "channel": "dingtalk", "name": "水务局值班群",
                "kind": "event.task", "attempt": 1, "reason": "too fast"}]
    rows = with_notifications(log, notification_rows(results))
    assert [r["kind"] for r in rows] == ["notify-sent", "started"]
    assert rows[0]["what"] == "已通过钉钉通知水务局值班群（联动任务）" and rows[0]["who"] == "通知服务"
