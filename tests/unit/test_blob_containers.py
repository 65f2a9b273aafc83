"""Both blob containers, `fs` and `s3` (against moto's S3 server on loopback), keep one
contract: what the repository code relies on whatever holds the blobs."""

from __future__ import annotations

import os
import uuid
import zlib

import pytest

from strata_node.settings import SettingsError, load_node_settings
from strata_node.snapshots import repository
from strata_node.snapshots import s3 as s3_module
from strata_node.snapshots.blobs import BlobAlreadyExists, BlobMissing, BlobStoreError, FsBlobContainer
from strata_node.snapshots.repository import RepositoryError, Stores
from strata_node.snapshots.s3 import MIN_BUFFER_SIZE, S3BlobContainer, S3Calls, S3Clients
from tests.support.s3 import CREDENTIALS, s3_endpoint


@pytest.fixture(scope="module")
def endpoint():
    with s3_endpoint() as endpoint:
        yield endpoint


@pytest.fixture
def s3(endpoint):
    client = endpoint.client()
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    yield S3BlobContainer(S3Calls(lambda: client, bucket), "base/", buffer_size=MIN_BUFFER_SIZE)
    client.close()


@pytest.fixture(params=["fs", "s3"])
def blobs(request, tmp_path):
    if request.param == "fs":
        return FsBlobContainer(tmp_path / "repo")
    return request.getfixturevalue("s3")


def test_a_written_blob_reads_back_whole(blobs):
    blobs.write("a", b"hello")
    assert blobs.read("a") == b"hello"
    assert blobs.exists("a") and not blobs.exists("b")


def test_reading_a_missing_blob_is_blob_missing(blobs):
    blobs.create()
    with pytest.raises(BlobMissing):
        blobs.read("nothing")


def test_a_blob_that_must_be_new_is_refused_and_the_old_one_kept(blobs):
    blobs.write("index-0", b"first", fail_if_exists=True)
    with pytest.raises(BlobAlreadyExists):
        blobs.write("index-0", b"second", fail_if_exists=True)
    assert blobs.read("index-0") == b"first"
    blobs.write("index-0", b"third")  # a plain write replaces
    assert blobs.read("index-0") == b"third"


def test_a_write_that_fails_leaves_no_half_written_file(tmp_path, monkeypatch):
    blobs = FsBlobContainer(tmp_path / "repo")
    blobs.write("kept", b"whole")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        blobs.write("index-1", b"x" * 1000)
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == ["kept"]


def test_a_listing_shows_the_blobs_directly_inside_with_their_lengths(blobs):
    blobs.write("snap-1.dat", b"12345")
    blobs.write("snap-2.dat", b"1")
    blobs.write("index-0", b"{}")
    blobs.child("indices", "x").write("meta-1.dat", b"m")
    assert blobs.list("snap-") == {"snap-1.dat": 5, "snap-2.dat": 1}
    assert set(blobs.list()) == {"snap-1.dat", "snap-2.dat", "index-0"}
    assert blobs.children() == ["indices"]
    assert blobs.child("indices").children() == ["x"]
    assert blobs.child("indices", "x").list() == {"meta-1.dat": 1}


def test_a_file_copied_up_and_down_keeps_its_bytes_and_checksum(blobs, tmp_path):
    content = os.urandom(300_000)
    source, target = tmp_path / "source", tmp_path / "target"
    source.write_bytes(content)
    sent, received = [], []
    assert blobs.write_from_file("__f", source, sent.append) == zlib.crc32(content)
    assert blobs.read_to_file("__f", target, received.append) == zlib.crc32(content)
    assert target.read_bytes() == content
    assert sum(sent) == sum(received) == len(content)


def test_deleting_frees_the_bytes_of_the_blobs_there_and_ignores_missing_ones(blobs):
    blobs.write("a", b"123")
    blobs.write("b", b"45")
    assert blobs.delete(["a", "gone"]) == 3
    assert set(blobs.list()) == {"b"}


def test_deleting_a_tree_removes_everything_under_it_and_nothing_beside_it(blobs):
    tree = blobs.child("tests-1")
    tree.write("master.dat", b"12")
    tree.child("deeper").write("data.dat", b"345")
    blobs.write("index-0", b"{}")
    assert tree.delete_tree() == (2, 5)
    assert blobs.children() == []
    assert blobs.list() == {"index-0": 2}


