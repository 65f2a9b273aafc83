"""A real local cluster for integration tests: N node processes on loopback that discover
each other through `discovery.seed_hosts` and bootstrap from `cluster.initial_master_nodes`,
as `strata up --nodes N` starts them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from elasticsearch import Elasticsearch

from strata_node.common.net import free_ports
from tests.support.node_process import NodeProcess

SECRET = "transport.secret=integration-test-secret"
# The test and demo actions (`/_strata/sleep`, `/_strata/persistent`), off unless a test asks.
TEST_ACTIONS = "strata.test_actions.enabled=true"


def start_all(nodes: list[NodeProcess]) -> None:
    """Start node processes side by side (each takes a second or two to import)."""
    errors: list[BaseException] = []

    def start(node: NodeProcess) -> None:
        try:
            node.start()
        except BaseException as e:  # reported below, after every thread ended
            errors.append(e)

    threads = [threading.Thread(target=start, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@contextmanager
def elasticsearch_clients(cluster: LocalCluster, timeout: float = 60) -> Iterator[list[Elasticsearch]]:
    """One elasticsearch-py client per node of the cluster, in the nodes' order."""
    clients = [Elasticsearch(n.url, request_timeout=timeout) for n in cluster.nodes]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


class LocalCluster:
    def __init__(self, root: Path, names: list[str], *settings: str, roles: dict[str, str] | None = None,
                 env: dict[str, str] | None = None):
        ports = free_ports(len(names))
        seeds = ",".join(f"127.0.0.1:{p}" for p in ports)
        masters = [n for n in names if roles is None or "master" in roles.get(n, "master")]
        self.nodes: list[NodeProcess] = []
        for name, port in zip(names, ports, strict=True):
            node_settings = [SECRET, f"transport.port={port}", f"discovery.seed_hosts={seeds}",
                             f"cluster.initial_master_nodes={','.join(masters)}", *settings]
            if roles is not None and name in roles:
                node_settings.append(f"node.roles={roles[name]}")
            self.nodes.append(NodeProcess(root / name, *node_settings, name=name, env=env))

    def start(self) -> LocalCluster:
        """Start every node and wait until they form the cluster; when one fails, stop the
        others (a fixture that fails here never reaches its teardown)."""
        try:
            start_all(self.nodes)
            self.wait_for_nodes(len(self.nodes))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def running(self) -> list[NodeProcess]:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    @staticmethod
    def master_name(via: NodeProcess) -> str | None:
        with via.client(timeout=5) as c:
            rows = c.get("/_cat/master", params={"format": "json"}).json()
        return rows[0]["node"] if rows and rows[0].get("node") not in (None, "-") else None

    def wait_for_nodes(self, count: int, timeout: float = 30.0,
                       nodes: list[NodeProcess] | None = None) -> str:
        """Until every running node (or each of `nodes`) sees the same master and `count`
        nodes; answers the master's name."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                views = []
                for node in nodes or self.running():
                    with node.client(timeout=5) as c:
                        health = c.get("/_cluster/health").json()
                    views.append((health.get("number_of_nodes"), self.master_name(node)))
                last = views
                if all(v == (count, views[0][1]) and v[1] is not None for v in views):
                    return views[0][1]
            except Exception as e:  # a node still starting or just killed: look again
                last = repr(e)
            time.sleep(0.1)
        raise AssertionError(f"cluster did not reach {count} nodes with one master: {last}")

    def node(self, name: str) -> NodeProcess:
        return next(n for n in self.nodes if n.name == name)
