"""The two media stores behave alike (ioc.adapters.media_store): the folder, and S3 against
moto's S3-compatible HTTP server (a real server on a loopback port, spoken to by boto3 over
HTTP). One parametrized fixture runs each test on both, the store's own tests and the upload
service's (ioc.media.service, with the real case service on Redis)."""

from __future__ import annotations

import hashlib
import io
import os
import socket

import pytest

from ioc.adapters import counters
from ioc.adapters.media_store import (FolderMediaStore, MediaStoreError, S3MediaStore, media_store_from_settings,
                                      parse_s3_url)
from ioc.casework.service import CaseService
from ioc.domain.access import Principal
from ioc.domain.media import MediaError, media_key
from ioc.media.service import MediaService
from ioc.settings import Settings
from tests.media_samples import GPS_LAT, SERIAL, TAKEN_AT_MS, WINDOWS_EXE, phone_jpeg

BUCKET = "ioc-media"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3-compatible server on a free loopback port, for the module."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path):
    """Each media store, empty: a folder under the test's tmp path, or a fresh prefix in the bucket."""
    if request.param == "folder":
        return FolderMediaStore(tmp_path / "media")
    client = s3_client(request.getfixturevalue("s3_endpoint"))
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return S3MediaStore(BUCKET, f"t/{request.node.name.replace('[', '-').rstrip(']')}", client=client)


def key_of(data: bytes, kind: str = "image/jpeg") -> str:
    return media_key(hashlib.sha256(data).hexdigest(), kind)


def test_a_file_put_is_got_back_whole_with_its_type(store):
    data = os.urandom(300_000)
    key = key_of(data, "image/png")
    assert not store.exists(key) and store.get(key) is None
    store.put(key, data, "image/png")
    assert store.exists(key) and store.get(key) == (data, "image/png")


def test_the_same_content_twice_is_stored_once(store):
    data = b"\xff\xd8\xff" + os.urandom(1000)
    key = key_of(data)
    store.put(key, data, "image/jpeg")
    store.put(key, data, "image/jpeg")
    assert store.get(key) == (data, "image/jpeg")
    assert count_objects(store) == 1


@pytest.mark.parametrize("key", ["../../etc/passwd", "/abs/x.jpg", "ab/" + "z" * 64 + ".jpg", "ab/" + "a" * 64 + ".exe", ""])
def test_a_key_not_of_the_content_address_shape_is_refused(store, key):
    with pytest.raises(ValueError, match="not a media key"):
        store.put(key, b"x", "image/jpeg")
    with pytest.raises(ValueError):
        store.get(key)


def test_a_failing_write_leaves_nothing_behind(store, monkeypatch):
    data = os.urandom(200_000)
    key = key_of(data)
    if isinstance(store, FolderMediaStore):
        def broken_fsync(fd):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(os, "fsync", broken_fsync)
    else:  # the connection drops while the object is sent
        from botocore.exceptions import ConnectionClosedError

        def drop(request, **kwargs):
            raise ConnectionClosedError(endpoint_url=request.url)
        store.client.meta.events.register_first("before-send.s3.PutObject", drop)
    with pytest.raises(MediaStoreError):
        store.put(key, data, "image/jpeg")
    assert not store.exists(key) and store.get(key) is None and count_objects(store) == 0


def count_objects(store) -> int:
    if isinstance(store, FolderMediaStore):
        return sum(1 for p in store.folder.rglob("*") if p.is_file())  # temporary parts included
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix)
    return listed.get("KeyCount", 0)


def test_an_unreachable_s3_store_is_a_store_error_not_a_crash():
    store = S3MediaStore(BUCKET, "x", client=s3_client(f"http://127.0.0.1:{free_port()}"))
    store.client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(MediaStoreError):
        store.put(key_of(b"x"), b"x", "image/jpeg")


def test_the_settings_choose_the_backend(tmp_path):
    folder = media_store_from_settings(Settings.from_env(env={"IOC_DATA_DIR": str(tmp_path)}))
    assert isinstance(folder, FolderMediaStore) and folder.folder == tmp_path / "media"
    own = media_store_from_settings(Settings.from_env(env={"IOC_MEDIA_DIR": str(tmp_path / "m")}))
    assert own.folder == tmp_path / "m"
    assert parse_s3_url("s3://bucket/cases/photos") == ("bucket", "cases/photos")


def test_the_s3_backend_takes_its_endpoint_and_credentials_from_boto3s_environment(monkeypatch, s3_endpoint):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = media_store_from_settings(Settings.from_env(env={"IOC_MEDIA_URL": f"s3://{BUCKET}/from-env"}))
    assert isinstance(store, S3MediaStore) and store.prefix == "from-env/"
    s3_client(s3_endpoint).create_bucket(Bucket=BUCKET) if BUCKET not in [
        b["Name"] for b in s3_client(s3_endpoint).list_buckets()["Buckets"]] else None
    data = b"\x89PNG" + os.urandom(100)
    store.put(key_of(data, "image/png"), data, "image/png")
    assert store.get(key_of(data, "image/png")) == (data, "image/png")


