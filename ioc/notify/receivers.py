"""Local provider receivers: a loopback stand-in for WeCom, DingTalk, Feishu, an SMS gateway and a mail server.

One threaded HTTP server answers at the providers' real paths with their real answers:
- `POST /cgi-bin/webhook/send?key=K`            WeCom group robot (errcode 0 / 93000 bad key / 45009 rate limit)
- `POST /robot/send?access_token=T[&timestamp&sign]`  DingTalk custom robot (0 / 300001 bad token /
                                                  310000 bad sign or timestamp / 130101 too fast)
- `POST /open-apis/bot/v2/hook/<id>`            Feishu custom bot (0 / 19001 bad hook / 19021 bad sign or
                                                  timestamp / 11232 frequency limited / 9499 bad request)
- `POST /sms/send`                              the SMS gateway of the default `IOC_NOTIFY_SMS_BODY`
                                                  (200 / 400 / 401 unknown X-Api-Key / 429 with Retry-After)
- `GET /_received?since=<ms>[&channel=…]`       what arrived: `{"now": ms, "received": [...]}`
plus an SMTP server (aiosmtpd) that accepts any login and records each message.

Keys: a robot key, token or hook id is known when registered (`register`, `keys=`), found by
`key_source` (e.g. the stored roster's groups) or, with `open_keys=True`, any key. DingTalk and
Feishu requests to a key with a secret must be signed, with a timestamp within an hour.
`limits=True` applies the providers' rate limits per key (WeCom and DingTalk 20 a minute;
Feishu 5 a second and 100 a minute; SMS 5 a minute per phone); the bench turns them off.
`inject(channel, key, mode)` makes a key (a phone for sms, an address for email) fail:
`rate_limit`, `server_error`, `bad_key`, `timeout` (HTTP); `temp_fail` (451), `reject` (550),
`timeout` (email).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import logging
import socket
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable

log = logging.getLogger("ioc.notify.receivers")

SIGN_WINDOW_MS = 3_600_000  # DingTalk and Feishu refuse timestamps more than an hour from now
LIMITS = {  # channel -> ((count, window seconds), ...) per key
    "wecom": ((20, 60.0),),
    "dingtalk": ((20, 60.0),),
    "feishu": ((5, 1.0), (100, 60.0)),
    "sms": ((5, 60.0),),
}
RECORD_MAX = 200_000
MODES = ("rate_limit", "server_error", "bad_key", "timeout", "temp_fail", "reject")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _free_port(host: str) -> int:
    if host in ("127.0.0.1", "localhost"):
        from ioc.adapters import embedded

        return embedded.free_port()  # (the tests give each worker its own block of ports)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class _Injection:
    mode: str
    times: int | None  # None: always
    delay_s: float = 0.0


@dataclass
class _State:
    limits: bool
    open_keys: bool
    key_source: Callable[[], Iterable[tuple[str, str, str]]] | None
    keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, key) -> secret
    injections: dict[tuple[str, str], _Injection] = field(default_factory=dict)
    windows: dict[tuple[str, str, float], deque] = field(default_factory=dict)
    records: deque = field(default_factory=lambda: deque(maxlen=RECORD_MAX))
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)
    source_checked: float = 0.0

    def secret_of(self, channel: str, key: str) -> str | None:
        """The key's secret ("" unsigned), or None when the key is unknown."""
        with self.lock:
            if (channel, key) in self.keys:
                return self.keys[(channel, key)]
        if self.key_source is not None and time.monotonic() - self.source_checked > 0.5:
            self.source_checked = time.monotonic()
            try:
                found = list(self.key_source())
            except Exception as e:  # the source is best effort (Redis may be away)
                log.warning("receivers: key source failed: %s", type(e).__name__)
                found = []
            with self.lock:
                for ch, k, secret in found:
                    self.keys[(ch, k)] = secret or ""
                if (channel, key) in self.keys:
                    return self.keys[(channel, key)]
        return "" if self.open_keys else None

    def injected(self, channel: str, key: str) -> _Injection | None:
        with self.lock:
            inj = self.injections.get((channel, key))
            if inj is None:
                return None
            if inj.times is not None:
                inj.times -= 1
                if inj.times <= 0:
                    del self.injections[(channel, key)]
            return inj

    def over_limit(self, channel: str, key: str) -> float | None:
        """Seconds until the key may send again when it is over a limit (and counts this one otherwise)."""
        if not self.limits or channel not in LIMITS:
            return None
        now = time.monotonic()
        with self.lock:
            waits = []
            for count, window in LIMITS[channel]:
                q = self.windows.setdefault((channel, key, window), deque())
                while q and q[0] <= now - window:
                    q.popleft()
                if len(q) >= count:
                    waits.append(q[0] + window - now)
            if waits:
                return max(waits)
            for count, window in LIMITS[channel]:
                self.windows[(channel, key, window)].append(now)
        return None

    def record(self, channel: str, target: str, accepted: bool, answer, body, text: str = "", signed: bool = False) -> None:
        with self.lock:
            self.records.append({"id": next(self.seq), "at": _now_ms(), "channel": channel, "target": target,
                                 "accepted": accepted, "answer": answer, "text": text, "signed": signed, "body": body})

    def since(self, since_ms: int, channel: str = "", limit: int = 10_000) -> list[dict]:
        with self.lock:
            out = [r for r in self.records if r["at"] >= since_ms and (not channel or r["channel"] == channel)]
        return out[:limit]


