"""`strata up` starts a local node, prints where it listens and stops it on Ctrl-C."""

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
    proc = subprocess.Popen([sys.executable, "-m", "strata_node.cli", "up", "--http-port", "0",
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
