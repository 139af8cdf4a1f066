"""Specification of the per-device rate limit of an ingest worker (ioc.ingest.rate_limit): at most
`max_per_second` messages per device per one-second window of receive time; the first excess
message of a window is a sample to dead-letter, the rest are only counted."""

from __future__ import annotations

import pytest

from ioc.ingest import rate_limit
from ioc.ingest.rate_limit import DeviceRateLimit

SECOND = 1_746_000_000_000  # the first ms of a whole second


def admit_many(limit: DeviceRateLimit, device: str, n: int, received_ms: int = SECOND) -> list:
    return [limit.admit(device, received_ms) for _ in range(n)]


def test_messages_within_the_limit_are_admitted():
    assert admit_many(DeviceRateLimit(5), "n-1", 5) == [True] * 5


def test_the_first_excess_message_is_a_sample_and_the_rest_are_refused():
    assert admit_many(DeviceRateLimit(3), "n-1", 7) == [True, True, True, "sample", False, False, False]


def test_a_limit_of_one_admits_one_message_per_second():
    assert admit_many(DeviceRateLimit(1), "n-1", 3) == [True, "sample", False]


def test_the_window_is_the_whole_second_of_the_receive_time():
    limit = DeviceRateLimit(2)
    assert [limit.admit("n-1", SECOND + ms) for ms in (0, 500, 999)] == [True, True, "sample"]


def test_a_new_second_starts_a_new_allowance_with_its_own_sample():
    limit = DeviceRateLimit(2)
    admit_many(limit, "n-1", 5, SECOND)
    assert admit_many(limit, "n-1", 4, SECOND + 1000) == [True, True, "sample", False]


def test_devices_are_limited_independently():
    limit = DeviceRateLimit(2)
    admit_many(limit, "n-1", 10)
    assert admit_many(limit, "n-2", 2) == [True, True]


def test_the_detail_names_the_device_the_limit_and_the_setting():
    detail = DeviceRateLimit(50).detail("n-1")
    assert "'n-1'" in detail and "50" in detail and "IOC_DEVICE_MAX_RATE" in detail


@pytest.fixture
def forget_after_three(monkeypatch):
    monkeypatch.setattr(rate_limit, "_FORGET_AFTER", 3)


def test_devices_of_past_seconds_are_forgotten_once_many_are_tracked(forget_after_three):
    limit = DeviceRateLimit(1)
    for device in ("a", "b", "c"):
        limit.admit(device, SECOND)
    for device in ("d", "e"):
        limit.admit(device, SECOND + 1000)
    assert limit.tracked() <= 3


def test_forgetting_never_resets_the_count_of_the_current_second(forget_after_three):
    limit = DeviceRateLimit(1)
    limit.admit("old", SECOND)
    limit.admit("flood", SECOND + 1000)
    limit.admit("other", SECOND + 1000)
    limit.admit("new", SECOND + 1000)  # the fourth device: the windows of the past second are dropped
    assert limit.admit("flood", SECOND + 1000) == "sample"