# --- the providers' answers -----------------------------------------------------------------------

WECOM_OK = {"errcode": 0, "errmsg": "ok"}
WECOM_BAD_KEY = {"errcode": 93000, "errmsg": "invalid webhook url, hint: [local receiver], more info at "
                                             "https://open.work.weixin.qq.com/devtool/query?e=93000"}
WECOM_LIMIT = {"errcode": 45009, "errmsg": "api freq out of limit, hint: [local receiver]"}
DINGTALK_OK = {"errcode": 0, "errmsg": "ok"}
DINGTALK_BAD_TOKEN = {"errcode": 300001, "errmsg": "token is not exist"}
DINGTALK_BAD_SIGN = {"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}
DINGTALK_BAD_TIME = {"errcode": 310000, "errmsg": "timestamp is invalid or out of range (an hour)"}
DINGTALK_LIMIT = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
FEISHU_OK = {"code": 0, "msg": "success", "data": {}}
FEISHU_BAD_HOOK = {"code": 19001, "msg": "param invalid: incoming webhook access token invalid", "data": {}}
FEISHU_BAD_SIGN = {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time", "data": {}}
FEISHU_LIMIT = {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]", "data": {}}
FEISHU_BAD_REQUEST = {"code": 9499, "msg": "Bad Request", "data": {}}


def _wecom_text(body: dict) -> str | None:
    kind = body.get("msgtype")
    if kind in ("text", "markdown") and isinstance(body.get(kind), dict):
        content = body[kind].get("content")
        return content if isinstance(content, str) and content else None
    return None


def _dingtalk_text(body: dict) -> str | None:
    kind = body.get("msgtype")
    part = body.get(kind) if isinstance(kind, str) else None
    if kind == "text" and isinstance(part, dict):
        return part.get("content") or None
    if kind == "markdown" and isinstance(part, dict) and part.get("title") and part.get("text"):
        return part["text"]
    return None


def _feishu_text(body: dict) -> str | None:
    kind, content = body.get("msg_type"), body.get("content")
    if kind == "text" and isinstance(content, dict):
        return content.get("text") or None
    if kind == "post" and isinstance(content, dict):
        try:
            post = next(iter(content["post"].values()))
            lines = [post.get("title", "")]
            lines += ["".join(el.get("text", "") for el in row) for row in post.get("content", [])]
            return "\n".join(x for x in lines if x) or None
        except (KeyError, StopIteration, AttributeError, TypeError):
            return None
    if kind == "interactive" and isinstance(body.get("card"), dict):
        return json.dumps(body["card"], ensure_ascii=False)
    return None


def _dingtalk_sign_ok(secret: str, timestamp: str, sign: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, sign)


def _feishu_sign_ok(secret: str, timestamp: str, sign: str) -> bool:
    expected = base64.b64encode(hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, sign)


class _Handler(BaseHTTPRequestHandler):
    server_version = "ioc-receivers"
    protocol_version = "HTTP/1.1"
    state: _State  # set on the subclass made per server

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass

    def _answer(self, status: int, payload, headers: dict | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            value = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        return value if isinstance(value, dict) else None

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/_received":
            self._answer(404, {"error": "not found"})
            return
        q = urllib.parse.parse_qs(url.query)
        try:
            since = int(q.get("since", ["0"])[0] or 0)
            limit = int(q.get("limit", ["10000"])[0])
        except ValueError:
            self._answer(400, {"error": "since and limit are integers (ms, count)"})
            return
        self._answer(200, {"now": _now_ms(), "received": self.state.since(since, q.get("channel", [""])[0], limit)})

    def do_POST(self):  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        body = self._body()
        if url.path == "/cgi-bin/webhook/send":
            self._wecom(query.get("key", [""])[0], body)
        elif url.path == "/robot/send":
            self._dingtalk(query, body)
        elif url.path.startswith("/open-apis/bot/v2/hook/"):
            self._feishu(urllib.parse.unquote(url.path.rsplit("/", 1)[1]), body)
        elif url.path.startswith("/sms"):
            self._sms(body)
        else:
            self._answer(404, {"error": "not found"})

    def _injected(self, channel: str, key: str, http_busy: dict, limited: dict, bad_key: dict) -> bool:
        """Answer an injected failure; True when it answered."""
        inj = self.state.injected(channel, key)
        if inj is None:
            return False
        if inj.mode == "timeout":
            time.sleep(inj.delay_s or 3.0)
            self.state.record(channel, key, False, "timeout", None)
            self._answer(504, http_busy)
        elif inj.mode == "server_error":
            self.state.record(channel, key, False, 500, None)
            self._answer(500, http_busy)
        elif inj.mode == "rate_limit":
            self.state.record(channel, key, False, limited, None)
            self._answer(429 if channel == "sms" else 200, limited, {"Retry-After": "2"} if channel == "sms" else None)
        else:
            self.state.record(channel, key, False, bad_key, None)
            self._answer(401 if channel == "sms" else 200, bad_key)
        return True

    def _wecom(self, key: str, body) -> None:
        if self._injected("wecom", key, {"errcode": -1, "errmsg": "system busy"}, WECOM_LIMIT, WECOM_BAD_KEY):
            return
        if self.state.secret_of("wecom", key) is None:
            return self._reply("wecom", key, WECOM_BAD_KEY, body)
        text = _wecom_text(body) if body else None
        if text is None:
            return self._reply("wecom", key, {"errcode": 40008, "errmsg": "invalid message type or empty content"}, body)
        if self.state.over_limit("wecom", key) is not None:
            return self._reply("wecom", key, WECOM_LIMIT, body)
        self._reply("wecom", key, WECOM_OK, body, text)

    def _dingtalk(self, query: dict, body) -> None:
        token = query.get("access_token", [""])[0]
        if self._injected("dingtalk", token, {"errcode": -1, "errmsg": "系统繁忙"}, DINGTALK_LIMIT, DINGTALK_BAD_TOKEN):
            return
        secret = self.state.secret_of("dingtalk", token)
        if secret is None:
            return self._reply("dingtalk", token, DINGTALK_BAD_TOKEN, body)
        timestamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
        if secret:
            if not timestamp.isdigit() or abs(int(timestamp) - _now_ms()) > SIGN_WINDOW_MS:
                return self._reply("dingtalk", token, DINGTALK_BAD_TIME, body)
            if not _dingtalk_sign_ok(secret, timestamp, sign):
                return self._reply("dingtalk", token, DINGTALK_BAD_SIGN, body)
        text = _dingtalk_text(body) if body else None
        if text is None:
            return self._reply("dingtalk", token, {"errcode": 40035, "errmsg": "缺少参数 json"}, body)
        if self.state.over_limit("dingtalk", token) is not None:
            return self._reply("dingtalk", token, DINGTALK_LIMIT, body)
        self._reply("dingtalk", token, DINGTALK_OK, body, text, signed=bool(secret))

    def _feishu(self, hook: str, body) -> None:
        if self._injected("feishu", hook, {"code": 500, "msg": "internal error"}, FEISHU_LIMIT, FEISHU_BAD_HOOK):
            return
        secret = self.state.secret_of("feishu", hook)
        if secret is None:
            return self._reply("feishu", hook, FEISHU_BAD_HOOK, body)
        if body is None:
            return self._reply("feishu", hook, FEISHU_BAD_REQUEST, body, status=400)
        if secret:
            timestamp, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
            if (not timestamp.isdigit() or abs(int(timestamp) * 1000 - _now_ms()) > SIGN_WINDOW_MS
                    or not _feishu_sign_ok(secret, timestamp, sign)):
                return self._reply("feishu", hook, FEISHU_BAD_SIGN, body)
        text = _feishu_text(body)
        if text is None:
            return self._reply("feishu", hook, {"code": 19002, "msg": "params error, msg_type need", "data": {}}, body, status=400)
        if self.state.over_limit("feishu", hook) is not None:
            return self._reply("feishu", hook, FEISHU_LIMIT, body)
        self._reply("feishu", hook, FEISHU_OK, body, text, signed=bool(secret))

    def _sms(self, body) -> None:
        phone = str(body.get("phone", "")) if body else ""
        if self._injected("sms", phone, {"code": "InternalError", "message": "gateway error"},
                          {"code": "Throttling", "message": "too many messages to this phone"},
                          {"code": "InvalidAccessKeyId", "message": "unknown API key"}):
            return
        api_key = self.headers.get("X-Api-Key", "")
        with self.state.lock:
            sms_keys = {k for (ch, k) in self.state.keys if ch == "sms"}
        if sms_keys and api_key not in sms_keys:
            return self._reply("sms", phone, {"code": "InvalidAccessKeyId", "message": "unknown API key"}, body, status=401)
        if not body or not phone or not body.get("text"):
            return self._reply("sms", phone, {"code": "InvalidParameter", "message": "phone and text are required"}, body, status=400)
        wait = self.state.over_limit("sms", phone)
        if wait is not None:
            answer = {"code": "Throttling", "message": "too many messages to this phone"}
            return self._reply("sms", phone, answer, body, status=429, headers={"Retry-After": str(max(1, round(wait)))})
        text = f"{body.get('sign', '')}{body['text']}"
        self._reply("sms", phone, {"code": "OK", "message": "sent"}, body, text)

    def _reply(self, channel: str, target: str, answer: dict, body, text: str = "", signed: bool = False,
               status: int = 200, headers: dict | None = None) -> None:
        accepted = answer.get("errcode", answer.get("code")) in (0, "OK")
        self.state.record(channel, target, accepted, answer, body, text, signed)
        self._answer(status, answer, headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):  # the client gave up (a timeout test): nothing to say
            return
        super().handle_error(request, client_address)


# --- SMTP -------------------------------------------------------------------------------------------

class _SmtpHandler:
    def __init__(self, state: _State):
        self.state = state

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        inj = self.state.injected("email", address)
        if inj is not None:
            if inj.mode == "timeout":
                await asyncio.sleep(inj.delay_s or 3.0)
            code = "550 5.1.1 Mailbox unavailable" if inj.mode in ("reject", "bad_key") else "451 4.3.0 Try again later"
            self.state.record("email", address, False, code, None)
            return code
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        part = message.get_body(preferencelist=("plain", "html"))
        text = part.get_content() if part is not None else ""
        body = {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "subject": str(message.get("Subject", "")),
                "text": text}
        self.state.record("email", ",".join(envelope.rcpt_tos), True, "250", body, f"{body['subject']}\n{text}")
        return "250 Message accepted for delivery"


def _accept_any_login(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=True)


# --- the handle ---------------------------------------------------------------------------------------

class Receivers:
    """Running receivers: `.urls` (IOC_NOTIFY_* values pointing at them), `register`, `inject`,
    `received`, `stop`."""

    def __init__(self, state: _State, http: _Server, smtp, host: str):
        self.state = state
        self._http = http
        self._smtp = smtp
        self.host = host
        self.port = http.server_address[1]
        self.smtp_port = smtp.port if smtp is not None else 0
        base = f"http://{host}:{self.port}"
        self.base_url = base
        self.urls = {
            "IOC_NOTIFY_WECOM_URL": base,
            "IOC_NOTIFY_DINGTALK_URL": base,
            "IOC_NOTIFY_FEISHU_URL": base,
            "IOC_NOTIFY_SMS_URL": f"{base}/sms/send",
        }
        if smtp is not None:
            self.urls["IOC_NOTIFY_SMTP_URL"] = f"smtp://{host}:{self.smtp_port}"
        self._thread = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.2}, name="ioc-receivers", daemon=True)
        self._thread.start()

    def register(self, channel: str, key: str, secret: str = "") -> None:
        """Make a robot key (wecom/dingtalk/feishu, with its signing secret) or an SMS API key known."""
        with self.state.lock:
            self.state.keys[(channel, key)] = secret or ""

    def inject(self, channel: str, key: str, mode: str, times: int | None = None, delay_s: float = 0.0) -> None:
        """Make requests to `key` (phone for sms, address for email) fail with `mode` (`times`
        requests, or always); `timeout` waits `delay_s` (default 3 s) before answering."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        with self.state.lock:
            self.state.injections[(channel, key)] = _Injection(mode, times, delay_s)

    def clear_injections(self) -> None:
        with self.state.lock:
            self.state.injections.clear()

    def received(self, since_ms: int = 0, channel: str = "") -> list[dict]:
        return self.state.since(since_ms, channel)

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        if self._smtp is not None:
            self._smtp.stop()

    def __enter__(self) -> "Receivers":
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def start_receivers(host: str = "127.0.0.1", port: int = 0, smtp_port: int | None = 0, limits: bool = True,
                    keys: Iterable[tuple[str, str, str]] = (), key_source: Callable[[], Iterable[tuple[str, str, str]]] | None = None,
                    open_keys: bool = False) -> Receivers:
    """Start the HTTP receivers (and the SMTP one unless `smtp_port` is None) on `host`; port 0
    picks a free port. `keys`: (channel, key, secret) known from the start."""
    state = _State(limits=limits, open_keys=open_keys, key_source=key_source)
    for channel, key, secret in keys:
        state.keys[(channel, key)] = secret or ""
    handler = type("Handler", (_Handler,), {"state": state})
    http = _Server((host, port or _free_port(host)), handler)
    smtp = None
    if smtp_port is not None:
        from aiosmtpd.controller import Controller

        smtp = Controller(_SmtpHandler(state), hostname=host, port=smtp_port or _free_port(host), enable_SMTPUTF8=True,
                          auth_require_tls=False, authenticator=_accept_any_login, ready_timeout=10)
        try:
            smtp.start()
        except Exception:
            http.server_close()
            raise
    return Receivers(state, http, smtp, host)


def roster_key_source(roster_store) -> Callable[[], list[tuple[str, str, str]]]:
    """Known keys from the stored roster's groups (for the demo and `python -m ioc receivers`)."""

    def keys() -> list[tuple[str, str, str]]:
        return [(g.channel, g.key, g.secret) for g in roster_store.get().groups if g.channel != "email"]

    return keys


def main(settings, host: str = "127.0.0.1", port: int = 0, smtp_port: int = 0, limits: bool = True) -> int:
    """`python -m ioc receivers`: run the receivers in the foreground, print the URLs to set."""
    key_source = None
    if settings.redis_url:
        from ioc.adapters.redis_client import connect_redis
        from ioc.adapters.roster_store import RosterStore

        key_source = roster_key_source(RosterStore(connect_redis(settings.redis_url)))
    receivers = start_receivers(host, port, smtp_port, limits=limits, key_source=key_source, open_keys=key_source is None)
    print("local provider receivers running; point the channels at them:", flush=True)
    for name, value in receivers.urls.items():
        print(f"{name}={value}", flush=True)
    print(f"what arrived: {receivers.base_url}/_received?since=0", flush=True)
    if key_source is None:
        print("(REDIS_URL unset: every robot key is accepted, unsigned)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        receivers.stop()
    return 0
