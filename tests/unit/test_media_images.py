"""The image work of an upload (ioc.media.images): EXIF read, the stored copy stripped, bombs
and broken files refused, thumbnails."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ioc.domain.media import MediaError
from ioc.media.images import THUMB_PX, prepare, stripped_jpeg
from tests.media_samples import (GPS_LAT, GPS_LON, OWNER, SERIAL, TAKEN_AT_MS, WINDOWS_EXE, image_bytes, noisy_jpeg,
                                 phone_jpeg, png_claiming, truncated_jpeg)

LIMIT = 40_000_000


def refusal(data: bytes, limit: int = LIMIT) -> str:
    with pytest.raises(MediaError) as refused:
        prepare(data, limit)
    return refused.value.code


def test_the_position_and_time_are_read_from_exif():
    photo = prepare(phone_jpeg(), LIMIT)
    assert photo.lat == pytest.approx(GPS_LAT, abs=1e-6) and photo.lon == pytest.approx(GPS_LON, abs=1e-6)
    assert photo.taken_at == TAKEN_AT_MS


def test_a_time_without_offset_is_china_time_and_another_offset_is_honoured():
    assert prepare(phone_jpeg(offset=None), LIMIT).taken_at == TAKEN_AT_MS
    assert prepare(phone_jpeg(offset="+00:00"), LIMIT).taken_at == TAKEN_AT_MS + 8 * 3_600_000


def test_southern_and_western_references_make_negative_degrees():
    im = Image.new("RGB", (8, 8))
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "S", 2: (33.0, 30.0, 0.0), 3: "W", 4: (70.0, 15.0, 0.0)})
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif.tobytes())
    photo = prepare(out.getvalue(), LIMIT)
    assert (photo.lat, photo.lon) == (-33.5, -70.25)


def test_a_photo_without_exif_has_no_position_or_time():
    photo = prepare(phone_jpeg(gps=False, taken=None, offset=None), LIMIT)
    assert (photo.lat, photo.lon, photo.taken_at) == (None, None, 0)


def test_the_stored_copy_carries_no_metadata_at_all():
    original = phone_jpeg()
    assert SERIAL in original and OWNER.encode() in original
    stored = prepare(original, LIMIT).data
    assert SERIAL not in stored and OWNER.encode() not in stored and b"Exif" not in stored and b"PhoneMaker" not in stored
    again = Image.open(io.BytesIO(stored))
    assert dict(again.getexif()) == {} and "comment" not in again.info and "icc_profile" not in again.info


def pixels(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(body) + 2).to_bytes(2, "big") + body


def test_an_upright_jpeg_is_stored_as_the_phone_coded_it_without_a_second_generation():
    original = phone_jpeg(size=(800, 600))
    photo = prepare(original, LIMIT)
    assert pixels(photo.data) == pixels(original)  # the same decoded pixels: not re-encoded
    assert len(photo.data) < len(original) and (photo.width, photo.height) == (800, 600)
    assert SERIAL not in photo.data and OWNER.encode() not in photo.data and b"Exif" not in photo.data


def test_metadata_between_the_scans_of_a_progressive_jpeg_and_data_after_its_end_are_cut():
    out = io.BytesIO()
    Image.open(io.BytesIO(noisy_jpeg((320, 240)))).save(out, "JPEG", progressive=True, quality=90)
    coded = out.getvalue()
    second_scan = coded.find(b"\xff\xda", coded.find(b"\xff\xda") + 2)  # 0xFF 0xDA cannot occur inside a scan
    hidden = segment(0xFE, b"owner " + SERIAL) + segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + SERIAL)
    original = coded[:second_scan] + hidden + coded[second_scan:] + b"appended by the phone " + SERIAL
    photo = prepare(original, LIMIT)
    assert SERIAL not in photo.data and photo.data.endswith(b"\xff\xd9")
    assert pixels(photo.data) == pixels(coded)


def test_the_segments_a_decoder_needs_are_kept_and_a_broken_structure_is_not_stripped():
    coded = noisy_jpeg((64, 48))
    stripped = stripped_jpeg(coded[:2] + segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01") + coded[2:])
    assert b"Adobe" in stripped and pixels(stripped) == pixels(coded)
    assert stripped_jpeg(coded[:-2]) is None  # no end-of-image marker
    assert stripped_jpeg(coded[:2] + b"\xff\xe1\xff\xff" + coded[2:]) is None  # a length past the end


def test_a_cmyk_jpeg_is_re_encoded_as_rgb():
    out = io.BytesIO()
    Image.new("CMYK", (64, 48), (0, 200, 200, 0)).save(out, "JPEG")
    photo = prepare(out.getvalue(), LIMIT)
    assert Image.open(io.BytesIO(photo.data)).mode == "RGB"


def test_the_orientation_is_applied_to_the_stored_copy():
    photo = prepare(phone_jpeg(size=(640, 480), orientation=6), LIMIT)  # 6: rotate 90° clockwise to view
    assert (photo.width, photo.height) == (480, 640)
    assert Image.open(io.BytesIO(photo.data)).size == (480, 640)


def test_the_thumbnail_is_a_small_jpeg():
    photo = prepare(phone_jpeg(size=(1600, 1200)), LIMIT)
    thumb = Image.open(io.BytesIO(photo.thumb))
    assert thumb.format == "JPEG" and max(thumb.size) == THUMB_PX


@pytest.mark.parametrize("fmt, kind", [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_png_and_webp_are_stored_in_their_own_type(fmt, kind):
    photo = prepare(image_bytes(fmt), LIMIT)
    assert photo.type == kind and Image.open(io.BytesIO(photo.data)).format == fmt


def test_a_transparent_png_keeps_its_alpha_and_gets_a_white_backed_thumbnail():
    photo = prepare(image_bytes("PNG", mode="RGBA"), LIMIT)
    assert Image.open(io.BytesIO(photo.data)).mode == "RGBA" and Image.open(io.BytesIO(photo.thumb)).mode == "RGB"


def test_a_heic_photo_is_accepted_and_stored_as_jpeg():
    heic = image_bytes("HEIF", size=(96, 64), quality=70)
    assert heic[4:12] == b"ftypheic"
    photo = prepare(heic, LIMIT)
    assert photo.type == "image/jpeg" and (photo.width, photo.height) == (96, 64)


def test_a_picture_over_the_pixel_limit_is_refused_from_its_header():
    assert refusal(png_claiming(10_000, 10_000)) == "too_many_pixels"  # 100 MP: over our 40 MP, under Pillow's bomb error


def test_a_giant_bomb_is_refused_as_too_many_pixels_too():
    assert refusal(png_claiming(60_000, 60_000)) == "too_many_pixels"  # past Pillow's own DecompressionBombError


def test_the_pixel_limit_is_ours_not_pillows():
    assert refusal(image_bytes("PNG", size=(100, 100)), limit=9_999) == "too_many_pixels"


def test_a_truncated_jpeg_is_unreadable():
    assert refusal(truncated_jpeg()) == "unreadable"


def test_a_jpeg_signature_on_garbage_is_unreadable():
    assert refusal(b"\xff\xd8\xff\xe0" + b"\x00" * 500) == "unreadable"


@pytest.mark.parametrize("data", [WINDOWS_EXE, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                                  b"%PDF-1.4\n"])
def test_anything_but_a_photo_is_an_unsupported_type(data):
    assert refusal(data) == "unsupported_type"


def test_nothing_is_empty():
    assert refusal(b"") == "empty"
