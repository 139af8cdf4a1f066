"""`python -m ioc restore`: rebuild Redis's control plane from the record after Redis was lost.

What comes back (each family written by its owner module, `ioc.adapters.redis_keys.FAMILIES`):

- cases (`ioc.adapters.case_store.CaseStore.restore`): the hot ones — every open case and every
  case ended within IOC_CASE_HOT_DAYS (all of them when it is 0) — at their latest recorded
  version, with their timelines under the same entry ids, the open set, the per-class geo sets
  and the device map of the open ones, the report id -> case id map of every recorded case (the
  archived ones too: a repeated report still finds its case), the id sequence beyond the highest
  number ever given, a revision, `changed` entries and a new epoch (every web process's case
  index reads the cases again);
- users and API tokens (`ioc.adapters.user_store.restore_accounts`): password hashes and token
  SHA-256 only, as recorded; the SHA-256 -> id map of the active tokens;
- the audit log (`ioc.adapters.audit_log.restore_entries`): every recorded entry by default
  (Redis kept it uncapped, so the audit page pages back as far as before), or only the last
  `audit_days` days; entry ids kept;
- alarm states (`ioc.adapters.alarm_store.restore_active`): the alarms active in the record (no
  `cleared_at`) with their acknowledgements.

Not restored: sessions (everyone signs in again), sign-in failure counters, linked events, the
roster, notification state, the device registry and telemetry (the devices announce themselves
again: births are retained MQTT messages), the alarm event stream's history (in the record).

Refuses to run over a Redis that already holds cases unless `force`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import orjson
import psycopg

from ioc.adapters import alarm_store, audit_log, user_store
from ioc.adapters.case_store import CaseStore
from ioc.domain.cases import ENDED, Case
from ioc.record import db
from ioc.record.archive import ENDED_AT, ENTRY_ORDER, stream_fields
from ioc.settings import Settings

AUDIT_FIELDS = ("at_ms", "actor", "role", "action", "target", "outcome", "ip", "detail")
TIMELINE_BATCH = 1000  # cases whose timelines are read per query


class RestoreRefused(RuntimeError):
    """Redis already holds cases (restore over it only with `force`)."""


@dataclass
class Restored:
    cases: int = 0
    open_cases: int = 0
    timeline_entries: int = 0
    reports: int = 0
    seq: int = 0
    users: int = 0
    tokens: int = 0
    active_tokens: int = 0
    audit: int = 0
    audit_skipped: int = 0
    alarms: int = 0
    acknowledged: int = 0

    def text(self) -> list[str]:
        return [
            f"cases: {self.cases} ({self.open_cases} open, {self.cases - self.open_cases} ended within the hot days) "
            f"with {self.timeline_entries} timeline entries",
            f"report ids: {self.reports}; case id sequence at {self.seq}",
            f"users: {self.users}; API tokens: {self.tokens} ({self.active_tokens} active)",
            f"audit entries: {self.audit}" + (f" ({self.audit_skipped} already there, skipped)" if self.audit_skipped else ""),
            f"active alarms: {self.alarms} ({self.acknowledged} acknowledged)",
        ]


def _ms(ts) -> int:
    return int(ts.timestamp() * 1000) if ts is not None else 0


def hot_cases(conn, hot_days: int, now_ms: int) -> list[Case]:
    """Open cases and those ended within `hot_days` (every case when 0), oldest first."""
    if hot_days <= 0:
        rows = conn.execute("SELECT data FROM cases ORDER BY created_at, id").fetchall()
    else:
        cutoff = (now_ms - hot_days * 86_400_000) / 1000.0
        rows = conn.execute(f"SELECT data FROM cases WHERE NOT (stage = ANY(%s)) OR {ENDED_AT} >= to_timestamp(%s) "
                            "ORDER BY created_at, id", (list(ENDED), cutoff)).fetchall()
    return [Case.from_dict(data) for (data,) in rows]


def timelines(conn, case_ids: list[str]) -> dict[str, list[tuple[str, dict[str, str]]]]:
    out: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for k in range(0, len(case_ids), TIMELINE_BATCH):
        rows = conn.execute(f"SELECT case_id, entry_id, fields FROM case_timeline WHERE case_id = ANY(%s) "
                            f"ORDER BY case_id, {ENTRY_ORDER}", (case_ids[k:k + TIMELINE_BATCH],)).fetchall()
        for case_id, entry_id, fields in rows:
            out.setdefault(case_id, []).append((entry_id, stream_fields(fields)))
    return out


def report_map(conn) -> dict[str, str]:
    rows = conn.execute("SELECT data->>'report_id', id FROM cases WHERE coalesce(data->>'report_id', '') <> ''").fetchall()
    return {report_id: case_id for report_id, case_id in rows}


def highest_case_number(conn) -> int:
    row = conn.execute(r"SELECT max((regexp_match(id, '-(\d+)$'))[1]::bigint) FROM cases").fetchone()
    return int(row[0] or 0)


def audit_entries(conn, days: int | None, now_ms: int):
    where, params = "", ()
    if days is not None:
        where, params = "WHERE at >= to_timestamp(%s)", ((now_ms - days * 86_400_000) / 1000.0,)
    rows = conn.execute("SELECT stream_id, at, actor, role, action, target, outcome, ip, detail FROM audit "
                        f"{where} ORDER BY split_part(stream_id, '-', 1)::bigint, split_part(stream_id, '-', 2)::bigint",
                        params).fetchall()
    for stream_id, at, actor, role, action, target, outcome, ip, detail in rows:
        yield stream_id, {"at_ms": str(_ms(at)), "actor": actor, "role": role, "action": action, "target": target,
                          "outcome": outcome, "ip": ip, "detail": orjson.dumps(detail if detail is not None else {}).decode()}


def active_alarms(conn) -> list[tuple[str, dict, dict | None]]:
    rows = conn.execute("SELECT DISTINCT ON (alarm_id) alarm_id, data, acknowledged_at, acknowledged_by FROM alarms "
                        "WHERE cleared_at IS NULL ORDER BY alarm_id, raised_at DESC").fetchall()
    out = []
    for alarm_id, data, acknowledged_at, acknowledged_by in rows:
        alarm = dict(data or {})
        ack = alarm.pop("ack", None)
        if not isinstance(ack, dict) or not {"by", "at_ms"} <= set(ack):
            ack = ({"by": acknowledged_by, "role": str((ack or {}).get("role") or ""), "at_ms": _ms(acknowledged_at)}
                   if acknowledged_at is not None else None)
        else:
            ack = {"by": str(ack["by"]), "role": str(ack.get("role") or ""), "at_ms": int(ack["at_ms"])}
        out.append((alarm_id, alarm, ack))
    return out


def restore(settings: Settings, redis_client, *, force: bool = False, audit_days: int | None = None,
            now_ms: int | None = None) -> Restored:
    """Rebuild Redis's cases, timelines, users, tokens, audit log and alarm states from the record."""
    store = CaseStore(redis_client)
    if store.has_cases() and not force:
        raise RestoreRefused("Redis already holds cases; restore writes over them only with --force")
    now = int(now_ms if now_ms is not None else time.time() * 1000)
    done = Restored()
    with db.connect(settings.database_url) as conn:
        psycopg.types.json.set_json_loads(orjson.loads, conn)  # jsonb rows by the thousand: the fast parser
        cases = hot_cases(conn, settings.case_hot_days, now)
        lines = timelines(conn, [c.id for c in cases])
        reports = report_map(conn)
        seq = highest_case_number(conn)
        users = [data for (data,) in conn.execute("SELECT data FROM users ORDER BY name").fetchall()
                 if isinstance(data, dict) and data.get("name")]
        tokens = [data for (data,) in conn.execute("SELECT data FROM tokens ORDER BY id").fetchall()
                  if isinstance(data, dict) and data.get("id")]
        audit = list(audit_entries(conn, audit_days, now))
        alarms = active_alarms(conn)
    done.timeline_entries = store.restore(cases, lines, reports, seq)
    done.cases, done.open_cases = len(cases), sum(1 for c in cases if c.is_open)
    done.reports, done.seq = len(reports), seq
    done.users, done.active_tokens = user_store.restore_accounts(redis_client, users, tokens)
    done.tokens = len(tokens)
    done.audit, done.audit_skipped = audit_log.restore_entries(redis_client, audit)
    done.alarms, done.acknowledged = alarm_store.restore_active(redis_client, alarms)
    return done


def run(args, settings: Settings) -> int:
    """The CLI: exit 0 when restored, 1 when refused or a store is unreachable, 2 on a usage error."""
    import redis

    from ioc.adapters.redis_client import connect_redis

    if not settings.database_url or not settings.redis_url:
        print("restore needs DATABASE_URL (the record) and REDIS_URL (the Redis to rebuild)", file=sys.stderr)
        return 2
    client = connect_redis(settings.redis_url)
    try:
        done = restore(settings, client, force=args.force, audit_days=args.audit_days)
    except RestoreRefused as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    except psycopg.OperationalError as e:
        print(f"cannot reach the record's PostgreSQL: {str(e).strip()}", file=sys.stderr)
        return 1
    except redis.RedisError as e:
        print(f"Redis failed: {e}", file=sys.stderr)
        return 1
    print("restored from the record:")
    for line in done.text():
        print(f"  {line}")
    return 0
