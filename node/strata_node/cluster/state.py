"""The content of the cluster state: what the cluster agrees on beyond who leads it.

The coordination core's ClusterState carries term, version, master, nodes and voting
configurations, and this in its `value`: metadata (cluster uuid, persistent and transient
settings, indices, legacy, component and composable index templates, customs such as
persistent tasks and reserved state, voting configuration exclusions), the routing table
and blocks. Every struct is frozen; a change is a new value built with
`msgspec.structs.replace`, so appliers can compare old and new by identity and equality.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..index.metadata import IndexMetadata
from ..index.templates.metadata import ComponentTemplate, ComposableIndexTemplate
from ..reservedstate.metadata import ReservedStateMetadata
from .coordination.cluster_state import ClusterState

UNKNOWN_UUID = "_na_"
# ES marks the in-sync set of a primary forced onto stale data until that copy starts, so
# a failure before then cannot start it empty elsewhere; the copy starts a new history.
FORCED_ALLOCATION_ID = "_forced_allocation_"


class VotingConfigExclusion(msgspec.Struct, frozen=True):
    node_id: str
    node_name: str


ABSENT = "_absent_"  # VotingConfigExclusion.MISSING_VALUE_MARKER: the half not known yet


def resolve_absent_exclusions(content: ClusterStateContent, members: dict[str, Any]) -> ClusterStateContent:
    """Exclusions added before their node joined know it by name or by id only; once a
    master-eligible member matches, they get the other half (ES's JoinTaskExecutor), so
    the reconfigurator, which compares ids, keeps that node out of the voting configuration."""
    exclusions = content.metadata.voting_config_exclusions
    if not any(ABSENT in (e.node_id, e.node_name) for e in exclusions):
        return content
    eligible = [node for node in members.values() if node.is_master_eligible]
    resolved = []
    for e in exclusions:
        match = next((n for n in eligible if (e.node_id == ABSENT and n.name == e.node_name)
                      or (e.node_name == ABSENT and n.id == e.node_id)), None)
        resolved.append(VotingConfigExclusion(match.id, match.name) if match is not None else e)
    metadata = msgspec.structs.replace(content.metadata, voting_config_exclusions=tuple(resolved))
    return msgspec.structs.replace(content, metadata=metadata)


class Metadata(msgspec.Struct, frozen=True):
    cluster_uuid: str = UNKNOWN_UUID
    # True once a state carrying the uuid committed: from then on the node belongs to it.
    cluster_uuid_committed: bool = False
    version: int = 0
    persistent_settings: dict[str, Any] = msgspec.field(default_factory=dict)
    transient_settings: dict[str, Any] = msgspec.field(default_factory=dict)
    indices: dict[str, IndexMetadata] = msgspec.field(default_factory=dict)
    templates: dict[str, Any] = msgspec.field(default_factory=dict)  # legacy `_template`s (none yet)
    component_templates: dict[str, ComponentTemplate] = msgspec.field(default_factory=dict)
    # composable index templates (Elasticsearch's templatesV2)
    index_templates: dict[str, ComposableIndexTemplate] = msgspec.field(default_factory=dict)
    customs: dict[str, Any] = msgspec.field(default_factory=dict)
    voting_config_exclusions: tuple[VotingConfigExclusion, ...] = ()
    # namespace (`file_settings`) -> what it reserved and its last error
    reserved_state: dict[str, ReservedStateMetadata] = msgspec.field(default_factory=dict)


class ShardRouting(msgspec.Struct, frozen=True):
    """One copy of one shard. An assigned copy names its node and that node's ephemeral
    id: a node that restarted holds its data but no open shard, so the copy is initialized
    again. An unassigned copy remembers where it was, so an in-sync copy goes back to the
    node that has its data rather than starting empty elsewhere."""

    index: str
    shard: int
    primary: bool
    state: str = "UNASSIGNED"  # UNASSIGNED, INITIALIZING, STARTED, RELOCATING
    node: str | None = None
    node_ephemeral_id: str | None = None
    allocation_id: str | None = None
    unassigned_reason: str | None = "INDEX_CREATED"
    unassigned_details: str | None = None
    last_node: str | None = None
    last_allocation_id: str | None = None
    # Failed allocations in a row (ES's UnassignedInfo failed_allocations): kept while the
    # copy initializes again, cleared once it starts; max_retry stops retrying at the limit.
    failed_attempts: int = 0
    # When the copy became unassigned, ms since the epoch (explain's `at`); 0 if unknown.
    unassigned_at: int = 0
    # A relocation: on the RELOCATING source, the node it moves to; on the INITIALIZING
    # target (a copy recovering from the primary, primary only once the move completes),
    # the node it moves from.
    relocating_node: str | None = None
    # An unassigned replica waiting for its node to come back (ES's UnassignedInfo delayed):
    # set by the reroute while `index.unassigned.node_left.delayed_timeout` runs.
    delayed: bool = False
    # What the last reroute found for an unassigned primary (ES's UnassignedInfo
    # lastAllocationStatus): `no_attempt`, `deciders_no`, `deciders_throttled` or
    # `no_valid_shard_copy`. A new primary the deciders refuse is red; one only throttled
    # is yellow, as ClusterShardHealth has it.
    allocation_status: str = "no_attempt"


class RoutingTable(msgspec.Struct, frozen=True):
    version: int = 0
    indices: dict[str, tuple[ShardRouting, ...]] = msgspec.field(default_factory=dict)


class ClusterBlock(msgspec.Struct, frozen=True):
    id: int
    description: str
    retryable: bool
    levels: tuple[str, ...]


# Elasticsearch's NO_MASTER_BLOCK_WRITES: while no master is known, cluster state cannot
# change and writes are refused.
NO_MASTER_BLOCK = ClusterBlock(2, "no master", True, ("write", "metadata_write"))


class ClusterBlocks(msgspec.Struct, frozen=True):
    global_blocks: tuple[ClusterBlock, ...] = ()
    indices: dict[str, tuple[ClusterBlock, ...]] = msgspec.field(default_factory=dict)


class ClusterStateContent(msgspec.Struct, frozen=True):
    metadata: Metadata = Metadata()
    routing_table: RoutingTable = RoutingTable()
    blocks: ClusterBlocks = ClusterBlocks()


EMPTY_CONTENT = ClusterStateContent()


def as_content(value: Any) -> ClusterStateContent:
    """A core state's value as content; the initial (bootstrap) state has none yet."""
    return value if isinstance(value, ClusterStateContent) else EMPTY_CONTENT


def content_of(state: ClusterState | None) -> ClusterStateContent:
    return as_content(state.value if state is not None else None)


def with_custom(content: ClusterStateContent, key: str, value: Any) -> ClusterStateContent:
    """The content with metadata custom `key` set to `value` (dropped when empty); a
    metadata change bumps the metadata version."""
    customs = {**content.metadata.customs, key: value}
    if not value:
        customs.pop(key)
    metadata = msgspec.structs.replace(content.metadata, customs=customs,
                                       version=content.metadata.version + 1)
    return msgspec.structs.replace(content, metadata=metadata)


def voting_config_exclusions(value: Any) -> frozenset[str]:
    """The node ids the reconfigurator must leave out (read by the coordination core)."""
    return frozenset(e.node_id for e in as_content(value).metadata.voting_config_exclusions)


def auto_shrink_voting_configuration(value: Any) -> bool | None:
    """`cluster.auto_shrink_voting_configuration` as the cluster settings say (transient,
    then persistent), read by the coordination core; None leaves it to the node setting."""
    metadata = as_content(value).metadata
    for layer in (metadata.transient_settings, metadata.persistent_settings):
        raw = layer.get("cluster.auto_shrink_voting_configuration")
        if raw is not None:
            return str(raw).lower() == "true"
    return None


def encode_state(state: ClusterState) -> Any:
    """A state as plain data (msgpack- and diff-friendly)."""
    return msgspec.to_builtins(state)


def decode_state(data: Any) -> ClusterState:
    state = msgspec.convert(data, ClusterState)
    if state.value is not None:
        state = msgspec.structs.replace(state, value=msgspec.convert(state.value, ClusterStateContent))
    return state
