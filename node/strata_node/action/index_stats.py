"""Figures of shard copies (documents, store size, operation counters, sequence numbers)
from the nodes that hold them: one `indices:monitor/stats[n]` request per node holding a
copy of the indices asked for, as Elasticsearch's TransportBroadcastByNodeAction gathers
index stats. What `_cat/indices` and `_cat/shards` show beside the routing table.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ..cluster.state import ShardRouting
from ..common.errors import StrataError
from ..index.metadata import IndexMetadata
from ..tasks.task import Task
from ..transport.wire import Message
from .cluster_health import index_health, index_views
from .nodes_stats import copies_figures
from .resolve import IndicesOptions, resolve_names

log = logging.getLogger(__name__)

INDEX_STATS_NODE = "indices:monitor/stats[n]"
NODE_TIMEOUT = 30.0


class IndexStatsNodeRequest(Message):
    indices: list[str] = []  # names; empty: every index with a copy on the node
    history: bool = False  # also count the retained history (walks it: `_stats` only)


class ShardCopyStats(Message):
    index: str
    index_uuid: str
    shard: int
    state: str  # the node's own view of its copy: INITIALIZING, STARTED, FAILED, CLOSED
    path: str
    primary: bool = False
    # A primary's retention leases, as `GET /{index}/_stats?level=shards` shows them.
    retention_leases: dict | None = None
    # Every figure of the copy by name (`shard_figures` and `measure` in nodes_stats.py),
    # what index/shard_stats.py builds sections from; None where the copy could not say
    # (documents of a copy not started, the history when not asked for).
    figures: dict[str, int | None] = {}

    @property
    def docs(self) -> int | None:
        return self.figures.get("docs")

    @property
    def store_bytes(self) -> int:
        return self.figures.get("store_bytes") or 0

    @property
    def max_seq_no(self) -> int:
        return self.figures.get("max_seq_no", -1)

    @property
    def local_checkpoint(self) -> int:
        return self.figures.get("local_checkpoint", -1)

    @property
    def global_checkpoint(self) -> int:
        return self.figures.get("global_checkpoint", -1)


class IndexStatsNodeResponse(Message):
    node_id: str
    shards: list[ShardCopyStats]


async def local_copies(node, names: list[str], history: bool = False) -> list[ShardCopyStats]:
    """This node's copies of `names` (every index when empty), with their figures; what
    needs the disk (and the history, when asked for) is read off the event loop."""
    wanted = set(names)
    shards = [(service, shard) for name, service in list(node.indices.indices.items())
              if not wanted or name in wanted for shard in service.shards]
    figures = await copies_figures(node, [shard for _, shard in shards], history)
    return [ShardCopyStats(index=service.name, index_uuid=service.metadata.uuid, shard=shard.ref.shard,
                           state=shard.state, path=str(shard.path), primary=shard.primary,
                           retention_leases=f.pop("retention_leases"), figures=f)
            for (service, shard), f in zip(shards, figures, strict=True)]


def register(node) -> None:
    async def handle(request: IndexStatsNodeRequest, task: Task) -> IndexStatsNodeResponse:
        return IndexStatsNodeResponse(node_id=node.node_id,
                                      shards=await local_copies(node, request.indices, request.history))

    node.transport.register(INDEX_STATS_NODE, IndexStatsNodeRequest, IndexStatsNodeResponse, handle)


@dataclass
class CopyFigures:
    """Figures of every copy that answered, by (index uuid, shard, node id), and the nodes
    that did not answer (their copies show without figures)."""

    copies: dict[tuple[str, int, str], ShardCopyStats]
    failed_nodes: dict[str, StrataError]

    def of(self, index_uuid: str, shard: int, node_id: str | None) -> ShardCopyStats | None:
        return self.copies.get((index_uuid, shard, node_id)) if node_id is not None else None


async def gather_copies(node, names: list[str], history: bool = False) -> CopyFigures:
    """Ask every node the routing table places a copy of `names` on, in parallel."""
    content = node.coordination.content
    holders = sorted({c.node for name in names for c in content.routing_table.indices.get(name, ())
                      if c.node is not None})
    members = node.cluster_nodes()

    async def one(node_id: str) -> IndexStatsNodeResponse | StrataError:
        try:
            if node_id not in members:
                raise StrataError(f"node [{node_id}] is not in the cluster")
            return await node.transport.execute(
                INDEX_STATS_NODE, IndexStatsNodeRequest(indices=names, history=history),
                IndexStatsNodeResponse, address=node.shard_router.address(node_id), timeout=NODE_TIMEOUT)
        except StrataError as e:
            return e

    answers = await asyncio.gather(*(one(n) for n in holders))
    figures = CopyFigures({}, {})
    for node_id, answer in zip(holders, answers, strict=True):
        if isinstance(answer, StrataError):
            log.info("no shard stats from node [%s]: %s", node_id, answer)
            figures.failed_nodes[node_id] = answer
            continue
        for copy in answer.shards:
            figures.copies[(copy.index_uuid, copy.shard, node_id)] = copy
    return figures


# -- the top-level action: `indices:monitor/stats` ------------------------------------------------

INDICES_STATS = "indices:monitor/stats"


class IndicesStatsRequest(Message):
    expression: str | None = None  # None: every index
    options: IndicesOptions = IndicesOptions()
    history: bool = False  # also count the retained history (walks it)


class CopyStats(Message):
    """One copy of the routing table, with its node and, when that node answered, its
    figures."""

    routing: ShardRouting
    node_name: str | None = None
    node_address: str | None = None
    figures: ShardCopyStats | None = None


class IndexStats(Message):
    metadata: IndexMetadata
    health: str  # green, yellow or red, from the routing table
    copies: list[CopyStats]


class IndicesStatsResponse(Message):
    indices: list[IndexStats]


def register_stats(node) -> None:
    async def indices_stats(request: IndicesStatsRequest, task: Task) -> IndicesStatsResponse:
        names = resolve_names(node.indices, request.expression, request.options)
        figures = await gather_copies(node, names, history=request.history)
        state = node.coordination.applied_state
        details = state.node_details if state is not None else {}
        content = node.coordination.content
        views = {v.name: v for v in index_views(node, names)}
        out = []
        for name in names:
            view = views.get(name)
            if view is None:  # deleted while the figures were gathered
                continue
            md = view.metadata
            copies = []
            for copy in content.routing_table.indices.get(name, ()):
                holder = details.get(copy.node) if copy.node is not None else None
                copies.append(CopyStats(routing=copy, node_name=holder.name if holder is not None else None,
                                        node_address=holder.transport_address if holder is not None else None,
                                        figures=figures.of(md.uuid, copy.shard, copy.node)))
            out.append(IndexStats(metadata=md, health=index_health(view).counts.status.text, copies=copies))
        return IndicesStatsResponse(indices=out)

    node.transport.register(INDICES_STATS, IndicesStatsRequest, IndicesStatsResponse, indices_stats)
