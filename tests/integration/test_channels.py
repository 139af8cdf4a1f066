"""The real channel clients (ioc.notify.channels) against the local provider receivers
(ioc.notify.receivers): deliveries, the providers' error answers (rate limit, bad key, bad sign,
stale timestamp), 5xx, timeouts, refused connections, SMTP 4xx/5xx, and no secret in any error
or log line."""

from __future__ import annotations

import json
import logging
import time
import urllib.request

import pytest

from ioc.domain.roster import Contact, Group
from ioc.notify.channels import Channels, DeliveryError, DingTalkRobot, FeishuBot, Message
from ioc.notify.receivers import start_receivers
from ioc.settings import Settings

WECOM_KEY = "wk-0b2c5e1f-7d3a"
DING_TOKEN = "dt9f8e7d6c5b4a"
DING_SECRET = "SEC8d7a1c2b3e4f5a6b7c8d9e0f"
FEISHU_HOOK = "fh-1a2b3c4d"
FEISHU_SECRET = "fs-secret-77x"
SMS_API_KEY = "sms-api-key-123456"
SMTP_PASSWORD = "pa55-w0rd-xyz"
SECRETS = (WECOM_KEY, DING_TOKEN, DING_SECRET, FEISHU_HOOK, FEISHU_SECRET, SMS_API_KEY, SMTP_PASSWORD)

WECOM = Group("um-wecom", "城管局值班群", "urban_management", "wecom", WECOM_KEY, mentions=("13812345678",))
DING = Group("center-ding", "城运中心群", "", "dingtalk", DING_TOKEN, DING_SECRET, ("13812345678",))
FEISHU = Group("water-feishu", "水务局群", "water_affairs", "feishu", FEISHU_HOOK, FEISHU_SECRET)
MAIL = Group("dispatch-mail", "派遣席邮箱", "dispatch", "email", "desk@zjg.gov.cn, lead@zjg.gov.cn")
PERSON = Contact("wang", "王敏", "13812345678", "wangmin@zjg.gov.cn", "", "值班主任", ("sms", "email"))
MESSAGE = Message("新案件已派遣", "**城管局**：占道经营\n地址：杨舍镇人民中路 88 号", "/cases/C20261206001", ())


def make_receivers(limits: bool):
    return start_receivers(limits=limits, keys=[("wecom", WECOM_KEY, ""), ("dingtalk", DING_TOKEN, DING_SECRET),
                                                ("feishu", FEISHU_HOOK, FEISHU_SECRET), ("sms", SMS_API_KEY, "")])


@pytest.fixture
def receivers():
    handle = make_receivers(limits=False)
    yield handle
    handle.stop()


@pytest.fixture
def limited():
    handle = make_receivers(limits=True)
    yield handle
    handle.stop()


def channels_for(handle, timeout_s: int = 2, **changes) -> Channels:
    env = dict(handle.urls)
    env["IOC_NOTIFY_SMTP_URL"] = env["IOC_NOTIFY_SMTP_URL"].replace("smtp://", f"smtp://ioc:{SMTP_PASSWORD}@")
    env["IOC_NOTIFY_SMS_HEADERS"] = json.dumps({"X-Api-Key": SMS_API_KEY})
    env["IOC_NOTIFY_TIMEOUT_S"] = str(timeout_s)
    env.update(changes)
    return Channels.from_settings(Settings.from_env(env=env))


def failure(channels: Channels, channel: str, target, message: Message = MESSAGE) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        channels.send(channel, target, message)
    return info.value


# --- deliveries ----------------------------------------------------------------------------------

def test_a_wecom_message_arrives_with_the_mentions(receivers):
    channels_for(receivers).send("wecom", WECOM, MESSAGE)
    [got] = receivers.received(channel="wecom")
    assert got["accepted"] and got["target"] == WECOM_KEY
    assert got["body"]["text"]["mentioned_mobile_list"] == ["13812345678"] and "占道经营" in got["text"]


