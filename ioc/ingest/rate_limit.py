"""The per-device rate limit of an ingest worker (pure: the caller passes the receive time).

Each device may send at most `max_per_second` messages per one-second window to one worker;
the excess is counted as `rejected:rate_limited` and the first excess message of each window
is dead-lettered as a sample, so a flooding device can neither crowd out the rest of the city
nor flood the dead-letter stream. With N workers on a shared subscription, a device's limit
is up to N times higher (each worker counts what it receives).
"""

from __future__ import annotations

_FORGET_AFTER = 100_000  # devices tracked before windows older than the current one are dropped


class DeviceRateLimit:
    def __init__(self, max_per_second: int):
        self.max = max_per_second
        # device -> window second, device -> messages in it. Two dicts of ints rather than one
        # of [second, count] lists: dicts holding only strings and ints are not tracked by the
        # garbage collector, so 50,000 devices add nothing to the collector's full passes.
        self._second: dict[str, int] = {}
        self._count: dict[str, int] = {}
        self._prune_at = _FORGET_AFTER  # grows with a fleet that is larger within one second

    def admit(self, device: str, received_ms: int) -> bool | str:
        """True when the message is within the limit; "sample" for the first excess message of
        the window (dead-letter it), False for the rest of the excess (count only)."""
        second = received_ms // 1000
        if self._second.get(device) != second:
            if len(self._second) >= self._prune_at:
                self._second = {d: s for d, s in self._second.items() if s == second}
                self._count = {d: self._count[d] for d in self._second}
                self._prune_at = max(_FORGET_AFTER, 2 * len(self._second))
            self._second[device] = second
            self._count[device] = 1
            return True
        n = self._count[device] = self._count[device] + 1
        if n <= self.max:
            return True
        return "sample" if n == self.max + 1 else False

    def tracked(self) -> int:
        """Devices whose window is held."""
        return len(self._second)

    def detail(self, device: str) -> str:
        return (f"device {device!r} sent more than {self.max} messages within one second "
                f"(IOC_DEVICE_MAX_RATE); the excess of this second is counted, not stored")
