"""Index-level APIs on a 3-node cluster whose index has one primary on each node: every
node answers get index, settings, mappings, put mapping, analyze, refresh, flush,
`_cat/indices` and `_cat/shards` the same, whether or not it holds a copy; a refresh while
a node is down reports its shard without failing."""

from __future__ import annotations

import pytest

from strata_node.index.routing import shard_id
from tests.support.cluster import LocalCluster
from tests.support.node_process import NodeProcess
from tests.support.polling import call, ok, wait_until

INDEX = "spread"
SINGLE = "single"  # one primary and one replica: one node holds no copy
UNPLACEABLE = "unplaceable"  # three replicas on three nodes: one can never be placed
ANALYSIS = {
    "analyzer": {"shouting": {"type": "custom", "tokenizer": "whitespace",
                              "filter": ["lowercase", "no_the"]}},
    "filter": {"no_the": {"type": "stop", "stopwords": ["the"]}},
}
MAPPINGS = {"properties": {"title": {"type": "text", "analyzer": "shouting"}, "n": {"type": "long"}}}
# One document id per shard of INDEX, and a few more.
IDS = sorted({next(str(i) for i in range(100) if shard_id(str(i), None, 3) == s) for s in range(3)}
             | {str(i) for i in range(10)})








def cat_shards(node: NodeProcess, index: str, columns: str = "index,shard,prirep,state,docs,node") -> list:
    return ok(node, "GET", f"/_cat/shards/{index}",
              params={"format": "json", "h": columns, "s": "shard,prirep"})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("spread"), ["n0", "n1", "n2"]).start()
    first = cluster.nodes[0]
    ok(first, "PUT", f"/{INDEX}", json={
        "settings": {"number_of_shards": 3, "number_of_replicas": 0, "refresh_interval": "-1",
                     "analysis": ANALYSIS},
        "mappings": MAPPINGS})
    ok(first, "PUT", f"/{SINGLE}", json={"settings": {"number_of_shards": 1, "number_of_replicas": 1}})
    ok(first, "PUT", f"/{UNPLACEABLE}", json={"settings": {"number_of_shards": 1, "number_of_replicas": 3}})
    for node in cluster.nodes:  # every node has applied the started primaries
        ok(node, "GET", "/_cluster/health",
           params={"wait_for_no_initializing_shards": "true", "timeout": "30s"})
    yield cluster
    cluster.stop()


def holder_of(cluster: LocalCluster, index: str, shard: int) -> NodeProcess:
    rows = cat_shards(cluster.nodes[0], index)
    [row] = [r for r in rows if r["shard"] == str(shard) and r["prirep"] == "p"]
    return cluster.node(row["node"])


def test_each_node_holds_one_primary_and_every_node_lists_them_alike(cluster):
    views = [cat_shards(node, INDEX, "index,shard,prirep,state,ip,node") for node in cluster.nodes]
    assert all(v == views[0] for v in views)
    assert [(r["shard"], r["prirep"], r["state"]) for r in views[0]] == [
        ("0", "p", "STARTED"), ("1", "p", "STARTED"), ("2", "p", "STARTED")]
    assert sorted(r["node"] for r in views[0]) == ["n0", "n1", "n2"]
    assert all(r["ip"] == "127.0.0.1" for r in views[0])


def test_get_index_settings_and_mappings_answer_the_same_from_every_node(cluster):
    for path in (f"/{INDEX}", f"/{INDEX}/_settings", f"/{INDEX}/_settings/index.number_of_*", "/_settings",
                 f"/{INDEX}/_mapping", "/_mapping", f"/{INDEX}/_mapping/field/title",
                 f"/{SINGLE}/_mapping"):
        answers = [ok(node, "GET", path) for node in cluster.nodes]
        assert all(a == answers[0] for a in answers), path
    got = ok(cluster.nodes[2], "GET", f"/{INDEX}")[INDEX]
    assert got["mappings"] == MAPPINGS
    assert got["settings"]["index"]["number_of_shards"] == "3"
    assert got["settings"]["index"]["analysis"]["analyzer"]["shouting"]["tokenizer"] == "whitespace"
    assert ok(cluster.nodes[1], "GET", f"/{INDEX}/_mapping/field/title")[INDEX]["mappings"]["title"] == {
        "full_name": "title", "mapping": {"title": {"type": "text", "analyzer": "shouting"}}}
    for node in cluster.nodes:
        assert call(node, "HEAD", f"/{INDEX}").status_code == 200
        assert call(node, "HEAD", f"/{SINGLE}").status_code == 200
        assert call(node, "HEAD", "/no-such-index").status_code == 404
        assert call(node, "GET", "/no-such-index").json()["error"]["type"] == "index_not_found_exception"


