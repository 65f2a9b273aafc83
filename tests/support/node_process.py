"""Start and stop real `strata-node` processes for integration tests and benchmarks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (http://[\d.]+:\d+)")
TRANSPORT = re.compile(r"transport listening on ([\d.]+:\d+)")
TRANSCRIPT_LINES = 20_000
DISK_PREFIX = "cluster.routing.allocation.disk."

# Every node process made, for the report of a failed test (tests/conftest.py).
_made: weakref.WeakSet[NodeProcess] = weakref.WeakSet()


def made_nodes() -> list[NodeProcess]:
    return list(_made)


class NodeProcess:
    """One node process on an ephemeral loopback port, with its own data folder."""

    def __init__(self, data: Path, *settings: str, name: str = "node-1", port: int = 0,
                 env: dict[str, str] | None = None):
        self.data = Path(data)
        self.settings = list(settings)
        self.env = dict(env or {})  # beside this process's environment
        self.name = name
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.transport_address = ""
        self.log: list[str] = []
        # What every run of this node printed, restarts and kills included (`log` is the
        # current run's): a failed test reports it. `lines` counts all ever appended.
        self.transcript: deque[str] = deque(maxlen=TRANSCRIPT_LINES)
        self.lines = 0
        self._runs = 0
        self._lines = threading.Condition()
        _made.add(self)

    def start(self, timeout: float = 30.0) -> NodeProcess:
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "node"), env.get("PYTHONPATH", "")])
        args = [sys.executable, "-m", "strata_node", "--config", str(self.data / "strata.yml"),
                "-E", f"path.data={self.data}", "-E", f"http.port={self.port}",
                "-E", f"node.name={self.name}"]
        if not any(s.startswith("transport.port=") for s in self.settings):
            args += ["-E", "transport.port=0"]
        if not any(s.startswith(DISK_PREFIX) for s in self.settings):
            # As ES's test clusters: the disk decider and monitor run, but a test machine's
            # full disk never keeps a replica unassigned nor blocks an index.
            for stage in ("low", "high", "flood_stage"):
                args += ["-E", f"{DISK_PREFIX}watermark.{stage}=1b"]
        for s in self.settings:
            args += ["-E", s]
        self.log = []
        self._runs += 1
        self._record(f"=== {self.name}: run {self._runs} ===\n")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                     text=True, bufsize=1)
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + timeout
        with self._lines:
            while True:
                for line in self.log:
                    t = TRANSPORT.search(line)
                    if t:
                        self.transport_address = t.group(1)
                    m = LISTENING.search(line)
                    if m:
                        self.url = m.group(1)
                        self.port = int(self.url.rsplit(":", 1)[1])
                        return self
                if self.proc.poll() is not None:
                    self.proc.wait()
                    time.sleep(0.1)
                    raise RuntimeError(f"node exited with {self.proc.returncode}:\n" + "".join(self.log))
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError("node did not start in time:\n" + "".join(self.log))
                self._lines.wait(0.1)

    def wait_for_shards(self, timeout: str = "30s") -> NodeProcess:
        """Until no shard copy is initializing: after a restart, reads go to started copies
        only (a failed copy is unassigned, so this does not wait for it)."""
        with self.client() as c:
            c.get("/_cluster/health", params={"wait_for_no_initializing_shards": "true",
                                              "timeout": timeout}).raise_for_status()
        return self

    def _pump(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            with self._lines:
                self.log.append(line)
                self._record(line)
                self._lines.notify_all()

    def _record(self, line: str) -> None:
        self.transcript.append(line)
        self.lines += 1

    def transcript_since(self, mark: int, limit: int) -> str:
        """The last `limit` lines this node printed after it had printed `mark` lines."""
        new = min(self.lines - mark, len(self.transcript), limit)
        if new <= 0:
            return ""
        skipped = self.lines - mark - new
        head = f"[{skipped} earlier lines left out]\n" if skipped else ""
        return head + "".join(list(self.transcript)[-new:])

    def output(self) -> str:
        return "".join(self.log)

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 30.0), **kwargs)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        """kill -9: no flush, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self._record(f"=== {self.name}: killed (SIGKILL) ===\n")
