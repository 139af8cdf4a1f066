"""Shared fixtures: private, real Redis and MQTT servers on free ports, a city map, an ingest
worker running in a thread, an MQTT publisher, and a polling helper.

Nothing here touches services already running on the machine: every server is started by
the tests themselves (see ioc.adapters.embedded) and stopped at the end.
"""

from __future__ import annotations

import collections
import os
import random
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from ioc.adapters import embedded
from ioc.adapters import redis_keys as keys
from ioc.adapters.embedded import mqtt_broker, postgres_server, redis_server
from ioc.adapters.geodata_files import load_city_map
from ioc.adapters.mqtt import connect, make_client
from ioc.adapters.redis_client import connect_redis
from ioc.settings import REPO_ROOT, Settings


# ---- free ports, safe under pytest-xdist ------------------------------------------------------

class PortBlock:
    """Free loopback ports for this test process only.

    The tests run in several pytest-xdist workers at once, each starting servers on "free"
    ports. Binding port 0 hands out ports from the kernel's ephemeral range (32768+), where the
    client side of any outgoing connection can take a port between the moment it was chosen
    and the moment the server binds it. So each worker draws its ports at random from a block
    of its own below that range, skipping ports in use and the ports it handed out recently
    (their servers may not have bound them yet). Another test run on the machine at the same
    time draws from the same blocks, at random too, so the two rarely meet.
    """

    FIRST, LAST = 10_000, 32_000
    RECENT = 1_000  # a port handed out is not handed out again before this many others

    def __init__(self, worker: int, workers: int):
        # the product's own choice (the kernel's), kept for its tests
        self.kernel_free_port, self.kernel_free_ports = embedded.free_port, embedded._free_ports
        size = (self.LAST - self.FIRST) // max(workers, 1)
        self.block = range(self.FIRST + worker * size, self.FIRST + (worker + 1) * size)
        self.recent: collections.deque = collections.deque(maxlen=min(self.RECENT, size // 2))
        self.rng = random.Random()
        self._lock = threading.Lock()

    @staticmethod
    def _bindable(port: int) -> bool:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
        return True

    def free_port(self) -> int:
        with self._lock:
            for _ in range(len(self.block)):
                port = self.rng.choice(self.block)
                if port not in self.recent and self._bindable(port):
                    self.recent.append(port)
                    return port
        raise RuntimeError(f"no free port in this test worker's block {self.block}")

    def free_ports(self, n: int) -> list[int]:
        return [self.free_port() for _ in range(n)]


# Every server the tests start (ioc.adapters.embedded, the fixtures, the test modules, which
# import `free_port` from there after this conftest) takes its port from this worker's block.
# (Test modules import helpers from `tests.conftest`, a second import of this file: one block.)
PORTS = getattr(embedded, "test_ports", None) or PortBlock(int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0),
                                                           int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
embedded.test_ports = PORTS
embedded.free_port = PORTS.free_port
embedded._free_ports = PORTS.free_ports


def pytest_setup_options():
    """Chromium flags for dash_duo on an offline machine, as root, without a screen."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--window-size=1920,1080",
    ):
        options.add_argument(flag)
    return options


def wait_for(condition, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"):
    """Poll until `condition()` is truthy; return its value or fail with `message`. The timeout
    only bounds a failing wait: generous, since a CI machine running four test processes and
    their browsers on two cores can stall one of them for many seconds."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def city():
    return load_city_map(REPO_ROOT / "geodata")


@pytest.fixture(scope="session")
def redis_server_proc(tmp_path_factory):
    server = redis_server(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def broker_proc(tmp_path_factory):
    """A fresh broker per test (it starts in ~50 ms), so retained births never leak between tests."""
    server = mqtt_broker(tmp_path_factory.mktemp("mqtt")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server_proc):
    client = connect_redis(redis_server_proc.url)
    client.flushall()
    yield client
    client.close()


# --- the record (PostgreSQL) ---------------------------------------------------------------------
# One private server per test worker (started on first use, fsync off); a template database with
# the schema migrated once; every test that asks for `database_url` gets a fresh copy of it.

RECORD_TEMPLATE = "ioc_template"


@pytest.fixture(scope="session")
def pg_server_proc():
    # Outside pytest's own temp folder: as root the server runs as another user, and a second
    # pytest session on the machine makes /tmp/pytest-of-root private (0700) again.
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ioc-test-pg-"))
    server = postgres_server(folder / "data", durable=False).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def pg_admin_url(server) -> str:
    return server.url.rsplit("/", 1)[0] + "/postgres"


def pg_database_url(server, name: str) -> str:
    return server.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_template(pg_server_proc):
    import psycopg

    from ioc.record.migrate import upgrade

    with psycopg.connect(pg_admin_url(pg_server_proc), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{RECORD_TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{RECORD_TEMPLATE}"')
    upgrade(pg_database_url(pg_server_proc, RECORD_TEMPLATE))
    return RECORD_TEMPLATE


def fresh_database(server, template: str = "template1") -> str:
    """A new empty (or templated) database on `server`; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return pg_database_url(server, name)


def drop_database(server, url: str) -> None:
    import psycopg

    from ioc.record import db

    db.close_pools()
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(pg_admin_url(server), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(pg_server_proc, pg_template):
    """A fresh database with the record's schema (a copy of the migrated template)."""
    url = fresh_database(pg_server_proc, pg_template)
    yield url
    drop_database(pg_server_proc, url)


@pytest.fixture
def empty_database_url(pg_server_proc):
    """A fresh database with nothing in it (migrations from scratch)."""
    url = fresh_database(pg_server_proc)
    yield url
    drop_database(pg_server_proc, url)


@pytest.fixture
def record_settings(settings, database_url) -> Settings:
    """The test settings with DATABASE_URL pointing at a fresh record."""
    return Settings.from_env(env={}, **{**{f: getattr(settings, f) for f in ("redis_url", "mqtt_url", "data_dir",
                                        "ingest_client_id", "counter_flush_ms")}, "database_url": database_url})


# Tests wait for counters: the ingest worker writes the ones it holds every 50 ms, not every second.
TEST_COUNTER_FLUSH_MS = 50


@pytest.fixture
def settings(redis_server_proc, broker_proc, tmp_path) -> Settings:
    return Settings.from_env(
        env={},
        redis_url=redis_server_proc.url,
        mqtt_url=broker_proc.url,
        data_dir=tmp_path,
        ingest_client_id=f"test-ingest-{uuid.uuid4().hex[:8]}",
        counter_flush_ms=TEST_COUNTER_FLUSH_MS,
    )


class SubackCounter:
    """Counts the SUBACKs (acknowledged subscriptions) of the MQTT clients that
    ioc.adapters.mqtt.make_client makes inside `with SubackCounter() as acks:`, for as long as
    those clients live (a reconnection subscribes again: one more). `acks.wait(n)` returns once
    there are n: a message published after it reaches the subscriber."""

    def __init__(self):
        self.count = 0
        self._original = None

    def _acked(self, *_args) -> None:
        self.count += 1

    def __enter__(self) -> "SubackCounter":
        from ioc.adapters import mqtt as mqtt_adapter

        self._original = original = mqtt_adapter.make_client

        def make_client(*args, **kwargs):
            client = original(*args, **kwargs)
            client.on_subscribe = self._acked
            return client

        mqtt_adapter.make_client = make_client
        return self

    def __exit__(self, *_exc) -> None:
        from ioc.adapters import mqtt as mqtt_adapter

        mqtt_adapter.make_client = self._original

    def wait(self, n: int = 1, timeout: float = 15.0) -> None:
        wait_for(lambda: self.count >= n, timeout=timeout, message=f"{n} acknowledged subscription(s) (SUBACK)")


class RunningWorker:
    """An IngestWorker (or CaseWorker) on a background thread; `start()` returns once it is
    connected and its subscriptions are acknowledged, `stop()` drains and joins it.
    `subacks.count` counts its SUBACKs (a reconnection subscribes again)."""

    def __init__(self, worker):
        self.worker = worker
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.subacks = SubackCounter()

    def _run(self):
        try:
            self.worker.run()
        except BaseException as e:  # noqa: BLE001 - surfaced by the fixture
            self.errors.append(e)

    def start(self) -> "RunningWorker":
        with self.subacks:  # the worker makes its client as it starts
            self.thread.start()
            wait_for(lambda: self.worker.client is not None and self.worker.client.is_connected(), message="ingest connected")
        self.subacks.wait(1)  # before the tests publish
        return self

    def _wake_blocked_reads(self) -> None:
        """A stopping worker's threads may sit in a blocking Redis read (the case worker's stream
        readers block up to a second): unblock them, as if their time was up, so they see the
        stop at once (CLIENT UNBLOCK; a running worker's read just comes back empty)."""
        client = getattr(self.worker, "redis", None)
        try:
            for c in client.client_list() if client is not None else ():
                if "b" in c.get("flags", ""):
                    client.client_unblock(c["id"])
        except Exception:  # noqa: BLE001 - Redis away (a test stopped it): the reads time out by themselves
            pass

    def stop(self):
        self.worker.stop()
        self._wake_blocked_reads()
        self.thread.join(15)
        assert not self.thread.is_alive(), "ingest worker did not stop"
        assert not self.errors, f"ingest worker crashed: {self.errors!r}"


@pytest.fixture
def start_ingest(city, redis_client, broker_proc):
    """`start_ingest(settings)` runs an IngestWorker on a thread; every one started is stopped at
    the end, before the broker (a worker that lost its broker waits a second to reconnect)."""
    from ioc.ingest.worker import IngestWorker

    running: list[RunningWorker] = []

    def start(settings: Settings) -> RunningWorker:
        worker = IngestWorker(settings, connect_redis(settings.redis_url), city)
        running.append(RunningWorker(worker).start())
        return running[-1]

    yield start
    for r in running:
        r.stop()


@pytest.fixture
def ingest(start_ingest, settings):
    return start_ingest(settings)


class SharedPipeline:
    """A Redis and a broker of their own with one ingest worker, shared by the tests of a module
    (`shared_pipeline`). Its tests must not disturb each other: each uses devices of its own and
    reads counters as differences (`counter` before, `wait_counter` after)."""

    def __init__(self, tmp: Path, city):
        self.redis_server = redis_server(tmp / "redis").start()
        self.broker = mqtt_broker(tmp / "mqtt").start()
        self.settings = Settings.from_env(env={}, redis_url=self.redis_server.url, mqtt_url=self.broker.url, data_dir=tmp,
                                          ingest_client_id=f"test-ingest-{uuid.uuid4().hex[:8]}",
                                          counter_flush_ms=TEST_COUNTER_FLUSH_MS)
        self.redis = connect_redis(self.redis_server.url)
        from ioc.ingest.worker import IngestWorker

        self.worker = RunningWorker(IngestWorker(self.settings, connect_redis(self.settings.redis_url), city)).start()
        self.publisher = make_client(self.broker.url, f"test-pub-{uuid.uuid4().hex[:8]}", name="test-publisher")
        connect(self.publisher)

    def counter(self, name: str) -> int:
        return int(self.redis.hget(keys.METRICS, name) or 0)

    def wait_counter(self, name: str, value: int, message: str = "") -> None:
        wait_for(lambda: self.counter(name) == value, message=message or f"{name} = {value}")

    def close(self) -> None:
        self.publisher.disconnect()
        self.publisher.loop_stop()
        self.worker.stop()
        self.redis.close()
        self.broker.stop()
        self.redis_server.stop()


@pytest.fixture(scope="module")
def shared_pipeline(tmp_path_factory, city):
    """One Redis, broker and ingest worker for the whole module (see SharedPipeline)."""
    pipeline = SharedPipeline(tmp_path_factory.mktemp("pipeline"), city)
    yield pipeline
    pipeline.close()


@pytest.fixture
def publisher(broker_proc):
    client = make_client(broker_proc.url, f"test-pub-{uuid.uuid4().hex[:8]}", name="test-publisher")
    connect(client)
    yield client
    client.disconnect()
    client.loop_stop()


def _module_order(items) -> dict[Path, tuple]:
    """The order in which modules are handed to the pytest-xdist workers (--dist loadfile
    --no-loadscope-reorder: whole modules, in collection order): the long ones first, so no
    worker is left with a long module while the others are done. The browser modules (the
    larger first), then the modules with a test marked slow, the other integration and
    resilience modules, and the unit tests last."""
    order: dict[Path, tuple] = {}
    counts: dict[Path, int] = {}
    for item in items:
        path = Path(str(item.fspath))
        counts[path] = counts.get(path, 0) + 1
        rank = 0 if "browser" in path.parts else 1 if item.get_closest_marker("slow") else 3 if "unit" in path.parts else 2
        order[path] = min(order.get(path, (rank,)), (rank,))
    return {path: (rank, -counts[path] if rank == 0 else 0) for path, (rank,) in order.items()}


def pytest_collection_modifyitems(items):
    for item in items:
        path = Path(str(item.fspath))
        if "integration" in path.parts:
            item.add_marker(pytest.mark.integration)
        if "browser" in path.parts:
            item.add_marker(pytest.mark.browser)
    order = _module_order(items)
    items.sort(key=lambda item: order[Path(str(item.fspath))])  # stable: a module's tests stay in their order


# ---- users and signing in ---------------------------------------------------------------------

TEST_PASSWORD = "correct-horse-battery"


@pytest.fixture
def user_store(redis_client, settings, city):
    """The user store on the test Redis, with the city's departments and the settings' limits."""
    from ioc.web.services import user_store as make_store

    return make_store(redis_client, settings, city)


def add_test_user(store, *roles: str, name: str | None = None, department: str = "", password: str = TEST_PASSWORD,
                  display_name: str = "") -> tuple[str, str]:
    from ioc.adapters.user_store import Actor

    name = name or f"{'-'.join(roles) or 'nobody'}-{uuid.uuid4().hex[:6]}"
    store.add(name, list(roles), Actor("test", "admin"), password=password, display_name=display_name, department=department)
    return name, password


def make_user_in(settings: Settings, *roles: str, **kwargs) -> tuple[str, str]:
    """Add a user to the Redis of `settings` (for tests with their own private Redis)."""
    from ioc.web.services import user_store as make_store

    client = connect_redis(settings.redis_url)
    try:
        return add_test_user(make_store(client, settings, load_city_map(REPO_ROOT / "geodata")), *roles, **kwargs)
    finally:
        client.close()


@pytest.fixture
def make_user(user_store):
    """`make_user("dispatcher", "leader", name=…, department=…)` adds a user; returns (name, password)."""

    def make(*roles: str, **kwargs) -> tuple[str, str]:
        return add_test_user(user_store, *roles, **kwargs)

    return make


def browser_sign_in(dash_duo, name: str, password: str, next_path: str = "/") -> None:
    """Sign in through the real sign-in page of the server that
    `dash_duo.start_server(app, navigate=False)` started, landing on `next_path` (the sign-in
    page's `next`; "/": the user's home page); returns once Dash has drawn the page."""
    from urllib.parse import quote

    from selenium.webdriver.common.by import By

    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(f"{base}/login" + (f"?next={quote(next_path)}" if next_path != "/" else ""))
    dash_duo.driver.find_element(By.ID, "login-name").send_keys(name)
    dash_duo.driver.find_element(By.ID, "login-password").send_keys(password)
    dash_duo.driver.find_element(By.ID, "login-submit").click()
    wait_for(lambda: "/login" not in dash_duo.driver.current_url, message="the sign-in to finish")
    dash_duo.set_base_url(base)  # for dash_duo.server_url and wait_for_page(), without loading the page again
    dash_duo.wait_for_element("#page", timeout=15)


def browser_sign_out(dash_duo) -> None:
    """Sign out as a user would, without a race: leave the page first (its periodic callbacks stop
    and any in flight are dropped with it), then open /logout. A tick still on its way when the
    session ends would otherwise be answered 401 and land in the next page's browser log."""
    dash_duo.driver.get("about:blank")
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + "/logout")
    wait_for(lambda: "/login" in dash_duo.driver.current_url, message="the sign-out")


# ---- cases -------------------------------------------------------------------------------------

@pytest.fixture
def case_store(redis_client):
    from ioc.adapters.case_store import CaseStore

    return CaseStore(redis_client)


@pytest.fixture
def case_service(redis_client, city, settings):
    from ioc.casework.service import CaseService

    return CaseService.from_settings(redis_client, city, settings)


@pytest.fixture
def case_settings(settings) -> Settings:
    """Settings of a case worker: its own persistent-session client id, overdue scans every second."""
    return settings.replace(cases_client_id=f"test-cases-{uuid.uuid4().hex[:8]}", cases_scan_s=1)


@pytest.fixture
def start_cases(case_settings, city, redis_client):
    """`start_cases()` runs a CaseWorker on a thread; every one started is stopped at the end."""
    from ioc.casework.worker import CaseWorker

    running: list[RunningWorker] = []

    def start() -> RunningWorker:
        running.append(RunningWorker(CaseWorker(case_settings, connect_redis(case_settings.redis_url), city)).start())
        return running[-1]

    yield start
    for r in running:
        if r.thread.is_alive():
            r.stop()


@pytest.fixture
def cases(start_cases):
    """A running case worker."""
    return start_cases()


# ---- browsers and app servers ------------------------------------------------------------------
# Starting Chromium takes seconds: each test module drives one Chromium (`module_browser`) that
# `dash_duo` hands to its tests one after the other, cleaned in between (no cookies, a blank page,
# the window at 1920x1080, the console drained). Each test still starts its own app server
# (`dash_duo.start_server`, milliseconds) on its own port, against its own flushed Redis.

class AppServer:
    """A web app (a Dash app, or any WSGI app) served on a thread on a free port, like
    dash.testing's ThreadedRunner, which stops its server by killing every thread started after
    it (the test's workers too) and takes its ports from a fixed range shared by all test
    processes. `url` names it `localhost`, as dash.testing does."""

    def __init__(self, app, port: int | None = None):
        self.app = app
        self.port = port or embedded.free_port()
        self.url = f"http://localhost:{self.port}"
        self.httpd = None
        self.thread = None

    def start(self) -> "AppServer":
        from werkzeug.serving import make_server

        wsgi = getattr(self.app, "server", self.app)  # a Dash app serves through its Flask server
        if hasattr(self.app, "scripts"):
            self.app.scripts.config.serve_locally = True
            self.app.css.config.serve_locally = True
        self.httpd = make_server("127.0.0.1", self.port, wsgi, threaded=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                                       name=f"test-web-{self.port}")
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(10)
            self.httpd = None


def _clean_browser(driver, size=(1920, 1080)) -> None:
    """A blank page, no cookies or site data, the window at `size`: as a new Chromium starts."""
    try:
        driver.switch_to.default_content()
        origin = driver.execute_script("return window.location.origin")
        driver.get("about:blank")
        if origin.startswith("http"):  # the page's storage; the HTTP cache (Dash's scripts) stays
            driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
    finally:
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    if driver.execute_script("return [window.innerWidth, window.innerHeight]") != list(size):
        driver.set_window_size(*size)
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        if inner != list(size):  # the outer size includes no browser chrome in headless mode; make sure of the viewport
            driver.set_window_size(2 * size[0] - inner[0], 2 * size[1] - inner[1])


def _new_duo(request, tmp_path_factory):
    from dash.testing.composite import DashComposite

    class Duo(DashComposite):
        """dash_duo on a Chromium shared by the tests of a module; `start_server` starts an
        AppServer, stopped at the end of the test."""

        def __init__(self, **kwargs):
            super().__init__(server=None, **kwargs)
            self.servers: list[AppServer] = []
            # a test's (first) server listens on the module's port: the same origin for every
            # test, so Chromium loads Dash's scripts from its cache after the first test
            self.port = embedded.free_port()

        def start_server(self, app, navigate=True, **kwargs):
            self.server = AppServer(app, None if self.servers else self.port).start()
            self.servers.append(self.server)
            if navigate:
                self.server_url = self.server.url

        def set_base_url(self, url: str) -> None:
            """Set `server_url` without loading it (the setter loads it and waits for Dash)."""
            self._url = url

        def begin(self) -> "Duo":
            self.driver.get_log("browser")  # drained: get_logs() holds this test's messages only
            # no position unless a test sets one (headless Chromium would ask Google's network
            # location service, unreachable here, and log the failure)
            self.driver.execute_cdp_cmd("Emulation.setGeolocationOverride", {})
            return self

        def end(self) -> None:
            try:
                _clean_browser(self.driver)
                self.driver.get_log("browser")
            finally:
                for server in self.servers:
                    server.stop()
                self.servers.clear()
                self.server, self._url = None, ""
                self._last_ts = 0

    return Duo(
        browser=request.config.getoption("webdriver"),
        remote=request.config.getoption("remote"),
        remote_url=request.config.getoption("remote_url"),
        headless=request.config.getoption("headless"),
        options=request.config.hook.pytest_setup_options(),
        download_path=str(tmp_path_factory.mktemp("download")),
        percy_assets_root=request.config.getoption("percy_assets"),
        percy_finalize=request.config.getoption("nopercyfinalize"),
        pause=request.config.getoption("pause"),
    )


@pytest.fixture(scope="module")
def module_browser(request, tmp_path_factory):
    """One Chromium (as dash.testing drives it) for the tests of a module."""
    duo = _new_duo(request, tmp_path_factory)
    yield duo
    duo.driver.quit()


@pytest.fixture
def dash_duo(module_browser):
    """dash.testing's dash_duo, on the module's Chromium: the same methods; `start_server`
    serves the app on a free port until the end of the test."""
    yield module_browser.begin()
    module_browser.end()


@pytest.fixture(scope="module")
def module_verbose_chromium():
    from selenium import webdriver

    options = pytest_setup_options()
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options)
    yield driver
    driver.quit()


@pytest.fixture
def verbose_browser(module_verbose_chromium):
    """A Chromium of its own that keeps every console message (dash_duo keeps only SEVERE ones);
    the module's, its console drained for the test."""
    driver = module_verbose_chromium
    driver.get_log("browser")
    yield driver
    _clean_browser(driver)
    driver.get_log("browser")


def sign_in_with(driver, base: str, name: str, password: str, next_path: str = "/") -> None:
    """Sign in through the form in a plain selenium driver (not dash_duo's)."""
    from urllib.parse import quote

    from selenium.webdriver.common.by import By

    driver.get(f"{base}/login?next={quote(next_path)}")
    driver.find_element(By.ID, "login-name").send_keys(name)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


@pytest.fixture
def case_portal(dash_duo, settings):
    """dash_duo with the app running (nobody signed in); `.cases` is the app's CaseService."""
    from ioc.web.app import create_app

    app = create_app(settings)
    dash_duo.start_server(app, navigate=False)
    dash_duo.cases = app.server.extensions["ioc_cases"]
    return dash_duo


@pytest.fixture
def portal_client(settings, redis_client):
    """The web app's Flask test client on the test Redis; `.users` is its user store."""
    from ioc.web.app import create_app

    app = create_app(settings)
    client = app.server.test_client()
    client.users = app.server.extensions["ioc_users"]
    return client


# ---- callbacks and routes called as plain functions --------------------------------------------

import contextlib  # noqa: E402 - this section is appended on its own


@contextlib.contextmanager
def dash_callback(triggered: str = "", lang: str = "zh", outputs: int = 1):
    """A Dash callback context, as Dash's guide to unit-testing callbacks sets one: `triggered` is
    the prop id that fired (`"admin-user-add.n_clicks"`), `lang` the `lang` store. Yields the
    props the callback sent with `dash.set_props` (component id -> props)."""
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    value = AttributeDict(
        triggered_inputs=[{"prop_id": triggered, "value": 1}] if triggered else [],
        input_values={triggered: 1} if triggered else {}, state_values={"lang.data": lang},
        outputs_list=[{"id": f"output-{i}", "property": "children"} for i in range(outputs)], updated_props={},
    )
    token = context_value.set(value)
    try:
        yield value.updated_props
    finally:
        context_value.reset(token)


@pytest.fixture
def portal_app(settings, redis_client):
    """The web app (`create_app`) on the test Redis: its services are in the Flask app's extensions."""
    from ioc.web.app import create_app

    return create_app(settings)


@pytest.fixture
def signed_in(portal_app):
    """`with signed_in("admin", triggered="admin-user-add.n_clicks") as sent:` — inside, a request of
    `portal_app` whose principal holds those roles, in a Dash callback context: its callbacks and
    routes run as plain function calls. `sent` is what the callback sent with `dash.set_props`."""
    from flask import g

    from ioc.domain.access import Principal

    @contextlib.contextmanager
    def enter(*roles: str, name: str = "", department: str = "", triggered: str = "", lang: str = "zh", outputs: int = 1):
        principal = Principal(name or f"{'-'.join(roles) or 'nobody'}-test", frozenset(roles), department=department)
        with portal_app.server.test_request_context(), dash_callback(triggered, lang, outputs) as sent:
            g.ioc_principal = principal
            yield sent

    return enter
