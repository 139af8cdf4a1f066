"""Scenario "events": linked events (大联动, issue 15) worked through the JSON API while the
ingest runs: 20 concurrent events with at least 8 departments each, the server time of every
event action and every task action, and the wall's tick with the events live.

What runs: the seeded city (`bench.views.seeded`), the product's web process with a
`Server-Timing` header added by the harness (`bench.timed_web`: the same app and gunicorn
options as `python -m ioc web`), the case worker (`python -m ioc cases`: the events outbox,
department updates, the trigger scan) and the ingest fed 20,000 msg/s by the paced publisher
(`bench.views.start_load`; quick: 1,000 msg/s, 2,000 devices).

The script (`script`): each event starts at level III of a plan whose level I assigns at least
8 departments (flood 9, crowd 8, hazmat 8), is raised to II then I, gets a leader's instruction,
and every department works its task (acknowledge, acknowledge the instruction, arrive, start,
report, done); one asks for support and the commander adds a supporting department for it (then
withdraws it), another department gets a task added and returns it; a second instruction; the
event is contained and closed. The events go through the script phase by phase, all at once:
the departments of one event act together (the service's per-task versions), the events' steps
follow each other at `ACTION_RATE` actions per second. The full run does it `ROUNDS` times.

Server time: the `app;dur` of the `Server-Timing` header, the time inside the gunicorn worker
from the WSGI call to the response's start (the token check, the event service, Redis, the JSON
body); the loopback HTTP time (queueing at the two sync workers included) is in each row's
detail. The wall: every callback the big screen (`/`) runs on the shell's `tick`, found in
`/_dash-dependencies` (so the event mode's own callbacks count), POSTed as the browser does
(`bench.views.payload`, keeping what the answers send for the callbacks' state: `carry_state`).
The rows: once every event has its departments on site, 30 ticks (quick: 20) with one event
changing before each and nothing else asked of the web meanwhile, timed like the `views`
scenario (loopback HTTP p95 is the row's value, the server time beside it); in the detail the
same callbacks before any event started, and ticking every 2 s (the shell's interval) while the
departments act. The bytes of a tick: every tick callback's response body, the largest tick
with the events live, against ≤ 50 KB.

Alone: `python -m bench.events [--quick] [--redis-url … --mqtt-url …]`.
"""

from __future__ import annotations

import gzip
import itertools
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import orjson

from bench import views
from bench.context import BenchContext
from bench.model import Measurement, ScenarioResult, Series, at_most
from bench.stats import percentile
from bench.timed_web import server_ms
from layouts.shell import REFRESH_MS

SCENARIO = "events"
ACTION_TARGET_MS = 50.0
READ_TARGET_MS = 100.0  # one event with what its area links, the active list: what the event page and the wall wait on
TICK_TARGET_MS = views.CALLBACK_TARGET_MS  # 40 ms
TICK_TARGET_KB = views.TICK_TARGET_KB  # 50 KB
EVENTS, QUICK_EVENTS = 20, 6
ROUNDS, QUICK_ROUNDS = 2, 1
MIN_DEPARTMENTS = 8
PLANS = ("flood", "crowd", "hazmat")  # level I assigns >= 8 departments
LEVELS = ("III", "II", "I")  # started at the first, raised through the others
ACTION_RATE = 20.0  # event and task actions per second offered (in bursts: one event's steps of a phase at once)
CONCURRENCY = 8  # requests in flight at most (eight departments of one event acting at once)
TICK_EVERY_S = REFRESH_MS / 1000  # the wall's tick while the departments act: the shell's interval
TICK_BASELINE = 10  # ticks timed before any event starts (the detail's "no events" figures)
WALL_AFTER = "arrive"  # the phase after which the wall's tick is timed (every event responding, departments on site)
WALL_TICKS, QUICK_WALL_TICKS = 30, 20  # ticks timed then, one event changing before each
WARM_UP_EVENTS = 2  # started and cancelled before the timing (each worker's first calls import and cache)
TICK_INPUT = {"id": "tick", "property": "n_intervals"}
# the rows' names of the wall's tick callbacks (by first output; others are named by it)
TICK_NAMES = {"clock.children": "shell heartbeat", "value-kpi_online.children": "bigscreen refresh",
              "bigscreen-grid.className": "event mode"}
