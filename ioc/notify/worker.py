"""The notifier (`python -m ioc notify`): notification intents -> messages people receive.

Two jobs on their own threads, riding out Redis outages (logged once, retried with back-off):

* intake: the notify outbox `ioc:{core}:notify:outbox` (written with the changes that cause the
  intents) read with the consumer group `ioc-notify` (consumer `notify-<host>`, stable: a
  restarted notifier finds its own pending entries first; entries another consumer left pending
  for `CLAIM_IDLE_MS` are taken over with XAUTOCLAIM). Each intent is resolved with the routes
  and the roster (`ioc.domain.notify_routing.resolve`) into deliveries; each delivery becomes a
  job (id = its dedupe key `<subject>|<version>|<kind>|<channel>|<recipient>`), held until the
  quiet hours end, joined to the open grouping window of its (route, recipient, channel), or
  recorded as silenced; the jobs are written and the outbox entry acknowledged in ONE script.
* sending: due jobs are leased (`LEASE_MS`: a notifier killed while sending leaves them due
  again after it), sent through the channel clients (`ioc.notify.channels`) on a small thread
  pool, and their outcome recorded in one script each: delivered (the dedupe key marked, the
  job dropped, the subject's timeline written), retried (a retryable provider error: the job
  put back after exponential back-off with jitter, `IOC_NOTIFY_BACKOFF_S` doubling per attempt,
  a provider's `retry_after` honoured), or failed once and for all (a permanent error, or
  `IOC_NOTIFY_RETRY_MAX` attempts). A route's `repeat_min` re-sends a reminder while the subject
  still needs it (an escalated alarm unacknowledged, a case overdue in the same stage).

Guarantee: every delivery an intent makes is attempted until it is delivered or recorded failed
(at least once), and a delivery whose dedupe key is recorded is never sent again, whoever
redelivers it. The one window for a duplicate: a notifier killed after a provider accepted a
message and before its record was written (milliseconds per message) sends it again after the
lease. Nothing is lost across a restart or kill -9: intents stay pending in the consumer group
until their jobs are written, jobs stay in Redis until their outcome is recorded.

Counters in `ioc:metrics` (`/metrics`): `notify:intents`, `notify:<channel>:<result>` (sent,
failed, retry, silenced, held, grouped), `notify:latency:<bucket>`, `notify:latency_ms_sum`,
`notify:latency_count` (trigger -> delivered). Heartbeat `notify-<host>-<pid>` (`"role": "notify"`).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import orjson
import redis

from ioc.adapters import counters, heartbeats
from ioc.adapters.notify_store import NotifyStore
from ioc.adapters.roster_store import RosterStore
from ioc.adapters.redis_client import REDIS_UNAVAILABLE, Outages
from ioc.domain.notifications import Intent, IntentError, delivery_key, intent_fields, intent_from_fields, render, render_group
from ioc.domain.notify_routing import Route, hold_until, resolve, silenced_by
from ioc.notify.channels import Channels
from ioc.settings import Settings

log = logging.getLogger("ioc.notify")

CLAIM_IDLE_MS = 30_000  # an outbox entry pending this long at another consumer is taken over
LEASE_MS = 15_000  # a leased job is due again after this (a notifier killed while sending)
HEARTBEAT_S = 5
SEND_THREADS = 8
BACKOFF_MAX_S = 600
PRUNE_EVERY_S = 3600
CONFIG_TTL_S = 1.0  # routes, silences and the roster are read again at most this often
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)  # seconds, trigger -> delivered


def latency_bucket(seconds: float) -> str:
    """The counter suffix of a delivery's latency: the first bucket it fits, or `inf`."""
    return next((f"{b:g}" for b in LATENCY_BUCKETS if seconds <= b), "inf")


def backoff_s(attempt: int, base_s: float, retry_after_s: float | None = None, rng=random) -> float:
    """The wait before attempt `attempt + 1`: base × 2^attempt with jitter (×0.5–1.5), at most
    `BACKOFF_MAX_S`, and never shorter than the provider's `retry_after`."""
    wait = min(base_s * (2 ** attempt), BACKOFF_MAX_S) * rng.uniform(0.5, 1.5)
    return max(wait, float(retry_after_s or 0))


