"""The sample production broker config (deploy/mosquitto/) on a real Mosquitto: nobody gets in
without a password, a device publishes only under its own id and reads nothing, only the ingest
reads the devices, a department system reads only its dispatches and writes only its updates,
a report source writes only its reports, and the IOC's own processes work with their users.

The broker runs deploy/mosquitto/mosquitto.conf with only its ports and file paths rewritten,
the ACL file unchanged, and a password file made by deploy/mosquitto/make-passwords.sh.

What a refused publish looks like depends on the protocol: MQTT 5 at QoS 1 gets a PUBACK with
reason code 135 (Not authorized); MQTT 3.1.1 and QoS 0 get no signal at all (Mosquitto drops the
message silently). A subscription to a topic the user may not read is granted, but nothing on
that topic is ever delivered. The tests check what subscribers receive in every case.
"""

from __future__ import annotations

import getpass
import re
import shutil
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc.adapters.embedded import Server, free_port
from ioc.adapters.mqtt import probe_broker
from ioc.adapters.redis_client import connect_redis
from ioc.domain.departments import department_ids
from ioc.settings import REPO_ROOT, Settings
from tests.conftest import RunningWorker, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(),
                       reason="needs Debian's mosquitto"),
]

DEPLOY = REPO_ROOT / "deploy" / "mosquitto"
DEVICE_USERS = ("aq-acl-1", "aq-acl-2")
QUIET_S = 0.7  # how long "nothing arrives" is watched for, after a message that does arrive


# ---- the broker ---------------------------------------------------------------------------------

def rewrite_conf(text: str, values: dict[str, str]) -> str:
    """The deploy config with the value of each directive in `values` replaced (keyed by the
    directive, or by "listener <port>" for a listener); every key must occur exactly once."""
    out, seen = [], set()
    for line in text.splitlines():
        words = line.split()
        key = " ".join(words[:2]) if words[:1] == ["listener"] else (words[0] if words and not line.startswith("#") else "")
        if key in values:
            assert key not in seen, f"{key} twice in mosquitto.conf"
            seen.add(key)
            line = f"{key.split()[0]} {values[key]}"
        out.append(line)
    assert seen == set(values), f"not in mosquitto.conf: {set(values) - seen}"
    return "\n".join(out) + "\n"


