"""`indices:admin/rollover`: an alias rolled over to a new index, as Elasticsearch's
TransportRolloverAction and MetadataRolloverService do it for aliases.

A master action like the other index admin changes (action/index_admin.py). On the master
it resolves the names the rollover would use and checks the new one is free (a dry run
fails there too), gathers the old index's figures from the nodes holding its primaries
when there are conditions (action/index_stats.py), and answers at once for a dry run or
unmet conditions. Otherwise one cluster state update makes the rollover: it resolves the
names and evaluates the conditions again on the state it runs on (a rollover that raced
it may have moved the alias), then creates the new index (index templates, settings,
mappings and aliases as index creation makes them) and moves the alias in the same new
state, so no node ever sees the alias without its write index. The coordinating node then
waits, as for index creation, until it has applied that state and for the copies
`wait_for_active_shards` asks for.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
import orjson

from ..cluster import blocks
from ..cluster.state import ClusterStateContent
from ..index.aliases import AliasLookup
from ..index.metadata import IndexMetadata
from ..index.rollover import (
    Condition,
    ConditionStats,
    RolloverNames,
    check_new_index_name,
    check_no_duplicated_alias_in_index_template,
    conditions_met,
    evaluate_conditions,
    lazy_refusal,
    resolve_rollover_names,
    rollover_alias_actions,
)
from ..index.templates.resolve import compose_create_body, request_hidden
from ..settings import normalize_index_settings
from ..tasks.task import Task
from ..transport.wire import Message
from .index_admin import APPLY_TIMEOUT, AppliedVersion, build_index_metadata, create_index, update_aliases
from .index_stats import ShardCopyStats, gather_copies
from .master import MasterNodeRequest

ROLLOVER = "indices:admin/rollover"


class RolloverRequest(MasterNodeRequest):
    target: str  # the alias
    new_index: str | None = None  # None: named after the old index
    create_body: bytes = b"{}"  # the new index's `settings`, `mappings` and `aliases`, JSON
    conditions: list[Condition] = []
    dry_run: bool = False
    lazy: bool = False
    wait_for_active_shards: int | str | None = None  # as CreateIndexRequest's
    ack_timeout: float = APPLY_TIMEOUT  # `timeout`

    @property
    def description(self) -> str:
        return f"rollover [{self.target}]" + (f" to [{self.new_index}]" if self.new_index else "")


class RolloverResponse(Message):
    """RolloverResponse; `applied` is the state that made the rollover, when there was one."""

    old_index: str
    new_index: str
    conditions: dict[str, bool]
    dry_run: bool = False
    rolled_over: bool = False
    lazy: bool = False
    applied: AppliedVersion | None = None
    shards_acknowledged: bool = False

    @property
    def acknowledged(self) -> bool:
        return self.applied is not None and self.applied.acknowledged


def condition_stats(metadata: IndexMetadata, primaries: list[ShardCopyStats | None]) -> ConditionStats:
    """TransportRolloverAction.buildStats over the figures of the index's primaries (None
    for one whose node did not answer): documents summed and at most per shard, sizes
    from the stores (Strata keeps no per-document size estimate, ES's
    docs.total_size_in_bytes), the age from `index.creation_date`."""
    docs = [p.docs or 0 for p in primaries if p is not None]
    sizes = [p.store_bytes for p in primaries if p is not None]
    created = int(metadata.settings.get("index.creation_date", 0))
    return ConditionStats(num_docs=sum(docs), index_created=created, index_size=sum(sizes),
                          max_primary_shard_size=max(sizes, default=0),
                          max_primary_shard_docs=max(docs, default=0))


def rollover_index(content: ClusterStateContent, request: RolloverRequest, stats: dict[str, ConditionStats],
                   now_millis: int) -> tuple[ClusterStateContent, RolloverNames, dict[str, bool]]:
    """The rollover as one update of the content (RolloverExecutor.executeTask): the names
    and the conditions again, on this content; unmet conditions leave it as it is.
    Otherwise the new index, composed with its templates and built as index creation
    builds it, and the alias moved to it (rollover_alias_actions). Answers the content,
    the names and each condition's result."""
    indices = content.metadata.indices
    names = resolve_rollover_names(indices, request.target, request.new_index)
    results = evaluate_conditions(request.conditions, stats.get(names.source), now_millis)
    if not conditions_met(request.conditions, results):
        return content, names, results
    check_new_index_name(names.rollover, indices)
    body = orjson.loads(request.create_body)
    settings = body.get("settings")
    hidden = request_hidden(normalize_index_settings(settings)) if isinstance(settings, dict) else False
    check_no_duplicated_alias_in_index_template(content.metadata, names.rollover, request.target, hidden)
    composed = compose_create_body(content.metadata, names.rollover, body)
    metadata = build_index_metadata(names.rollover, composed)
    definition = AliasLookup.of(indices).definition(request.target, names.source)
    content = create_index(content, metadata)
    content = update_aliases(content, rollover_alias_actions(names.source, names.rollover, request.target,
                                                             definition))
    return content, names, results


