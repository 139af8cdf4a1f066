"""The sample production Redis config (deploy/redis/redis.conf) on a real redis-server: the
default user is off, the `ioc` user runs the whole product (web, ingest, cases, users) and
nothing else: no key outside `ioc:`, no FLUSHALL, CONFIG, KEYS, SCRIPT FLUSH, pub/sub; AOF is on
and memory is never freed by evicting data.

The server runs the deploy file with only its port, paths and the password hash rewritten.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import time
import uuid
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ioc.adapters import redis_keys as keys
from ioc.adapters.embedded import Server, free_port
from ioc.adapters.redis_client import connect_redis
from ioc.settings import REPO_ROOT, Settings
from tests.conftest import RunningWorker, wait_for

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")]

CONF = REPO_ROOT / "deploy" / "redis" / "redis.conf"
PLACEHOLDER = "REPLACE_WITH_SHA256_OF_THE_IOC_PASSWORD"


def deploy_conf(folder: Path, port: int, password_hash: str | None) -> Path:
    """deploy/redis/redis.conf with its port and paths (and, given, the ioc password hash) rewritten."""
    text = CONF.read_text()
    replaced = {"port 6379\n": f"port {port}\n", "dir /var/lib/redis\n": f"dir {folder}\n",
                "logfile /var/log/redis/redis-server.log\n": f"logfile {folder / 'redis.log'}\n",
                "bind 127.0.0.1 -::1\n": "bind 127.0.0.1\n"}
    if password_hash is not None:
        replaced[PLACEHOLDER] = password_hash
    for old, new in replaced.items():
        assert text.count(old) == 1, f"{old!r} is not in redis.conf once"
        text = text.replace(old, new)
    path = folder / "redis.conf"
    path.write_text(text)
    return path


def start(folder: Path, password_hash: str | None) -> Server:
    port = free_port()
    argv = [shutil.which("redis-server"), str(deploy_conf(folder, port, password_hash))]
    return Server("redis-server", f"redis://127.0.0.1:{port}/0", port, folder, argv, folder / "stdout.log").start()


class AclRedis:
    def __init__(self, folder: Path):
        self.password = secrets.token_urlsafe(18)
        self.server = start(folder, hashlib.sha256(self.password.encode()).hexdigest())
        self.url = f"redis://ioc:{self.password}@127.0.0.1:{self.server.port}/0"
        self.anonymous_url = self.server.url


@pytest.fixture
def acl_redis(tmp_path):
    r = AclRedis(tmp_path)
    yield r
    r.server.stop()


@pytest.fixture
def ioc_client(acl_redis):
    client = connect_redis(acl_redis.url)
    yield client
    client.close()


def test_the_sample_as_shipped_does_not_start_with_a_known_password(tmp_path):
    with pytest.raises(RuntimeError, match="exited"):
        start(tmp_path, None)
    logs = "".join(f.read_text(errors="replace") for f in (tmp_path / "redis.log", tmp_path / "stdout.log") if f.exists())
    assert "password hash must be exactly 64 characters" in logs


def test_the_default_user_and_wrong_passwords_are_refused(acl_redis):
    anonymous = redis.Redis.from_url(acl_redis.anonymous_url)
    with pytest.raises(redis.RedisError, match="(?i)NOAUTH|authenticated"):
        anonymous.ping()
    with pytest.raises(redis.RedisError):
        anonymous.set("ioc:x", 1)
    for user, password in (("default", ""), ("default", "anything"), ("ioc", "wrong"), ("ops", "anything")):
        with pytest.raises(redis.AuthenticationError):
            # no retries: redis-py would retry a refused sign-in with back-off for ~4 s each
            redis.Redis(port=acl_redis.server.port, username=user, password=password, retry=Retry(NoBackoff(), 0)).ping()


def test_the_ioc_user_may_touch_ioc_keys_only_and_administer_nothing(ioc_client):
    assert ioc_client.ping()
    ioc_client.set("ioc:acl-probe", "1")
    assert ioc_client.get("ioc:acl-probe") == b"1"
    refused = [
        lambda: ioc_client.set("other", "1"),
        lambda: ioc_client.get("other"),
        lambda: ioc_client.hset("session:x", "a", "1"),
        lambda: ioc_client.rename("ioc:acl-probe", "stolen"),
        lambda: ioc_client.flushall(),
        lambda: ioc_client.flushdb(),
        lambda: ioc_client.config_get("dir"),
        lambda: ioc_client.config_set("appendonly", "no"),
        lambda: ioc_client.keys("*"),
        lambda: ioc_client.script_flush(),
        lambda: ioc_client.execute_command("DEBUG", "SLEEP", "0"),
        lambda: ioc_client.execute_command("ACL", "SETUSER", "ioc", "+@all"),
        lambda: ioc_client.execute_command("FUNCTION", "FLUSH"),
        lambda: ioc_client.execute_command("SHUTDOWN", "NOSAVE"),
        lambda: ioc_client.execute_command("BGREWRITEAOF"),
        lambda: ioc_client.execute_command("REPLICAOF", "127.0.0.1", "1"),
        lambda: ioc_client.execute_command("MONITOR"),
        lambda: ioc_client.client_list(),
        lambda: ioc_client.publish("ioc:channel", "x"),
        lambda: ioc_client.eval("return redis.call('SET', KEYS[1], '1')", 1, "outside"),
        lambda: ioc_client.eval("return redis.call('SET', 'outside', '1')", 0),
        lambda: ioc_client.eval("return redis.call('FLUSHALL')", 0),
    ]
    for i, command in enumerate(refused):
        with pytest.raises(redis.RedisError, match="(?i)noperm|permission|can't access|can't run|not allowed"):
            command()
            pytest.fail(f"refused command #{i} was allowed")
    assert ioc_client.get("ioc:acl-probe") == b"1"  # nothing was flushed


def test_the_server_keeps_an_append_only_log_and_never_evicts(ioc_client):
    persistence = ioc_client.info("persistence")
    assert persistence["aof_enabled"] == 1
    memory = ioc_client.info("memory")
    assert memory["maxmemory_policy"] == "noeviction" and memory["maxmemory"] > 0


def test_the_web_portal_runs_as_the_ioc_user(acl_redis, broker_proc, tmp_path):
    from ioc.web.app import create_app
    from tests.conftest import make_user_in

    settings = Settings.from_env(env={}, redis_url=acl_redis.url, mqtt_url=broker_proc.url, data_dir=tmp_path)
    name, password = make_user_in(settings, "dispatcher")
    web = create_app(settings).server.test_client()
    assert web.get("/healthz").status_code == 200
    page = web.get("/login")
    csrf = page.get_data(as_text=True).split('name="csrf" value="', 1)[1].split('"', 1)[0]
    signed_in = web.post("/login", data={"name": name, "password": password, "csrf": csrf})
    assert signed_in.status_code == 302 and "/login" not in signed_in.headers["Location"]
    assert web.get("/api/v1/cases", headers={"Accept": "application/json"}).status_code == 200


def test_cases_users_and_tokens_are_stored_by_the_ioc_user(ioc_client, city, tmp_path, acl_redis, broker_proc):
    from ioc.adapters.case_store import CaseStore
    from ioc.adapters.user_store import Actor
    from ioc.casework.service import CaseService
    from ioc.web.services import user_store
    from tests.integration.test_case_worker import dispatched_case

    settings = Settings.from_env(env={}, redis_url=acl_redis.url, mqtt_url=broker_proc.url, data_dir=tmp_path)
    case = dispatched_case(CaseService.from_settings(ioc_client, city, settings), "acl-redis-1")
    store = CaseStore(ioc_client)
    assert store.get(case.id).stage == "dispatched"
    assert [e.action for e in store.timeline(case.id)] == ["report", "accept", "verify", "dispatch"]
    users = user_store(ioc_client, settings, city)
    users.add("acl-admin", ["admin"], Actor("test", "admin"), password="correct-horse-battery")
    assert users.authenticate("acl-admin", "correct-horse-battery").user is not None
    assert users.authenticate("acl-admin", "wrong").user is None
    _token, secret = users.create_token("acl-duty-desk", ["dispatcher"], Actor("test", "admin"))
    assert users.token_for_secret(secret) is not None


def test_the_ingest_and_case_workers_run_as_the_ioc_user(acl_redis, broker_proc, publisher, city, tmp_path, caplog):
    from ioc.adapters.case_store import CaseStore
    from ioc.adapters.snapshot_store import SnapshotStore
    from ioc.casework.worker import CaseWorker
    from ioc.ingest.worker import IngestWorker
    from tests.integration.test_case_worker import a_report, publish
    from tests.integration.test_ingest_pipeline import birth, send

    settings = Settings.from_env(env={}, redis_url=acl_redis.url, mqtt_url=broker_proc.url, data_dir=tmp_path,
                                 ingest_client_id=f"test-ingest-{uuid.uuid4().hex[:6]}",
                                 cases_client_id=f"test-cases-{uuid.uuid4().hex[:6]}", cases_scan_s=1)
    workers = [RunningWorker(IngestWorker(settings, connect_redis(settings.redis_url), city)).start(),
               RunningWorker(CaseWorker(settings, connect_redis(settings.redis_url), city)).start()]
    client = connect_redis(acl_redis.url)
    try:
        birth(publisher, "water_level", "wl-acl-1")
        send(publisher, "water_level", "wl-acl-1", waterLevel=4.8)  # above the warning line: an alarm
        snapshot = SnapshotStore(client, settings.redis_shards)
        wait_for(lambda: (d := snapshot.device("wl-acl-1")) and d["latest"], message="the reading stored")
        publish(publisher, "ioc/v1/reports/hotline", a_report("acl-redis-hl"))
        assert wait_for(lambda: CaseStore(client).by_report("acl-redis-hl"), message="the case").source == "hotline"
        publish(publisher, "ioc/v1/reports/hotline", b"not json")  # dead-lettered: a write to ioc:deadletter
        wait_for(lambda: client.xlen(keys.DEADLETTER) >= 1, message="the dead letter")
        time.sleep(1.5)  # one overdue scan and a heartbeat
    finally:
        for w in workers:
            w.stop()  # fails the test if a worker crashed (e.g. on NOPERM)
        client.close()
    refused = [r.getMessage() for r in caplog.records if "noperm" in r.getMessage().lower() or "permission" in r.getMessage().lower()]
    assert refused == []