# -- s3 only -----------------------------------------------------------------------------------


def test_a_file_larger_than_the_buffer_goes_up_in_parts(s3, tmp_path):
    content = os.urandom(2 * MIN_BUFFER_SIZE + 1234)
    source, target = tmp_path / "big", tmp_path / "back"
    source.write_bytes(content)
    parts = []
    assert s3.write_from_file("__big", source, parts.append) == zlib.crc32(content)
    assert parts == [MIN_BUFFER_SIZE, MIN_BUFFER_SIZE, 1234]
    s3.read_to_file("__big", target)
    assert target.read_bytes() == content
    uploads = s3.calls("list_multipart_uploads").get("Uploads", [])
    assert uploads == []  # completed, none left open


def uploaded_in_parts(s3, name: str) -> int:
    """How many parts the blob went up in (0: one PUT; S3's ETag says it)."""
    etag = s3.calls("head_object", Key=s3.prefix + name)["ETag"].strip('"')
    return int(etag.partition("-")[2] or 0)


@pytest.mark.parametrize(("size", "parts"), [(0, 0), (MIN_BUFFER_SIZE, 0), (2 * MIN_BUFFER_SIZE, 2)])
def test_a_file_goes_up_in_parts_only_when_larger_than_the_buffer(s3, tmp_path, size, parts):
    source = tmp_path / "file"
    content = os.urandom(size)
    source.write_bytes(content)
    assert s3.write_from_file("__f", source) == zlib.crc32(content)
    assert uploaded_in_parts(s3, "__f") == parts
    assert s3.read("__f") == content


def test_a_failed_part_aborts_the_upload(s3, tmp_path):
    source = tmp_path / "big"
    source.write_bytes(os.urandom(MIN_BUFFER_SIZE + 10))
    client = s3.calls.client()

    def refuse(params, **kw):
        if params.get("PartNumber") == 2:
            raise ConnectionResetError("cut")
    client.meta.events.register("before-parameter-build.s3.UploadPart", refuse)
    try:
        with pytest.raises(ConnectionResetError):
            s3.write_from_file("__big", source)
    finally:
        client.meta.events.unregister("before-parameter-build.s3.UploadPart", refuse)
    assert s3.calls("list_multipart_uploads").get("Uploads", []) == []
    assert not s3.exists("__big")


def test_a_conditional_write_whose_answer_was_lost_finds_its_own_blob(s3):
    s3.write("index-3", b"root")
    s3.write("index-3", b"root", fail_if_exists=True)  # the retry of a PUT that landed
    with pytest.raises(BlobAlreadyExists):
        s3.write("index-3", b"another root", fail_if_exists=True)


def test_listings_and_deletes_go_page_by_page(s3, monkeypatch):
    monkeypatch.setattr(s3_module, "LIST_PAGE", 3)  # S3's are 1000 keys
    monkeypatch.setattr(s3_module, "DELETE_BATCH", 2)
    names = [f"__{i:02d}" for i in range(10)]
    for name in names:
        s3.write(name, b"x")
    s3.child("a").write("b", b"y")
    s3.child("c").write("d", b"z")
    listed = []
    s3.calls.client().meta.events.register("before-call.s3.ListObjectsV2", lambda **kw: listed.append(1))
    assert len(s3.list("__")) == 10
    assert len(listed) == 4  # pages of 3, 3, 3 and 1
    assert s3.children() == ["a", "c"]
    assert s3.delete(names[:7]) == 7
    assert sorted(s3.list()) == names[7:]
    assert s3.delete_tree() == (5, 5)


def test_a_bucket_that_does_not_exist_fails_as_an_os_error(endpoint):
    client = endpoint.client()
    missing = S3BlobContainer(S3Calls(lambda: client, "no-such-bucket"), "")
    with pytest.raises(BlobStoreError, match="NoSuchBucket") as e:
        missing.write("a", b"1")
    assert isinstance(e.value, OSError)
    with pytest.raises(BlobStoreError):
        missing.check()


def test_an_unreachable_endpoint_fails_as_an_os_error(monkeypatch):
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    clients = S3Clients({"s3.client.default.endpoint": "http://127.0.0.1:9",
                         "s3.client.default.max_retries": 0})
    blobs = S3BlobContainer(S3Calls(lambda: clients.get("default"), "bucket"), "")
    with pytest.raises(BlobStoreError, match="Could not connect"):
        blobs.read("a")
    clients.close()


