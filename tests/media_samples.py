"""Photos made for the media tests: a phone-like JPEG with GPS, time and camera details in its
EXIF, PNG/WebP/HEIC, a decompression bomb (a PNG header claiming huge dimensions), a truncated
JPEG and things that are no picture at all."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

# 31°52'12.5"N 120°33'0"E (杨舍, Zhangjiagang), taken 2026-12-01 10:00:00 China time
GPS_LAT, GPS_LON = 31 + 52 / 60 + 12.5 / 3600, 120 + 33 / 60
TAKEN_AT_MS = 1_796_090_400_000
SERIAL = b"SN-CAMERA-0042"
OWNER = "Zhang San"


def phone_jpeg(size=(640, 480), color=(200, 60, 40), orientation: int = 1, gps: bool = True, offset: str | None = "+08:00",
               taken: str | None = "2026:12:01 10:00:00") -> bytes:
    """A JPEG as a phone writes it: EXIF with make/model, owner, body serial, orientation,
    GPS position and DateTimeOriginal (with its offset)."""
    im = Image.new("RGB", size, color)
    im.putpixel((0, 0), (0, 0, 255))  # the top-left corner, to see the orientation applied
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112], exif[0x013B] = "PhoneMaker", "Phone 15", orientation, OWNER
    details = exif.get_ifd(0x8769)
    details[0xA431] = SERIAL.decode()
    if taken:
        details[0x9003] = taken
    if offset:
        details[0x9011] = offset
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (31.0, 52.0, 12.5), 3: "E", 4: (120.0, 33.0, 0.0)})
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif.tobytes(), comment=b"owner: " + OWNER.encode())
    return out.getvalue()


def noisy_jpeg(size=(800, 600)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


def image_bytes(fmt: str, size=(64, 48), mode="RGB", **params) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 120, 200) if mode == "RGB" else (10, 120, 200, 128)).save(out, fmt, **params)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG file whose header claims `width`×`height` pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1) * 4)) + chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    data = noisy_jpeg()
    return data[:len(data) // 2]


WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode"
