"""Replication figures on three real local node processes (issue 6's benchmark).

    python bench/replication.py                   # the defaults below
    python bench/replication.py --docs 30000      # a quicker run

1. Bulk indexing docs/s into a 3-shard index with 0, 1 and 2 replicas: the bulk
   benchmark's log documents, `--clients` concurrent clients, each request sent to the
   next node in turn (so most shard requests are forwarded to another node), every copy
   fsyncing its translog per request. Target: 1 replica keeps at least 60% of the
   0-replica throughput.
2. Peer recovery, unthrottled (`indices.recovery.max_bytes_per_sec: 0`). File-based: a
   1-shard index loaded with `--recovery-mb` MB of documents (4 KB each, the payload not
   indexed, so loading is quick) and flushed gets a replica, `--recovery-runs` times (the
   replica is dropped between runs); each new copy gets the primary's LevelDB files, then
   the operations after them. Reported from `GET /{index}/_recovery`: the file copy's
   bytes over its time (index stage), and the primary's store over the whole recovery.
   Operation-based: a replica's node is killed, `--ops-docs` documents are written, the
   node comes back and its copy (store kept, lease held) replays what it missed: the
   operations over the translog stage's time. Target: file-based recovery at least
   100 MB/s on loopback. `--recovery-mb 1000` gives the issue's 1 GB shard (a few
   minutes of loading); the default, 200 MB, keeps a default run short.
3. Failover: kill -9 a node holding primaries of a 1-replica index; seconds until the
   cluster has removed the node and the index is yellow (its replicas promoted), then
   from the node's restart until green.

Figures, never pass/fail.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.support.cluster import LocalCluster  # noqa: E402

from bulk_index import generate_bodies  # noqa: E402

RATIO_TARGET = 0.60
RECOVERY_TARGET_MB_S = 100.0
BLOB_BYTES = 4096


def wait_health(client: httpx.Client, index: str, status: str, timeout: float = 300.0) -> float:
    started = time.monotonic()
    response = client.get("/_cluster/health/" + index,
                          params={"wait_for_status": status, "timeout": f"{int(timeout)}s"})
    body = response.json()
    if body.get("status") not in (status, "green"):
        raise RuntimeError(f"{index} did not turn {status}: {body}")
    return time.monotonic() - started


def bulk(cluster: LocalCluster | LocalClusterView, index: str, bodies: list[bytes], clients: int) -> float:
    """Seconds to send every body, `clients` at a time, round-robin over the nodes."""
    urls = itertools.cycle([n.url for n in cluster.nodes])
    lock = threading.Lock()
    queue = list(enumerate(bodies))
    errors: list[str] = []

    def worker() -> None:
        sessions = {n.url: httpx.Client(base_url=n.url, timeout=120) for n in cluster.nodes}
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    _, body = queue.pop()
                    url = next(urls)
                response = sessions[url].post(f"/{index}/_bulk", content=body,
                                              headers={"content-type": "application/x-ndjson"})
                result = response.json()
                if response.status_code != 200 or result.get("errors"):
                    errors.append(response.text[:500])
                    return
        finally:
            for s in sessions.values():
                s.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    return time.monotonic() - started


def store_bytes(cluster: LocalCluster, index: str) -> int:
    total = 0
    for node in cluster.nodes:
        for folder in (node.data / "indices").glob("*"):
            if folder.is_dir() and (folder / "_state" / "index.json").exists() and \
                    f'"{index}"' in (folder / "_state" / "index.json").read_text():
                total = max(total, sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()))
    return total


def blob_bodies(docs: int, batch: int) -> list[bytes]:
    """Bulk bodies of documents carrying BLOB_BYTES of random text in a field that is
    kept in the source but not indexed."""
    import base64
    import os

    import orjson

    bodies = []
    for start in range(0, docs, batch):
        lines = []
        for n in range(start, min(start + batch, docs)):
            blob = base64.b64encode(os.urandom(BLOB_BYTES * 3 // 4)).decode()
            lines += [b'{"index":{}}', orjson.dumps({"n": n, "payload": {"blob": blob}})]
        bodies.append(b"\n".join(lines) + b"\n")
    return bodies


def peer_recovery(client: httpx.Client, index: str, target: str | None = None) -> dict:
    """The replica's recovery (the one onto node id `target` when given)."""
    shards = client.get(f"/{index}/_recovery").json()[index]["shards"]
    return next(s for s in shards if not s["primary"] and target in (None, s["target"]["id"]))


def copy_figures(client: httpx.Client, index: str) -> list[dict]:
    """Each copy of shard 0: its node, whether primary, the documents a count on that copy
    alone finds (after a refresh) and its sequence numbers; a recovery report says what
    was sent, these say what each copy holds."""
    client.post(f"/{index}/_refresh").raise_for_status()
    stats = client.get(f"/{index}/_stats", params={"level": "shards"}).json()
    figures = []
    for entry in stats["indices"][index]["shards"]["0"]:
        node = entry["routing"]["node"]
        count = client.get(f"/{index}/_count", params={"preference": f"_only_nodes:{node}"}).json()
        figures.append({"node": node, "primary": entry["routing"]["primary"], "count": count["count"],
                        "seq_no": entry["seq_no"]})
    return figures


