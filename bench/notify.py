"""Scenario "notify": the notifier (`python -m ioc notify`) sustains 200 notifications per second
to the local provider receivers for 60 s (issue 16): trigger → delivered p50/p95/p99, throughput
achieved against offered, nothing lost and nothing sent twice.

What runs: the bench's Redis, the local receivers (`bench.receivers`: `start_receivers(limits=
False)` of `ioc.notify.receivers`, in a process of their own, standing for WeCom, DingTalk,
Feishu and the mail server), and the product's notifier with every channel URL pointing at them.
The harness writes, before the notifier starts:
- a roster (`RosterStore.put`) with one group per department of the city, the channels in turn
  (WeCom robot, DingTalk robot signed with a secret, Feishu bot signed with a secret, email);
- the routes (`NotifyStore.put_routes`): one route, `case.dispatched` → the department's group,
  with `group_window_s` 0 (no grouping), `repeat_min` 0, `quiet` off (the run must not depend on
  the hour: quiet hours would hold it) and no quiet hours. Grouping would merge a department's
  messages of the same minute into one: with it the figure would be the grouping window, not the
  notifier. Every intent of the run has its own case (subject), so no delivery is a repeat of
  another.

The notifier is started and one warm-up message goes to every group (not counted); once all of
them arrived (the notifier has read its configuration and opened its connections) a producer
thread writes `case.dispatched` intents at `RATE` per second for `DURATION_S` seconds (quick:
50/s for 8 s), round robin over the departments, in batches every 10 ms: each the intent the case
service makes for a dispatch (`CaseService.intent`, the facts in people's words) of a bench case
of its own, written through the notify store (`NotifyStore.add_intent`: the `intent_fields` the
case transition script appends), its `at` the time it is written. What the receivers recorded is
read as it comes (`GET /_received?since=`) until every delivery arrived (or nothing moved for
`DRAIN_S`), and each received message is matched to its intent by the case id in its text.

The rows: trigger → delivered p50/p95/p99 (intent `at` → the receiver's receive time; target p99
≤ 2 s), per channel in the detail; throughput: deliveries per second from the first intent to
the last delivery against the offered rate; lost (a dedupe key `subject|version|kind|channel|
recipient` never delivered) and duplicated (delivered more than once), both against 0; the
notifier's own records (`NOTIFY_SENT` entries, the log's results), the CPU of each process and
its CPU milliseconds per delivery in the detail.

Alone: `python -m bench.notify [--quick] [--redis-url …]`.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from bench import procs, views
from bench.context import BenchContext
from bench.cpuwindow import CpuWindow, ms_per
from bench.model import Measurement, ScenarioResult, Series, at_least, at_most
from bench.stats import percentile

SCENARIO = "notify"
RATE, QUICK_RATE = 200.0, 50.0  # intents per second offered
DURATION_S, QUICK_DURATION_S = 60.0, 8.0
P99_TARGET_S = 2.0
THROUGHPUT_TARGET = 0.95  # deliveries per second achieved ≥ 0.95 × offered
BATCH_EVERY_S = 0.01
DRAIN_S = 30.0  # after the last intent: wait this long without a new delivery before giving up
DRAIN_MAX_S = 180.0
KIND = "case.dispatched"
GROUP_CHANNELS = ("wecom", "dingtalk", "feishu", "email")
MARK = re.compile(r"NB\d{6}-\d{6}")  # the bench's case ids: NB<hhmmss>-<n>
WARM_UP_FROM = 900_000  # the warm-up's case numbers (not counted)


# --- the roster, the routes, the intents -----------------------------------------------------------

def bench_roster(departments: list[str]) -> dict:
    """One group per department, the channels in turn (DingTalk and Feishu signed)."""
    groups = []
    for i, dept in enumerate(departments):
        channel = GROUP_CHANNELS[i % len(GROUP_CHANNELS)]
        key = f"{dept}@bench.example.org" if channel == "email" else f"bench-{channel}-{i:03d}"
        groups.append({"id": f"bench-{dept}", "name": f"bench {dept}", "department": dept, "channel": channel, "key": key,
                       "secret": f"SEC-bench-{i:03d}" if channel in ("dingtalk", "feishu") else "", "mentions": []})
    return {"contacts": [], "groups": groups, "shifts": []}


def bench_routes() -> dict:
    """One route, every bench intent to its department's group, no grouping, no quiet hours."""
    return {"routes": [{"id": "bench", "name": "bench: dispatch to the department's group", "kinds": [KIND],
                        "severities": [], "departments": [], "targets": ["department_group"], "channels": [],
                        "group_window_s": 0, "repeat_min": 0, "quiet": False, "enabled": True}],
            "quiet_hours": None}