def make_certificates(folder: Path) -> None:
    """A throw-away CA and a server certificate for 127.0.0.1 (openssl)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=IOC test CA")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "san.cnf")


class AclBroker:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port, self.tls_port = free_port(), free_port()
        make_certificates(folder)
        subprocess.run([str(DEPLOY / "make-passwords.sh"), str(folder / "passwd"), str(folder / "credentials"), *DEVICE_USERS],
                       check=True, capture_output=True)
        self.passwords = dict(line.split(" ", 1) for line in (folder / "credentials").read_text().splitlines())
        conf = rewrite_conf((DEPLOY / "mosquitto.conf").read_text(), {
            "listener 1883": f"{self.port} 127.0.0.1",
            "listener 8883": f"{self.tls_port} 127.0.0.1",
            "cafile": str(folder / "ca.crt"),
            "certfile": str(folder / "server.crt"),
            "keyfile": str(folder / "server.key"),
            "password_file": str(folder / "passwd"),
            "acl_file": str(DEPLOY / "acl"),
            "persistence_location": f"{folder}/",
            "log_dest": "stdout",
        })
        # started as root, mosquitto would switch to the `mosquitto` user, who cannot read our files
        (folder / "mosquitto.conf").write_text(conf + f"user {getpass.getuser()}\n")
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.server = Server("mosquitto", f"mqtt://127.0.0.1:{self.port}", self.port, folder,
                             [binary, "-c", str(folder / "mosquitto.conf")], folder / "mosquitto.log")

    def url(self, user: str) -> str:
        return f"mqtt://{user}:{self.passwords[user]}@127.0.0.1:{self.port}"

    def log(self) -> str:
        return (self.folder / "mosquitto.log").read_text(errors="replace")


@pytest.fixture
def acl_broker(tmp_path):
    broker = AclBroker(tmp_path)
    broker.server.start()
    yield broker
    broker.server.stop()


# ---- clients ------------------------------------------------------------------------------------

class Peer:
    """A paho client (MQTT 5 unless told) recording what it receives and the broker's answers."""

    def __init__(self, broker: AclBroker, user: str | None, password: str | None = None, *, tls: bool = False,
                 protocol=paho.MQTTv5):
        self.received: list[tuple[str, bytes]] = []
        self.pubacks: dict[int, str] = {}
        self.subacks: list[list[str]] = []
        self.connack: list[str] = []
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{user or 'anon'}-{uuid.uuid4().hex[:6]}",
                                  protocol=protocol)
        if user is not None:
            self.client.username_pw_set(user, broker.passwords.get(user, "") if password is None else password)
        if tls:
            self.client.tls_set(ca_certs=str(broker.folder / "ca.crt"), cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.append(str(rc))
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, m.payload))
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.append([str(r) for r in rcs])
        self.client.on_publish = lambda c, u, mid, rc, p: self.pubacks.__setitem__(mid, str(rc))
        self.client.connect("127.0.0.1", broker.tls_port if tls else broker.port, keepalive=30)
        self.client.loop_start()
        wait_for(lambda: self.connack, timeout=10, message=f"the CONNACK for {user}")

    @property
    def accepted(self) -> bool:
        return self.connack == ["Success"]

    def subscribe(self, *topics: str) -> "Peer":
        before = len(self.subacks)
        for topic in topics:
            self.client.subscribe(topic, qos=1)
        wait_for(lambda: len(self.subacks) == before + len(topics), message="SUBACKs")
        return self

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> str:
        """Publish; the broker's answer: the PUBACK reason ("Success", "Not authorized") at QoS 1
        under MQTT 5, "sent" otherwise (nothing comes back)."""
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(5)
        if qos == 0 or self.client._protocol != paho.MQTTv5:  # noqa: SLF001 - the protocol this peer speaks
            return "sent"
        return wait_for(lambda: self.pubacks.get(info.mid), message=f"the PUBACK of {topic}")

    def topics(self) -> list[str]:
        return [t for t, _ in self.received]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def peers(acl_broker):
    opened: list[Peer] = []

    def open_peer(user: str | None, password: str | None = None, **kwargs) -> Peer:
        opened.append(Peer(acl_broker, user, password, **kwargs))
        return opened[-1]

    yield open_peer
    for p in opened:
        p.close()


def reading(value: float = 35.0) -> bytes:
    return orjson.dumps({"ts": int(time.time() * 1000), "pm25": value})


# ---- who may connect ----------------------------------------------------------------------------

def test_anonymous_clients_and_wrong_passwords_are_refused_on_both_listeners(peers):
    for tls in (False, True):
        assert peers(None, tls=tls).connack == ["Not authorized"]
        assert peers("aq-acl-1", "not-the-password", tls=tls).connack in (["Bad user name or password"], ["Not authorized"])
        assert peers("nobody-we-know", "x", tls=tls).connack in (["Bad user name or password"], ["Not authorized"])
        assert peers("aq-acl-1", tls=tls).accepted


def test_the_network_listener_speaks_only_tls_with_a_verifiable_certificate(acl_broker, peers):
    ingest = peers("ioc-ingest").subscribe("ioc/v1/+/+/telemetry")
    device = peers("aq-acl-1", tls=True)
    assert device.publish("ioc/v1/air_quality/aq-acl-1/telemetry", reading()) == "Success"
    wait_for(lambda: ingest.topics() == ["ioc/v1/air_quality/aq-acl-1/telemetry"], message="the reading over TLS")
    plain = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)  # no TLS: never gets a CONNACK
    plain.username_pw_set("aq-acl-1", acl_broker.passwords["aq-acl-1"])
    answers = []
    plain.on_connect = lambda c, u, f, rc, p: answers.append(rc)
    try:
        plain.connect("127.0.0.1", acl_broker.tls_port, keepalive=5)
        plain.loop_start()
        time.sleep(1.5)
    except OSError:
        pass  # closed by the broker while connecting
    finally:
        plain.loop_stop()
    assert answers == []


# ---- devices ------------------------------------------------------------------------------------