def test_a_signed_dingtalk_message_arrives(receivers):
    channels_for(receivers).send("dingtalk", DING, MESSAGE)
    [got] = receivers.received(channel="dingtalk")
    assert got["accepted"] and got["signed"] and got["body"]["at"]["atMobiles"] == ["13812345678"]


def test_a_signed_feishu_message_arrives(receivers):
    channels_for(receivers).send("feishu", FEISHU, MESSAGE)
    [got] = receivers.received(channel="feishu")
    assert got["accepted"] and got["signed"] and got["text"].startswith("新案件已派遣")


def test_an_sms_arrives_with_the_signature(receivers):
    channels_for(receivers).send("sms", PERSON, MESSAGE)
    [got] = receivers.received(channel="sms")
    assert got["accepted"] and got["target"] == "13812345678" and got["text"].startswith("【张家港城运中心】新案件已派遣")


def test_an_email_to_a_group_reaches_every_address_with_a_utf8_subject(receivers):
    channels_for(receivers).send("email", MAIL, MESSAGE)
    [got] = receivers.received(channel="email")
    assert got["body"]["to"] == ["desk@zjg.gov.cn", "lead@zjg.gov.cn"] and got["body"]["subject"] == "新案件已派遣"
    assert "杨舍镇人民中路" in got["body"]["text"]


def test_an_email_to_a_contact_goes_to_their_address(receivers):
    channels_for(receivers).send("email", PERSON, MESSAGE)
    assert receivers.received(channel="email")[0]["body"]["to"] == ["wangmin@zjg.gov.cn"]


def test_received_since_returns_only_what_came_later_over_http(receivers):
    channels = channels_for(receivers)
    channels.send("wecom", WECOM, MESSAGE)
    time.sleep(0.01)
    middle = int(time.time() * 1000)
    channels.send("feishu", FEISHU, MESSAGE)
    with urllib.request.urlopen(f"{receivers.base_url}/_received?since={middle}", timeout=5) as response:
        answer = json.load(response)
    assert [r["channel"] for r in answer["received"]] == ["feishu"] and answer["now"] >= middle


# --- the providers' error answers ----------------------------------------------------------------

def test_an_unknown_wecom_key_is_a_permanent_failure(receivers):
    error = failure(channels_for(receivers), "wecom", Group("x", "群", "", "wecom", "not-a-key"))
    assert not error.retryable and "93000" in error.reason


def test_an_unknown_dingtalk_token_is_a_permanent_failure(receivers):
    error = failure(channels_for(receivers), "dingtalk", Group("x", "群", "", "dingtalk", "nope"))
    assert not error.retryable and "300001" in error.reason


def test_an_unknown_feishu_hook_is_a_permanent_failure(receivers):
    error = failure(channels_for(receivers), "feishu", Group("x", "群", "", "feishu", "nope"))
    assert not error.retryable and "19001" in error.reason


def test_a_wrong_dingtalk_secret_is_a_permanent_sign_failure(receivers):
    error = failure(channels_for(receivers), "dingtalk", Group("x", "群", "", "dingtalk", DING_TOKEN, "SECwrong"))
    assert not error.retryable and "310000" in error.reason


def test_an_unsigned_request_to_a_signed_dingtalk_robot_is_refused(receivers):
    error = failure(channels_for(receivers), "dingtalk", Group("x", "群", "", "dingtalk", DING_TOKEN))
    assert not error.retryable and "310000" in error.reason


def test_a_dingtalk_timestamp_two_hours_off_is_refused(receivers):
    robot = DingTalkRobot(receivers.urls["IOC_NOTIFY_DINGTALK_URL"], clock=lambda: time.time() - 7200)
    with pytest.raises(DeliveryError) as info:
        robot.send(DING, MESSAGE)
    assert not info.value.retryable and "310000" in info.value.reason


def test_a_wrong_feishu_secret_is_a_permanent_sign_failure(receivers):
    error = failure(channels_for(receivers), "feishu", Group("x", "群", "", "feishu", FEISHU_HOOK, "wrong"))
    assert not error.retryable and "19021" in error.reason


