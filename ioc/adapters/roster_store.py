"""The duty roster and contacts in Redis: one hash `ioc:{core}:roster` with the fields
`contacts`, `groups`, `shifts` (JSON lists, ioc.domain.roster's JSON form) and `version`.

Every change replaces the three lists, bumps the version and appends its `roster.update` audit
entry in one MULTI/EXEC (optimistic: WATCHing the hash, and refused with RosterConflict when a
caller's expected version is no longer the current one). The audit detail names counts and ids,
never a robot key or secret.
"""

from __future__ import annotations

from typing import Iterable

import orjson

from ioc.adapters import redis_keys as keys
from ioc.adapters.audit_log import AuditLog
from ioc.adapters.redis_client import as_text
from ioc.domain.roster import Roster

FIELDS = ("contacts", "groups", "shifts")


class RosterConflict(RuntimeError):
    """The roster changed since the caller read it (its version moved)."""

    def __init__(self, expected: int, current: int):
        super().__init__(f"the roster changed meanwhile (version {current}, not {expected}): read it again")
        self.expected = expected
        self.current = current


class RosterStore:
    def __init__(self, redis_client, departments: Iterable[str] | None = None):
        self.redis = redis_client
        self.audit = AuditLog(redis_client)
        self.departments = frozenset(departments) if departments is not None else None
        self._cache: tuple[int, Roster] | None = None

    def version(self) -> int:
        """0 before the first put; bumped by every put."""
        return int(self.redis.hget(keys.ROSTER, "version") or 0)

    def get(self) -> Roster:
        """The current roster (empty before the first put); re-read only when the version moved."""
        values = self.redis.hmget(keys.ROSTER, "version", *FIELDS)
        version = int(values[0] or 0)
        if self._cache and self._cache[0] == version:
            return self._cache[1]
        data = {name: orjson.loads(as_text(raw)) if raw else [] for name, raw in zip(FIELDS, values[1:])}
        roster = Roster.from_dict(data)
        self._cache = (version, roster)
        return roster

    def get_with_version(self) -> tuple[Roster, int]:
        roster = self.get()
        return roster, self._cache[0] if self._cache else 0

    def put(self, roster: Roster, actor: str, ip: str = "", role: str = "admin",
            expected_version: int | None = None, detail: dict | None = None) -> int:
        """Store `roster` (already validated), audited as `roster.update` by `actor` in the same
        transaction; returns the new version. `expected_version`: refuse (RosterConflict) when
        the stored version is another one."""
        data = roster.to_dict()
        encoded = {name: orjson.dumps(data[name]).decode() for name in FIELDS}
        out: dict[str, int] = {}

        def txn(pipe):
            current = int(pipe.hget(keys.ROSTER, "version") or 0)
            if expected_version is not None and current != expected_version:
                raise RosterConflict(expected_version, current)
            before = {name: orjson.loads(as_text(raw)) if raw else [] for name, raw in zip(FIELDS, pipe.hmget(keys.ROSTER, *FIELDS))}
            pipe.multi()
            pipe.hset(keys.ROSTER, mapping=encoded)
            pipe.hincrby(keys.ROSTER, "version", 1)
            info = _changes(Roster.from_dict(before), roster)
            info.update(detail or {})
            info["version"] = current + 1
            self.audit.record_in(pipe, actor, role, "roster.update", target="roster", ip=ip, detail=info)
            out["version"] = current + 1

        self.redis.transaction(txn, keys.ROSTER)
        return out["version"]


def _changes(before: Roster, after: Roster) -> dict:
    """What a change did, for the audit log: counts and the ids added, removed or changed (no secrets)."""
    out: dict = {"contacts": len(after.contacts), "groups": len(after.groups), "shifts": len(after.shifts)}
    for name, old, new in (("contact", before.contacts, after.contacts), ("group", before.groups, after.groups)):
        old_by, new_by = {x.id: x for x in old}, {x.id: x for x in new}
        added = sorted(set(new_by) - set(old_by))
        removed = sorted(set(old_by) - set(new_by))
        changed = sorted(i for i in set(new_by) & set(old_by) if new_by[i] != old_by[i])
        for label, ids in (("added", added), ("removed", removed), ("changed", changed)):
            if ids:
                out[f"{name}s_{label}"] = ids[:50]
    old_shifts, new_shifts = set(before.shifts), set(after.shifts)
    if new_shifts - old_shifts:
        out["shifts_added"] = len(new_shifts - old_shifts)
    if old_shifts - new_shifts:
        out["shifts_removed"] = len(old_shifts - new_shifts)
    return out