def case_id(tag: str, n: int) -> str:
    return f"NB{tag}-{n:06d}"


def intent_maker(ctx: BenchContext, city):
    """`make(n, department, now_ms)`: the `case.dispatched` intent of the n-th bench case as the case
    service makes it when a dispatcher dispatches (`CaseService.intent`: the facts in people's
    words), for a case at its district's seat, dispatched to `department` a moment ago."""
    from ioc.adapters.redis_client import connect_redis
    from ioc.casework.service import CaseService
    from ioc.domain import case_catalog
    from ioc.domain.cases import Case
    from ioc.domain.departments import all_departments

    service = CaseService.from_settings(connect_redis(ctx.redis_url), city, ctx.settings())
    district_of = {d.id: d.district for d in all_departments(city)}
    districts = [d.id for d in city.districts]
    codes = sorted(case_catalog.MINOR_CLASSES)

    def make(tag: str, n: int, department: str, now_ms: int):
        district = city.district(district_of.get(department) or "") or city.district(districts[n % len(districts)])
        lon, lat = district.seat
        case = Case(id=case_id(tag, n), class_code=codes[n % len(codes)], lat=lat, lon=lon, district=district.id, source="bench",
                    created_at=now_ms - 600_000, stage="dispatched", version=3, address=f"bench {n}", department=department,
                    stage_since=now_ms, stage_deadline=now_ms + 4 * 3_600_000, updated_at=now_ms)
        return service.intent(KIND, case, now_ms, by="bench")

    return make


@dataclass
class Produced:
    at: dict[str, int] = field(default_factory=dict)  # case id -> intent at (ms)
    department: dict[str, str] = field(default_factory=dict)
    started: float = 0.0  # time.time()
    ended: float = 0.0
    late_batches: int = 0  # batches written more than 50 ms after their time


def produce(make, write, departments: list[str], tag: str, rate: float, seconds: float, out: Produced) -> Produced:
    """`rate` intents per second for `seconds`, made by `make(tag, n, department, at_ms)`, in batches
    every 10 ms through `write(intents)`."""
    total = int(rate * seconds)
    out.started = t0 = time.time()
    n = 0
    while n < total:
        due = min(total, int((time.time() - t0) * rate) + 1)
        if due > n:
            now_ms = int(time.time() * 1000)
            batch = []
            for k in range(n, due):
                dept = departments[k % len(departments)]
                intent = make(tag, k, dept, now_ms)
                out.at[case_id(tag, k)], out.department[case_id(tag, k)] = now_ms, dept
                batch.append(intent)
            if now_ms - (t0 * 1000 + n / rate * 1000) > 50:
                out.late_batches += 1
            write(batch)
            n = due
        time.sleep(BATCH_EVERY_S)
    out.ended = time.time()
    return out


# --- what the receivers got ------------------------------------------------------------------------

@dataclass(frozen=True)
class Delivery:
    case_id: str
    channel: str
    target: str
    received_ms: int


def deliveries(records: list[dict]) -> tuple[list[Delivery], int]:
    """Each received message's bench case ids, read in the text the receiver decoded (a grouped
    message would name several); and the number of records that name none (not the bench's)."""
    out, strangers = [], 0
    for r in records:
        ids = sorted(set(MARK.findall(str(r.get("text") or ""))))
        if not ids:
            strangers += 1
        for cid in ids:
            out.append(Delivery(cid, str(r.get("channel", "")), str(r.get("target", "")), int(r.get("at") or 0)))
    return out, strangers