WALL_ROLES = views.API_ROLES  # the wall's principal in the views scenario

# the rows, in the order of the table: event actions, task actions, then reads
EVENT_ACTIONS = ("start", "level", "instruct", "acknowledge_instruction", "add_task", "withdraw_task", "contain", "close")
TASK_ACTIONS = ("acknowledge", "arrive", "start", "report", "support", "return", "done")
READS = ("read event", "list active events")


# --- the script ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    event: int  # index of the event in the round
    action: str  # an EVENT_ACTIONS name, "task <TASK_ACTIONS name>", or a READS name
    who: str  # "dispatcher" | "leader" | the acting department (a handler of it)
    department: str = ""  # the task's department (task actions, add_task, withdraw_task)
    instruction: int = 0  # acknowledge_instruction: the n-th instruction (1-based)
    body: dict = field(default_factory=dict)  # the request's fields besides ids and versions

    @property
    def row(self) -> str:
        return self.action


@dataclass(frozen=True)
class Phase:
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class EventPlan:
    """What one event of the script is: plan, district, area input, its departments."""
    index: int
    plan: str
    district: str
    area: dict | None  # None: the district
    working: tuple[str, ...]  # the departments of level I: each works its task from acknowledge to done
    asks_support: str  # one of `working`: asks for support
    supporter: str  # not in the plan: added for `asks_support`, acknowledges, withdrawn
    returner: str  # not in the plan: added, returns the task


def event_plans(n: int, plans: dict, city, departments) -> list[EventPlan]:
    """The `n` events of a round: plans in turn, districts in turn, every other area a 1.5 km circle
    around the district's seat; every event has at least MIN_DEPARTMENTS working departments."""
    from ioc.domain.events import resolve_department

    districts = [d for d in city.districts]
    out = []
    for i in range(n):
        plan = plans[PLANS[i % len(PLANS)]]
        district = districts[i % len(districts)]
        working = tuple(resolve_department(t.department, district.id) for t in plan.level(LEVELS[-1]).tasks)
        if len(working) < MIN_DEPARTMENTS:
            raise ValueError(f"plan {plan.id} level {LEVELS[-1]} assigns {len(working)} departments; the scenario needs {MIN_DEPARTMENTS}")
        spare = [d for d in sorted(departments) if d not in working and not d.startswith("town_")] + \
                [f"town_{d.id}" for d in districts[i % len(districts) + 1:] + districts[:i % len(districts)]
                 if f"town_{d.id}" in departments and f"town_{d.id}" not in working]
        area = None if i % 2 == 0 else {"type": "circle", "center": list(district.seat), "radius_m": 1500}
        out.append(EventPlan(i, plan.id, district.id, area, working, working[1], spare[0], spare[1]))
    return out


