"""The `_cat` APIs on a real node: columns, `v`, `h`, `s`, `format=json`, `bytes`, `help`."""

from __future__ import annotations

import re
import time

import pytest


@pytest.fixture
def two(http, index_name):
    a, b = f"{index_name}-a", f"{index_name}-b"
    http.put(f"/{a}", json={"settings": {"number_of_shards": 1, "number_of_replicas": 0}})
    http.put(f"/{b}", json={"settings": {"number_of_shards": 2, "number_of_replicas": 1}})
    http.post(f"/{b}/_doc", params={"refresh": "true"}, json={"x": 1})
    yield a, b
    http.delete(f"/{index_name}-*")


def test_cat_master_and_nodes(http, node):
    # A node started alone elects itself within a moment of listening.
    assert http.get("/_cluster/health", params={"wait_for_nodes": "1"}).status_code == 200
    deadline = time.monotonic() + 10
    while http.get("/_cat/master").text.startswith("-") and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = http.get("/_cat/master", params={"format": "json"}).json()
    assert len(rows) == 1 and rows[0]["node"] == node.name and set(rows[0]) == {"id", "host", "ip", "node"}
    header, line = http.get("/_cat/nodes", params={"v": "true"}).text.splitlines()
    assert header.split() == [
        "ip",
        "heap.percent",
        "ram.percent",
        "cpu",
        "load_1m",
        "load_5m",
        "load_15m",
        "node.role",
        "master",
        "name",
    ]
    assert re.fullmatch(
        r"127\.0\.0\.1 +\d+ +\d+ +\d+ +[\d.]+ +[\d.]+ +[\d.]+ +[a-z]+ +\* +" + node.name, line
    )
    nodes = http.get(
        "/_cat/nodes",
        params={"format": "json", "h": "id,name,disk.total,heap.max", "bytes": "b", "full_id": "true"},
    ).json()
    state = http.get("/_cluster/state/nodes").json()
    assert (
        nodes[0]["id"] in state["nodes"] and int(nodes[0]["disk.total"]) > 0 and int(nodes[0]["heap.max"]) > 0
    )
    short = http.get("/_cat/nodes", params={"h": "id"}).text
    assert re.fullmatch(r"\S{4}\n", short)
    disk = http.get("/_cat/nodes", params={"h": "diskAvail,diskTotal,diskUsed,diskUsedPercent"}).text
    assert re.fullmatch(
        r"\s*\d+(\.\d+)?[kmgtp]?b +\d+(\.\d+)?[kmgtp]?b +\d+(\.\d+)?[kmgtp]?b +\d+\.\d\d\n", disk
    )


def test_cat_health(http):
    header, line = http.get("/_cat/health", params={"v": "true"}).text.splitlines()
    assert header.split() == [
        "epoch",
        "timestamp",
        "cluster",
        "status",
        "node.total",
        "node.data",
        "shards",
        "pri",
        "relo",
        "init",
        "unassign",
        "unassign.pri",
        "pending_tasks",
        "max_task_wait_time",
        "active_shards_percent",
    ]
    assert re.fullmatch(r"\d+ +\d\d:\d\d:\d\d +\S+ +\w+ +1 +1( +\d+){6} +\d+ +(-|\S+) +\d+\.\d%", line)
    no_ts = http.get("/_cat/health", params={"ts": "false", "format": "json"}).json()[0]
    assert "epoch" not in no_ts and no_ts["node.total"] == "1"
    help_lines = http.get("/_cat/health", params={"help": "true"}).text.splitlines()
    assert [h.split("|")[0].strip() for h in help_lines][:3] == ["epoch", "timestamp", "cluster"]


def test_cat_indices(http, two):
    a, b = two
    rows = http.get(f"/_cat/indices/{a},{b}", params={"format": "json", "bytes": "b", "s": "index"}).json()
    assert [r["index"] for r in rows] == [a, b]
    assert rows[0]["health"] == "green" and rows[1]["health"] == "yellow"
    assert rows[1]["pri"] == "2" and rows[1]["rep"] == "1" and rows[1]["docs.count"] == "1"
    assert set(rows[0]) == {
        "health",
        "status",
        "index",
        "uuid",
        "pri",
        "rep",
        "docs.count",
        "docs.deleted",
        "store.size",
        "pri.store.size",
        "dataset.size",
    }
    assert int(rows[1]["store.size"]) > 0
    assert http.get(f"/_cat/indices/{a},{b}", params={"health": "yellow", "h": "i"}).text == f"{b}\n"
    text = http.get(f"/_cat/indices/{a},{b}", params={"h": "i,docs.count,cds", "s": "docs.count:desc"}).text
    lines = text.splitlines()
    assert lines[0].startswith(b) and re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", lines[0])
    assert http.get("/_cat/indices", params={"health": "purple"}).status_code == 400
    assert http.get("/_cat/indices", params={"s": "nope"}).status_code == 400


