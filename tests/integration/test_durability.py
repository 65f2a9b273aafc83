"""Acknowledged writes survive kill -9; a damaged translog fails only its shard."""

import random
import threading
import time

import elasticsearch
import pytest
from elasticsearch import Elasticsearch

from strata_node.index.routing import shard_id
from tests.support.damage import flip_translog_byte

SEED = random.randrange(1 << 30)


class Writer(threading.Thread):
    """Bulk-indexes until the node dies, remembering what each acknowledged item said."""

    def __init__(self, url: str, rng: random.Random, id_space: int):
        super().__init__(daemon=True)
        self.es = Elasticsearch(url, request_timeout=10, max_retries=0)
        self.rng = rng
        self.id_space = id_space
        self.acked: dict[str, tuple[str, int, int]] = {}  # id -> (result, seq_no, version)
        self.in_flight: set[str] = set()
        self.requests = 0

    def run(self) -> None:
        while True:
            ids = [str(self.rng.randrange(self.id_space)) for _ in range(self.rng.randint(1, 200))]
            ops = []
            for i in ids:
                if self.rng.random() < 0.1:
                    ops.append({"delete": {"_index": "durable", "_id": i}})
                else:
                    ops.append({"index": {"_index": "durable", "_id": i}})
                    ops.append({"id": i, "n": self.rng.random(), "pad": "x" * self.rng.randint(0, 300)})
            self.in_flight = set(ids)
            try:
                resp = self.es.bulk(operations=ops)
            except (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout):
                return  # the node was killed mid-request: its items are not acknowledged
            self.requests += 1
            for item in resp["items"]:
                [(_, r)] = item.items()
                assert "error" not in r, r
                self.acked[r["_id"]] = (r["result"], r["_seq_no"], r["_version"])
            self.in_flight = set()


def test_acknowledged_writes_survive_repeated_kill_minus_nine(fresh_node):
    rng = random.Random(SEED)
    print(f"seed {SEED}")
    node = fresh_node().start()
    Elasticsearch(node.url).indices.create(index="durable", settings={"number_of_shards": 2})
    expected: dict[str, tuple[str, int, int]] = {}
    uncertain: set[str] = set()
    for _round in range(4):
        writer = Writer(node.url, rng, id_space=3000)
        writer.start()
        deadline = time.monotonic() + 15
        while writer.requests == 0 and writer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)  # a first bulk after a start may be slow (the indexing worker starts)
        time.sleep(rng.uniform(0.3, 1.5))
        node.kill()
        writer.join(15)
        assert not writer.is_alive()
        assert writer.requests > 0, "the writer never got a request through"
        for i, state in writer.acked.items():
            expected[i] = state
            uncertain.discard(i)
        uncertain |= writer.in_flight  # killed mid-request: old or new state are both fine
        node.start().wait_for_shards()
        es = Elasticsearch(node.url)
        checked = 0
        ids = [i for i in expected if i not in uncertain]
        for start in range(0, len(ids), 500):
            docs = es.mget(index="durable", ids=ids[start:start + 500])["docs"]
            for doc in docs:
                result, seq_no, version = expected[doc["_id"]]
                if result in ("deleted", "not_found"):
                    assert doc["found"] is False, (SEED, doc)
                else:
                    assert doc["found"], (SEED, doc)
                    assert (doc["_seq_no"], doc["_version"]) == (seq_no, version), (SEED, doc)
                checked += 1
        assert checked > 0
    node.stop()


def test_corrupted_translog_fails_that_shard_only(fresh_node):
    node = fresh_node().start()
    es = Elasticsearch(node.url)
    es.indices.create(index="damaged", settings={"number_of_shards": 1})
    es.indices.create(index="healthy", settings={"number_of_shards": 1})
    for n in range(20):
        es.index(index="damaged", id=str(n), document={"marker": f"DAMAGE-ME-{n:04d}"})
        es.index(index="healthy", id=str(n), document={"n": n})
    node.kill()  # no flush: the operations live in the translog only
    flip_translog_byte(node.data, "damaged", b"DAMAGE-ME-0003")  # long since synced

    node.start().wait_for_shards()
    es = Elasticsearch(node.url)
    es.indices.refresh(index="healthy")
    assert es.count(index="healthy")["count"] == 20
    assert es.get(index="healthy", id="7")["_source"] == {"n": 7}
    with pytest.raises(elasticsearch.ApiError) as failure:
        es.get(index="damaged", id="1")
    assert failure.value.meta.status == 503
    reason = failure.value.body["error"]["reason"]
    assert "bad checksum" in reason and "translog" in reason
    assert "bad checksum" in node.output()
    node.stop()


def test_broadcast_apis_report_a_failed_shard_instead_of_failing(fresh_node):
    node = fresh_node().start()
    es = Elasticsearch(node.url)
    es.indices.create(index="split", settings={"number_of_shards": 2, "number_of_replicas": 0})
    ids = {shard: next(str(i) for i in range(100) if shard_id(str(i), None, 2) == shard) for shard in (0, 1)}
    es.index(index="split", id=ids[0], document={"marker": "BROKEN-SHARD"})
    es.index(index="split", id=ids[1], document={"marker": "fine-shard"})
    node.kill()
    flip_translog_byte(node.data, "split", b"BROKEN-SHARD", shard=0)
    node.start().wait_for_shards()
    with node.client() as http:
        for path in ("/split/_refresh", "/split/_flush"):
            shards = http.post(path).json()["_shards"]
            assert (shards["total"], shards["successful"], shards["failed"]) == (2, 1, 1)
            [failure] = shards["failures"]
            assert (failure["index"], failure["shard"]) == ("split", 0)
            assert failure["status"] == "SERVICE_UNAVAILABLE"
            assert "bad checksum" in failure["reason"]["reason"]
        counted = http.get("/split/_count").json()
        assert counted["count"] == 1
        assert counted["_shards"]["failed"] == 1 and counted["_shards"]["failures"][0]["shard"] == 0
    node.stop()


def test_count_over_only_failed_shards_is_all_shards_failed(fresh_node):
    node = fresh_node().start()
    Elasticsearch(node.url).index(index="gone", id="1", document={"marker": "ONLY-SHARD"})
    node.kill()
    flip_translog_byte(node.data, "gone", b"ONLY-SHARD")
    node.start().wait_for_shards()
    with node.client() as http:
        response = http.get("/gone/_count")
        assert response.status_code == 503
        assert response.json()["error"]["type"] == "search_phase_execution_exception"
        assert response.json()["error"]["reason"] == "all shards failed"
    node.stop()
