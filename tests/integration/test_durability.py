"""Acknowledged writes survive kill -9; a damaged translog fails only its shard."""

import random
import threading
import time

import elasticsearch
import pytest
from elasticsearch import Elasticsearch

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
        time.sleep(rng.uniform(0.3, 1.5))
        node.kill()
        writer.join(15)
        assert not writer.is_alive()
        assert writer.requests > 0, "the writer never got a request through"
        for i, state in writer.acked.items():
            expected[i] = state
            uncertain.discard(i)
        uncertain |= writer.in_flight  # killed mid-request: old or new state are both fine
        node.start()
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
    uuid = next(p for p in (node.data / "indices").iterdir()
                if b'"name":"damaged"' in (p / "_state" / "index.json").read_bytes())
    [tlog] = [t for t in (uuid / "0" / "translog").glob("*.tlog") if b"DAMAGE-ME-0003" in t.read_bytes()]
    data = bytearray(tlog.read_bytes())
    data[data.index(b"DAMAGE-ME-0003")] = ord("X")  # a record in the middle, long since synced
    tlog.write_bytes(bytes(data))

    node.start()
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
