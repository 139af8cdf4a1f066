"""What the photo panel shows (ioc.views.media, layouts.media) and the timeline's words for the
field work's actions (ioc.views.cases)."""

from __future__ import annotations

from ioc.adapters.case_store import CaseNotFound
from ioc.domain.cases import Case, CaseActionError, CaseEvent, CasePermissionError
from ioc.domain.media import Attachment, MediaError
from ioc.views.cases import action_error_text, timeline_rows
from ioc.views.media import gallery, media_refusal_text
from layouts.media import media_panel

T0 = 1_796_090_400_000  # 2026-12-01 10:00 China time


def photo(digest: str, stage: str, taken_at: int = 0) -> dict:
    return Attachment(digest, f"{stage}.jpg", "image/jpeg", 1, 4, 3, stage, "h-water", "handler", T0 + 60_000, taken_at=taken_at).to_dict()


CASE = Case("ZJG-1", "10101", 31.8, 120.5, "yangshe", "hotline", T0, stage="dispatched",
            attachments=(photo("a" * 64, "before", T0), photo("b" * 64, "after"), photo("c" * 64, "after")))


def test_the_gallery_puts_before_and_after_side_by_side_oldest_first():
    columns = gallery(CASE, "zh", {"h-water": "水务 王工"})
    assert [p["id"][0] for p in columns["before"]] == ["a"] and [p["id"][0] for p in columns["after"]] == ["b", "c"]
    first = columns["before"][0]
    assert first["href"] == f"/api/v1/cases/ZJG-1/media/{'a' * 64}" and first["thumb"] == first["href"] + "/thumb"
    assert first["caption"] == "拍摄于 2026-12-01 10:00 · 水务 王工"
    assert columns["after"][0]["caption"] == "2026-12-01 10:01 · 水务 王工"
    assert gallery(CASE, "zh")["after"][0]["caption"].endswith("· h-water")


def test_the_panel_offers_the_upload_only_when_asked_with_the_stage_of_the_case():
    panel = media_panel(CASE, "en", "x", can_upload=False)
    row = panel.children[2]
    assert row.id == "x-upload-row" and row.style == {"display": "none"}
    assert media_panel(CASE, "en", "x", can_upload=True).children[2].style is None
    assert row.children[0].value == "after" and row.children[1].accept == "image/*"


def test_each_upload_refusal_is_worded_in_the_page_language():
    assert media_refusal_text(MediaError("too_large", "x"), "zh", max_mb=15) == "未能上传：文件超过 15 MB"
    assert media_refusal_text(MediaError("too_many_pixels", "x"), "en") == \
        "Not uploaded: the picture has too many pixels (at most 40 megapixels)"
    assert media_refusal_text(CaseActionError("x", "file", "too_many_files"), "zh", per_case=30) == "未能上传：每个案件最多保存 30 个文件"
    assert media_refusal_text(CasePermissionError("x"), "zh") == "未能上传：您的角色或部门不能为此案件上传照片"
    assert media_refusal_text(CaseNotFound("x"), "en") == "Not uploaded: no such case, or not yours to see"


def test_a_check_in_too_far_names_the_distance_and_the_radius():
    error = CaseActionError("far", "lat", "too_far", {"distance": 1112, "radius": 300})
    assert action_error_text(error, "zh") == "未能办理：您距案件位置约 1112 米，超出到场签到范围（300 米）"
    assert action_error_text(CaseActionError("x", "file", "after_photo_required"), "en") == \
        "Not done: upload at least one after photo before reporting the case handled"


def test_the_timeline_says_how_many_photos_of_which_stage_and_how_far_the_check_in_was():
    events = [CaseEvent("ZJG-1", "attach", "h-water", "handler", "dispatched", "dispatched", T0, "",
                        {"media": [{"id": "a", "stage": "after"}, {"id": "b", "stage": "after"}]}),
              CaseEvent("ZJG-1", "arrive", "h-water", "handler", "dispatched", "dispatched", T0 + 1, "", {"distance_m": 35.4})]
    rows = timeline_rows(events, "zh")
    assert [(r["action"], r["note"]) for r in rows] == [("上传照片", "2 张照片（处置后）"), ("到场签到", "距案件 35 米")]
    assert timeline_rows(events, "en")[0]["note"] == "2 photo(s) (After)"
