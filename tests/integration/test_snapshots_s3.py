"""Snapshots to an `s3` repository and restores from it: three real node processes and an
S3 endpoint on loopback (moto's server), through elasticsearch-py as an application would
call them. The nodes reach the bucket as they would reach S3 (signed HTTP, boto3's
default credential chain)."""

from __future__ import annotations

import orjson
import pytest
from elasticsearch import ApiError, Elasticsearch, helpers

from tests.support.cluster import LocalCluster
from tests.support.s3 import CREDENTIALS, s3_endpoint

NODES = ["b0", "b1", "b2"]


@pytest.fixture(scope="module")
def endpoint():
    with s3_endpoint() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def bucket(endpoint):
    client = endpoint.client()
    client.create_bucket(Bucket="strata-backups")
    yield client
    client.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, endpoint):
    cluster = LocalCluster(tmp_path_factory.mktemp("snapshots-s3"), NODES, *endpoint.node_settings(),
                           env=CREDENTIALS).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def es(cluster):
    client = Elasticsearch(cluster.nodes[0].url, request_timeout=60)
    yield client
    client.close()


@pytest.fixture
def repo(es, bucket, request):
    name = request.node.name.lower().replace("_", "-")[:60]
    es.snapshot.create_repository(name=name, repository={
        "type": "s3", "settings": {"bucket": "strata-backups", "base_path": f"clusters/{name}"}})
    return name


def keys(bucket, prefix: str) -> dict[str, int]:
    found = {}
    for page in bucket.get_paginator("list_objects_v2").paginate(Bucket="strata-backups", Prefix=prefix):
        found.update({o["Key"][len(prefix):]: o["Size"] for o in page.get("Contents", ())})
    return found


def index_docs(es: Elasticsearch, index: str, count: int, start: int = 0) -> None:
    if not es.indices.exists(index=index):
        es.indices.create(index=index, settings={"number_of_shards": 2, "number_of_replicas": 1})
    helpers.bulk(es, ({"_index": index, "_id": str(i), "n": i, "text": f"document number {i}"}
                      for i in range(start, start + count)), refresh=True)
    assert es.cluster.health(index=index, wait_for_status="green", timeout="60s")["status"] == "green"


def test_a_deleted_index_comes_back_whole_from_the_bucket(es, repo, bucket):
    index_docs(es, "orders", 400)
    before = {h["_id"]: h["_source"] for h in es.search(index="orders", size=1000)["hits"]["hits"]}
    taken = es.snapshot.create(repository=repo, snapshot="nightly", wait_for_completion=True)["snapshot"]
    assert taken["state"] == "SUCCESS" and taken["shards"] == {"total": 2, "failed": 0, "successful": 2}
    stored = keys(bucket, f"clusters/{repo}/")
    assert "index.latest" in stored and f"snap-{taken['uuid']}.dat" in stored
    assert any(k.startswith("indices/") and "/__" in k for k in stored)  # the shards' files
    es.indices.delete(index="orders")

    es.snapshot.restore(repository=repo, snapshot="nightly", wait_for_completion=True)
    assert es.cluster.health(index="orders", wait_for_status="green", timeout="60s")["status"] == "green"
    after = {h["_id"]: h["_source"] for h in es.search(index="orders", size=1000)["hits"]["hits"]}
    assert after == before
    recovery = es.indices.recovery(index="orders")["orders"]["shards"]
    assert {s["type"] for s in recovery if s["primary"]} == {"SNAPSHOT"}


def test_snapshots_share_unchanged_files_and_deleting_one_keeps_the_others(es, repo, bucket):
    index_docs(es, "events", 200)
    es.indices.flush(index="events")
    es.snapshot.create(repository=repo, snapshot="first", indices="events", wait_for_completion=True)
    index_docs(es, "events", 200, start=200)
    es.snapshot.create(repository=repo, snapshot="second", indices="events", wait_for_completion=True)
    status = {s["snapshot"]: s["stats"]
              for s in es.snapshot.status(repository=repo, snapshot="first,second")["snapshots"]}
    assert status["second"]["incremental"]["file_count"] < status["second"]["total"]["file_count"]

    before = {k for k in keys(bucket, f"clusters/{repo}/") if "/__" in k}
    es.snapshot.delete(repository=repo, snapshot="first")
    after = {k for k in keys(bucket, f"clusters/{repo}/") if "/__" in k}
    assert after < before  # what only "first" held is gone; the shared files stay
    root = orjson.loads(bucket.get_object(
        Bucket="strata-backups", Key=f"clusters/{repo}/index-{keys_generation(bucket, repo)}")["Body"].read())
    assert [s["name"] for s in root["snapshots"]] == ["second"]

    es.indices.delete(index="events")
    es.snapshot.restore(repository=repo, snapshot="second", wait_for_completion=True)
    assert es.count(index="events")["count"] == 400


def keys_generation(bucket, repo: str) -> int:
    latest = bucket.get_object(Bucket="strata-backups", Key=f"clusters/{repo}/index.latest")["Body"].read()
    return int.from_bytes(latest, "big")


def test_a_missing_bucket_or_client_is_refused_with_elasticsearch_errors(es):
    with pytest.raises(ApiError) as missing:
        es.snapshot.create_repository(name="nowhere", repository={
            "type": "s3", "settings": {"bucket": "no-such-bucket"}})
    assert missing.value.meta.status == 500
    assert missing.value.body["error"]["type"] == "repository_verification_exception"
    assert "NoSuchBucket" in missing.value.body["error"]["reason"]
    with pytest.raises(ApiError) as client:
        es.snapshot.create_repository(name="other-client", repository={
            "type": "s3", "settings": {"bucket": "strata-backups", "client": "archive"}})
    assert client.value.meta.status == 500
    assert client.value.body["error"]["type"] == "repository_exception"
    assert "Unknown s3 client name [archive]" in client.value.body["error"]["reason"]
    with pytest.raises(ApiError) as no_bucket:
        es.snapshot.create_repository(name="no-bucket", repository={"type": "s3", "settings": {}})
    assert "Invalid S3 bucket name" in no_bucket.value.body["error"]["reason"]
