"""What the photo panel shows (pure): a case's photos as before | after columns of thumbnails
with their captions, and an upload's refusal in the page language."""

from __future__ import annotations

from collections.abc import Mapping

from ioc.domain.cases import Case
from ioc.domain.clock import local_text
from ioc.domain.media import CODES, STAGES, attachments_of, media_path
from ioc.i18n import t


def gallery(case: Case | None, lang: str = "zh", people: Mapping[str, str] | None = None) -> dict[str, list[dict]]:
    """stage -> the photos of that stage, oldest first: {id, thumb (path), href (the original),
    name, caption (`拍摄于 …` or `上传 …` and who)}."""
    people = people or {}
    columns: dict[str, list[dict]] = {stage: [] for stage in STAGES}
    for a in attachments_of(case) if case is not None else ():
        when = f"{t('media_taken', lang)} {local_text(a.taken_at)}" if a.taken_at else local_text(a.at)
        columns.setdefault(a.stage, []).append({
            "id": a.id, "name": a.name, "href": media_path(case.id, a.id),
            "thumb": media_path(case.id, a.id, thumb=a.thumb) if a.thumb else media_path(case.id, a.id),
            "caption": f"{when} · {people.get(a.by, a.by.removeprefix('token:'))}"})
    return columns


def media_refusal_text(error: Exception, lang: str = "zh", max_mb: int = 15, max_pixels: int = 40_000_000,
                       per_case: int = 30) -> str:
    """A refused upload in the page language: `未能上传：<why>` by the refusal's code (a
    `MediaError`, a case refusal's), else by its kind (permission, unknown case)."""
    code = getattr(error, "code", "")
    kind = type(error).__name__
    if code in CODES:
        key = f"media_err_{code}"
    elif kind in ("CasePermissionError", "AccessDenied"):
        key = "media_err_permission"
    elif kind == "CaseNotFound":
        key = "media_err_not_found"
    elif kind == "MediaStoreError":
        key = "media_err_store"
    elif code in ("case_ended", "no_files"):
        key = "case_err_stage" if code == "case_ended" else "media_err_empty"
    else:
        key = "media_err_other"
    words = t(key, lang).format(mb=max_mb, mp=round(max_pixels / 1_000_000), n=per_case)
    return f"{t('media_failed', lang)}{'：' if lang == 'zh' else ': '}{words}"
