"""`GET /_nodes`, `/_nodes/{node_id}` and `/_nodes/{node_id}/{metric}`: the node info
sections Strata has (identity, roles, version, HTTP and transport addresses); and
`GET /_nodes/stats` (`/_nodes/{node_id}/stats/{metric}/{index_metric}`): each node's
stats (action/nodes_stats.py), from every node of the cluster state.

Node selectors are Elasticsearch's (DiscoveryNodes.resolveNodes), applied in order:
`_all`, `_local`, `_master`, node ids, names, host names and addresses (with `*`
wildcards), `role:true|false` (`master`, `data`, `ingest`, `coordinating_only`, any role
name) and custom attributes `attr:value`."""

from __future__ import annotations

import asyncio
from typing import Any

from ..action.nodes_info import NODES_INFO_NODE, NodeInfo, NodesInfoRequest
from ..action.nodes_stats import METRICS as STATS_METRICS
from ..action.nodes_stats import gather
from ..common.errors import IllegalArgument, StrataError, error_to_dict
from ..common.flags import parse_flag
from ..common.patterns import simple_match
from .controller import RestController, RestResponse
from .request import RestRequest

METRICS = ("settings", "os", "process", "jvm", "thread_pool", "transport", "http", "plugins", "ingest",
           "aggregations", "indices")
PARAMS = ("flat_settings", "timeout", "master_timeout")
STATS_PARAMS = ("completion_fields", "fielddata_fields", "fields", "groups", "level", "types", "timeout",
                "include_segment_file_sizes", "include_unloaded_segments", "master_timeout")
INDEX_METRICS = ("docs", "store", "indexing", "get", "search", "merge", "flush", "refresh", "query_cache",
                 "fielddata", "completion", "segments", "translog", "request_cache", "shard_stats", "_all")
IDENTITY = ("timestamp", "name", "transport_address", "host", "ip", "roles", "attributes")
INDEX_METRIC_SECTIONS = {"merge": "merges"}


class NodesHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for path in ("/_nodes", "/_nodes/{node_id}", "/_nodes/{node_id}/{metric}"):
            c.register("GET", path, self.info, PARAMS, rest_task="cluster:monitor/nodes/info")
        for path in ("/_nodes/stats", "/_nodes/stats/{metric}", "/_nodes/stats/{metric}/{index_metric}",
                     "/_nodes/{node_id}/stats", "/_nodes/{node_id}/stats/{metric}",
                     "/_nodes/{node_id}/stats/{metric}/{index_metric}"):
            c.register("GET", path, self.stats, STATS_PARAMS, rest_task="cluster:monitor/nodes/stats")

    def _catalogue(self, known: dict[str, str | None]) -> list[dict[str, Any]]:
        """What a selector can match for each node of the cluster."""
        coordination = self.node.coordination
        state = coordination.applied_state if coordination is not None else None
        details = state.node_details if state is not None else {}
        out = []
        for node_id, address in known.items():
            d = details.get(node_id)
            if node_id == self.node.node_id:
                name, roles, attributes = self.node.name, self.node.settings.get("node.roles"), \
                    self.node.settings.attributes
                address = self.node.transport.address
            elif d is not None:
                name, roles, attributes = d.name, d.roles, d.attributes
            else:
                name, roles, attributes = "", (), {}
            host = (address or "").rsplit(":", 1)[0].strip("[]")
            out.append({"id": node_id, "name": name, "host": host, "roles": set(roles),
                        "attributes": dict(attributes)})
        return out

    def _selected(self, wanted: list[str], known: dict[str, str | None]) -> dict[str, str | None]:
        if not wanted:
            return known
        catalogue = self._catalogue(known)
        master = self.node.coordination.master_node if self.node.coordination is not None else None
        chosen: set[str] = set()
        for selector in (w.strip() for w in wanted):
            if selector == "_all":
                chosen |= {n["id"] for n in catalogue}
            elif selector == "_local":
                chosen.add(self.node.node_id)
            elif selector == "_master":
                if master is not None:
                    chosen.add(master.id)
            elif selector in known:
                chosen.add(selector)
            else:
                chosen |= {n["id"] for n in catalogue if simple_match(selector, n["name"])
                           or simple_match(selector, n["host"])}
                name, colon, value = selector.partition(":")
                if not colon:
                    continue
                role = {"coordinating_only": None}.get(name, name)
                if name == "coordinating_only" or name in {r for n in catalogue for r in n["roles"]} \
                        or name in ("master", "data", "ingest", "ml", "voting_only", "transform",
                                    "remote_cluster_client"):
                    matching = {n["id"] for n in catalogue
                                if (not n["roles"] if role is None else
                                    role in n["roles"] or (role == "data" and
                                                           any(r.startswith("data") for r in n["roles"])))}
                    if parse_flag(value, True):
                        chosen |= matching
                    else:
                        chosen -= matching
                else:
                    chosen |= {n["id"] for n in catalogue for k, v in n["attributes"].items()
                               if simple_match(name, k) and simple_match(value, str(v))}
        return {n: a for n, a in known.items() if n in chosen}

    async def info(self, request: RestRequest) -> RestResponse:
        first = request.param("node_id")
        wanted = first.split(",") if first else []
        if first and request.param("metric") is None and all(w in METRICS or w == "_all" for w in wanted):
            wanted = []  # `/_nodes/http` names metrics, not nodes, as in ES
        known = self.node.cluster_nodes()
        targets = self._selected(wanted, known)

        async def one(address: str | None) -> NodeInfo | dict[str, Any]:
            try:
                return await self.node.transport.execute(NODES_INFO_NODE, NodesInfoRequest(), NodeInfo,
                                                         address=address, timeout=30.0)
            except StrataError as e:
                return error_to_dict(e)

        answers = await asyncio.gather(*(one(a) for a in targets.values()))
        nodes = {a.node_id: a.info for a in answers if isinstance(a, NodeInfo)}
        failures = [a for a in answers if not isinstance(a, NodeInfo)]
        header: dict[str, Any] = {"total": len(targets), "successful": len(nodes), "failed": len(failures)}
        if failures:
            header["failures"] = failures
        return RestResponse(200, {"_nodes": header, "cluster_name": self.node.cluster_name, "nodes": nodes})

    async def stats(self, request: RestRequest) -> RestResponse:
        node_ids = request.list_param("node_id")
        metrics = request.list_param("metric") or ["_all"]
        unknown = [m for m in metrics if m not in STATS_METRICS and m != "_all"]
        if unknown:
            noun = "metric" if len(unknown) == 1 else "metrics"
            raise IllegalArgument(f"request [{request.path}] contains unrecognized {noun}: "
                                  f"[{', '.join(unknown)}]")
        if "_all" in metrics and len(metrics) > 1:
            raise IllegalArgument(f"request [{request.path}] contains _all and individual metrics "
                                  f"[{','.join(metrics)}]")
        index_metrics = request.list_param("index_metric")
        if index_metrics:
            if "indices" not in metrics and "_all" not in metrics:
                raise IllegalArgument(f"request [{request.path}] contains index metrics "
                                      f"[{','.join(index_metrics)}] but all stats requested")
            bad = [m for m in index_metrics if m not in INDEX_METRICS]
            if bad:
                noun = "index metric" if len(bad) == 1 else "index metrics"
                raise IllegalArgument(f"request [{request.path}] contains unrecognized {noun}: "
                                      f"[{', '.join(bad)}]")
        level = request.param("level", "node")
        if level not in ("node", "indices", "shards"):
            raise IllegalArgument(f"level parameter must be one of [node] or [indices] or [shards] but was "
                                  f"[{level}]")
        targets = self._selected(node_ids, self.node.cluster_nodes())
        wanted = [] if "_all" in metrics else metrics
        stats, failures = await gather(self.node, targets, wanted)
        nodes: dict[str, Any] = {}
        for node_id, s in stats.items():
            body = {k: s[k] for k in IDENTITY if k in s}
            for metric in STATS_METRICS:
                if metric in s:
                    body[metric] = s[metric]
            if index_metrics and "_all" not in index_metrics and "indices" in body:
                keep = {INDEX_METRIC_SECTIONS.get(m, m) for m in index_metrics}
                body["indices"] = {k: v for k, v in body["indices"].items() if k in keep}
            nodes[node_id] = body
        header: dict[str, Any] = {"total": len(targets), "successful": len(nodes), "failed": len(failures)}
        if failures:
            header["failures"] = failures
        return RestResponse(200, {"_nodes": header, "cluster_name": self.node.cluster_name, "nodes": nodes})
