"""Building the Redis client from REDIS_URL, with the timeouts every process shares."""

from __future__ import annotations

import redis


def connect_redis(url: str) -> redis.Redis:
    """A client for `url` (redis:// or rediss://). Connections are made lazily and re-made
    after a server restart; commands fail fast (5 s) instead of hanging while it is down."""
    return redis.Redis.from_url(
        url,
        socket_timeout=5,
        socket_connect_timeout=3,
        health_check_interval=15,
        retry_on_timeout=False,
    )


def as_text(value) -> str:
    """A Redis reply (bytes) or a value as text."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# What "Redis is unreachable right now" looks like to redis-py (LOADING after a restart included);
# every caller that degrades gracefully catches exactly these.
REDIS_UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)
