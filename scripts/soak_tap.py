"""The soak's reference subscriber: what the broker actually delivered.

`python -m scripts.soak_tap --mqtt-url mqtt://127.0.0.1:PORT --out counts.json` is a bare paho
client (clean session, MQTT 3.1.1, no product code) subscribed to the two topic families the
ingest workers read, `ioc/v1/+/+/telemetry` (QoS 0) and `ioc/v1/+/+/status` (QoS 1). It counts:

- `telemetry`, `status`: messages forwarded live (RETAIN flag 0 on delivery);
- `retained`: retained statuses the broker sent because a subscription was (re)made, and
  `retained_last`: how many of them came after the latest subscription (the number of retained
  status topics, which every ingest worker also receives on each (re)subscription);
- `connects`, `disconnects`;
- `series`: [epoch second, live messages so far] once a second, to line the publishers' own
  counts up against what the broker delivered (their backlog) and to see the gap a broker
  restart leaves.

It reconnects faster than the product's clients (0.25 s back-off, at most 1 s), so it sees
everything the broker forwarded while the publishers were connected. The counts are written to
`--out` (atomically) four times a second and once more on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from urllib.parse import urlparse

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

TOPICS = [("ioc/v1/+/+/telemetry", 0), ("ioc/v1/+/+/status", 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.soak_tap")
    parser.add_argument("--mqtt-url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--client-id", default=f"soak-tap-{os.getpid()}")
    args = parser.parse_args(argv)
    url = urlparse(args.mqtt_url)

    counts = {"telemetry": 0, "status": 0, "retained": 0, "retained_last": 0, "connects": 0, "disconnects": 0,
              "started": time.time(), "written": 0.0, "final": False, "series": []}
    stop = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            return
        counts["connects"] += 1
        counts["retained_last"] = 0
        client.subscribe(TOPICS)

    def on_disconnect(client, userdata, flags, reason_code, properties):
        counts["disconnects"] += 1

    def on_message(client, userdata, msg):
        if msg.retain:
            counts["retained"] += 1
            counts["retained_last"] += 1
        elif msg.topic.endswith("/telemetry"):
            counts["telemetry"] += 1
        else:
            counts["status"] += 1

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=args.client_id, clean_session=True,
                         protocol=paho.MQTTv311)
    if url.username:
        client.username_pw_set(url.username, url.password)
    client.reconnect_delay_set(min_delay=0.25, max_delay=1)
    client.max_queued_messages_set(0)
    client.on_connect, client.on_disconnect, client.on_message = on_connect, on_disconnect, on_message

    def write(final: bool = False) -> None:
        now = int(time.time())
        if not counts["series"] or counts["series"][-1][0] < now:
            counts["series"].append([now, counts["telemetry"] + counts["status"]])
        counts["written"] = time.time()
        counts["final"] = final
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(counts, f)
        os.replace(tmp, args.out)

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    client.connect_async(url.hostname or "127.0.0.1", url.port or 1883, keepalive=30)
    client.loop_start()
    while not stop.wait(0.25):
        write()
    client.disconnect()
    client.loop_stop()
    write(final=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
