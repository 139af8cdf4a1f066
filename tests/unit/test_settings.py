"""Specification of the settings (ioc.settings): one declaration per environment variable,
defaults when unset or empty, typed parsing and validation."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from ioc.settings import REPO_ROOT, SETTINGS, Settings

# Environment variable -> Settings field.
FIELD_OF = {
    "REDIS_URL": "redis_url", "MQTT_URL": "mqtt_url", "IOC_SECRET_KEY": "secret_key", "IOC_LANG": "lang",
    "IOC_TILE_URL": "tile_url", "IOC_DATA_DIR": "data_dir", "PORT": "port", "IOC_HOST": "host",
    "IOC_WEB_WORKERS": "web_workers", "IOC_GEODATA_DIR": "geodata_dir", "IOC_REDIS_SHARDS": "redis_shards",
    "IOC_ROLLUP_RETENTION_HOURS": "rollup_retention_hours",
    "IOC_ROLLUP_HOURLY_RETENTION_DAYS": "rollup_hourly_retention_days", "IOC_INGEST_GROUP": "ingest_group",
    "IOC_INGEST_CLIENT_ID": "ingest_client_id", "IOC_INGEST_BATCH_MAX": "ingest_batch_max",
    "IOC_INGEST_FLUSH_MS": "ingest_flush_ms", "IOC_COUNTER_FLUSH_MS": "counter_flush_ms", "IOC_INGEST_MAX_PAYLOAD": "ingest_max_payload",
    "IOC_INGEST_MAX_FUTURE_S": "ingest_max_future_s", "IOC_INGEST_MAX_AGE_S": "ingest_max_age_s",
    "IOC_INGEST_BUFFER_MAX": "ingest_buffer_max", "IOC_DEVICE_MAX_RATE": "device_max_rate", "IOC_DEADLETTER_MAXLEN": "deadletter_maxlen",
    "IOC_CASES_CLIENT_ID": "cases_client_id", "IOC_CASES_SCAN_S": "cases_scan_s", "IOC_PLANS_FILE": "plans_file",
    "IOC_EVENTS_SCAN_S": "events_scan_s",
    "IOC_ALARM_ESCALATE_CRITICAL_MIN": "alarm_escalate_critical_min", "IOC_ALARM_ESCALATE_MAJOR_MIN": "alarm_escalate_major_min",
    "IOC_ALARM_ESCALATE_MINOR_MIN": "alarm_escalate_minor_min", "IOC_POPUP_SECONDS": "popup_seconds",
    "IOC_EMBEDDED_REDIS": "embedded_redis", "IOC_EMBEDDED_MQTT": "embedded_mqtt", "IOC_LOG_LEVEL": "log_level",
    "IOC_SESSION_HOURS": "session_hours", "IOC_KIOSK_DAYS": "kiosk_days", "IOC_COOKIE_SECURE": "cookie_secure",
    "IOC_PROXY_HOPS": "proxy_hops", "IOC_KIOSK_FRAME_ANCESTORS": "kiosk_frame_ancestors", "IOC_LOGIN_MAX_FAILURES": "login_max_failures",
    "IOC_LOGIN_LOCK_MINUTES": "login_lock_minutes", "IOC_PUBLIC_METRICS": "public_metrics",
    "IOC_DEMO_PASSWORD": "demo_password", "IOC_WORK_DAYS": "work_days", "IOC_WORK_HOURS": "work_hours",
    "IOC_HOLIDAYS": "holidays", "IOC_MAKEUP_WORKDAYS": "makeup_workdays", "IOC_DUPLICATE_RADIUS_M": "duplicate_radius_m",
    "IOC_DUPLICATE_WINDOW_HOURS": "duplicate_window_hours",
    # notification channels (piece roster)
    "IOC_NOTIFY_WECOM_URL": "notify_wecom_url", "IOC_NOTIFY_DINGTALK_URL": "notify_dingtalk_url",
    "IOC_NOTIFY_FEISHU_URL": "notify_feishu_url", "IOC_NOTIFY_SMTP_URL": "notify_smtp_url",
    "IOC_NOTIFY_SMTP_FROM": "notify_smtp_from", "IOC_NOTIFY_SMS_URL": "notify_sms_url", "IOC_NOTIFY_SMS_BODY": "notify_sms_body",
    "IOC_NOTIFY_SMS_HEADERS": "notify_sms_headers", "IOC_NOTIFY_SMS_SIGN": "notify_sms_sign", "IOC_NOTIFY_TIMEOUT_S": "notify_timeout_s",
    # notifications (piece notify)
    "IOC_NOTIFY_RETRY_MAX": "notify_retry_max", "IOC_NOTIFY_BACKOFF_S": "notify_backoff_s", "IOC_NOTIFY_RECEIVERS": "notify_receivers",
    # issue 16, media
    "IOC_MEDIA_DIR": "media_dir", "IOC_MEDIA_URL": "media_url", "IOC_MEDIA_MAX_MB": "media_max_mb",
    "IOC_MEDIA_MAX_PIXELS": "media_max_pixels", "IOC_MEDIA_PER_CASE": "media_per_case", "IOC_PUBLIC_URL": "public_url",
    "IOC_CHECKIN_RADIUS_M": "checkin_radius_m",
    "DATABASE_URL": "database_url", "IOC_EMBEDDED_POSTGRES": "embedded_postgres", "IOC_DB_POOL_SIZE": "db_pool_size",
    "IOC_RECORD_BATCH": "record_batch", "IOC_RECORD_FLUSH_MS": "record_flush_ms",
    "IOC_RECORD_STREAM_MAXLEN": "record_stream_maxlen", "IOC_RECORD_READINGS_MAXLEN": "record_readings_maxlen",
    "IOC_RECORD_RAW_HOURS": "record_raw_hours", "IOC_RECORD_TRIM": "record_trim", "IOC_RECORD_ROLLUP_DAYS": "record_rollup_days",
    "IOC_RECORD_HOURLY_DAYS": "record_hourly_days", "IOC_RECORD_EVENTS_DAYS": "record_events_days",
    "IOC_CASE_HOT_DAYS": "case_hot_days",
}


def as_declared(value) -> str:
    """A field value written the way SETTINGS declares defaults (flags as 1/0)."""
    return str(int(value)) if isinstance(value, bool) else str(value)
INT_FIELDS = {f.name for f in fields(Settings) if f.type in ("int", int)}


@pytest.fixture
def defaults() -> Settings:
    return Settings.from_env(env={})


def test_every_setting_is_declared_once_and_maps_to_a_field():
    envs = [s.env for s in SETTINGS]
    assert len(envs) == len(set(envs))
    assert set(envs) == set(FIELD_OF)
    assert set(FIELD_OF.values()) == {f.name for f in fields(Settings)} - {"extra"}


def test_every_setting_has_help_text():
    assert all(s.help.strip() for s in SETTINGS)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_an_unset_variable_takes_its_declared_default(setting, defaults):
    value = getattr(defaults, FIELD_OF[setting.env])
    if setting.env == "IOC_DATA_DIR":
        assert value == Path(setting.default).resolve()
    elif setting.env == "IOC_GEODATA_DIR":
        assert value == REPO_ROOT / "geodata"
    else:
        assert as_declared(value) == setting.default


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_the_declared_default_agrees_with_the_dataclass_default(setting):
    name = FIELD_OF[setting.env]
    if name in ("data_dir", "geodata_dir"):
        return  # resolved by from_env
    assert as_declared(getattr(Settings(), name)) == setting.default


def test_from_env_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("IOC_HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "9000")
    settings = Settings.from_env()
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_an_empty_value_means_the_default(setting):
    empty = Settings.from_env(env={setting.env: ""})
    unset = Settings.from_env(env={})
    name = FIELD_OF[setting.env]
    assert getattr(empty, name) == getattr(unset, name)


@pytest.mark.parametrize("env, name, expected", [
    ({"REDIS_URL": "redis://db:6379/2"}, "redis_url", "redis://db:6379/2"),
    ({"MQTT_URL": "mqtts://u:p@broker:8883"}, "mqtt_url", "mqtts://u:p@broker:8883"),
    ({"PORT": "9000"}, "port", 9000),
    ({"IOC_WEB_WORKERS": "8"}, "web_workers", 8),
    ({"IOC_REDIS_SHARDS": "16"}, "redis_shards", 16),
    ({"IOC_INGEST_MAX_PAYLOAD": "65536"}, "ingest_max_payload", 65536),
    ({"IOC_INGEST_MAX_AGE_S": " 3600 "}, "ingest_max_age_s", 3600),
    ({"IOC_INGEST_GROUP": "ioc"}, "ingest_group", "ioc"),
    ({"IOC_GEODATA_DIR": "/srv/geo"}, "geodata_dir", Path("/srv/geo")),
    ({"IOC_DATA_DIR": "/srv/ioc"}, "data_dir", Path("/srv/ioc")),
    ({"IOC_LOG_LEVEL": "debug"}, "log_level", "DEBUG"),
    ({"IOC_EMBEDDED_REDIS": "valkey"}, "embedded_redis", "valkey"),
    ({"IOC_PLANS_FILE": "/etc/ioc/plans.json"}, "plans_file", "/etc/ioc/plans.json"),
    ({"IOC_EVENTS_SCAN_S": "5"}, "events_scan_s", 5),
])
def test_a_set_variable_is_parsed_into_its_field(env, name, expected):
    assert getattr(Settings.from_env(env=env), name) == expected


def test_integer_settings_are_ints(defaults):
    assert INT_FIELDS  # the dataclass declares them
    assert all(type(getattr(defaults, name)) is int for name in INT_FIELDS)


def test_a_relative_data_dir_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env(env={"IOC_DATA_DIR": "state"}).data_dir == tmp_path / "state"


@pytest.mark.parametrize("value, lang", [("zh", "zh"), ("en", "en"), ("EN", "en"), ("Zh", "zh")])
def test_ioc_lang_accepts_zh_and_en_in_any_case(value, lang):
    assert Settings.from_env(env={"IOC_LANG": value}).lang == lang


@pytest.mark.parametrize("value", ["fr", "zh-CN", "english", " en"])
def test_ioc_lang_refuses_other_languages(value):
    with pytest.raises(ValueError, match="IOC_LANG"):
        Settings.from_env(env={"IOC_LANG": value})


@pytest.mark.parametrize("value", ["0", "1025", "-1"])
def test_redis_shards_out_of_range_are_refused(value):
    with pytest.raises(ValueError, match="IOC_REDIS_SHARDS"):
        Settings.from_env(env={"IOC_REDIS_SHARDS": value})


@pytest.mark.parametrize("value", ["1", "1024"])
def test_redis_shards_at_the_bounds_are_accepted(value):
    assert Settings.from_env(env={"IOC_REDIS_SHARDS": value}).redis_shards == int(value)


@pytest.mark.parametrize("env", [{"PORT": "http"}, {"IOC_INGEST_BATCH_MAX": "2k"}, {"IOC_REDIS_SHARDS": "eight"}])
def test_a_non_integer_for_an_integer_setting_is_refused(env):
    with pytest.raises(ValueError):
        Settings.from_env(env=env)


def test_an_unset_secret_key_stays_empty_for_the_web_process_to_share_one_through_redis():
    assert Settings.from_env(env={}).secret_key == ""


@pytest.mark.parametrize("value, expected", [("1", True), ("0", False), ("true", True), ("off", False)])
def test_a_flag_setting_reads_one_or_zero(value, expected):
    assert Settings.from_env(env={"IOC_COOKIE_SECURE": value}).cookie_secure is expected


@pytest.mark.parametrize("env", [{"IOC_COOKIE_SECURE": "maybe"}, {"IOC_SESSION_HOURS": "0"}, {"IOC_LOGIN_MAX_FAILURES": "-1"}])
def test_a_malformed_security_setting_is_refused(env):
    with pytest.raises(ValueError):
        Settings.from_env(env=env)


def test_a_set_secret_key_is_used_as_is():
    assert Settings.from_env(env={"IOC_SECRET_KEY": "s3cret"}).secret_key == "s3cret"


def test_overrides_win_over_the_environment():
    settings = Settings.from_env(env={"PORT": "9000"}, port=9100, ingest_client_id="test")
    assert (settings.port, settings.ingest_client_id) == (9100, "test")


def test_replace_returns_a_changed_copy(defaults):
    changed = defaults.replace(port=1234)
    assert changed.port == 1234
    assert defaults.port == 8050
    assert changed.secret_key == defaults.secret_key


def test_settings_are_immutable(defaults):
    with pytest.raises(AttributeError):
        defaults.port = 1  # type: ignore[misc]


def test_the_working_calendar_defaults_to_chinas_holidays():
    from datetime import date

    calendar = Settings.from_env(env={}).work_calendar()
    assert date(2026, 10, 1) in calendar.holidays and date(2026, 10, 10) in calendar.extra_workdays


def test_no_holidays_at_all_is_spelled_none():
    calendar = Settings.from_env(env={"IOC_HOLIDAYS": "none", "IOC_MAKEUP_WORKDAYS": "none"}).work_calendar()
    assert not calendar.holidays and not calendar.extra_workdays


@pytest.mark.parametrize("env", [{"IOC_WORK_HOURS": "8-12"}, {"IOC_WORK_DAYS": "0-5"}, {"IOC_HOLIDAYS": "2026-13-01"}])
def test_a_malformed_working_calendar_is_refused_at_start(env):
    with pytest.raises(ValueError):
        Settings.from_env(env=env)
