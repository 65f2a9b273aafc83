"""Every REST route's handler does its work by executing a registered top-level transport
action through the node client (Elasticsearch's NodeClient), the one its route names.

The node is built (settings, data folder, every action registered) but not started: each
handler is called with a well-formed request while the node client only records what it
is asked to execute, so a handler that reads a service itself, or executes another action
than its route says, fails here.
"""

import asyncio

import pytest

from strata_node.node import Node
from strata_node.rest.request import RestRequest
from strata_node.settings import NodeSettings

PATH_PARAMS = {"index": "logs", "id": "1", "name": "n", "task_id": "node-x:7", "node_id": "_local",
               "metric": "_all", "index_metric": "docs", "fields": "message", "repository": "r",
               "snapshot": "s", "new_index": "logs-2"}
NDJSON_BULK = b'{"index":{"_index":"logs"}}\n{"message":"hi"}\n'
# Bodies and parameters of the routes that refuse to run without them (method, path).
BODIES = {
    ("POST", "_bulk"): NDJSON_BULK, ("PUT", "_bulk"): NDJSON_BULK,
    ("POST", "{index}/_bulk"): NDJSON_BULK, ("PUT", "{index}/_bulk"): NDJSON_BULK,
    ("PUT", "{index}/_doc/{id}"): b'{"message":"hi"}', ("POST", "{index}/_doc/{id}"): b'{"message":"hi"}',
    ("PUT", "{index}/_create/{id}"): b'{"message":"hi"}',
    ("POST", "{index}/_create/{id}"): b'{"message":"hi"}',
    ("POST", "{index}/_doc"): b'{"message":"hi"}',
    ("POST", "{index}/_update/{id}"): b'{"doc":{"message":"hi"}}',
    ("GET", "_mget"): b'{"docs":[{"_index":"logs","_id":"1"}]}',
    ("POST", "_mget"): b'{"docs":[{"_index":"logs","_id":"1"}]}',
    ("GET", "{index}/_mget"): b'{"ids":["1"]}', ("POST", "{index}/_mget"): b'{"ids":["1"]}',
    ("GET", "_msearch"): b"{}\n{}\n", ("POST", "_msearch"): b"{}\n{}\n",
    ("GET", "{index}/_msearch"): b"{}\n{}\n", ("POST", "{index}/_msearch"): b"{}\n{}\n",
    ("POST", "_aliases"): b'{"actions":[{"add":{"index":"logs","alias":"a"}}]}',
    ("PUT", "{index}/_mapping"): b'{"properties":{"message":{"type":"text"}}}',
    ("POST", "{index}/_mapping"): b'{"properties":{"message":{"type":"text"}}}',
    ("PUT", "_settings"): b'{"index":{"number_of_replicas":1}}',
    ("PUT", "{index}/_settings"): b'{"index":{"number_of_replicas":1}}',
    ("PUT", "_cluster/settings"): b'{"persistent":{"cluster.routing.allocation.enable":"all"}}',
    ("PUT", "_component_template/{name}"): b'{"template":{}}',
    ("POST", "_component_template/{name}"): b'{"template":{}}',
    ("PUT", "_index_template/{name}"): b'{"index_patterns":["logs-*"]}',
    ("POST", "_index_template/{name}"): b'{"index_patterns":["logs-*"]}',
    ("PUT", "_nodes/{node_id}/shutdown"): b'{"type":"restart","reason":"maintenance"}',
    ("POST", "_reserved_state/_validate"): b'{"metadata":{"version":"1"},"state":{}}',
    ("POST", "_strata/fault/disconnect"): b'{"nodes":[]}',
    ("POST", "_strata/fault/fail_shard"): b'{"index":"logs","shard":0}',
    ("POST", "_strata/fault/search_delay"): b'{"millis":0}',
    ("PUT", "_strata/persistent/{task_id}"): b'{"name":"strata/test/counter"}',
    ("PUT", "_autoscaling/policy/{name}"): b'{"roles":[],"deciders":{"fixed":{}}}',
    ("GET", "_analyze"): b'{"text":"hi"}', ("POST", "_analyze"): b'{"text":"hi"}',
    ("GET", "{index}/_analyze"): b'{"text":"hi"}', ("POST", "{index}/_analyze"): b'{"text":"hi"}',
    ("POST", "_reindex"): b'{"source":{"index":"logs"},"dest":{"index":"copy"}}',
    ("POST", "{index}/_delete_by_query"): b'{"query":{"match_all":{}}}',
    ("POST", "{index}/_rollover"): b'{"conditions":{"max_docs":1,"min_age":"1d"}}',
}
BODIES.update({(method, "_snapshot/{repository}"): b'{"type":"fs","settings":{"location":"r"}}'
               for method in ("PUT", "POST")})
PARAMS = {("POST", "_cluster/voting_config_exclusions"): {"node_names": "node-x"}}
PARAMS.update({("POST", f"{action}/{{task_id}}/_rethrottle"): {"requests_per_second": "10"}
               for action in ("_reindex", "_update_by_query", "_delete_by_query")})


class Executed(Exception):
    """Where the recording client stops a handler: at its first action."""

    def __init__(self, action, request):
        super().__init__(action)
        self.action = action
        self.request = request


class RecordingClient:
    async def execute(self, action, request, *, on_task=None):
        raise Executed(action, request)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    n = Node(NodeSettings({"path.data": str(tmp_path_factory.mktemp("routes")),
                           "strata.test_actions.enabled": True, "strata.fault_injection": True}))
    n.prepare_data_path()
    yield n
    for executor in n.executors.values():
        executor.shutdown()


def rest_request(route):
    path = "/".join(route.pattern)
    path_params = {p[1:-1]: PATH_PARAMS[p[1:-1]] for p in route.pattern if p.startswith("{")}
    return RestRequest(route.method, "/" + path, dict(PARAMS.get((route.method, path), {})), path_params,
                       BODIES.get((route.method, path), b""))


def test_every_route_names_a_registered_transport_action_or_is_static(node):
    unregistered = [(r.method, "/".join(r.pattern), r.action) for r in node.rest.routes
                    if not r.static and not node.transport.is_registered(r.action)]
    assert unregistered == []
    assert [(r.method, "/".join(r.pattern)) for r in node.rest.routes if r.static] == [("GET", "_cat")]


def test_every_route_handler_executes_the_action_its_route_names(node, monkeypatch):
    monkeypatch.setattr(node, "client", RecordingClient())
    wrong = []
    for route in node.rest.routes:
        if route.static:
            continue
        try:
            asyncio.run(route.handler(rest_request(route)))
        except Executed as e:
            if e.action != route.action:
                wrong.append((route.method, "/".join(route.pattern), route.action, e.action))
        else:
            wrong.append((route.method, "/".join(route.pattern), route.action, "nothing"))
    assert wrong == []


def test_the_static_cat_help_runs_no_action(node, monkeypatch):
    monkeypatch.setattr(node, "client", RecordingClient())
    [route] = [r for r in node.rest.routes if r.static]
    response = asyncio.run(route.handler(rest_request(route)))
    assert response.status == 200 and response.body.startswith("=^.^=\n")