def script(events: list[EventPlan]) -> list[Phase]:
    """The phases of one round: every event takes each phase's steps; the phases follow each other."""
    def each(name: str, make: Callable[[EventPlan], list[Step]]) -> Phase:
        return Phase(name, tuple(s for e in events for s in make(e)))

    def task(action: str, note: str = ""):
        def make(e: EventPlan) -> list[Step]:
            return [Step(e.index, f"task {action}", d, d, body={"note": note} if note else {}) for d in e.working]
        return make

    return [
        each("start", lambda e: [Step(e.index, "start", "dispatcher", body={
            "plan": e.plan, "level": LEVELS[0], "title": f"bench {e.plan} {e.index + 1}",
            "district": e.district, **({"area": e.area} if e.area else {})})]),
        each("read", lambda e: [Step(e.index, "read event", "dispatcher"), Step(e.index, "list active events", "dispatcher")]),
        *[each(f"level {lv}", lambda e, lv=lv: [Step(e.index, "level", "dispatcher",
                                                     body={"level": lv, "reason": f"bench: raised to {lv}"})])
          for lv in LEVELS[1:]],
        each("instruct", lambda e: [Step(e.index, "instruct", "leader", body={"text": "bench: report every 30 minutes"})]),
        each("acknowledge", task("acknowledge")),
        each("acknowledge instruction 1", lambda e: [Step(e.index, "acknowledge_instruction", d, instruction=1) for d in e.working]),
        each("arrive", task("arrive")),
        each("add a task", lambda e: [Step(e.index, "add_task", "dispatcher", e.returner, body={"text": "bench: stand by"})]),
        each("start work; return", lambda e: [Step(e.index, "task return", e.returner, e.returner, body={"note": "bench: no crew free"}),
                                              *task("start")(e)]),
        each("report; ask for support", lambda e: [
            Step(e.index, "task support", e.asks_support, e.asks_support, body={"note": "bench: need pumps"}),
            *[s for s in task("report", "bench: working")(e) if s.department != e.asks_support]]),
        each("add support", lambda e: [Step(e.index, "add_task", "dispatcher", e.supporter,
                                            body={"text": "bench: bring pumps", "support_for": e.asks_support})]),
        each("support acknowledges", lambda e: [Step(e.index, "task acknowledge", e.supporter, e.supporter)]),
        each("withdraw", lambda e: [Step(e.index, "withdraw_task", "dispatcher", e.supporter, body={"reason": "bench: not needed"})]),
        each("instruct again", lambda e: [Step(e.index, "instruct", "leader", body={"text": "bench: keep the roads open"})]),
        each("acknowledge instruction 2; report", lambda e: [
            *[Step(e.index, "acknowledge_instruction", d, instruction=2) for d in e.working],
            Step(e.index, "task report", e.asks_support, e.asks_support, body={"note": "bench: pumps running"})]),
        each("contain", lambda e: [Step(e.index, "contain", "dispatcher")]),
        each("done", task("done", "bench: done")),
        each("read again", lambda e: [Step(e.index, "read event", "dispatcher")]),
        each("close", lambda e: [Step(e.index, "close", "dispatcher", body={"summary": "bench: closed"})]),
    ]


# --- the live state of the events and the requests ---------------------------------------------------

@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: dict | None
    who: str


