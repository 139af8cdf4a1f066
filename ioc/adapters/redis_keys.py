"""Every Redis key family of IOC, named in one place (the README documents each).

Telemetry families are split into `shards` hash-tag groups (`ioc:{s<N>}:…`): every key that
one batch script touches carries the same hash tag, so the script runs on a single Redis Cluster
node, and the shards spread the fleet over the cluster's nodes.

The control plane (alarms, users, API tokens, cases, linked events and the audit log) shares the
one hash tag `{core}`: every alarm, user, token, case and event change is written together with
its audit entry by one script or MULTI/EXEC, which on Redis Cluster must stay within one slot.
Its volume is small next to telemetry. The remaining keys (counters, dead letters, heartbeats, sessions, sign-in
failures, the secret key) are each written on their own and carry no tag, so they spread freely.

Each family has ONE writer, the module named in `FAMILIES` at the end of this file (a test scans
every module for Redis writes and fails when another module writes a family). Key names are
spelled here only: other modules use these names and functions, never build a key themselves.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

CORE = "ioc:{core}"  # hash-tag prefix of the control plane (see above)

METRICS = "ioc:metrics"  # hash: counters (written by ioc.adapters.counters; the fields are listed in the README)
DEADLETTER = "ioc:deadletter"  # stream: rejected messages with reason, detail, topic, raw payload (see ioc.adapters.deadletters)
ALARMS_ACTIVE = f"{CORE}:alarms:active"  # hash: alarm id "<device>|<rule>" -> alarm JSON
ALARMS_EVENTS = f"{CORE}:alarms:events"  # stream: raised / acknowledged / cleared events with the alarm JSON
ALARMS_ACKS = f"{CORE}:alarms:acks"  # hash: alarm id -> acknowledgement JSON {by, role, at_ms}
ALARM_EVENTS_MAXLEN = 100_000  # approximate cap of ALARMS_EVENTS
WORKERS = "ioc:workers"  # hash: worker id -> heartbeat JSON (see ioc.adapters.heartbeats)
RECORDER_POSITIONS = "ioc:recorder:positions"  # hash: stream -> "<last recorded id> <entries up to it>" (counts entries trimmed unrecorded)
USERS = f"{CORE}:users"  # hash: user name -> user JSON (roles, department, Argon2id hash, disabled, epoch)
TOKENS = f"{CORE}:tokens"  # hash: token id -> API token / kiosk link JSON (SHA-256 of the secret, never the secret)
TOKEN_INDEX = f"{CORE}:tokens:sha256"  # hash: SHA-256 of a token -> token id
LOGIN_FAILURES = "ioc:auth:failures"  # prefix: `…:user:<name>` and `…:ip:<address>` counters expiring with the lock window
SESSIONS = "ioc:session"  # prefix: `ioc:session:<id>` -> user name or `kiosk:<token id>`, expiring with the session
AUDIT = f"{CORE}:audit"  # stream: who did what, when, from where (append-only)
SECRET_KEY = "ioc:secret_key"  # string: the shared cookie-signing key when IOC_SECRET_KEY is unset
CASES = f"{CORE}:cases"  # prefix of the case families below
CASES_DATA = f"{CASES}:data"  # hash: case id -> case JSON
CASES_VERSION = f"{CASES}:version"  # hash: case id -> version (checked by every transition)
CASES_REPORTS = f"{CASES}:reports"  # hash: report id -> case id (the same report twice makes one case)
CASES_DEVICES = f"{CASES}:devices"  # hash: `<device>|<class>` -> the open case raised from that device
CASES_OPEN = f"{CASES}:open"  # sorted set: open case id -> created_at
CASES_SEQ = f"{CASES}:seq"  # counter behind case ids
CASES_OUTBOX = f"{CASES}:outbox"  # stream: messages to department systems, written with the transition that made them
CASES_REVISION = f"{CASES}:rev"  # counter bumped by every create and transition: readers cache until it moves
CASES_CHANGED = f"{CASES}:changed"  # sorted set: case id -> revision of its last create or transition
CASES_EPOCH = f"{CASES}:epoch"  # string set by the first create: a reader sees that Redis was emptied since
EVENTS = f"{CORE}:events"  # prefix of the linked-event (联动事件) families below
EVENTS_DATA = f"{EVENTS}:data"  # hash: event id -> event JSON (tasks, instructions and log inside)
EVENTS_VERSION = f"{EVENTS}:version"  # hash: event id -> event version (checked by every change)
EVENTS_ACTIVE = f"{EVENTS}:active"  # sorted set: id of every event not closed or cancelled -> started_at
EVENTS_SEQ = f"{EVENTS}:seq"  # hash: China date YYYYMMDD -> counter behind that day's event ids
EVENTS_OUTBOX = f"{EVENTS}:outbox"  # stream: task and instruction messages to department systems, written with the change
EVENTS_REVISION = f"{EVENTS}:rev"  # counter bumped by every event change and proposal change: readers cache until it moves
EVENTS_CHANGED = f"{EVENTS}:changed"  # sorted set: event id -> revision of its last change
EVENTS_PROPOSALS = f"{EVENTS}:proposals"  # hash: proposal id `<plan>:<level>` -> current proposal JSON (the trigger scan's)
EVENTS_DISMISSED = f"{EVENTS}:dismissed"  # hash: proposal id -> dismissal JSON {summary, by, reason, at}
EVENTS_WATCH = f"{EVENTS}:watch"  # string: the trigger watch's clocks (since when each device meets each trigger), JSON
ROSTER = f"{CORE}:roster"  # hash: "contacts" / "groups" / "shifts" -> JSON lists, "version" (duty roster and contacts)
# notifications (piece notify): every key under `{core}` so the commits that cause an intent write it in the same script
NOTIFY_OUTBOX = f"{CORE}:notify:outbox"  # stream: notification intents, written with the change that caused them
NOTIFY_ROUTES = f"{CORE}:notify:routes"  # string JSON: {"routes": [...], "quiet_hours": {...}} (unset: the built-in routes)
NOTIFY_SILENCES = f"{CORE}:notify:silences"  # hash: silence id -> silence JSON
NOTIFY_SENT = f"{CORE}:notify:sent"  # hash: delivery dedupe key -> JSON {at, status} (delivered or given up: never again)
NOTIFY_SENT_AT = f"{CORE}:notify:sent_at"  # sorted set: dedupe key -> when recorded (prunes NOTIFY_SENT)
NOTIFY_LOG = f"{CORE}:notify:log"  # stream: every delivery attempt's result (sent, failed, retry, silenced, held, grouped)
NOTIFY_PENDING = f"{CORE}:notify:pending"  # sorted set: job id -> due ms (sends, retries, group windows, holds, repeats)
NOTIFY_JOBS = f"{CORE}:notify:jobs"  # hash: job id -> job JSON
# the record (PostgreSQL): the recorder (consumer group `ioc-recorder`) copies these streams into it
RECORD = f"{CORE}:record"  # stream: every case, timeline, event, user and token change in commit order (`type` field), capped

# Names before the control plane moved under `{core}` (IOC 0.x on a single Redis): old name or
# prefix -> new one. `ioc.adapters.redis_client.migrate_legacy_keys` renames what it finds.
LEGACY = {
    "ioc:alarms:active": ALARMS_ACTIVE, "ioc:alarms:events": ALARMS_EVENTS, "ioc:alarms:acks": ALARMS_ACKS,
    "ioc:users": USERS, "ioc:tokens": TOKENS, "ioc:tokens:sha256": TOKEN_INDEX, "ioc:audit": AUDIT,
}
LEGACY_CASES = "ioc:{cases}"  # every `ioc:{cases}:<rest>` becomes `ioc:{core}:cases:<rest>`
LEGACY_CASES_DATA = f"{LEGACY_CASES}:data"  # present in every older install that had cases
LEGACY_CASES_PATTERN = LEGACY_CASES.replace("{", "[{]").replace("}", "[}]") + ":*"  # SCAN MATCH of the old case keys


def legacy_case_key_renamed(old: str) -> str:
    """The `{core}` name of an old `ioc:{cases}:<rest>` key: `ioc:{core}:cases:<rest>`."""
    return f"{CASES}:{old[len(LEGACY_CASES) + 1:]}"


def session(session_id: str) -> str:
    """string: a live portal session -> user name or `kiosk:<token id>`, expiring with it"""
    return f"{SESSIONS}:{session_id}"


def login_failures(scope: str, value: str) -> str:
    """counter: failed sign-ins of a user (`scope` "user") or an address ("ip") within the lock window"""
    return f"{LOGIN_FAILURES}:{scope}:{value}"


def case_timeline(case_id: str) -> str:
    """stream: the case's timeline (append-only)"""
    return f"{CASES}:timeline:{case_id}"