def test_a_malformed_media_url_stops_the_settings():
    with pytest.raises(ValueError, match="IOC_MEDIA_URL"):
        Settings.from_env(env={"IOC_MEDIA_URL": "http://bucket/x"})


# ---- the upload service on each store (ioc.media.service) --------------------------------------

YANGSHE = (31.872, 120.556)
INSPECTOR = Principal("insp", frozenset({"inspector"}))
LEADER = Principal("lead", frozenset({"leader"}))


@pytest.fixture
def media(store, redis_client, redis_server_proc, city, tmp_path):
    settings = Settings.from_env(env={}, redis_url=redis_server_proc.url, data_dir=tmp_path)
    return MediaService(store, CaseService.from_settings(redis_client, city, settings), settings)


def new_case(media) -> str:
    case, _ = media.cases.report(class_code="10101", lat=YANGSHE[0], lon=YANGSHE[1], source="inspector", actor="insp")
    return case.id


def test_an_upload_stores_the_stripped_copy_and_its_thumbnail_and_records_them_on_the_case(media):
    case_id = new_case(media)
    case, [a] = media.attach(case_id, INSPECTOR, "IMG_0001.jpg", io.BytesIO(phone_jpeg()), "before")
    assert [x["id"] for x in case.attachments] == [a.id] and case.version == 2
    stored, kind = media.store.get(a.key)
    assert kind == "image/jpeg" and hashlib.sha256(stored).hexdigest() == a.id and SERIAL not in stored
    assert media.store.get(a.thumb_key)[1] == "image/jpeg"
    assert (a.stage, a.by, a.role, a.name) == ("before", "insp", "inspector", "IMG_0001.jpg")
    assert a.lat == pytest.approx(GPS_LAT, abs=1e-6) and a.taken_at == TAKEN_AT_MS


def test_the_same_photo_twice_on_a_case_is_kept_once(media):
    case_id = new_case(media)
    first, _ = media.attach(case_id, INSPECTOR, "a.jpg", phone_jpeg(), "before")
    again, [a] = media.attach(case_id, INSPECTOR, "copy-of-a.jpg", phone_jpeg(), "before")
    assert again.version == first.version and len(again.attachments) == 1 and a.name == "a.jpg"
    assert len(media.cases.store.timeline(case_id)) == 2  # the report and one attach


def test_a_store_failing_midway_records_nothing_on_the_case(media, monkeypatch):
    case_id = new_case(media)
    real_put = media.store.put

    def thumbnail_fails(key, data, kind):
        if key.endswith(".thumb.jpg"):
            raise MediaStoreError("disk full")
        real_put(key, data, kind)
    monkeypatch.setattr(media.store, "put", thumbnail_fails)
    with pytest.raises(MediaStoreError):
        media.attach(case_id, INSPECTOR, "a.jpg", phone_jpeg(), "before")
    case = media.cases.store.get(case_id)
    assert case.attachments == () and case.version == 1


def test_an_upload_racing_another_action_is_retried_on_the_new_version(media, monkeypatch):
    case_id = new_case(media)
    real_save = media.cases.store.save_transition
    raced = []

    def urged_meanwhile(before, after, event, *rest, **named):
        if event.action == "attach" and not raced:
            raced.append(media.cases.act(case_id, "urge", LEADER))  # another action lands first
        return real_save(before, after, event, *rest, **named)
    monkeypatch.setattr(media.cases.store, "save_transition", urged_meanwhile)
    case, _ = media.attach(case_id, INSPECTOR, "a.jpg", phone_jpeg(), "before")
    assert case.version == 3 and case.urge_count == 1 and len(case.attachments) == 1


def test_a_case_full_of_files_takes_no_more(media):
    media.per_case = 1
    case_id = new_case(media)
    media.attach(case_id, INSPECTOR, "a.jpg", phone_jpeg(), "before")
    with pytest.raises(MediaError) as refused:
        media.attach(case_id, INSPECTOR, "b.jpg", phone_jpeg(color=(1, 2, 3)), "before")
    assert refused.value.code == "too_many_files"


def test_the_uploads_are_counted_for_the_metrics(media, redis_client):
    case_id = new_case(media)
    media.attach(case_id, INSPECTOR, "a.jpg", phone_jpeg(), "before")
    with pytest.raises(MediaError):
        media.attach(case_id, INSPECTOR, "evil.jpg", WINDOWS_EXE, "before")
    assert {k: v for k, v in counters.read(redis_client).items() if k.startswith("media")} == \
        {"media:stored": 1, "media:refused": 1, "media_refused:unsupported_type": 1}
