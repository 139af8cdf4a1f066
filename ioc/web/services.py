"""What the web process talks to, built once per process and handed to every callback."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from redis import Redis

from ioc.adapters.geodata_files import load_city_map
from ioc.adapters.mqtt import probe_broker
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters.audit_log import AuditLog
from ioc.adapters.case_index import CaseIndex
from ioc.adapters.city_snapshot import CityCache
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.adapters.user_store import UserStore
from ioc.casework.service import CaseService
from ioc.domain.departments import department_ids
from ioc.domain.geo import CityMap
from ioc.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class BrokerHealth:
    """Cached broker probe: at most one MQTT connect per `ttl` seconds per process."""

    url: str
    ttl: float = 5.0
    _result: tuple[bool, str] = (False, "not checked")
    _checked: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self) -> tuple[bool, str]:
        if not self.url:
            return False, "MQTT_URL is not set"
        with self._lock:
            if time.monotonic() - self._checked > self.ttl:
                self._result = probe_broker(self.url)
                self._checked = time.monotonic()
            return self._result


@dataclass
class Services:
    settings: Settings
    redis: Redis | None
    snapshot: SnapshotStore | None
    city: CityMap
    broker: BrokerHealth
    users: UserStore | None = None
    audit: AuditLog | None = None
    alarms: AlarmStore | None = None  # the one alarm store: acknowledges, clears, and invalidates `city_cache` itself
    cases: CaseService | None = None  # the one case service: every read and action of the portal, the API and Open311
    city_cache: CityCache | None = None  # the big screen's per-process snapshot cache, shared by every viewer
    case_index: CaseIndex | None = None  # the case pages' per-process copy of the cases, kept in step by revision

    def warm_up(self) -> threading.Thread | None:
        """In the background, read what the first big-screen requests of a new process need
        (`CityCache.warm_up`), so the walls do not wait on a worker that just started (a deploy,
        a restart). A failure (Redis away) is left to the requests, which report it."""
        cache = self.city_cache
        if cache is None:
            return None

        def warm() -> None:
            try:
                cache.warm_up()
            except Exception as e:  # noqa: BLE001 - the requests meet the same error and say so
                log.info("warm-up of the city cache failed: %s", e)

        thread = threading.Thread(target=warm, name="ioc-warm-up", daemon=True)
        thread.start()
        return thread

    @classmethod
    def from_settings(cls, settings: Settings) -> "Services":
        client = connect_redis(settings.redis_url) if settings.redis_url else None
        city = load_city_map(settings.geodata_dir)
        cases = CaseIndex(lambda: client) if client else None
        city_cache = CityCache(lambda: client, settings.redis_shards, case_index=cases) if client else None
        return cls(
            settings=settings,
            redis=client,
            snapshot=SnapshotStore(client, settings.redis_shards) if client else None,
            city=city,
            broker=BrokerHealth(settings.mqtt_url),
            users=user_store(client, settings, city) if client else None,
            audit=AuditLog(client) if client else None,
            alarms=AlarmStore(client, on_change=city_cache.invalidate) if client else None,
            cases=CaseService.from_settings(client, city, settings) if client else None,
            city_cache=city_cache,
            case_index=cases,
        )


def user_store(client: Redis, settings: Settings, city: CityMap) -> UserStore:
    """The user store with this city's departments and the settings' sign-in limits."""
    return UserStore(client, department_ids(city), settings.login_max_failures, settings.login_lock_minutes)
