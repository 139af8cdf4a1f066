"""What the web process talks to, built once per process and handed to every callback."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from flask import current_app
from redis import Redis

from ioc.adapters.geodata_files import load_city_map
from ioc.adapters.mqtt import probe_broker
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.alarm_store import AlarmStore
from ioc.adapters.audit_log import AuditLog
from ioc.adapters.case_index import CaseIndex
from ioc.adapters.city_snapshot import CityCache
from ioc.adapters.notify_store import NotifyStore
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.adapters.user_store import UserStore
from ioc.adapters.media_store import media_store_from_settings
from ioc.casework.service import CaseService
from ioc.media.service import MediaService
from ioc.events.service import EventService
from ioc.domain.departments import department_ids
from ioc.domain.geo import CityMap
from ioc.record.rewind import Rewind
from ioc.settings import Settings
from ioc.web.case_tables import open_table

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
    redis: Redis
    snapshot: SnapshotStore
    city: CityMap
    broker: BrokerHealth
    users: UserStore
    audit: AuditLog
    alarms: AlarmStore  # the one alarm store: raises, acknowledges, clears, and invalidates `city_cache` itself
    cases: CaseService  # the one case service: every read and action of the portal, the API and Open311
    city_cache: CityCache  # the big screen's per-process snapshot cache, shared by every viewer
    case_index: CaseIndex  # the case pages' per-process copy of the cases, kept in step by revision
    events: EventService  # the one event service: every read and action on linked events (portal, API)
    notify: NotifyStore | None = None  # notifications: routes, silences, the sent log (piece notify)
    media: MediaService | None = None  # the cases' photos: uploads (portal, API) and reads, on the media store
    rewind: Rewind | None = None  # the city as it was, from the record (None without DATABASE_URL: no time control)

    def warm_up(self) -> threading.Thread:
        """In the background, read what the first big-screen requests of a new process need
        (`CityCache.warm_up`), make the case views' table of the open cases
        (`ioc.web.case_tables`) and, with a record, have the indicators of this month (the
        /indicators page's first period) computed once, so the walls, consoles and the leaders'
        first indicators do not wait on a worker that just started (a deploy, a restart). Without
        a record they would need every case read into each worker: left to the first visit. A
        failure (Redis away) is left to the requests, which report it."""
        from ioc.reports.cache import cache_for
        from ioc.views.cases import period_range

        cache, index, url = self.city_cache, self.case_index, self.settings.database_url

        def warm() -> None:
            try:
                cache.warm_up()
                open_table(index)  # the case views' column table of the open cases (100,000 at city scale)
                if url:
                    cache_for(url).prepare(*period_range("this_month", int(time.time() * 1000)))  # in the cache's thread
            except Exception as e:  # noqa: BLE001 - the requests meet the same error and say so
                log.info("warm-up of the city cache failed: %s", e)

        thread = threading.Thread(target=warm, name="ioc-warm-up", daemon=True)
        thread.start()
        return thread

    @classmethod
    def from_settings(cls, settings: Settings) -> "Services":
        """The services of a web process. Redis is required (users, sessions and every figure
        live there): without REDIS_URL this is the one error, at start-up."""
        if not settings.redis_url:
            raise RuntimeError("the web process needs Redis: set REDIS_URL (redis://host:6379/0); "
                               "`python -m ioc demo` starts one and sets it")
        client = connect_redis(settings.redis_url)
        city = load_city_map(settings.geodata_dir)
        case_service = CaseService.from_settings(client, city, settings)
        cases = CaseIndex(lambda: client, archive=case_service.archive)  # the archived cases' facts too (indicators)
        city_cache = CityCache(lambda: client, settings.redis_shards, case_index=cases)
        return cls(
            settings=settings,
            redis=client,
            snapshot=SnapshotStore(client, settings.redis_shards),
            city=city,
            broker=BrokerHealth(settings.mqtt_url),
            users=user_store(client, settings, city),
            audit=AuditLog(client),
            alarms=AlarmStore(client, on_change=city_cache.invalidate),
            cases=case_service,
            city_cache=city_cache,
            case_index=cases,
            events=EventService.from_settings(client, city, settings),
            notify=NotifyStore(client, settings.record_stream_maxlen),
            media=MediaService(media_store_from_settings(settings), case_service, settings),
            rewind=Rewind(settings.database_url, city, settings.redis_shards) if settings.database_url else None,
        )


def user_store(client: Redis, settings: Settings, city: CityMap) -> UserStore:
    """The user store with this city's departments and the settings' sign-in limits."""
    return UserStore(client, department_ids(city), settings.login_max_failures, settings.login_lock_minutes,
                     settings.record_stream_maxlen)


def current_services() -> Services:
    """The process's `Services` inside a request or app context (`create_app` stores them)."""
    return current_app.extensions["ioc_services"]
