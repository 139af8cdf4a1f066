"""Notification intents as outbox fields, and the texts people receive."""

from __future__ import annotations

import pytest

from ioc.domain.notifications import (Intent, IntentError, delivery_key, intent_fields, intent_from_fields, render,
                                      render_group)
from ioc.notify.worker import backoff_s, latency_bucket

CASE = Intent("case.dispatched", "case:ZJG-20261202-000007", "4", 1_764_648_000_000, "info", ("urban_management",), "yangshe",
              {"case_id": "ZJG-20261202-000007", "class_zh": "井盖缺失", "class_en": "Missing manhole cover",
               "district_zh": "杨舍镇", "district_en": "Yangshe", "address": "人民路 18 号", "department_zh": "市城市管理局",
               "department_en": "City Management Bureau", "deadline": 1_764_655_200_000, "link": "/case/ZJG-20261202-000007"})


def test_an_intent_survives_the_outbox_fields_and_bytes():
    fields = {k.encode(): v.encode() for k, v in intent_fields(CASE).items()}
    assert intent_from_fields(fields) == CASE


@pytest.mark.parametrize("fields", [{}, {"kind": "nope", "subject": "case:1"}, {"kind": "test", "subject": "s", "facts": "[1]"},
                                    {"kind": "test", "subject": "s", "at": "soon"}])
def test_an_unreadable_outbox_entry_is_an_intent_error(fields):
    with pytest.raises(IntentError):
        intent_from_fields(fields)


def test_the_dedupe_key_names_subject_version_kind_channel_and_recipient():
    assert delivery_key("case:1", "4", "case.dispatched", "wecom", "group:um") == "case:1|4|case.dispatched|wecom|group:um"


def test_a_dispatch_reads_in_chinese_with_class_place_department_and_deadline():
    m = render(CASE)
    assert m.title == "【案件派遣】井盖缺失"
    assert "地址：人民路 18 号" in m.text and "处置部门：市城市管理局" in m.text and "处置时限：12-02 14:00" in m.text
    assert m.link == "/case/ZJG-20261202-000007"


def test_a_recipient_who_prefers_english_reads_english():
    m = render(CASE, "en")
    assert m.title == "[Case dispatched] Missing manhole cover" and "Department: City Management Bureau" in m.text


def test_a_critical_intent_is_marked_urgent():
    alarm = Intent("alarm.escalated", "alarm:WL-1|high", "1", 0, "critical", (), "", {"name_zh": "水位超警戒", "minutes": 12})
    m = render(alarm)
    assert m.title.startswith("【紧急】【告警升级】水位超警戒") and "未确认：12 分钟" in m.text


def test_an_instruction_carries_its_text_and_who_gave_it():
    i = Intent("event.instruction", "event:EV-1", "3:I1", 0, "warning", ("water_affairs",), "",
               {"title": "暴雨内涝", "text": "立即组织排涝", "by": "陈市长"})
    m = render(i)
    assert "批示：立即组织排涝" in m.text and "批示人：陈市长" in m.text


def test_a_burst_is_one_message_with_a_line_per_intent():
    other = Intent("case.rework", "case:ZJG-2", "9", 0, "info", ("urban_management",), "", {"class_zh": "占道经营"})
    m = render_group([CASE, other, CASE], recipient_name="城管局值班群")
    assert m.title == "3 条新通知（城管局值班群）：案件派遣、案件返工"
    assert m.text.splitlines()[1] == "2. 案件返工 ZJG-2（占道经营）"


def test_a_group_of_one_is_the_plain_message():
    assert render_group([CASE]) == render(CASE)


def test_backoff_doubles_with_jitter_and_honours_retry_after():
    class Mid:
        @staticmethod
        def uniform(a, b):
            return 1.0

    assert [backoff_s(n, 2, rng=Mid) for n in range(4)] == [2, 4, 8, 16]
    assert backoff_s(20, 2, rng=Mid) == 600
    assert backoff_s(0, 2, retry_after_s=60, rng=Mid) == 60


def test_latency_falls_in_the_first_bucket_that_holds_it():
    assert (latency_bucket(0.05), latency_bucket(1.5), latency_bucket(7200)) == ("0.1", "2", "inf")
