"""Coordination figures on real local node processes (issue 5's benchmark).

    python bench/coordination.py                      # failover on 3 and 5 nodes, publication on 3/5/9
    python bench/coordination.py --runs 3 --nodes 3   # a quicker run

1. Failover: a cluster of N master-eligible nodes with default settings; kill -9 the
   elected master and time until every survivor reports one new master and a cluster state
   newer than the one before the kill (that is, the new master committed a state). The
   killed node is restarted and rejoins between runs. Median and max of --runs. Then the
   same with the master frozen (SIGSTOP) instead: no connection is refused, so only the
   leader checks' timeouts can notice, as with a machine that hangs or drops off the net.
2. Publication: on a cluster of N nodes, one cluster settings change at a time through the
   master; reports the client-side latency of `PUT /_cluster/settings` (answered once the
   master has committed and applied the state), and the master's own commit and completion
   times per publication from `_nodes/stats/discovery` (completion: every node applied it),
   as Elasticsearch reports them. `--indices N` (default 1,000) indices are created first,
   round-robin over the nodes, so each published state carries their metadata and routing
   (a change travels as a diff; every node persists the whole state).

Targets (printed beside the figures): failover under 5 s, publication under 100 ms at 5
nodes. Figures, never pass/fail.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cluster import LocalCluster  # noqa: E402

FAILOVER_TARGET_S = 5.0
PUBLICATION_TARGET_MS = 100.0


def master_and_version(node) -> tuple[str | None, int]:
    with httpx.Client(base_url=node.url, timeout=2) as c:
        body = c.get("/_cluster/state/master_node,version").json()
    return body.get("master_node"), body.get("version", -1)


def freeze(node) -> None:
    """SIGSTOP: the process stops answering but its sockets stay open, as a hung machine's
    would; only the checks' timeouts can find it."""
    os.kill(node.proc.pid, signal.SIGSTOP)


def thaw_and_restart(node) -> None:
    os.kill(node.proc.pid, signal.SIGCONT)
    node.kill()
    node.start()


def measure_failover(cluster: LocalCluster, runs: int, frozen: bool = False) -> list[float]:
    times = []
    for run in range(runs):
        master_name = cluster.wait_for_nodes(len(cluster.nodes), timeout=60)
        master = cluster.node(master_name)
        survivors = [n for n in cluster.nodes if n is not master]
        old_master_id, version = master_and_version(survivors[0])
        if frozen:
            freeze(master)
        else:
            master.kill()
        killed = time.monotonic()
        while True:
            try:
                views = [master_and_version(n) for n in survivors]
            except httpx.HTTPError:
                views = []
            if views and all(v[0] not in (None, old_master_id) and v == views[0] and v[1] > version
                             for v in views):
                break
            if time.monotonic() - killed > 60:
                raise RuntimeError(f"no new master within 60 s (run {run})")
            time.sleep(0.01)
        elapsed = time.monotonic() - killed
        times.append(elapsed)
        print(f"  run {run + 1}: {elapsed:.2f} s", flush=True)
        if frozen:
            thaw_and_restart(master)
        else:
            master.start()
    return times


def discovery_stats(node) -> dict:
    with httpx.Client(base_url=node.url, timeout=10) as c:
        nodes = c.get("/_nodes/_local/stats/discovery").json()["nodes"]
    return next(iter(nodes.values()))["discovery"]["cluster_state_update"]["success"]


def create_indices(cluster: LocalCluster, count: int) -> float:
    """`count` one-shard indices, created round-robin over the nodes, 8 at a time; seconds."""
    started = time.monotonic()
    clients = [httpx.Client(base_url=n.url, timeout=120) for n in cluster.nodes]

    def create(i: int) -> None:
        body = {"settings": {"number_of_shards": 1, "number_of_replicas": 0}}
        clients[i % len(clients)].put(f"/bench-{i:05d}", json=body).raise_for_status()

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(create, range(count)))
    finally:
        for c in clients:
            c.close()
    return time.monotonic() - started


