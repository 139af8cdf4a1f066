"""What the figures were measured on: CPU, cores, RAM, kernel, Python, servers, date, commit."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=REPO).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def server_version(name: str, binary: str) -> str:
    if name in ("redis-server", "valkey"):
        out = _run([binary, "--version"])  # "Redis server v=7.0.15 sha=…"
        for part in out.split():
            if part.startswith("v="):
                return f"{name} {part[2:]}"
        return out or name
    if name == "mosquitto":
        out = _run([binary, "-h"]).splitlines()  # "mosquitto version 2.0.11"
        return out[0] if out else name
    return name


def info(redis_version: str = "", mqtt_version: str = "") -> dict:
    commit = _run(["git", "rev-parse", "--short", "HEAD"])
    dirty = bool(_run(["git", "status", "--porcelain"]))
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "redis": redis_version,
        "mqtt": mqtt_version,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": commit + (" (uncommitted changes)" if dirty else ""),
    }


def one_line(m: dict) -> str:
    return (f"{m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, Linux {m['kernel']}, Python {m['python']}, "
            f"{m['redis']}, {m['mqtt']}; {m['date']}, commit {m['commit']}"
            + (f"; load average at start {m['load_average_at_start'][0]}" if m.get("load_average_at_start") else ""))