def notify_subject(subject: str) -> str:
    """stream: the notification results of one subject (`case:<id>`, `alarm:<id>`, `event:<id>`), capped"""
    return f"{CORE}:notify:subject:{subject}"


def notify_escalated(alarm_id: str, raised_at: int) -> str:
    """string: set once when an escalated alarm's intent is written (one per alarm and raise), expiring"""
    return f"{CORE}:notify:escalated:{alarm_id}:{int(raised_at)}"


def case_geo(class_code: str) -> str:
    """geo set: the open cases of a minor class (likely-duplicate search)"""
    return f"{CASES}:geo:{class_code}"


def shard_of(device_id: str, shards: int) -> int:
    return zlib.crc32(device_id.encode()) % shards


def _tag(shard: int) -> str:
    return f"ioc:{{s{shard}}}"


def latest(shard: int) -> str:
    """hash: device id -> latest reading JSON {"ts": ms, <attribute>: value, …}"""
    return f"{_tag(shard)}:latest"


def latest_ts(shard: int) -> str:
    """hash: device id -> ts (epoch ms) of the latest reading; guards order and duplicates"""
    return f"{_tag(shard)}:ts"


def meta(shard: int) -> str:
    """hash: device id -> JSON {kind, name, lat, lon, district, cell, …} from its birth"""
    return f"{_tag(shard)}:meta"


