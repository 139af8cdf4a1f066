"""Photo and file evidence of a case (照片取证): what a file is, what it may be called, and the
record a case keeps of it. Pure: no I/O (the image work is `ioc.media.images`, the bytes live in a
`ioc.adapters.media_store`).

- `sniff(first_bytes)`: the type from the bytes, never from the name or the client's word:
  JPEG, PNG, WebP and HEIC/HEIF (the phones' photos); anything else is refused.
- `safe_name(name)`: the file's own name, path parts dropped, control characters removed.
- `MediaError(code, message, field)`: each refusal names why (`CODES`).
- `Attachment`: what a case keeps of a stored photo (`Case.attachments`, as dicts).
- `media_links(case, public_url)`: the links to a case's photos for other systems.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass

TYPES: dict[str, str] = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic"}
STAGES: tuple[str, ...] = ("before", "after")
SNIFF_BYTES = 32  # how many first bytes `sniff` needs
NAME_MAX = 120
# the HEIF brands of still images (ISO/IEC 23008-12): HEIC from phones, and plain HEIF
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})

# refusal code -> HTTP status of the API
CODES: dict[str, int] = {
    "unsupported_type": 400,   # not a JPEG, PNG, WebP or HEIC photo (by its bytes)
    "too_large": 413,          # more than IOC_MEDIA_MAX_MB
    "too_many_pixels": 400,    # more than IOC_MEDIA_MAX_PIXELS (a decompression bomb)
    "empty": 400,              # no bytes, or no file at all
    "unreadable": 400,         # the type's signature, but not a picture that decodes (truncated, corrupt)
    "too_many_files": 400,     # the case would hold more than IOC_MEDIA_PER_CASE files
    "bad_stage": 400,          # stage is not before / after
}


class MediaError(ValueError):
    """A refused file: `code` (one of `CODES`), an English `message` saying why, the `field`
    at fault (`file` unless said otherwise)."""

    def __init__(self, code: str, message: str, field: str = "file"):
        if code not in CODES:
            raise ValueError(f"unknown media refusal code {code!r}")
        super().__init__(message)
        self.code = code
        self.field = field

    @property
    def status(self) -> int:
        return CODES[self.code]


def sniff(first_bytes: bytes) -> str | None:
    """The media type of a file from its first bytes (at least `SNIFF_BYTES` of them when the
    file is that long), or None when it is none of the accepted types."""
    b = bytes(first_bytes[:SNIFF_BYTES])
    if b.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if b.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(b) >= 12 and b[:4] == b"RIFF" and b[8:12] == b"WEBP":
        return "image/webp"
    if len(b) >= 12 and b[4:8] == b"ftyp" and b[8:12] in HEIF_BRANDS:
        return "image/heic"
    return None


def safe_name(name: object, fallback: str = "photo") -> str:
    """The file's own name as a client sent it, made harmless: only the last path part (either
    slash), no control or format characters, no leading dots, at most `NAME_MAX` characters
    (the extension kept); `fallback` when nothing is left."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[\\/]", text)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C").strip().lstrip(".").strip()
    if text in ("", ".", ".."):
        return fallback
    if len(text) > NAME_MAX:
        stem, dot, ext = text.rpartition(".")
        text = (stem[:NAME_MAX - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else text[:NAME_MAX]
    return text


def with_extension(name: str, media_type: str) -> str:
    """`name` ending in the stored type's extension (`IMG_1.heic` stored as JPEG: `IMG_1.jpg`)."""
    ext = TYPES.get(media_type, "bin")
    stem, dot, old = name.rpartition(".")
    if dot and stem and old.lower() in ("jpg", "jpeg", "png", "webp", "heic", "heif", "jfif"):
        name = stem
    return f"{name}.{ext}"


def stage_of(value: object, default: str) -> str:
    """A stage given by a client ("" or None: `default`); `MediaError` bad_stage otherwise."""
    if value is None or value == "":
        return default
    if value not in STAGES:
        raise MediaError("bad_stage", f"stage must be one of {', '.join(STAGES)}, not {str(value)[:40]!r}", "stage")
    return str(value)


def default_stage(case_stage: str) -> str:
    """The stage a photo documents when the uploader does not say: `after` once the department
    works on the case or later (dispatched, handled, checked, closed), `before` until then."""
    return "after" if case_stage in ("dispatched", "handled", "checked", "closed") else "before"


def check_size(size: int, max_bytes: int) -> None:
    if size <= 0:
        raise MediaError("empty", "the file is empty")
    if size > max_bytes:
        raise MediaError("too_large", f"the file is larger than {max_bytes // (1024 * 1024)} MB")


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise MediaError("too_many_pixels", f"the picture is {width}×{height} = {width * height:,} pixels; "
                                            f"at most {max_pixels:,} are accepted")


def check_count(existing: int, adding: int, max_files: int) -> None:
    if existing + adding > max_files:
        raise MediaError("too_many_files", f"a case keeps at most {max_files} files; it has {existing}, "
                                           f"this would add {adding}")


@dataclass(frozen=True)
class Attachment:
    """A stored photo of a case: `id` the SHA-256 (hex) of the stored bytes, the stored `type`,
    its `size` in bytes and pixel size, the `stage` it documents (before / after), who attached
    it (`by`, `role`) and when (`at`, ms), the position and time the camera wrote in its EXIF
    (`lat`, `lon`: None when absent; `taken_at` ms, 0 when absent) and whether a thumbnail exists."""

    id: str
    name: str
    type: str
    size: int
    width: int
    height: int
    stage: str
    by: str
    role: str
    at: int
    lat: float | None = None
    lon: float | None = None
    taken_at: int = 0
    thumb: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Attachment":
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def key(self) -> str:
        return media_key(self.id, self.type)

    @property
    def thumb_key(self) -> str:
        return thumb_key(self.id)


def media_key(digest: str, media_type: str) -> str:
    """Where the stored bytes live in a media store: `ab/abcdef….jpg` (content-addressed)."""
    return f"{digest[:2]}/{digest}.{TYPES.get(media_type, 'bin')}"


def thumb_key(digest: str) -> str:
    return f"{digest[:2]}/{digest}.thumb.jpg"


def attachments_of(case) -> list[Attachment]:
    return [Attachment.from_dict(a) for a in getattr(case, "attachments", ()) or ()]


def find_attachment(case, media_id: str) -> Attachment | None:
    return next((a for a in attachments_of(case) if a.id == media_id), None)


def media_path(case_id: str, media_id: str, thumb: bool = False) -> str:
    return f"/api/v1/cases/{case_id}/media/{media_id}" + ("/thumb" if thumb else "")


def media_url(public_url: str, path: str) -> str:
    """`path` under the portal's public address (`IOC_PUBLIC_URL`), or root-relative when unset."""
    return (public_url or "").rstrip("/") + path


def media_links(case, public_url: str = "") -> list[str]:
    """Links to the stored photos of `case` (oldest first), absolute under `public_url` (e.g.
    `https://ioc.zjg.gov.cn`) or root-relative paths when it is empty."""
    return [media_url(public_url, media_path(case.id, a.id)) for a in attachments_of(case)]


def has_after_photo(case, since_ms: int) -> bool:
    """Whether an `after` photo was attached to `case` at or after `since_ms`."""
    return any(a.stage == "after" and a.at >= since_ms for a in attachments_of(case))
