"""What the runner hands to every scenario's `run(ctx)`.

The first six fields are a stable interface (other scenario modules rely on them); anything
added later gets a default.
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass, field
from typing import Callable

from ioc.settings import Settings


def _print_progress(line: str) -> None:
    print(line, flush=True)


@dataclass
class BenchContext:
    redis_url: str
    mqtt_url: str
    work_dir: pathlib.Path
    quick: bool = False
    runs: int = 3
    progress: Callable[[str], None] = _print_progress
    memory_minutes: float = 30.0
    redis_server: str = ""  # version text of the Redis the run uses, e.g. "redis-server 7.0.15"
    mqtt_broker: str = ""  # e.g. "mosquitto 2.0.18"
    env_overrides: dict = field(default_factory=dict)  # extra IOC_* settings for every process
    server_pids: dict = field(default_factory=dict)  # "mosquitto"/"redis-server" -> pid, for CPU figures
    devices: int = 0  # fleet size override (0: the scenario's default, 50,000 in a full run)
    messages: int = 0  # messages per throughput run override (0: the scenario's default)
    shared: dict = field(default_factory=dict)  # figures scenarios hand on, e.g. the baseline msg/s

    def settings(self, **overrides) -> Settings:
        """Settings for in-process product code (stores, services) against the bench's servers."""
        env = {**os.environ, **self.env_overrides, "REDIS_URL": self.redis_url, "MQTT_URL": self.mqtt_url,
               "IOC_DATA_DIR": str(self.work_dir)}
        return Settings.from_env(env, **overrides)

    def process_env(self, **extra: str) -> dict[str, str]:
        """Environment for a product subprocess (`python -m ioc ingest`, `python -m ioc web`)."""
        env = {**os.environ, **self.env_overrides, "REDIS_URL": self.redis_url, "MQTT_URL": self.mqtt_url,
               "IOC_DATA_DIR": str(self.work_dir), "IOC_LOG_LEVEL": "WARNING"}
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def scaled(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def fleet_size(self) -> int:
        return self.devices or self.scaled(50_000, 5_000)

    def message_count(self, full: int, quick: int) -> int:
        return self.messages or self.scaled(full, quick)


Context = BenchContext  # short alias
