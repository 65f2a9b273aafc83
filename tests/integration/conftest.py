import pytest

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
