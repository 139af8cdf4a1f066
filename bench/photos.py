"""Phone photos for the `uploads` scenario: JPEGs of about a phone's size (4032 × 3024, about 3 MB)
with the EXIF a phone writes (make, model, software, the time taken, the GPS position), made once
per run into a folder of the work dir.

The pixels are a colour gradient with a few flat patches (what a thumbnail shows) and camera-like
noise: noise is what keeps a real photo at 2-4 MB, and without it a synthetic picture compresses
to a few hundred KB. Every photo has its own pixels (the noise and the patches move), so the
media store, which keeps a file under the hash of its stored bytes, stores each one and makes
each one's thumbnail: no upload of the run is a duplicate of another.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

SIZE = (4032, 3024)  # a 12 MP phone camera
QUICK_SIZE = (1600, 1200)
TARGET_BYTES = 3_000_000
QUICK_TARGET_BYTES = 500_000
NOISE_SIGMA = 11  # camera-like sensor noise (8-bit levels)
SEED = 20261206
GPS_IFD, EXIF_IFD = 0x8825, 0x8769
MAKE, MODEL, SOFTWARE, DATETIME = 0x010F, 0x0110, 0x0131, 0x0132
DATETIME_ORIGINAL = 0x9003
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT = 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class Photo:
    path: Path
    name: str  # the file name a phone gives it
    size: int  # bytes
    lat: float  # where the EXIF says it was taken
    lon: float
    taken_at: str  # EXIF DateTimeOriginal, "YYYY:MM:DD HH:MM:SS"


def _dms(value: float) -> tuple[float, float, float]:
    """Degrees, minutes, seconds (EXIF rationals) of a positive angle."""
    hundredths = round(value * 360_000)  # 1/100 of an arc second
    degrees, rest = divmod(hundredths, 360_000)
    minutes, seconds = divmod(rest, 6_000)
    return float(degrees), float(minutes), seconds / 100


def exif_bytes(lat: float, lon: float, taken: str) -> bytes:
    """A phone's EXIF: make, model, software, time taken and the GPS position."""
    from PIL import Image

    exif = Image.Exif()
    exif[MAKE] = "HUAWEI"
    exif[MODEL] = "ELS-AN00"
    exif[SOFTWARE] = "ELS-AN00 4.0.0.180"
    exif[DATETIME] = taken
    exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = taken
    gps = exif.get_ifd(GPS_IFD)
    gps[GPS_LAT_REF] = "N" if lat >= 0 else "S"
    gps[GPS_LAT] = _dms(abs(lat))
    gps[GPS_LON_REF] = "E" if lon >= 0 else "W"
    gps[GPS_LON] = _dms(abs(lon))
    gps[GPS_ALT_REF] = 0
    gps[GPS_ALT] = 4.0
    return exif.tobytes()


class _Pixels:
    """The run's shared gradient and noise; `frame(i)` is photo i's own pixels. All in 8-bit
    integers (the gradient leaves room for the noise): a frame costs a few copies of the array."""

    def __init__(self, size: tuple[int, int], seed: int):
        import numpy as np

        w, h = size
        self.np, self.size = np, size
        rng = np.random.default_rng(seed)
        x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
        y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
        self.base = np.stack([x * 150 + 30 + y * 0, y * 140 + 40 + x * 0, (x + y) * 60 + 50], -1).astype(np.uint8)
        # uniform 0..2σ·√3 has the spread σ of a sensor's noise; on top of 30..230 it never overflows
        self.noise = rng.integers(0, int(NOISE_SIGMA * 3.46) + 1, (h, w, 3), dtype=np.uint8)

    def frame(self, i: int):
        np = self.np
        w, h = self.size
        rng = np.random.default_rng(SEED + i)
        arr = np.roll(self.noise, (int(rng.integers(1, h)), int(rng.integers(1, w))), (0, 1))
        arr += self.base
        for _ in range(6):  # flat patches: a wall, a kerb, a sign
            x0, y0 = int(rng.integers(0, w * 3 // 4)), int(rng.integers(0, h * 3 // 4))
            patch = arr[y0:y0 + int(rng.integers(h // 10, h // 3)), x0:x0 + int(rng.integers(w // 10, w // 3))]
            patch -= self.base[:patch.shape[0], :patch.shape[1]]
            patch += rng.integers(20, 200, 3).astype(np.uint8)
        return arr


def _encode(pixels, quality: int, exif: bytes) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def fit_quality(pixels, target: int, exif: bytes) -> int:
    """The JPEG quality (60-97) whose file is nearest `target` bytes."""
    lo, hi, best = 60, 97, (None, 0)
    while lo <= hi:
        q = (lo + hi) // 2
        n = len(_encode(pixels, q, exif))
        if best[0] is None or abs(n - target) < abs(best[1] - target):
            best = (q, n)
        if n < target:
            lo = q + 1
        else:
            hi = q - 1
    return best[0]


def make_photos(folder: Path, n: int, places: list[tuple[float, float]], quick: bool = False,
                size: tuple[int, int] | None = None, target: int | None = None) -> list[Photo]:
    """`n` photos in `folder` (made once: the quality is fitted on the first), photo i taken at
    `places[i % len(places)]` (lat, lon)."""
    folder.mkdir(parents=True, exist_ok=True)
    size = size or (QUICK_SIZE if quick else SIZE)
    target = target or (QUICK_TARGET_BYTES if quick else TARGET_BYTES)
    pixels = _Pixels(size, SEED)
    now = time.time()
    quality = 0
    photos = []
    for i in range(n):
        lat, lon = places[i % len(places)]
        taken = time.strftime("%Y:%m:%d %H:%M:%S", time.localtime(now - 600 - 37 * i))
        exif = exif_bytes(lat, lon, taken)
        frame = pixels.frame(i)
        quality = quality or fit_quality(frame, target, exif)
        data = _encode(frame, quality, exif)
        name = f"IMG_{time.strftime('%Y%m%d', time.localtime(now))}_{100000 + i}.jpg"
        path = folder / name
        path.write_bytes(data)
        photos.append(Photo(path, name, len(data), lat, lon, taken))
    return photos
