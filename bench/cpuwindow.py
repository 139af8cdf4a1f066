"""CPU of the processes a scenario started (with their children: gunicorn's workers), of the bench's
Redis and broker, and of the rest of the machine, over a window: % of one core each."""

from __future__ import annotations

import time

import psutil


class CpuWindow:
    """`start()` … `stop()` -> {name: % of one core}, with "other processes": what the rest of
    the machine used meanwhile (the harness itself, anything else running on a shared machine)."""

    def __init__(self, products: list, servers: dict[str, int]):
        self.products = products  # objects with .name and .cpu_seconds() (bench.views.Process)
        self.servers = {}
        for name, pid in (servers or {}).items():
            try:
                self.servers[name] = psutil.Process(pid)
            except psutil.Error:
                pass
        self.t0 = 0.0
        self.before: dict[str, float] = {}
        self.busy0 = 0.0
        self.elapsed = 0.0  # seconds of the last window

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0)

    def _now(self) -> dict[str, float]:
        out = {p.name: p.cpu_seconds() for p in self.products}
        for name, proc in self.servers.items():
            try:
                t = proc.cpu_times()
                out[name] = t.user + t.system
            except psutil.Error:
                out[name] = float("nan")
        return out

    def start(self) -> "CpuWindow":
        self.t0, self.before, self.busy0 = time.monotonic(), self._now(), self._busy()
        return self

    def stop(self) -> dict[str, float]:
        elapsed = self.elapsed = max(time.monotonic() - self.t0, 1e-6)
        now = self._now()
        out = {name: round(100 * (now[name] - self.before[name]) / elapsed, 1) for name in now}
        busy = 100 * (self._busy() - self.busy0) / elapsed
        out["other processes"] = round(max(0.0, busy - sum(v for v in out.values() if v == v)), 1)
        return out


def ms_per(cpu: dict[str, float], seconds: float, count: int, names) -> dict[str, float]:
    """CPU milliseconds per unit of work (`count` of them in `seconds`) of the processes `names`
    found in `cpu` (% of one core): a figure that holds on a busy machine where rates do not."""
    if count <= 0:
        return {}
    return {n: round(cpu[n] / 100 * seconds * 1000 / count, 2) for n in names if n in cpu and cpu[n] == cpu[n]}
