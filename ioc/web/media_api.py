"""`/api/v1/cases/<id>/media…`: a case's photos, uploaded and served.

- `POST /api/v1/cases/<id>/media` (multipart: `file`, repeatable; `stage` before/after;
  `lat`, `lon` of the phone when the photo carries no position) -> 201
  `{"case_id", "version", "media": [...]}`. Refused: 400 `{error, message, field, code}`
  (`ioc.domain.media.CODES`), 413 `too_large` (by `Content-Length` before the body is read, or
  as soon as one file passes `IOC_MEDIA_MAX_MB` while it streams in), 403 a role that may not
  attach, 404 a case the principal may not see, 409 when the case kept changing, 503 when the
  media store is unreachable (nothing recorded).
- `GET /api/v1/cases/<id>/media`: the case's photos with their links.
- `GET /api/v1/cases/<id>/media/<media_id>` and `…/thumb`: the stored bytes, with their type,
  `Content-Disposition: inline` (RFC 5987 `filename*`), `Cache-Control: private, max-age=3600`
  and `X-Content-Type-Options: nosniff`.

Reads follow `ioc.domain.cases.visible_to` (a handler of another department, an operator, gets
404, as for an unknown case; a reporting system sees the photos of the cases it filed); uploads the workflow's `attach` action (inspector, dispatcher, a handler of the
case's department). A POST authenticated by the session cookie must not come from another site
(`ioc.web.sign_in.cross_site_request`): a bearer token is not sent by browsers on their own.
"""

from __future__ import annotations

import tempfile
from urllib.parse import quote

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from ioc.adapters.media_store import MediaStoreError
from ioc.casework.service import CASE_REFUSALS, refusal
from ioc.domain.access import SIGNED_IN
from ioc.domain.media import Attachment, MediaError, attachments_of, media_path, media_url
from ioc.media.service import MAX_FILES_PER_REQUEST

from .auth import api_principal, client_ip
from .services import Services, current_services
from .sign_in import cross_site_request

FORM_OVERHEAD = 256 * 1024  # multipart boundaries, part headers and the small fields around the files
SPOOL = 1024 * 1024  # a file part is kept in memory up to this size, then in a temporary file


class _PartTooLarge(Exception):
    """A file part passed the size limit while it streamed in (not a ValueError: the form
    parser would swallow that)."""


class _CappedSpool(tempfile.SpooledTemporaryFile):
    def __init__(self, limit: int):
        super().__init__(max_size=SPOOL)
        self.limit = limit
        self.written = 0

    def write(self, data):
        self.written += len(data)
        if self.written > self.limit:
            raise _PartTooLarge()
        return super().write(data)


def attachment_json(case_id: str, attachment: Attachment | dict, public_url: str = "") -> dict:
    """An attachment as the API and other systems see it: its fields and its two links."""
    a = attachment if isinstance(attachment, Attachment) else Attachment.from_dict(attachment)
    return {**a.to_dict(), "url": media_url(public_url, media_path(case_id, a.id)),
            "thumb_url": media_url(public_url, media_path(case_id, a.id, thumb=True))}


def _error(status: int, error: str, message: str, **extra):
    return jsonify({"error": error, "message": message, **extra}), status


def _refused_media(e: MediaError):
    return _error(e.status, "too_large" if e.code == "too_large" else "bad_request", str(e), field=e.field, code=e.code)


def _refused_case(e: Exception):
    r = refusal(e)
    return _error(r.status, r.error, r.message, **r.extra(), **({"code": e.code} if getattr(e, "code", "") else {}))


def _too_large(limit: int):
    current_services().media.count_refused("too_large")
    return _error(413, "too_large", f"a file may be at most {limit // (1024 * 1024)} MB", field="file", code="too_large")