class Live:
    """The events of a round as the API last answered them (the highest version seen)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: dict[int, dict] = {}

    def update(self, index: int, body) -> None:
        if not isinstance(body, dict) or "version" not in body or "tasks" not in body:
            return
        with self.lock:
            current = self.events.get(index)
            if current is None or body["version"] > current["version"]:
                self.events[index] = body

    def get(self, index: int) -> dict | None:
        with self.lock:
            return self.events.get(index)

    def request(self, step: Step) -> Request | None:
        """The request that takes `step` now; None when its event never started."""
        if step.action == "start":
            return Request("POST", "/api/v1/events", dict(step.body), step.who)
        event = self.get(step.event)
        if event is None:
            return None
        base = f"/api/v1/events/{event['id']}"
        version = event["version"]
        a = step.action
        if a == "read event":
            return Request("GET", base, None, step.who)
        if a == "list active events":
            return Request("GET", "/api/v1/events?active=1", None, step.who)
        if a == "level":
            return Request("POST", base + "/level", {**step.body, "version": version}, step.who)
        if a == "instruct":
            return Request("POST", base + "/instructions", {**step.body, "version": version}, step.who)
        if a == "close":
            return Request("POST", base + "/close", {**step.body, "version": version}, step.who)
        if a == "acknowledge_instruction":  # the departments acknowledge at once: no event version
            return Request("POST", base + "/actions", {"action": a, "instruction_id": f"I{step.instruction}"}, step.who)
        if a in ("add_task", "withdraw_task", "contain"):
            body = {"action": a, "version": version, **step.body}
            if step.department:
                body["department"] = step.department
            return Request("POST", base + "/actions", body, step.who)
        if a.startswith("task "):
            task = next((t for t in event["tasks"] if t["department"] == step.department), None)
            body = {"action": a.split(" ", 1)[1], **step.body}
            if task is not None:
                body["version"] = task["version"]
            return Request("POST", f"{base}/tasks/{step.department}/actions", body, step.who)
        raise ValueError(f"unknown step action {a!r}")


@dataclass
class Answer:
    status: int
    body: object
    http_ms: float
    server_ms: float | None
    size: int = 0


Send = Callable[[Request], Answer]  # takes a request with the token of `who`; thread-safe


@dataclass
class Samples:
    """The times of one row."""
    server_ms: list[float] = field(default_factory=list)
    http_ms: list[float] = field(default_factory=list)
    errors: int = 0
    skipped: int = 0
    refusals: list[str] = field(default_factory=list)  # the first few, for the report

    def add(self, answer: Answer) -> None:
        if 200 <= answer.status < 300:
            self.http_ms.append(answer.http_ms)
            if answer.server_ms is not None:
                self.server_ms.append(answer.server_ms)
            return
        self.errors += 1
        if len(self.refusals) < 5:
            body = answer.body if isinstance(answer.body, dict) else {}
            self.refusals.append(f"{answer.status} {body.get('error', '')}: {str(body.get('message', answer.body))[:160]}")


def play(phases: list[Phase], send: Send, samples: dict[str, Samples], rate: float = ACTION_RATE,
         concurrency: int = CONCURRENCY, progress: Callable[[str], None] | None = None, live: Live | None = None,
         after_phase: Callable[[str], None] | None = None) -> Live:
    """Take every phase's steps through `send`: one event's steps of a phase at once, the events'
    bursts spaced so that `rate` steps per second are offered; a phase ends when all its answers
    are in. Each answer's times go to `samples[step.row]`; an answer holding the event updates
    `live`."""
    live = live or Live()

    def one(step: Step) -> None:
        request = live.request(step)
        row = samples.setdefault(step.row, Samples())
        if request is None:
            row.skipped += 1
            return
        answer = send(request)
        row.add(answer)
        live.update(step.event, answer.body)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-events") as pool:
        for phase in phases:
            t0 = time.monotonic()
            offered = 0
            futures = []
            for _, burst in itertools.groupby(phase.steps, key=lambda s: s.event):
                burst = list(burst)
                delay = t0 + offered / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures += [pool.submit(one, s) for s in burst]
                offered += len(burst)
            for f in futures:
                f.result()
            if progress:
                progress(f"  events: {phase.name:36s} {len(phase.steps):4d} steps in {time.monotonic() - t0:5.1f} s")
            if after_phase:
                after_phase(phase.name)
    return live


# --- tokens and HTTP -------------------------------------------------------------------------------

def make_tokens(users, departments) -> dict[str, str]:
    """API token secrets for the script's principals: `dispatcher`, `leader`, `wall` (the views
    scenario's roles) and a handler of every department (its id)."""
    from ioc.adapters.user_store import Actor

    actor = Actor("bench", "admin")
    secrets = {}
    stamp = time.strftime("%H%M%S")
    for who, roles in (("dispatcher", ["dispatcher"]), ("leader", ["leader"]), ("wall", list(WALL_ROLES))):
        secrets[who] = users.create_token(f"bench-events-{who}-{stamp}", roles, actor)[1]
    for department in sorted(departments):
        secrets[department] = users.create_token(f"bench-events-{department}-{stamp}"[:60], ["handler"], actor,
                                                 department=department)[1]
    return secrets


def http_sender(base: str, secrets: dict[str, str]) -> Send:
    """`send` over loopback HTTP (one keep-alive session per thread)."""
    import requests

    local = threading.local()

    def send(request: Request) -> Answer:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        headers = {"Authorization": f"Bearer {secrets[request.who]}"}
        data = None
        if request.body is not None:
            data = orjson.dumps(request.body)
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        try:
            r = session.request(request.method, base + request.path, data=data, headers=headers, timeout=60)
        except requests.RequestException as e:
            return Answer(0, {"error": "connection", "message": repr(e)}, (time.perf_counter() - t0) * 1000, None)
        ms = (time.perf_counter() - t0) * 1000
        try:
            body = r.json()
        except ValueError:
            body = r.text[:300]
        return Answer(r.status_code, body, ms, server_ms(r.headers), len(r.content))

    return send


# --- the wall's tick -------------------------------------------------------------------------------

@dataclass
class TickTiming:
    name: str  # the callback's output
    http_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    bytes: list[int] = field(default_factory=list)
    errors: int = 0


