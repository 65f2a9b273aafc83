"""The master's reroute and the reactive storage decider on pure cluster state contents:
how long one reroute of a settled cluster takes with and without disk usages and data
tiers, and how long one capacity simulation takes.

    python bench/allocation.py [--indices 1000] [--nodes 10]

Prints milliseconds per call (the median of several); the ceiling to compare with is the
cluster state update itself, which the reroute runs inside (a publication round trip on
loopback is a few milliseconds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "node"))

from strata_node.action import index_admin  # noqa: E402
from strata_node.allocation import allocator  # noqa: E402
from strata_node.allocation.cluster_info import DiskUsage, ShardCopySize, build  # noqa: E402
from strata_node.autoscaling.capacity import Capacity, Resources  # noqa: E402
from strata_node.autoscaling.deciders import REACTIVE_STORAGE, Context  # noqa: E402
from strata_node.autoscaling.storage import ClusterView  # noqa: E402
from strata_node.cluster.coordination.discovery_node import DiscoveryNode  # noqa: E402
from strata_node.cluster.state import ClusterStateContent  # noqa: E402

GB = 1 << 30
NOW = 1_700_000_000_000


def nodes(count: int, roles: tuple[str, ...], prefix: str = "n") -> dict[str, DiscoveryNode]:
    return {f"{prefix}{i}": DiscoveryNode(id=f"{prefix}{i}", name=f"{prefix}{i}", roles=roles, attributes={},
                                          transport_address=f"10.0.0.{i}:9300", ephemeral_id="e")
            for i in range(count)}


def settled(members, indices: int):
    content = ClusterStateContent()
    for i in range(indices):
        content = index_admin.create_index(content, index_admin.build_index_metadata(
            f"i{i}", {"settings": {"number_of_replicas": 1}}))
    while True:  # the recoveries throttle placements: round after round until all started
        content = allocator.reroute(content, members, now_ms=NOW)
        moving = [(name, c) for name, copies in content.routing_table.indices.items() for c in copies
                  if c.state != "STARTED"]
        if not moving:
            return content
        for name, c in moving:
            if c.state == "INITIALIZING":
                content = allocator.shard_started(content, name, c.shard, c.allocation_id)


def info_of(content, members, free_gb: float):
    usages = [DiskUsage(n, n, "/data", 1000 * GB, int(free_gb * GB)) for n in members]
    held = {}
    for copies in content.routing_table.indices.values():
        for c in copies:
            held.setdefault(c.node, []).append(ShardCopySize(c.index, c.shard, c.primary, GB, "/data"))
    return build(usages, held)


def median_ms(run, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--indices", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=10)
    args = parser.parse_args()
    members = nodes(args.nodes, ("master", "data"))
    content = settled(members, args.indices)
    copies = sum(len(c) for c in content.routing_table.indices.values())
    print(f"{args.indices} indices, {copies} started copies on {args.nodes} data nodes")
    roomy, pressed = info_of(content, members, 500), info_of(content, members, 50)
    tiered = {**members, **nodes(1, ("data_warm",), prefix="w")}

    def reroute(members=members, info=None):
        return lambda: allocator.reroute(content, members, now_ms=NOW, **({"info": info} if info else {}))

    rows = [
        ("reroute, no disk usages", reroute()),
        ("reroute, disk usages, no node past high", reroute(info=roomy)),
        ("reroute, every node past high (nowhere to go)", reroute(info=pressed)),
        ("reroute, a warm node beside the content nodes", reroute(members=tiered)),
    ]
    total, per_node = Resources(args.nodes * 1000 * GB, None, None), Resources(1000 * GB, None, None)
    current = Capacity(total=total, node=per_node)
    for label, disk in (("reactive_storage, no node past high", roomy),
                        ("reactive_storage, every node past high", pressed)):
        view = ClusterView(content, members, disk, {})
        context = Context(("data", "master"), current, tuple(members), view)
        rows.append((label, lambda context=context: REACTIVE_STORAGE.scale({}, context)))
    for label, run in rows:
        print(f"{label:55s} {median_ms(run):9.2f} ms")


if __name__ == "__main__":
    main()
