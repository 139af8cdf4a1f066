"""The case page's photo panel (issue 16): the gallery and the upload row filled by the case's
load, and photos uploaded through the page's dcc.Upload, refusals worded in the page language."""

from __future__ import annotations

import base64

import pytest
from dash import no_update

from callbacks import cases
from ioc.domain.access import Principal
from tests.media_samples import WINDOWS_EXE, phone_jpeg

YANGSHE = (31.872, 120.556)
DISPATCHER = Principal("setup-dispatcher", frozenset({"dispatcher"}))
INSPECTOR = Principal("setup-inspector", frozenset({"inspector"}))
OUT = {o.component_id + "." + o.component_property: i for i, o in enumerate(cases.LOAD_OUTPUTS)}


@pytest.fixture
def case_id(portal_app):
    """A fresh case in 杨舍, dispatched to water affairs."""
    service = portal_app.server.extensions["ioc_services"].cases
    case, _ = service.report(class_code="10101", lat=YANGSHE[0], lon=YANGSHE[1], source="hotline", actor="hotline")
    for action, who in (("accept", DISPATCHER), ("verify", INSPECTOR), ("dispatch", DISPATCHER)):
        service.act(case.id, action, who)
    return case.id


def data_url(content: bytes, kind: str = "image/jpeg") -> str:
    return f"data:{kind};base64,{base64.b64encode(content).decode()}"


def texts(component) -> str:
    """Every string inside a Dash component tree."""
    if isinstance(component, str):
        return component
    if isinstance(component, (list, tuple)):
        return " ".join(texts(c) for c in component)
    children = getattr(component, "children", None)
    return texts(children) if children is not None else ""


def test_a_handler_of_the_department_uploads_an_after_photo_and_the_gallery_shows_it(signed_in, case_id):
    with signed_in("handler", department="water_affairs", triggered="case-upload.contents"):
        message, changed = cases.upload([data_url(phone_jpeg())], ["现场.jpg"], case_id, "after", 0, "zh")
    assert (message, changed) == ("已上传 1 张照片", 1)
    with signed_in("handler", department="water_affairs", triggered="case-id.data"):
        outputs = cases.load_case(case_id, 0, 0, 0, "zh")
    gallery = outputs[OUT["case-gallery.children"]]
    after = gallery[1]
    assert "处置后" in texts(after) and "暂无照片" in texts(gallery[0])
    link = after.children[1].children[0].children[0]
    assert link.href.startswith(f"/api/v1/cases/{case_id}/media/") and link.children.src == link.href + "/thumb"
    assert outputs[OUT["case-upload-row.style"]] == cases.SHOWN and outputs[OUT["case-upload-stage.value"]] == "after"


def test_the_upload_row_is_hidden_from_a_leader(signed_in, case_id):
    with signed_in("leader", triggered="case-id.data"):
        outputs = cases.load_case(case_id, 0, 0, 0, "zh")
    assert outputs[OUT["case-upload-row.style"]] == cases.HIDDEN


@pytest.mark.parametrize("lang, words", [("zh", "未能上传：只接受 JPEG、PNG、WebP、HEIC 格式的照片"),
                                         ("en", "Not uploaded: only JPEG, PNG, WebP and HEIC photos are accepted")])
def test_a_file_that_is_no_photo_is_refused_in_the_page_language(signed_in, case_id, lang, words):
    with signed_in("inspector", triggered="case-upload.contents", lang=lang):
        message, changed = cases.upload([data_url(WINDOWS_EXE)], ["photo.jpg"], case_id, "before", 0, lang)
    assert (message, changed) == (words, no_update)


def test_a_file_over_the_limit_is_refused_before_it_is_decoded(signed_in, case_id, portal_app):
    limit = portal_app.server.extensions["ioc_services"].settings.media_max_mb
    huge = "data:image/jpeg;base64," + "A" * (limit * 1024 * 1024 * 4 // 3 + 100)
    with signed_in("inspector", triggered="case-upload.contents"):
        message, _ = cases.upload([huge], ["big.jpg"], case_id, "before", 0, "zh")
    assert message == f"未能上传：文件超过 {limit} MB"


def test_a_handler_of_another_department_cannot_upload(signed_in, case_id):
    with signed_in("handler", department="street_lighting", triggered="case-upload.contents"):
        message, _ = cases.upload([data_url(phone_jpeg())], ["a.jpg"], case_id, "after", 0, "zh")
    assert message == "未能上传：案件不存在或无权查看"
