"""What a multi-node test reads back from the cluster state over HTTP."""

from __future__ import annotations

import httpx


def names(http: httpx.Client) -> dict[str, str]:
    """node id -> node name"""
    return {i: n["name"] for i, n in http.get("/_cluster/state/nodes").json()["nodes"].items()}


def copies(http: httpx.Client, index: str) -> list[dict]:
    """Every copy of every shard of `index`, as the routing table lists them."""
    table = http.get(f"/_cluster/state/routing_table/{index}").json()["routing_table"]["indices"][index]
    return [c for shard in table["shards"].values() for c in shard]