def test_a_device_publishes_its_own_telemetry_and_birth_and_the_ingest_receives_them(peers):
    ingest = peers("ioc-ingest").subscribe("ioc/v1/+/+/telemetry", "ioc/v1/+/+/status")
    device = peers("aq-acl-1")
    birth = orjson.dumps({"state": "online", "lat": 31.87, "lon": 120.55, "name": "测试"})
    assert device.publish("ioc/v1/air_quality/aq-acl-1/status", birth) == "Success"
    assert device.publish("ioc/v1/air_quality/aq-acl-1/telemetry", reading()) == "Success"
    wait_for(lambda: len(ingest.received) == 2, message="the birth and the reading at the ingest")
    assert ingest.topics() == ["ioc/v1/air_quality/aq-acl-1/status", "ioc/v1/air_quality/aq-acl-1/telemetry"]


def test_a_device_cannot_publish_as_another_device(peers):
    ingest = peers("ioc-ingest").subscribe("ioc/v1/+/+/telemetry", "ioc/v1/+/+/status")
    device = peers("aq-acl-1")
    old_style = peers("aq-acl-1", protocol=paho.MQTTv311)
    assert device.publish("ioc/v1/air_quality/aq-acl-2/telemetry", reading(999)) == "Not authorized"
    assert device.publish("ioc/v1/air_quality/aq-acl-2/status", b'{"state":"offline"}') == "Not authorized"
    device.publish("ioc/v1/air_quality/aq-acl-2/telemetry", reading(998), qos=0)  # dropped without a word
    old_style.publish("ioc/v1/air_quality/aq-acl-2/telemetry", reading(997))  # MQTT 3.1.1: PUBACK, yet dropped
    for topic in ("ioc/v1/reports/hotline", "ioc/v1/departments/water_affairs/updates", "ioc/v1/dispatch/water_affairs",
                  "ioc/v1/air_quality/aq-acl-1/commands", "ioc/v1/air_quality/aq-acl-1/telemetry/x", "$SYS/broker/x"):
        assert device.publish(topic, b"{}") == "Not authorized", topic
    device.publish("ioc/v1/air_quality/aq-acl-1/telemetry", reading(1))  # the device's own, as a marker
    wait_for(lambda: ingest.received, message="the device's own reading")
    time.sleep(QUIET_S)
    assert ingest.topics() == ["ioc/v1/air_quality/aq-acl-1/telemetry"]
    assert b'"pm25":1' in ingest.received[0][1].replace(b" ", b"")


def test_a_device_reads_nothing_not_even_other_devices(peers):
    snoop = peers("aq-acl-1").subscribe("ioc/v1/#", "ioc/v1/air_quality/aq-acl-2/telemetry", "#", "$share/g/ioc/v1/#")
    ingest = peers("ioc-ingest").subscribe("ioc/v1/+/+/telemetry")
    other = peers("aq-acl-2")
    other.publish("ioc/v1/air_quality/aq-acl-2/status", b'{"state":"online"}')
    other.publish("ioc/v1/air_quality/aq-acl-2/telemetry", reading())
    peers("ioc-cases").publish("ioc/v1/dispatch/water_affairs", b'{"case_id":"x"}')
    wait_for(lambda: ingest.received, message="the other device's reading at the ingest")
    time.sleep(QUIET_S)
    assert snoop.received == []


def test_a_reserved_service_name_cannot_be_used_as_a_device_id(peers):
    ingest = peers("ioc-ingest")
    assert ingest.publish("ioc/v1/air_quality/ioc-ingest/telemetry", reading()) == "Not authorized"
    assert peers("dept-water_affairs").publish("ioc/v1/air_quality/dept-water_affairs/telemetry", reading()) == "Not authorized"
    assert peers("report-camera").publish("ioc/v1/camera/report-camera/status", b"{}") == "Not authorized"


# ---- the ingest ----------------------------------------------------------------------------------

def test_only_the_ingest_user_reads_every_device_also_through_a_shared_subscription(peers):
    shared = peers("ioc-ingest").subscribe("$share/ioc/ioc/v1/+/+/telemetry", "$share/ioc/ioc/v1/+/+/status")
    cases = peers("ioc-cases").subscribe("ioc/v1/+/+/telemetry", "ioc/v1/#")
    department = peers("dept-water_affairs").subscribe("ioc/v1/+/+/telemetry")
    web = peers("ioc-web").subscribe("ioc/v1/#")
    peers("aq-acl-2").publish("ioc/v1/air_quality/aq-acl-2/telemetry", reading())
    wait_for(lambda: shared.topics() == ["ioc/v1/air_quality/aq-acl-2/telemetry"], message="the reading via $share")
    time.sleep(QUIET_S)
    assert cases.received == [] and department.received == [] and web.received == []
    assert shared.publish("ioc/v1/dispatch/water_affairs", b"{}") == "Not authorized"  # the ingest only reads


