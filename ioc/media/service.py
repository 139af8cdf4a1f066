"""Attaching photos to a case: one path for the API and the portal.

`MediaService.attach(case_id, principal, filename, stream, stage, lat, lon, ip)` (or
`attach_files` with several files) does, in this order, so that a refusal costs as little as
possible and nothing is half-stored:

1. who may attach (an inspector, a dispatcher, a handler of the case's department: the case
   workflow's `attach` action) and the case (404 when the principal may not see it), open, with
   room for more files (`IOC_MEDIA_PER_CASE`); the stage (before / after; default by the case's stage);
2. each file read with a cap: more than `IOC_MEDIA_MAX_MB` is refused (`too_large`) as soon as
   the cap is passed, never read whole; the type sniffed from the bytes; decoded with the pixel
   limit; the position and time read from EXIF; the stored copy stripped of metadata, and its
   thumbnail (`ioc.media.images`);
3. the copy and the thumbnail stored under the copy's SHA-256 (`ioc.adapters.media_store`:
   a file lands whole or not at all; the same content is stored once);
4. the case's `attach` transition through the case service (version-checked by the store's
   script), retried a few times when another action changed the case meanwhile. Files the case
   already holds are left out: the same photo twice on one case is kept once.

Refusals: `MediaError` (`code`, `field`), and the case service's (`CASE_REFUSALS`); a store that
fails raises `MediaStoreError`. Each upload is counted (`media:stored`, `media:refused`,
`media_refused:<code>` in `ioc:metrics`).
"""

from __future__ import annotations

import hashlib
import logging
import time

from ioc.adapters import counters
from ioc.adapters.case_store import CaseConflict
from ioc.casework.reports import CaseInputError
from ioc.casework.service import CaseService
from ioc.domain.access import Principal
from ioc.domain.cases import TRANSITIONS, Case, CaseActionError, check_may_take, may_attach
from ioc.domain.media import (Attachment, MediaError, check_size, default_stage, media_key, safe_name, stage_of, thumb_key,
                              with_extension)

from .images import prepare

log = logging.getLogger("ioc.media")

CAS_ATTEMPTS = 5
CHUNK = 64 * 1024
MAX_FILES_PER_REQUEST = 10