def check_copies(figures: list[dict], docs: int) -> None:
    """Every copy holds `docs` documents and the same sequence numbers."""
    held = {(f["count"], f["seq_no"]["max_seq_no"], f["seq_no"]["local_checkpoint"]) for f in figures}
    if len(held) != 1 or next(iter(held))[0] != docs:
        raise RuntimeError(f"the copies differ or miss documents ({docs} written): {figures}")


def file_based_runs(client: httpx.Client, cluster: LocalCluster, megabytes: int, runs: int,
                    batch: int, clients: int) -> list[dict]:
    name = "bench-file-recovery"
    docs = megabytes * 1_000_000 // BLOB_BYTES
    print(f"file-based recovery: loading {docs:,} docs (~{megabytes} MB) into a 1-shard index ...",
          flush=True)
    # Leases that expire at once once the replica is dropped, so each run's new copy gets
    # files (a copy returning to a folder it left with a live lease would keep its store).
    client.put(f"/{name}", json={
        "settings": {"number_of_shards": 1, "number_of_replicas": 0,
                     "index.soft_deletes.retention_lease.period": "1s",
                     "index.soft_deletes.retention_lease.sync_interval": "200ms"},
        "mappings": {"properties": {"n": {"type": "long"},
                                    "payload": {"type": "object", "enabled": False}}}}).raise_for_status()
    wait_health(client, name, "green")
    bulk(cluster, name, blob_bodies(docs, batch // 4), clients)
    client.post(f"/{name}/_flush").raise_for_status()
    size = store_bytes(cluster, name)
    results = []
    for run in range(runs):
        client.put(f"/{name}/_settings", json={"index": {"number_of_replicas": 1}}).raise_for_status()
        wait_health(client, name, "green")
        peer = peer_recovery(client, name)
        index = peer["index"]
        if index["files"]["total"] == 0:
            raise RuntimeError(f"run {run + 1} was not file-based: {peer}")
        results.append({"store": size, "files": index["files"]["total"],
                        "bytes": index["size"]["recovered_in_bytes"],
                        "index_seconds": index["total_time_in_millis"] / 1000,
                        "total_seconds": peer["total_time_in_millis"] / 1000,
                        "operations": peer["translog"]["total"]})
        print(f"  run {run + 1}: {results[-1]}", flush=True)
        client.put(f"/{name}/_settings", json={"index": {"number_of_replicas": 0}}).raise_for_status()
        wait_health(client, name, "green")
        time.sleep(2.0)  # the dropped copy's lease expires
    client.delete(f"/{name}")
    return results


def operation_based(client: httpx.Client, cluster: LocalCluster, docs: int, batch: int,
                    clients: int) -> tuple[int, float]:
    """The operation-based figures, once the returning copy is checked: it must hold what
    the primary holds, and its recovery must have replayed exactly what it missed."""
    print(f"operation-based recovery: {docs:,} docs written while a replica's node is down ...", flush=True)
    peer, figures = replica_returns(client, cluster, "bench-ops-recovery", docs, batch, clients)
    check_copies(figures, batch + docs)
    if peer["index"]["files"]["total"] != 0 or peer["translog"]["total"] != docs:
        raise RuntimeError(f"the returning copy did not replay exactly what it missed: {peer}")
    return peer["translog"]["total"], peer["translog"]["total_time_in_millis"] / 1000


def replica_returns(client: httpx.Client, cluster: LocalCluster, name: str, docs: int, batch: int,
                    clients: int) -> tuple[dict, list[dict]]:
    """A replica's node is killed, `docs` documents are written, the node comes back: its
    copy keeps its store and its lease, and replays what it missed. Answers, once green,
    the returning copy's recovery and every copy's figures (copy_figures)."""
    first, second = cluster.nodes[0], cluster.nodes[1]
    client.put(f"/{name}", json={"settings": {
        "number_of_shards": 1, "number_of_replicas": 1,
        "index.routing.allocation.include._name": f"{first.name},{second.name}",
        "index.soft_deletes.retention_lease.sync_interval": "200ms"}}).raise_for_status()
    wait_health(client, name, "green")
    first_bodies, _ = generate_bodies(batch, batch, seed=3, explicit_ids=False)
    bulk(cluster, name, first_bodies, 1)  # the replica holds a history of its own
    time.sleep(1.0)  # a lease sync or two: its lease retains from where it is
    nodes = {node_id: n["name"] for node_id, n in client.get("/_cluster/state/nodes").json()["nodes"].items()}
    routing = client.get(f"/_cluster/state/routing_table/{name}").json()
    [replica] = [c for c in routing["routing_table"]["indices"][name]["shards"]["0"] if not c["primary"]]
    victim = cluster.node(nodes[replica["node"]])
    survivors = LocalClusterView([n for n in cluster.nodes if n is not victim])
    victim.kill()
    with httpx.Client(base_url=survivors.nodes[0].url, timeout=600) as survivor:
        survivor.get("/_cluster/health", params={"wait_for_nodes": str(len(survivors.nodes)),
                                                 "timeout": "60s"}).raise_for_status()
        bodies, _ = generate_bodies(docs, batch, seed=2, explicit_ids=False)
        bulk(survivors, name, bodies, clients)
        survivor.post(f"/{name}/_flush").raise_for_status()
        victim.start()
        wait_health(survivor, name, "green")
        # The node id outlives the restart: its copy's recovery, not another's.
        peer = peer_recovery(survivor, name, target=replica["node"])
        figures = copy_figures(survivor, name)
        survivor.delete(f"/{name}").raise_for_status()
    return peer, figures


class LocalClusterView:
    """The running nodes of a cluster, for `bulk` while one is down."""

    def __init__(self, nodes):
        self.nodes = nodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--recovery-mb", type=int, default=200)
    parser.add_argument("--recovery-runs", type=int, default=3)
    parser.add_argument("--ops-docs", type=int, default=20_000)
    parser.add_argument("--skip-bulk", action="store_true", help="only the recovery and failover figures")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="strata-bench-replication-"))
    cluster = LocalCluster(root, ["b0", "b1", "b2"]).start()
    client = httpx.Client(base_url=cluster.nodes[0].url, timeout=600)
    try:
        bodies, _ = generate_bodies(args.docs, args.batch, seed=1, explicit_ids=False)
        rates = {}
        for replicas in () if args.skip_bulk else (0, 1, 2):
            index = f"bench-r{replicas}"
            client.put(f"/{index}", json={"settings": {"number_of_shards": 3,
                                                        "number_of_replicas": replicas}}).raise_for_status()
            wait_health(client, index, "green")
            print(f"bulk: {args.docs:,} docs, {replicas} replica(s) ...", flush=True)
            seconds = bulk(cluster, index, bodies, args.clients)
            rates[replicas] = args.docs / seconds
            client.delete(f"/{index}")

        client.put("/_cluster/settings", json={"transient": {"indices.recovery.max_bytes_per_sec": "0"}})
        file_runs = file_based_runs(client, cluster, args.recovery_mb, args.recovery_runs, args.batch,
                                    args.clients) if args.recovery_runs > 0 else []
        ops, ops_seconds = operation_based(client, cluster, args.ops_docs, args.batch, args.clients)

        print("failover: kill -9 a node holding primaries ...", flush=True)
        client.put("/bench-failover", json={"settings": {"number_of_shards": 3, "number_of_replicas": 1}})
        wait_health(client, "bench-failover", "green")
        bulk(cluster, "bench-failover", bodies[: max(1, len(bodies) // 6)], args.clients)
        victim = cluster.nodes[-1]
        survivor = httpx.Client(base_url=cluster.nodes[0].url, timeout=600)
        killed = time.monotonic()
        victim.kill()
        # Yellow once the cluster knows the node is gone: its primaries promoted elsewhere.
        survivor.get("/_cluster/health", params={"wait_for_nodes": "2", "timeout": "60s"})
        wait_health(survivor, "bench-failover", "yellow")
        to_yellow = time.monotonic() - killed
        restarted = time.monotonic()
        victim.start()
        wait_health(survivor, "bench-failover", "green")
        to_green = time.monotonic() - restarted
        survivor.close()
    finally:
        client.close()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"bulk indexing, 3 nodes, 3 shards, {args.clients} clients, {args.batch} docs per request")
    for replicas, rate in rates.items():
        ratio = rate / rates[0]
        target = f"  (target >= {RATIO_TARGET:.0%} of 0 replicas)" if replicas == 1 else ""
        print(f"  {replicas} replica(s): {rate:>9,.0f} docs/s   {ratio:6.1%} of 0 replicas{target}")
    print_file_runs(file_runs)
    print(f"peer recovery, operation-based, {ops:,} operations: {ops_seconds:.2f} s, "
          f"{ops / max(ops_seconds, 1e-3):,.0f} operations/s")
    print(f"failover: kill -9 to the node's removal with its primaries promoted (yellow) {to_yellow:.2f} s; "
          f"restart to green {to_green:.2f} s")


def print_file_runs(file_runs: list[dict]) -> None:
    """The file-based figures; none with `--recovery-runs 0`."""
    if not file_runs:
        return
    print(f"peer recovery, file-based, store {file_runs[0]['store'] / 1e6:,.1f} MB, unthrottled "
          f"(target >= {RECOVERY_TARGET_MB_S:.0f} MB/s)")
    for run in file_runs:
        copy_rate = run["bytes"] / 1e6 / max(run["index_seconds"], 1e-3)
        whole_rate = run["store"] / 1e6 / max(run["total_seconds"], 1e-3)
        print(f"  {run['files']} files, {run['bytes'] / 1e6:,.1f} MB in {run['index_seconds']:.2f} s: "
              f"{copy_rate:,.1f} MB/s copying files; whole recovery {run['total_seconds']:.2f} s: "
              f"{whole_rate:,.1f} MB/s; {run['operations']} operations replayed after")


if __name__ == "__main__":
    main()
