"""Loops bench/replication.py's operation-based recovery (a replica's node killed, documents
written, the node back) on one three-node cluster, and counts, after green, the runs whose
copies differ (a copy marked in sync without operations it missed) apart from those whose
recovery report is off (the copy holds everything, but the recovery `_recovery` shows
replayed nothing: an earlier attempt on the node brought the operations, then failed).

    python bench/repro_ops_recovery.py --runs 30 --docs 2000

Figures, never pass/fail; an odd run is printed with the node log lines that say why.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.support.cluster import LocalCluster  # noqa: E402

from replication import replica_returns  # noqa: E402

BATCH = 1000


def failures_logged(cluster: LocalCluster, index: str) -> list[str]:
    """The lines of every running node's log (since its last start) about failed
    recoveries of `index`, with their tracebacks."""
    lines, inside = [], False
    for node in cluster.running():
        for line in node.log:
            if line.startswith("["):
                inside = index in line and "failed" in line
            if inside:
                lines.append(f"{node.name}: {line.rstrip()}")
    return lines


def one_run(cluster: LocalCluster, run: int, docs: int) -> dict:
    name = f"repro-ops-{run}"
    with httpx.Client(base_url=cluster.nodes[2].url, timeout=600) as client:
        peer, figures = replica_returns(client, cluster, name, docs, BATCH, 3)
    held = {(f["count"], f["seq_no"]["max_seq_no"], f["seq_no"]["local_checkpoint"]) for f in figures}
    return {"run": run, "copies_differ": len(held) != 1 or next(iter(held))[0] != BATCH + docs,
            "report_off": peer["translog"]["total"] != docs or peer["index"]["files"]["total"] != 0,
            "replayed": peer["translog"]["total"], "reused_bytes": peer["index"]["size"]["reused_in_bytes"],
            "copies": figures, "log": failures_logged(cluster, name)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--docs", type=int, default=2000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="strata-repro-ops-"))
    cluster = LocalCluster(root, ["b0", "b1", "b2"]).start()
    results = []
    try:
        for run in range(args.runs):
            result = one_run(cluster, run, args.docs)
            results.append(result)
            counts = [c["count"] for c in result["copies"]]
            print(f"run {run}: copies differ {result['copies_differ']}, report off {result['report_off']}, "
                  f"replayed {result['replayed']}, counts {counts}", flush=True)
            if result["copies_differ"] or result["report_off"]:
                print(json.dumps(result, indent=1), flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"of {len(results)} runs: {sum(r['copies_differ'] for r in results)} with copies differing, "
          f"{sum(r['report_off'] for r in results)} with the recovery report off")


if __name__ == "__main__":
    main()
