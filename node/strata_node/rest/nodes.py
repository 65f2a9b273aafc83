"""`GET /_nodes`, `/_nodes/{node_id}` and `/_nodes/{node_id}/{metric}`: the node info
sections Strata has (identity, roles, version, HTTP and transport addresses); and
`GET /_nodes/stats` (`/_nodes/{node_id}/stats/{metric}/{index_metric}`): each node's
stats (action/nodes_stats.py), from every node of the cluster state.

Node selectors are Elasticsearch's (DiscoveryNodes.resolveNodes), applied in order:
`_all`, `_local`, `_master`, node ids, names, host names and addresses (with `*`
wildcards), `role:true|false` (`master`, `data`, `ingest`, `coordinating_only`, any role
name) and custom attributes `attr:value`."""

from __future__ import annotations

from typing import Any

from ..action.nodes_info import METRICS, NODES_INFO, NodesRequest, NodesResponse
from ..action.nodes_stats import METRICS as STATS_METRICS
from ..action.nodes_stats import NODES_STATS
from ..common.cluster_settings import render
from ..common.errors import IllegalArgument
from ..index.shard_stats import METRICS as INDEX_METRICS
from .controller import RestController, RestResponse
from .request import RestRequest, metric_names

PARAMS = ("flat_settings", "timeout", "master_timeout")
STATS_PARAMS = ("completion_fields", "fielddata_fields", "fields", "groups", "level", "types", "timeout",
                "include_segment_file_sizes", "include_unloaded_segments", "master_timeout")
IDENTITY = ("timestamp", "name", "transport_address", "host", "ip", "roles", "attributes")


def info_targets(first: str | None, metric: str | None) -> tuple[list[str], list[str]]:
    """(node selectors, metrics) of a nodes info path, as RestNodesInfoAction reads them:
    `/_nodes/os,http` names metrics when every part is one; unknown metrics are dropped.
    Empty lists mean every node and every metric; `["_none"]` asks for no section (the
    node's identity alone)."""
    if first is not None and metric is None:
        parts = [p for p in first.split(",") if p]
        if parts and all(p in METRICS for p in parts):
            return [], parts
        return parts, []
    node_ids = [p for p in (first or "").split(",") if p]
    metrics = [p for p in (metric or "_all").split(",") if p]
    if metrics == ["_all"]:
        return node_ids, []
    return node_ids, [m for m in metrics if m in METRICS] or ["_none"]


class NodesHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for path in ("/_nodes", "/_nodes/{node_id}", "/_nodes/{node_id}/{metric}",
                     "/_nodes/{node_id}/info/{metric}"):
            c.register("GET", path, self.info, PARAMS, action=NODES_INFO)
        for path in ("/_nodes/stats", "/_nodes/stats/{metric}", "/_nodes/stats/{metric}/{index_metric}",
                     "/_nodes/{node_id}/stats", "/_nodes/{node_id}/stats/{metric}",
                     "/_nodes/{node_id}/stats/{metric}/{index_metric}"):
            c.register("GET", path, self.stats, STATS_PARAMS, action=NODES_STATS)

    async def info(self, request: RestRequest) -> RestResponse:
        node_ids, metrics = info_targets(request.param("node_id"), request.param("metric"))
        response: NodesResponse = await self.node.client.execute(NODES_INFO, NodesRequest(
            node_ids=node_ids, metrics=metrics))
        flat = request.bool_param("flat_settings")
        nodes = {node_id: {**info, "settings": render(info["settings"], flat)} if "settings" in info else info
                 for node_id, info in response.nodes.items()}
        return RestResponse(200, {"_nodes": _header(response), "cluster_name": self.node.cluster_name,
                                  "nodes": nodes})

    async def stats(self, request: RestRequest) -> RestResponse:
        node_ids = request.list_param("node_id")
        metrics = metric_names(request, "metric", STATS_METRICS)
        index_metrics = metric_names(request, "index_metric", INDEX_METRICS, "index metric")
        if index_metrics is not None and metrics is not None and "indices" not in metrics:
            raise IllegalArgument(f"request [{request.path}] contains index metrics "
                                  f"[{','.join(index_metrics)}] but all stats requested")
        level = request.param("level", "node")
        if level not in ("node", "indices", "shards"):
            raise IllegalArgument(f"level parameter must be one of [node] or [indices] or [shards] but was "
                                  f"[{level}]")
        response: NodesResponse = await self.node.client.execute(NODES_STATS, NodesRequest(
            node_ids=node_ids, metrics=metrics or []))
        nodes: dict[str, Any] = {}
        for node_id, s in response.nodes.items():
            body = {k: s[k] for k in IDENTITY if k in s}
            for metric in STATS_METRICS:
                if metric in s:
                    body[metric] = s[metric]
            if index_metrics is not None and "indices" in body:
                keep = {INDEX_METRICS[m] for m in index_metrics}
                body["indices"] = {k: v for k, v in body["indices"].items() if k in keep}
            nodes[node_id] = body
        return RestResponse(200, {"_nodes": _header(response), "cluster_name": self.node.cluster_name,
                                  "nodes": nodes})


def _header(response: NodesResponse) -> dict[str, Any]:
    header: dict[str, Any] = {"total": response.total, "successful": len(response.nodes),
                              "failed": len(response.failures)}
    if response.failures:
        header["failures"] = response.failures
    return header
