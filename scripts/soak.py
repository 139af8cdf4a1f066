"""Soak test: the demo city at 5,000 msg/s for a while, with random faults injected.

    .venv/bin/python -m scripts.soak [--minutes 30] [--seed 1] [--rate 5000] [--faults-every 90]
    make soak ARGS="--minutes 10"

Starts its own Redis (AOF everysec) and Mosquitto on free loopback ports with data in a temporary
folder, then the product as real processes: two `python -m ioc ingest` workers on one shared
subscription (IOC_INGEST_GROUP), `python -m ioc cases`, `python -m ioc web` and
`python -m simulators --rate R` with casework on (the simulated duty desk gets an API token made
with `python -m ioc token create`). A bare paho subscriber (`scripts.soak_tap`) counts what the
broker delivered on the topics the ingest reads: the reference of what was published.

While it runs, faults follow a seeded schedule (one of each kind per round, in shuffled order):

- `broker_restart`: Mosquitto stopped (SIGTERM), started again after `--broker-down` seconds;
- `redis_restart`: Redis killed with SIGKILL, started again from its AOF after `--redis-down` s;
- `ingest_kill`: one ingest worker killed with SIGKILL, restarted after `--restart-delay` s;
- `cases_kill`: the case worker killed with SIGKILL, restarted after `--restart-delay` s.

A small supervisor restarts what the soak killed (like a process manager would) and also any
product process that exits by itself, which is counted as an unexpected exit. Every
`--sample-every` seconds it samples `ioc:metrics`, Redis `used_memory`, the RSS of each process
(with its children), the simulators' and the reference subscriber's counts and `/healthz`, and
prints a progress line. At the end the simulators are stopped first, the figures are left to
settle, then every process gets SIGTERM (so held counters are flushed) and the report is
written: `docs/soak.md` and `docs/soak.json` (`--out` elsewhere).

Exit code 0 when the run completed, even if it found problems (the report lists them); 1 when the
harness itself broke; 130 when interrupted (Ctrl-C stops everything, and every child also dies
with this process: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import redis
import requests

from ioc.adapters import case_store
from ioc.adapters import redis_keys as keys
from ioc.adapters.embedded import Server, _die_with_parent, _wait_port, free_port, mqtt_broker, redis_server
from ioc.settings import REPO_ROOT

FAULT_KINDS = ("broker_restart", "redis_restart", "ingest_kill", "cases_kill")
# reasons only the case worker gives (its report and update rejections share messages:rejected)
CASE_REASONS = {"bad_report", "unknown_category", "outside_city", "bad_update", "update_refused"}
# paho's reconnect back-off in the product's clients (ioc.adapters.mqtt): 1 s, doubling, at most 10 s
PAHO_MIN_DELAY, PAHO_MAX_DELAY = 1.0, 10.0
INGEST_ROLLUP_FLUSH_S = 1.0  # IOC_COUNTER_FLUSH_MS default / 1000: counters held in memory this long
INGEST_FLUSH_MS = 5  # IOC_INGEST_FLUSH_MS default


STARTED_PIDS: list[int] = []  # every process the soak started (servers, product, tap), for the report


def log(msg: str) -> None:
    print(f"[soak {datetime.now():%H:%M:%S}] {msg}", flush=True)


def _child_setup() -> None:
    """In the child, before exec: its own process group (a Ctrl-C in the terminal reaches only
    the soak, which then stops everything in order) and death with the parent."""
    os.setpgrp()
    _die_with_parent()


class GroupServer(Server):
    """An embedded server (ioc.adapters.embedded) started in its own process group."""

    def start(self) -> "GroupServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(self.argv, cwd=self.data_dir, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_child_setup)
        STARTED_PIDS.append(self.proc.pid)
        _wait_port(self.port, self.proc, self.name)
        return self


def _grouped(server: Server) -> GroupServer:
    return GroupServer(server.name, server.url, server.port, server.data_dir, server.argv, server.log_path)


def tree_rss(pid: int) -> int | None:
    """RSS of a process and all its descendants, bytes (None if it is gone)."""
    try:
        p = psutil.Process(pid)
        total = p.memory_info().rss
        for c in p.children(recursive=True):
            try:
                total += c.memory_info().rss
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return None


# ---- product processes ----------------------------------------------------------------------------

@dataclass
class Child:
    """One product process (`python -m ioc …` or `python -m simulators`), supervised."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    planned_restarts: int = 0
    unexpected_exits: list = field(default_factory=list)
    restart_at: float | None = None  # soak time at which the supervisor starts it again
    down_reason: str = ""  # "killed" (by the soak) or "exited" (by itself)
    log_offset: int = 0  # where the current run's output starts in the log

    def start(self) -> None:
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(self.argv, cwd=REPO_ROOT, env=self.env, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_child_setup)
        STARTED_PIDS.append(self.proc.pid)
        self.starts += 1
        self.restart_at = None
        self.down_reason = ""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self, timeout: float, signalled: bool = False) -> tuple[int | None, bool]:
        """SIGTERM (unless `signalled` already) and wait: (exit code, stopped in time).
        SIGKILL after `timeout`."""
        if not self.alive:
            return (self.proc.returncode if self.proc else None), True
        if not signalled:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout), True
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return self.proc.returncode, False

    def run_log(self) -> str:
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode(errors="replace")

    def wait_log(self, pattern: str, timeout: float) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.run_log()):
                return True
            if not self.alive:
                return False
            time.sleep(0.1)
        return False