def district(shard: int) -> str:
    """hash: device id -> district id"""
    return f"{_tag(shard)}:district"


def state(shard: int) -> str:
    """hash: device id -> "online" | "offline" (birth / last will)"""
    return f"{_tag(shard)}:state"


def geo(shard: int) -> str:
    """geo set of device positions (GEOSEARCH)"""
    return f"{_tag(shard)}:geo"


def rules(shard: int) -> str:
    """hash: device id -> JSON {rule id: rule state} between samples"""
    return f"{_tag(shard)}:rules"


def registry_version(shard: int) -> str:
    """counter: bumped by every batch that changes the shard's device registry (births, located
    readings); web processes keep the shard's devices cached until it moves"""
    return f"{_tag(shard)}:regver"


def registry_stream(shard: int) -> str:
    """stream: the shard's device births, online/offline changes and moves, one entry per ingest
    batch that has any (field `d`), written by the batch's script; capped, read by the recorder"""
    return f"{_tag(shard)}:registry"


def readings_stream(shard: int) -> str:
    """stream: the accepted readings of each ingest batch of the shard, one entry per batch (field
    `r`), capped, read by the recorder"""
    return f"{_tag(shard)}:readings"


def record_stream() -> str:
    """stream: the control plane's changes for the record (`RECORD`)"""
    return RECORD


def state_version(shard: int) -> str:
    """counter: bumped by every batch that changes an online/offline state of the shard; web
    processes re-read only the shard's states when it alone moved"""
    return f"{_tag(shard)}:statever"


ROLLUP_TAG = "ioc:{rollup}"  # every rollup bucket in one hash slot: one script call per batch writes them all


def rollup(minute: int) -> str:
    """hash: 1-minute bucket (epoch minute) of per-district, per-kind aggregates, merged over the
    whole fleet (`<district>|<kind>|<attribute>:n|:s|:x`); expires after the retention"""
    return f"{ROLLUP_TAG}:min:{minute}"


def rollup_hourly(hour: int) -> str:
    """hash: 1-hour bucket (epoch hour) with the same fields as the 1-minute one; expires after the hourly retention"""
    return f"{ROLLUP_TAG}:hour:{hour}"


REPORT_JOBS = "ioc:reports:job"  # prefix: `ioc:reports:job:<id>` -> hash of a background report's status, expiring


def report_job(job_id: str) -> str:
    """hash: one background report (kind, what, status queued|running|ready|failed, progress 0..1, file, error,
    owner, heartbeat); expires a day after its last change. Read by every web worker (any of them may be asked)."""
    return f"{REPORT_JOBS}:{job_id}"


# --- who writes what -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Family:
    """A key family: its keys (names, prefixes of `<prefix>:…` keys, key functions), the one module
    that writes it, and the documented exceptions: a module that writes the family inside one
    atomic step (script or MULTI) with its own family, taking the written fields from the owner."""

    name: str
    keys: tuple
    owner: str
    also: tuple[tuple[str, str], ...] = ()  # (module, why)

    def writers(self) -> set[str]:
        return {self.owner, *(module for module, _why in self.also)}


