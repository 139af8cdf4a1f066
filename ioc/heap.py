"""Keeping a process's long-lived data out of the garbage collector's full passes.

CPython's full collections walk every object the collector tracks. A web process holding the
city (50,000 device rows, 100,000 cases' indicator facts) spent 110-120 ms per full pass on an
idle core and 0.4-1.4 s on a busy one, and a pass stops every thread of the process: every
request in flight waited. The ingest worker's passes took up to 90 ms in the middle of batches.

`settle()` collects once, then moves everything alive to the collector's permanent generation
(`gc.freeze()`): later passes skip it. Reference counting still frees a frozen object when it
is dropped (a case's facts replaced, a shard of the registry read again); only a reference
cycle made of frozen objects would stay, and the structures settled here (rows, facts, indexes
of them, modules) hold none.

Only the serving processes switch it on (`enable()` in `python -m ioc web` and
`python -m ioc ingest`); elsewhere, such as in the tests that build many apps in one process,
`settle()` does nothing.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

log = logging.getLogger(__name__)

_enabled = False
_lock = threading.Lock()


def enable() -> None:
    """Let `settle()` freeze: call once, in the entry point of a long-running process."""
    global _enabled
    _enabled = True


def enabled() -> bool:
    return _enabled


def settle(what: str) -> bool:
    """Collect, then freeze what is alive, after `what` (a large, long-lived structure) was
    built. Returns whether it did (False unless `enable()` was called)."""
    if not _enabled:
        return False
    with _lock:
        t0 = time.perf_counter()
        gc.collect()
        gc.freeze()
        log.debug("heap settled after %s: %d objects frozen, %.0f ms", what, gc.get_freeze_count(),
                  (time.perf_counter() - t0) * 1000)
    return True
