"""Index metadata changes, made by the master and seen by every node through the cluster
state (Elasticsearch's MetadataCreateIndexService, MetadataDeleteIndexService,
MetadataMappingService and ShardStateAction).

Each change is a master action: the node that took the request checks what it can
locally, sends it to the master (`MasterActions`), and the master turns it into one
cluster state update, validated inside the update so two racing requests cannot both
succeed. The requesting node then waits until it has applied the state that carries the
change, so a request that follows on the same node sees it. Shard allocation runs on every
state the master builds (allocation/allocator.py); nodes report their copies started or
failed with `internal:cluster/shard/started` and `.../failure`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

import msgspec
import orjson

from ..allocation import allocator
from ..cluster import blocks
from ..cluster.shard_copies import ACTIVE
from ..cluster.state import ClusterStateContent, RoutingTable, content_of
from ..common.errors import IllegalArgument, IndexNotFound, ResourceAlreadyExists, StrataError
from ..common.ids import random_base64_uuid
from ..common.patterns import simple_match
from ..index import aliases
from ..index import mapping as mappings
from ..index.analysis.registry import validate_analysis_settings
from ..index.mapping.limits import MappingLimits, check_limits
from ..index.metadata import VERSION_CREATED, IndexMetadata, setting_string
from ..index.service import analysis_names, parse_create_body
from ..index.templates.resolve import compose_create_body
from ..search.alias_filter import validate_alias_filter
from ..settings import (
    INDEX_ANALYSIS_PREFIX,
    INDEX_SETTINGS,
    TIER_PREFERENCE,
    SettingsError,
    is_wildcard_reset,
    tier_list,
    validate_settings_update,
)
from ..snapshots import in_progress as snapshots_in_progress
from ..tasks.task import Task
from ..transport.wire import Message
from .master import MasterNodeRequest
from .resolve import IndicesOptions, resolve_names

log = logging.getLogger("strata.index_admin")

CREATE = "indices:admin/create"
DELETE = "indices:admin/delete"
PUT_MAPPING = "indices:admin/mapping/put"
UPDATE_SETTINGS = "indices:admin/settings/update"
AUTO_PUT_MAPPING = "indices:admin/mapping/auto_put"
UPDATE_ALIASES = "indices:admin/aliases"
CLOSE = "indices:admin/close"
OPEN = "indices:admin/open"
SHARD_STARTED = "internal:cluster/shard/started"
SHARD_FAILED = "internal:cluster/shard/failure"
APPLY_TIMEOUT = 30.0


class CreateIndexRequest(MasterNodeRequest):
    name: str
    body: bytes  # the create-index body, JSON
    # The active copies of each shard to wait for: `all`, a count, or None for the
    # index's index.write.wait_for_active_shards (1: the primaries).
    wait_for_active_shards: int | str | None = None
    timeout: float = APPLY_TIMEOUT  # to wait for them

    @property
    def description(self) -> str:
        return f"index [{self.name}]"


class IndicesRequest(MasterNodeRequest):
    """A master action on the indices an expression names, resolved by the coordinating node."""

    names: list[str] | None = None  # None: what the coordinating node resolves `expression` to
    expression: str | None = None  # None: every index
    options: IndicesOptions = IndicesOptions()
    ack_timeout: float = APPLY_TIMEOUT  # how long every node may take to apply it (`timeout`)

    @property
    def description(self) -> str:
        return f"indices[{','.join(self.names) if self.names is not None else self.expression or ''}]"


class DeleteIndicesRequest(IndicesRequest):
    pass


class PutMappingRequest(MasterNodeRequest):
    source: bytes  # JSON
    names: list[str] | None = None  # None: what the coordinating node resolves `expression` to
    expression: str | None = None  # None: every index
    options: IndicesOptions = IndicesOptions()
    ack_timeout: float = APPLY_TIMEOUT


class UpdateSettingsRequest(MasterNodeRequest):
    settings: bytes  # flat `index.` keys -> string values (None resets to the default), JSON
    names: list[str] | None = None  # None: what the coordinating node resolves `expression` to
    expression: str | None = None  # None: every index
    options: IndicesOptions = IndicesOptions()
    preserve_existing: bool = False  # each index leaves out what it already sets (on the master)
    ack_timeout: float = APPLY_TIMEOUT


class CreateIndexResponse(Message):
    applied: AppliedVersion
    shards_acknowledged: bool = False  # whether the copies waited for were active in time


class IndexStateRequest(IndicesRequest):
    """Close or open indices (the action says which)."""

    wait_for_active_shards: int | str | None = None  # as CreateIndexRequest's
    timeout: float = APPLY_TIMEOUT  # to wait for them


class IndexStateResponse(Message):
    applied: AppliedVersion
    indices: list[str]  # those this request changed
    shards_acknowledged: bool = False


class UpdateAliasesRequest(MasterNodeRequest):
    actions: bytes  # the `POST /_aliases` body, JSON: parsed and resolved on the master
    ack_timeout: float = APPLY_TIMEOUT


class AliasActionResult(Message):
    """One action's outcome, as IndicesAliasesResponse lists it when any action failed."""

    type: str  # add | remove | remove_index
    indices: list[str]  # those it resolved to, sorted
    aliases: list[str]  # as the request named them
    status: int = 200
    error: dict[str, Any] | None = None  # the failure's body: type, reason and its metadata


