"""`GET /_nodes`, `/_nodes/{node_id}` and `/_nodes/{node_id}/{metric}`: the node info
sections Strata has (identity, roles, version, HTTP and transport addresses), from every
node the transport knows."""

from __future__ import annotations

import asyncio
from typing import Any

from ..action.nodes_info import NODES_INFO_NODE, NodeInfo, NodesInfoRequest
from ..common.errors import StrataError, error_to_dict
from .controller import RestController, RestResponse
from .request import RestRequest

METRICS = ("settings", "os", "process", "jvm", "thread_pool", "transport", "http", "plugins", "ingest",
           "aggregations", "indices")
PARAMS = ("flat_settings", "timeout", "master_timeout")


class NodesHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for path in ("/_nodes", "/_nodes/{node_id}", "/_nodes/{node_id}/{metric}"):
            c.register("GET", path, self.info, PARAMS, action="cluster:monitor/nodes/info")

    def _selected(self, wanted: list[str], known: dict[str, str | None]) -> dict[str, str | None]:
        if not wanted or "_all" in wanted:
            return known
        out = {}
        for node_id, address in known.items():
            if node_id in wanted or ("_local" in wanted and address is None) \
                    or (node_id == self.node.node_id and (self.node.name in wanted or "_master" in wanted)):
                out[node_id] = address
        return out

    async def info(self, request: RestRequest) -> RestResponse:
        first = request.param("node_id")
        wanted = first.split(",") if first else []
        if first and request.param("metric") is None and all(w in METRICS or w == "_all" for w in wanted):
            wanted = []  # `/_nodes/http` names metrics, not nodes, as in ES
        known: dict[str, str | None] = {self.node.node_id: None, **self.node.transport.peers()}
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
