"""The simulated duty desk: the dispatcher (调度员) and the inspector (监督员) on duty, working
the IOC's JSON API with a bearer token (`IOC_SIM_API_TOKEN`, roles dispatcher and inspector).

Every few seconds it reads the open cases of the stages it works on (`GET /api/v1/cases?stage=…`)
and takes each one's next step once its delay has passed since the case entered the stage:

| stage | step | delay (simulated minutes; urgent classes) |
|---|---|---|
| reported | merge into the flagged duplicate (~90 % of flagged ones), reject (~3 %, with a note), else accept | 2–15 (1–5) |
| accepted | verify on site, or void (~3 %, nothing found) | 10–50 (5–20) |
| verified | dispatch to the suggested department (after a return: the other candidate) | 2–15 (1–5) |
| handled | check: pass, or fail (~8 %, rework with a note) | 15–55 (5–20) |
| checked | close | 2–20 (2–10) |

About 2 % of steps come late, after the stage's deadline on the IOC's clock, so the case goes
overdue. Decisions are seeded by (seed, case, stage, stage start), so they survive restarts; a
409 (the case changed meanwhile) reloads the case and decides again. `decide` is pure.

At its first poll it hands the cases already dispatched and the active linked events
(`GET /api/v1/events?active=1`, then each event) to the department systems, whose messages were
taken before a restart.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from ioc.domain import case_catalog
from ioc.domain.case_routing import suggest_departments

from . import case_texts as texts

log = logging.getLogger("simulators.duty_desk")

WORK_STAGES = ("reported", "accepted", "verified", "handled", "checked")
POLL_S = 3.0
MAX_ACTIONS_PER_POLL = 50
PAGE = 1000
MERGE_SHARE = 0.90
REJECT_SHARE = 0.03
VOID_SHARE = 0.03
CHECK_FAIL_SHARE = 0.08
LATE_SHARE = 0.02
# (ordinary, urgent) delay ranges in simulated minutes, per stage
DELAYS = {
    "reported": ((2, 15), (1, 5)),
    "accepted": ((10, 50), (5, 20)),
    "verified": ((2, 15), (1, 5)),
    "handled": ((15, 55), (5, 20)),
    "checked": ((2, 20), (2, 10)),
}


@dataclass(frozen=True)
class Decision:
    action: str
    due_ms: int
    note: str = ""
    department: str = ""
    master_id: str = ""

    def body(self, version: int) -> dict:
        body = {"action": self.action, "version": version}
        for name in ("note", "department", "master_id"):
            if getattr(self, name):
                body[name] = getattr(self, name)
        return body


def dispatch_target(case: dict) -> str:
    """The suggested department; after a return by it, the other candidate."""
    minor = case_catalog.MINOR_CLASSES.get(case.get("class_code"))
    suggested = case.get("suggested_department") or ""
    if minor is None or not case.get("return_count"):
        return suggested
    candidates = suggest_departments(minor, case.get("district") or "")
    returned_by = case.get("department") or ""
    others = [d for d in candidates if d != returned_by]
    return others[0] if others else suggested


def decide(case: dict, *, seed: int, speed: float = 1.0, merge: bool = True) -> Decision | None:
    """The desk's next step on a case (as the API returns it) and when it is due; None when the
    desk has nothing to do in this stage. `merge=False` when merging was refused."""
    stage = case.get("stage")
    if stage not in DELAYS:
        return None
    rng = random.Random(f"{seed}|desk|{case['id']}|{stage}|{case.get('stage_since')}")
    urgent = bool(case.get("urgent"))
    lo, hi = DELAYS[stage][1 if urgent else 0]
    delay = rng.uniform(lo, hi) * 60_000 / speed
    late = rng.random() < LATE_SHARE
    roll = rng.random()
    due = int(case.get("stage_since") or 0) + int(delay)
    if late and case.get("stage_deadline"):
        due = max(due, int(case["stage_deadline"]) + int(rng.uniform(5, 30) * 60_000 / speed))
    if stage == "reported":
        duplicates = list(case.get("possible_duplicates") or ())
        if duplicates and merge and roll < MERGE_SHARE:
            return Decision("merge", due, master_id=duplicates[0])
        if roll > 1 - REJECT_SHARE and case.get("source") != "sensor":
            return Decision("reject", due, note=rng.choice(texts.REJECT_NOTES))
        return Decision("accept", due)
    if stage == "accepted":
        if roll < VOID_SHARE:
            return Decision("void", due, note=rng.choice(texts.VOID_NOTES))
        return Decision("verify", due)
    if stage == "verified":
        return Decision("dispatch", due, department=dispatch_target(case))
    if stage == "handled":
        if roll < CHECK_FAIL_SHARE:
            return Decision("check_fail", due, note=rng.choice(texts.CHECK_FAIL_NOTES))
        return Decision("check_pass", due)
    return Decision("close", due)


class ApiError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(f"HTTP {status}: {body.get('message') or body}")
        self.status = status
        self.body = body


class DutyDesk:
    """Polls the API and acts; `run(stop)` until the event is set."""

    def __init__(self, api_url: str, token: str, *, seed: int, speed: float = 1.0, poll_s: float = POLL_S,
                 on_dispatched=None, on_event=None, timeout: float = 10.0):
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.seed = seed
        self.speed = float(speed)
        self.poll_s = poll_s
        self.on_dispatched = on_dispatched  # called with each dispatched case once, at start (department systems)
        self.on_event = on_event  # called with each active linked event once, at start (department systems)
        self.timeout = timeout
        self.no_merge: set[str] = set()  # cases whose merge was refused (the master closed meanwhile)
        self.refused: set[tuple[str, int]] = set()  # (case id, version) an action failed on: not retried
        self.actions: dict[str, int] = {}
        self.conflicts = self.errors = 0
        self.adopted_done = False
        self.events_adopted_done = False
        self.reached = False  # the API answered at least once
        self._problem = ""  # the last logged connection problem (logged once until it changes)

    # ---- HTTP -------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.api_url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {})})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                answer = json.loads(e.read() or b"{}")
            except ValueError:
                answer = {}
            raise ApiError(e.code, answer if isinstance(answer, dict) else {}) from None

    def cases(self, stage: str) -> list[dict]:
        items, offset = [], 0
        while True:
            page = self._request("GET", f"/api/v1/cases?{urllib.parse.urlencode({'stage': stage, 'limit': PAGE, 'offset': offset})}")
            items += page.get("items", [])
            offset += PAGE
            if offset >= int(page.get("total", 0)):
                return items

    def case(self, case_id: str) -> dict:
        return self._request("GET", f"/api/v1/cases/{urllib.parse.quote(case_id)}")

    def active_events(self) -> list[dict]:
        """The active linked events, each as `GET /api/v1/events/<id>` gives it (with its tasks and
        instructions); none when the IOC has no events API or the token may not read events."""
        try:
            listed = self._request("GET", "/api/v1/events?active=1")
        except ApiError as e:
            if e.status in (403, 404):
                log.info("duty desk: no linked events taken over at start (%s)", e)
                return []
            raise
        items = listed.get("items", []) if isinstance(listed, dict) else listed
        return [self._request("GET", f"/api/v1/events/{urllib.parse.quote(str(item['id']))}")
                for item in items or () if isinstance(item, dict) and item.get("id")]

    # ---- the work ---------------------------------------------------------------------------

    def poll_once(self, now_ms: int | None = None) -> int:
        """Read the cases and take the steps that are due; returns how many were taken."""
        now = int(now_ms if now_ms is not None else time.time() * 1000)
        if not self.adopted_done and self.on_dispatched is not None:
            for case in self.cases("dispatched"):
                self.on_dispatched(case, now)
            self.adopted_done = True
        if not self.events_adopted_done and self.on_event is not None:
            for event in self.active_events():
                self.on_event(event, now)
            self.events_adopted_done = True
        due = []
        for stage in WORK_STAGES:
            for case in self.cases(stage):
                decision = decide(case, seed=self.seed, speed=self.speed, merge=case["id"] not in self.no_merge)
                if decision is not None and decision.due_ms <= now and (case["id"], case["version"]) not in self.refused:
                    due.append((decision.due_ms, case, decision))
        due.sort(key=lambda item: (item[0], item[1]["id"]))
        taken = 0
        for _, case, decision in due[:MAX_ACTIONS_PER_POLL]:
            taken += self._act(case, decision, now)
        return taken

    def _act(self, case: dict, decision: Decision, now: int) -> int:
        for _attempt in range(2):
            try:
                self._request("POST", f"/api/v1/cases/{urllib.parse.quote(case['id'])}/actions", decision.body(case["version"]))
            except ApiError as e:
                if e.status == 409:  # changed meanwhile: reload, decide again
                    self.conflicts += 1
                    case = self.case(case["id"])
                    decision = decide(case, seed=self.seed, speed=self.speed, merge=case["id"] not in self.no_merge)
                    if decision is None or decision.due_ms > now:
                        return 0
                    continue
                if e.status in (401, 403) or e.status >= 500:
                    raise  # the token, or the IOC itself (Redis down): the whole poll waits, nothing is given up
                if decision.action == "merge":
                    self.no_merge.add(case["id"])  # e.g. the master was closed: accept it next time
                else:
                    self.refused.add((case["id"], case["version"]))
                self.errors += 1
                log.info("duty desk: %s %s refused (%s)", decision.action, case["id"], e)
                return 0
            self.actions[decision.action] = self.actions.get(decision.action, 0) + 1
            log.debug("duty desk: %s %s", decision.action, case["id"])
            return 1
        return 0

    def summary(self) -> str:
        total = sum(self.actions.values())
        parts = ", ".join(f"{n} {a}" for a, n in sorted(self.actions.items()))
        return f"{total} steps taken ({parts or 'none yet'}), {self.conflicts} conflicts reloaded"

    def run(self, stop: threading.Event) -> None:
        log.info("duty desk: working the cases via %s every %.0f s", self.api_url, self.poll_s)
        while not stop.is_set():
            wait = self.poll_s
            try:
                self.poll_once()
                if self._problem and self.reached:
                    log.warning("duty desk: the IOC API answers again")
                elif not self.reached:
                    log.info("duty desk: the IOC API answers; on duty")
                self.reached, self._problem = True, ""
            except ApiError as e:
                problem = f"the IOC API refused the duty desk's token ({e}); check IOC_SIM_API_TOKEN" if e.status in (401, 403) \
                    else f"the IOC API answered {e}"
                wait = 30.0 if e.status in (401, 403) else self.poll_s
                self._log_once(problem)
            except (OSError, ValueError) as e:  # not up yet, restarting, or a broken answer
                if self.reached:
                    self._log_once(f"the IOC API at {self.api_url} is not reachable ({e}); retrying")
                elif not self._problem:
                    self._problem = "waiting"
                    log.info("duty desk: waiting for the IOC API at %s", self.api_url)
            except Exception:  # noqa: BLE001 - never stop the desk
                log.exception("duty desk: unexpected error; retrying")
            stop.wait(wait)

    def _log_once(self, problem: str) -> None:
        if problem.split(" (")[0] != self._problem.split(" (")[0]:
            log.warning("duty desk: %s", problem)
        self._problem = problem