class Received:
    """What the receivers recorded (`GET /_received?since=<ms>`), read as it comes: each poll asks
    from the newest record's time on and keeps the records by their id."""

    def __init__(self, base: str, since_ms: int):
        import requests

        self.base, self.since = base, since_ms
        self.records: dict[int, dict] = {}
        self.session = requests.Session()

    def poll(self) -> int:
        r = self.session.get(self.base + "/_received", params={"since": str(self.since), "limit": "200000"}, timeout=60)
        r.raise_for_status()
        for record in r.json().get("received", []):
            self.records[int(record["id"])] = record
            self.since = max(self.since, int(record["at"]))
        return len(self.records)

    def accepted(self) -> list[dict]:
        """The records the receivers answered as sent (not a refusal: a bad signature, a limit)."""
        return [r for _, r in sorted(self.records.items()) if r.get("accepted")]


# --- the rows --------------------------------------------------------------------------------------

def _row(name: str, value: float, unit: str, target: str = "", passed=None, **detail) -> Measurement:
    digits = 3 if unit in ("s", "ratio") else 1
    return Measurement(SCENARIO, name, round(value, digits) if value == value else value, unit, target, passed, detail)


def results(produced: Produced, got: list[Delivery], recipients: dict[str, tuple[str, str]], context: dict) -> ScenarioResult:
    """`recipients`: department -> (channel, receiver target) its group's deliveries arrive as."""
    out = ScenarioResult()
    counts = Counter((d.case_id, d.channel, d.target) for d in got if d.case_id in produced.at)
    expected = {(cid, *recipients[dept]) for cid, dept in produced.department.items()}
    lost = sorted(k for k in expected if counts[k] == 0)
    duplicated = {k: n for k, n in counts.items() if n > 1}
    unexpected = sorted(k for k in counts if k not in expected)
    first = {}
    for d in got:
        key = (d.case_id, d.channel, d.target)
        if key in expected and (key not in first or d.received_ms < first[key]):
            first[key] = d.received_ms
    latency = [(ms - produced.at[k[0]]) / 1000 for k, ms in first.items()]
    by_channel = defaultdict(list)
    for k, ms in first.items():
        by_channel[k[1]].append((ms - produced.at[k[0]]) / 1000)
    offered = len(produced.at) / max(produced.ended - produced.started, 1e-6)
    span = (max(first.values(), default=0) / 1000 - produced.started) if first else float("nan")
    achieved = len(first) / span if span == span and span > 0 else float("nan")
    detail = {"intents": len(produced.at), "deliveries_expected": len(expected), "delivered": len(first),
              "late_producer_batches": produced.late_batches,
              "per_channel": {c: {"n": len(v), "p50_s": round(percentile(v, 50), 3), "p95_s": round(percentile(v, 95), 3),
                                  "p99_s": round(percentile(v, 99), 3), "max_s": round(max(v), 3)} for c, v in sorted(by_channel.items())},
              **context}
    p50, p95, p99 = (percentile(latency, q) for q in (50, 95, 99))
    rate = context.get("rate", RATE)
    out.measurements += [
        _row(f"trigger → delivered p50 ({rate:g}/s)", p50, "s", **detail),
        _row(f"trigger → delivered p95 ({rate:g}/s)", p95, "s", **detail),
        _row(f"trigger → delivered p99 ({rate:g}/s)", p99, "s", f"≤ {P99_TARGET_S:g} s",
             at_most(p99, P99_TARGET_S) and not lost, max_s=round(max(latency, default=float("nan")), 3), **detail),
        _row("deliveries per second achieved", achieved, "msg/s", f"≥ {THROUGHPUT_TARGET:.0%} of offered ({offered:,.0f}/s)",
             at_least(achieved, THROUGHPUT_TARGET * offered) if achieved == achieved else False,
             offered_per_s=round(offered, 1), seconds_first_intent_to_last_delivery=round(span, 1) if span == span else None),
        _row("deliveries lost (dedupe keys never delivered)", len(lost), "deliveries", "0", not lost and bool(expected),
             first=[("|".join(k)) for k in lost[:5]], expected=len(expected)),
        _row("deliveries duplicated (dedupe keys delivered twice or more)", len(duplicated), "deliveries", "0",
             not duplicated and not unexpected, first={"|".join(k): n for k, n in list(duplicated.items())[:5]},
             unexpected_recipients=len(unexpected), deliveries_received=sum(counts.values())),
    ]
    if latency:
        order = sorted(first.items(), key=lambda kv: produced.at[kv[0][0]])
        step = max(1, len(order) // 300)
        out.series.append(Series("notify", "trigger → delivered (s)",
                                 [round(produced.at[k[0]] / 1000 - produced.started, 2) for k, _ in order[::step]],
                                 [round((ms - produced.at[k[0]]) / 1000, 3) for k, ms in order[::step]],
                                 "seconds since the first intent", "s"))
    return out


# --- the scenario ----------------------------------------------------------------------------------

def recipients_of(roster: dict) -> dict[str, tuple[str, str]]:
    """department -> (channel, the target the receivers record: the robot key / hook id / address)."""
    return {g["department"]: (g["channel"], g["key"]) for g in roster["groups"]}


def setup(ctx: BenchContext, departments: list[str]) -> dict:
    """The bench's roster and routes in Redis, through the stores an admin's changes go through."""
    from ioc.adapters.notify_store import NotifyStore
    from ioc.adapters.redis_client import connect_redis
    from ioc.adapters.roster_store import RosterStore
    from ioc.domain.roster import validate_roster

    redis = connect_redis(ctx.redis_url)
    data = bench_roster(departments)
    RosterStore(redis).put(validate_roster(data, departments), "bench", "127.0.0.1")
    NotifyStore(redis).put_routes(bench_routes(), "bench")
    return data


def intent_writer(ctx: BenchContext):
    """`write(intents)`: the notify store's outbox writer (`NotifyStore.add_intent`: the intent's
    `intent_fields`, what the case transition script appends)."""
    from ioc.adapters.notify_store import NotifyStore
    from ioc.adapters.redis_client import connect_redis

    store = NotifyStore(connect_redis(ctx.redis_url))

    def write(intents) -> None:
        for intent in intents:
            store.add_intent(intent)

    return write


def notifier_records(ctx: BenchContext, since_ms: int) -> dict:
    """What the notifier recorded since `since_ms`: the log's results by kind, the dedupe keys,
    what is left in the outbox's group and the pending jobs."""
    from ioc.adapters import redis_keys as keys
    from ioc.adapters.redis_client import as_text, connect_redis

    redis = connect_redis(ctx.redis_url)
    results: Counter = Counter()
    start = f"{since_ms}-0"
    while True:
        batch = redis.xrange(keys.NOTIFY_LOG, min=start, count=5000)
        if not batch:
            break
        for _, fields in batch:
            results[as_text(fields.get(b"result", b"?"))] += 1
        start = "(" + as_text(batch[-1][0])
    return {"log_results": dict(results), "sent_keys": int(redis.hlen(keys.NOTIFY_SENT)),
            "pending_jobs": int(redis.zcard(keys.NOTIFY_PENDING))}


def start_receivers(ctx: BenchContext, children: procs.Children, roster: dict) -> tuple[procs.Child, dict, str]:
    """`bench.receivers` knowing the roster's robot keys: (process, IOC_NOTIFY_* URLs, HTTP base)."""
    import json

    keys = ctx.work_dir / "notify-keys.json"
    keys.write_text(json.dumps([[g["channel"], g["key"], g["secret"]] for g in roster["groups"] if g["channel"] != "email"]))
    child = children.start("receivers", [sys.executable, "-m", "bench.receivers", str(keys)], env=ctx.process_env(),
                           log_path=ctx.work_dir / "receivers.log", stdin=True)
    ready = child.wait_event("ready", 30)
    return child, ready["urls"], ready["base"]


def wait_delivered(received: Received, expected: int, progress, stop_after: float = DRAIN_S, limit: float = DRAIN_MAX_S) -> float:
    """Until the receivers hold `expected` messages, or nothing arrived for `stop_after` seconds."""
    t0 = last_change = time.monotonic()
    seen = -1
    while time.monotonic() - t0 < limit:
        n = received.poll()
        if n >= expected:
            return time.monotonic() - t0
        if n != seen:
            seen, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > stop_after:
            progress(f"  notify: {n:,} of {expected:,} messages received; nothing new for {stop_after:.0f} s")
            break
        time.sleep(0.5)
    return time.monotonic() - t0


def warm_up(make, write, departments: list[str], tag: str, received: Received, notifier, timeout: float = 120.0) -> None:
    """One intent to each department's group (case numbers from `WARM_UP_FROM`, not counted),
    and wait until every one arrived: the notifier has started, read the roster and the routes,
    and opened its connections before the first counted intent is written."""
    now = int(time.time() * 1000)
    write([make(tag, WARM_UP_FROM + k, dept, now) for k, dept in enumerate(departments)])
    wanted = {case_id(tag, WARM_UP_FROM + k) for k in range(len(departments))}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if notifier.proc.poll() is not None:
            raise RuntimeError(f"the notifier exited ({notifier.proc.returncode}); see {notifier.log}")
        received.poll()
        if wanted <= {d.case_id for d in deliveries(received.accepted())[0]}:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the notifier did not deliver the warm-up messages within {timeout:.0f} s; see {notifier.log}")


def run(ctx: BenchContext) -> ScenarioResult:
    from ioc.adapters.geodata_files import load_city_map
    from ioc.domain.departments import department_ids

    progress = ctx.progress
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    rate = QUICK_RATE if ctx.quick else RATE
    seconds = QUICK_DURATION_S if ctx.quick else DURATION_S
    city = load_city_map(ctx.settings().geodata_dir)
    departments = sorted(department_ids(city))
    roster = setup(ctx, departments)
    recipients = recipients_of(roster)
    make, write = intent_maker(ctx, city), intent_writer(ctx)
    children = procs.Children()
    notifier = None
    tag = time.strftime("%H%M%S")
    produced = Produced()
    context = {"quick": ctx.quick, "rate": rate, "seconds": seconds, "departments": len(departments),
               "channels": sorted({c for c, _ in recipients.values()}), "route": bench_routes()["routes"][0],
               "timing": "intent `at` (the case service's intent, written by the harness) → the receiver's receive time"}
    try:
        receivers, urls, base = start_receivers(ctx, children, roster)
        notifier = views.start(ctx, "notify", ["-m", "ioc", "notify"], **urls)
        progress(f"  notify: receivers at {base}, notifier started; {len(departments)} department groups "
                 f"({', '.join(context['channels'])}); {rate:g} intents/s for {seconds:g} s")
        since = int(time.time() * 1000)
        received = Received(base, since)
        warm_up(make, write, departments, tag, received, notifier)
        progress(f"  notify: warm-up: one message to each of the {len(departments)} groups delivered")
        cpu = CpuWindow([notifier, views.Process("receivers", receivers.proc, ctx.work_dir / "receivers.log")], ctx.server_pids).start()
        producer = threading.Thread(target=produce, args=(make, write, departments, tag, rate, seconds, produced),
                                    name="bench-notify-producer", daemon=True)
        producer.start()
        while producer.is_alive():  # read as it comes: one large read at the end would be slow
            producer.join(2.0)
            received.poll()
        progress(f"  notify: {len(produced.at):,} intents written in {produced.ended - produced.started:.1f} s "
                 f"({produced.late_batches} batches late by more than 50 ms)")
        context["drain_s"] = round(wait_delivered(received, len(produced.at) + len(departments), progress), 1)
        context["cpu_percent"] = cpu.stop()
        context["cpu_ms_per_delivery"] = ms_per(context["cpu_percent"], cpu.elapsed, len(produced.at),
                                                ("notify", "receivers", "redis-server"))
        got, strangers = deliveries(received.accepted())
        context["refused_by_the_receivers"] = len(received.records) - len(received.accepted())
        context["records_without_a_bench_case"] = strangers
        context["notifier"] = notifier_records(ctx, since)
        result = results(produced, got, recipients, context)
        for m in result.measurements:
            progress(f"  notify: {m.name}: {m.value} {m.unit} {m.target}")
        progress(f"  notify: CPU % {context['cpu_percent']}, CPU ms per delivery {context['cpu_ms_per_delivery']}; "
                 f"notifier records {context['notifier']}")
        return result
    finally:
        if notifier is not None:
            notifier.stop()
        children.stop_all()


if __name__ == "__main__":
    raise SystemExit(views.standalone(sys.modules[__name__]))
