"""`strata up` starts a local node or cluster, prints where it listens and stops it on Ctrl-C."""

import os
import re
import signal
import subprocess
import sys
import time

import httpx

from tests.support.node_process import ROOT


def test_strata_up_serves_and_stops_on_ctrl_c(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "node"))
    proc = subprocess.Popen([sys.executable, "-m", "strata_node.cli", "up", "--nodes", "1",
                             "--http-port", "0",
                             "--data", str(tmp_path / "data"), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=tmp_path)
    try:
        url = None
        deadline = time.monotonic() + 30
        lines = []
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            m = re.search(r"Strata is up: (http://\S+)", line)
            url = m.group(1) if m else None
        assert url, "".join(lines)
        assert httpx.get(url).json()["cluster_name"] == "strata"
        httpx.put(f"{url}/kept/_doc/1", json={"a": 1}).raise_for_status()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert (tmp_path / "data" / "node-1" / "indices").is_dir()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_strata_up_starts_a_three_node_cluster_with_one_master(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "node"))
    proc = subprocess.Popen([sys.executable, "-m", "strata_node.cli", "up", "--nodes", "3",
                             "--http-port", "0",
                             "--transport-port", "0", "--data", str(tmp_path / "data"), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=tmp_path)
    try:
        lines = []
        deadline = time.monotonic() + 60
        up = None
        while up is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            up = re.search(r"Strata is up: (http://\S+) .*3 nodes, master \[(node-\d)\]", line)
        assert up, "".join(lines)
        nodes_line = proc.stdout.readline()
        urls = re.findall(r"http://\S+", nodes_line)
        assert len(urls) == 3
        masters = {httpx.get(f"{u}/_cat/master", params={"format": "json"}).json()[0]["node"] for u in urls}
        assert masters == {up.group(2)}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        folders = sorted(p.name for p in (tmp_path / "data").iterdir() if p.is_dir())
        assert folders == ["node-0", "node-1", "node-2"]
        assert ((tmp_path / "data" / "transport.secret").stat().st_mode & 0o777) == 0o600
    finally:
        if proc.poll() is None:
            proc.kill()