def test_cat_count_counts_what_a_search_sees(http, index_name):
    """RestCountAction: epoch, timestamp and the exact hit count of a size-0 search, whose
    query comes from `q` or the body; deleted documents are not counted."""
    a, b = f"{index_name}-a", f"{index_name}-b"
    http.put(f"/{a}", json={"settings": {"number_of_shards": 2, "number_of_replicas": 0}})
    http.put(f"/{b}", json={"settings": {"number_of_shards": 1, "number_of_replicas": 0}})
    for i in range(4):
        http.put(f"/{a}/_doc/{i}", json={"n": i, "tag": "odd" if i % 2 else "even"})
    http.put(f"/{b}/_doc/1", json={"n": 1})
    http.delete(f"/{a}/_doc/0")
    http.post(f"/{index_name}-*/_refresh")
    header, line = http.get(f"/_cat/count/{index_name}-*", params={"v": "true"}).text.splitlines()
    assert header.split() == ["epoch", "timestamp", "count"]
    assert re.fullmatch(r"\d+ \d\d:\d\d:\d\d  4", line)
    assert http.get(f"/_cat/count/{a}", params={"format": "json", "h": "dc"}).json() == [{"dc": "3"}]
    assert http.get(f"/{a}/_count").json()["count"] == 3
    assert http.get(f"/_cat/count/{a}", params={"h": "count", "q": "tag:odd"}).text == "2\n"
    body = {"query": {"term": {"n": 1}}}
    assert http.request("GET", f"/_cat/count/{index_name}-*", params={"h": "count"}, json=body).text == "2\n"
    assert http.get(f"/_cat/count/{a}", params={"ts": "false", "format": "json"}).json() == [{"count": "3"}]
    assert http.get("/_cat/count/nope-nothing").status_code == 404
    assert "/_cat/count/{index}" in http.get("/_cat").text.splitlines()


def test_cat_shards_and_allocation(http, two):
    a, b = two
    lines = http.get(f"/_cat/shards/{b}", params={"s": "shard,prirep"}).text.splitlines()
    assert [ln.split()[:4] for ln in lines] == [
        [b, "0", "p", "STARTED"],
        [b, "0", "r", "UNASSIGNED"],
        [b, "1", "p", "STARTED"],
        [b, "1", "r", "UNASSIGNED"],
    ]
    docs = http.get(
        f"/_cat/shards/{a},{b}", params={"h": "index,docs", "s": "docs:desc", "format": "json"}
    ).json()
    assert docs[0] == {"index": b, "docs": "1"}
    allocation = http.get("/_cat/allocation", params={"v": "true", "bytes": "b"}).text.splitlines()
    assert allocation[0].split()[:3] == ["shards", "shards.undesired", "write_load.forecast"]
    assert any(line.split()[-1] == "UNASSIGNED" for line in allocation[1:])


def test_cat_tasks_takes_h_and_s(http):
    rows = http.get("/_cat/tasks", params={"format": "json", "h": "action,node", "s": "action"}).json()
    assert rows and all(set(r) == {"action", "node"} for r in rows)
    assert any(r["action"] == "cluster:monitor/tasks/lists" for r in rows)
    header = http.get("/_cat/tasks", params={"v": "true"}).text.splitlines()[0].split()
    assert header == [
        "action",
        "task_id",
        "parent_task_id",
        "type",
        "start_time",
        "timestamp",
        "running_time",
        "ip",
        "node",
    ]


def test_the_official_client_cats(es, two):
    nodes = es.cat.nodes(format="json")
    assert nodes[0]["master"] == "*"
    assert es.cat.master(format="json")[0]["node"]
    assert es.cat.health(format="json")[0]["status"] in ("green", "yellow")
    assert {r["index"] for r in es.cat.indices(index=list(two), format="json")} == set(two)
    assert len(es.cat.shards(index=two[1], format="json")) == 4
