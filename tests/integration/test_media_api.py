"""`/api/v1/cases/<id>/media…` over HTTP (the Flask app, a real Redis, the folder store): every
bad file refused with its reason and nothing stored, access by who may read the case, the
headers photos are served with, the on-site check-in through the actions route, the photo links
in the case JSON, the dispatch message and Open311."""

from __future__ import annotations

import hashlib
import io

import orjson
import pytest

from ioc.adapters import counters
from ioc.adapters import redis_keys as keys
from ioc.adapters.user_store import Actor
from tests.conftest import TEST_PASSWORD
from tests.media_samples import (SERIAL, WINDOWS_EXE, image_bytes, noisy_jpeg, phone_jpeg, png_claiming,
                                 truncated_jpeg)

YANGSHE = {"lat": 31.872, "lon": 120.556}
ADMIN = Actor("test", "admin")
MAX_MB = 1


@pytest.fixture
def portal(settings, redis_client):
    """The web app on the test Redis with photos of at most 1 MB and a public address."""
    from ioc.web.app import create_app

    app = create_app(settings.replace(media_max_mb=MAX_MB, public_url="https://ioc.zjg.gov.cn"))
    client = app.server.test_client()
    client.app = app
    client.users = app.server.extensions["ioc_users"]
    client.media = app.server.extensions["ioc_services"].media
    return client


@pytest.fixture
def tokens(portal):
    made = {}
    for name, roles, department in (("dispatcher", ["dispatcher"], ""), ("inspector", ["inspector"], ""),
                                    ("leader", ["leader"], ""), ("operator", ["operator"], ""),
                                    ("water", ["handler"], "water_affairs"), ("lights", ["handler"], "street_lighting"),
                                    ("hotline", ["reporter"], "")):
        _, secret = portal.users.create_token(name, roles, ADMIN, department=department)
        made[name] = {"Authorization": f"Bearer {secret}"}
    return made


def new_case(portal, tokens, who="inspector") -> str:
    answer = portal.post("/api/v1/cases", json={"category": "10101", **YANGSHE, "description": "井盖丢失"}, headers=tokens[who])
    return answer.get_json()["id"]


def act(portal, tokens, who, case_id, action, **params):
    return portal.post(f"/api/v1/cases/{case_id}/actions", json={"action": action, **params}, headers=tokens[who])


def dispatched(portal, tokens, acknowledged=True) -> str:
    case_id = new_case(portal, tokens)
    for who, action in (("dispatcher", "accept"), ("inspector", "verify"), ("dispatcher", "dispatch")) + \
            ((("water", "acknowledge"),) if acknowledged else ()):
        assert act(portal, tokens, who, case_id, action).status_code == 200, action
    return case_id


def upload(portal, headers, case_id, *files, stage="", **fields):
    data = {"file": [(io.BytesIO(content), name) for name, content in files], **({"stage": stage} if stage else {}), **fields}
    return portal.post(f"/api/v1/cases/{case_id}/media", data=data, headers=headers, content_type="multipart/form-data")


def stored_files(portal) -> list:
    folder = portal.media.store.folder
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def case_of(portal, tokens, case_id) -> dict:
    return portal.get(f"/api/v1/cases/{case_id}", headers=tokens["leader"]).get_json()


# ---- uploads --------------------------------------------------------------------------------------

def test_an_inspector_uploads_a_photo_and_the_case_lists_it_with_its_links(portal, tokens):
    case_id = new_case(portal, tokens)
    answer = upload(portal, tokens["inspector"], case_id, ("IMG_0001.jpg", phone_jpeg()))
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    [m] = body["media"]
    assert body["case_id"] == case_id and body["version"] == 2
    assert (m["stage"], m["type"], m["by"], m["name"]) == ("before", "image/jpeg", "token:inspector", "IMG_0001.jpg")
    assert m["url"] == f"https://ioc.zjg.gov.cn/api/v1/cases/{case_id}/media/{m['id']}" and m["thumb_url"] == m["url"] + "/thumb"
    assert m["lat"] == pytest.approx(31.87, abs=0.01) and m["taken_at"]
    case = case_of(portal, tokens, case_id)
    assert [a["id"] for a in case["attachments"]] == [m["id"]] and case["attachments"][0]["url"] == m["url"]
    assert case["timeline"][-1]["action"] == "attach" and case["stage"] == "reported"