class UpdateAliasesResponse(Message):
    applied: AppliedVersion
    results: list[AliasActionResult] = []

    @property
    def errors(self) -> bool:
        return any(r.error is not None for r in self.results)


class AutoPutMappingRequest(MasterNodeRequest):
    name: str
    uuid: str
    mapping: bytes  # the full mapping the node's documents need, JSON


class ShardStateRequest(MasterNodeRequest):
    index: str
    uuid: str
    shard: int
    allocation_id: str
    reason: str = ""
    # A primary failing one of its replicas says which term it is primary of: the master
    # refuses a superseded primary, whose write then fails instead of being acknowledged.
    primary_term: int = 0


class NoLongerPrimary(StrataError):
    type = "no_longer_primary_shard_exception"
    status = 500


class AppliedVersion(Message):
    """The (term, version) of the state carrying the change: the requester waits for it.
    `acknowledged`: every node applied it within the request's ack timeout (or nothing
    was asked of them)."""

    term: int
    version: int
    acknowledged: bool = True


def _with_indices(content: ClusterStateContent, indices: dict[str, IndexMetadata]) -> ClusterStateContent:
    metadata = msgspec.structs.replace(content.metadata, indices=indices,
                                       version=content.metadata.version + 1)
    return msgspec.structs.replace(content, metadata=metadata)


def _index(content: ClusterStateContent, name: str, uuid: str | None = None) -> IndexMetadata:
    metadata = content.metadata.indices.get(name)
    if metadata is None or (uuid is not None and metadata.uuid != uuid):
        raise IndexNotFound(name)
    return metadata


# -- the updates, as pure functions of the content (the master runs them in its batch) --------


def build_index_metadata(name: str, body: dict[str, Any]) -> IndexMetadata:
    settings, mapping, aliases = parse_create_body(name, body)
    uuid = random_base64_uuid()
    settings.update({"index.uuid": uuid, "index.creation_date": str(int(time.time() * 1000)),
                     "index.version.created": VERSION_CREATED, "index.provided_name": name})
    settings.setdefault("index.number_of_shards", "1")
    settings.setdefault("index.number_of_replicas", "1")
    if not tier_list(str(settings.get(TIER_PREFERENCE) or "")):
        settings[TIER_PREFERENCE] = "data_content"  # as ES, whatever else the request filters on
    shards = int(settings["index.number_of_shards"])
    metadata = IndexMetadata(name, uuid, settings, mapping, aliases, primary_terms=(1,) * shards)
    for alias, definition in aliases.items():
        if "filter" in definition:
            validate_alias_filter(alias, definition["filter"], metadata)
    return metadata


def active_shard_count(wanted: int | str | None, metadata: IndexMetadata) -> int | str:
    """The copies of each shard of the index to wait for: the request's, else the index's."""
    return metadata.setting("index.write.wait_for_active_shards") if wanted is None else wanted


def check_active_shard_count(wanted: int | str | None, metadata: IndexMetadata) -> None:
    """A new index may not be waited for with more copies than it has (ActiveShardCount.validate)."""
    count = active_shard_count(wanted, metadata)
    copies = metadata.number_of_replicas + 1
    if count != "all" and count > copies:
        raise IllegalArgument(f"invalid wait_for_active_shards[{count}]: cannot be greater than number of "
                              f"shard copies [{copies}]")


