"""`python -m ioc demo`: the whole city on one machine, stopped by one Ctrl-C.

Starts embedded Redis and MQTT on free loopback ports unless REDIS_URL / MQTT_URL are set,
then the ingest worker, the case worker, the notifier, the simulators and the web process as child
processes (with IOC_NOTIFY_RECEIVERS=1, the default, the local provider receivers run in this
process, a demo duty roster is stored when none is, and the channels point at the receivers); the simulators first fill the trend panels' past 24 hours through the ingest
(`simulators.backfill`) unless the data already has them or `--no-backfill` is given. Before any
child starts, an empty city gets seven days of history (`simulators.history`: the simulators'
patterns and the casework fast-forward through the ingest's and the case service's own code,
copied into the record as it goes when the recorder is installed) unless `--no-history` is
given; data that already holds a city gets none (a second start adds nothing). Seeds one
demo user per role and per department (`ioc.demo_users`) and prints the
service URLs, the portal address, the demo users' credentials and a kiosk link; the simulator
gets an API token for its simulated duty desk (`IOC_SIM_API_TOKEN`, `IOC_SIM_API_URL`). On Ctrl-C /
SIGTERM, or when any child dies, every child is stopped (SIGTERM, then SIGKILL after 10 s)
and the embedded servers with them; children also die with this process if it is killed
(PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime

from ioc.adapters.embedded import Server, _die_with_parent, mqtt_broker, postgres_server, redis_server
from ioc.adapters.geodata_files import load_city_map
from ioc.adapters.redis_client import connect_redis
from ioc.adapters.snapshot_store import SnapshotStore
from ioc.domain.clock import local_time
from ioc.demo_users import DemoUser, credentials_table, demo_duty_desk_token, demo_kiosk_link, seed_demo_users
from ioc.settings import Settings
from ioc.views.trends import TREND_PANELS
from ioc.web.services import user_store

log = logging.getLogger("ioc.demo")


def _child(name: str, argv: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)


NOTIFY_URLS = ("IOC_NOTIFY_WECOM_URL", "IOC_NOTIFY_DINGTALK_URL", "IOC_NOTIFY_FEISHU_URL", "IOC_NOTIFY_SMS_URL", "IOC_NOTIFY_SMTP_URL")


def start_notify_receivers(settings: Settings, redis_url: str, environ=None):
    """With IOC_NOTIFY_RECEIVERS=1: the local provider receivers on loopback (the keys they
    accept are the stored roster's groups'), a demo roster when none is stored (a group per
    department, duty officers; `ioc.demo_roster`), and the IOC_NOTIFY_*_URL values that point the
    channels at the receivers for the settings left unset. Returns (receivers or None, env changes)."""
    if not settings.notify_receivers:
        return None, {}
    from ioc.adapters.roster_store import RosterStore
    from ioc.demo_roster import demo_roster
    from ioc.domain.departments import all_departments
    from ioc.notify.receivers import roster_key_source, start_receivers

    environ = os.environ if environ is None else environ
    client = connect_redis(redis_url)
    store = RosterStore(client)
    if store.version() == 0:
        store.put(demo_roster(all_departments(load_city_map(settings.geodata_dir)), int(time.time() * 1000)), "demo")
    receivers = start_receivers("127.0.0.1", key_source=roster_key_source(store))
    return receivers, {name: url for name, url in receivers.urls.items() if name in NOTIFY_URLS and not environ.get(name)}


def _wait_healthy(port: int, timeout: float = 60) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def _describe(url: str, servers: list[Server]) -> str:
    for server in servers:
        if server.url == url:
            return f"{url}  (embedded {server.name}, data in {server.data_dir})"
    return url


def _seed_users(settings: Settings, redis_url: str, portal: str) -> tuple[list[DemoUser], str, str]:
    """One demo user per role and per department, a kiosk link and the simulated duty desk's API
    token (demo only)."""
    client = connect_redis(redis_url)
    try:
        city = load_city_map(settings.geodata_dir)
        store = user_store(client, settings, city)
        return seed_demo_users(store, city, settings.demo_password), demo_kiosk_link(store, portal), demo_duty_desk_token(store)
    finally:
        client.close()


TREND_HOURS = 24  # the big screen's trend panels: the hour in progress and the 23 before it


def history_gap(hours_with_data: set[int], hour: int) -> tuple[int, int | None] | None:
    """The epoch hours [start, end) the demo backfills before the trend panels' window is full:
    from the window's first hour up to the oldest hour that already has readings (None: up to
    now). None when the first hour has readings (a restart on the data of a run that covers the
    window; a later gap, when the demo was down, is history and stays a gap)."""
    start = hour - (TREND_HOURS - 1)
    earlier = [h for h in hours_with_data if start <= h <= hour]
    if not earlier:
        return start, None
    oldest = min(earlier)
    return None if oldest <= start else (start, oldest)


def backfill_args(redis_url: str, settings: Settings, now_s: float) -> tuple[list[str], str]:
    """The simulator's `--backfill-start/--backfill-end` for what the data lacks of the trend
    window, and a line for the console."""
    hour = int(now_s // 3600)
    client = connect_redis(redis_url)
    try:
        buckets = SnapshotStore(client, settings.redis_shards).rollup_series("hour", hour - (TREND_HOURS - 1), hour + 1)
    finally:
        client.close()
    markers = tuple(f"|{panel.kind}|_:n" for panel in TREND_PANELS)
    with_data = {h for h, fields in buckets.items() if any(name.endswith(markers) for name in fields)}
    gap = history_gap(with_data, hour)
    if gap is None:
        return [], "the data already holds the last 24 hours: no backfill"
    start, end = gap

    def local(h: int) -> datetime:
        return local_time(h * 3_600_000)

    args = ["--backfill-start", local(start).isoformat()] + (["--backfill-end", local(end).isoformat()] if end is not None else [])
    until = f"{local(end):%m-%d %H:%M}" if end is not None else "now"
    return args, (f"filling the past from {local(start):%m-%d %H:%M} to {until} through the ingest "
                  "(progress below; --no-backfill skips it)")


SKIPPED_HISTORY = 3  # exit code of `python -m simulators.history` when the data already holds a city


def write_history(env: dict, simulator_args: list[str], stop: dict | None = None, days: float = 7.0) -> str:
    """`days` (seven) of history into an empty city: `python -m simulators.history` as a child
    (the simulators are a layer above ioc: run, never imported), with the simulators' flags (the
    same fleet), its progress bar on this console; returns the banner's line. Nothing is written
    when the data already holds a city. A stop request (Ctrl-C, SIGTERM) ends it early."""
    import tempfile

    with tempfile.NamedTemporaryFile("r", prefix="ioc-history-", suffix=".txt") as summary:
        proc = subprocess.Popen([sys.executable, "-m", "simulators.history", "--days", f"{days:g}", "--summary-file",
                                 summary.name, "--no-record", *simulator_args], env=env, stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent)
        while proc.poll() is None:
            if stop is not None and stop.get("signal") is not None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                break
            time.sleep(0.2)
        code = proc.wait()
        if code == SKIPPED_HISTORY:
            return "the data already holds a city: no history added"
        text = summary.read().strip()
        if code != 0:
            return f"the history stopped (exit code {code}){': ' + text if text else ''}"
        return text or f"{days:g} days written"


def _wait_ingest(redis_url: str, settings: Settings, since_ms: int, timeout: float = 60.0) -> bool:
    """Wait until an ingest worker started after `since_ms` reports in (its first heartbeat comes
    after it subscribed), so the backfill's readings are not published to nobody."""
    client = connect_redis(redis_url)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(w.get("started_ms", 0) >= since_ms for w in SnapshotStore(client, settings.redis_shards).workers().values()):
                return True
            time.sleep(0.2)
        return False
    finally:
        client.close()


