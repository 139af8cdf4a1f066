"""What a file is and what it may be called (ioc.domain.media)."""

from __future__ import annotations

import pytest

from ioc.domain.cases import Case
from ioc.domain.media import (Attachment, MediaError, check_count, check_pixels, check_size, default_stage, media_key,
                              media_links, safe_name, sniff, stage_of, thumb_key, with_extension)


@pytest.mark.parametrize("head, kind", [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic"),
    (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00", "image/heic"),
])
def test_the_type_is_read_from_the_first_bytes(head, kind):
    assert sniff(head) == kind


@pytest.mark.parametrize("head", [b"MZ\x90\x00\x03\x00\x00\x00", b"GIF89a", b"%PDF-1.7", b"<svg xmlns=", b"",
                                  b"\x00\x00\x00\x18ftypmp42", b"RIFF\x24\x00\x00\x00WAVEfmt "])
def test_anything_else_is_no_accepted_type(head):
    assert sniff(head) is None


@pytest.mark.parametrize("name, safe", [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\a\\IMG_1.jpg", "IMG_1.jpg"), ("/tmp/x/照片 1.jpg", "照片 1.jpg"),
    ("..", "photo"), ("", "photo"), (None, "photo"), (".htaccess", "htaccess"), ("a\x00b\nc.jpg", "abc.jpg"),
    ("dir/", "photo"),
])
def test_a_name_keeps_only_its_last_part_without_control_characters(name, safe):
    assert safe_name(name) == safe


def test_a_long_name_is_cut_keeping_its_extension():
    name = safe_name("x" * 500 + ".jpeg")
    assert len(name) == 120 and name.endswith(".jpeg")


def test_a_heic_photo_stored_as_jpeg_is_named_for_it():
    assert with_extension("IMG_0001.HEIC", "image/jpeg") == "IMG_0001.jpg"
    assert with_extension("scan", "image/png") == "scan.png"


def test_the_default_stage_follows_the_case():
    assert [default_stage(s) for s in ("reported", "accepted", "verified", "dispatched", "handled")] == \
        ["before", "before", "before", "after", "after"]


def test_a_stage_is_before_after_or_the_default():
    assert stage_of("", "after") == "after" and stage_of("before", "after") == "before"
    with pytest.raises(MediaError) as refused:
        stage_of("during", "before")
    assert (refused.value.code, refused.value.field) == ("bad_stage", "stage")


@pytest.mark.parametrize("size, code", [(0, "empty"), (15 * 1024 * 1024 + 1, "too_large")])
def test_the_size_limits(size, code):
    with pytest.raises(MediaError) as refused:
        check_size(size, 15 * 1024 * 1024)
    assert refused.value.code == code and refused.value.status == (413 if code == "too_large" else 400)


def test_the_pixel_and_file_count_limits():
    check_pixels(4000, 3000, 12_000_000)
    with pytest.raises(MediaError, match="too_many|pixels"):
        check_pixels(4001, 3000, 12_000_000)
    check_count(29, 1, 30)
    with pytest.raises(MediaError) as refused:
        check_count(30, 1, 30)
    assert refused.value.code == "too_many_files"


def test_an_unknown_code_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown"):
        MediaError("nope", "x")


def test_stored_files_live_under_their_content_hash():
    digest = "ab" + "c" * 62
    assert media_key(digest, "image/jpeg") == f"ab/{digest}.jpg" and thumb_key(digest) == f"ab/{digest}.thumb.jpg"


def test_media_links_are_root_relative_or_under_the_public_url():
    a = Attachment("f" * 64, "p.jpg", "image/jpeg", 1, 1, 1, "before", "x", "inspector", 1)
    case = Case("ZJG-1", "10105", 31.8, 120.5, "yangshe", "hotline", 1, attachments=(a.to_dict(),))
    assert media_links(case) == [f"/api/v1/cases/ZJG-1/media/{'f' * 64}"]
    assert media_links(case, "https://ioc.zjg.gov.cn/") == [f"https://ioc.zjg.gov.cn/api/v1/cases/ZJG-1/media/{'f' * 64}"]
