"""Display names of the portal's users, for texts that name a person by login (who acknowledged
an alarm, who acted on a case): one read of the user store per `ttl_s`, shared by every viewer
of the process, never one read per row."""

from __future__ import annotations

import threading
import time
import weakref

from ioc.adapters.redis_client import REDIS_UNAVAILABLE


class DisplayNames:
    def __init__(self, users, ttl_s: float = 30.0, clock=time.monotonic):
        self.users = users  # a UserStore
        self.ttl_s = ttl_s
        self.clock = clock
        self._names: dict[str, str] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def get(self) -> dict[str, str]:
        """login name -> display name, for the users that have one. On a Redis error: the last
        known names (they only decorate what a page shows; the page is not lost for them)."""
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


_SHARED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def display_names(users) -> DisplayNames:
    """The process's one `DisplayNames` of the user store `users`, shared by every page."""
    with _SHARED_LOCK:
        names = _SHARED.get(users)
        if names is None:
            names = _SHARED[users] = DisplayNames(users)
        return names