def test_the_photo_comes_back_stripped_with_its_headers(portal, tokens):
    case_id = new_case(portal, tokens)
    m = upload(portal, tokens["inspector"], case_id, ("现场 照片.jpg", phone_jpeg())).get_json()["media"][0]
    photo = portal.get(f"/api/v1/cases/{case_id}/media/{m['id']}", headers=tokens["dispatcher"])
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert hashlib.sha256(photo.data).hexdigest() == m["id"] and SERIAL not in photo.data
    assert photo.headers["Cache-Control"] == "private, max-age=3600"
    assert photo.headers["X-Content-Type-Options"] == "nosniff"
    assert photo.headers["Content-Disposition"] == \
        "inline; filename=\"__ __.jpg\"; filename*=UTF-8''%E7%8E%B0%E5%9C%BA%20%E7%85%A7%E7%89%87.jpg"
    thumb = portal.get(f"/api/v1/cases/{case_id}/media/{m['id']}/thumb", headers=tokens["dispatcher"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg" and len(thumb.data) < len(photo.data)
    assert thumb.headers["Cache-Control"] == "private, max-age=3600"


def test_the_list_route_gives_the_cases_photos(portal, tokens):
    case_id = new_case(portal, tokens)
    upload(portal, tokens["inspector"], case_id, ("a.jpg", phone_jpeg()), ("b.png", image_bytes("PNG")))
    listed = portal.get(f"/api/v1/cases/{case_id}/media", headers=tokens["leader"]).get_json()
    assert [m["type"] for m in listed["media"]] == ["image/jpeg", "image/png"] and listed["version"] == 2


def test_the_same_photo_twice_is_one_attachment_and_one_stored_file(portal, tokens):
    case_id = new_case(portal, tokens)
    first = upload(portal, tokens["inspector"], case_id, ("a.jpg", phone_jpeg()))
    again = upload(portal, tokens["dispatcher"], case_id, ("a-again.jpg", phone_jpeg()))
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json()["version"] == first.get_json()["version"]
    assert len(case_of(portal, tokens, case_id)["attachments"]) == 1 and len(stored_files(portal)) == 2  # copy + thumbnail


def test_a_heic_photo_from_a_phone_is_accepted_and_served_as_jpeg(portal, tokens):
    case_id = new_case(portal, tokens)
    answer = upload(portal, tokens["inspector"], case_id, ("IMG_0002.HEIC", image_bytes("HEIF", quality=70)))
    assert answer.status_code == 201
    m = answer.get_json()["media"][0]
    assert (m["type"], m["name"]) == ("image/jpeg", "IMG_0002.jpg")


def test_a_path_in_the_file_name_is_dropped(portal, tokens):
    case_id = new_case(portal, tokens)
    m = upload(portal, tokens["inspector"], case_id, ("../../../etc/cron.d/x.jpg", phone_jpeg())).get_json()["media"][0]
    assert m["name"] == "x.jpg"
    assert all(p.is_relative_to(portal.media.store.folder) for p in portal.media.store.folder.rglob("*"))


def test_the_stage_defaults_to_after_once_dispatched_and_can_be_chosen(portal, tokens):
    case_id = dispatched(portal, tokens)
    assert upload(portal, tokens["water"], case_id, ("a.jpg", phone_jpeg())).get_json()["media"][0]["stage"] == "after"
    chosen = upload(portal, tokens["water"], case_id, ("b.jpg", phone_jpeg(color=(9, 9, 9))), stage="before")
    assert chosen.get_json()["media"][0]["stage"] == "before"


def test_the_phones_position_is_kept_when_the_photo_has_none(portal, tokens):
    case_id = new_case(portal, tokens)
    m = upload(portal, tokens["inspector"], case_id, ("a.jpg", phone_jpeg(gps=False)), lat="31.9", lon="120.5").get_json()["media"][0]
    assert (m["lat"], m["lon"]) == (31.9, 120.5)


# ---- bad files: each refused with its reason, nothing stored ---------------------------------------

BAD_FILES = {
    "unsupported_type": ("invoice.jpg", WINDOWS_EXE),
    "unreadable": ("half.jpg", truncated_jpeg()),
    "too_many_pixels": ("bomb.png", png_claiming(20_000, 20_000)),
    "empty": ("nothing.jpg", b""),
}


@pytest.mark.parametrize("code", sorted(BAD_FILES))
def test_a_bad_file_is_refused_with_its_reason_and_nothing_is_stored(portal, tokens, redis_client, code):
    case_id = new_case(portal, tokens)
    answer = upload(portal, tokens["inspector"], case_id, BAD_FILES[code])
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json() | {"message": ""} == {"error": "bad_request", "message": "", "field": "file", "code": code}
    assert case_of(portal, tokens, case_id)["attachments"] == [] and stored_files(portal) == []
    assert counters.read(redis_client).get(f"media_refused:{code}") == 1


def test_a_good_photo_with_a_bad_one_stores_nothing(portal, tokens):
    case_id = new_case(portal, tokens)
    answer = upload(portal, tokens["inspector"], case_id, ("a.jpg", phone_jpeg()), BAD_FILES["unsupported_type"])
    assert answer.status_code == 400 and case_of(portal, tokens, case_id)["attachments"] == []


def test_a_stage_that_is_neither_before_nor_after_is_refused(portal, tokens):
    answer = upload(portal, tokens["inspector"], new_case(portal, tokens), ("a.jpg", phone_jpeg()), stage="during")
    assert answer.status_code == 400 and (answer.get_json()["field"], answer.get_json()["code"]) == ("stage", "bad_stage")


def test_an_upload_without_a_file_is_refused(portal, tokens):
    answer = portal.post(f"/api/v1/cases/{new_case(portal, tokens)}/media", data={"stage": "before"}, headers=tokens["inspector"],
                         content_type="multipart/form-data")
    assert answer.status_code == 400 and answer.get_json()["code"] == "empty"


class CountingStream(io.BytesIO):
    """The request body, counting what the server reads of it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.taken = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = super().readline(size)
        self.taken += len(line)
        return line


def multipart(name: str, content: bytes, boundary: str = "ioc-test-boundary") -> tuple[bytes, str]:
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_a_file_over_the_limit_is_a_413_before_the_body_is_read_whole(portal, tokens, redis_client):
    case_id = new_case(portal, tokens)
    big = noisy_jpeg((2400, 1800))
    body, content_type = multipart("big.jpg", big + b"\x00" * (5 * MAX_MB * 1024 * 1024 - len(big)))  # 5 MB, one file
    stream = CountingStream(body)
    answer = portal.post(f"/api/v1/cases/{case_id}/media", input_stream=stream, content_type=content_type,
                         headers={**tokens["inspector"], "Content-Length": str(len(body))})
    assert answer.status_code == 413 and answer.get_json()["code"] == "too_large"
    assert stream.taken < 2 * MAX_MB * 1024 * 1024 < len(body)  # stopped soon after the limit
    assert stored_files(portal) == [] and counters.read(redis_client).get("media_refused:too_large") == 1


def test_a_body_announced_too_large_is_a_413_without_reading_it(portal, tokens):
    case_id = new_case(portal, tokens)
    stream = CountingStream(b"x" * 1000)
    answer = portal.post(f"/api/v1/cases/{case_id}/media", input_stream=stream,
                         content_type="multipart/form-data; boundary=x", headers=tokens["inspector"],
                         environ_overrides={"CONTENT_LENGTH": str(10**9)})
    assert answer.status_code == 413 and stream.taken == 0


def test_a_case_holding_its_limit_of_files_takes_no_more(portal, tokens):
    portal.media.per_case = 1
    case_id = new_case(portal, tokens)
    assert upload(portal, tokens["inspector"], case_id, ("a.jpg", phone_jpeg())).status_code == 201
    answer = upload(portal, tokens["inspector"], case_id, ("b.jpg", phone_jpeg(color=(1, 1, 1))))
    assert answer.status_code == 400 and answer.get_json()["code"] == "too_many_files"


# ---- who may upload and see ---------------------------------------------------------------------

def test_a_handler_of_another_department_gets_404_for_the_photos(portal, tokens):
    case_id = dispatched(portal, tokens)
    m = upload(portal, tokens["water"], case_id, ("a.jpg", phone_jpeg())).get_json()["media"][0]
    for path in (f"/api/v1/cases/{case_id}/media", f"/api/v1/cases/{case_id}/media/{m['id']}",
                 f"/api/v1/cases/{case_id}/media/{m['id']}/thumb"):
        assert portal.get(path, headers=tokens["lights"]).status_code == 404, path
        assert portal.get(path, headers=tokens["water"]).status_code == 200, path
    assert upload(portal, tokens["lights"], case_id, ("b.jpg", phone_jpeg())).status_code == 404


def test_an_operator_may_not_upload_and_sees_no_case_photos(portal, tokens):
    case_id = new_case(portal, tokens)
    m = upload(portal, tokens["inspector"], case_id, ("a.jpg", phone_jpeg())).get_json()["media"][0]
    assert upload(portal, tokens["operator"], case_id, ("b.jpg", phone_jpeg())).status_code == 403
    assert portal.get(f"/api/v1/cases/{case_id}/media/{m['id']}", headers=tokens["operator"]).status_code == 404


@pytest.mark.parametrize("who", ["leader", "hotline"])
def test_roles_without_the_attach_action_are_refused_403(portal, tokens, who):
    assert upload(portal, tokens[who], new_case(portal, tokens), ("a.jpg", phone_jpeg())).status_code == 403


def test_an_unknown_photo_of_a_visible_case_is_404(portal, tokens):
    case_id = new_case(portal, tokens)
    assert portal.get(f"/api/v1/cases/{case_id}/media/{'0' * 64}", headers=tokens["leader"]).status_code == 404


def test_an_ended_case_takes_no_photos(portal, tokens):
    case_id = new_case(portal, tokens)
    act(portal, tokens, "dispatcher", case_id, "reject", note="重复")
    answer = upload(portal, tokens["dispatcher"], case_id, ("a.jpg", phone_jpeg()))
    assert answer.status_code == 400 and answer.get_json()["code"] == "case_ended"


@pytest.fixture
def signed_in(portal, make_user):
    """A test client signed in by session cookie as an inspector."""
    name, password = make_user("inspector")
    assert portal.post("/login", data={"name": name, "password": password}).status_code == 302
    return portal


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}])
def test_a_cookie_signed_upload_from_another_site_is_refused(signed_in, tokens, headers):
    case_id = new_case(signed_in, tokens)
    answer = signed_in.post(f"/api/v1/cases/{case_id}/media", data={"file": (io.BytesIO(phone_jpeg()), "a.jpg")},
                            headers=headers, content_type="multipart/form-data")
    assert answer.status_code == 403 and case_of(signed_in, tokens, case_id)["attachments"] == []


def test_a_cookie_signed_upload_from_the_portal_itself_is_accepted(signed_in, tokens):
    case_id = new_case(signed_in, tokens)
    answer = signed_in.post(f"/api/v1/cases/{case_id}/media", data={"file": (io.BytesIO(phone_jpeg()), "a.jpg")},
                            headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
                            content_type="multipart/form-data")
    assert answer.status_code == 201


# ---- the check-in and the after photo --------------------------------------------------------------

def test_a_check_in_within_the_radius_is_accepted(portal, tokens):
    case_id = dispatched(portal, tokens)
    answer = act(portal, tokens, "water", case_id, "arrive", lat=YANGSHE["lat"] + 0.001, lon=YANGSHE["lon"], accuracy=15)
    assert answer.status_code == 200, answer.get_json()
    case = answer.get_json()
    assert case["arrived_at"] and case["arrival"]["accuracy"] == 15 and 100 < case["arrival"]["distance_m"] < 120


def test_a_check_in_too_far_is_refused_with_the_distance(portal, tokens):
    case_id = dispatched(portal, tokens)
    answer = act(portal, tokens, "water", case_id, "arrive", lat=YANGSHE["lat"] + 0.01, lon=YANGSHE["lon"])
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["field"] == "lat" and "1112 m" in body["message"] and "300 m" in body["message"]
    assert case_of(portal, tokens, case_id)["arrived_at"] == 0


def test_a_check_in_before_acknowledging_is_refused(portal, tokens):
    case_id = dispatched(portal, tokens, acknowledged=False)
    assert act(portal, tokens, "water", case_id, "arrive", **YANGSHE).status_code == 400


def test_a_position_that_is_not_a_number_is_refused_naming_it(portal, tokens):
    answer = act(portal, tokens, "water", dispatched(portal, tokens), "arrive", lat="north", lon=120.5)
    assert answer.status_code == 400 and answer.get_json()["field"] == "lat"


def test_the_attach_action_is_not_taken_without_files(portal, tokens):
    assert act(portal, tokens, "inspector", new_case(portal, tokens), "attach").status_code == 400


# ---- links for other systems ----------------------------------------------------------------------

def test_the_dispatch_message_and_open311_carry_the_photo_links(portal, tokens, redis_client):
    case_id = new_case(portal, tokens)
    m = upload(portal, tokens["inspector"], case_id, ("a.jpg", phone_jpeg())).get_json()["media"][0]
    for who, action in (("dispatcher", "accept"), ("inspector", "verify"), ("dispatcher", "dispatch")):
        act(portal, tokens, who, case_id, action)
    outbox = [orjson.loads(fields[b"payload"]) for _, fields in redis_client.xrange(keys.CASES_OUTBOX)]
    assert [p["media"] for p in outbox if p["case_id"] == case_id] == [[m["url"]]]
    request = portal.get(f"/open311/v2/requests/{case_id}.json", headers=tokens["leader"]).get_json()[0]
    assert request["media_url"] == m["url"]


def test_the_metrics_count_uploads_and_refusals(portal, tokens):
    case_id = new_case(portal, tokens)
    upload(portal, tokens["inspector"], case_id, ("a.jpg", phone_jpeg()))
    upload(portal, tokens["inspector"], case_id, BAD_FILES["unsupported_type"])
    text = portal.get("/metrics").get_data(as_text=True)
    assert 'ioc_media_uploads_total{result="stored"} 1.0' in text and 'ioc_media_uploads_total{result="refused"} 1.0' in text
    assert 'ioc_media_refused_total{reason="unsupported_type"} 1.0' in text