FAMILIES: tuple[Family, ...] = (
    Family("telemetry", (latest, latest_ts, meta, district, state, geo, rules, registry_version, state_version,
                         registry_stream, readings_stream), "ioc.adapters.telemetry_store"),
    Family("rollups", (rollup, rollup_hourly), "ioc.adapters.telemetry_store"),
    Family("alarms", (ALARMS_ACTIVE, ALARMS_EVENTS, ALARMS_ACKS), "ioc.adapters.alarm_store", also=(
        ("ioc.adapters.notify_store", "a delivery's result for an alarm is a `notified` event on the alarm stream, "
                                      "written by the same script that records it"),
    )),
    Family("dead letters", (DEADLETTER,), "ioc.adapters.deadletters"),
    Family("counters", (METRICS,), "ioc.adapters.counters"),
    Family("heartbeats", (WORKERS,), "ioc.adapters.heartbeats"),
    # RECORD is here only until the `streams` branch (family "record", its writers) is merged: drop it then
    Family("recorder", (RECORDER_POSITIONS,), "ioc.record.recorder"),
    Family("cases", (CASES_DATA, CASES_VERSION, CASES_REPORTS, CASES_DEVICES, CASES_OPEN, CASES_SEQ, CASES_OUTBOX,
                     CASES_REVISION, CASES_CHANGED, CASES_EPOCH, case_timeline, case_geo), "ioc.adapters.case_store", also=(
        ("ioc.adapters.notify_store", "a delivery's result goes on the case timeline (`notify` / `notify_failed`) in the "
                                      "same script that records it (fields from case_store.event_fields)"),
    )),
    Family("events", (EVENTS_DATA, EVENTS_VERSION, EVENTS_ACTIVE, EVENTS_SEQ, EVENTS_OUTBOX, EVENTS_REVISION, EVENTS_CHANGED,
                      EVENTS_PROPOSALS, EVENTS_DISMISSED, EVENTS_WATCH), "ioc.adapters.event_store"),
    Family("audit", (AUDIT,), "ioc.adapters.audit_log", also=(
        ("ioc.adapters.alarm_store", "the acknowledge and clear scripts append the action's audit entry in the same "
                                     "step (fields from audit_log.entry_fields)"),
        ("ioc.adapters.case_store", "the create and transition scripts append the change's audit entry in the same "
                                    "step (fields from audit_log.entry_fields, via case_store.audit_fields)"),
        ("ioc.adapters.event_store", "the commit script appends the event change's audit entry in the same step "
                                     "(fields from audit_log.entry_fields); a dismissal is written with its entry in one MULTI"),
        ("ioc.adapters.notify_store", "a change of the routes or the silences is written with its audit entry in one MULTI "
                                      "(fields from audit_log.entry_fields)"),
    )),
    Family("notifications", (NOTIFY_OUTBOX, NOTIFY_ROUTES, NOTIFY_SILENCES, NOTIFY_SENT, NOTIFY_SENT_AT, NOTIFY_LOG,
                             NOTIFY_PENDING, NOTIFY_JOBS, notify_subject, notify_escalated), "ioc.adapters.notify_store", also=(
        ("ioc.adapters.case_store", "the transition script appends the change's notification intents to the notify outbox"),
        ("ioc.adapters.event_store", "the commit script appends the change's notification intents to the notify outbox"),
        ("ioc.adapters.alarm_store", "the raise script appends the overdue case's intent when it raises the overdue alarm"),
    )),
    Family("roster", (ROSTER,), "ioc.adapters.roster_store"),
    Family("record", (RECORD, record_stream), "ioc.adapters.record_stream", also=(
        ("ioc.adapters.case_store", "the create and transition scripts append the case's `case` entry in the same step "
                                    "(fields from record_stream)"),
        ("ioc.adapters.event_store", "the commit script appends the event's `event` entry in the same step"),
        ("ioc.adapters.notify_store", "the record script appends a `timeline` entry for each case timeline entry it writes"),
    )),
    Family("report jobs", (REPORT_JOBS, report_job), "ioc.reports.jobs"),
    Family("users and sessions", (USERS, TOKENS, TOKEN_INDEX, SESSIONS, session, LOGIN_FAILURES, login_failures, SECRET_KEY),
           "ioc.adapters.user_store"),
)
# Not a writer of any family: `ioc.adapters.redis_client.migrate_legacy_keys` renames the keys of an
# older install to the names above once, at connection time. Consumer-group bookkeeping on a stream
# (XGROUP CREATE, XREADGROUP, XACK, XAUTOCLAIM) belongs to its consumer, not to the stream's writer.