def tick_callbacks(dependencies: list[dict], components: dict) -> list[dict]:
    """The callbacks a page runs on every tick: an input is the shell's `tick`, and every input and
    output is a component of the page (shell + page layout: `bench.views.page_layout`)."""
    out = []
    for dep in dependencies:
        if not isinstance(dep.get("output"), str) or TICK_INPUT not in [{"id": i["id"], "property": i["property"]}
                                                                       for i in dep.get("inputs", [])]:
            continue
        outputs = [views._id_prop(o)[0] for o in views.split_outputs(dep["output"])]
        ids = outputs + [i["id"] for i in dep["inputs"]]
        if all(isinstance(i, str) and i in components for i in ids):
            out.append(dep)
    return out


def carry_state(body: dict, answer: bytes) -> None:
    """What a browser keeps between two ticks: the callback's State that is also its output takes
    the value the answer sent (the wall's `ev-wall-shown`: what the screen shows, so an unchanged
    event is not sent again), and the tick's `n_intervals` counts on."""
    for i in body.get("inputs", []):
        if i.get("id") == TICK_INPUT["id"] and i.get("property") == TICK_INPUT["property"]:
            i["value"] = (i.get("value") or 0) + 1
    if not answer or not body.get("state"):
        return
    try:
        sent = orjson.loads(answer).get("response") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return
    for state in body["state"]:
        props = sent.get(state["id"]) if isinstance(state["id"], str) else None
        if isinstance(props, dict) and state["property"] in props:
            state["value"] = props[state["property"]]


class Wall:
    """The big screen's tick: every tick callback POSTed in turn (with what the browser keeps
    between ticks: `carry_state`), once per `every` seconds in its own thread while the
    departments act (`start()`/`stop()`), or `n` ticks at once (`ticks(n)`)."""

    def __init__(self, base: str, secret: str, payloads: dict[str, dict], every: float = TICK_EVERY_S):
        import requests

        self.url = base + "/_dash-update-component"
        self.headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        self.payloads = {name: orjson.loads(orjson.dumps(body)) for name, body in payloads.items()}  # this wall's own state
        self.every = every
        self.session = requests.Session()
        self.timings = {name: TickTiming(name) for name in payloads}
        self.tick_bytes: list[int] = []  # per tick: every tick callback's response body (as JSON)
        self.tick_gzip: list[int] = []  # the same, gzip level 6 (what travels when the server compresses)
        self.encoding = ""  # the server's Content-Encoding, if any
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        import requests

        total = packed = 0
        for name, body in self.payloads.items():
            timing = self.timings[name]
            t0 = time.perf_counter()
            try:
                r = self.session.post(self.url, data=orjson.dumps(body), headers=self.headers, timeout=60)
            except requests.RequestException:
                timing.errors += 1
                continue
            ms = (time.perf_counter() - t0) * 1000
            if r.status_code not in (200, 204):
                timing.errors += 1
                continue
            timing.http_ms.append(ms)
            server = server_ms(r.headers)
            if server is not None:
                timing.server_ms.append(server)
            timing.bytes.append(len(r.content))
            total += len(r.content)
            packed += len(gzip.compress(r.content, 6)) if r.content else 0
            self.encoding = r.headers.get("Content-Encoding", "") or self.encoding
            carry_state(body, r.content)
        self.tick_bytes.append(total)
        self.tick_gzip.append(packed)

    def ticks(self, n: int) -> "Wall":
        for _ in range(n):
            t0 = time.monotonic()
            self.tick()
            time.sleep(max(0.0, self.every - (time.monotonic() - t0)))
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            self.tick()
            self._stop.wait(max(0.0, self.every - (time.monotonic() - t0)))

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="bench-events-wall", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
            self._thread = None


def changing_ticks(wall: Wall, live: Live, events: list[EventPlan], send: Send, n: int) -> None:
    """`n` ticks of the wall with nothing else asked of the web meanwhile, one event changing
    before each (a progress report of its lead: the events' revision moves, so the wall cannot
    answer from what it read for the previous tick)."""
    for k in range(n):
        e = events[k % len(events)]
        request = live.request(Step(e.index, "task report", e.working[0], e.working[0], body={"note": "bench: on site"}))
        if request is not None:
            live.update(e.index, send(request).body)
        wall.tick()


