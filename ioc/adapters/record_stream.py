"""The record stream `ioc:{core}:record`: every control-plane change, in commit order, for the
recorder (consumer group `ioc-recorder`) to copy into PostgreSQL.

One entry per change, written in the same atomic step as the change itself (the case scripts,
the event commit script, the notifier's record script, the user store's MULTI/EXEC), so an entry
exists exactly when its change does. Fields by `type` (all values are text):

- `case`: `id`, `version`, `at` (ms of the change: the timeline entry's `at`), `case` (the case
  JSON exactly as stored in `cases:data`), `entry_id` (the id of the timeline entry written with
  it), `entry` (JSON object of that entry's fields as written, each a string: action, actor,
  role, from, to, at, note, detail) — written by `case_create.lua` and `case_transition.lua`
- `timeline`: `id` (case id), `entry_id`, `entry`, `at` — a timeline entry that changes no case
  (the notifier's `notify` / `notify_failed`), written by `notify_record.lua`
- `event`: `id`, `version`, `at` (the event's `updated_at`), `event` (the event JSON as stored)
  — written by `event_commit.lua`
- `user`: `name`, `at`, `user` (the user JSON as stored; "" when the user was deleted)
- `token`: `id`, `at`, `token` (the token JSON as stored: the secret's SHA-256 only)

The stream is capped at about `maxlen` entries (IOC_RECORD_STREAM_MAXLEN): the bound of what
PostgreSQL may fall behind by before entries are lost (the recorder counts those).
This module owns the family; the scripts of `case_store`, `event_store` and `notify_store` append
to it in their own steps (see `redis_keys.FAMILIES`).
"""

from __future__ import annotations

import orjson

from ioc.adapters import redis_keys as keys
from ioc.settings import Settings

GROUP = "ioc-recorder"  # the recorder's consumer group on every stream it reads
DEFAULT_MAXLEN = Settings.record_stream_maxlen  # the stores' default cap when none is passed
TYPES = ("case", "timeline", "event", "user", "token")


def _text(v) -> str:
    return v if isinstance(v, str) else v.decode() if isinstance(v, bytes) else str(v)


def user_fields(name: str, at_ms: int, user_json) -> dict:
    """The entry of a user change: `user_json` as stored (bytes or text; "" for a deleted user)."""
    return {"type": "user", "name": name, "at": str(int(at_ms)), "user": _text(user_json or "")}


def token_fields(token_id: str, at_ms: int, token_json) -> dict:
    """The entry of a token change: `token_json` as stored (the secret's SHA-256, never the secret)."""
    return {"type": "token", "id": token_id, "at": str(int(at_ms)), "token": _text(token_json)}


def entry_json(fields: list[str]) -> str:
    """The `entry` field: a timeline entry's flat [field, value, …] (as written) as a JSON object."""
    return orjson.dumps(dict(zip(fields[0::2], fields[1::2]))).decode()


def append_in(pipe, fields: dict, maxlen: int = DEFAULT_MAXLEN) -> None:
    """Queue one entry on a pipeline / transaction, so it commits with the change it records."""
    pipe.xadd(keys.RECORD, fields, maxlen=int(maxlen), approximate=True)


def trim_recorded(client, upto_id: str) -> int:
    """Drop the entries before `upto_id` (the recorder's committed offset: they are in PostgreSQL),
    so that Redis holds only what is not yet recorded, and the cap bounds an outage, not every day.
    Approximate (whole stream nodes): a few recorded entries may stay. Returns how many went."""
    return int(client.xtrim(keys.RECORD, minid=upto_id, approximate=True))


def ensure_group(client, stream: str = keys.RECORD) -> None:
    """The recorder's consumer group on `stream`, from its start (created with the stream)."""
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except Exception as e:  # noqa: BLE001 - BUSYGROUP: it exists
        if "BUSYGROUP" not in str(e):
            raise
