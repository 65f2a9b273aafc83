"""The same documents in one index per shard count, for search tests that check an
answer does not depend on how the index is split (the coordinator's merge and reduce
must give what one shard gives)."""

from __future__ import annotations

import orjson


def bulk(http, index: str, docs: list[tuple[object, dict]], refresh: str = "true") -> None:
    """Index (id, document) pairs in one `_bulk`, failing the test on any item error."""
    lines = []
    for doc_id, doc in docs:
        lines.append(orjson.dumps({"index": {"_index": index, "_id": str(doc_id)}}))
        lines.append(orjson.dumps(doc))
    r = http.post(f"/_bulk?refresh={refresh}", content=b"\n".join(lines) + b"\n",
                  headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200 and not r.json()["errors"], r.text


def sharded_copies(node, prefix: str, shard_counts: tuple[int, ...], mapping: dict,
                   docs: list[dict]) -> dict[int, str]:
    """Shard count -> the name of an index (`<prefix>-<count>`, no replicas) holding
    `docs` with ids "0", "1", ..., refreshed."""
    names = {}
    with node.client() as http:
        for shards in shard_counts:
            name = f"{prefix}-{shards}"
            r = http.put(f"/{name}", json={"settings": {"number_of_shards": shards, "number_of_replicas": 0},
                                           "mappings": mapping})
            assert r.status_code == 200, r.text
            bulk(http, name, list(enumerate(docs)))
            names[shards] = name
    return names