def default_sender(settings: Settings):
    """`send(target, channel, message)` through the channel clients (`ioc.notify.channels`),
    which raise `DeliveryError(retryable, reason, retry_after_s)`."""
    clients = Channels.from_settings(settings)

    def send(target, channel: str, message) -> None:
        clients.send(channel, target, message)

    return send


def _now_ms() -> int:
    return int(time.time() * 1000)


class Notifier:
    def __init__(self, settings: Settings, redis_client, *, sender=None, roster=None, consumer: str = "",
                 lease_ms: int = LEASE_MS, claim_idle_ms: int = CLAIM_IDLE_MS, threads: int = SEND_THREADS, checker=None):
        self.settings = settings
        self.redis = redis_client
        self.store = NotifyStore(redis_client, settings.record_stream_maxlen)
        self.sender = sender or default_sender(settings)
        self.roster_source = roster or RosterStore(redis_client).get
        host = socket.gethostname()
        self.consumer = consumer or f"notify-{host}"
        self.worker_id = f"notify-{host}-{os.getpid()}"
        self.lease_ms = lease_ms
        self.claim_idle_ms = claim_idle_ms
        self.threads = threads
        self.checker = checker or StillDue(redis_client)
        self.started_ms = _now_ms()
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.processed = 0
        self.delivered = 0
        self.failed = 0
        self._cache: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self._inflight = 0
        self.outages = Outages(log)  # logged once per job and outage
        self._backlog = True  # read own pending entries first (a restart after a crash)
        self._last_claim = 0.0

    # ---- configuration, cached briefly ----------------------------------------------------------

    def _cached(self, name: str, read):
        now = time.monotonic()
        hit = self._cache.get(name)
        if hit is not None and now - hit[0] < CONFIG_TTL_S:
            return hit[1]
        value = read()
        self._cache[name] = (now, value)
        return value

    def config(self):
        return self._cached("routes", self.store.routes)

    def silences(self):
        return self._cached("silences", lambda: self.store.silences(include_ended=False))

    def roster(self):
        return self._cached("roster", self.roster_source)

    def forget_config(self) -> None:
        self._cache.clear()

    # ---- intake --------------------------------------------------------------------------------

    def intake_once(self, block_ms: int | None = 1000) -> int:
        """Read one batch of outbox entries and schedule their deliveries; returns how many."""
        self.store.ensure_group()
        entries = []
        if time.monotonic() - self._last_claim > self.claim_idle_ms / 2000:
            entries = self.store.claim_stale(self.consumer, self.claim_idle_ms)
            self._last_claim = time.monotonic()
        if not entries:
            entries = self.store.read_intents(self.consumer, own_pending=self._backlog, block_ms=block_ms)
            if self._backlog and not entries:
                self._backlog = False
                return 0
        for entry_id, fields in entries:
            self.process_entry(entry_id, fields)
        if entries:
            self.wake.set()
        return len(entries)

    def deliveries_of(self, intent: Intent, now: int) -> list[dict]:
        """The schedule items (`NotifyStore.schedule`) of one intent at `now`."""
        config = self.config()
        silence = silenced_by(self.silences(), intent, now)
        routes = config.routes
        target = str(intent.facts.get("target") or "")
        if intent.kind == "test" and target.startswith(("group:", "contact:")):  # a test message to one recipient
            routes = (Route("test-target", "test", ("test",), (target,), group_window_s=0, quiet=False),)
        message = render(intent)
        items = []
        for d in resolve(intent, routes, self.roster(), now):
            key = delivery_key(intent.subject, intent.version, intent.kind, d.channel, d.recipient)
            if silence is not None:
                status, due, reason = "silenced", now, f"silence {silence.id}"
            else:
                until = hold_until(intent, d.route, config.quiet_hours, now)
                status, due, reason = ("held", until, "quiet hours") if until else ("send", now, "")
            job = {"type": "delivery", "key": key, "intent": intent_fields(intent), "route": d.route.id,
                   "recipient": d.recipient, "name": d.name, "channel": d.channel, "lang": d.lang, "attempt": 0,
                   "repeat_min": d.route.repeat_min, "repeat": 0}
            items.append({"key": key, "job": _dumps(job), "due": int(due), "status": status,
                          "group_key": d.group_key if d.route.group_window_s > 0 else "",
                          "window_ms": int(d.route.group_window_s * 1000),
                          "log": _flat({"at": now, "subject": intent.subject, "kind": intent.kind, "version": intent.version,
                                        "channel": d.channel, "recipient": d.recipient, "name": d.name, "attempt": 0,
                                        "reason": reason, "route": d.route.id, "latency_ms": 0, "title": message.title,
                                        "text": message.text, "link": message.link})})
        return items

    def process_entry(self, entry_id: str, fields) -> None:
        now = _now_ms()
        try:
            intent = intent_from_fields(fields)
        except IntentError as e:
            log.warning("outbox entry %s: %s; skipped", entry_id, e)
            self.store.ack(entry_id)
            return
        items = self.deliveries_of(intent, now)
        scheduled, grouped, silenced, held, _skipped = self.store.schedule(entry_id, intent.subject, items, now)
        self.processed += 1
        counts = Counter({"notify:intents": 1})
        by_status = {i["key"]: i for i in items}
        for item in by_status.values():
            channel = orjson.loads(item["job"])["channel"]
            if item["status"] in ("silenced", "held"):
                counts[f"notify:{channel}:{item['status']}"] += 1
        if grouped:
            counts[f"notify:{orjson.loads(items[0]['job'])['channel']}:grouped"] += grouped
        pipe = self.redis.pipeline(transaction=False)
        counters.add_in(pipe, counts)
        pipe.execute()
        if not items:
            log.info("%s %s: no route or no recipient", intent.kind, intent.subject)

    # ---- sending -------------------------------------------------------------------------------

    def send_due_once(self, pool: ThreadPoolExecutor | None = None) -> int:
        """Lease the due jobs (as many as free threads) and send them; returns how many."""
        with self._lock:
            free = self.threads - self._inflight if pool is not None else self.threads
        if free <= 0:
            return 0
        jobs = self.store.claim_due(_now_ms(), self.lease_ms, free)
        for job_id, job in jobs:
            if pool is None:
                self.run_job(job_id, job)
            else:
                with self._lock:
                    self._inflight += 1
                pool.submit(self._run_pooled, job_id, job)
        return len(jobs)

    def _run_pooled(self, job_id: str, job: dict) -> None:
        try:
            self.run_job(job_id, job)
        except Exception:  # noqa: BLE001 - the lease brings the job back
            log.exception("job %s: unexpected error; it is tried again after its lease", job_id)
        finally:
            with self._lock:
                self._inflight -= 1
            self.wake.set()

    def run_job(self, job_id: str, job: dict) -> None:
        if job.get("type") == "group":
            self._run_group(job_id, job)
        else:
            self._run_delivery(job_id, job)

    def _target(self, recipient: str):
        kind, _, ident = recipient.partition(":")
        roster = self.roster()
        found = getattr(roster, "groups" if kind == "group" else "contacts", ())
        return next((x for x in found if x.id == ident), None)

    def _send(self, job: dict, message) -> tuple[str, str, float | None]:
        """("sent" | "retry" | "failed", reason, retry_after)."""
        target = self._target(job["recipient"])
        if target is None:
            return "failed", "recipient no longer in the roster", None
        try:
            self.sender(target, job["channel"], message)
            return "sent", "", None
        except Exception as e:  # noqa: BLE001 - DeliveryError or a client bug: both recorded
            retryable = bool(getattr(e, "retryable", True))
            reason = str(getattr(e, "reason", "") or type(e).__name__)[:300]
            retry_after = getattr(e, "retry_after_s", None)
            if retryable and int(job.get("attempt", 0)) + 1 < self.settings.notify_retry_max:
                return "retry", reason, retry_after
            return "failed", reason, None

    def _result(self, intent: Intent, job: dict, result: str, reason: str, attempt: int, now: int, message=None) -> dict:
        """One delivery result as the log, the subject's stream and its timeline record it (with
        the message sent: title, text, link)."""
        return {"subject": intent.subject, "kind": intent.kind, "version": intent.version, "channel": job["channel"],
                "recipient": job["recipient"], "name": job.get("name", ""), "result": result, "attempt": attempt,
                "reason": reason, "route": job.get("route", ""), "latency_ms": max(0, now - intent.at) if result == "sent" else 0,
                "title": message.title if message else "", "text": message.text if message else "",
                "link": message.link if message else ""}

    def _run_delivery(self, job_id: str, job: dict) -> None:
        intent = intent_from_fields(job["intent"])
        if self.store.sent([job["key"]]):  # recorded by someone (a lease that ran out): never twice
            self.store.record(job_id, _now_ms(), drop=[job_id])
            return
        if job.get("repeat") and not self.checker(intent):
            self.store.record(job_id, _now_ms(), drop=[job_id])  # resolved meanwhile: no reminder
            return
        message = render(intent, job.get("lang") or "zh")
        outcome, reason, retry_after = self._send(job, message)
        now = _now_ms()
        attempt = int(job.get("attempt", 0)) + 1
        put, sent = [], []
        if outcome == "retry":
            due = now + int(backoff_s(attempt - 1, self.settings.notify_backoff_s, retry_after) * 1000)
            put.append((job_id, {**job, "attempt": attempt}, due))
            drop = []
        else:
            drop = [job_id]
            sent.append((job["key"], outcome))
            repeat_min = int(job.get("repeat_min") or 0)
            if outcome == "sent" and repeat_min > 0:
                n = int(job.get("repeat") or 0) + 1
                base = job["intent"]["version"].split("~r")[0]
                version = f"{base}~r{n}"
                key = delivery_key(intent.subject, version, intent.kind, job["channel"], job["recipient"])
                put.append((key, {**job, "key": key, "intent": {**job["intent"], "version": version}, "attempt": 0,
                                  "repeat": n}, now + repeat_min * 60_000))
        result = self._result(intent, job, outcome, reason, attempt, now, message)
        if self.store.record(job_id, now, drop=drop, put=put, sent=sent, results=[result]):
            self._count(job["channel"], [result])

    def _run_group(self, job_id: str, job: dict) -> None:
        items = job.get("items") or []
        items = list(items) if isinstance(items, list) else []
        now = _now_ms()
        if not items:
            self.store.record(job_id, now, drop=[job_id])  # the window closed without more deliveries
            return
        jobs = self.store.jobs(items)
        done = self.store.sent(items)
        live = [(k, jobs[k]) for k in items if k in jobs and k not in done]
        if not live:
            self.store.record(job_id, now, drop=[job_id, *items])
            return
        first = live[0][1]
        intents = [intent_from_fields(j["intent"]) for _k, j in live]
        message = render_group(intents, first.get("lang") or "zh", first.get("name", ""))
        outcome, reason, retry_after = self._send(first, message)
        now = _now_ms()
        attempt = int(job.get("attempt", 0)) + 1
        results = [self._result(i, j, outcome, reason, attempt, now, message) for i, (_k, j) in zip(intents, live)]
        if outcome == "retry":
            due = now + int(backoff_s(attempt - 1, self.settings.notify_backoff_s, retry_after) * 1000)
            ok = self.store.record(job_id, now, put=[(job_id, {**job, "attempt": attempt}, due)], results=results)
        else:
            ok = self.store.record(job_id, now, drop=[job_id, *items], sent=[(k, outcome) for k, _j in live], results=results)
        if ok:
            self._count(first["channel"], results)

    def _count(self, channel: str, results: list[dict]) -> None:
        counts = Counter()
        for r in results:
            counts[f"notify:{channel}:{r['result']}"] += 1
            if r["result"] == "sent":
                self.delivered += 1
                seconds = r["latency_ms"] / 1000
                counts[f"notify:latency:{latency_bucket(seconds)}"] += 1
                counts["notify:latency_ms_sum"] += int(r["latency_ms"])
                counts["notify:latency_count"] += 1
            elif r["result"] == "failed":
                self.failed += 1
                log.warning("%s %s -> %s (%s): failed after %d attempt(s): %s", r["kind"], r["subject"], r["name"] or "?",
                            channel, r["attempt"], r["reason"])
        pipe = self.redis.pipeline(transaction=False)
        counters.add_in(pipe, counts)
        pipe.execute()

    # ---- loops ---------------------------------------------------------------------------------

    def _outage(self, job: str, error: Exception) -> None:
        self.outages.outage(job, error)

    def _recovered(self, job: str) -> None:
        self.outages.recovered(job)

    def _loop(self, name: str, step) -> None:
        backoff = 0.2
        while not self.stopping.is_set():
            try:
                step()
                self._recovered(name)
                backoff = 0.2
            except REDIS_UNAVAILABLE as e:
                self._outage(name, e)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)
            except Exception as e:  # noqa: BLE001 - never stop a job
                if not (isinstance(e, redis.ResponseError) and "NOGROUP" in str(e)):
                    log.exception("%s: unexpected error; retrying", name)
                self._backlog = True
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5)

    def heartbeat(self) -> None:
        heartbeats.beat(self.redis, self.worker_id, "notify", self.started_ms, self.processed, self.store.pending_count(),
                        "ioc-notify", delivered=self.delivered, failed=self.failed)

    def run(self) -> None:
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="notify-send")
        state = {"beat": 0.0, "prune": 0.0}

        def sending():
            if self.send_due_once(pool) == 0:
                self.wake.wait(0.2)
                self.wake.clear()

        def periodic():
            now = time.monotonic()
            if now >= state["beat"]:
                self.heartbeat()
                state["beat"] = now + HEARTBEAT_S
            if now >= state["prune"]:
                pruned = self.store.prune_sent(_now_ms())
                if pruned:
                    log.info("forgot %d dedupe entries older than 7 days", pruned)
                state["prune"] = now + PRUNE_EVERY_S
            self.stopping.wait(1)

        threads = [threading.Thread(target=self._loop, args=(name, fn), name=f"notify-{name}", daemon=True)
                   for name, fn in (("intake", lambda: self.intake_once(1000)), ("sending", sending), ("periodic", periodic))]
        for t in threads:
            t.start()
        log.info("notifier %s (consumer %s) reading the notify outbox", self.worker_id, self.consumer)
        while not self.stopping.is_set():
            self.stopping.wait(0.5)
        for t in threads:
            t.join(5)
        pool.shutdown(wait=True, cancel_futures=False)
        log.info("notifier %s stopped after %d intents, %d delivered, %d failed", self.worker_id, self.processed,
                 self.delivered, self.failed)

    def stop(self, *_args) -> None:
        self.stopping.set()
        self.wake.set()