def enough_shards_active(content: ClusterStateContent, names: list[str], wanted: int | str | None) -> bool:
    """ActiveShardCount.enoughShardsActive: every primary of each index active, and each
    shard with as many active copies as asked (`all`: 1 + number_of_replicas). An index
    deleted while waited for, or without a routing table, has nothing left to wait for."""
    if wanted == 0:
        return True
    for name in names:
        metadata = content.metadata.indices.get(name)
        copies = content.routing_table.indices.get(name)
        if metadata is None or copies is None:
            continue
        count = active_shard_count(wanted, metadata)
        needed = metadata.number_of_replicas + 1 if count == "all" else count
        for shard in range(metadata.number_of_shards):
            active = [c for c in copies if c.shard == shard and c.state in ACTIVE]
            if not any(c.primary for c in active) or len(active) < needed:
                return False
    return True


def create_index(content: ClusterStateContent, metadata: IndexMetadata) -> ClusterStateContent:
    """The index in the metadata; the reroute that follows every update places its shards.
    Its name may not be an alias's, nor its aliases break what holds of every alias."""
    existing = content.metadata.indices.get(metadata.name)
    if existing is not None:
        raise ResourceAlreadyExists(f"index [{metadata.name}/{existing.uuid}] already exists",
                                    index_uuid=existing.uuid, index=metadata.name)
    aliases.check_new_index(metadata.name, metadata.aliases, content.metadata.indices)
    indices = {**content.metadata.indices, metadata.name: metadata}
    aliases.validate_aliases(indices)
    return _with_indices(content, indices)


def update_aliases(content: ClusterStateContent, actions: list[aliases.AliasAction],
                   results: list[aliases.ActionResult] | None = None) -> ClusterStateContent:
    """Every action of one `POST /_aliases`, or none: `remove_index` deletes its indices
    (their shards leave with the reroute that follows), the others change the aliases of
    the indices they resolve to, each changed index with its aliases version bumped. An
    index with a metadata write block refuses the whole request. `results` gets each
    action's result (a `remove` that matched nothing fails there, not the request)."""
    update = aliases.apply_actions(content.metadata.indices, actions, validate_alias_filter)
    if results is not None:
        results[:] = update.results
    indices = update.indices
    if not update.removed and all(indices[n] is m for n, m in content.metadata.indices.items()):
        return content
    return _with_indices(content, indices)  # as delete_indices: the reroute drops removed indices' shards


def delete_indices(content: ClusterStateContent, names: list[str]) -> ClusterStateContent:
    busy = snapshots_in_progress.indices_being_snapshotted(content, names)
    if busy:
        described = ", ".join(f"[{n}/{content.metadata.indices[n].uuid}]" for n in busy)
        raise snapshots_in_progress.SnapshotInProgress(
            f"Cannot delete indices that are being snapshotted: [{described}]. Try again after snapshot "
            "finishes or cancel the currently running snapshot.")
    indices = {n: m for n, m in content.metadata.indices.items() if n not in names}
    if len(indices) == len(content.metadata.indices):
        return content
    return _with_indices(content, indices)


def set_index_state(content: ClusterStateContent, names: list[str], state: str,
                    changed: list[str]) -> ClusterStateContent:
    """Close (state "close") or open ("open") the named indices; those already so are left
    as they are, and `changed` gets the others. A closed index keeps its shards assigned
    and its copies in sync (ES 7.2's replicated closed indices): only the block it gets
    stops reads and writes, so closing and opening move no data."""
    indices = dict(content.metadata.indices)
    changed.clear()
    for name in sorted(set(names)):
        metadata = _index(content, name)
        if metadata.state != state:
            indices[name] = metadata.with_state(state)
            changed.append(name)
    return _with_indices(content, indices) if changed else content


