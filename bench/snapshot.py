"""Snapshot and restore throughput of one node, to an `fs` repository and to an `s3` one
(moto's S3 server on loopback), against the ceiling of each store: the same shard files
copied by hand (shutil for `fs`; boto3 PUTs, one file after another, for `s3`).

    python bench/snapshot.py --docs 200000 --shards 2

For each store it prints: the full snapshot (seconds, MB, MB/s), the second snapshot of
the unchanged index (seconds, files and MB copied: it should copy only the MANIFESTs),
the restore after deleting the index (seconds, MB/s), and the ceiling's MB/s. Figures,
never pass/fail.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.support.node_process import NodeProcess  # noqa: E402
from tests.support.s3 import CREDENTIALS, s3_endpoint  # noqa: E402

from bulk_index import generate_bodies, table  # noqa: E402

MB = 1024 * 1024
INDEX = "bench-snapshots"
# The store's speed is measured, not the default rates (40mb/s for snapshots).
UNLIMITED = {"max_snapshot_bytes_per_sec": "-1", "max_restore_bytes_per_sec": "-1"}


def load(client: httpx.Client, docs: int, shards: int) -> None:
    client.put(f"/{INDEX}", json={"settings": {"number_of_shards": shards, "number_of_replicas": 0,
                                               "refresh_interval": "-1"}}).raise_for_status()
    bodies, _ = generate_bodies(docs, 1000, 7, explicit_ids=False)
    for i, body in enumerate(bodies):
        r = client.post(f"/{INDEX}/_bulk", content=body, headers={"content-type": "application/x-ndjson"})
        r.raise_for_status()
        if r.json()["errors"]:
            raise SystemExit(f"bulk {i} had errors")
        if i % 50 == 0:
            print(f"  indexed {i * 1000:,} / {docs:,}", flush=True)
    client.post(f"/{INDEX}/_flush").raise_for_status()
    client.post(f"/{INDEX}/_refresh").raise_for_status()


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def snapshot_stats(client: httpx.Client, repo: str, snap: str) -> dict:
    status = client.get(f"/_snapshot/{repo}/{snap}/_status").json()["snapshots"][0]["stats"]
    return status


def run_store(client: httpx.Client, repo: str, definition: dict, ceiling_mbs: float) -> list[str]:
    client.put(f"/_snapshot/{repo}", json=definition, timeout=120).raise_for_status()

    def take(name: str):
        r = client.put(f"/_snapshot/{repo}/{name}", params={"wait_for_completion": "true"},
                       json={"indices": INDEX}, timeout=3600)
        r.raise_for_status()
        assert r.json()["snapshot"]["state"] == "SUCCESS", r.json()

    full_s, _ = timed(lambda: take("full"))
    full = snapshot_stats(client, repo, "full")
    again_s, _ = timed(lambda: take("again"))
    again = snapshot_stats(client, repo, "again")
    client.delete(f"/{INDEX}").raise_for_status()

    def restore():
        client.post(f"/_snapshot/{repo}/full/_restore", params={"wait_for_completion": "true"},
                    json={"indices": INDEX}, timeout=3600).raise_for_status()
        client.get(f"/_cluster/health/{INDEX}", params={"wait_for_status": "green", "timeout": "600s"},
                   timeout=700).raise_for_status()

    restore_s, _ = timed(restore)
    size = full["total"]["size_in_bytes"]
    return [definition["type"], f"{full_s:.2f}", f"{size / MB:,.1f}", f"{size / MB / full_s:,.1f}",
            f"{again_s:.2f}", f"{again['incremental']['file_count']} / {again['total']['file_count']}",
            f"{again['incremental']['size_in_bytes'] / MB:,.2f}",
            f"{restore_s:.2f}", f"{size / MB / restore_s:,.1f}", f"{ceiling_mbs:,.1f}"]


def shard_files(data: Path) -> list[Path]:
    return [p for p in data.rglob("*") if p.is_file() and p.suffix in (".ldb", ".log")
            and "snapshot." not in str(p) and "restoring" not in str(p)]


def settle(data: Path, timeout: float = 120.0) -> None:
    """Wait until LevelDB's background compaction after the load stops rewriting files,
    so the second snapshot measures an unchanged index."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        names = sorted(p.name for p in shard_files(data))
        if names == last:
            return
        last = names
        time.sleep(2.0)


def fs_ceiling(files: list[Path], target: Path) -> tuple[float, list[Path]]:
    """The shard files copied with shutil, one after another: MB/s, and the copies (a
    file LevelDB compacted away meanwhile is skipped)."""
    target.mkdir()
    copies, size = [], 0
    start = time.perf_counter()
    for i, p in enumerate(files):
        try:
            shutil.copyfile(p, target / str(i))
        except FileNotFoundError:
            continue
        copies.append(target / str(i))
        size += copies[-1].stat().st_size
    return size / MB / (time.perf_counter() - start), copies


def s3_ceiling(files: list[Path], endpoint) -> float:
    """The files PUT with boto3, one after another: MB/s."""
    s3 = endpoint.client()
    start = time.perf_counter()
    for i, p in enumerate(files):
        s3.put_object(Bucket="bench", Key=f"ceiling/{i}", Body=p.read_bytes())
    return sum(p.stat().st_size for p in files) / MB / (time.perf_counter() - start)


def run(root: Path, args: argparse.Namespace) -> list[list[str]]:
    rows = []
    with s3_endpoint() as endpoint:
        endpoint.client().create_bucket(Bucket="bench")
        node = NodeProcess(root / "node", f"path.repo={root / 'repo'}", *endpoint.node_settings(),
                           "discovery.type=single-node", name="bench", env=CREDENTIALS).start()
        try:
            with httpx.Client(base_url=node.url, timeout=600) as client:
                client.put("/_cluster/settings", json={"persistent": {
                    "indices.recovery.max_bytes_per_sec": "0"}}).raise_for_status()
                print(f"indexing {args.docs:,} documents into {args.shards} shards", flush=True)
                load(client, args.docs, args.shards)
                settle(node.data)
                print("fs repository", flush=True)
                ceiling, _ = fs_ceiling(shard_files(node.data), root / "ceiling-fs")
                fs = {"type": "fs", "settings": {"location": "fs", **UNLIMITED}}
                rows.append(run_store(client, "fs-bench", fs, ceiling))
                if not args.no_s3:
                    client.delete(f"/{INDEX}").raise_for_status()
                    load(client, args.docs, args.shards)
                    settle(node.data)
                    print("s3 repository", flush=True)
                    _, copies = fs_ceiling(shard_files(node.data), root / "ceiling-s3")
                    ceiling = s3_ceiling(copies, endpoint)
                    s3 = {"type": "s3", "settings": {"bucket": "bench", **UNLIMITED}}
                    rows.append(run_store(client, "s3-bench", s3, ceiling))
        finally:
            node.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--no-s3", action="store_true", help="the fs repository only")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="strata-bench-snapshot-"))
    try:
        rows = run(root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(f"{args.docs:,} documents, {args.shards} shards, one node")
    print(table(["store", "snapshot s", "MB", "MB/s", "again s", "again files (new / all)", "again MB",
                 "restore s", "restore MB/s", "ceiling MB/s"], rows))


if __name__ == "__main__":
    main()
