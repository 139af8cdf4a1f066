"""Display names of the portal's users, for texts that name a person by login (who acknowledged
an alarm, who acted on a case): one read of the user store per `ttl_s`, shared by every viewer
of the process, never one read per row."""

from __future__ import annotations

import threading
import time

from ioc.adapters.redis_client import REDIS_UNAVAILABLE


class DisplayNames:
    def __init__(self, users, ttl_s: float = 30.0, clock=time.monotonic):
        self.users = users  # a UserStore, or None when the portal runs without Redis
        self.ttl_s = ttl_s
        self.clock = clock
        self._names: dict[str, str] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def get(self) -> dict[str, str]:
        """login name -> display name, for the users that have one (the last known on a Redis error)."""
        if self.users is None:
            return {}
        with self._lock:
            now = self.clock()
            if self._read_at is None or now - self._read_at >= self.ttl_s:
                try:
                    self._names = {u.name: u.display_name for u in self.users.list() if u.display_name}
                except REDIS_UNAVAILABLE:
                    pass
                self._read_at = now
            return self._names

    def label(self, login: str) -> str:
        return self.get().get(login) or login