def test_the_ingest_worker_runs_as_its_user_and_stores_a_device_s_readings(acl_broker, redis_client, city, tmp_path):
    from ioc.adapters.mqtt import connect, make_client
    from ioc.adapters.snapshot_store import SnapshotStore
    from ioc.ingest.worker import IngestWorker

    settings = Settings.from_env(env={}, redis_url=f"redis://127.0.0.1:{redis_client.connection_pool.connection_kwargs['port']}/0",
                                 mqtt_url=acl_broker.url("ioc-ingest"), data_dir=tmp_path, ingest_group="ioc",
                                 ingest_client_id=f"test-ingest-{uuid.uuid4().hex[:6]}")
    worker = RunningWorker(IngestWorker(settings, connect_redis(settings.redis_url), city)).start()
    device = make_client(acl_broker.url("aq-acl-1"), "aq-acl-1", will=("ioc/v1/air_quality/aq-acl-1/status", b'{"state":"offline"}', 1, True))
    try:
        connect(device)
        device.publish("ioc/v1/air_quality/aq-acl-1/status", orjson.dumps({"state": "online", "lat": 31.87, "lon": 120.553}),
                       qos=1, retain=True).wait_for_publish(5)
        device.publish("ioc/v1/air_quality/aq-acl-1/telemetry", reading(42.0), qos=1).wait_for_publish(5)
        device.publish("ioc/v1/air_quality/aq-acl-2/telemetry", reading(666.0), qos=1).wait_for_publish(5)  # refused
        snapshot = SnapshotStore(redis_client, settings.redis_shards)
        wait_for(lambda: (d := snapshot.device("aq-acl-1")) and d["latest"], message="the reading stored")
        assert snapshot.device("aq-acl-1")["latest"]["pm25"] == 42.0
        time.sleep(QUIET_S)
        assert not snapshot.device("aq-acl-2")
    finally:
        device.disconnect()
        device.loop_stop()
        worker.stop()


def test_the_web_health_probe_connects_as_its_user(acl_broker):
    assert probe_broker(acl_broker.url("ioc-web"))[0]
    assert not probe_broker(f"mqtt://ioc-web:wrong@127.0.0.1:{acl_broker.port}")[0]
    assert not probe_broker(f"mqtt://127.0.0.1:{acl_broker.port}")[0]


# ---- department systems and report sources ---------------------------------------------------------

def test_a_department_reads_only_its_dispatches_and_writes_only_its_updates(peers):
    water = peers("dept-water_affairs").subscribe("ioc/v1/dispatch/#", "ioc/v1/dispatch/transport", "ioc/v1/departments/#")
    transport = peers("dept-transport").subscribe("ioc/v1/dispatch/transport")
    cases = peers("ioc-cases").subscribe("ioc/v1/reports/+", "ioc/v1/departments/+/updates")
    assert cases.publish("ioc/v1/dispatch/water_affairs", b'{"case_id":"ZJG-1"}') == "Success"
    assert cases.publish("ioc/v1/dispatch/transport", b'{"case_id":"ZJG-2"}') == "Success"
    wait_for(lambda: water.received and transport.received, message="each department's dispatch")
    update = orjson.dumps({"case_id": "ZJG-1", "action": "acknowledge"})
    assert water.publish("ioc/v1/departments/water_affairs/updates", update) == "Success"
    assert water.publish("ioc/v1/departments/transport/updates", update) == "Not authorized"
    assert water.publish("ioc/v1/dispatch/transport", b"{}") == "Not authorized"
    assert water.publish("ioc/v1/reports/hotline", b"{}") == "Not authorized"
    wait_for(lambda: cases.received, message="the department's update at the case worker")
    time.sleep(QUIET_S)
    assert water.topics() == ["ioc/v1/dispatch/water_affairs"]
    assert transport.topics() == ["ioc/v1/dispatch/transport"]
    assert cases.topics() == ["ioc/v1/departments/water_affairs/updates"]


