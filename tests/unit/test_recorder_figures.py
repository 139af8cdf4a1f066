"""The recorder's figures on /metrics and /status (pure)."""

from prometheus_client import generate_latest

from ioc.views.status import recorder_text
from ioc.web.metrics import recorder_families, recorder_lag, registry_for

NOW = 1_800_000_000_000
BEAT = {"role": "recorder", "active": True, "seen_ms": NOW - 1000, "lag": {"ioc:{core}:audit": 1.5, "ioc:{core}:record": 0}}
COUNTERS = {"recorder:rows:audit": 7, "recorder:rows:cases": 3, "recorder:lost:ioc:{core}:audit": 2,
            "recorder:errors:postgres": 1}


def test_metrics_export_lag_rows_lost_and_errors():
    text = generate_latest(registry_for(recorder_families(COUNTERS, {"r": BEAT}, NOW))).decode()
    assert 'ioc_recorder_lag_seconds{stream="ioc:{core}:audit"} 1.5' in text
    assert 'ioc_recorder_rows_total{table="audit"} 7.0' in text
    assert 'ioc_recorder_lost_total{stream="ioc:{core}:audit"} 2.0' in text
    assert 'ioc_recorder_errors_total{reason="postgres"} 1.0' in text


def test_a_stale_or_standby_recorder_reports_no_lag():
    assert recorder_lag({"r": {**BEAT, "seen_ms": NOW - 60_000}}, NOW) is None
    assert recorder_lag({"r": {**BEAT, "active": False}}, NOW) is None


def test_the_status_line_names_the_slowest_stream_rows_and_lost():
    assert recorder_text(recorder_lag({"r": BEAT}, NOW), COUNTERS, "zh") == "延迟 1.5 秒 · 已写入 10 行 · 丢失 2 条"
    assert recorder_text(None, COUNTERS, "en").startswith("The recorder is not running")