def read_capped(stream, max_bytes: int) -> bytes:
    """The whole of `stream` (a file-like object or bytes), refused as `too_large` as soon as it
    passes `max_bytes` (at most one chunk more is read), `empty` when it holds nothing."""
    if isinstance(stream, (bytes, bytearray, memoryview)):
        data = bytes(stream)
        check_size(len(data), max_bytes)
        return data
    chunks, size = [], 0
    while True:
        chunk = stream.read(min(CHUNK, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            check_size(size, max_bytes)
    check_size(size, max_bytes)
    return b"".join(chunks)


class MediaService:
    def __init__(self, store, cases: CaseService, settings):
        self.store = store
        self.cases = cases
        self.max_bytes = settings.media_max_bytes
        self.max_pixels = settings.media_max_pixels
        self.per_case = settings.media_per_case

    # ---- uploads -------------------------------------------------------------------------------

    def attach(self, case_id: str, principal: Principal, filename: str, stream, stage: str = "", lat=None, lon=None,
               ip: str = "") -> tuple[Case, list[Attachment]]:
        """One file (see `attach_files`)."""
        return self.attach_files(case_id, principal, [(filename, stream)], stage, lat, lon, ip)

    def attach_files(self, case_id: str, principal: Principal, files, stage: str = "", lat=None, lon=None,
                     ip: str = "") -> tuple[Case, list[Attachment]]:
        """Check, store and record `files` ((name, stream or bytes) pairs) on the case; returns the
        case as stored and the attachments of these files (those it already held included)."""
        try:
            case, attachments = self._attach(case_id, principal, list(files), stage, lat, lon, ip)
        except MediaError as e:
            self.count_refused(e.code)
            raise
        except CaseActionError as e:
            if e.code == "too_many_files":
                self.count_refused(e.code)
            raise
        counters.add(self.cases.store.redis, "media:stored", len(attachments))
        return case, attachments

    def count_refused(self, code: str) -> None:
        """Count a refused upload (also for refusals the route makes before the service: 413)."""
        pipe = self.cases.store.redis.pipeline(transaction=False)
        counters.add_in(pipe, {"media:refused": 1, f"media_refused:{code}": 1})
        pipe.execute()

    def check_upload(self, case_id: str, principal: Principal) -> Case:
        """The checks that need no file: the principal's role may attach (`CasePermissionError`),
        the case is one it may see (`CaseNotFound`), open, with room for another file
        (`MediaError` too_many_files). The HTTP route runs them before it reads the body."""
        check_may_take("attach", principal)
        case = self.cases.case_for(case_id, principal)
        if not may_attach(case, principal):
            raise CaseActionError(f"a case in stage {case.stage!r} takes no more photos", code="case_ended")
        if len(case.attachments) >= self.per_case:
            raise MediaError("too_many_files", f"a case keeps at most {self.per_case} files; it has {len(case.attachments)}")
        return case

    def _attach(self, case_id, principal, files, stage, lat, lon, ip):
        case = self.check_upload(case_id, principal)
        if not files:
            raise MediaError("empty", "send at least one file (multipart field `file`)")
        if len(files) > MAX_FILES_PER_REQUEST:
            raise MediaError("too_many_files", f"at most {MAX_FILES_PER_REQUEST} files in one upload")
        stage = stage_of(stage, default_stage(case.stage))
        lat, lon = _position(lat, "lat", 90), _position(lon, "lon", 180)
        role = next(r for r in sorted(principal.roles) if r in TRANSITIONS["attach"].roles)
        now = int(time.time() * 1000)
        attachments: dict[str, Attachment] = {}
        for name, stream in files:
            data = read_capped(stream, self.max_bytes)
            photo = prepare(data, self.max_pixels)
            digest = hashlib.sha256(photo.data).hexdigest()
            self.store.put(media_key(digest, photo.type), photo.data, photo.type)
            self.store.put(thumb_key(digest), photo.thumb, "image/jpeg")
            has_exif_position = photo.lat is not None and photo.lon is not None
            attachments.setdefault(digest, Attachment(
                id=digest, name=with_extension(safe_name(name), photo.type), type=photo.type, size=len(photo.data),
                width=photo.width, height=photo.height, stage=stage, by=principal.name, role=role, at=now,
                lat=photo.lat if has_exif_position else lat, lon=photo.lon if has_exif_position else lon,
                taken_at=photo.taken_at, thumb=True))
        new = tuple(a.to_dict() for a in attachments.values())
        for attempt in range(CAS_ATTEMPTS):  # uploads race with the case's other actions
            try:
                case = self.cases.act(case_id, "attach", principal, attachments=new, max_attachments=self.per_case, ip=ip)
                break
            except CaseConflict:
                if attempt == CAS_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        held = {a["id"]: a for a in case.attachments}
        return case, [Attachment.from_dict(held.get(a.id, a.to_dict())) for a in attachments.values()]

    # ---- reads ---------------------------------------------------------------------------------

    def file_for(self, case_id: str, media_id: str, principal: Principal | None, thumb: bool = False):
        """(attachment, bytes, type) of a case's photo (or its thumbnail) for a principal who may
        see the case; `CaseNotFound` otherwise, and None when the case holds no such photo."""
        case = self.cases.case_for(case_id, principal)
        attachment = next((Attachment.from_dict(a) for a in case.attachments if a.get("id") == media_id), None)
        if attachment is None:
            return None
        found = self.store.get(attachment.thumb_key if thumb else attachment.key)
        if found is None:
            log.warning("case %s: photo %s is recorded but missing from %r", case.id, media_id, self.store)
            return None
        data, media_type = found
        return attachment, data, media_type


def _position(value, field: str, limit: float) -> float | None:
    """A position the uploader's phone gave (a form field: text or a number), or None."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not -limit <= number <= limit:
        raise CaseInputError(field, f"{field} must be a number between {-limit:g} and {limit:g}")
    return number