def wall_payloads(base: str, secret: str, settings) -> dict[str, dict]:
    """The big screen's tick callbacks (named by their first output) with the bodies the browser POSTs."""
    import requests

    deps = requests.get(base + "/_dash-dependencies", headers={"Authorization": f"Bearer {secret}"}, timeout=30).json()
    components = views.page_layout("/", settings)
    found = tick_callbacks(deps, components)
    if not found:
        raise RuntimeError("no callback of the big screen runs on the tick")
    named = {}
    for d in found:
        first = views.split_outputs(d["output"])[0].split("@", 1)[0]
        named[TICK_NAMES.get(first, first)] = views.payload(d, "/", components)
    return named


def warm_up(send: Send, base: str, secrets: dict[str, str], payloads: dict[str, dict], events: list[EventPlan]) -> None:
    """Each gunicorn worker's first calls import and cache (the views scenario's two warm-up
    requests): a few events started (a district, a circle) and cancelled, and ticks of the wall,
    none of it timed."""
    live = Live()
    for e in events[:WARM_UP_EVENTS]:
        start = script([e])[0].steps[0]
        body = {**start.body, "title": f"bench warm-up {e.index + 1}"}
        answer = send(Request("POST", "/api/v1/events", body, "dispatcher"))
        live.update(e.index, answer.body)
        event = live.get(e.index)
        if event is None:
            raise RuntimeError(f"the warm-up event was refused: {answer.status} {answer.body}")
        for _ in range(2):
            send(Request("GET", f"/api/v1/events/{event['id']}", None, "dispatcher"))
            send(Request("GET", "/api/v1/events?active=1", None, "dispatcher"))
        send(Request("POST", f"/api/v1/events/{event['id']}/actions",
                     {"action": "cancel", "reason": "bench warm-up", "version": event["version"]}, "dispatcher"))
    Wall(base, secrets["wall"], payloads).ticks(3)


# --- the rows --------------------------------------------------------------------------------------

def _row(name: str, value: float, unit: str, target: str = "", passed=None, **detail) -> Measurement:
    return Measurement(SCENARIO, name, round(value, 2) if value == value else value, unit, target, passed, detail)


def row_label(action: str) -> str:
    if action.startswith("task "):
        return f"task {action[5:]} (server) p95"
    if action in READS:
        return f"{action} (server) p95"
    return f"event {action.replace('_', ' ')} (server) p95"


def ordered_rows() -> list[str]:
    return [*EVENT_ACTIONS, *[f"task {a}" for a in TASK_ACTIONS], *READS]


