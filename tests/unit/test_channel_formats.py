"""Channel clients without a network (ioc.notify.channels): the providers' signatures against
vectors computed by their documented formulas (openssl), the request bodies, Retry-After,
the SMS template and the scrubbing of secrets."""

from __future__ import annotations

import json
import urllib.parse

from ioc.domain.roster import Contact, Group
from ioc.notify.channels import (DeliveryError, DingTalkRobot, FeishuBot, Message, SmsGateway, SmtpMail, WeComRobot,
                                 dingtalk_sign, feishu_sign, retry_after, scrub)

# printf '1700000000000\nthis is secret' | openssl dgst -sha256 -hmac 'this is secret' -binary | base64
DINGTALK_VECTOR = ("this is secret", 1700000000000, "sSFWELbV2YwjdDQhWZwTcWlX5BWUx5J6TPpsZmuPii0=")
DINGTALK_VECTOR_2 = ("SEC0123456789abcdef", 1700000000000, "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk=")
# printf '' | openssl dgst -sha256 -hmac $'1599360473\ndemo-secret' -binary | base64
FEISHU_VECTOR = ("demo-secret", 1599360473, "3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s=")

MESSAGE = Message("新案件已派遣", "**城管局**：占道经营\n地址：杨舍镇人民中路", "/cases/C20261206001", ())


def test_the_dingtalk_sign_is_the_url_encoded_base64_hmac_of_timestamp_and_secret():
    for secret, ts, b64 in (DINGTALK_VECTOR, DINGTALK_VECTOR_2):
        assert dingtalk_sign(secret, ts) == urllib.parse.quote_plus(b64)


def test_the_dingtalk_sign_escapes_plus_and_slash():
    assert "%2F" in dingtalk_sign(*DINGTALK_VECTOR_2[:2]) and "/" not in dingtalk_sign(*DINGTALK_VECTOR_2[:2])


def test_the_feishu_sign_is_the_base64_hmac_of_an_empty_message_keyed_by_timestamp_and_secret():
    secret, ts, b64 = FEISHU_VECTOR
    assert feishu_sign(secret, ts) == b64


def test_a_signed_dingtalk_url_carries_timestamp_and_sign():
    robot = DingTalkRobot("https://oapi.dingtalk.com", clock=lambda: 1700000000.0)
    url = robot.url(Group("g", "群", "", "dingtalk", "tok", DINGTALK_VECTOR[0]))
    assert url == f"https://oapi.dingtalk.com/robot/send?access_token=tok&timestamp=1700000000000&sign={dingtalk_sign(*DINGTALK_VECTOR[:2])}"


def test_an_unsigned_dingtalk_url_has_only_the_token():
    assert DingTalkRobot("http://x").url(Group("g", "群", "", "dingtalk", "tok")) == "http://x/robot/send?access_token=tok"


def test_dingtalk_markdown_mentions_phones_in_at_and_in_the_text():
    body = DingTalkRobot("http://x").payload(Group("g", "群", "", "dingtalk", "t", mentions=("13812345678",)), MESSAGE)
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "新案件已派遣"
    assert body["at"] == {"atMobiles": ["13812345678"], "isAtAll": False}
    assert "@13812345678" in body["markdown"]["text"]


def test_wecom_sends_markdown_without_mentions():
    body = WeComRobot("http://x").payload(Group("g", "群", "", "wecom", "k"), MESSAGE)
    assert body["msgtype"] == "markdown" and "### 新案件已派遣" in body["markdown"]["content"]


def test_wecom_sends_text_with_mentioned_mobiles_when_it_mentions():
    body = WeComRobot("http://x").payload(Group("g", "群", "", "wecom", "k", mentions=("13812345678",)), MESSAGE)
    assert body["msgtype"] == "text" and body["text"]["mentioned_mobile_list"] == ["13812345678"]
    assert "**" not in body["text"]["content"]


def test_wecom_text_is_cut_to_2048_bytes():
    long = Message("t", "长" * 2000, mentions=("13812345678",))
    body = WeComRobot("http://x").payload(Group("g", "群", "", "wecom", "k"), long)
    assert len(body["text"]["content"].encode()) <= 2048


def test_feishu_signs_in_the_body_with_seconds():
    bot = FeishuBot("http://x", clock=lambda: 1599360473.9)
    body = bot.payload(Group("g", "群", "", "feishu", "hook", FEISHU_VECTOR[0]), MESSAGE)
    assert body["timestamp"] == "1599360473" and body["sign"] == FEISHU_VECTOR[2]
    assert body["msg_type"] == "post" and body["content"]["post"]["zh_cn"]["title"] == "新案件已派遣"


def test_feishu_post_ends_with_the_link_when_absolute():
    bot = FeishuBot("http://x", public_url="https://ioc.zjg.gov.cn")
    rows = bot.payload(Group("g", "群", "", "feishu", "hook"), MESSAGE)["content"]["post"]["zh_cn"]["content"]
    assert rows[-1] == [{"tag": "a", "text": "查看 / Open", "href": "https://ioc.zjg.gov.cn/cases/C20261206001"}]


def test_the_sms_template_fills_phone_text_and_sign_inside_json_strings():
    sms = SmsGateway("http://x", body_template='{"to": ["{phone}"], "content": "{sign}{text}", "n": 1}', sign="【城运】")
    body = sms.payload("13812345678", Message("派遣", 'a "quoted" {text}'))
    assert body["to"] == ["13812345678"] and body["n"] == 1
    assert body["content"].startswith("【城运】派遣：a \"quoted\"")


def test_an_email_has_a_utf8_subject_and_body():
    mail = SmtpMail("smtp://localhost:25", "ioc@zjg.gov.cn").build(Contact("c", "王敏", email="w@zjg.gov.cn"), MESSAGE)
    assert mail["Subject"] == "新案件已派遣" and mail["To"] == "w@zjg.gov.cn"
    assert "城管局" in mail.get_content() and "**" not in mail.get_content()


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("7") == 7.0
    assert retry_after(None) is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_scrub_removes_a_secret_and_its_url_quoted_form():
    text = "failed for https://h/robot/send?access_token=a+b/c and a%2Bb%2Fc and a+b/c"
    assert "a+b/c" not in scrub(text, ["a+b/c"]) and "a%2Bb%2Fc" not in scrub(text, ["a+b/c"])


def test_a_delivery_error_says_whether_to_retry():
    error = DeliveryError(True, "wecom group x: rate limited", 60.0)
    assert (error.retryable, error.retry_after_s, str(error)) == (True, 60.0, "wecom group x: rate limited")


def test_the_json_of_a_payload_is_utf8_not_escaped():
    body = WeComRobot("http://x").payload(Group("g", "群", "", "wecom", "k"), MESSAGE)
    assert "城管局" in json.dumps(body, ensure_ascii=False)
