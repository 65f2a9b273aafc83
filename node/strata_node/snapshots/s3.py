"""The `s3` blob container: a key prefix in an S3 bucket (Elasticsearch's repository-s3).

A container is the prefix `<base_path>/<child>/.../`; blobs are the keys directly under
it, child containers the "folders" a delimited listing shows. boto3 signs, retries and
pools connections. The clients are named and configured by node settings, as ES's are
(`s3.client.<name>.endpoint`, `protocol`, `region`, `path_style_access`, `max_retries`,
`read_timeout`, and the secure `access_key`, `secret_key`, `session_token`); a client
without credentials of its own uses boto3's default chain (environment, web identity
token as Kubernetes service accounts give it, instance metadata).

A blob that must be new (`fail_if_exists`, the repository root's generation) is written
with `If-None-Match: *`, S3's conditional create. A file larger than the repository's
`buffer_size` goes up as a multipart upload of parts of that size, each read and
checksummed as it is sent, so no more than one part is held in memory per upload.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from .blobs import BlobAlreadyExists, BlobMissing, BlobStoreError, copy_synced

DEFAULT_CLIENT = "default"
MIN_BUFFER_SIZE = 5 * 1024 * 1024  # S3's smallest part but the last
MAX_BUFFER_SIZE = 5 * 1024 * 1024 * 1024
# ES's default is 100mb (or 5% of the heap); a smaller part keeps a node's memory low
# while four uploads run at once, and shard files are rarely that large.
DEFAULT_BUFFER_SIZE = 16 * 1024 * 1024
DELETE_BATCH = 1000  # DeleteObjects' limit
LIST_PAGE = 1000  # ListObjectsV2's largest page
MAX_PARTS = 10_000  # a multipart upload's limit


def _missing(error: Any) -> bool:
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


class S3Calls:
    """One bucket through one client, every failure raised as the container's own. The
    client is asked for at each call, on the executor: the first call makes it (importing
    boto3 and resolving credentials can take a second, never on the event loop)."""

    def __init__(self, client: Callable[[], Any], bucket: str):
        self.client = client
        self.bucket = bucket

    def __call__(self, operation: str, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client(), operation)(Bucket=self.bucket, **params)
        except ClientError as e:
            if _missing(e) and "Key" in params:
                raise BlobMissing(f"blob [{params['Key']}] not found in bucket [{self.bucket}]") from None
            error = e.response.get("Error", {})
            # 412: the key exists; 409: another conditional write to it is under way.
            if error.get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise BlobAlreadyExists(f"blob [{params.get('Key')}] already exists in bucket "
                                        f"[{self.bucket}]") from None
            raise BlobStoreError(f"s3 {operation} on bucket [{self.bucket}] failed: "
                                 f"{error.get('Code')}: {error.get('Message')}") from None
        except BotoCoreError as e:
            raise BlobStoreError(f"s3 {operation} on bucket [{self.bucket}] failed: {e}") from None

    def pages(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            page = self(operation, **params, **({"ContinuationToken": token} if token else {}))
            yield page
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return


class S3BlobContainer:
    def __init__(self, calls: S3Calls, prefix: str, *, buffer_size: int = DEFAULT_BUFFER_SIZE,
                 put_args: Mapping[str, str] | None = None):
        self.calls = calls
        self.prefix = prefix  # "" or ends with "/"
        self.buffer_size = buffer_size
        self.put_args = dict(put_args or {})

    @property
    def location(self) -> str:
        return f"s3://{self.calls.bucket}/{self.prefix}"

    def child(self, *names: str) -> S3BlobContainer:
        return S3BlobContainer(self.calls, self.prefix + "".join(f"{n}/" for n in names),
                               buffer_size=self.buffer_size, put_args=self.put_args)

    def create(self) -> None:
        """Nothing: S3 has no folders."""

    def check(self) -> None:
        self.calls("head_bucket")

    def exists(self, name: str) -> bool:
        try:
            self.calls("head_object", Key=self.prefix + name)
        except BlobMissing:
            return False
        return True

    @contextmanager
    def _body(self, name: str) -> Iterator[Any]:
        """The blob's streamed body, closed after; a read cut or timed out mid-body fails
        as the container's own error."""
        from botocore.exceptions import BotoCoreError

        body = self.calls("get_object", Key=self.prefix + name)["Body"]
        try:
            yield body
        except BotoCoreError as e:
            raise BlobStoreError(f"reading [{self.prefix + name}] from bucket [{self.calls.bucket}] "
                                 f"failed: {e}") from None
        finally:
            body.close()

    def read(self, name: str) -> bytes:
        with self._body(name) as body:
            return body.read()

    def write(self, name: str, data: bytes, *, fail_if_exists: bool = False) -> None:
        """One PUT: S3 shows the whole object or none of it."""
        if not fail_if_exists:
            self.calls("put_object", Key=self.prefix + name, Body=data, **self.put_args)
            return
        try:
            self.calls("put_object", Key=self.prefix + name, Body=data, IfNoneMatch="*", **self.put_args)
        except BlobAlreadyExists:
            # A retried PUT whose first attempt landed (its answer lost) finds its own blob.
            try:
                if self.read(name) == data:
                    return
            except BlobMissing:
                pass
            raise

    def write_from_file(self, name: str, source: Path, progress: Callable[[int], None] | None = None) -> int:
        key = self.prefix + name
        with open(source, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size <= self.buffer_size:
                data = f.read()
                self.calls("put_object", Key=key, Body=data, **self.put_args)
                if progress is not None:
                    progress(len(data))
                return zlib.crc32(data)
            # S3 takes at most 10,000 parts: a huge file gets larger ones.
            return self._upload_parts(key, f, max(self.buffer_size, -(-size // MAX_PARTS)), progress)

    def _upload_parts(self, key: str, f: BinaryIO, part_size: int,
                      progress: Callable[[int], None] | None) -> int:
        upload = self.calls("create_multipart_upload", Key=key, **self.put_args)["UploadId"]
        checksum = 0
        parts: list[dict[str, Any]] = []
        try:
            while part := f.read(part_size):
                checksum = zlib.crc32(part, checksum)
                number = len(parts) + 1
                answer = self.calls("upload_part", Key=key, UploadId=upload, PartNumber=number, Body=part)
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                if progress is not None:
                    progress(len(part))
            self.calls("complete_multipart_upload", Key=key, UploadId=upload,
                       MultipartUpload={"Parts": parts})
        except BaseException as e:
            try:
                self.calls("abort_multipart_upload", Key=key, UploadId=upload)
            except BlobStoreError as abort:  # the bucket's lifecycle rules must reap it then
                raise BlobStoreError(f"multipart upload of [{key}] failed ({e}) and could not be "
                                     f"aborted: {abort}") from e
            raise
        return checksum

    def read_to_file(self, name: str, target: Path, progress: Callable[[int], None] | None = None) -> int:
        with self._body(name) as body, open(target, "wb") as dst:
            return copy_synced(body, dst, progress)

    def _objects(self, prefix: str, delimited: bool) -> Iterator[dict[str, Any]]:
        params = {"Prefix": self.prefix + prefix, "MaxKeys": LIST_PAGE}
        if delimited:
            params["Delimiter"] = "/"
        yield from self.calls.pages("list_objects_v2", **params)

    def list(self, prefix: str = "") -> dict[str, int]:
        return {o["Key"][len(self.prefix):]: o["Size"]
                for page in self._objects(prefix, True) for o in page.get("Contents", ())}

    def children(self) -> list[str]:
        return sorted(p["Prefix"][len(self.prefix):-1]
                      for page in self._objects("", True) for p in page.get("CommonPrefixes", ()))

    def delete(self, names: list[str]) -> int:
        """Delete the blobs (a missing one is no error); returns the bytes freed."""
        if not names:
            return 0
        sizes = self.list()  # for the bytes freed; every name is sent, listed or not
        self._delete_keys([self.prefix + n for n in names])
        return sum(sizes.get(n, 0) for n in names)

    def delete_tree(self) -> tuple[int, int]:
        keys, size = [], 0
        for page in self._objects("", False):
            for o in page.get("Contents", ()):
                keys.append(o["Key"])
                size += o["Size"]
        self._delete_keys(keys)
        return len(keys), size

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            objects = [{"Key": k} for k in batch]
            errors = self.calls("delete_objects", Delete={"Objects": objects, "Quiet": True}).get("Errors")
            if errors:
                first = errors[0]
                raise BlobStoreError(f"could not delete {len(errors)} blobs from bucket "
                                     f"[{self.calls.bucket}], first [{first.get('Key')}]: "
                                     f"{first.get('Code')}: {first.get('Message')}")


class S3Clients:
    """The node's S3 clients by name, made on first use from `s3.client.<name>.*` (a
    boto3 client is thread-safe and pools its connections, so one serves every call)."""

    def __init__(self, settings: Mapping[str, Any]):
        self.settings = settings  # key under s3.client.<name>. -> value
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def names(self) -> set[str]:
        return {DEFAULT_CLIENT} | {key.split(".")[2] for key in self.settings}

    def get(self, name: str) -> Any:
        """The client `name`, made on first use. Blocking (call it on an executor)."""
        from botocore.exceptions import BotoCoreError

        with self._lock:
            client = self._clients.get(name)
            if client is None:
                try:
                    client = self._clients[name] = self._make(name)
                except (BotoCoreError, ValueError) as e:  # a bad endpoint, region or profile
                    raise BlobStoreError(f"could not create s3 client [{name}]: {e}") from None
            return client

    def _make(self, name: str) -> Any:
        import boto3
        from botocore.config import Config

        def setting(key: str, default: Any) -> Any:
            return self.settings.get(f"s3.client.{name}.{key}", default)

        endpoint = setting("endpoint", None)
        if endpoint and "://" not in endpoint:
            endpoint = f"{setting('protocol', 'https')}://{endpoint}"
        config = Config(
            s3={"addressing_style": "path" if setting("path_style_access", False) else "auto"},
            retries={"max_attempts": setting("max_retries", 3) + 1, "mode": "standard"},
            read_timeout=setting("read_timeout", 50.0), connect_timeout=10.0,
            max_pool_connections=16)
        credentials = {}
        if setting("access_key", None) is not None:
            credentials = {"aws_access_key_id": setting("access_key", None),
                           "aws_secret_access_key": setting("secret_key", None),
                           "aws_session_token": setting("session_token", None)}
        return boto3.session.Session(**credentials).client(
            "s3", endpoint_url=endpoint, config=config, region_name=setting("region", None) or "us-east-1")

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