def measure_publication(cluster: LocalCluster, changes: int) -> tuple[list[float], float, float]:
    master = cluster.node(cluster.wait_for_nodes(len(cluster.nodes), timeout=60))
    before = discovery_stats(master)
    latencies = []
    with httpx.Client(base_url=master.url, timeout=30) as c:
        for i in range(changes):
            started = time.perf_counter()
            r = c.put("/_cluster/settings",
                      json={"persistent": {"action.auto_create_index": f"+bench-{i}-*,-*"}})
            latencies.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
            time.sleep(0.05)  # let the publication complete on every node before the next
    after = discovery_stats(master)
    count = max(1, after["count"] - before["count"])
    commit = (after["commit_time_millis"] - before["commit_time_millis"]) / count
    completion = (after["completion_time_millis"] - before["completion_time_millis"]) / count
    return latencies, commit, completion


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="failovers per cluster size")
    parser.add_argument("--nodes", type=int, nargs="*", default=None,
                        help="cluster sizes (default: 3 5 for failover, 3 5 9 for publication)")
    parser.add_argument("--changes", type=int, default=50, help="settings changes per publication run")
    parser.add_argument("--indices", type=int, default=1000, help="indices in the state for publication runs")
    parser.add_argument("--skip-failover", action="store_true")
    parser.add_argument("--skip-publication", action="store_true")
    args = parser.parse_args()

    rows = []
    if not args.skip_failover:
        for size in args.nodes or [3, 5]:
            print(f"failover, {size} nodes ({args.runs} runs):", flush=True)
            with tempfile.TemporaryDirectory(prefix="strata-bench-") as root:
                cluster = LocalCluster(Path(root), [f"n{i}" for i in range(size)]).start()
                try:
                    times = measure_failover(cluster, args.runs)
                finally:
                    cluster.stop()
            rows.append(f"failover {size} nodes, kill -9: median {statistics.median(times):.2f} s, "
                        f"max {max(times):.2f} s (target < {FAILOVER_TARGET_S:.0f} s)")
            print(rows[-1], flush=True)
        size = (args.nodes or [3])[0]
        print(f"failover, {size} nodes, master frozen with SIGSTOP ({args.runs} runs):", flush=True)
        with tempfile.TemporaryDirectory(prefix="strata-bench-") as root:
            cluster = LocalCluster(Path(root), [f"n{i}" for i in range(size)]).start()
            try:
                times = measure_failover(cluster, args.runs, frozen=True)
            finally:
                cluster.stop()
        rows.append(f"failover {size} nodes, frozen master (no connection error, only check timeouts): "
                    f"median {statistics.median(times):.2f} s, max {max(times):.2f} s")
        print(rows[-1], flush=True)
    if not args.skip_publication:
        for size in args.nodes or [3, 5, 9]:
            with tempfile.TemporaryDirectory(prefix="strata-bench-") as root:
                cluster = LocalCluster(Path(root), [f"n{i}" for i in range(size)]).start()
                try:
                    print(f"publication, {size} nodes: creating {args.indices} indices ...", flush=True)
                    seconds = create_indices(cluster, args.indices)
                    print(f"  {args.indices} indices in {seconds:.1f} s ({args.indices / seconds:.0f}/s)",
                          flush=True)
                    latencies, commit, completion = measure_publication(cluster, args.changes)
                finally:
                    cluster.stop()
            rows.append(f"publication {size} nodes, {args.indices} indices: PUT _cluster/settings p50 "
                        f"{percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms; master "
                        f"commit {commit:.1f} ms, completion {completion:.1f} ms per state "
                        f"(target < {PUBLICATION_TARGET_MS:.0f} ms at 5 nodes)")
            print(rows[-1], flush=True)
    print("\n".join(["", "summary:", *rows]))


if __name__ == "__main__":
    main()