def upload(case_id: str):
    p = api_principal("case:attach")  # the roles of the workflow's `attach`; the case's own rules below (404, 400)
    if p.kind in ("user", "kiosk") and cross_site_request():
        return _error(403, "forbidden", "an upload from another site is refused (signed in by cookie)")
    services = current_services()
    media = services.media
    try:  # the role, the case, its stage and room for more: before a byte of the body is read
        media.check_upload(case_id, p)
    except MediaError as e:
        media.count_refused(e.code)
        return _refused_media(e)
    except CASE_REFUSALS as e:
        return _refused_case(e)
    body_limit = media.max_bytes * MAX_FILES_PER_REQUEST + FORM_OVERHEAD
    if request.content_length is not None and request.content_length > body_limit:
        return _too_large(media.max_bytes)
    if request.mimetype != "multipart/form-data":
        return _error(400, "bad_request", "send multipart/form-data with the photos in the field `file`", field="file", code="empty")
    parser = FormDataParser(stream_factory=lambda *args, **kw: _CappedSpool(media.max_bytes), max_form_memory_size=FORM_OVERHEAD,
                            max_content_length=body_limit, max_form_parts=MAX_FILES_PER_REQUEST + 10)
    try:
        _, form, files = parser.parse(request.stream, request.mimetype, request.content_length, request.mimetype_params)
    except (_PartTooLarge, RequestEntityTooLarge):
        return _too_large(media.max_bytes)
    parts = [(f.filename or "", f.stream) for f in files.getlist("file")]
    try:
        case, attached = media.attach_files(case_id, p, parts, form.get("stage", ""), form.get("lat"), form.get("lon"),
                                            client_ip())
    except MediaError as e:
        return _refused_media(e)
    except CASE_REFUSALS as e:
        return _refused_case(e)
    except MediaStoreError as e:
        return _error(503, "unavailable", f"the media store is unavailable; nothing was recorded ({e})")
    finally:
        for f in files.getlist("file"):
            f.close()
    public = services.settings.public_url
    return jsonify({"case_id": case.id, "version": case.version,
                    "media": [attachment_json(case.id, a, public) for a in attached]}), 201


def list_media(case_id: str):
    p = api_principal(SIGNED_IN)  # who may read the case: `visible_to` (else 404)
    services = current_services()
    try:
        case = services.cases.case_for(case_id, p)
    except CASE_REFUSALS as e:
        return _refused_case(e)
    public = services.settings.public_url
    return jsonify({"case_id": case.id, "version": case.version,
                    "media": [attachment_json(case.id, a, public) for a in attachments_of(case)]})


def _serve(case_id: str, media_id: str, thumb: bool):
    p = api_principal(SIGNED_IN)  # who may read the case: `visible_to` (else 404)
    try:
        found = current_services().media.file_for(case_id, media_id, p, thumb=thumb)
    except CASE_REFUSALS as e:
        return _refused_case(e)
    except MediaStoreError as e:
        return _error(503, "unavailable", f"the media store is unavailable ({e})")
    if found is None:
        return _error(404, "not_found", f"case {case_id!r} has no photo {media_id!r}")
    attachment, data, media_type = found
    name = f"thumb-{attachment.name.rsplit('.', 1)[0]}.jpg" if thumb else attachment.name
    response = Response(data, mimetype=media_type)
    response.headers["Content-Disposition"] = content_disposition(name)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.private_cache = True  # ioc.web.security_headers keeps this Cache-Control
    return response


def get_media(case_id: str, media_id: str):
    return _serve(case_id, media_id, thumb=False)


def get_thumb(case_id: str, media_id: str):
    return _serve(case_id, media_id, thumb=True)


def content_disposition(name: str) -> str:
    """`inline` with an ASCII fallback name and the real one as RFC 5987 `filename*`."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name) or "photo"
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


ROUTES = (("/api/v1/cases/<case_id>/media", upload, "POST"), ("/api/v1/cases/<case_id>/media", list_media, "GET"),
          ("/api/v1/cases/<case_id>/media/<media_id>", get_media, "GET"),
          ("/api/v1/cases/<case_id>/media/<media_id>/thumb", get_thumb, "GET"))


def register(server: Flask, services: Services) -> None:
    for rule, view, method in ROUTES:
        server.add_url_rule(rule, endpoint=f"media_{view.__name__}", view_func=view, methods=[method])