class RolloverAction:
    """The master action and its coordinating step; the cluster state updates go through
    the node's IndexAdmin, as every index admin change does."""

    def __init__(self, node):
        self.node = node

    def register(self) -> None:
        self.node.master_actions.register(ROLLOVER, RolloverRequest, RolloverResponse, self._rollover,
                                          coordinate=self._coordinate)

    async def _coordinate(self, request: RolloverRequest, task: Task) -> RolloverResponse:
        """The master's answer; a rollover made waits until this node has applied it and
        for the new index's active copies, within `master_timeout` as TransportRolloverAction
        waits (-1: as long as it takes). Not acknowledged in time: answered at once."""
        admin = self.node.index_admin
        response: RolloverResponse = await self.node.master_actions.on_master(ROLLOVER, request, task)
        if response.applied is None or not response.applied.acknowledged:
            return response
        await admin.wait_for_applied(response.applied)
        timeout = None if request.master_timeout < 0 else request.master_timeout
        acknowledged = await admin.wait_for_active_shards([response.new_index],
                                                          request.wait_for_active_shards, timeout)
        return msgspec.structs.replace(response, shards_acknowledged=acknowledged)

    async def _rollover(self, request: RolloverRequest, task: Task) -> RolloverResponse:
        """TransportRolloverAction.masterOperation: checks on the master's state, the trial
        evaluation (the answer of a dry run or of unmet conditions), then the update."""
        indices = self.node.coordination.content.metadata.indices
        names = resolve_rollover_names(indices, request.target, request.new_index)
        for name in AliasLookup.of(indices).aliases[request.target]:
            blocks.check(indices[name], blocks.METADATA_WRITE)  # checkBlock, before the operation
        check_new_index_name(names.rollover, indices)
        if request.lazy:
            raise lazy_refusal(request.conditions)
        stats = {names.source: await self.source_stats(indices[names.source])} if request.conditions else {}
        results = evaluate_conditions(request.conditions, stats.get(names.source), _now_millis())
        trial = RolloverResponse(old_index=names.source, new_index=names.rollover, conditions=results,
                                 dry_run=request.dry_run)
        if request.dry_run or not conditions_met(request.conditions, results):
            return trial
        made: list[Any] = []

        def update(content: ClusterStateContent) -> ClusterStateContent:
            updated, final, final_results = rollover_index(content, request, stats, _now_millis())
            made[:] = [updated is not content, final, final_results]
            return updated

        applied = await self.node.index_admin.submit(
            f"rollover_index source [{names.source}] to target [{names.rollover}]", update, "NORMAL",
            request.ack_timeout)
        rolled_over, final, final_results = made
        if not rolled_over:
            return trial  # the conditions no longer held on the state the update ran on
        return RolloverResponse(old_index=final.source, new_index=final.rollover, conditions=final_results,
                                rolled_over=True, applied=applied)

    async def source_stats(self, metadata: IndexMetadata) -> ConditionStats:
        """The figures of the index's primaries, from the nodes holding them."""
        figures = await gather_copies(self.node, [metadata.name])
        copies = self.node.coordination.content.routing_table.indices.get(metadata.name, ())
        return condition_stats(metadata, [figures.of(metadata.uuid, c.shard, c.node)
                                          for c in copies if c.primary])


def _now_millis() -> int:
    return int(time.time() * 1000)