def test_a_feishu_timestamp_two_hours_off_is_refused(receivers):
    bot = FeishuBot(receivers.urls["IOC_NOTIFY_FEISHU_URL"], clock=lambda: time.time() + 7200)
    with pytest.raises(DeliveryError) as info:
        bot.send(FEISHU, MESSAGE)
    assert not info.value.retryable and "19021" in info.value.reason


def test_the_21st_wecom_message_in_a_minute_is_rate_limited_and_retryable(limited):
    channels = channels_for(limited)
    for _ in range(20):
        channels.send("wecom", WECOM, MESSAGE)
    error = failure(channels, "wecom", WECOM)
    assert error.retryable and "45009" in error.reason and error.retry_after_s


def test_the_21st_dingtalk_message_in_a_minute_is_too_fast_and_retryable(limited):
    channels = channels_for(limited)
    for _ in range(20):
        channels.send("dingtalk", DING, MESSAGE)
    error = failure(channels, "dingtalk", DING)
    assert error.retryable and "130101" in error.reason


def test_the_6th_feishu_message_in_a_second_is_frequency_limited_and_retryable(limited):
    channels = channels_for(limited)
    for _ in range(5):
        channels.send("feishu", FEISHU, MESSAGE)
    error = failure(channels, "feishu", FEISHU)
    assert error.retryable and "11232" in error.reason


def test_sms_over_the_gateway_limit_is_retryable_after_its_retry_after(limited):
    channels = channels_for(limited)
    for _ in range(5):
        channels.send("sms", PERSON, MESSAGE)
    error = failure(channels, "sms", PERSON)
    assert error.retryable and "429" in error.reason and 1 <= error.retry_after_s <= 60


def test_an_unknown_sms_api_key_is_a_permanent_failure(receivers):
    channels = channels_for(receivers, IOC_NOTIFY_SMS_HEADERS=json.dumps({"X-Api-Key": "wrong"}))
    error = failure(channels, "sms", PERSON)
    assert not error.retryable and "401" in error.reason


def test_rate_limits_are_off_for_the_bench(receivers):
    channels = channels_for(receivers)
    for _ in range(25):
        channels.send("wecom", WECOM, MESSAGE)
    assert len(receivers.received(channel="wecom")) == 25


@pytest.mark.parametrize("channel, target, key", [("wecom", WECOM, WECOM_KEY), ("dingtalk", DING, DING_TOKEN),
                                                  ("feishu", FEISHU, FEISHU_HOOK), ("sms", PERSON, "13812345678")])
def test_a_server_error_is_retryable(receivers, channel, target, key):
    receivers.inject(channel, key, "server_error")
    error = failure(channels_for(receivers), channel, target)
    assert error.retryable and "500" in error.reason


@pytest.mark.parametrize("channel, target, key, code", [("wecom", WECOM, WECOM_KEY, "45009"), ("dingtalk", DING, DING_TOKEN, "130101"),
                                                        ("feishu", FEISHU, FEISHU_HOOK, "11232"), ("sms", PERSON, "13812345678", "429")])
def test_an_injected_rate_limit_answers_like_the_provider(receivers, channel, target, key, code):
    receivers.inject(channel, key, "rate_limit", times=1)
    channels = channels_for(receivers)
    error = failure(channels, channel, target)
    assert error.retryable and code in error.reason
    channels.send(channel, target, MESSAGE)  # once only


@pytest.mark.parametrize("channel, target, key", [("wecom", WECOM, WECOM_KEY), ("feishu", FEISHU, FEISHU_HOOK),
                                                  ("sms", PERSON, "13812345678")])
def test_no_answer_within_the_timeout_is_retryable(receivers, channel, target, key):
    receivers.inject(channel, key, "timeout", delay_s=1.5)
    started = time.monotonic()
    error = failure(channels_for(receivers, timeout_s=1), channel, target)
    assert error.retryable and "no answer within 1 s" in error.reason
    assert time.monotonic() - started < 1.5


