"""Start-up and shutdown of a node process: settings, ports, data folder, SIGTERM."""

import socket

import httpx
import pytest

from tests.support.node_process import NodeProcess


def test_unknown_setting_stops_startup_with_exit_code_78(tmp_path):
    with pytest.raises(RuntimeError) as failure:
        NodeProcess(tmp_path, "cluster.nmae=x").start()
    message = str(failure.value)
    assert "exited with 78" in message
    assert "unknown setting [cluster.nmae] did you mean [cluster.name]?" in message


def test_mistyped_setting_value_stops_startup(tmp_path):
    with pytest.raises(RuntimeError, match=r"Failed to parse value \[nine\] for setting \[transport.port\]"):
        NodeProcess(tmp_path, "transport.port=nine").start()


def test_settings_file_then_environment_then_flags(tmp_path, monkeypatch):
    (tmp_path / "strata.yml").write_text("cluster:\n  name: from-file\nnode.name: file-node\n")
    monkeypatch.setenv("STRATA_SETTING_CLUSTER_NAME", "from-env")
    node = NodeProcess(tmp_path, name="flag-node").start()
    try:
        info = httpx.get(node.url).json()
        assert info["cluster_name"] == "from-env"
        assert info["name"] == "flag-node"
    finally:
        node.stop()


def test_busy_port_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match=rf"failed to bind HTTP on \[127.0.0.1:{port}\]"):
            NodeProcess(tmp_path, port=port).start()


def test_two_nodes_cannot_share_a_data_folder(tmp_path):
    first = NodeProcess(tmp_path).start()
    try:
        with pytest.raises(RuntimeError, match="failed to obtain node locks"):
            NodeProcess(tmp_path, name="second").start()
    finally:
        first.stop()


def test_unusable_data_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RuntimeError, match="is not usable"):
        NodeProcess(tmp_path, f"path.data={blocker / 'data'}").start()


def test_sigterm_flushes_shards_and_exits_cleanly(tmp_path):
    node = NodeProcess(tmp_path).start()
    with node.client() as http:
        http.put("/logs/_doc/1?refresh=true", json={"a": 1}).raise_for_status()
    assert node.stop() == 0
    assert "stopped" in node.output()
    # A flush on close committed everything: the translog holds no operation to replay.
    node.start().wait_for_shards()
    try:
        assert "operations from the translog" not in node.output()
        with node.client() as http:
            assert http.get("/logs/_doc/1").json()["_source"] == {"a": 1}
    finally:
        node.stop()


def test_shutdown_does_not_wait_for_a_pending_health_wait(tmp_path):
    import threading
    import time

    node = NodeProcess(tmp_path).start()
    answers = []

    def wait_for_green():
        with node.client(timeout=60) as http:
            http.put("/yellow").raise_for_status()  # one replica: never green on one node
            answers.append(http.get("/_cluster/health", params={"wait_for_status": "green",
                                                                "timeout": "50s"}))

    waiter = threading.Thread(target=wait_for_green)
    waiter.start()
    time.sleep(1.0)
    started = time.monotonic()
    assert node.stop() == 0
    waiter.join(10)
    assert time.monotonic() - started < 10
    assert answers and answers[0].json()["error"]["type"] == "node_closed_exception"


def test_a_local_cluster_whose_node_cannot_start_leaves_no_node_running(tmp_path):
    """A cluster fixture that fails in its setup never reaches its teardown: the nodes that
    did start are stopped with the failure, not left running for the rest of the suite."""
    from tests.support.cluster import LocalCluster

    cluster = LocalCluster(tmp_path, ["a", "b"])
    port = int(next(s for s in cluster.nodes[0].settings if s.startswith("transport.port=")).split("=")[1])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        with pytest.raises(RuntimeError, match="Address already in use"):
            cluster.start()
    assert all(node.proc is None or node.proc.poll() is not None for node in cluster.nodes)
