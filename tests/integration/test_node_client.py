"""REST requests run as the top-level transport actions they execute through the node
client: listed under Elasticsearch's action names with the client's X-Opaque-Id, their
shard-level requests as children; and a top-level action is as closed to a foreign
transport client as any internal one, while a member of the cluster may call it remotely."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest

from strata_node.action.get import GET, GetDocumentRequest, GetDocumentResponse, GetRequest
from strata_node.action.search_actions import SEARCH, SearchActionRequest, SearchActionResponse
from strata_node.action.write_actions import (
    BULK,
    BulkRequest,
    BulkRequestItem,
    BulkResponse,
    WriteRequestOptions,
)
from strata_node.tasks.manager import TaskManager
from strata_node.transport.auth import AuthenticationFailed
from strata_node.transport.service import TransportService
from tests.support.node_process import NodeProcess
from tests.support.polling import wait_until

SECRET = "node-client-secret"
NDJSON = {"content-type": "application/x-ndjson"}


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    n = NodeProcess(tmp_path_factory.mktemp("node-client"), "strata.fault_injection=true",
                    f"transport.secret={SECRET}").start()
    with n.client() as c:
        c.put("/logs", json={"settings": {"number_of_shards": 2}}).raise_for_status()
        c.post("/logs/_bulk", params={"refresh": "true"}, content=b'{"index":{}}\n{"message":"hello"}\n',
               headers=NDJSON).raise_for_status()
    yield n
    n.stop()


def wait_for(condition, timeout=20.0):
    return wait_until(condition, timeout=timeout, interval=0.02)


def listed(node, actions):
    with node.client() as c:
        body = c.get("/_tasks", params={"actions": actions, "detailed": "true"}).json()
    return {tid: t for n in body["nodes"].values() for tid, t in n["tasks"].items()}


def in_background(send):
    answers = []
    thread = threading.Thread(target=lambda: answers.append(send()), daemon=True)
    thread.start()
    return thread, answers


def big_bulk(docs):
    line = b'{"index":{"_index":"logs"}}\n{"message":"' + b"x" * 200 + b'"}\n'
    return line * docs


def test_a_running_bulk_is_listed_as_indices_data_write_bulk_with_the_clients_opaque_id(node):
    body = big_bulk(60_000)

    def send():
        with node.client(timeout=120) as c:
            return c.post("/_bulk", content=body, headers={"X-Opaque-Id": "bulk-7", **NDJSON})

    thread, answers = in_background(send)
    tasks = wait_for(lambda: (found := listed(node, "indices:data/write/bulk*"))
                     and any(t["action"] == "indices:data/write/bulk[s]" for t in found.values()) and found)
    [(bulk_id, bulk)] = [(tid, t) for tid, t in tasks.items() if t["action"] == "indices:data/write/bulk"]
    assert bulk["headers"] == {"X-Opaque-Id": "bulk-7"}
    assert bulk["type"] == "transport" and "parent_task_id" not in bulk
    assert bulk["description"] == "requests[60000], indices[logs]"
    shards = [t for t in tasks.values() if t["action"] == "indices:data/write/bulk[s]"]
    assert all(t["parent_task_id"] == bulk_id and t["headers"] == {"X-Opaque-Id": "bulk-7"} for t in shards)
    thread.join(120)
    assert answers[0].status_code == 200 and answers[0].json()["errors"] is False


def test_a_running_search_is_listed_as_indices_data_read_search_and_is_cancellable(node):
    with node.client() as c:
        c.post("/_strata/fault/search_delay", json={"millis": 60_000}).raise_for_status()
    try:
        def send():
            with node.client(timeout=120) as c:
                return c.post("/logs/_search", json={"query": {"match": {"message": "hello"}}},
                              headers={"X-Opaque-Id": "search-9"})

        thread, answers = in_background(send)
        tasks = wait_for(lambda: (found := listed(node, "indices:data/read/search*")) and len(found) == 3
                         and found)
        [(search_id, search)] = [(tid, t) for tid, t in tasks.items()
                                 if t["action"] == "indices:data/read/search"]
        assert search["headers"] == {"X-Opaque-Id": "search-9"} and search["cancellable"] is True
        assert search["description"] == ('indices[logs], search_type[QUERY_THEN_FETCH], '
                                         'source[{"query":{"match":{"message":"hello"}}}]')
        phases = [t for t in tasks.values() if t["action"] == "indices:data/read/search[phase/query]"]
        assert len(phases) == 2 and all(t["parent_task_id"] == search_id for t in phases)
        with node.client() as c:
            c.post(f"/_tasks/{search_id}/_cancel").raise_for_status()
        thread.join(20)
        assert answers[0].json()["error"]["type"] == "task_cancelled_exception"
    finally:
        with node.client() as c:
            c.post("/_strata/fault/search_delay", json={"millis": 0}).raise_for_status()


def test_a_client_that_disconnects_from_a_search_cancels_the_search_action(node):
    with node.client() as c:
        c.post("/_strata/fault/search_delay", json={"millis": 60_000}).raise_for_status()
    try:
        with pytest.raises(httpx.ReadTimeout), node.client(timeout=1.0) as short:
            short.post("/logs/_search", json={})
        wait_for(lambda: not listed(node, "indices:data/read/search*"), timeout=10)
    finally:
        with node.client() as c:
            c.post("/_strata/fault/search_delay", json={"millis": 0}).raise_for_status()


def transport_client(secret):
    return TransportService(node_id="caller", node_name="caller", cluster_name="strata", secret=secret,
                            tasks=TaskManager("caller"), executors={"generic": ThreadPoolExecutor(1)})


def one_document_bulk(message):
    item = BulkRequestItem(action="index", index="remote", id=message, source=orjson.dumps({"m": message}))
    return BulkRequest(options=WriteRequestOptions(refresh="true"), items=[item])


async def call(node, action, request, response_type, secret=SECRET):
    client = transport_client(secret)
    try:
        return await client.execute(action, request, response_type, address=node.transport_address,
                                    timeout=30)
    finally:
        await client.close()


async def call_bulk(node, secret, message):
    return await call(node, BULK, one_document_bulk(message), BulkResponse, secret)


def test_a_foreign_transport_client_cannot_run_the_bulk_action_that_rest_runs(node):
    with pytest.raises(AuthenticationFailed):
        asyncio.run(call_bulk(node, "a guess", "foreign"))
    assert "refused transport request" in node.output()
    with node.client() as c:
        assert c.get("/remote/_doc/foreign").status_code == 404
        via_rest = c.post("/_bulk", params={"refresh": "true"},
                          content=b'{"index":{"_index":"remote","_id":"rest"}}\n{"m":"rest"}\n',
                          headers=NDJSON)
        assert via_rest.status_code == 200 and via_rest.json()["errors"] is False
        assert c.get("/remote/_doc/rest").json()["found"] is True


def test_a_member_of_the_cluster_runs_the_same_bulk_action_remotely(node):
    response = asyncio.run(call_bulk(node, SECRET, "member"))
    assert response.errors is False
    assert response.items[0]["index"]["result"] == "created"
    with node.client() as c:
        assert c.get("/remote/_doc/member").json()["_source"] == {"m": "member"}


def test_a_member_of_the_cluster_reads_a_document_remotely(node):
    request = GetDocumentRequest(get=GetRequest(index="remote", id="member"))
    response = asyncio.run(call(node, GET, request, GetDocumentResponse))
    assert response.body["found"] is True and response.body["_source"] == {"m": "member"}


def test_a_member_of_the_cluster_searches_remotely(node):
    body = b'{"query":{"term":{"m.keyword":"member"}},"aggs":{"m":{"terms":{"field":"m.keyword"}}}}'
    request = SearchActionRequest(index="remote", options={}, body=body, params={})
    response = asyncio.run(call(node, SEARCH, request, SearchActionResponse))
    assert [h["_source"] for h in response.body["hits"]["hits"]] == [{"m": "member"}]
    assert response.body["aggregations"]["m"]["buckets"] == [{"key": "member", "doc_count": 1}]