def results(samples: dict[str, Samples], wall: Wall | None, wall_before: Wall | None, context: dict,
            busy: Wall | None = None) -> ScenarioResult:
    """One row per action (server p95 against ≤ 50 ms; p50, HTTP times, samples and refusals in the
    detail; a row with refusals fails), the reads (server p95 against ≤ 100 ms), the wall's tick callbacks
    (HTTP p95 against ≤ 40 ms, as the views scenario; `wall`: the ticks with the events live and
    changing; `wall_before`: before any event; `busy`: while the departments act) and the bytes
    of a tick (the largest of any tick with the events live, ≤ 50 KB)."""
    out = ScenarioResult()
    names = [a for a in ordered_rows() if a in samples] + sorted(set(samples) - set(ordered_rows()))
    for action in names:
        s = samples[action]
        p95 = percentile(s.server_ms, 95)
        target = READ_TARGET_MS if action in READS else ACTION_TARGET_MS
        passed = at_most(p95, target) and s.errors == 0 and s.skipped == 0 and bool(s.server_ms)
        out.measurements.append(_row(
            row_label(action), p95, "ms", f"≤ {target:.0f} ms", passed,
            server_p50_ms=round(percentile(s.server_ms, 50), 2), server_max_ms=round(max(s.server_ms, default=float("nan")), 2),
            http_p50_ms=round(percentile(s.http_ms, 50), 2), http_p95_ms=round(percentile(s.http_ms, 95), 2),
            samples=len(s.server_ms), errors=s.errors, skipped=s.skipped, refusals=s.refusals, **context))
    if wall is not None:
        before = wall_before.timings if wall_before is not None else {}
        for name, t in wall.timings.items():
            p95 = percentile(t.http_ms, 95)
            b = before.get(name)
            out.measurements.append(_row(
                f"wall tick {name} p95, {context.get('events', EVENTS)} events live", p95, "ms", f"≤ {TICK_TARGET_MS:.0f} ms",
                at_most(p95, TICK_TARGET_MS) and t.errors == 0,
                http_p50_ms=round(percentile(t.http_ms, 50), 2), server_p50_ms=round(percentile(t.server_ms, 50), 2),
                server_p95_ms=round(percentile(t.server_ms, 95), 2), samples=len(t.http_ms), errors=t.errors,
                response_bytes_max=max(t.bytes + (busy.timings[name].bytes if busy is not None else []), default=0),
                no_events_http_p95_ms=round(percentile(b.http_ms, 95), 2) if b else None,
                no_events_server_p95_ms=round(percentile(b.server_ms, 95), 2) if b else None,
                **({"while_acting_http_p95_ms": round(percentile(busy.timings[name].http_ms, 95), 2),
                    "while_acting_server_p95_ms": round(percentile(busy.timings[name].server_ms, 95), 2),
                    "while_acting_samples": len(busy.timings[name].http_ms)} if busy is not None else {})))
        ticks = wall.tick_bytes + (busy.tick_bytes if busy is not None else [])
        packed = wall.tick_gzip + (busy.tick_gzip if busy is not None else [])
        kb = max(ticks, default=0) / 1024
        out.measurements.append(_row(
            f"wall bytes per tick, {context.get('events', EVENTS)} events live", kb, "KB", f"≤ {TICK_TARGET_KB:.0f} KB",
            at_most(kb, TICK_TARGET_KB) and bool(ticks), callbacks=list(wall.timings), ticks=len(ticks),
            gzip_kb=round(max(packed, default=0) / 1024, 2), content_encoding=wall.encoding or "none",
            median_kb=round(percentile(ticks, 50) / 1024, 2),
            no_events_kb=round(max(wall_before.tick_bytes, default=0) / 1024, 2) if wall_before is not None else None))
    load = context.get("load") or {}
    if load:
        out.measurements.append(_row("ingest load during the actions", load.get("achieved", 0.0), "msg/s", **load))
    labels = [a for a in names if a not in READS]
    for label, which, q in (("p50 (server)", "server_ms", 50), ("p95 (server)", "server_ms", 95), ("p95 (HTTP, loopback)", "http_ms", 95)):
        out.series.append(Series("events", label, labels, [round(percentile(getattr(samples[a], which), q), 2) for a in labels],
                                 "action", "ms", "bar"))
    return out


# --- the scenario ----------------------------------------------------------------------------------