def test_a_node_without_a_copy_puts_a_mapping_and_every_node_sees_it(cluster):
    holders = {r["node"] for r in cat_shards(cluster.nodes[0], SINGLE)}
    elsewhere = next(n for n in cluster.nodes if n.name not in holders)
    assert ok(elsewhere, "PUT", f"/{SINGLE}/_mapping", json={"properties": {"tag": {"type": "keyword"}}}) == {
        "acknowledged": True}
    for node in cluster.nodes:
        wait_until(lambda n=node: "tag" in ok(n, "GET", f"/{SINGLE}/_mapping")[SINGLE]["mappings"]
                   ["properties"])
    conflict = call(elsewhere, "PUT", f"/{SINGLE}/_mapping", json={"properties": {"tag": {"type": "long"}}})
    assert conflict.status_code == 400
    assert conflict.json()["error"]["type"] == "illegal_argument_exception"
    unknown = call(elsewhere, "PUT", f"/{SINGLE}/_mapping",
                   json={"properties": {"t": {"type": "text", "analyzer": "shouting"}}})
    assert unknown.status_code == 400  # SINGLE defines no such analyzer
    # The pre-check knows the analyzers INDEX defines in its settings.
    assert ok(cluster.nodes[1], "PUT", f"/{INDEX}/_mapping",
              json={"properties": {"subtitle": {"type": "text", "analyzer": "shouting"}}})["acknowledged"]


def test_analyze_uses_the_index_analyzer_and_mapping_on_every_node(cluster):
    for node in cluster.nodes:
        by_name = ok(node, "POST", f"/{INDEX}/_analyze",
                     json={"analyzer": "shouting", "text": "The QUICK fox"})
        assert [t["token"] for t in by_name["tokens"]] == ["quick", "fox"]
        by_field = ok(node, "POST", f"/{INDEX}/_analyze", json={"field": "title", "text": "The Brown-Fox"})
        assert [t["token"] for t in by_field["tokens"]] == ["brown-fox"]
        # An index this node holds no copy of (for two of the nodes).
        plain = ok(node, "POST", f"/{SINGLE}/_analyze", json={"text": "The Brown-Fox"})
        assert [t["token"] for t in plain["tokens"]] == ["the", "brown", "fox"]
    missing = call(cluster.nodes[0], "POST", f"/{SINGLE}/_analyze",
                   json={"analyzer": "shouting", "text": "x"})
    assert missing.status_code == 400


def test_refresh_through_any_node_makes_documents_written_through_another_visible(cluster):
    writer, refresher, reader = cluster.nodes
    body = "".join(f'{{"index":{{"_id":"{i}"}}}}\n{{"title":"doc {i}","n":{i}}}\n' for i in IDS)
    bulk = ok(writer, "POST", f"/{INDEX}/_bulk", content=body,
              headers={"content-type": "application/x-ndjson"})
    assert not bulk["errors"]
    for i in IDS:
        unseen = call(reader, "GET", f"/{INDEX}/_doc/{i}", params={"realtime": "false"})
        assert unseen.status_code == 404 and unseen.json()["found"] is False
    refreshed = ok(refresher, "POST", f"/{INDEX}/_refresh")
    assert refreshed["_shards"] == {"total": 3, "successful": 3, "failed": 0}
    for node in cluster.nodes:
        for i in IDS:
            got = ok(node, "GET", f"/{INDEX}/_doc/{i}", params={"realtime": "false"})
            assert got["found"] is True and got["_source"]["n"] == int(i)
    # Replicas are refreshed too; an unassigned replica is in `total` only.
    for node in cluster.nodes:
        single = ok(node, "POST", f"/{SINGLE}/_refresh")["_shards"]
        assert single == {"total": 2, "successful": 2, "failed": 0}
        unplaceable = ok(node, "POST", f"/{UNPLACEABLE}/_refresh")["_shards"]
        assert unplaceable == {"total": 4, "successful": 3, "failed": 0}
        assert ok(node, "GET", "/_refresh")["_shards"] == {"total": 9, "successful": 8, "failed": 0}