def put_mapping(content: ClusterStateContent, names: list[str],
                source: dict[str, Any]) -> ClusterStateContent:
    """Every merge computed (and any conflict raised) before any index changes."""
    indices = dict(content.metadata.indices)
    changed = False
    for name in sorted(names):
        metadata = _index(content, name)
        analysis = analysis_names(metadata.settings, name)
        parsed = mappings.Mapping.parse_update(source, analysis=analysis)
        mapping = mappings.Mapping.parse(metadata.mappings).merge(parsed)
        check_limits(mapping, MappingLimits.of(metadata.setting))
        merged = mapping.to_dict()
        if merged != metadata.mappings:
            indices[name] = metadata.with_mappings(merged)
            changed = True
    return _with_indices(content, indices) if changed else content


def update_settings(content: ClusterStateContent, names: list[str], settings: dict[str, Any],
                    preserve_existing: bool = False) -> ClusterStateContent:
    """The settings of every index named, or of none: dynamic ones on any index, static
    ones (analysis included) on closed indices only; with `preserve_existing`, each index
    takes only those it does not set already. A change of `index.number_of_replicas` adds
    unassigned replicas or removes the least advanced ones (unassigned, then recovering,
    then started); the reroute after places the new ones."""
    validate_settings_update(settings)
    refuse_static(settings, [_index(content, n) for n in names])
    indices = dict(content.metadata.indices)
    routing = dict(content.routing_table.indices)
    changed = False
    for name in sorted(names):
        metadata = _index(content, name)
        update = {k: v for k, v in settings.items() if not (preserve_existing and k in metadata.settings)}
        wildcards = [k for k, v in update.items() if is_wildcard_reset(k, v)]
        merged = {k: v for k, v in metadata.settings.items()
                  if k not in update and not _reset_by_wildcard(k, wildcards, metadata.closed)}
        merged.update({k: setting_string(v) for k, v in update.items() if v is not None})
        if merged == dict(metadata.settings):
            continue
        if metadata.closed:
            check_closed_index_settings(name, merged, metadata.mappings)
        changed = True
        indices[name] = metadata.with_settings(merged)
        if indices[name].number_of_replicas != metadata.number_of_replicas and name in routing:
            replicas = indices[name].number_of_replicas  # the default again when reset with null
            routing[name] = allocator.with_replicas(routing[name], metadata.number_of_shards, replicas)
    if not changed:
        return content
    content = _with_indices(content, indices)
    return msgspec.structs.replace(content, routing_table=RoutingTable(content.routing_table.version + 1,
                                                                       routing))


def _reset_by_wildcard(key: str, wildcards: list[str], closed: bool) -> bool:
    """Whether a `prefix.*: null` reset (ES's wildcard delete) drops `key`: one an update
    may change, that is a dynamic setting, or on a closed index any but final and private
    ones (analysis included)."""
    if not any(simple_match(w, key) for w in wildcards):
        return False
    setting = INDEX_SETTINGS.get(key)
    if setting is not None and (setting.final or setting.private):
        return False
    return closed or (setting.dynamic if setting is not None else not key.startswith(INDEX_ANALYSIS_PREFIX))


def refuse_static(settings: dict[str, Any], targets: list[IndexMetadata]) -> None:
    """Only dynamic settings change on an open index; final ones on none. (A wildcard reset
    is never refused: it drops what each index may lose.)"""
    open_targets = sorted((m for m in targets if not m.closed), key=lambda m: m.name)
    for key in [k for k, v in settings.items() if not is_wildcard_reset(k, v)]:
        setting = INDEX_SETTINGS.get(key)
        static = (setting is not None and not setting.dynamic) or key.startswith(INDEX_ANALYSIS_PREFIX)
        if static and open_targets:
            names = ", ".join(f"[{m.name}/{m.uuid}]" for m in open_targets)
            raise IllegalArgument(f"Can't update non dynamic settings [[{key}]] for open indices [{names}]")
        if setting is not None and setting.final and targets:
            raise IllegalArgument(f"final index setting [{key}], not updateable")


def check_closed_index_settings(name: str, settings: dict[str, Any], mapping: dict[str, Any]) -> None:
    """A closed index's settings as they would be: its analysis must build, and its
    mapping must still find every analyzer it names, or the index could not be opened
    (ES verifies the index metadata the same way before it keeps the change)."""
    try:
        validate_analysis_settings(settings, name)
    except (SettingsError, ValueError) as e:
        raise IllegalArgument(str(e)) from None
    mappings.Mapping.parse(mapping, analysis=analysis_names(settings, name))


