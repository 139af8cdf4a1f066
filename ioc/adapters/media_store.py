"""Where the cases' photos are kept: a folder, or any S3-compatible object store.

Both backends behave alike (`MediaStore`): `put(key, data, type)` stores the bytes whole or not
at all, `get(key)` returns `(bytes, type)` or None, `exists(key)`. Keys are content-addressed
(`ab/abcdef….jpg`, the SHA-256 of the stored bytes, see `ioc.domain.media.media_key`), so the
same photo is stored once however often it is uploaded, and a put of a key that exists is
skipped. A key is checked against that shape: nothing else (no `..`, no absolute path) reaches
the file system or the bucket.

- `FolderMediaStore(dir)`: writes a temporary file in the target folder, flushes it to disk and
  renames it into place, so a reader never sees half a file and a failed write leaves nothing.
- `S3MediaStore(bucket, prefix)`: boto3; an object appears whole or not at all (S3's own rule),
  sent with its Content-MD5 so a damaged upload is refused by the store. Endpoint, region and
  credentials come from boto3's usual environment (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`,
  `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).

`media_store_from_settings(settings)`: S3 when `IOC_MEDIA_URL=s3://bucket/prefix` is set, else
the folder `IOC_MEDIA_DIR` (default `<IOC_DATA_DIR>/media`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}(\.thumb)?\.(jpg|png|webp)$")
TYPE_OF = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class MediaStoreError(RuntimeError):
    """The store could not keep or give back a file (disk, network, credentials); nothing was half-stored."""


class MediaStore(Protocol):
    def put(self, key: str, data: bytes, media_type: str) -> None: ...

    def get(self, key: str) -> tuple[bytes, str] | None: ...

    def exists(self, key: str) -> bool: ...


def check_key(key: str) -> str:
    if not isinstance(key, str) or not KEY.match(key):
        raise ValueError(f"not a media key: {key!r}")
    return key


def type_of_key(key: str) -> str:
    return TYPE_OF[key.rsplit(".", 1)[1]]


class FolderMediaStore:
    def __init__(self, folder: Path | str):
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"FolderMediaStore({str(self.folder)!r})"

    def _path(self, key: str) -> Path:
        return self.folder / check_key(key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def put(self, key: str, data: bytes, media_type: str) -> None:
        path = self._path(key)
        if path.is_file():
            return  # content-addressed: the same bytes are there already
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".part-", dir=path.parent)
        except OSError as e:
            raise MediaStoreError(f"cannot write to {path.parent}: {e.strerror or e}") from e
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(temp, 0o644)
            os.replace(temp, path)
        except OSError as e:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise MediaStoreError(f"cannot write {key}: {e.strerror or e}") from e

    def get(self, key: str) -> tuple[bytes, str] | None:
        try:
            return self._path(key).read_bytes(), type_of_key(key)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise MediaStoreError(f"cannot read {key}: {e.strerror or e}") from e


class S3MediaStore:
    def __init__(self, bucket: str, prefix: str = "", client=None):
        if client is None:
            import boto3  # the S3 backend's library, loaded only when it is used

            client = boto3.client("s3")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def __repr__(self) -> str:
        return f"S3MediaStore(s3://{self.bucket}/{self.prefix})"

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as e:
            if _status(e) == 404:
                return False
            raise MediaStoreError(f"cannot reach s3://{self.bucket}: {_reason(e)}") from e
        except BotoCoreError as e:
            raise MediaStoreError(f"cannot reach s3://{self.bucket}: {e}") from e

    def put(self, key: str, data: bytes, media_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if self.exists(key):
            return
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - integrity, as S3 asks for it
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=media_type, ContentMD5=md5)
        except (ClientError, BotoCoreError) as e:
            raise MediaStoreError(f"cannot store {key} in s3://{self.bucket}: {_reason(e)}") from e

    def get(self, key: str) -> tuple[bytes, str] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return answer["Body"].read(), answer.get("ContentType") or type_of_key(key)
        except ClientError as e:
            if _status(e) == 404 or e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise MediaStoreError(f"cannot read {key} from s3://{self.bucket}: {_reason(e)}") from e
        except BotoCoreError as e:
            raise MediaStoreError(f"cannot read {key} from s3://{self.bucket}: {e}") from e


def _status(e) -> int:
    return int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _reason(e) -> str:
    error = (getattr(e, "response", None) or {}).get("Error", {})
    return f"{error.get('Code', '')} {error.get('Message', '')}".strip() or str(e)


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket/prefix`."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"IOC_MEDIA_URL must be s3://bucket/prefix, not {url!r}")
    return parts.netloc, parts.path.strip("/")


def media_store_from_settings(settings) -> MediaStore:
    if settings.media_url:
        bucket, prefix = parse_s3_url(settings.media_url)
        return S3MediaStore(bucket, prefix)
    return FolderMediaStore(settings.media_folder)
