"""Building the Redis client from REDIS_URL, with the timeouts every process shares.

`REDIS_URL` may point at a single Redis server or at any node of a Redis Cluster:
`connect_redis` asks the server (`INFO cluster`) and returns a `redis.cluster.RedisCluster`
client when `cluster_enabled:1`, which discovers the other nodes and routes every command to
the node owning its key's slot. Nothing else needs to know: every key family is laid out so
that each script and each transaction touches keys of one hash tag (see `redis_keys`).
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from redis.cluster import ClusterPipeline, RedisCluster

log = logging.getLogger("ioc.redis")

_OPTIONS = dict(socket_timeout=5, socket_connect_timeout=3, health_check_interval=15, retry_on_timeout=False)


class IocClusterPipeline(ClusterPipeline):
    """redis-py's cluster pipeline refuses EVAL/EVALSHA outright; queue them like any other
    command instead (each is sent to the node owning the slot of its keys, which share one
    hash tag), so the ingest's one-script-per-shard pipeline works unchanged on a cluster."""

    def evalsha(self, sha, numkeys, *keys_and_args):
        return self.execute_command("EVALSHA", sha, numkeys, *keys_and_args)

    def eval(self, script, numkeys, *keys_and_args):  # noqa: A003 - the Redis command's name
        return self.execute_command("EVAL", script, numkeys, *keys_and_args)


class IocRedisCluster(RedisCluster):
    """RedisCluster whose non-transactional pipelines accept scripts (see IocClusterPipeline)."""

    def pipeline(self, transaction=None, shard_hint=None):
        pipe = super().pipeline(transaction, shard_hint)
        if not transaction:
            pipe.__class__ = IocClusterPipeline  # same state, two more methods
        return pipe


def is_cluster(client) -> bool:
    return isinstance(client, RedisCluster) or (isinstance(client, DeferredRedis) and isinstance(client.resolved, RedisCluster))


def _client_for(url: str):
    """Ask the server at `url` whether it is a cluster node; the matching client. Raises one of
    REDIS_UNAVAILABLE when it does not answer."""
    probe = redis.Redis.from_url(url, **_OPTIONS)
    try:
        enabled = int(probe.info("cluster").get("cluster_enabled", 0))
    finally:
        probe.close()
    if not enabled:
        client = redis.Redis.from_url(url, **_OPTIONS)
        migrate_legacy_keys(client)
        return client
    try:
        return IocRedisCluster.from_url(url, **_OPTIONS)
    except redis.exceptions.RedisClusterException as e:  # no node reachable right now, or slots uncovered
        raise redis.ConnectionError(f"Redis Cluster at {url} is not usable: {e}") from e


def migrate_legacy_keys(client) -> int:
    """Rename the control-plane keys of an older single-server install (`ioc:users`,
    `ioc:audit`, `ioc:{cases}:…`, …) to their `{core}` names; returns how many were renamed.
    One EXISTS round trip when there is nothing to do. RENAMENX keeps a key that already exists
    under the new name, so processes starting together cannot clobber each other."""
    from . import redis_keys as keys

    old_fixed = list(keys.LEGACY) + [keys.LEGACY_CASES_DATA]
    if not client.exists(*old_fixed):
        return 0
    renames = dict(keys.LEGACY)
    for old in client.scan_iter(match=keys.LEGACY_CASES_PATTERN, count=1000):
        old = as_text(old)
        renames[old] = keys.legacy_case_key_renamed(old)
    done = 0
    for old, new in renames.items():
        try:
            done += int(client.renamenx(old, new))
        except redis.ResponseError:  # gone meanwhile (another process renamed it)
            pass
    return done


def _loading_state(client) -> dict | None:
    """INFO persistence of a server that is still loading its data set (AOF/RDB), else None."""
    info = client.info("persistence")
    return info if int(info.get("loading", 0)) else None