def test_a_report_source_writes_only_its_own_reports(peers):
    cases = peers("ioc-cases").subscribe("ioc/v1/reports/+")
    hotline = peers("report-hotline").subscribe("ioc/v1/reports/+")
    assert hotline.publish("ioc/v1/reports/hotline", b'{"report_id":"r1"}') == "Success"
    assert hotline.publish("ioc/v1/reports/camera", b'{"report_id":"r2"}') == "Not authorized"
    assert hotline.publish("ioc/v1/departments/water_affairs/updates", b"{}") == "Not authorized"
    assert peers("report-camera").publish("ioc/v1/reports/camera", b'{"report_id":"r3"}') == "Success"
    wait_for(lambda: len(cases.received) == 2, message="both permitted reports")
    time.sleep(QUIET_S)
    assert cases.topics() == ["ioc/v1/reports/hotline", "ioc/v1/reports/camera"]
    assert hotline.received == []  # a source does not read the others' reports


def test_the_case_worker_runs_as_its_user_from_report_to_department_answer(acl_broker, redis_client, city, tmp_path, peers):
    from ioc.adapters.case_store import CaseStore
    from ioc.casework.service import CaseService
    from ioc.casework.worker import CaseWorker
    from tests.integration.test_case_worker import a_report, dispatched_case

    settings = Settings.from_env(env={}, redis_url=f"redis://127.0.0.1:{redis_client.connection_pool.connection_kwargs['port']}/0",
                                 mqtt_url=acl_broker.url("ioc-cases"), data_dir=tmp_path, ingest_group="ioc",
                                 cases_client_id=f"test-cases-{uuid.uuid4().hex[:6]}")
    store = CaseStore(redis_client)
    water = peers("dept-water_affairs").subscribe("ioc/v1/dispatch/#")
    transport = peers("dept-transport").subscribe("ioc/v1/dispatch/#")
    worker = RunningWorker(CaseWorker(settings, connect_redis(settings.redis_url), city)).start()
    try:
        assert peers("report-hotline").publish("ioc/v1/reports/hotline", orjson.dumps(a_report("acl-hl-1"))) == "Success"
        assert wait_for(lambda: store.by_report("acl-hl-1"), message="the reported case").source == "hotline"
        case = dispatched_case(CaseService.from_settings(redis_client, city, settings), "acl-d-1")
        wait_for(lambda: water.received, message="the dispatch at the water department")
        assert orjson.loads(water.received[0][1])["case_id"] == case.id
        answer = orjson.dumps({"case_id": case.id, "action": "acknowledge", "ts": int(time.time() * 1000)})
        assert water.publish("ioc/v1/departments/water_affairs/updates", answer) == "Success"
        wait_for(lambda: store.get(case.id).acknowledged_at, message="the acknowledgement applied")
        assert store.timeline(case.id)[-1].actor == "dept:water_affairs"
        time.sleep(QUIET_S)
        assert transport.received == []
    finally:
        worker.stop()


# ---- the ACL file itself ----------------------------------------------------------------------------

def test_every_department_of_the_city_has_its_block_and_nothing_else_is_granted_broadly(city):
    acl = (DEPLOY / "acl").read_text()
    users = re.findall(r"^user (\S+)$", acl, re.MULTILINE)
    assert {u.removeprefix("dept-") for u in users if u.startswith("dept-")} == set(department_ids(city))
    assert len(users) == len(set(users))
    for department in department_ids(city):
        block = acl.split(f"user dept-{department}\n", 1)[1].split("\n\n", 1)[0]
        assert block.splitlines() == [
            f"topic read ioc/v1/dispatch/{department}",
            f"topic write ioc/v1/departments/{department}/updates",
            f"topic deny ioc/v1/+/dept-{department}/#",
        ]
    grants = [line for line in acl.splitlines() if line.startswith(("topic", "pattern"))]
    assert not any(line.split()[-1] in ("#", "ioc/v1/#") and "deny" not in line for line in grants)
    assert [line for line in grants if line.startswith("pattern")] == [
        "pattern write ioc/v1/+/%u/telemetry", "pattern write ioc/v1/+/%u/status"]