# -- s3 repository definitions and client settings -------------------------------------------------


def test_an_s3_repository_needs_a_bucket():
    with pytest.raises(RepositoryError, match="Invalid S3 bucket name, cannot be null or empty"):
        repository.parse_definition("r", {"type": "s3", "settings": {"base_path": "x"}})


def test_an_s3_buffer_size_outside_5mb_to_5gb_is_refused():
    with pytest.raises(RepositoryError, match=r"must be >= \[5mb\]"):
        repository.parse_definition("r", {"type": "s3", "settings": {"bucket": "b", "buffer_size": "1mb"}})
    with pytest.raises(RepositoryError, match="failed to parse"):
        repository.parse_definition("r", {"type": "s3", "settings": {"bucket": "b", "buffer_size": "lots"}})


def test_an_s3_repository_names_a_configured_client():
    stores = Stores([], S3Clients({"s3.client.backup.endpoint": "http://127.0.0.1:1"}))
    definition = {"type": "s3", "settings": {"bucket": "b", "client": "other"}}
    with pytest.raises(RepositoryError, match=r"Unknown s3 client name \[other\]. Existing client configs: "
                                              r"backup, default"):
        stores.container("r", definition)


def test_credentials_in_repository_settings_are_refused():
    with pytest.raises(RepositoryError, match=r"Setting \[secret_key\] is insecure"):
        repository.parse_definition("r", {"type": "s3", "settings": {"bucket": "b", "secret_key": "s"}})


def test_an_s3_repository_lives_under_its_base_path():
    stores = Stores([], S3Clients({}))  # no client is made until a blob is touched
    container = stores.container("r", {"type": "s3", "settings": {"bucket": "b", "base_path": "/a/b/"}})
    assert container.location == "s3://b/a/b/"
    assert container.child("indices", "x").location == "s3://b/a/b/indices/x/"


def test_s3_client_settings_are_node_settings_and_typos_stop_start_up():
    settings = load_node_settings(None, ["s3.client.default.endpoint=http://127.0.0.1:1",
                                         "s3.client.backup.max_retries=5"], {})
    assert settings.s3_clients == {"s3.client.default.endpoint": "http://127.0.0.1:1",
                                   "s3.client.backup.max_retries": 5}
    with pytest.raises(SettingsError, match=r"unknown setting \[s3.client.default.endpont\]"):
        load_node_settings(None, ["s3.client.default.endpont=x"], {})
    with pytest.raises(SettingsError, match="Failed to parse value"):
        load_node_settings(None, ["s3.client.default.max_retries=many"], {})


def test_s3_credentials_come_in_pairs():
    with pytest.raises(SettingsError, match=r"Missing secret key for s3 client \[backup\]"):
        load_node_settings(None, ["s3.client.backup.access_key=a"], {})
    with pytest.raises(SettingsError, match=r"Missing access key for s3 client \[default\]"):
        load_node_settings(None, [], {"STRATA_SETTING_S3_CLIENT_DEFAULT_SECRET__KEY": "s"})
    with pytest.raises(SettingsError, match=r"Missing access key for s3 client \[default\]"):
        load_node_settings(None, ["s3.client.default.session_token=t"], {})


def test_a_client_that_cannot_be_made_fails_as_an_os_error():
    clients = S3Clients({"s3.client.default.endpoint": "http://bad host:1"})
    blobs = Stores([], clients).container("r", {"type": "s3", "settings": {"bucket": "b"}})
    with pytest.raises(BlobStoreError, match=r"could not create s3 client \[default\]"):
        blobs.read("a")


def test_a_client_with_its_own_credentials_signs_with_them(endpoint, monkeypatch):
    for key in CREDENTIALS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    clients = S3Clients({"s3.client.default.endpoint": endpoint.url, "s3.client.default.access_key": "ak",
                         "s3.client.default.secret_key": "sk"})
    client = clients.get("default")
    signed = []
    client.meta.events.register("before-send.s3", lambda request, **kw: signed.append(
        request.headers["Authorization"].decode()))
    client.list_buckets()
    assert signed and signed[0].startswith("AWS4-HMAC-SHA256 Credential=ak/")
    clients.close()
