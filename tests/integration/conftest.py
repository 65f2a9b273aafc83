import re

import pytest
from elasticsearch import Elasticsearch

from tests.support.node_process import NodeProcess


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """One node shared by the tests of a module; tests use their own index names."""
    n = NodeProcess(tmp_path_factory.mktemp("node"), "action.destructive_requires_name=false").start()
    yield n
    n.stop()


@pytest.fixture
def fresh_node(tmp_path):
    """A node of the test's own, for tests that restart or kill it."""
    nodes = []

    def make(*settings: str) -> NodeProcess:
        n = NodeProcess(tmp_path / "data", *settings)
        nodes.append(n)
        return n

    yield make
    for n in nodes:
        n.kill()


@pytest.fixture
def http(node):
    with node.client() as c:
        yield c


@pytest.fixture(scope="module")
def es(node):
    """elasticsearch-py on the module's node, as an application would use it."""
    client = Elasticsearch(node.url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def index_name(request) -> str:
    """An index name of the test's own."""
    return re.sub(r"[^a-z0-9_-]", "-", request.node.name.lower())[:200]


@pytest.fixture
def index(index_name, http) -> str:
    """An empty index of the test's own (1 shard, 0 replicas), named after the test."""
    name = index_name
    created = http.put(f"/{name}", json={"settings": {"number_of_shards": 1, "number_of_replicas": 0}})
    assert created.status_code == 200, created.text
    return name