class StillDue:
    """Whether a reminder (a route's `repeat_min`) is still due: an escalated alarm still active
    with the same raise and unacknowledged, a case still overdue in the stage and deadline it was
    overdue for. Other kinds are not repeated."""

    def __init__(self, redis_client):
        from ioc.adapters.alarm_store import AlarmStore
        from ioc.adapters.case_store import CaseStore

        self.alarms = AlarmStore(redis_client)
        self.cases = CaseStore(redis_client)

    def __call__(self, intent: Intent) -> bool:
        if intent.kind == "alarm.escalated":
            try:
                alarm = self.alarms.get(intent.subject_id)
            except KeyError:
                return False
            return int(alarm.get("raised_at") or 0) == int(intent.facts.get("raised_at") or 0) \
                and self.alarms.acknowledgement(intent.subject_id) is None
        if intent.kind == "case.overdue":
            case = self.cases.find(intent.subject_id)
            return bool(case and case.is_open and case.stage == intent.facts.get("stage")
                        and case.stage_deadline == intent.facts.get("deadline") and case.overdue(_now_ms()))
        return False


def _dumps(value) -> str:
    return orjson.dumps(value).decode()


def _flat(fields: dict) -> list[str]:
    return [x for k, v in fields.items() for x in (k, v if isinstance(v, str) else str(v))]


def main(settings: Settings) -> int:
    from ioc.adapters.redis_client import connect_redis

    if not settings.redis_url:
        log.error("REDIS_URL must be set for `python -m ioc notify` (or use `python -m ioc demo`)")
        return 2
    notifier = Notifier(settings, connect_redis(settings.redis_url))
    signal.signal(signal.SIGTERM, notifier.stop)
    signal.signal(signal.SIGINT, notifier.stop)
    notifier.run()
    return 0