# ---- options and fault schedule ----------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scripts.soak", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--minutes", type=float, default=30.0, help="duration of the run (faults and load), minutes")
    p.add_argument("--seed", type=int, default=1, help="seed of the fault schedule (times, kinds, which ingest worker)")
    p.add_argument("--rate", type=float, default=5000.0, help="telemetry msg/s asked of the simulators (--rate)")
    p.add_argument("--devices", type=int, default=5000, help="simulated field devices (--devices)")
    p.add_argument("--faults-every", type=float, default=90.0,
                   help="mean seconds between faults (each gap drawn from 0.75-1.25 times it); 0: no faults")
    p.add_argument("--faults", default=",".join(FAULT_KINDS), help="fault kinds to inject, comma-separated")
    p.add_argument("--broker-down", type=float, default=1.0, help="seconds Mosquitto stays stopped at a broker restart")
    p.add_argument("--redis-down", type=float, default=3.0, help="seconds Redis stays dead at a Redis restart")
    p.add_argument("--restart-delay", type=float, default=3.0, help="seconds before the supervisor restarts a killed worker")
    p.add_argument("--sample-every", type=float, default=10.0, help="seconds between samples and progress lines")
    p.add_argument("--ingest-workers", type=int, default=2, help="ingest workers on the shared subscription")
    p.add_argument("--web-workers", type=int, default=1, help="gunicorn workers of the web process (IOC_WEB_WORKERS)")
    p.add_argument("--sim-speed", type=float, default=60.0, help="simulated-time multiplier (--speed), so cases flow to closure within minutes")
    p.add_argument("--reports-per-hour", type=float, default=600.0, help="case reports per real hour (--reports-per-hour)")
    p.add_argument("--sim-start", default="09:00",
                   help="simulated time of day (+08:00, today) the simulators start at (--start), so case reports, "
                        "shaped by the time of day, flow from the first minute; 'now' for the real time")
    p.add_argument("--sim-args", default="", help="more flags for `python -m simulators`, e.g. \"--workers 2\"")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "docs", help="folder for soak.md and soak.json")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (data and logs) at the end")
    return p


def fault_schedule(duration: float, every: float, kinds: list[str], seed: int) -> list[tuple[float, str]]:
    """[(seconds after start, kind)]: the first after one gap, then gaps of 0.75-1.25 × `every`;
    kinds in rounds of one each, shuffled per round; none in the last stretch (a quarter of the
    run, at most 60 s) so the figures settle before the end."""
    if every <= 0 or not kinds:
        return []
    rng = random.Random(seed)
    quiet_tail = min(60.0, duration / 4)
    out, bag = [], []
    t = min(every, 30.0)
    while t < duration - quiet_tail:
        if not bag:
            bag = list(kinds)
            rng.shuffle(bag)
        out.append((round(t, 1), bag.pop()))
        t += every * rng.uniform(0.75, 1.25)
    return out


def next_attempt(down: float) -> float:
    """When a paho client of the product (back-off 1 s doubling to 10 s) first tries again at
    or after `down` seconds of outage: 1, 3, 7, 15, 25, 35, … s after the loss."""
    t, delay = PAHO_MIN_DELAY, PAHO_MIN_DELAY
    while t < down:
        delay = min(delay * 2, PAHO_MAX_DELAY)
        t += delay
    return t


