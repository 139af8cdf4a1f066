"""Keys of an older single-server install are renamed to their `{core}` names at connection
time (ioc.adapters.redis_client.migrate_legacy_keys)."""

from __future__ import annotations

from ioc.adapters import redis_keys as keys
from ioc.adapters.redis_client import migrate_legacy_keys


def test_old_control_plane_and_case_keys_get_their_core_names(redis_client):
    redis_client.hset("ioc:users", "li", "{}")
    redis_client.hset("ioc:{cases}:data", "ZJG-1", "{}")
    redis_client.xadd("ioc:{cases}:timeline:ZJG-1", {"action": "report"})
    assert migrate_legacy_keys(redis_client) == 3
    assert sorted(k.decode() for k in redis_client.keys("ioc:*")) == sorted(
        [keys.USERS, keys.CASES_DATA, keys.case_timeline("ZJG-1")])


def test_nothing_is_renamed_twice(redis_client):
    redis_client.hset("ioc:audit", "x", "1")
    migrate_legacy_keys(redis_client)
    assert migrate_legacy_keys(redis_client) == 0
