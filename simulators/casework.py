"""The demo city's casework (案件): reports coming in, department systems answering, and the
duty desk moving cases along, so that cases flow without anybody clicking.

Three simulated parties, all seeded:

* `ReportStream` (pure, no I/O): reports on `ioc/v1/reports/{hotline,inspector,camera}` (QoS 1,
  the contract of `ioc.casework.reports`) as a Poisson stream whose intensity follows the
  simulated time of day: the 12345 hotline (events and components, a citizen's words), patrol
  inspectors (mostly broken components, office hours only) and the AI video analysis of fixed
  cameras (street vending, exposed garbage, illegal parking …). Positions lie in the right
  district, weighted by area and activity (the urban core of Yangshe 杨舍 busiest) and clustered
  around the town centres. Report ids are unique across runs; now and then a report is sent
  twice (the same id: one case) or a second person reports a problem a few dozen metres from a
  recent one (a new case flagged as a possible duplicate).
* `DepartmentSystems` (pure core): each department's own system receives the dispatches on
  `ioc/v1/dispatch/+` and answers on `ioc/v1/departments/{department}/updates`: acknowledge
  after a few minutes, then `handled` after 12–95 % of the class's handle limit (1 in 10 late:
  after the deadline on the IOC's clock, whatever the speed, so the case goes overdue), or
  `return` (~5 %) with a note saying it is not theirs. A repeat of a dispatch (same case and
  version) is ignored. The same systems work the tasks of linked events (大联动, messages with
  `"type": "event_task"`): acknowledge, arrive, start, progress reports and done, timed against
  the task's limits, one department of each event asking for support and one late; and they
  acknowledge a leader's instruction (`"type": "event_instruction"`) on every live task.
* the duty desk (`simulators.duty_desk`): the dispatcher and inspector on duty, over the JSON API.

`Casework` drives them: one MQTT connection (persistent session, so dispatches published while
the simulator is down are delivered when it is back) and two threads, started in exactly one
process of the simulator. Delays are simulated time, compressed by `--speed`; the report rate is
per wall-clock hour like the telemetry rates.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
import threading
import time
from collections import OrderedDict, deque

import orjson

from ioc.domain import case_catalog
from ioc.domain.case_routing import suggest_departments
from ioc.domain.clock import local_iso, local_text

from . import case_texts as texts
from . import event_texts
from .fleet import CENTRE_DISTRICT, CORE_ROADS, TOWN_ROADS, short_name
from .patterns import local_hour

log = logging.getLogger("simulators.casework")

REPORT_TOPIC = "ioc/v1/reports/{source}"
DISPATCH_TOPIC = "ioc/v1/dispatch/+"
UPDATE_TOPIC = "ioc/v1/departments/{department}/updates"
DEFAULT_REPORTS_PER_HOUR = 120.0
DEFAULT_CLIENT_ID = "ioc-sim-departments"
PROGRESS_EVERY_S = 60.0

# shares of the three sources over a day, and the id prefix of each source's reports
SOURCE_SHARES: dict[str, float] = {"hotline": 0.45, "inspector": 0.30, "camera": 0.25}
ID_PREFIX: dict[str, str] = {"hotline": "12345", "inspector": "XC", "camera": "AI"}
# districts by activity: the urban core is busiest, the farm park and the island resort quiet
DISTRICT_ACTIVITY: dict[str, float] = {CENTRE_DISTRICT: 4.0, "shuangshan": 0.6, "changyinsha": 0.4}
CENTRE_SHARE = 0.55  # reports clustered around a town's centre (the rest anywhere in the district)
CAMERAS = 60
RESEND_SHARE = 0.02  # a report sent twice (same report_id)
HOTLINE_LEAD_S = (30, 240)  # a hotline call is taken this many seconds before its order is filed
INSPECTOR_LEAD_S = (0, 60)  # an inspector sees the problem this long before the report is sent
REPORT_LEAD_MAX_MS = max(HOTLINE_LEAD_S[1], INSPECTOR_LEAD_S[1]) * 1000  # a case's report time may precede its filing by this
NEAR_DUPLICATE_SHARE = 0.06  # a second person reports a recent problem nearby
NEAR_DUPLICATE_WINDOW_S = 3 * 3600  # simulated seconds a report counts as recent
# department systems
RETURN_SHARE = 0.05
LATE_SHARE = 0.10
# linked-event tasks (大联动): the messages IOC sends on the dispatch topics carry a "type"
EVENT_TASK, EVENT_INSTRUCTION = "event_task", "event_instruction"
LIVE_TASK_STATUSES = ("issued", "acknowledged", "on_site", "working")
EVENT_BATCH_MS = 3000  # the tasks of an event issued together arrive together: planned together
DEFAULT_TASK_LIMITS = (15, 45, 60)  # ack_within_min, arrive_within_min, report_every_min when a message lacks them


def _bump(h: float, centre: float, width: float) -> float:
    d = h - centre
    return math.exp(-0.5 * d * d / (width * width))


def hotline_curve(h: float) -> float:
    """Calls to the 12345 hotline: office hours, a dip at lunch, an evening shoulder, quiet nights."""
    return 0.08 + 0.9 * _bump(h, 10.0, 1.6) + 0.85 * _bump(h, 15.3, 1.8) + 0.45 * _bump(h, 20.0, 1.5)


def inspector_curve(h: float) -> float:
    """Patrol inspectors work 08:00–11:45 and 13:30–17:30."""
    return 1.0 if 8.0 <= h < 11.75 or 13.5 <= h < 17.5 else 0.0


def camera_curve(h: float) -> float:
    """Video analysis: around the clock, more at the morning market and the night market."""
    return 0.3 + 0.8 * _bump(h, 7.5, 1.2) + 0.5 * _bump(h, 12.0, 2.0) + 1.0 * _bump(h, 19.0, 1.8)


CURVES = {"hotline": hotline_curve, "inspector": inspector_curve, "camera": camera_curve}


def _stats(curve) -> tuple[float, float]:
    values = [curve(m / 60.0) for m in range(1440)]
    return sum(values) / len(values), max(values)


_CURVE_STATS = {s: _stats(c) for s, c in CURVES.items()}


def source_intensity(source: str, hour: float) -> float:
    """Relative intensity of a source at a local hour; its mean over a day is 1."""
    return CURVES[source](hour) / _CURVE_STATS[source][0]


def total_intensity(hour: float) -> float:
    """Relative intensity of all reports at a local hour; its mean over a day is 1."""
    return sum(share * source_intensity(s, hour) for s, share in SOURCE_SHARES.items())


PEAK_INTENSITY = sum(share * _CURVE_STATS[s][1] / _CURVE_STATS[s][0] for s, share in SOURCE_SHARES.items())


def class_weight(source: str, code: str, weight: float, hour: float) -> float:
    """A class's weight at an hour: night-time construction noise only at night, broken street
    lights are noticed after dark."""
    night = hour >= 21.5 or hour < 6.0
    if code == "20302":
        return weight * 3.0 if night else 0.0
    if code == "10105" and source == "hotline":
        return weight * (3.0 if hour >= 18.0 or hour < 6.0 else 0.4)
    if code == "20501" and night:
        return weight * 0.3
    return weight


def metres_to_degrees(lat: float, north_m: float, east_m: float) -> tuple[float, float]:
    """(dlon, dlat) of a small offset at latitude `lat`."""
    dlat = north_m / 111_320.0
    dlon = east_m / (111_320.0 * math.cos(math.radians(lat)))
    return dlon, dlat


def iso_local(ms: int) -> str:
    return local_iso(ms)


class Places:
    """Where things are reported: districts weighted by area and activity, points clustered
    around town centres, readable Chinese addresses, and the fixed video cameras."""

    def __init__(self, city, rng: random.Random):
        self.city = city
        self.rng = rng
        self.districts = sorted(city.districts, key=lambda d: d.id)
        self.weights = [d.area_km2 * DISTRICT_ACTIVITY.get(d.id, 1.0) for d in self.districts]
        self.short = {d.id: short_name(d.name_zh) for d in self.districts}
        self.cameras = [self._camera(i) for i in range(CAMERAS)]

    def district(self):
        return self.rng.choices(self.districts, self.weights)[0]

    def point_in(self, district) -> tuple[float, float]:
        """A point of the district (rounded to 6 decimals, still inside it)."""
        rng, city = self.rng, self.city
        if rng.random() < CENTRE_SHARE:
            sigma = 0.02 if district.id == CENTRE_DISTRICT else 0.012
            for _ in range(20):
                lon = round(district.seat[0] + rng.gauss(0, sigma), 6)
                lat = round(district.seat[1] + rng.gauss(0, sigma * 0.85), 6)
                if city.district_at(lon, lat) == district.id:
                    return lon, lat
        while True:
            lon, lat = city.random_point_in(district.id, rng)
            lon, lat = round(lon, 6), round(lat, 6)
            if city.district_at(lon, lat) == district.id:
                return lon, lat

    def near(self, lon: float, lat: float, lo_m: float, hi_m: float) -> tuple[float, float]:
        """A point `lo_m`–`hi_m` metres from (lon, lat) in the same district (else the point itself)."""
        district = self.city.district_at(lon, lat)
        for _ in range(10):
            r, a = self.rng.uniform(lo_m, hi_m), self.rng.uniform(0, 2 * math.pi)
            dlon, dlat = metres_to_degrees(lat, r * math.sin(a), r * math.cos(a))
            p = (round(lon + dlon, 6), round(lat + dlat, 6))
            if self.city.district_at(*p) == district:
                return p
        return lon, lat

    def address(self, district_id: str) -> str:
        rng = self.rng
        short = self.short[district_id]
        core = district_id == CENTRE_DISTRICT
        roads = CORE_ROADS if core else TOWN_ROADS
        places = texts.CORE_PLACES if core else texts.TOWN_PLACES
        form = rng.random()
        if form < 0.45:
            return f"{short}{rng.choice(roads)}{rng.randint(1, 399)}{rng.choice(texts.DOOR_SUFFIXES)}"
        if form < 0.7:
            a, b = rng.sample(roads, 2)
            return f"{short}{a}与{b}交叉口"
        place = rng.choice(places)
        if place.endswith(("新村", "花园", "湖畔")):
            return f"{short}{place}{rng.randint(1, 60)}幢旁"
        return f"{short}{place}"

    def _camera(self, number: int) -> dict:
        district = self.district()
        lon, lat = self.point_in(district)
        roads = CORE_ROADS if district.id == CENTRE_DISTRICT else TOWN_ROADS
        a, b = self.rng.sample(roads, 2)
        name = f"{self.short[district.id]}{a}与{b}交叉口"
        return {"id": f"cam-{district.id}-{number + 1:03d}", "district": district.id, "lon": lon, "lat": lat, "place": name}


class ReportStream:
    """The reports of the demo city over time; no I/O.

    `run_until(t, out)` appends `(topic, payload)` for every report due at or before `t`
    seconds after start (wall clock) and returns the next due time. The intensity follows the
    simulated local hour (`sim_start + t * speed`); `per_hour` is the daily mean per wall-clock
    hour. The same seed, start times and speed give the same reports.
    """

    def __init__(self, city, *, seed: int, per_hour: float, start_ms: int, sim_start: float | None = None,
                 speed: float = 1.0):
        self.city = city
        self.start_ms = int(start_ms)
        self.sim_start = self.start_ms / 1000.0 if sim_start is None else float(sim_start)
        self.speed = float(speed)
        self.per_hour = max(0.0, float(per_hour))
        self.rng = random.Random(f"{seed}:reports:{int(self.sim_start)}")
        self.places = Places(city, self.rng)
        self.run_tag = local_text(self.start_ms, "%Y%m%d%H%M%S")
        self.max_rate = self.per_hour * PEAK_INTENSITY / 3600.0  # candidates per wall second (thinning)
        self.next_t = self._after(0.0)
        self.resends: list[tuple[float, int, str, bytes]] = []
        self.recent: deque = deque(maxlen=50)
        self.seq = 0
        self.sent = self.repeats = self.near_duplicates = 0
        self.by_source: dict[str, int] = {s: 0 for s in SOURCE_SHARES}

    def _after(self, t: float) -> float:
        return t + self.rng.expovariate(self.max_rate) if self.max_rate > 0 else math.inf

    def sim_time(self, t: float) -> float:
        return self.sim_start + t * self.speed

    def next_due(self) -> float:
        return min(self.next_t, self.resends[0][0] if self.resends else math.inf)

    def run_until(self, t: float, out: list) -> float:
        while True:
            resend = self.resends[0][0] if self.resends else math.inf
            if min(self.next_t, resend) > t:
                return self.next_due()
            if resend <= self.next_t:
                _, _, topic, payload = heapq.heappop(self.resends)
                out.append((topic, payload))
                self.repeats += 1
                continue
            now = self.next_t
            self.next_t = self._after(now)
            hour = local_hour(self.sim_time(now))
            if self.rng.random() * PEAK_INTENSITY >= total_intensity(hour):
                continue  # thinned: fewer reports at this hour
            topic, payload = self._report(now, hour)
            out.append((topic, payload))
            if self.rng.random() < RESEND_SHARE:
                heapq.heappush(self.resends, (now + self.rng.uniform(2.0, 60.0), self.seq, topic, payload))

    # ---- one report -------------------------------------------------------------------------

    def _source(self, hour: float) -> str:
        sources = list(SOURCE_SHARES)
        weights = [SOURCE_SHARES[s] * source_intensity(s, hour) for s in sources]
        return self.rng.choices(sources, weights)[0]

    def _class(self, source: str, hour: float) -> str:
        pairs = texts.SOURCE_CLASSES[source]
        weights = [class_weight(source, code, w, hour) for code, w in pairs]
        return self.rng.choices([code for code, _ in pairs], weights)[0]

    def _report(self, t: float, hour: float) -> tuple[str, bytes]:
        rng = self.rng
        sim_t = self.sim_time(t)
        publish_ms = self.start_ms + int(t * 1000.0)
        original = None
        while self.recent and sim_t - self.recent[0]["sim_t"] > NEAR_DUPLICATE_WINDOW_S:
            self.recent.popleft()
        if self.recent and rng.random() < NEAR_DUPLICATE_SHARE:
            original = rng.choice(self.recent)
        if original is not None:
            # a citizen calls about what somebody already reported, or the camera sees it again
            source = "camera" if original["source"] == "camera" and rng.random() < 0.5 else "hotline"
            code = original["code"]
            lon, lat = self.places.near(original["lon"], original["lat"], 10.0, 60.0)
            district, address, camera_id = original["district"], original["address"], original["camera"]
            self.near_duplicates += 1
        else:
            source = self._source(hour)
            code = self._class(source, hour)
            if source == "camera":
                camera = rng.choice(self.places.cameras)
                lon, lat = self.places.near(camera["lon"], camera["lat"], 0.0, 25.0)
                district, address, camera_id = camera["district"], camera["place"], camera["id"]
            else:
                d = self.places.district()
                lon, lat = self.places.point_in(d)
                district, address, camera_id = d.id, self.places.address(d.id), ""
        minor = case_catalog.MINOR_CLASSES[code]
        self.seq += 1
        report_id = f"{ID_PREFIX[source]}-{self.run_tag}-{self.seq:05d}"
        if source == "camera":
            description = texts.CAMERA_DESCRIPTION.format(name=minor.name_zh, confidence=rng.randint(82, 98), place=address)
            reporter = f"AI视频分析 {camera_id}"
            reported_at = publish_ms
        else:
            template = rng.choice(texts.DESCRIPTIONS.get(code, (texts.DEFAULT_DESCRIPTION,)))
            description = template.format(place=address, name=minor.name_zh)
            if original is not None:
                description = rng.choice(texts.NEAR_DUPLICATE_PREFIXES) + description
            if source == "hotline":
                title = rng.choice(("先生", "女士"))
                reporter = f"市民 {rng.choice(texts.HOTLINE_SURNAMES)}{title}（1{rng.randint(30, 99)}****{rng.randint(0, 9999):04d}）"
                reported_at = iso_local(publish_ms - rng.randint(*HOTLINE_LEAD_S) * 1000)  # the call, before the order was filed
            else:
                reporter = f"监督员 {rng.choice(texts.INSPECTORS)}"
                reported_at = iso_local(publish_ms - rng.randint(*INSPECTOR_LEAD_S) * 1000)
        payload = {"report_id": report_id, "category": code, "lat": lat, "lon": lon, "description": description,
                   "reported_at": reported_at, "address": address, "reporter": reporter}
        self.recent.append({"sim_t": sim_t, "source": source, "code": code, "lon": lon, "lat": lat,
                            "district": district, "address": address, "camera": camera_id})
        self.sent += 1
        self.by_source[source] += 1
        return REPORT_TOPIC.format(source=source), orjson.dumps(payload)


# ------------------------------------------------------------------------- department systems


def plan_answers(message: dict, *, seed: int, speed: float, now_ms: int, acknowledged: bool = False,
                 may_return: bool = True, names: dict | None = None) -> list[tuple[int, str, str]]:
    """What a department's system answers to a dispatch, as `[(due_ms, action, note)]`, `action`
    one of acknowledge, handled, return. Seeded by (seed, case id, version): the same dispatch
    always gets the same answer."""
    case_id, version = str(message["case_id"]), int(message.get("version") or 0)
    rng = random.Random(f"{seed}|department|{case_id}|{version}")
    minor = case_catalog.MINOR_CLASSES.get(str(message.get("class_code")))
    urgent = bool(message.get("urgent"))
    limit_ms = (minor.limit("handle") if minor else 8.0) * 3_600_000
    deadline = int(message.get("deadline") or 0) or now_ms + int(limit_ms)

    def sim_minutes(lo: float, hi: float) -> int:
        return int(rng.uniform(lo, hi) * 60_000 / speed)

    rework = int(message.get("rework_count") or 0) > 0
    returns = rng.random() < RETURN_SHARE
    late = rng.random() < LATE_SHARE
    share = rng.triangular(0.12, 0.95, 0.35)
    if returns and may_return and not rework:
        department = str(message.get("department") or "")
        others = [d for d in suggest_departments(minor, str(message.get("district") or "")) if d != department] if minor else []
        other = (names or {}).get(others[0], others[0]) if others else "相关部门"
        notes = [n for n in texts.RETURN_NOTES if "{other}" not in n or others]
        note = rng.choice(notes).format(other=other)
        return [(now_ms + sim_minutes(2, 10) if urgent else now_ms + sim_minutes(5, 40), "return", note)]
    out = []
    ack_due = now_ms
    if not acknowledged and not rework:
        ack_due = now_ms + (sim_minutes(1, 5) if urgent else sim_minutes(3, 30))
        out.append((ack_due, "acknowledge", "已签收"))
    if late:  # after the deadline on the IOC's clock, whatever the speed
        handled_due = deadline + int(rng.uniform(0.1, 0.5) * limit_ms / speed)
    else:  # a share of the class's handle limit: before the deadline (working hours only lengthen it)
        handled_due = min(now_ms + int(share * limit_ms / speed), deadline - 60_000)
    handled_due = max(handled_due, ack_due + sim_minutes(1, 5))
    note = texts.REWORK_HANDLED_NOTE if rework else texts.HANDLED_NOTES.get(str(message.get("class_code")), texts.DEFAULT_HANDLED_NOTE)
    out.append((handled_due, "handled", note))
    return out


def _limit(message: dict, name: str, default: int) -> float:
    try:
        value = float(message.get(name) or 0)
    except (TypeError, ValueError):
        value = 0.0
    return value if value > 0 else float(default)


def event_roles(event_id: str, plan: str, tasks, *, seed: int) -> tuple[str, str]:
    """Which department of an event asks for support and which one is late, among its tasks
    `[(department, role)]`: the asker is the first of the plan's usual askers with a task (else
    a seeded pick among the supporting departments), the late one a seeded pick among the other
    supporting departments; the lead is neither while there are others. ("", "") for no tasks."""
    departments = sorted({str(d) for d, _ in tasks})
    supporting = sorted({str(d) for d, role in tasks if role != "lead"})
    rng = random.Random(f"{seed}|event-roles|{event_id}")
    asker = ""
    for usual in event_texts.SUPPORT_ASKERS.get(plan, ()):
        asker = next((d for d in supporting if event_texts.department_key(d) == usual), "")
        if asker:
            break
    if not asker and supporting:
        asker = rng.choice(supporting)
    others = [d for d in supporting if d != asker] or [d for d in departments if d != asker]
    return asker, (rng.choice(others) if others else "")


def plan_event_task(message: dict, *, seed: int, speed: float, now_ms: int, asks_support: bool = False,
                    late: bool = False) -> list[tuple[int, str, str]]:
    """How a department's system works an event task, as `[(due_ms, action, note)]`: acknowledge
    → arrive → start → progress `report`s → `done`, from the task's status in the message on
    (nothing for a task that is not live). Timed against the task's limits and compressed by
    `speed`: acknowledged within 15–80 % of its limit (the lead faster), on site within 40–85 %
    of the arrival limit, a report every 55–90 % of the report interval (2–4 of them by the
    lead, 1–3 by the others), done a little after the last one. `late`: acknowledged after the
    limit on the IOC's clock, whatever the speed. `asks_support`: a `support` request between
    starting and the first report. Seeded by (seed, event, task, version)."""
    status = str(message.get("status") or "issued")
    if status not in LIVE_TASK_STATUSES:
        return []
    event_id, task_id, version = str(message["event_id"]), str(message["task_id"]), int(message.get("version") or 0)
    rng = random.Random(f"{seed}|event-task|{event_id}|{task_id}|{version}")
    plan = str(message.get("plan") or "")
    lead = message.get("role") == "lead"
    ack_min = _limit(message, "ack_within_min", DEFAULT_TASK_LIMITS[0])
    arrive_min = _limit(message, "arrive_within_min", DEFAULT_TASK_LIMITS[1])
    report_min = _limit(message, "report_every_min", DEFAULT_TASK_LIMITS[2])
    issued = int(message.get("issued_at") or 0) or now_ms
    base = min(issued, now_ms) if status == "issued" else now_ms
    words = event_texts.values(rng)

    def minutes(x: float) -> int:
        return int(x * 60_000 / speed)

    out: list[tuple[int, str, str]] = []
    t = base
    if status == "issued":
        if late:
            ack = issued + int(ack_min * 60_000) + minutes(rng.uniform(0.2, 1.0) * ack_min)
            note = rng.choice(event_texts.LATE_ACKNOWLEDGE_NOTES)
        else:
            ack = base + minutes(rng.uniform(0.15, 0.5 if lead else 0.8) * ack_min)
            ack = min(ack, issued + int(0.9 * ack_min * 60_000))
            note = rng.choice(event_texts.ACKNOWLEDGE_NOTES)
        out.append((ack, "acknowledge", note))
        t = ack
    if status in ("issued", "acknowledged"):
        travel = t + minutes(rng.uniform(2.0, 6.0))
        arrive = max(base + minutes(rng.uniform(0.4, 0.85) * arrive_min), travel)
        if not late:
            arrive = max(min(arrive, base + int(0.95 * arrive_min * 60_000)), t + minutes(0.5))
        out.append((arrive, "arrive", rng.choice(event_texts.ARRIVE_NOTES)))
        t = arrive
    on_site = t
    if status != "working":
        t += minutes(rng.uniform(1.0, 4.0))
        out.append((t, "start", rng.choice(event_texts.START_NOTES)))
    started = t
    reports = event_texts.lookup(event_texts.REPORTS, plan, task_id)
    count = min(len(reports), rng.randint(2, 4) if lead else rng.randint(1, 3))
    due = on_site
    for i in range(count):
        due = max(due + minutes(rng.uniform(0.55, 0.9) * report_min), started + minutes(1.0))
        if i == 0 and asks_support:
            ask = started + int((due - started) * rng.uniform(0.3, 0.7))
            out.append((ask, "support", event_texts.lookup(event_texts.SUPPORT_NOTES, plan, task_id)))
        out.append((due, "report", reports[i].format(**words)))
    done = due + minutes(rng.uniform(0.3, 0.8) * report_min)
    out.append((done, "done", event_texts.lookup(event_texts.DONE_NOTES, plan, task_id).format(**words)))
    if out[0][0] < now_ms:  # taken over late (after a restart): the remaining steps from now, spaced as planned
        shift = now_ms - out[0][0]
        out = [(due + shift, action, note) for due, action, note in out]
    return out


def plan_instruction_ack(event_id: str, instruction_id: str, department: str, *, seed: int, speed: float,
                         now_ms: int, lead: bool = False) -> tuple[int, str]:
    """When a department acknowledges a leader's instruction (1–4 simulated minutes, the lead;
    2–8 the others) and its note."""
    rng = random.Random(f"{seed}|instruction|{event_id}|{instruction_id}|{department}")
    lo, hi = (1.0, 4.0) if lead else (2.0, 8.0)
    return now_ms + int(rng.uniform(lo, hi) * 60_000 / speed), rng.choice(event_texts.INSTRUCTION_NOTES)


class DepartmentSystems:
    """Every department's own system: dispatches in, updates out; no I/O, thread-safe.

    `receive(payload, now_ms, topic)` takes a message of a dispatch topic: a case dispatch (no
    "type"), an event task (`"type": "event_task"`) or a leader's instruction
    (`"type": "event_instruction"`); `adopt(case, now_ms)` a dispatched case and
    `adopt_event(event, now_ms)` an active event read from the API (after a restart, when the
    messages were taken before); `due(now_ms)` returns the `(topic, payload)` of the updates due
    by then.

    Event tasks: the tasks of an event that arrive within `EVENT_BATCH_MS` of its first one are
    planned together, so that among them exactly one department asks for support and one is late
    (`event_roles`); tasks added later (a level raised, a task added) are worked plainly. A newer
    version of a task replaces the answers still pending for the older one (from the task's
    status on); status "withdrawn" (or done, returned) cancels them; a repeat of a version already
    taken is ignored. Each update carries the task version the system expects: the message's
    version plus the updates it sent since (every task action is a change of the task).
    """

    def __init__(self, *, seed: int, speed: float = 1.0, names: dict | None = None, memory: int = 100_000):
        self.seed = seed
        self.speed = float(speed)
        self.names = names or {}
        self.memory = memory
        self.lock = threading.Lock()
        self.seen: OrderedDict = OrderedDict()  # case id -> the highest dispatch version taken
        self.active: dict[str, int] = {}  # case id -> the version being worked on
        self.returned: set[str] = set()
        self.queue: list[tuple[int, int, str, int, str, str, str]] = []
        self._n = 0
        self.received = self.repeats = self.adopted = self.sent = 0
        self.sent_by_action: dict[str, int] = {"acknowledge": 0, "handled": 0, "return": 0}
        # event tasks, keyed (event id, task id)
        self.task_seen: OrderedDict = OrderedDict()  # -> the highest task version taken
        self.task_work: dict[tuple[str, str], dict] = {}  # live tasks being worked: version, sent, department, role
        self.support_asked: set[tuple[str, str]] = set()
        self.batches: dict[str, dict] = {}  # event id -> {"until": ms, "messages": {task id: message}}
        self.roles: OrderedDict = OrderedDict()  # event id -> (asker, late)
        self.instructions_seen: OrderedDict = OrderedDict()  # (event id, instruction id, department) -> True
        self.event_queue: list[tuple] = []  # (due, n, kind, key, version, department, action, note, instruction id)
        self.event_received = self.event_repeats = self.events_adopted = self.event_sent = 0
        self.event_sent_by_action: dict[str, int] = {}

    def receive(self, payload, now_ms: int, topic: str = "") -> str:
        """'planned', 'held' (an event task waiting for the rest of its event's tasks), 'repeat'
        (the same case or task version again), 'stale' (an older version), 'withdrawn' (an
        event task no longer live), 'ignored' (an instruction for no live task) or 'invalid'."""
        try:
            message = orjson.loads(payload) if isinstance(payload, (bytes, str)) else dict(payload)
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == EVENT_TASK:
                return self._receive_task(message, now_ms, topic)
            if kind == EVENT_INSTRUCTION:
                return self._receive_instruction(message, now_ms, topic)
            case_id, version, department = str(message["case_id"]), int(message["version"]), str(message["department"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            log.warning("department systems: an unreadable dispatch message ignored: %s", repr(payload)[:200])
            return "invalid"
        with self.lock:
            self.received += 1
            taken = self.seen.get(case_id, -1)
            if taken == version:
                self.repeats += 1
                return "repeat"
            if taken > version:
                return "stale"
            self._plan(message, case_id, version, department, now_ms, acknowledged=False,
                       may_return=case_id not in self.returned)
            return "planned"

    def adopt(self, case: dict, now_ms: int) -> bool:
        """Take on a dispatched case read from the API (after a restart) unless its dispatch was
        already taken here."""
        case_id, version = str(case["id"]), int(case["version"])
        with self.lock:
            if case_id in self.seen:
                return False
            message = {"case_id": case_id, "version": version, "class_code": case.get("class_code"),
                       "department": case.get("department"), "district": case.get("district"),
                       "urgent": case.get("urgent"), "deadline": case.get("stage_deadline"),
                       "rework_count": case.get("rework_count")}
            self._plan(message, case_id, version, str(case.get("department") or ""), now_ms,
                       acknowledged=bool(case.get("acknowledged_at")), may_return=not case.get("return_count"))
            self.adopted += 1
            return True

    def _plan(self, message, case_id, version, department, now_ms, acknowledged, may_return) -> None:
        self.seen[case_id] = version
        self.seen.move_to_end(case_id)
        while len(self.seen) > self.memory:
            self.seen.popitem(last=False)
        self.active[case_id] = version
        for due, action, note in plan_answers(message, seed=self.seed, speed=self.speed, now_ms=now_ms,
                                              acknowledged=acknowledged, may_return=may_return, names=self.names):
            self._n += 1
            heapq.heappush(self.queue, (due, self._n, case_id, version, department, action, note))

    # ---- event tasks --------------------------------------------------------------------------

    def _receive_task(self, message: dict, now_ms: int, topic: str) -> str:
        event_id, task_id, version = str(message["event_id"]), str(message["task_id"]), int(message["version"])
        if not event_id or not task_id:
            raise ValueError("event_id and task_id are required")
        department = str(message.get("department") or task_id)
        key = (event_id, task_id)
        with self.lock:
            self._flush_batches(now_ms)
            self.event_received += 1
            taken = self.task_seen.get(key, -1)
            if taken == version:
                self.event_repeats += 1
                return "repeat"
            if taken > version:
                return "stale"
            self._remember(self.task_seen, key, version)
            batch = self.batches.get(event_id)
            if str(message.get("status") or "issued") not in LIVE_TASK_STATUSES:
                self.task_work.pop(key, None)  # what was pending for it is dropped when due
                if batch is not None:
                    batch["messages"].pop(task_id, None)
                return "withdrawn"
            message = {**message, "department": department}
            if event_id not in self.roles:
                if batch is None:
                    batch = self.batches[event_id] = {"until": now_ms + EVENT_BATCH_MS, "messages": {}}
                batch["messages"][task_id] = message
                self.task_work.pop(key, None)
                return "held"
            self._plan_task(message, now_ms)
            return "planned"

    def _plan_task(self, message: dict, now_ms: int) -> None:
        event_id, task_id, version = str(message["event_id"]), str(message["task_id"]), int(message["version"])
        key = (event_id, task_id)
        asker, late = self.roles.get(event_id, ("", ""))
        answers = plan_event_task(message, seed=self.seed, speed=self.speed, now_ms=now_ms,
                                  asks_support=task_id == asker and key not in self.support_asked,
                                  late=task_id == late)  # a newer version (a level change) keeps it late
        department = str(message.get("department") or task_id)
        self.task_work[key] = {"version": version, "sent": 0, "department": department,
                               "lead": message.get("role") == "lead"}
        for due, action, note in answers:
            self._n += 1
            heapq.heappush(self.event_queue, (due, self._n, "task", key, version, department, action, note, ""))

    def _flush_batches(self, now_ms: int) -> None:
        for event_id in [e for e, b in self.batches.items() if b["until"] <= now_ms]:
            messages = self.batches.pop(event_id)["messages"]
            if not messages:
                continue
            plan = str(next(iter(messages.values())).get("plan") or "")
            self._remember(self.roles, event_id, event_roles(
                event_id, plan, [(t, m.get("role")) for t, m in messages.items()], seed=self.seed))
            for task_id in sorted(messages):
                self._plan_task(messages[task_id], now_ms)

    def _receive_instruction(self, message: dict, now_ms: int, topic: str) -> str:
        event_id, instruction_id = str(message["event_id"]), str(message["instruction_id"])
        if not event_id or not instruction_id:
            raise ValueError("event_id and instruction_id are required")
        department = topic.rsplit("/", 1)[-1] if topic.startswith("ioc/v1/dispatch/") else ""
        with self.lock:
            self._flush_batches(now_ms)
            self.event_received += 1
            live = self._live_departments(event_id)
            targets = [department] if department else sorted(live)
            planned = repeated = 0
            for d in targets:
                if d not in live:
                    continue
                if (event_id, instruction_id, d) in self.instructions_seen:
                    repeated += 1
                    continue
                self._plan_instruction(event_id, instruction_id, d, live[d], now_ms)
                planned += 1
            if repeated and not planned:
                self.event_repeats += 1
                return "repeat"
            return "planned" if planned else "ignored"

    def _live_departments(self, event_id: str) -> dict[str, bool]:
        """department -> lead?, of the event's tasks being worked (or waiting in a batch)."""
        live = {w["department"]: w["lead"] for (e, _), w in self.task_work.items() if e == event_id}
        for m in self.batches.get(event_id, {}).get("messages", {}).values():
            live[str(m.get("department"))] = m.get("role") == "lead"
        return live

    def _plan_instruction(self, event_id: str, instruction_id: str, department: str, lead: bool, now_ms: int) -> None:
        self._remember(self.instructions_seen, (event_id, instruction_id, department), True)
        due, note = plan_instruction_ack(event_id, instruction_id, department, seed=self.seed, speed=self.speed,
                                         now_ms=now_ms, lead=lead)
        self._n += 1
        heapq.heappush(self.event_queue, (due, self._n, "instruction", (event_id, department), 0, department,
                                          "acknowledge_instruction", note, instruction_id))

    def adopt_event(self, event: dict, now_ms: int) -> int:
        """Take on the live tasks (and the unacknowledged instructions) of an active event read
        from the API (`GET /api/v1/events/<id>`) whose messages were not taken here; returns how
        many tasks were taken on."""
        event_id, plan = str(event["id"]), str(event.get("plan") or "")
        tasks = [t for t in event.get("tasks") or () if isinstance(t, dict) and t.get("id")]
        taken = 0
        with self.lock:
            if event_id not in self.roles and event_id not in self.batches:
                roles = event_roles(event_id, plan, [(str(t["id"]), t.get("role")) for t in tasks
                                                     if t.get("status") not in ("withdrawn", "returned")], seed=self.seed)
                self._remember(self.roles, event_id, roles)
            for t in tasks:
                key = (event_id, str(t["id"]))
                if t.get("needs_support"):
                    self.support_asked.add(key)
                if key in self.task_seen or t.get("status") not in LIVE_TASK_STATUSES:
                    continue
                version = int(t.get("version") or 1)
                self._remember(self.task_seen, key, version)
                message = {"type": EVENT_TASK, "event_id": event_id, "task_id": str(t["id"]), "version": version,
                           "status": t.get("status"), "plan": plan, "role": t.get("role"),
                           "department": str(t.get("department") or t["id"]),
                           "ack_within_min": t.get("ack_min"), "arrive_within_min": t.get("arrive_min"),
                           "report_every_min": t.get("report_min"), "issued_at": t.get("issued_at")}
                self._plan_task(message, now_ms)
                taken += 1
            live = self._live_departments(event_id)
            for instruction in event.get("instructions") or ():
                acknowledged = instruction.get("acknowledged") or {}
                for d in instruction.get("required") or ():
                    if d in live and d not in acknowledged and (event_id, str(instruction["id"]), d) not in self.instructions_seen:
                        self._plan_instruction(event_id, str(instruction["id"]), d, live[d], now_ms)
            if taken:
                self.events_adopted += 1
        return taken

    def _remember(self, table: OrderedDict, key, value) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.memory:
            table.popitem(last=False)

    # ---- out ----------------------------------------------------------------------------------

    def next_due_ms(self) -> float:
        with self.lock:
            return min(self.queue[0][0] if self.queue else math.inf,
                       self.event_queue[0][0] if self.event_queue else math.inf,
                       min((b["until"] for b in self.batches.values()), default=math.inf))

    def due(self, now_ms: int) -> list[tuple[str, bytes]]:
        out = []
        with self.lock:
            while self.queue and self.queue[0][0] <= now_ms:
                _, _, case_id, version, department, action, note = heapq.heappop(self.queue)
                if self.active.get(case_id) != version:
                    continue  # superseded by a newer dispatch
                if action in ("handled", "return"):
                    del self.active[case_id]
                    if action == "return":
                        self.returned.add(case_id)
                payload = {"case_id": case_id, "action": action, "note": note, "ts": now_ms}
                out.append((UPDATE_TOPIC.format(department=department), orjson.dumps(payload)))
                self.sent += 1
                self.sent_by_action[action] += 1
            self._flush_batches(now_ms)
            while self.event_queue and self.event_queue[0][0] <= now_ms:
                _, _, kind, key, version, department, action, note, instruction_id = heapq.heappop(self.event_queue)
                event_id = key[0]
                if kind == "instruction":
                    payload = {"event_id": event_id, "task_id": department, "action": action, "note": note,
                               "ts": now_ms, "instruction_id": instruction_id}
                else:
                    work = self.task_work.get(key)
                    if work is None or work["version"] != version:
                        continue  # withdrawn, or superseded by a newer version of the task
                    payload = {"event_id": event_id, "task_id": key[1], "action": action, "note": note,
                               "ts": now_ms, "version": version + work["sent"]}
                    work["sent"] += 1
                    if action == "support":
                        self.support_asked.add(key)
                    elif action == "done":
                        del self.task_work[key]
                out.append((UPDATE_TOPIC.format(department=department), orjson.dumps(payload)))
                self.event_sent += 1
                self.event_sent_by_action[action] = self.event_sent_by_action.get(action, 0) + 1
        return out


# ------------------------------------------------------------------------- the driver


class Casework:
    """Reports, department systems and the duty desk against a broker (and the IOC's API)."""

    def __init__(self, mqtt_url: str, city, *, seed: int, speed: float = 1.0, sim_start: float | None = None,
                 reports_per_hour: float = DEFAULT_REPORTS_PER_HOUR, api_url: str = "", api_token: str = "",
                 client_id: str = DEFAULT_CLIENT_ID, desk_poll_s: float | None = None):
        from ioc.domain.departments import all_departments

        self.mqtt_url = mqtt_url
        self.city = city
        self.seed = seed
        self.speed = float(speed)
        self.sim_start = sim_start
        self.reports_per_hour = reports_per_hour
        self.api_url = api_url
        self.api_token = api_token
        self.client_id = client_id
        self.desk_poll_s = desk_poll_s
        self.stopping = threading.Event()
        self.client = None
        self.reports: ReportStream | None = None
        self.departments = DepartmentSystems(seed=seed, speed=speed, names={d.id: d.name_zh for d in all_departments(city)})
        self.desk = None
        self.threads: list[threading.Thread] = []

    def start(self) -> "Casework":
        from ioc.adapters.mqtt import connect, make_client

        def subscribe(c):
            c.subscribe(DISPATCH_TOPIC, qos=1)

        self.client = make_client(self.mqtt_url, self.client_id, clean_session=False, on_connect=subscribe, name="casework")
        self.client.on_message = lambda _c, _u, msg: self.departments.receive(msg.payload, int(time.time() * 1000), msg.topic)
        connect(self.client)
        start_ms = int(time.time() * 1000)
        self.reports = ReportStream(self.city, seed=self.seed, per_hour=self.reports_per_hour, start_ms=start_ms,
                                    sim_start=self.sim_start, speed=self.speed)
        self.threads.append(threading.Thread(target=self._loop, name="sim-casework", daemon=True))
        if self.api_token:
            from .duty_desk import DutyDesk

            self.desk = DutyDesk(self.api_url, self.api_token, seed=self.seed, speed=self.speed,
                                 on_dispatched=self.departments.adopt, on_event=self.departments.adopt_event, **({"poll_s": self.desk_poll_s} if self.desk_poll_s else {}))
            self.threads.append(threading.Thread(target=self.desk.run, args=(self.stopping,), name="sim-duty-desk", daemon=True))
        for t in self.threads:
            t.start()
        log.info("casework: ~%.0f reports/h on ioc/v1/reports/{hotline,inspector,camera}; department systems on %s; %s",
                 self.reports_per_hour, DISPATCH_TOPIC,
                 f"duty desk via {self.api_url}" if self.desk else "duty desk off (IOC_SIM_API_TOKEN is not set)")
        return self

    def _loop(self) -> None:
        t0 = time.monotonic()
        last_progress = t0
        out: list = []
        while not self.stopping.is_set():
            try:
                t = time.monotonic() - t0
                out.clear()
                nxt = self.reports.run_until(t, out)
                out.extend(self.departments.due(int(time.time() * 1000)))
                for topic, payload in out:
                    self.client.publish(topic, payload, qos=1)  # queued by paho while the broker is away
                if time.monotonic() - last_progress >= PROGRESS_EVERY_S:
                    last_progress = time.monotonic()
                    log.info("%s", self.progress())
                wait = min(nxt - (time.monotonic() - t0), (self.departments.next_due_ms() - time.time() * 1000) / 1000.0, 0.5)
            except Exception:  # noqa: BLE001 - a bug here must not stop the rest of the simulator
                log.exception("casework: unexpected error; going on")
                wait = 1.0
            if wait > 0:
                self.stopping.wait(wait)

    def progress(self) -> str:
        r, d = self.reports, self.departments
        line = (f"casework: {r.sent} reports ({r.near_duplicates} near an earlier one; {r.repeats} sent twice), "
                f"{d.received} dispatches received ({d.repeats} repeats"
                f"{f', {d.adopted} dispatched cases taken over at start' if d.adopted else ''}), {d.sent} department updates sent "
                f"({d.sent_by_action['acknowledge']} acknowledged, {d.sent_by_action['handled']} handled, "
                f"{d.sent_by_action['return']} returned)")
        if d.event_received or d.events_adopted:
            actions = ", ".join(f"{n} {a}" for a, n in sorted(d.event_sent_by_action.items()))
            line += (f"; linked events: {d.event_received} task and instruction messages ({d.event_repeats} repeats"
                     f"{f', {d.events_adopted} events taken over at start' if d.events_adopted else ''}), "
                     f"{d.event_sent} task updates sent ({actions or 'none yet'})")
        if self.desk is not None:
            line += f"; duty desk: {self.desk.summary()}"
        return line

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(15)
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
        if self.reports is not None:
            log.info("%s", self.progress())


def start_casework(mqtt_url: str, city, **kwargs) -> Casework | None:
    """Start the casework, or log why not and return None (the telemetry goes on regardless)."""
    try:
        return Casework(mqtt_url, city, **kwargs).start()
    except (TimeoutError, OSError, ValueError) as e:
        log.error("casework: not started (%s)", e)
        return None
