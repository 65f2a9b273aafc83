"""`GET /_stats`, `GET /{index}/_stats` and `.../_stats/{metric}`: the figures the
copies report of themselves (`indices:monitor/stats`, action/index_stats.py), summed into
Elasticsearch's sections (index/shard_stats.py) for primaries and in total, per index,
and per copy with `level=shards`, where each copy also shows its routing, its sequence
numbers and, on a primary, its retention leases (ES's shard-level stats). `{metric}`
names the sections to show, as ES's metric flags do.

`docs.deleted` counts the operations the history retains beyond each live document's own,
what soft deletes make Lucene report as deleted documents.
"""

from __future__ import annotations

from typing import Any

from ..action.index_stats import INDICES_STATS, IndicesStatsRequest, IndicesStatsResponse, ShardCopyStats
from ..common.errors import IllegalArgument
from ..index.shard_stats import METRICS, sections
from .controller import RestController, RestResponse
from .indices import indices_options
from .request import RestRequest, metric_names

PARAMS = ("level", "ignore_unavailable", "allow_no_indices", "expand_wildcards", "forbid_closed_indices",
          "groups", "fields", "completion_fields", "fielddata_fields", "include_segment_file_sizes",
          "include_unloaded_segments")
LEVELS = ("cluster", "indices", "shards")


def shard_entry(copy, stats: ShardCopyStats, metrics: list[str] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "routing": {"state": copy.state, "primary": copy.primary, "node": copy.node,
                    "relocating_node": copy.relocating_node},
        **sections([stats.figures], metrics),
        "seq_no": {"max_seq_no": stats.max_seq_no, "local_checkpoint": stats.local_checkpoint,
                   "global_checkpoint": stats.global_checkpoint},
        "shard_path": {"state_path": stats.path, "data_path": stats.path, "is_custom_data_path": False},
    }
    if stats.retention_leases is not None:
        entry["retention_leases"] = stats.retention_leases
    return entry


class IndexStatsHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for path in ("/_stats", "/{index}/_stats", "/_stats/{metric}", "/{index}/_stats/{metric}"):
            c.register("GET", path, self.stats, PARAMS, action=INDICES_STATS)

    async def stats(self, request: RestRequest) -> RestResponse:
        level = request.param("level", "indices")
        if level not in LEVELS:
            raise IllegalArgument(f"level parameter must be one of [cluster] or [indices] or [shards] but "
                                  f"was [{level}]")
        metrics = metric_names(request, "metric", METRICS)
        stats: IndicesStatsResponse = await self.node.client.execute(INDICES_STATS, IndicesStatsRequest(
            expression=request.param("index"), history=True,
            options=indices_options(request,
                                    forbid_closed=request.bool_param("forbid_closed_indices", True))))
        everything: list[ShardCopyStats] = []
        primaries: list[ShardCopyStats] = []
        indices: dict[str, Any] = {}
        copies_total = 0
        for index in stats.indices:
            copies_total += len(index.copies)
            answered = [(c.routing, c.figures) for c in index.copies if c.figures is not None]
            every = [s for _, s in answered]
            mine = [s for copy, s in answered if copy.primary]
            everything += every
            primaries += mine
            # health from the routing table and status from the metadata, as ES's
            # IndicesStatsResponse prints them (`close` for a closed index)
            body: dict[str, Any] = {"uuid": index.metadata.uuid, "health": index.health,
                                    "status": index.metadata.state,
                                    "primaries": sections([c.figures for c in mine], metrics),
                                    "total": sections([c.figures for c in every], metrics)}
            if level == "shards":
                shards: dict[str, list] = {}
                for copy, figures in sorted(answered, key=lambda a: (a[0].shard, not a[0].primary)):
                    shards.setdefault(str(copy.shard), []).append(shard_entry(copy, figures, metrics))
                body["shards"] = shards
            indices[index.metadata.name] = body
        response: dict[str, Any] = {
            "_shards": {"total": copies_total, "successful": len(everything), "failed": 0},
            "_all": {"primaries": sections([c.figures for c in primaries], metrics),
                     "total": sections([c.figures for c in everything], metrics)}}
        if level != "cluster":
            response["indices"] = indices
        return RestResponse(200, response)
