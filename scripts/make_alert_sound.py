"""Write assets/alert.wav: a short two-tone chime for new critical alarms (made here, not downloaded).

    .venv/bin/python -m scripts.make_alert_sound
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 16000


def tone(freq: float, seconds: float, volume: float = 0.5) -> list[int]:
    n = int(RATE * seconds)
    out = []
    for i in range(n):
        envelope = min(1.0, i / (0.01 * RATE), (n - i) / (0.05 * RATE))
        out.append(int(32767 * volume * envelope * math.sin(2 * math.pi * freq * i / RATE)))
    return out


def main() -> None:
    samples = tone(880, 0.22) + tone(0, 0.06, 0) + tone(660, 0.32)
    path = Path(__file__).resolve().parent.parent / "assets" / "alert.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
