"""The bench's `uploads` scenario (`python -m bench --only uploads`): its photos are phone-like
JPEGs with EXIF GPS, each its own; the ingest's rate is the slope of its counter; the rows carry
their targets; the quick scenario runs end to end through the real web process and writes them.
Timing is never asserted."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from bench import uploads
from bench.model import Measurement
from bench.photos import GPS_IFD, make_photos

PLACES = [(31.8712, 120.5511), (31.9311, 120.6607)]


def _answer(status: int = 201, thumb: bool = True, ms: float = 800.0) -> uploads.Answer:
    body = {"case_id": "C1", "version": 2, "media": [{"id": "a" * 64, "thumb": thumb}]} if status == 201 else \
        {"error": "bad_request", "message": "unsupported_type", "code": "unsupported_type"}
    return uploads.Answer(status, body, ms, ms / 2, sent_bytes=3_000_000)


def _windows(before=20_000.0, during=19_800.0, after=20_100.0) -> uploads.Windows:
    return uploads.Windows(before, during, after, {"before": 30, "during": 45, "after": 30}, {})


def test_the_photos_are_jpegs_of_the_size_asked_with_a_phone_s_exif_position(tmp_path):
    photos = make_photos(tmp_path, 3, PLACES, size=(1200, 900), target=400_000)

    for p in photos:
        assert abs(p.size - 400_000) < 0.15 * 400_000 and p.path.stat().st_size == p.size
        with Image.open(p.path) as im:
            assert im.format == "JPEG" and im.size == (1200, 900)
            exif = im.getexif()
            gps = exif.get_ifd(GPS_IFD)
            assert exif[0x010F] == "HUAWEI" and gps[1] == "N" and gps[3] == "E"
    with Image.open(photos[0].path) as im:
        lat = im.getexif().get_ifd(GPS_IFD)[2]
    assert abs(lat[0] + lat[1] / 60 + lat[2] / 3600 - PLACES[0][0]) < 1e-4


def test_every_photo_has_its_own_pixels_so_none_is_a_duplicate_in_the_store(tmp_path):
    photos = make_photos(tmp_path, 4, PLACES, size=(640, 480), target=100_000)

    pixels = {hashlib.sha256(Image.open(p.path).tobytes()).hexdigest() for p in photos}
    assert len(pixels) == 4


def test_the_ingest_rate_is_the_slope_of_its_counter_even_when_it_moves_once_a_second():
    samples = [(t / 4, 20_000 * int(t / 4)) for t in range(0, 121)]  # flushed once a second at 20,000/s

    rate = uploads.slope(samples, 0.0, 30.0)

    assert abs(rate - 20_000) < 0.03 * 20_000
    assert uploads.slope(samples, 100.0, 100.2) != uploads.slope(samples, 100.0, 100.2)  # too few samples: NaN


def test_each_figure_has_its_target():
    rows = uploads.results([_answer() for _ in range(50)], _windows(), {"bytes_added": 140_000_000, "files_added": 100},
                           {"concurrent": 50, "photo_mb": 3.0, "offered": 20_000}, photo_bytes=150_000_000).measurements

    by_name = {m.name: m for m in rows}
    assert all(isinstance(m, Measurement) and m.scenario == "uploads" for m in rows)
    assert list(by_name) == ["upload p50 (50 at once, 3.0 MB each)", "upload p95 (50 at once, 3.0 MB each)",
                             "upload p99 (50 at once, 3.0 MB each)", "upload server time, longest", "uploads refused or failed",
                             "thumbnails made",
                             "ingest during the uploads, ratio to the windows without", "ingest during the uploads",
                             "ingest without uploads (before and after)", "folder store: bytes written"]
    targets = {name: m.target for name, m in by_name.items() if m.target}
    assert targets == {"upload p95 (50 at once, 3.0 MB each)": "≤ 15 s",
                       "upload server time, longest": "≤ 30 s (worker timeout)",
                       "uploads refused or failed": "0", "thumbnails made": "= uploads stored (50)",
                       "ingest during the uploads, ratio to the windows without": "≥ 0.95",
                       "folder store: bytes written": "≤ 1.1 × the photos' bytes (150 MB)"}
    assert by_name["ingest during the uploads, ratio to the windows without"].value == pytest.approx(19_800 / 20_050, abs=1e-3)
    assert {"server_p50_s", "server_p95_s", "samples"} <= set(by_name["upload p95 (50 at once, 3.0 MB each)"].detail)


def test_a_refused_upload_fails_its_rows_and_a_missing_thumbnail_fails_the_thumbnails():
    answers = [_answer() for _ in range(48)] + [_answer(400), _answer(thumb=False)]

    rows = {m.name: m for m in uploads.results(answers, _windows(), {"bytes_added": 1}, {"concurrent": 50, "photo_mb": 3.0},
                                               photo_bytes=150_000_000).measurements}

    refused = rows["uploads refused or failed"]
    assert (refused.value, refused.passed) == (1, False) and "unsupported_type" in refused.detail["refusals"][0]
    assert rows["upload p95 (50 at once, 3.0 MB each)"].passed is False
    assert (rows["thumbnails made"].value, rows["thumbnails made"].passed) == (48, False)


def test_the_ingest_slowed_by_the_uploads_fails_its_ratio():
    rows = {m.name: m for m in uploads.results([_answer()], _windows(during=15_000.0), {"bytes_added": 1},
                                               {"concurrent": 1, "photo_mb": 3.0}, photo_bytes=3_000_000).measurements}

    assert rows["ingest during the uploads, ratio to the windows without"].passed is False


def test_the_folder_store_s_bytes_are_counted_under_its_folder(tmp_path):
    (tmp_path / "ab").mkdir()
    (tmp_path / "ab" / "x").write_bytes(b"1" * 1000)
    (tmp_path / "y").write_bytes(b"2" * 24)

    assert uploads.folder_usage(tmp_path) == (2, 1024)
    assert uploads.folder_usage(tmp_path / "missing") == (0, 0)


@pytest.mark.integration
@pytest.mark.slow
def test_the_quick_scenario_uploads_through_the_web_process_and_reports_every_figure(quick_bench):
    pytest.importorskip("ioc.media.service", reason="the media route (piece media) is not merged")

    rows, page = quick_bench("uploads")

    assert rows["uploads refused or failed"]["value"] == 0
    assert rows["thumbnails made"]["value"] == rows["upload p95 (6 at once, 0.5 MB each)"]["detail"]["samples"] == 12
    for name in ("upload p95 (6 at once, 0.5 MB each)", "upload server time, longest",
                 "ingest during the uploads, ratio to the windows without", "folder store: bytes written"):
        assert rows[name]["target"] and rows[name]["passed"] in (True, False) and rows[name]["value"] > 0
    assert "| uploads | upload p95 (6 at once, 0.5 MB each) |" in page