def run(ctx: BenchContext) -> ScenarioResult:
    from bench.seed import Scale
    from ioc.adapters.geodata_files import load_city_map
    from ioc.adapters.redis_client import connect_redis
    from ioc.domain.departments import department_ids
    from ioc.domain.plans import builtin_plans
    from ioc.web.services import user_store

    progress = ctx.progress
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    settings = ctx.settings()
    city = load_city_map(settings.geodata_dir)
    departments = department_ids(city)
    n_events, rounds = ctx.scaled(EVENTS, QUICK_EVENTS), ctx.scaled(ROUNDS, QUICK_ROUNDS)
    plans = event_plans(n_events, builtin_plans(departments), city, departments)
    phases = script(plans)
    context = {"seed": views.seeded(ctx), "quick": ctx.quick, "events": n_events, "rounds": rounds,
               "departments_per_event": sorted({len(p.working) for p in plans}),
               "action_rate_offered": ACTION_RATE, "concurrency": CONCURRENCY,
               "timing": "Server-Timing app;dur from bench.timed_web (inside the gunicorn worker)"}
    secrets = make_tokens(user_store(connect_redis(ctx.redis_url), settings, city), departments)
    web, base, workers = views.start_web(ctx, ("-m", "bench.timed_web"))
    context["web_workers"] = workers
    cases = views.start(ctx, "cases", ["-m", "ioc", "cases"])
    load = views.Load()
    wall = wall_before = busy = None
    try:
        load = views.start_load(ctx, Scale.of(ctx.quick).devices, views.QUICK_LOAD if ctx.quick else views.OFFERED_LOAD)
        progress(f"  events: web on {base} ({workers} gunicorn workers, Server-Timing), case worker, load {load.rate:,.0f} msg/s "
                 f"offered; {n_events} events × {rounds} round(s), departments per event {context['departments_per_event']}")
        time.sleep(5 if ctx.quick else 10)  # let the load settle
        payloads = wall_payloads(base, secrets["wall"], settings)
        progress(f"  events: the wall's tick callbacks: {', '.join(payloads)}")
        send = http_sender(base, secrets)
        warm_up(send, base, secrets, payloads, plans)
        wall_before = Wall(base, secrets["wall"], payloads).ticks(TICK_BASELINE)
        wall = Wall(base, secrets["wall"], payloads)
        busy = Wall(base, secrets["wall"], payloads)
        samples: dict[str, Samples] = {}
        count0, t0 = views.accepted(ctx), time.monotonic()
        cpu0 = {p.name: p.cpu_seconds() for p in (web, cases, *load.processes)}
        for r in range(rounds):
            progress(f"  events: round {r + 1}/{rounds}")
            live = Live()

            def after(phase: str, first: bool = r == 0, live: Live = live) -> None:
                if phase == "start":
                    busy.start()  # the wall ticks while the events are live and the departments act
                if phase == WALL_AFTER and first:
                    busy.stop()
                    changing_ticks(wall, live, plans, send, ctx.scaled(WALL_TICKS, QUICK_WALL_TICKS))
                    progress(f"  events: wall: {len(wall.tick_bytes)} ticks with {n_events} events live, one changing before each")
                    busy.start()

            play(phases, send, samples, progress=progress, live=live, after_phase=after)
        busy.stop()
        elapsed = time.monotonic() - t0
        achieved = (views.accepted(ctx) - count0) / elapsed
        cpu = {p.name: round((p.cpu_seconds() - cpu0[p.name]) / elapsed * 100) for p in (web, cases, *load.processes)}
        context["load"] = {"offered": load.rate, "achieved": round(achieved), "seconds": round(elapsed, 1), "cpu_percent": cpu}
        progress(f"  events: ingest accepted {achieved:,.0f} msg/s during the actions (offered {load.rate:,.0f}); CPU % {cpu}")
        for action in [a for a in ordered_rows() if a in samples]:
            s = samples[action]
            progress(f"  events: {action:26s} server p50 {percentile(s.server_ms, 50):6.1f} p95 {percentile(s.server_ms, 95):6.1f} ms · "
                     f"HTTP p50 {percentile(s.http_ms, 50):6.1f} p95 {percentile(s.http_ms, 95):6.1f} ms · n={len(s.server_ms)}"
                     + (f" · refused {s.errors}: {s.refusals[:2]}" if s.errors else "") + (f" · skipped {s.skipped}" if s.skipped else ""))
        for name, t in wall.timings.items():
            progress(f"  events: wall {name:28s} HTTP p95 {percentile(t.http_ms, 95):6.1f} ms, server p95 {percentile(t.server_ms, 95):6.1f} ms "
                     f"(no events: HTTP {percentile(wall_before.timings[name].http_ms, 95):.1f}; while the departments act: HTTP "
                     f"{percentile(busy.timings[name].http_ms, 95):.1f}, server {percentile(busy.timings[name].server_ms, 95):.1f}) · "
                     f"{max(t.bytes + busy.timings[name].bytes, default=0) / 1024:.1f} KB · n={len(t.http_ms)}")
        return results(samples, wall, wall_before, context, busy)
    finally:
        if busy is not None:
            busy.stop()
        load.stop()
        cases.stop()
        web.stop()


if __name__ == "__main__":
    raise SystemExit(views.standalone(sys.modules[__name__]))