def merge_dynamic_mapping(content: ClusterStateContent, name: str, uuid: str,
                          wanted: dict[str, Any]) -> ClusterStateContent:
    """The fields a node's documents added, merged into the index's mapping (a conflict with
    another node's update raises, and fails the documents that needed it)."""
    metadata = _index(content, name, uuid)
    if wanted == metadata.mappings:
        return content
    mapping = mappings.Mapping.parse(metadata.mappings).merge(mappings.Mapping.parse(wanted))
    check_limits(mapping, MappingLimits.of(metadata.setting))  # two nodes' new fields together
    merged = mapping.to_dict()
    if merged == metadata.mappings:
        return content
    return _with_indices(content, {**content.metadata.indices, name: metadata.with_mappings(merged)})


def start_shard(content: ClusterStateContent, index: str, shard: int,
                allocation_id: str) -> ClusterStateContent:
    if index not in content.metadata.indices:
        return content
    return allocator.shard_started(content, index, shard, allocation_id)


def fail_shard(content: ClusterStateContent, index: str, shard: int, allocation_id: str,
               reason: str, primary_term: int = 0) -> ClusterStateContent:
    metadata = content.metadata.indices.get(index)
    if metadata is None:
        return content
    if primary_term and metadata.primary_terms[shard] != primary_term:
        raise NoLongerPrimary(f"[{index}][{shard}] primary term [{primary_term}] did not match current "
                              f"primary term [{metadata.primary_terms[shard]}]")
    return allocator.shard_failed(content, index, shard, allocation_id, reason)