# ---- the soak ------------------------------------------------------------------------------------

class HarnessError(RuntimeError):
    pass


class Soak:
    def __init__(self, opts: argparse.Namespace):
        self.opts = opts
        self.duration = opts.minutes * 60
        self.kinds = [k.strip() for k in opts.faults.split(",") if k.strip()]
        bad = [k for k in self.kinds if k not in FAULT_KINDS]
        if bad:
            raise SystemExit(f"unknown fault kind(s): {', '.join(bad)} (known: {', '.join(FAULT_KINDS)})")
        self.schedule = fault_schedule(self.duration, opts.faults_every, self.kinds, opts.seed)
        self.rng = random.Random(opts.seed + 1)  # which ingest worker to kill
        self.tmp = Path(tempfile.mkdtemp(prefix="ioc-soak-"))
        self.redis: GroupServer | None = None
        self.broker: GroupServer | None = None
        self.children: dict[str, Child] = {}
        self.tap: subprocess.Popen | None = None
        self.tap_path = self.tmp / "tap.json"
        self.rc: redis.Redis | None = None
        self.port = free_port()
        self.t0 = 0.0
        self.events: list[dict] = []  # fault timeline: faults, recoveries, restarts, exits
        self.samples: list[dict] = []
        self.pending: list[tuple[float, str, str]] = []  # (soak time, action, target)
        self.stop_requested: str | None = None
        self.findings: list[str] = []
        self.sim_runs: list[int] = []  # messages sent by finished simulator runs
        self.server_outages: list[dict] = []
        self.stop_codes: dict[str, dict] = {}
        self.pids = STARTED_PIDS
        self.kills_in_flight: list[dict] = []  # per ingest kill: queue and socket bytes just before

    # -- helpers --------------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.t0 if self.t0 else 0.0

    def event(self, kind: str, target: str, detail: str = "") -> None:
        e = {"t": round(self.now(), 1), "wall": datetime.now().strftime("%H:%M:%S"), "kind": kind, "target": target, "detail": detail}
        self.events.append(e)
        log(f"t+{e['t']:.0f}s {kind} {target}{(' — ' + detail) if detail else ''}")

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("IOC_") and k not in ("REDIS_URL", "MQTT_URL", "PORT")}
        return {**base, "REDIS_URL": self.redis.url, "MQTT_URL": self.broker.url, "IOC_DATA_DIR": str(self.tmp),
                "IOC_SECRET_KEY": self.secret, "IOC_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
                "IOC_INGEST_GROUP": "soak", "PORT": str(self.port), "IOC_HOST": "127.0.0.1",
                "IOC_WEB_WORKERS": str(self.opts.web_workers), **extra}

    def redis_client(self) -> redis.Redis:
        if self.rc is None:
            self.rc = redis.Redis(host="127.0.0.1", port=self.redis.port, socket_timeout=1, socket_connect_timeout=1,
                                  decode_responses=True)
        return self.rc

    def metrics(self) -> dict[str, int] | None:
        try:
            return {k: int(v) for k, v in self.redis_client().hgetall(keys.METRICS).items()}
        except (redis.RedisError, OSError, ValueError):
            return None

    def tap_counts(self) -> dict:
        try:
            return json.loads(self.tap_path.read_text())
        except (OSError, ValueError):
            return {}

    def sim_run_sent(self) -> int:
        """Messages the current simulator run has published: its final line ("… N messages sent")
        once it stopped, else its latest progress line ("sent N messages (S status) …", every 10 s)."""
        sim = self.children.get("simulators")
        if sim is None:
            return 0
        text = sim.run_log()
        final = re.findall(r"(\d+) messages sent", text)
        progress = re.findall(r"sent (\d+) messages \(", text)
        return int(final[-1]) if final else (int(progress[-1]) if progress else 0)

    def sim_sent(self) -> int:
        """Messages the simulators have published, every run summed."""
        return sum(self.sim_runs) + self.sim_run_sent()

    def close_sim_run(self) -> None:
        self.sim_runs.append(self.sim_run_sent())
        sim = self.children["simulators"]
        sim.log_offset = sim.log_path.stat().st_size if sim.log_path.exists() else 0

    # -- start-up -------------------------------------------------------------------------------
    def start(self) -> None:
        o = self.opts
        self.secret = secrets.token_urlsafe(32)
        log(f"temporary folder {self.tmp}")
        self.redis = _grouped(redis_server(self.tmp / "redis")).start()
        self.broker = _grouped(mqtt_broker(self.tmp / "mqtt")).start()
        log(f"Redis {self.redis.url} ({self.redis.name}), MQTT {self.broker.url} ({self.broker.name})")
        py = sys.executable
        # the simulated duty desk's API token, made with the product's CLI
        out = subprocess.run([py, "-m", "ioc", "token", "create", "soak duty desk", "--role", "dispatcher", "--role", "inspector"],
                             cwd=REPO_ROOT, env=self.env(), capture_output=True, text=True, timeout=60)
        if out.returncode != 0 or len(out.stdout.splitlines()) < 2:
            raise HarnessError(f"`python -m ioc token create` failed: {out.stdout}{out.stderr}")
        token = out.stdout.splitlines()[1].strip()

        self.tap = subprocess.Popen([py, "-m", "scripts.soak_tap", "--mqtt-url", self.broker.url, "--out", str(self.tap_path)],
                                    cwd=REPO_ROOT, env=self.env(), stdout=open(self.tmp / "tap.log", "ab"),
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_child_setup)
        STARTED_PIDS.append(self.tap.pid)

        def add(name: str, argv: list[str], **env: str) -> Child:
            self.children[name] = Child(name, argv, self.env(**env), self.tmp / f"{name}.log")
            return self.children[name]

        for i in range(o.ingest_workers):
            add(f"ingest-{chr(97 + i)}", [py, "-m", "ioc", "ingest"], IOC_INGEST_CLIENT_ID=f"soak-ingest-{chr(97 + i)}")
        add("cases", [py, "-m", "ioc", "cases"], IOC_CASES_CLIENT_ID="soak-cases")
        add("web", [py, "-m", "ioc", "web"])
        sim_argv = [py, "-m", "simulators", "--rate", f"{o.rate:g}", "--devices", str(o.devices), "--speed", f"{o.sim_speed:g}",
                    "--reports-per-hour", f"{o.reports_per_hour:g}", *o.sim_args.split()]
        if o.sim_start != "now":
            today = datetime.now(timezone(timedelta(hours=8))).date().isoformat()
            sim_argv += ["--start", f"{today}T{o.sim_start}"]
        add("simulators", sim_argv, IOC_SIM_API_TOKEN=token, IOC_SIM_API_URL=f"http://127.0.0.1:{self.port}")

        for name, child in self.children.items():
            if name != "simulators":
                child.start()
        for name, child in self.children.items():
            if name.startswith("ingest") and not child.wait_log(r"subscribed to", 60):
                raise HarnessError(f"{name} did not subscribe:\n{child.run_log()[-2000:]}")
            if name == "cases" and not child.wait_log(r"connected to broker", 60):
                raise HarnessError(f"cases did not connect:\n{child.run_log()[-2000:]}")
        deadline = time.time() + 90
        while self.healthz() != 200:
            if time.time() > deadline or not self.children["web"].alive:
                raise HarnessError(f"the web process did not become healthy:\n{self.children['web'].run_log()[-2000:]}")
            time.sleep(0.3)
        time.sleep(0.5)  # SUBACKs
        self.children["simulators"].start()
        if not self.children["simulators"].wait_log(r"published \d+ retained births|simulating", 120):
            raise HarnessError(f"the simulators did not start:\n{self.children['simulators'].run_log()[-2000:]}")
        self.t0 = time.monotonic()
        self.wall_start = datetime.now().astimezone()
        self.event("start", "all", f"ingest ×{o.ingest_workers}, cases, web, simulators at {o.rate:g} msg/s")
        for t, kind in self.schedule:
            self.pending.append((t, kind, ""))

    def healthz(self) -> int | None:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code
        except requests.RequestException:
            return None

    # -- faults and the supervisor --------------------------------------------------------------
    def due(self) -> None:
        now = self.now()
        ready = sorted(a for a in self.pending if a[0] <= now)
        self.pending = [a for a in self.pending if a[0] > now]
        for _t, action, target in ready:
            self.act(action, target)

    def act(self, action: str, target: str) -> None:
        o = self.opts
        if action == "broker_restart":
            if not self.broker.running:  # still down from an earlier fault: a little later
                self.pending.append((self.now() + 1, action, target))
                return
            self.event("fault", "broker", "broker_restart: Mosquitto stopped (SIGTERM)")
            self.broker.stop()
            self.server_outages.append({"kind": "broker_restart", "down_at": self.now()})
            self.pending.append((self.now() + o.broker_down, "broker_start", ""))
        elif action == "broker_start":
            self.broker.start()
            out = next(x for x in reversed(self.server_outages) if x["kind"] == "broker_restart")
            out["up_at"] = self.now()
            self.event("recovery", "broker", f"Mosquitto started again after {out['up_at'] - out['down_at']:.1f} s")
        elif action == "redis_restart":
            if not self.redis.running:
                self.pending.append((self.now() + 1, action, target))
                return
            self.event("fault", "redis", "redis_restart: Redis killed (SIGKILL)")
            self.redis.kill()
            self.server_outages.append({"kind": "redis_restart", "down_at": self.now()})
            self.pending.append((self.now() + o.redis_down, "redis_start", ""))
        elif action == "redis_start":
            self.redis.start()
            loaded = self.wait_redis_loaded(60)
            out = next(x for x in reversed(self.server_outages) if x["kind"] == "redis_restart")
            out["up_at"] = self.now()
            out["aof_load_s"] = loaded
            self.event("recovery", "redis", f"Redis started again from its AOF after {out['up_at'] - out['down_at']:.1f} s"
                       f" (AOF loaded in {loaded:.1f} s)")
        elif action in ("ingest_kill", "cases_kill"):
            if action == "cases_kill":
                target = "cases"
            else:
                alive = [n for n, c in self.children.items() if n.startswith("ingest") and c.alive]
                if not alive:
                    self.pending.append((self.now() + 1, action, target))
                    return
                target = self.rng.choice(alive)
            child = self.children[target]
            if not child.alive:
                self.pending.append((self.now() + 1, action, target))
                return
            detail = f"{action}: kill -9 of pid {child.proc.pid}"
            if action == "ingest_kill":
                held = self.in_flight(target, child.proc.pid)
                self.kills_in_flight.append(held)
                detail += (f" (its last heartbeat, {held['heartbeat_age_s']} s old, had {held['queued']} queued; "
                           f"{held['socket_bytes']} bytes in the TCP buffers between it and the broker)")
            self.event("fault", target, detail)
            child.kill9()
            child.down_reason = "killed"
            child.restart_at = self.now() + o.restart_delay
        else:  # pragma: no cover
            raise HarnessError(f"unknown action {action}")

    def in_flight(self, name: str, pid: int) -> dict:
        """What an ingest worker holds just before it is killed: its queue (last heartbeat) and
        the bytes waiting in the two TCP buffers between it and the broker (/proc/net/tcp)."""
        out = {"worker": name, "queued": None, "heartbeat_age_s": None, "socket_bytes": None}
        try:
            beat = json.loads(self.redis_client().hget(keys.WORKERS, f"soak-{name}") or "{}")
            out["queued"] = beat.get("queued")
            if beat.get("seen_ms"):
                out["heartbeat_age_s"] = round(time.time() - beat["seen_ms"] / 1000, 1)
        except (redis.RedisError, OSError, ValueError):
            pass
        try:
            ports = {c.laddr.port for c in psutil.Process(pid).net_connections(kind="tcp")
                     if c.raddr and c.raddr.port == self.broker.port}
            total = 0
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
                f = line.split()
                local, remote = int(f[1].split(":")[1], 16), int(f[2].split(":")[1], 16)
                tx, rx = (int(x, 16) for x in f[4].split(":"))
                if local in ports and remote == self.broker.port:
                    total += rx  # received by the kernel for the worker, not yet read
                elif local == self.broker.port and remote in ports:
                    total += tx  # written by the broker, not yet acknowledged
            out["socket_bytes"] = total
        except (psutil.Error, OSError, ValueError, IndexError):
            pass
        return out

    def wait_redis_loaded(self, timeout: float) -> float:
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            try:
                if self.redis_client().ping():
                    return time.monotonic() - t
            except (redis.RedisError, OSError):
                pass
            time.sleep(0.05)
        raise HarnessError(f"Redis did not finish loading its AOF within {timeout:.0f} s")

    def supervise(self) -> None:
        now = self.now()
        for name, child in self.children.items():
            if child.alive:
                continue
            if child.restart_at is None:  # died by itself
                code = child.proc.returncode
                tail = child.run_log()[-1500:]
                child.unexpected_exits.append({"t": round(now, 1), "code": code, "log_tail": tail})
                self.event("unexpected_exit", name, f"exited with code {code}")
                child.down_reason = "exited"
                child.restart_at = now + 1.0
            elif now >= child.restart_at:
                planned = child.down_reason == "killed"
                if planned:
                    child.planned_restarts += 1
                if name == "simulators":
                    self.close_sim_run()
                child.start()
                self.event("restart", name, f"{'planned' if planned else 'after an unexpected exit'}: pid {child.proc.pid}")

    # -- sampling -------------------------------------------------------------------------------
    def sample(self) -> dict:
        m = mem = aof = cases_total = cases_open = ingest_queued = None
        if self.redis.running:  # while it is dead, every call would wait for its timeout
            try:
                c = self.redis_client()
                m = {k: int(v) for k, v in c.hgetall(keys.METRICS).items()}
                mem = c.info("memory").get("used_memory")
                aof = c.info("persistence").get("aof_current_size")
                cases_total, cases_open = c.hlen(case_store.DATA), c.zcard(case_store.OPEN)
                beats = [json.loads(v) for v in c.hvals(keys.WORKERS)]
                ingest_queued = sum(b.get("queued", 0) for b in beats if "queued" in b and b.get("group") == "soak")
            except (redis.RedisError, OSError, ValueError):
                pass
        rss = {name: (tree_rss(ch.proc.pid) if ch.alive else None) for name, ch in self.children.items()}
        rss["redis"] = tree_rss(self.redis.proc.pid) if self.redis.running else None
        rss["mosquitto"] = tree_rss(self.broker.proc.pid) if self.broker.running else None
        tap = self.tap_counts()
        s = {
            "t": round(self.now(), 1), "wall": datetime.now().strftime("%H:%M:%S"), "metrics": m,
            "redis_used_memory": mem, "redis_aof_bytes": aof, "rss": rss, "sim_sent": self.sim_sent(),
            "tap_telemetry": tap.get("telemetry"), "tap_status": tap.get("status"), "healthz": self.healthz(),
            "cases_total": cases_total, "cases_open": cases_open, "ingest_queued": ingest_queued,
            "loadavg": list(os.getloadavg()),
        }
        self.samples.append(s)
        return s

    def progress(self, s: dict) -> None:
        def published(x):
            return (x["tap_telemetry"] or 0) + (x["tap_status"] or 0)

        m = s["metrics"] or {}
        pub = published(s)
        prev_pub = next((p for p in reversed(self.samples[:-1]) if p.get("tap_telemetry") is not None), None)
        prev_acc = next((p for p in reversed(self.samples[:-1]) if p.get("metrics")), None)
        rate_pub = (pub - published(prev_pub)) / max(s["t"] - prev_pub["t"], 1e-9) if prev_pub else 0.0
        rate_acc = ((m.get("messages:accepted", 0) - prev_acc["metrics"].get("messages:accepted", 0)) / max(s["t"] - prev_acc["t"], 1e-9)
                    if prev_acc and s["metrics"] else 0.0)
        faults = sum(1 for e in self.events if e["kind"] == "fault")
        restarts = sum(c.planned_restarts for c in self.children.values())
        unexpected = sum(len(c.unexpected_exits) for c in self.children.values())
        mem = f"{s['redis_used_memory'] / 2**20:.0f} MB" if s["redis_used_memory"] else "down"
        total = self.duration
        log(f"{_mmss(s['t'])}/{_mmss(total)} published {pub} ({rate_pub:.0f}/s), accepted {m.get('messages:accepted', '?')} "
            f"({rate_acc:.0f}/s), rejected {m.get('messages:rejected', '?')} | faults {faults}/{len(self.schedule)}, "
            f"restarts {restarts} planned {unexpected} unexpected | Redis {mem} | healthz {s['healthz']} | "
            f"load {s['loadavg'][0]:.1f}")

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> None:
        o = self.opts
        log(f"{o.minutes:g} min at {o.rate:g} msg/s, {len(self.schedule)} faults scheduled (seed {o.seed}): "
            + ", ".join(f"{k}@{t:.0f}s" for t, k in self.schedule))
        next_sample = 0.0
        while not self.stop_requested and self.now() < self.duration:
            self.due()
            self.supervise()
            if self.now() >= next_sample:
                self.progress(self.sample())
                next_sample += o.sample_every
            time.sleep(0.2)
        if self.stop_requested:
            self.event("interrupted", "soak", f"stop requested ({self.stop_requested})")

    def finish(self) -> dict:
        """Bring everything back, stop the simulators, let the figures settle, SIGTERM the rest."""
        self.event("end", "all", "load stops: servers up, killed workers back, then the simulators stopped")
        for _t, action, target in sorted(self.pending):
            if action in ("broker_start", "redis_start"):
                self.act(action, target)
        self.pending = []
        self.supervise()  # records a process that died by itself just now
        for name, child in self.children.items():
            if not child.alive and child.restart_at is not None:
                child.restart_at = self.now()
        self.supervise()
        for name, child in self.children.items():
            if name.startswith("ingest") and child.alive:
                child.wait_log(r"subscribed to", 30)
        sim = self.children["simulators"]
        code, in_time = sim.terminate(60)
        self.stop_codes["simulators"] = {"code": code, "in_time": in_time}
        self.close_sim_run()
        self.final_sample = self.sample()

        def figures():
            m = self.metrics() or {}
            tap = self.tap_counts()
            return (tap.get("telemetry"), tap.get("status"), m.get("messages:accepted"), m.get("messages:rejected"),
                    m.get("messages:dropped"))

        settled, last, since = False, None, time.time()
        deadline = time.time() + 90
        while time.time() < deadline:
            f = figures()
            if f != last:
                last, since = f, time.time()
            elif time.time() - since >= 4:
                settled = True
                break
            time.sleep(0.5)
        if not settled:
            self.findings.append("the ingest counters were still moving 90 s after the simulators stopped")
        if self.tap is not None and self.tap.poll() is None:
            self.tap.terminate()
            try:
                self.tap.wait(10)
            except subprocess.TimeoutExpired:
                self.tap.kill()
        tap = self.tap_counts()
        if not tap.get("final"):
            self.findings.append("harness: the reference subscriber did not write its final counts")
        for name, child in self.children.items():
            if child.alive:
                child.proc.send_signal(signal.SIGTERM)
        for name, child in self.children.items():
            if name == "simulators":
                continue
            code, in_time = child.terminate(30, signalled=True)
            self.stop_codes[name] = {"code": code, "in_time": in_time}
        metrics = self.metrics() or {}
        stages: dict[str, int] = {}
        try:
            for raw in self.redis_client().hvals(case_store.DATA):
                stage = json.loads(raw).get("stage", "?")
                stages[stage] = stages.get(stage, 0) + 1
        except (redis.RedisError, OSError, ValueError):
            pass
        deadletters = 0
        try:
            deadletters = self.redis_client().xlen(keys.DEADLETTER)
        except redis.RedisError:
            pass
        self.final = {"metrics": metrics, "tap": tap, "case_stages": stages, "deadletter_len": deadletters,
                      "redis_used_memory": self.final_sample.get("redis_used_memory")}
        return self.final

    def shutdown(self) -> None:
        """Whatever is still running: SIGTERM, then SIGKILL (also after a harness error)."""
        for child in self.children.values():
            if child.alive:
                child.terminate(10)
        if self.tap is not None and self.tap.poll() is None:
            self.tap.terminate()
            try:
                self.tap.wait(5)
            except subprocess.TimeoutExpired:
                self.tap.kill()
        if self.rc is not None:
            self.rc.close()
        for server in (self.broker, self.redis):
            if server is not None:
                server.stop()


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def main(argv: list[str] | None = None) -> int:
    from scripts.soak_report import analyse, print_summary, write_reports

    opts = build_parser().parse_args(argv)
    soak = Soak(opts)

    def on_signal(signum, _frame):
        if soak.stop_requested:  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        soak.stop_requested = signal.Signals(signum).name
        log("stopping (again to stop at once, without the report)")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        soak.start()
        soak.run()
        soak.finish()
        soak.shutdown()
        result = analyse(soak)
        write_reports(result, opts.out)
        print_summary(result, opts.out)
        code = 130 if soak.stop_requested else 0
    except KeyboardInterrupt:
        log("interrupted")
        code = 130
    except Exception:  # noqa: BLE001 - the harness broke: say where, stop everything
        traceback.print_exc()
        log("the soak harness failed; stopping everything")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        soak.shutdown()
        if opts.keep:
            log(f"data and logs kept in {soak.tmp}")
        else:
            shutil.rmtree(soak.tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
