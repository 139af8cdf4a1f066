"""Child processes of the harness: the publisher, the baseline subscriber, ingest workers.

Every child is started with PR_SET_PDEATHSIG (it dies with the harness) and stopped by its own
pid; `Children` keeps track of them so Ctrl-C or an error leaves nothing running.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from ioc.adapters.embedded import _die_with_parent

REPO = Path(__file__).resolve().parent.parent


class Child:
    """A child process whose stdout is read line by line (JSON lines when they parse)."""

    def __init__(self, name: str, argv: list[str], env: dict | None = None, log_path: Path | None = None,
                 stdin: bool = False):
        self.name = name
        self.client_id = ""  # MQTT client id, for ingest workers (their heartbeat field)
        self.lines: queue.Queue = queue.Queue()
        self.last: dict = {}
        self.log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            argv, cwd=REPO, env=env or os.environ.copy(), stdout=subprocess.PIPE, stderr=self.log,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )
        self.ps = psutil.Process(self.proc.pid)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if isinstance(data, dict):
                self.last = data
                self.lines.put(data)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_event(self, event: str, timeout: float) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                data = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}")
                continue
            if data.get("event") == event:
                return data
            if data.get("event") == "error":
                raise RuntimeError(f"{self.name}: {data.get('error')}")
        raise TimeoutError(f"{self.name}: no {event!r} within {timeout:.0f}s")

    def send(self, line: str = "go") -> None:
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not subprocess.DEVNULL:
            self.log.close()


class Children:
    """The children a scenario started; `stop_all()` in a finally block."""

    def __init__(self):
        self.items: list[Child] = []

    def start(self, *args, **kwargs) -> Child:
        child = Child(*args, **kwargs)
        self.items.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.items):
            try:
                child.stop()
            except Exception:  # noqa: BLE001 - stopping must go on for the others
                pass
        self.items.clear()


def publisher(children: Children, spec: dict, work_dir: Path) -> Child:
    child = children.start("publisher", [sys.executable, "-m", "bench.publisher", json.dumps(spec)],
                           log_path=Path(work_dir) / "publisher.log", stdin=True)
    child.wait_event("ready", 60)
    return child


def subscriber(children: Children, mqtt_url: str, topic: str, work_dir: Path) -> Child:
    child = children.start("baseline subscriber", [sys.executable, "-m", "bench.subscriber", mqtt_url, topic],
                           log_path=Path(work_dir) / "subscriber.log")
    child.wait_event("ready", 30)
    return child


def ingest_workers(children: Children, n: int, env: dict, work_dir: Path, group: str = "") -> list[Child]:
    """`python -m ioc ingest` × n (a shared subscription group when n > 1 or `group` is set)."""
    workers = []
    for i in range(n):
        worker_env = dict(env)
        if n > 1 or group:
            worker_env["IOC_INGEST_GROUP"] = group or "bench"
        worker_env["IOC_INGEST_CLIENT_ID"] = f"bench-ingest-{i}-{time.time_ns()}"
        child = children.start(f"ingest-{i}", [sys.executable, "-m", "ioc", "ingest"], env=worker_env,
                               log_path=Path(work_dir) / f"ingest-{i}.log")
        child.client_id = worker_env["IOC_INGEST_CLIENT_ID"]
        workers.append(child)
    return workers


class CpuMeter:
    """CPU used by a set of processes between `start()` and `stop()`, in % of one core."""

    def __init__(self, processes: dict[str, int]):
        self.procs = {name: psutil.Process(pid) for name, pid in processes.items() if pid}
        self.before: dict[str, float] = {}
        self.t0 = 0.0

    @staticmethod
    def _cpu(p: psutil.Process) -> float:
        try:
            t = p.cpu_times()
            return t.user + t.system
        except psutil.Error:
            return float("nan")

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0)

    def start(self) -> None:
        self.t0 = time.time()
        self.before = {name: self._cpu(p) for name, p in self.procs.items()}
        self.busy0 = self._busy()

    def stop(self) -> dict[str, float]:
        """% of one core per process, plus `other processes`: what the rest of the machine used
        meanwhile (the figures of a shared machine are only as good as this is small)."""
        elapsed = max(time.time() - self.t0, 1e-6)
        out = {name: round(100 * (self._cpu(p) - self.before[name]) / elapsed, 1) for name, p in self.procs.items()}
        busy = 100 * (self._busy() - self.busy0) / elapsed
        out["other processes"] = round(max(0.0, busy - sum(v for v in out.values() if v == v)), 1)
        return out