class IndexAdmin:
    """The node's client for index metadata changes, and the master's handlers of them."""

    def __init__(self, node):
        self.node = node
        self._background: set[asyncio.Task] = set()

    def register(self) -> None:
        master = self.node.master_actions
        master.register(CREATE, CreateIndexRequest, CreateIndexResponse, self._create,
                        coordinate=self._coordinate_create)
        master.register(DELETE, DeleteIndicesRequest, AppliedVersion, self._delete,
                        coordinate=self._coordinate_delete)
        master.register(PUT_MAPPING, PutMappingRequest, AppliedVersion, self._put_mapping,
                        coordinate=self._coordinate_put_mapping)
        master.register(UPDATE_SETTINGS, UpdateSettingsRequest, AppliedVersion, self._update_settings,
                        coordinate=self._coordinate_update_settings)
        master.register(UPDATE_ALIASES, UpdateAliasesRequest, UpdateAliasesResponse, self._update_aliases,
                        coordinate=self._coordinate_update_aliases)
        for action, state in ((CLOSE, "close"), (OPEN, "open")):
            master.register(action, IndexStateRequest, IndexStateResponse,
                            functools.partial(self._set_index_state, state),
                            coordinate=functools.partial(self._coordinate_index_state, action))
        master.register(AUTO_PUT_MAPPING, AutoPutMappingRequest, AppliedVersion, self._auto_put_mapping,
                        coordinate=functools.partial(self.applied_here, AUTO_PUT_MAPPING))
        master.register(SHARD_STARTED, ShardStateRequest, AppliedVersion, self._shard_started)
        master.register(SHARD_FAILED, ShardStateRequest, AppliedVersion, self._shard_failed)

    # -- the coordinating side: checks that fail early, then the master, then waiting here ----

    async def applied_here(self, action: str, request: MasterNodeRequest, task: Task) -> AppliedVersion:
        """The master's answer, once this node has applied the state carrying the change
        (so a request that follows on this node sees it)."""
        applied: AppliedVersion = await self.node.master_actions.on_master(action, request, task)
        await self.wait_for_applied(applied)
        return applied

    async def _coordinate_create(self, request: CreateIndexRequest, task: Task) -> CreateIndexResponse:
        self.node.indices.check_create(request.name, orjson.loads(request.body))
        try:
            response: CreateIndexResponse = await self.node.master_actions.on_master(CREATE, request, task)
        except ResourceAlreadyExists:
            # Another request created it first: let this node apply that state too, so
            # the caller can use the index at once.
            await self.wait_for_index(request.name)
            raise
        if not response.applied.acknowledged:  # as ES: no wait for shards (NOT_ACKNOWLEDGED)
            return msgspec.structs.replace(response, shards_acknowledged=False)
        await self.wait_for_applied(response.applied)
        acknowledged = await self.wait_for_active_shards([request.name], request.wait_for_active_shards,
                                                         request.timeout)
        return msgspec.structs.replace(response, shards_acknowledged=acknowledged)

    def _refuse_destructive_wildcards(self, expression: str | None) -> None:
        """`action.destructive_requires_name`: delete, close and open name their indices."""
        if self.node.cluster_settings.get("action.destructive_requires_name"):
            for part in (expression or "_all").split(","):
                if part in ("_all", "*") or ("*" in part and not part.startswith("-")):
                    raise IllegalArgument("Wildcard expressions or all indices are not allowed")

    async def _coordinate_delete(self, request: DeleteIndicesRequest, task: Task) -> AppliedVersion:
        indices = self.node.indices
        if request.names is None:
            self._refuse_destructive_wildcards(request.expression)
            names = resolve_names(indices, request.expression, request.options, allow_aliases=False)
            request = msgspec.structs.replace(request, names=names)
        for name in request.names:
            blocks.check(indices.metadata(name), blocks.METADATA_WRITE, deleting=True)
        if not request.names:
            return self._current_version()
        return await self.applied_here(DELETE, request, task)

    async def _coordinate_put_mapping(self, request: PutMappingRequest, task: Task) -> AppliedVersion:
        indices = self.node.indices
        if request.names is None:
            names = resolve_names(indices, request.expression, request.options)
            request = msgspec.structs.replace(request, names=sorted(set(names)))
        indices.check_put_mapping(request.names, orjson.loads(request.source))
        return await self.applied_here(PUT_MAPPING, request, task)

    async def _coordinate_update_settings(self, request: UpdateSettingsRequest, task: Task) -> AppliedVersion:
        indices = self.node.indices
        settings = orjson.loads(request.settings)
        if request.names is None:
            names = resolve_names(indices, request.expression, request.options)
            request = msgspec.structs.replace(request, names=names)
        # Checked here too, so that the master is not asked in vain. `preserve_existing` is
        # for the master to apply, index by index, on the state it updates.
        refuse_static(settings, [indices.metadata(n) for n in request.names])
        if not blocks.lifts_blocks(settings):
            for name in request.names:
                blocks.check(indices.metadata(name), blocks.METADATA_WRITE)
        if not request.names or not settings:
            return self._current_version()
        return await self.applied_here(UPDATE_SETTINGS, request, task)

    async def _coordinate_index_state(self, action: str, request: IndexStateRequest,
                                      task: Task) -> IndexStateResponse:
        indices = self.node.indices
        if request.names is None:
            self._refuse_destructive_wildcards(request.expression)
            request = msgspec.structs.replace(
                request, names=resolve_names(indices, request.expression, request.options))
        for name in request.names:
            blocks.check(indices.metadata(name), blocks.METADATA_WRITE)
        if not request.names:  # a wildcard that matched nothing (ES answers so)
            return IndexStateResponse(applied=self._current_version(), indices=[],
                                      shards_acknowledged=action == OPEN)
        response: IndexStateResponse = await self.node.master_actions.on_master(action, request, task)
        if not response.applied.acknowledged:  # as ES: no wait for shards
            return msgspec.structs.replace(response, shards_acknowledged=False)
        await self.wait_for_applied(response.applied)
        if action == CLOSE and not response.indices:
            return response  # every one was closed already: nothing to wait for (as ES)
        acknowledged = await self.wait_for_active_shards(request.names, request.wait_for_active_shards,
                                                         request.timeout)
        return msgspec.structs.replace(response, shards_acknowledged=acknowledged)

    async def _coordinate_update_aliases(self, request: UpdateAliasesRequest,
                                         task: Task) -> UpdateAliasesResponse:
        aliases.parse_actions(orjson.loads(request.actions))  # a malformed request fails before the master
        response: UpdateAliasesResponse = await self.node.master_actions.on_master(UPDATE_ALIASES, request,
                                                                                   task)
        await self.wait_for_applied(response.applied)
        return response

    def _current_version(self) -> AppliedVersion:
        """Nothing to change: the state this node has applied is as new as the answer."""
        state = self.node.coordination.applied_state
        return AppliedVersion(term=state.term if state else 0, version=state.version if state else 0)

    # -- the client side ---------------------------------------------------------------

    async def _execute(self, action: str, request: MasterNodeRequest) -> None:
        await self.node.master_actions.execute(action, request)

    async def wait_for_applied(self, applied: AppliedVersion | Any) -> None:
        """(`applied`: an AppliedVersion, or another master answer carrying the same term,
        version and acknowledged, a reroute's.) An acknowledged change has reached this
        node too: every node applied it, so a
        request that follows here sees it. One not acknowledged in time is answered at once,
        as ES answers it, whatever this node has applied (the master itself applies a state
        last, once its publication is over)."""
        if applied.acknowledged:
            await self.wait_for_version(applied.term, applied.version)

    async def wait_for_version(self, term: int, version: int, timeout: float = APPLY_TIMEOUT) -> None:
        def reached(state) -> bool:
            return state is not None and (state.term, state.version) >= (term, version)

        if not await self.node.coordination.wait_for_state(reached, timeout):
            raise StrataError(f"timed out waiting for this node to apply cluster state version [{version}]")

    async def wait_for_index(self, name: str, timeout: float = APPLY_TIMEOUT) -> None:
        await self.node.coordination.wait_for_state(
            lambda state: name in content_of(state).metadata.indices, timeout)

    async def create_index(self, name: str, body: dict[str, Any], timeout: float = APPLY_TIMEOUT) -> None:
        """Create it, and wait (up to `timeout`) for the copies its
        index.write.wait_for_active_shards asks for (by default the primaries)."""
        await self._execute(CREATE, CreateIndexRequest(name=name, body=orjson.dumps(body), timeout=timeout))

    async def wait_for_active_shards(self, names: list[str], wanted: int | str | None,
                                     timeout: float) -> bool:
        """ES's ActiveShardsObserver: whether, within `timeout`, the applied state has the
        active copies `wanted` asks for (`shards_acknowledged`)."""
        return await self.node.coordination.wait_for_state(
            lambda state: enough_shards_active(content_of(state), names, wanted), timeout)

    async def update_aliases(self, body: dict[str, Any]) -> None:
        await self._execute(UPDATE_ALIASES, UpdateAliasesRequest(actions=orjson.dumps(body)))

    async def delete_indices(self, names: list[str]) -> None:
        await self._execute(DELETE, DeleteIndicesRequest(names=names))

    async def put_mapping(self, names: list[str], source: dict[str, Any]) -> None:
        await self._execute(PUT_MAPPING, PutMappingRequest(names=names, source=orjson.dumps(source)))

    async def put_dynamic_mapping(self, name: str, uuid: str, mapping: dict[str, Any]) -> None:
        await self._execute(AUTO_PUT_MAPPING, AutoPutMappingRequest(name=name, uuid=uuid,
                                                                    mapping=orjson.dumps(mapping)))

    def report_shard(self, started: bool, index: str, uuid: str, shard: int, allocation_id: str,
                     reason: str = "") -> None:
        """Tell the master a copy is open (or failed), retrying across master changes."""
        action = SHARD_STARTED if started else SHARD_FAILED
        request = ShardStateRequest(index=index, uuid=uuid, shard=shard, allocation_id=allocation_id,
                                    reason=reason)

        async def send() -> None:
            try:
                await self.node.master_actions.execute(action, request, master_timeout=300.0)
            except StrataError as e:
                log.warning("failed to report shard [%s][%d] %s to the master: %s", index, shard,
                            "started" if started else "failed", e)

        task = asyncio.get_running_loop().create_task(send())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def fail_copy(self, index: str, uuid: str, shard: int, allocation_id: str, reason: str,
                        primary_term: int) -> None:
        """A primary fails one of its copies and waits until the master has done so (the
        copy is out of the in-sync set) and this node has applied that state."""
        request = ShardStateRequest(index=index, uuid=uuid, shard=shard, allocation_id=allocation_id,
                                    reason=reason, primary_term=primary_term)
        await self._execute(SHARD_FAILED, request)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    # -- the master side: each handler is one cluster state update -----------------------

    async def submit(self, source: str, update, priority: str = "NORMAL",
                     ack_timeout: float | None = None) -> AppliedVersion:
        """Run one update on the master; with `ack_timeout`, an acknowledged one (ES's
        AckedClusterStateUpdateTask): the answer also says whether every node applied it
        within that time."""
        coordination = self.node.coordination
        state = await coordination.submit(source, update, priority, acked=ack_timeout is not None)
        acknowledged = True if ack_timeout is None else await coordination.wait_for_acks(state, ack_timeout)
        return AppliedVersion(term=state.term, version=state.version, acknowledged=acknowledged)

    async def _create(self, request: CreateIndexRequest, task: Task) -> CreateIndexResponse:
        body = orjson.loads(request.body)
        created: list[IndexMetadata] = []

        def update(content: ClusterStateContent) -> ClusterStateContent:
            # The templates of the state this update runs on: a template put just before
            # applies, and the whole body, template aliases included, is validated as one.
            composed = compose_create_body(content.metadata, request.name, body)
            created[:] = [build_index_metadata(request.name, composed)]
            check_active_shard_count(request.wait_for_active_shards, created[0])
            return create_index(content, created[0])

        applied = await self.submit(f"create-index [{request.name}]", update, "URGENT", request.timeout)
        metadata = created[0]
        log.info("[%s] creating index, shards [%d]/[%d]", request.name, metadata.number_of_shards,
                 metadata.number_of_replicas)
        return CreateIndexResponse(applied=applied)

    async def _delete(self, request: DeleteIndicesRequest, task: Task) -> AppliedVersion:
        applied = await self.submit(f"delete-index {request.names}",
                                     lambda content: delete_indices(content, request.names), "URGENT",
                                     request.ack_timeout)
        log.info("%s deleting indices", request.names)
        return applied

    async def _set_index_state(self, state: str, request: IndexStateRequest,
                               task: Task) -> IndexStateResponse:
        changed: list[str] = []
        applied = await self.submit(f"{state}-indices {request.names}",
                                     lambda content: set_index_state(content, request.names, state, changed),
                                     "URGENT", request.ack_timeout)
        if changed:
            log.info("%s %s", "closing indices" if state == "close" else "opening indices", changed)
        return IndexStateResponse(applied=applied, indices=changed)

    async def _update_settings(self, request: UpdateSettingsRequest, task: Task) -> AppliedVersion:
        settings = orjson.loads(request.settings)
        return await self.submit(f"update-settings {request.names}", lambda content: update_settings(
            content, request.names, settings, request.preserve_existing), "URGENT", request.ack_timeout)

    async def _put_mapping(self, request: PutMappingRequest, task: Task) -> AppliedVersion:
        source = orjson.loads(request.source)
        return await self.submit(f"put-mapping {request.names}",
                                  lambda content: put_mapping(content, request.names, source), "HIGH",
                                  request.ack_timeout)

    async def _update_aliases(self, request: UpdateAliasesRequest, task: Task) -> UpdateAliasesResponse:
        actions = aliases.parse_actions(orjson.loads(request.actions))
        results: list[aliases.ActionResult] = []
        applied = await self.submit("index-aliases",
                                    lambda content: update_aliases(content, actions, results), "URGENT",
                                    request.ack_timeout)
        return UpdateAliasesResponse(applied=applied, results=[
            AliasActionResult(type=r.action.type, indices=sorted(r.indices), aliases=list(r.action.aliases),
                              status=200 if r.error is None else r.error.status,
                              error=None if r.error is None else r.error.to_dict())
            for r in results])

    async def _auto_put_mapping(self, request: AutoPutMappingRequest, task: Task) -> AppliedVersion:
        wanted = orjson.loads(request.mapping)
        return await self.submit(f"dynamic-mapping [{request.name}]", lambda content: merge_dynamic_mapping(
            content, request.name, request.uuid, wanted), "HIGH")

    async def _shard_started(self, request: ShardStateRequest, task: Task) -> AppliedVersion:
        return await self.submit(f"shard-started [{request.index}][{request.shard}]",
                                  lambda content: start_shard(content, request.index, request.shard,
                                                              request.allocation_id), "URGENT")

    async def _shard_failed(self, request: ShardStateRequest, task: Task) -> AppliedVersion:
        log.warning("[%s][%d] shard failed: %s", request.index, request.shard, request.reason)
        return await self.submit(f"shard-failed [{request.index}][{request.shard}]",
                                  lambda content: fail_shard(content, request.index, request.shard,
                                                             request.allocation_id, request.reason,
                                                             request.primary_term), "HIGH")