def run_demo(settings: Settings, simulator_args: list[str], web_workers: int | None = None, backfill: bool = True,
             history_days: float = 7.0) -> int:
    servers: list[Server] = []
    children: dict[str, subprocess.Popen] = {}
    receivers = None
    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        redis_url, mqtt_url = settings.redis_url, settings.mqtt_url
        if not redis_url:
            servers.append(redis_server(settings.data_dir / "redis", settings.embedded_redis).start())
            redis_url = servers[-1].url
        if not mqtt_url:
            servers.append(mqtt_broker(settings.data_dir / "mqtt", settings.embedded_mqtt).start())
            mqtt_url = servers[-1].url
        database_url = settings.database_url
        if not database_url:
            servers.append(postgres_server(settings.data_dir / "postgres", settings.embedded_postgres).start())
            database_url = servers[-1].url
        from ioc.record.migrate import upgrade

        upgrade(database_url, log=log.info)
        portal = f"http://{settings.host}:{settings.port}/"
        users, kiosk, desk_token = _seed_users(settings, redis_url, portal)
        py = sys.executable
        # the recorder first: it copies the history into the record while the history is written
        record_env = dict(os.environ, REDIS_URL=redis_url, MQTT_URL=mqtt_url, DATABASE_URL=database_url,
                          IOC_DATA_DIR=str(settings.data_dir), PYTHONUNBUFFERED="1")
        children["recorder"] = _child("recorder", [py, "-m", "ioc", "recorder"], record_env)
        if history_days > 0:
            history_env = dict(record_env)
            history_line = write_history(history_env, simulator_args, stop=stop, days=history_days)
        else:
            history_line = "no history (--no-history)"
        if stop["signal"] is not None:
            return 0
        receivers, notify_urls = start_notify_receivers(settings, redis_url)
        env = dict(os.environ, REDIS_URL=redis_url, MQTT_URL=mqtt_url, DATABASE_URL=database_url, PORT=str(settings.port),
                   IOC_DATA_DIR=str(settings.data_dir), PYTHONUNBUFFERED="1", **notify_urls)
        if web_workers:
            env["IOC_WEB_WORKERS"] = str(web_workers)
        started_ms = int(time.time() * 1000)
        children["ingest"] = _child("ingest", [py, "-m", "ioc", "ingest"], env)
        children["cases"] = _child("cases", [py, "-m", "ioc", "cases"], env)
        children["notify"] = _child("notify", [py, "-m", "ioc", "notify"], env)
        children["web"] = _child("web", [py, "-m", "ioc", "web"], env)
        # the simulated duty desk works the cases through the API with its own token
        sim_env = dict(env, IOC_SIM_API_TOKEN=desk_token, IOC_SIM_API_URL=f"http://127.0.0.1:{settings.port}")
        # the trend panels' past 24 hours, through the ingest, unless the data already has them
        if not backfill:
            history, trends_line = [], "no backfill (--no-backfill): the trends fill as the city runs"
        elif any(a.startswith("--backfill-start") for a in simulator_args):
            history, trends_line = [], "backfill as given to the simulators"
        else:
            history, trends_line = backfill_args(redis_url, settings, time.time())
            if history and not _wait_ingest(redis_url, settings, started_ms):
                log.warning("the ingest has not reported in after 60 s; backfilling anyway")
        children["simulator"] = _child("simulator", [py, "-m", "simulators", *simulator_args, *history], sim_env)
        print("\n=== IOC demo city: 张家港 Zhangjiagang ===", flush=True)
        print(f"  Redis:  {_describe(redis_url, servers)}", flush=True)
        print(f"  MQTT:   {_describe(mqtt_url, servers)}", flush=True)
        print(f"  PostgreSQL (the record): {_describe(database_url, servers)}", flush=True)
        print(f"  Portal: {portal}", flush=True)
        print(f"  Health: {portal}healthz   Metrics: {portal}metrics", flush=True)
        print(f"  History: {history_line}", flush=True)
        print(f"  Trends: {trends_line}", flush=True)
        if receivers is not None:
            print(f"  Notifications: local provider receivers {receivers.base_url} (what arrived: "
                  f"{receivers.base_url}/_received?since=0; SMTP on port {receivers.smtp_port})", flush=True)
        print("  Demo users (role, user name, password; new passwords every start unless IOC_DEMO_PASSWORD is set):", flush=True)
        print(credentials_table(users), flush=True)
        print(f"  Kiosk link for the wall (read-only, stays signed in): {kiosk}", flush=True)
        print("  Ctrl-C stops everything.\n", flush=True)
        if _wait_healthy(settings.port):
            log.info("portal is up: http://%s:%d/", settings.host, settings.port)
        parent = os.getppid()
        while stop["signal"] is None:
            if os.getppid() != parent:  # e.g. `make demo` was killed: do not outlive it
                log.warning("parent process went away; stopping the demo")
                break
            for name, proc in children.items():
                if proc.poll() is not None:
                    log.error("%s exited with code %s; stopping the demo", name, proc.returncode)
                    stop["signal"] = "child"
                    break
            time.sleep(0.5)
        return 0 if stop["signal"] != "child" else 1
    finally:
        for proc in children.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.time() + 10
        for proc in children.values():
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if receivers is not None:
            receivers.stop()
        for server in reversed(servers):
            server.stop()
        log.info("demo stopped; all processes ended")