def test_flush_through_any_node_flushes_every_shard(cluster):
    for node in cluster.nodes:
        assert ok(node, "POST", f"/{INDEX}/_flush")["_shards"] == {"total": 3, "successful": 3, "failed": 0}
        forced = ok(node, "POST", f"/{INDEX}/_flush", params={"force": "true"})
        assert forced["_shards"] == {"total": 3, "successful": 3, "failed": 0}
    flushes = cat_shards(cluster.nodes[0], INDEX, "shard,flush.total")
    assert all(int(r["flush.total"]) >= 3 for r in flushes)  # each node's copy flushed


def test_cat_indices_sums_the_copies_of_every_node(cluster):
    rows = [ok(node, "GET", f"/_cat/indices/{INDEX},{SINGLE}",
               params={"format": "json", "bytes": "b", "s": "index", "h": "health,index,pri,rep,docs.count"})
            for node in cluster.nodes]
    assert all(r == rows[0] for r in rows)
    assert rows[0] == [
        {"health": "green", "index": SINGLE, "pri": "1", "rep": "1", "docs.count": "0"},
        {"health": "green", "index": INDEX, "pri": "3", "rep": "0", "docs.count": str(len(IDS))},
    ]
    sizes = ok(cluster.nodes[1], "GET", f"/_cat/indices/{INDEX}", params={"format": "json", "bytes": "b"})
    assert int(sizes[0]["store.size"]) > 0
    per_shard = sum(int(r["docs"]) for r in cat_shards(cluster.nodes[2], INDEX))
    assert per_shard == len(IDS)


def test_cat_shards_lists_unassigned_copies_with_their_reason(cluster):
    holder = holder_of(cluster, UNPLACEABLE, 0)
    for node in cluster.nodes:
        rows = cat_shards(node, UNPLACEABLE, "index,shard,prirep,state,node,unassigned.reason")
        assert rows[0] == {"index": UNPLACEABLE, "shard": "0", "prirep": "p", "state": "STARTED",
                           "node": holder.name, "unassigned.reason": None}
        replicas = sorted((r["state"], r["node"] or "", r["unassigned.reason"] or "") for r in rows[1:])
        others = sorted(n.name for n in cluster.nodes if n is not holder)
        assert replicas == [("STARTED", others[0], ""), ("STARTED", others[1], ""),
                            ("UNASSIGNED", "", "INDEX_CREATED")]


def test_a_refresh_while_a_node_is_down_reports_its_shard_without_failing(cluster):
    master = cluster.master_name(cluster.nodes[0])
    victim = next(n for n in (holder_of(cluster, INDEX, s) for s in range(3)) if n.name != master)
    [lost] = [int(r["shard"]) for r in cat_shards(cluster.nodes[0], INDEX) if r["node"] == victim.name]
    survivor = next(n for n in cluster.nodes if n is not victim)
    victim.kill()

    # At once (the master may not know yet): the copy is a failure or unassigned, never an error.
    shards = ok(survivor, "POST", f"/{INDEX}/_refresh")["_shards"]
    assert shards["total"] == 3 and shards["successful"] == 2
    assert [f["shard"] for f in shards.get("failures", [])] in ([], [lost])
    assert len(cat_shards(survivor, INDEX)) == 3  # a node that does not answer fails no cat

    # Once the master has seen the node leave, the copy is unassigned: in `total` only.
    def unassigned():
        rows = cat_shards(survivor, INDEX, "shard,state,unassigned.reason")
        return [r for r in rows if r["shard"] == str(lost) and r["state"] == "UNASSIGNED"]

    assert wait_until(unassigned, 60)[0]["unassigned.reason"] == "NODE_LEFT"
    for node in cluster.running():
        assert ok(node, "POST", f"/{INDEX}/_refresh")["_shards"] == {"total": 3, "successful": 2, "failed": 0}
        row = ok(node, "GET", f"/_cat/indices/{INDEX}", params={"format": "json", "h": "health,docs.count"})
        assert row[0]["health"] == "red"
        assert int(row[0]["docs.count"]) < len(IDS)
