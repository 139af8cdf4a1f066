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
  version) is ignored.
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
NEAR_DUPLICATE_SHARE = 0.06  # a second person reports a recent problem nearby
NEAR_DUPLICATE_WINDOW_S = 3 * 3600  # simulated seconds a report counts as recent
# department systems
RETURN_SHARE = 0.05
LATE_SHARE = 0.10


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
                reported_at = iso_local(publish_ms - rng.randint(30, 240) * 1000)  # the call, before the order was filed
            else:
                reporter = f"监督员 {rng.choice(texts.INSPECTORS)}"
                reported_at = iso_local(publish_ms - rng.randint(0, 60) * 1000)
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


class DepartmentSystems:
    """Every department's own system: dispatches in, updates out; no I/O, thread-safe.

    `receive(payload, now_ms)` takes a dispatch message; `adopt(case, now_ms)` a dispatched case
    read from the API (after a restart, when the dispatch messages were taken before); `due(now_ms)`
    returns the `(topic, payload)` of the updates due by then.
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

    def receive(self, payload, now_ms: int) -> str:
        """'planned', 'repeat' (the same case and version again), 'stale' (an older version) or 'invalid'."""
        try:
            message = orjson.loads(payload) if isinstance(payload, (bytes, str)) else dict(payload)
            case_id, version, department = str(message["case_id"]), int(message["version"]), str(message["department"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("department systems: an unreadable dispatch message ignored: %r", payload[:200] if payload else payload)
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

    def next_due_ms(self) -> float:
        with self.lock:
            return self.queue[0][0] if self.queue else math.inf

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
        self.client.on_message = lambda _c, _u, msg: self.departments.receive(msg.payload, int(time.time() * 1000))
        connect(self.client)
        start_ms = int(time.time() * 1000)
        self.reports = ReportStream(self.city, seed=self.seed, per_hour=self.reports_per_hour, start_ms=start_ms,
                                    sim_start=self.sim_start, speed=self.speed)
        self.threads.append(threading.Thread(target=self._loop, name="sim-casework", daemon=True))
        if self.api_token:
            from .duty_desk import DutyDesk

            self.desk = DutyDesk(self.api_url, self.api_token, seed=self.seed, speed=self.speed,
                                 on_dispatched=self.departments.adopt, **({"poll_s": self.desk_poll_s} if self.desk_poll_s else {}))
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
