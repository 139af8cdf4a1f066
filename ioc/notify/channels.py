"""Channel clients: send one Message to a roster Group or Contact over its provider's documented API.

- `wecom`    WeCom group robot (企业微信群机器人): POST `<IOC_NOTIFY_WECOM_URL>/cgi-bin/webhook/send?key=KEY`,
             `markdown` (or `text` with `mentioned_mobile_list` when the group @-mentions phones:
             WeCom's markdown cannot mention). Answer `{"errcode": 0}` ok; 45009 rate limit
             (20 messages/minute per robot: retryable); 93000 invalid key: permanent.
- `dingtalk` DingTalk custom robot: POST `<IOC_NOTIFY_DINGTALK_URL>/robot/send?access_token=T`, plus
             `&timestamp=<ms>&sign=<urlencode(base64(HMAC-SHA256(secret, "<ms>\\n<secret>")))>` when the
             group has a secret; `markdown` with `at.atMobiles`. 130101 / 410100 send too fast
             (retryable); 310000 (sign, keyword, IP whitelist), 300001 / 400101 (token): permanent.
- `feishu`   Feishu custom bot: POST `<IOC_NOTIFY_FEISHU_URL>/open-apis/bot/v2/hook/<id>`, `post` (rich text)
             with `timestamp` (seconds) and `sign = base64(HMAC-SHA256(key="<s>\\n<secret>", msg=b""))` in the
             body when signed. `{"code": 0}` ok; 11232 and 9499 "too many request" frequency (retryable);
             19021 sign / timestamp, 19022 IP, 19024 keyword, 19001 bad hook: permanent.
- `email`    SMTP (smtplib) to `IOC_NOTIFY_SMTP_URL` (`smtp://`, `smtps://`, `?starttls=1`), UTF-8 subject and
             body; 4xx answers retryable, 5xx permanent.
- `sms`      an HTTP gateway: POST `IOC_NOTIFY_SMS_URL` with the JSON `IOC_NOTIFY_SMS_BODY` template ({phone}
             {text} {sign}) and `IOC_NOTIFY_SMS_HEADERS`; 2xx ok, 429 / 5xx retryable (Retry-After), other 4xx permanent.

Everywhere: HTTP 429 / 5xx, timeouts (`IOC_NOTIFY_TIMEOUT_S`) and connection errors are retryable.
A failure raises DeliveryError(retryable, retry_after_s, reason); its reason never holds a robot
key, token, secret, password or SMS header (`scrub`), and logs name only the channel and the group.
Only the standard library is used (urllib.request, smtplib).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import logging
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Callable, Protocol

from ioc.domain.notifications import Message  # the one message the notifier renders (re-exported for callers)
from ioc.domain.roster import Contact, Group

log = logging.getLogger("ioc.notify.channels")

CHANNELS = ("wecom", "dingtalk", "feishu", "email", "sms")
WECOM_TEXT_MAX = 2048  # bytes of a WeCom text message
WECOM_MARKDOWN_MAX = 4096  # bytes of WeCom markdown
SMS_TEXT_MAX = 300  # characters of an SMS text (long messages are split by the operator; keep them short)


class DeliveryError(Exception):
    """A delivery failed. `retryable`: worth trying again later (rate limits, 5xx, timeouts,
    connection errors, SMTP 4xx); `retry_after_s`: the provider's hint when it gave one;
    `reason`: what happened, for logs and the timeline: never a key, token, secret or password."""

    def __init__(self, retryable: bool, reason: str, retry_after_s: float | None = None):
        super().__init__(reason)
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.reason = reason

    def __repr__(self) -> str:
        return f"DeliveryError(retryable={self.retryable}, retry_after_s={self.retry_after_s}, reason={self.reason!r})"


def scrub(text: str, secrets) -> str:
    """`text` with every secret (and its URL-quoted form) replaced by ***."""
    for secret in sorted((s for s in secrets if s and len(s) >= 3), key=len, reverse=True):
        for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}:
            text = text.replace(form, "***")
    return text


# --- signatures (documented formulas) -------------------------------------------------------------

def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk: urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))), UTF-8."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")) (timestamp in seconds)."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode("utf-8"), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


# --- HTTP ---------------------------------------------------------------------------------------

def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class HttpAnswer:
    status: int
    headers: dict
    body: bytes

    def json(self) -> dict | None:
        try:
            value = json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        return value if isinstance(value, dict) else None


def post_json(url: str, payload, timeout: float, headers: dict | None = None, secrets=(), what: str = "") -> HttpAnswer:
    """POST JSON; returns the answer for any HTTP status. Connection errors and timeouts raise a
    retryable DeliveryError (scrubbed of `secrets`)."""
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as e:
        try:
            body = e.read()
        except OSError:
            body = b""
        return HttpAnswer(e.code, dict(e.headers.items()) if e.headers else {}, body)
    except (TimeoutError, socket.timeout):
        raise DeliveryError(True, f"{what}: no answer within {timeout:g} s") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise DeliveryError(True, f"{what}: no answer within {timeout:g} s") from None
        raise DeliveryError(True, scrub(f"{what}: connection failed ({reason})", secrets)) from None
    except (ConnectionError, OSError) as e:
        raise DeliveryError(True, scrub(f"{what}: connection failed ({e})", secrets)) from None


def http_status_error(answer: HttpAnswer, what: str) -> DeliveryError | None:
    """The DeliveryError of a non-2xx HTTP status (None for 2xx): 429 and 5xx retryable."""
    if 200 <= answer.status < 300:
        return None
    hint = retry_after(answer.headers.get("Retry-After") or answer.headers.get("retry-after"))
    if answer.status == 429:
        return DeliveryError(True, f"{what}: HTTP 429 rate limited", hint)
    if answer.status >= 500:
        return DeliveryError(True, f"{what}: HTTP {answer.status} server error", hint)
    return DeliveryError(False, f"{what}: HTTP {answer.status} refused")


def _truncate_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


def _absolute(link: str, public_url: str) -> str:
    if link and link.startswith("/") and public_url:
        return public_url.rstrip("/") + link
    return link


# --- the clients ----------------------------------------------------------------------------------

BUSY = (True, "provider busy", None)  # errcode -1: 系统繁忙
TOKEN = (False, "invalid or disabled robot access_token", None)
# errcode -> (retryable, meaning, retry after s); any other non-zero errcode is a permanent refusal
WECOM_ANSWERS = {45009: (True, "rate limited: 20 messages a minute per robot", 60.0), -1: BUSY,
                 93000: (False, "invalid robot key", None)}
DINGTALK_ANSWERS = {130101: (True, "sending too fast: 20 messages a minute per robot", 60.0),
                    410100: (True, "sending too fast: 20 messages a minute per robot", 60.0), -1: BUSY,
                    310000: (False, "refused by the robot's security settings (check the secret, keywords, IP whitelist)", None),
                    300001: TOKEN, 400101: TOKEN, 400102: TOKEN}


def _robot_send(url: str, payload: dict, timeout: float, what: str, secrets: tuple, answers: dict) -> None:
    """POST to a robot answering `{"errcode": 0, "errmsg": "ok"}` (WeCom, DingTalk); raise its error answer."""
    answer = post_json(url, payload, timeout, secrets=secrets, what=what)
    _raise_http(answer, what)
    body = answer.json()
    if body is None:
        raise DeliveryError(True, f"{what}: unreadable answer (HTTP {answer.status})")
    code = body.get("errcode")
    if code == 0:
        return
    msg = scrub(str(body.get("errmsg", ""))[:200], secrets)
    retryable, meaning, hint = answers.get(code, (False, "refused", None))
    raise DeliveryError(retryable, f"{what}: {meaning} (errcode {code}: {msg})", hint)


class Channel(Protocol):
    name: str

    def send(self, target, message: Message) -> None: ...


@dataclass
class WeComRobot:
    """WeCom group robot: markdown, or text with mentioned_mobile_list when there are mentions."""

    base_url: str
    timeout: float = 5.0
    public_url: str = ""
    name: str = "wecom"

    def payload(self, group: Group, message: Message) -> dict:
        mentions = list(dict.fromkeys([*group.mentions, *message.mentions]))
        link = _absolute(message.link, self.public_url)
        if mentions:
            text = Message(message.title, message.text, link).plain()
            return {"msgtype": "text", "text": {"content": _truncate_bytes(text, WECOM_TEXT_MAX), "mentioned_mobile_list": mentions}}
        lines = [f"### {message.title}" if message.title else "", message.text]
        if link:
            lines.append(f"[查看 / Open]({link})")
        return {"msgtype": "markdown", "markdown": {"content": _truncate_bytes("\n".join(x for x in lines if x), WECOM_MARKDOWN_MAX)}}

    def url(self, group: Group) -> str:
        return f"{self.base_url}/cgi-bin/webhook/send?key={urllib.parse.quote(group.key, safe='')}"

    def send(self, group: Group, message: Message) -> None:
        _robot_send(self.url(group), self.payload(group, message), self.timeout, f"wecom group {group.name}", (group.key,),
                    WECOM_ANSWERS)


@dataclass
class DingTalkRobot:
    """DingTalk custom robot: markdown with at.atMobiles, signed when the group has a secret."""

    base_url: str
    timeout: float = 5.0
    public_url: str = ""
    clock: Callable[[], float] = time.time
    name: str = "dingtalk"

    def payload(self, group: Group, message: Message) -> dict:
        mentions = list(dict.fromkeys([*group.mentions, *message.mentions]))
        link = _absolute(message.link, self.public_url)
        lines = [f"### {message.title}" if message.title else "", message.text.replace("\n", "\n\n")]
        if link:
            lines.append(f"[查看 / Open]({link})")
        if mentions:
            lines.append(" ".join(f"@{m}" for m in mentions))  # DingTalk highlights an @ only when the text holds it
        return {"msgtype": "markdown",
                "markdown": {"title": message.title or message.text[:20], "text": "\n\n".join(x for x in lines if x)},
                "at": {"atMobiles": mentions, "isAtAll": False}}

    def url(self, group: Group) -> str:
        url = f"{self.base_url}/robot/send?access_token={urllib.parse.quote(group.key, safe='')}"
        if group.secret:
            ts = int(self.clock() * 1000)
            url += f"&timestamp={ts}&sign={dingtalk_sign(group.secret, ts)}"
        return url

    def send(self, group: Group, message: Message) -> None:
        _robot_send(self.url(group), self.payload(group, message), self.timeout, f"dingtalk group {group.name}",
                    (group.key, group.secret), DINGTALK_ANSWERS)


@dataclass
class FeishuBot:
    """Feishu custom bot: a `post` (rich text) message, signed in the body when the group has a secret."""

    base_url: str
    timeout: float = 5.0
    public_url: str = ""
    clock: Callable[[], float] = time.time
    name: str = "feishu"

    def payload(self, group: Group, message: Message) -> dict:
        link = _absolute(message.link, self.public_url)
        rows = [[{"tag": "text", "text": line}] for line in message.text.replace("**", "").split("\n") if line.strip()]
        if link:
            rows.append([{"tag": "a", "text": "查看 / Open", "href": link}])
        payload: dict = {"msg_type": "post", "content": {"post": {"zh_cn": {"title": message.title, "content": rows}}}}
        if group.secret:
            ts = int(self.clock())
            payload = {"timestamp": str(ts), "sign": feishu_sign(group.secret, ts), **payload}
        return payload

    def url(self, group: Group) -> str:
        return f"{self.base_url}/open-apis/bot/v2/hook/{urllib.parse.quote(group.key, safe='')}"

    def send(self, group: Group, message: Message) -> None:
        what = f"feishu group {group.name}"
        secrets = (group.key, group.secret)
        answer = post_json(self.url(group), self.payload(group, message), self.timeout, secrets=secrets, what=what)
        body = answer.json()
        code = body.get("code", body.get("StatusCode")) if body else None
        if code == 0 and 200 <= answer.status < 300:
            return
        if code is None:
            _raise_http(answer, what)
            raise DeliveryError(True, f"{what}: unreadable answer (HTTP {answer.status})")
        msg = scrub(str(body.get("msg", body.get("StatusMessage", "")))[:200], secrets)
        hint = retry_after(answer.headers.get("Retry-After")) if answer.headers else None
        if code == 11232 or (code == 9499 and "too many" in msg.lower()) or answer.status == 429:
            raise DeliveryError(True, f"{what}: rate limited (code {code}: {msg}; 100 a minute, 5 a second per bot)", hint or 1.0)
        if answer.status >= 500:
            raise DeliveryError(True, f"{what}: HTTP {answer.status} server error (code {code}: {msg})", hint)
        if code == 19021:
            raise DeliveryError(False, f"{what}: signature refused (code 19021: {msg}): check the secret and the clock")
        if code in (19022, 19024):
            raise DeliveryError(False, f"{what}: refused by the bot's security settings (code {code}: {msg})")
        if code == 19001:
            raise DeliveryError(False, f"{what}: invalid hook id (code 19001: {msg})")
        raise DeliveryError(False, f"{what}: refused (code {code}: {msg})")


def _raise_http(answer: HttpAnswer, what: str) -> None:
    problem = http_status_error(answer, what)
    if problem is not None:
        raise problem


@dataclass
class SmtpMail:
    """Email over SMTP: `smtp://[user:pass@]host[:port][?starttls=1]` or `smtps://…`."""

    url: str
    sender: str = "ioc@localhost"
    timeout: float = 5.0
    public_url: str = ""
    name: str = "email"
    _parsed: urllib.parse.SplitResult | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.url:
            self._parsed = urllib.parse.urlsplit(self.url)
            if self._parsed.scheme not in ("smtp", "smtps"):
                raise ValueError("IOC_NOTIFY_SMTP_URL must start with smtp:// or smtps://")

    def recipients(self, target) -> list[str]:
        if isinstance(target, Group):
            return target.addresses()
        return [target.email] if target.email else []

    def build(self, target, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.title or message.text.split("\n", 1)[0][:60]
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients(target))
        mail["Date"] = email.utils.formatdate(localtime=True)
        mail["Message-ID"] = email.utils.make_msgid(domain="ioc")
        body = message.text.replace("**", "")
        link = _absolute(message.link, self.public_url)
        if link:
            body += f"\n\n{link}"
        mail.set_content(body, charset="utf-8")
        return mail

    def _secrets(self) -> tuple[str, ...]:
        p = self._parsed
        return tuple(x for x in (p.password, urllib.parse.unquote(p.password or "")) if x) if p else ()

    def send(self, target, message: Message) -> None:
        what = f"email to {target.name}"
        if not self._parsed:
            raise DeliveryError(False, f"{what}: no mail server (IOC_NOTIFY_SMTP_URL is unset)")
        to = self.recipients(target)
        if not to:
            raise DeliveryError(False, f"{what}: no email address")
        p = self._parsed
        query = urllib.parse.parse_qs(p.query)
        starttls = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
        host = p.hostname or "localhost"
        port = p.port or (465 if p.scheme == "smtps" else 25)
        try:
            if p.scheme == "smtps":
                client = smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(host, port, timeout=self.timeout)
            try:
                if starttls:
                    client.starttls(context=ssl.create_default_context())
                if p.username:
                    client.login(urllib.parse.unquote(p.username), urllib.parse.unquote(p.password or ""))
                refused = client.send_message(self.build(target, message), from_addr=self.sender, to_addrs=to)
            finally:
                try:
                    client.quit()
                except (smtplib.SMTPException, OSError):
                    client.close()
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            retryable = all(400 <= c < 500 for c in codes)
            raise DeliveryError(retryable, f"{what}: every recipient refused (SMTP {', '.join(map(str, sorted(set(codes))))})") from None
        except smtplib.SMTPResponseException as e:
            text = scrub(_smtp_text(e.smtp_error), self._secrets())
            raise DeliveryError(400 <= e.smtp_code < 500, f"{what}: SMTP {e.smtp_code} {text}") from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as e:
            raise DeliveryError(True, scrub(f"{what}: mail server connection lost ({e})", self._secrets())) from None
        except (TimeoutError, socket.timeout):
            raise DeliveryError(True, f"{what}: mail server gave no answer within {self.timeout:g} s") from None
        except ssl.SSLError as e:
            raise DeliveryError(False, f"{what}: TLS failed ({e.reason or e})") from None
        except smtplib.SMTPException as e:
            raise DeliveryError(False, scrub(f"{what}: {e}", self._secrets())) from None
        except OSError as e:
            raise DeliveryError(True, scrub(f"{what}: mail server unreachable ({e})", self._secrets())) from None
        if refused:
            log.warning("email to %s: %d of %d recipients refused", target.name, len(refused), len(to))


def _smtp_text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value)[:200]


@dataclass
class SmsGateway:
    """SMS over an HTTP template: POST the JSON body template with {phone} {text} {sign} filled in."""

    url: str
    body_template: str = '{"phone": "{phone}", "sign": "{sign}", "text": "{text}"}'
    headers_json: str = "{}"
    sign: str = ""
    timeout: float = 5.0
    public_url: str = ""
    name: str = "sms"

    def text(self, message: Message) -> str:
        link = _absolute(message.link, self.public_url)
        body = f"{message.title}：{message.text}" if message.title else message.text
        body = " ".join(body.replace("**", "").split())
        if link and link.startswith("http"):
            body = f"{body} {link}"
        return body if len(body) <= SMS_TEXT_MAX else body[: SMS_TEXT_MAX - 1] + "…"

    def payload(self, phone: str, message: Message):
        values = {"{phone}": phone, "{text}": self.text(message), "{sign}": self.sign}

        def fill(node):
            if isinstance(node, str):
                for placeholder, value in values.items():
                    node = node.replace(placeholder, value)
                return node
            if isinstance(node, list):
                return [fill(x) for x in node]
            if isinstance(node, dict):
                return {k: fill(v) for k, v in node.items()}
            return node

        return fill(json.loads(self.body_template))

    def send(self, contact: Contact, message: Message) -> None:
        what = f"sms to {contact.name}"
        if not self.url:
            raise DeliveryError(False, f"{what}: no SMS gateway (IOC_NOTIFY_SMS_URL is unset)")
        if not contact.phone:
            raise DeliveryError(False, f"{what}: no phone number")
        headers = json.loads(self.headers_json or "{}")
        secrets = tuple(str(v) for v in headers.values())
        answer = post_json(self.url, self.payload(contact.phone, message), self.timeout, headers=headers, secrets=secrets, what=what)
        _raise_http(answer, what)


class Channels:
    """Every channel client, configured from the settings: `send(channel, target, message)`."""

    def __init__(self, clients: dict[str, Channel]):
        self.clients = clients

    @classmethod
    def from_settings(cls, settings) -> "Channels":
        timeout = float(settings.notify_timeout_s)
        public = getattr(settings, "public_url", "") or ""
        return cls({
            "wecom": WeComRobot(settings.notify_wecom_url, timeout, public),
            "dingtalk": DingTalkRobot(settings.notify_dingtalk_url, timeout, public),
            "feishu": FeishuBot(settings.notify_feishu_url, timeout, public),
            "email": SmtpMail(settings.notify_smtp_url, settings.notify_smtp_from, timeout, public),
            "sms": SmsGateway(settings.notify_sms_url, settings.notify_sms_body, settings.notify_sms_headers,
                              settings.notify_sms_sign, timeout, public),
        })

    def send(self, channel: str, target, message: Message) -> None:
        """Send `message` to a Group (over its channel) or a Contact (over `channel`, one of its
        channels); raises DeliveryError on failure."""
        if isinstance(target, Group) and channel != target.channel:
            raise DeliveryError(False, f"group {target.name} uses {target.channel}, not {channel}")
        client = self.clients.get(channel)
        if client is None:
            raise DeliveryError(False, f"unknown channel {channel!r}")
        client.send(target, message)


def send(target, message: Message, channels: Channels, channel: str | None = None) -> None:
    """Send to a Group over its own channel, or to a Contact over `channel` (default: its first)."""
    if channel is None:
        channel = target.channel if isinstance(target, Group) else (target.channels[0] if target.channels else "")
    channels.send(channel, target, message)


def recipient(target) -> str:
    """The recipient part of a delivery's dedupe key: `group:<id>` or `contact:<id>`."""
    return f"group:{target.id}" if isinstance(target, Group) else f"contact:{target.id}"