def wait_until_loaded(url: str, report_every: float = 5.0, poll: float = 0.2) -> bool:
    """Block while the Redis server at `url` is loading its data set (after a restart with a big
    AOF it answers every data command with LOADING / BusyLoadingError for seconds to minutes):
    say so once (WARNING on the `ioc.redis` logger, which a CLI without logging set-up prints on
    stderr), report the progress every `report_every` seconds and return True once it is ready.
    Returns False at once when the server does not answer at all (down: the callers' usual
    outage handling applies), or when it went away while loading."""
    # no health check: its PING on a new connection is refused while loading, INFO is not
    probe = redis.Redis.from_url(url, **dict(_OPTIONS, health_check_interval=0))
    started = time.monotonic()
    last_report = None
    try:
        while True:
            try:
                state = _loading_state(probe)
            except redis.BusyLoadingError:  # a server that refuses even INFO while loading
                state = {}
            if state is None:
                if last_report is not None:
                    log.warning("Redis at %s finished loading its data after %.1f s; carrying on", _safe(url), time.monotonic() - started)
                return True
            now = time.monotonic()
            if last_report is None:
                log.warning("Redis at %s is loading its data (AOF) into memory … waiting until it is ready%s",
                            _safe(url), _progress(state))
                last_report = now
            elif now - last_report >= report_every:
                log.warning("Redis is still loading its data … waiting%s", _progress(state))
                last_report = now
            time.sleep(poll)
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        probe.close()


def _progress(state: dict) -> str:
    perc, eta = state.get("loading_loaded_perc"), state.get("loading_eta_seconds")
    if perc is None:
        return ""
    return f" ({float(perc):.0f} % loaded" + (f", about {int(eta)} s to go)" if eta is not None else ")")


def _safe(url: str) -> str:
    """`url` without a password, for the log."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url


def connect_redis(url: str):
    """A client for `url` (redis:// or rediss://; a single server or any Redis Cluster node).
    Connections are made lazily and re-made after a server restart; commands fail fast (5 s)
    instead of hanging while it is down. A server that is still loading its data (AOF) after a
    restart is waited for, saying so on the log (`wait_until_loaded`): every process and CLI
    command connects through here. When Redis does not answer yet, the kind of server is
    decided at the first command that reaches it (see DeferredRedis), so every process starts
    while Redis is down and works once it is up."""
    try:
        wait_until_loaded(url)
        return _client_for(url)
    except REDIS_UNAVAILABLE:
        return DeferredRedis(url)


class DeferredRedis:
    """Stands in for the client until Redis first answers: each use tries to reach it (raising
    one of REDIS_UNAVAILABLE while it is down, like a connected client would), then forwards
    everything to the real client, a plain or a cluster one."""

    def __init__(self, url: str):
        self.url = url
        self.resolved = None
        self._lock = threading.Lock()

    def _client(self):
        client = self.resolved
        if client is None:
            with self._lock:
                if self.resolved is None:
                    self.resolved = _client_for(self.url)
                client = self.resolved
        return client

    def __getattr__(self, name):
        return getattr(self._client(), name)

    def register_script(self, script):
        return _DeferredScript(self, script)

    def close(self) -> None:
        if self.resolved is not None:
            self.resolved.close()

    def __repr__(self) -> str:
        return f"DeferredRedis({self.url!r}, resolved={self.resolved!r})"


class _DeferredScript:
    """`register_script` of a DeferredRedis: registered on the real client at its first call."""

    def __init__(self, owner: DeferredRedis, source):
        self.owner, self.source, self._script = owner, source, None

    def __call__(self, keys=(), args=(), client=None):
        if self._script is None:
            self._script = self.owner._client().register_script(self.source)  # noqa: SLF001
        return self._script(keys=keys, args=args, client=client)


def as_text(value) -> str:
    """A Redis reply (bytes) or a value as text."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# What "Redis is unreachable right now" looks like to redis-py (LOADING after a restart included,
# and a cluster that lost a primary); every caller that degrades gracefully catches exactly these.
REDIS_UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, redis.exceptions.ClusterDownError)


class Outages:
    """A worker's Redis outages, logged once per job when it starts and once when it ends (the
    case worker's and the notifier's jobs ride out an outage with back-off)."""

    def __init__(self, logger):
        self.log = logger
        self.down: set[str] = set()

    def outage(self, job: str, error: Exception) -> None:
        if job not in self.down:
            self.down.add(job)
            self.log.warning("%s: Redis unavailable (%s); retrying with back-off", job, error)

    def recovered(self, job: str) -> None:
        if job in self.down:
            self.down.discard(job)
            self.log.warning("%s: Redis is reachable again; resumed", job)


def stream_entries(response) -> list:
    """[(entry id, {field: value})] of a one-stream XREAD / XREADGROUP reply (RESP2 or RESP3)."""
    if not response:
        return []
    if isinstance(response, dict):
        return next(iter(response.values()), [[]])[0] if response else []
    return response[0][1]
