"""`POST /_cluster/reroute` and `GET|POST /_cluster/allocation/explain`
(RestClusterRerouteAction and RestClusterAllocationExplainAction). Both run on the master
(action/cluster_reroute.py).

The reroute answers `acknowledged` (whether every node applied it within `timeout`), the
resulting cluster state unless `metric=none` (by default every part but the metadata, as
Elasticsearch 8 does; with `dry_run` the routing is the one the commands would give) and,
with `explain=true`, each command's decisions.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from ..action.cluster_reroute import (
    EXPLAIN,
    REROUTE,
    ExplainRequest,
    ExplainResponse,
    RerouteRequest,
    RerouteResponse,
)
from ..action.cluster_state_action import (
    METRICS,
    STATE,
    ClusterStateRequest,
    ClusterStateResponse,
    render_shard,
)
from ..allocation.commands import parse_commands
from ..cluster.state import RoutingTable
from ..common.errors import ActionRequestValidation, IllegalArgument, XContentParseError
from ..common.units import INT_MAX, INT_MIN, java_int
from .controller import RestController, RestResponse
from .request import RestRequest

REROUTE_PARAMS = ("dry_run", "explain", "retry_failed", "metric", "master_timeout", "timeout",
                  "flat_settings")
EXPLAIN_PARAMS = ("include_yes_decisions", "include_disk_info", "master_timeout")
DEFAULT_METRICS = frozenset(METRICS) - {"metadata"}


class AllocationHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("POST", "/_cluster/reroute", self.reroute, REROUTE_PARAMS, action=REROUTE)
        c.register("GET", "/_cluster/allocation/explain", self.explain, EXPLAIN_PARAMS, action=EXPLAIN)
        c.register("POST", "/_cluster/allocation/explain", self.explain, EXPLAIN_PARAMS, action=EXPLAIN)

    # -- reroute ------------------------------------------------------------------------------

    async def reroute(self, request: RestRequest) -> RestResponse:
        body = request.json_body()
        for key in body:
            if key not in ("commands", "dry_run"):
                raise XContentParseError(f"[cluster_reroute] unknown field [{key}]", line=1, column=2)
        commands = parse_commands(body["commands"]) if "commands" in body else []
        dry_run = request.bool_param("dry_run")
        if "dry_run" in body:
            if not isinstance(body["dry_run"], bool):
                raise XContentParseError("[cluster_reroute] failed to parse field [dry_run]",
                                         line=1, column=2)
            dry_run = body["dry_run"]
        explain = request.bool_param("explain")
        metrics = self._metrics(request.param("metric"))
        master_timeout = request.time_param("master_timeout", 30.0)
        answer: RerouteResponse = await self.node.client.execute(
            REROUTE, RerouteRequest(commands=orjson.dumps([c._asdict() for c in commands]), dry_run=dry_run,
                                    explain=explain, retry_failed=request.bool_param("retry_failed"),
                                    master_timeout=master_timeout,
                                    ack_timeout=request.time_param("timeout", 30.0)))
        out: dict[str, Any] = {"acknowledged": answer.acknowledged}
        if metrics:
            out["state"] = await self._state(metrics, request.bool_param("flat_settings"),
                                       orjson.loads(answer.routing) if dry_run else None)
        if explain:
            out["explanations"] = orjson.loads(answer.explanations)
        return RestResponse(200, out)

    @staticmethod
    def _metrics(param: str | None) -> set[str]:
        if param is None:
            return set(DEFAULT_METRICS)
        wanted = {m.strip() for m in param.split(",") if m.strip()}
        for metric in wanted:
            if metric not in (*METRICS, "_all", "none"):
                raise IllegalArgument(f"Unknown metric [{metric}]")
        if "none" in wanted:
            return set()
        return set(METRICS) if "_all" in wanted else wanted

    async def _state(self, metrics: set[str], flat: bool, routing: dict[str, Any] | None) -> dict[str, Any]:
        """This node's applied state's parts (the reroute's, which it waited for); with a
        dry run, the routing the commands would give."""
        # A dry run shows its own routing; the applied routing nodes still say which nodes hold data.
        shown = metrics - {"routing_table"} if routing is not None else metrics
        response: ClusterStateResponse = await self.node.client.execute(STATE, ClusterStateRequest(
            metrics=tuple(sorted(shown)), flat_settings=flat, local=True))
        state = response.body
        del state["cluster_name"]
        if routing is None:
            return state
        table = msgspec.convert(routing, RoutingTable)
        if "routing_table" in metrics:
            state["routing_table"] = {"indices": {
                name: {"shards": _by_shard(copies)} for name, copies in sorted(table.indices.items())}}
        if "routing_nodes" in metrics:
            nodes: dict[str, list[dict[str, Any]]] = {n: [] for n in state["routing_nodes"]["nodes"]}
            unassigned = []
            for name in sorted(table.indices):
                for copy in table.indices[name]:
                    if copy.node is None:
                        unassigned.append(render_shard(copy))
                    else:
                        nodes.setdefault(copy.node, []).append(render_shard(copy))
            state["routing_nodes"] = {"unassigned": unassigned, "nodes": nodes}
        return state

    # -- allocation explain -------------------------------------------------------------------

    async def explain(self, request: RestRequest) -> RestResponse:
        body = request.json_body()
        fields: dict[str, Any] = {}
        expected = {"index": str, "shard": int, "primary": bool, "current_node": str}
        for key, value in body.items():
            kind = expected.get(key)
            if kind is None:
                raise XContentParseError(f"[cluster/allocation/explain] unknown field [{key}]",
                                         line=1, column=2)
            if value is None:
                continue
            if kind is int and isinstance(value, str) and java_int(value) is not None:
                value = java_int(value)
            if kind is bool and value in ("true", "false"):
                value = value == "true"
            if not isinstance(value, kind) or (kind is int and (isinstance(value, bool)
                                                                or not INT_MIN <= value <= INT_MAX)):
                raise XContentParseError(f"[cluster/allocation/explain] failed to parse field [{key}]",
                                         line=1, column=2)
            fields[key] = value
        if fields and not {"index", "shard", "primary"} <= set(fields):
            required = ("index", "shard", "primary")
            raise ActionRequestValidation([f"{key} must be specified"
                                           for key in required if key not in fields])
        answer: ExplainResponse = await self.node.client.execute(
            EXPLAIN, ExplainRequest(include_yes_decisions=request.bool_param("include_yes_decisions"),
                                    include_disk_info=request.bool_param("include_disk_info"), **fields,
                                    master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, orjson.loads(answer.body))


def _by_shard(copies) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for copy in sorted(copies, key=lambda c: (c.shard, not c.primary)):
        out.setdefault(str(copy.shard), []).append(render_shard(copy))
    return out
