"""The baseline consumer: a bare paho-mqtt subscriber that only counts what it receives.

`python -m bench.subscriber MQTT_URL TOPIC` prints `{"event": "ready"}` once subscribed, then
every 0.2 s a line `{"count": n, "first": t, "last": t}` (epoch seconds of the first and the
latest message). Same client library, same QoS and the same broker as the ingest worker, so it
is the ceiling a Python consumer can reach here.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from urllib.parse import urlparse

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


def main(argv: list[str]) -> int:
    url, topic = argv[0], argv[1]
    parts = urlparse(url)
    state = {"count": 0, "first": 0.0, "last": 0.0}
    subscribed = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe(topic, qos=0)

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        subscribed.set()

    def on_message(client, userdata, msg):
        now = time.time()
        if not state["count"]:
            state["first"] = now
        state["count"] += 1
        state["last"] = now

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-baseline-{time.time_ns()}", protocol=paho.MQTTv311)
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=60)
    client.loop_start()
    if not subscribed.wait(15):
        print(json.dumps({"event": "error", "error": "not subscribed within 15 s"}), flush=True)
        return 1
    print(json.dumps({"event": "ready"}), flush=True)
    try:
        while True:
            time.sleep(0.2)
            print(json.dumps(dict(state)), flush=True)
    except (KeyboardInterrupt, BrokenPipeError):
        return 0
    finally:
        client.loop_stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