def test_a_refused_connection_is_retryable(receivers):
    channels = channels_for(receivers)
    receivers.stop()
    error = failure(channels, "wecom", WECOM)
    assert error.retryable and "connection failed" in error.reason
    receivers.stop = lambda: None  # stopped already


# --- SMTP answers ------------------------------------------------------------------------------------

def test_an_smtp_4xx_is_retryable(receivers):
    receivers.inject("email", "wangmin@zjg.gov.cn", "temp_fail")
    error = failure(channels_for(receivers), "email", PERSON)
    assert error.retryable and "451" in error.reason


def test_an_smtp_5xx_is_permanent(receivers):
    receivers.inject("email", "wangmin@zjg.gov.cn", "reject")
    error = failure(channels_for(receivers), "email", PERSON)
    assert not error.retryable and "550" in error.reason


def test_one_refused_address_of_a_group_does_not_stop_the_others(receivers):
    receivers.inject("email", "lead@zjg.gov.cn", "reject")
    channels_for(receivers).send("email", MAIL, MESSAGE)
    assert [r["body"]["to"] for r in receivers.received(channel="email") if r["accepted"]] == [["desk@zjg.gov.cn"]]


def test_an_unreachable_mail_server_is_retryable(receivers):
    channels = channels_for(receivers, IOC_NOTIFY_SMTP_URL="smtp://127.0.0.1:1")
    error = failure(channels, "email", PERSON)
    assert error.retryable


def test_no_mail_server_configured_is_permanent(receivers):
    channels = channels_for(receivers)
    channels.clients["email"] = type(channels.clients["email"])("", "ioc@localhost")
    assert not failure(channels, "email", PERSON).retryable


# --- secrets -----------------------------------------------------------------------------------------

def test_no_key_secret_or_password_is_in_an_error_or_a_log_line(receivers, caplog):
    caplog.set_level(logging.DEBUG)
    channels = channels_for(receivers, timeout_s=1)
    errors = []
    receivers.inject("wecom", WECOM_KEY, "bad_key")
    receivers.inject("email", "wangmin@zjg.gov.cn", "reject")
    receivers.inject("feishu", FEISHU_HOOK, "timeout", delay_s=1.5)
    attempts = [("wecom", WECOM), ("dingtalk", Group("x", "群", "", "dingtalk", DING_TOKEN, "SECwrong")),
                ("feishu", FEISHU), ("email", PERSON),
                ("sms", PERSON)]
    receivers.inject("sms", "13812345678", "server_error")
    for channel, target in attempts:
        errors.append(failure(channels, channel, target))
    receivers.stop()
    receivers.stop = lambda: None
    errors.append(failure(channels, "dingtalk", DING))
    text = " ".join(f"{e} {e!r}" for e in errors) + caplog.text
    for secret in SECRETS:
        assert secret not in text, secret


def test_keys_from_a_key_source_are_known_with_their_secrets():
    handle = start_receivers(smtp_port=None, key_source=lambda: [("dingtalk", "from-roster", "SECfromroster")])
    try:
        channels = channels_for_http(handle)
        channels.send("dingtalk", Group("g", "群", "", "dingtalk", "from-roster", "SECfromroster"), MESSAGE)
        error = failure(channels, "dingtalk", Group("g", "群", "", "dingtalk", "from-roster", "SECother"))
        assert "310000" in error.reason
    finally:
        handle.stop()


def test_open_keys_accept_any_robot_key():
    handle = start_receivers(smtp_port=None, open_keys=True)
    try:
        channels_for_http(handle).send("wecom", Group("g", "群", "", "wecom", "whatever"), MESSAGE)
        assert handle.received()[0]["accepted"]
    finally:
        handle.stop()


def channels_for_http(handle) -> Channels:
    return Channels.from_settings(Settings.from_env(env=dict(handle.urls)))
