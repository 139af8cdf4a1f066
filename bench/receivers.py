"""The local provider receivers (`ioc.notify.receivers.start_receivers`) in a process of their own,
for the `notify` scenario: `python -m bench.receivers [KEYS.json]`.

They stand for WeCom, DingTalk, Feishu, the SMS gateway and the mail server, which in a city run
on other machines: in their own process they do not take the notifier's or the harness's
interpreter. Rate limits are off (`limits=False`): the scenario measures the notifier, not the
providers' quotas. KEYS.json: `[[channel, key, secret], …]`, the robot keys the receivers know
(the roster's groups; a signed key's requests must carry a good signature). Prints one JSON line
`{"event": "ready", "urls": {IOC_NOTIFY_*: url}, "base": url}`, then serves until stdin closes
or SIGTERM.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path


def main(argv: list[str]) -> int:
    from ioc.notify.receivers import start_receivers

    keys = [tuple(k) for k in json.loads(Path(argv[0]).read_text())] if argv else []
    receivers = start_receivers("127.0.0.1", limits=False, keys=keys)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    print(json.dumps({"event": "ready", "urls": dict(receivers.urls), "base": receivers.base_url}), flush=True)
    done.wait()
    receivers.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
