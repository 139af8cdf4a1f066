"""Every Lua script of IOC, in its own file `ioc/adapters/lua/<name>.lua`, loaded here and only here.

A script file is read once per process. Three ways to run one, each for one situation:

- `script(client, name)`: redis-py's `Script`, registered once per client. A call sends EVALSHA
  and, when Redis answers NOSCRIPT (its script cache was emptied: a restart, `SCRIPT FLUSH`),
  loads the text and sends it again. For calls on their own (an acknowledgement, a case
  transition, reading case timelines).
- `run_batch(client, name, calls)`: the ingest's hot path, one EVALSHA per call in one
  non-transactional pipeline. The text is loaded once per client (SCRIPT LOAD), never checked
  again per batch; when the pipeline meets NOSCRIPT, no call of it has run (they are all calls
  of this one script), so the text is loaded again and the pipeline sent again.
- `queue(pipe, name, keys, args)`: queued on a pipeline that also carries other writes (the
  ingest's second round trip, the case worker's overdue clears). It sends the text (EVAL): a
  NOSCRIPT there could not be retried without repeating the pipeline's other writes.

The `.lua` files ship with the package: IOC runs from its source tree (no wheel or sdist is
built), and `ioc/adapters/lua` is read relative to this module.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import weakref
from pathlib import Path

import redis

LUA_DIR = Path(__file__).resolve().parent / "lua"

# The scripts, by name (the file's stem). `source()` refuses any other name.
ALARM_ACKNOWLEDGE = "alarm_acknowledge"
ALARM_CLEAR = "alarm_clear"
ALARM_RAISE_ONCE = "alarm_raise_once"
CASE_CREATE = "case_create"
CASE_TRANSITION = "case_transition"
CASE_STEPS = "case_steps"
CASE_EVICT = "case_evict"
EVENT_COMMIT = "event_commit"
TELEMETRY_APPLY = "telemetry_apply"
ROLLUP_ADD = "rollup_add"
NOTIFY_SCHEDULE = "notify_schedule"
NOTIFY_CLAIM = "notify_claim"
NOTIFY_RECORD = "notify_record"
NOTIFY_ESCALATE = "notify_escalate"
NAMES = (ALARM_ACKNOWLEDGE, ALARM_CLEAR, ALARM_RAISE_ONCE, CASE_CREATE, CASE_TRANSITION, CASE_STEPS, CASE_EVICT, EVENT_COMMIT,
         TELEMETRY_APPLY, ROLLUP_ADD, NOTIFY_SCHEDULE, NOTIFY_CLAIM, NOTIFY_RECORD, NOTIFY_ESCALATE)

_lock = threading.Lock()
_registered: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # client -> {name: Script}
_loaded: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # client -> names loaded by run_batch


@functools.cache
def source(name: str) -> str:
    """The text of script `name` (read once)."""
    if name not in NAMES:
        raise KeyError(f"no Lua script {name!r}; scripts are {', '.join(NAMES)}")
    return (LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")


@functools.cache
def sha(name: str) -> str:
    """The SHA1 Redis knows script `name` by."""
    return hashlib.sha1(source(name).encode("utf-8")).hexdigest()


def script(client, name: str):
    """Script `name` registered on `client` (once per client): call it with `keys=`, `args=`
    (and `client=` a pipeline to queue it there)."""
    with _lock:
        scripts = _registered.setdefault(client, {})
        registered = scripts.get(name)
        if registered is None:
            registered = scripts[name] = client.register_script(source(name))
        return registered


def queue(pipe, name: str, keys, args) -> None:
    """Queue script `name` on a pipeline that carries other writes too (EVAL: never NOSCRIPT)."""
    pipe.eval(source(name), len(keys), *keys, *args)


def run_batch(client, name: str, calls) -> list:
    """Run script `name` once per `(keys, args)` of `calls`, EVALSHA in one pipelined round trip;
    the replies in the order of `calls`."""
    calls = list(calls)
    if not calls:
        return []
    if not _is_loaded(client, name):
        _load(client, name)
    try:
        return _send(client, name, calls)
    except redis.exceptions.NoScriptError:
        # Redis lost its script cache (a restart, SCRIPT FLUSH); no call of this pipeline has run.
        _load(client, name)
        return _send(client, name, calls)


def _is_loaded(client, name: str) -> bool:
    with _lock:
        return name in _loaded.get(client, ())


def _load(client, name: str) -> None:
    client.script_load(source(name))
    with _lock:
        _loaded.setdefault(client, set()).add(name)


def _send(client, name: str, calls) -> list:
    digest = sha(name)
    pipe = client.pipeline(transaction=False)
    for keys, args in calls:
        pipe.evalsha(digest, len(keys), *keys, *args)
    return pipe.execute()
