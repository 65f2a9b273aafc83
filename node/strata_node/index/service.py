"""The indices on this node: creating, opening, resolving and deleting them, their
mappings (compiled once per metadata version, updated durably), and the per-index
background work (scheduled refresh, async translog sync)."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from ..cluster import blocks
from ..cluster.state import FORCED_ALLOCATION_ID, content_of
from ..common.errors import (
    IllegalArgument,
    IllegalState,
    IndexClosed,
    IndexNotFound,
    NoShardAvailable,
    ResourceAlreadyExists,
    ShardNotFound,
)
from ..common.files import fsync_dir, write_atomically
from ..engine.engine import ShardRef
from ..engine.index_structures import IndexedDocument
from ..engine.operation import Operation
from ..replication.tracker import ReplicationTracker
from ..settings import SettingsError, check_soft_deletes, normalize_index_settings, validate_index_settings
from . import aliases as alias_resolution
from . import mapping as mappings
from . import routing, shard_folders
from .analysis import index_analyzers
from .indexing import DocumentIndexer
from .mapping.limits import MappingLimits, check_limits
from .metadata import IndexMetadata, setting_string
from .names import validate_index_name
from .shard import IndexShard

log = logging.getLogger(__name__)

# Deleting an index takes three steps, so that a crash at any point can neither bring it
# back nor leave it beside a new index of the same name: its metadata file is renamed to
# DELETED_STATE (durably, before the name can be taken again), its shards are closed, and
# its folder is renamed with DELETING_SUFFIX and removed. Start-up finishes the removal of
# any folder left in either state.
DELETED_STATE = "index.json.deleted"
DELETING_SUFFIX = ".deleting"



def _mark_deleted(path: Path) -> None:
    state = path / "_state"
    os.replace(state / "index.json", state / DELETED_STATE)
    fsync_dir(state)


def _remove_index_folder(path: Path) -> None:
    doomed = path.with_name(path.name + DELETING_SUFFIX)
    try:
        os.replace(path, doomed)
        fsync_dir(path.parent)
    except FileNotFoundError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


def _leftover(folder: Path) -> str | None:
    """Why a folder of the indices folder is to be removed at start-up, if it is: what
    remains of a deletion, or of a creation that died before its metadata file was in
    place (nothing else is ever written before it)."""
    if folder.name.endswith(DELETING_SUFFIX) or (folder / "_state" / DELETED_STATE).exists():
        return "an index deletion"
    if folder.is_dir() and not (folder / "_state" / "index.json").exists():
        entries = {p.name for p in folder.iterdir()}
        state = {p.name for p in (folder / "_state").iterdir()} if "_state" in entries else set()
        if entries <= {"_state"} and state <= {"index.json.tmp"}:
            return "an index creation that did not complete"
    return None


def analysis_names(settings: Mapping[str, str], index: str) -> mappings.AnalysisNames:
    """The analyzer and normalizer names mappings of this index may use."""
    analyzers = index_analyzers(settings, index)
    return mappings.AnalysisNames(
        analyzer=lambda name: name == "default" or analyzers.analyzer(name) is not None,
        normalizer=lambda name: analyzers.normalizer(name) is not None)


class IndexService:
    """One index on this node: its metadata and the copies of its shards the cluster
    state routes here (`local`, by shard number; other shards live on other nodes)."""

    def __init__(self, metadata: IndexMetadata, path: Path):
        self.metadata = metadata
        self.path = path
        self.local: dict[int, IndexShard] = {}
        self._tasks: list[asyncio.Task] = []
        self._indexer: DocumentIndexer | None = None
        self._indexer_settings: Mapping[str, Any] | None = None
        self._mapping: mappings.Mapping | None = None
        self._mapping_of: Mapping[str, Any] | None = None
        self._copy_limits: MappingLimits | None = None
        self._copy_limits_of: IndexMetadata | None = None
        # Held while the metadata file is rewritten (mapping updates) and while the index
        # is deleted, so that no update lands in the folder of a deleted index.
        self.metadata_lock = asyncio.Lock()
        self.deleted = False
        self.admin = None  # the node's IndexAdmin: where mapping updates go (set by IndicesService)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def mapping(self) -> mappings.Mapping:
        """The compiled mapping of the current metadata, built once per version: every
        document written to the index is parsed with it."""
        source = self.metadata.mappings
        if self._mapping_of is not source:
            self._mapping = mappings.Mapping.parse(source)
            self._mapping_of = source
        return self._mapping

    @property
    def indexer(self) -> DocumentIndexer:
        """Turns documents parsed with the current mapping into search structures; rebuilt
        when the mapping changes (the analyzers are cached per analysis settings)."""
        mapping = self.mapping
        # (and when the settings change: a closed index's analysis may have)
        if self._indexer is None or self._indexer.mapping is not mapping \
                or self._indexer_settings is not self.metadata.settings:
            self._indexer = DocumentIndexer(mapping, index_analyzers(self.metadata.settings, self.name))
            self._indexer_settings = self.metadata.settings
        return self._indexer

    @property
    def copy_limits(self) -> MappingLimits | None:
        """The limits a document written already is parsed again with (MappingLimits.
        for_copies), read once per metadata version."""
        metadata = self.metadata
        if metadata is not self._copy_limits_of:
            self._copy_limits = MappingLimits.of(metadata.setting).for_copies()
            self._copy_limits_of = metadata
        return self._copy_limits

    def parse_again(self, op: Operation) -> mappings.ParsedDocument:
        """An index operation's document parsed again with the current mapping, as it was
        when written (the fields its primary left out left out again)."""
        return self.indexer.mapping.parse_document(orjson.loads(op.source), op.id, self.copy_limits)

    def index_replayed(self, op: Operation) -> IndexedDocument | None:
        """The search structures of an operation replayed from the translog. Its fields
        were published before it was acknowledged, so the current mapping has them."""
        return self.indexer(self.parse_again(op))

    @property
    def analysis_names(self) -> mappings.AnalysisNames:
        return analysis_names(self.metadata.settings, self.name)

    async def publish_mapping(self, mapping: mappings.Mapping) -> bool:
        """Make `mapping` this index's mapping: the master merges it into the cluster
        state and this returns once this node has applied that state (and written it to
        the index's metadata file), so a write that needed it is acknowledged only once
        the cluster and a restart know it. The caller holds metadata_lock. Returns False
        when there was nothing to change."""
        assert self.metadata_lock.locked()
        if self.deleted:
            raise IndexNotFound(self.name)
        normalized = mapping.to_dict()
        if normalized == self.metadata.mappings:
            return False
        if self.admin is None:
            raise IllegalState(f"[{self.name}] has no master to publish its mapping to")
        await self.admin.put_dynamic_mapping(self.name, self.metadata.uuid, normalized)
        if self.deleted:
            raise IndexNotFound(self.name)
        return True

    async def apply_metadata(self, metadata: IndexMetadata) -> None:
        """The cluster's newer metadata for this index: kept, and written to the index's
        folder so the shards' own copy matches what the cluster acknowledged."""
        if metadata == self.metadata:
            return
        await asyncio.get_running_loop().run_in_executor(None, functools.partial(
            write_atomically, self.path / "_state" / "index.json", metadata.to_json(), create_parents=False))
        closing = metadata.closed and not self.metadata.closed
        self.metadata = metadata
        if closing:
            self._tasks.append(asyncio.create_task(self._commit_closed()))

    async def _commit_closed(self) -> None:
        """A closed index's copies commit what they hold once the writes under way end,
        so that restarting the node replays no translog, and make all of it searchable,
        as the fresh reader of a reopened Elasticsearch index sees everything committed."""
        for shard in self.shards:
            if not shard.is_active:
                continue
            try:
                await shard.drain_writes()
                await shard.engine.flush()
                shard.engine.refresh()
            except Exception:
                log.exception("%s failed to flush as its index closed", shard.ref)

    @property
    def shards(self) -> list[IndexShard]:
        """This node's copies, by shard number."""
        return [self.local[n] for n in sorted(self.local)]

    def shard(self, n: int) -> IndexShard:
        shard = self.local.get(n)
        if shard is None:
            raise ShardNotFound(self.name, self.metadata.uuid, n)
        return shard

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._refresh_loop()))
        self._tasks.append(asyncio.create_task(self._sync_loop()))

    async def open_shard(self, n: int) -> IndexShard:
        """Open (recovering from its store and translog) this node's copy of shard `n`."""
        shard = IndexShard(ShardRef(self.name, self.metadata.uuid, n), self.path / str(n),
                           self.metadata.primary_terms[n])
        shard.engine.indexer = self.index_replayed

        def on_failure(reason: str, error: BaseException) -> None:
            if self.admin is not None and shard.allocation_id is not None and not self.deleted:
                self.admin.report_shard(False, self.name, self.metadata.uuid, n, shard.allocation_id,
                                        f"shard failure, reason [{reason}], failure {error}")

        self.local[n] = shard
        await shard.start()
        shard.engine.on_failure = on_failure  # failures while opening are reported by the applier
        return shard

    async def close_shard(self, n: int) -> None:
        shard = self.local.pop(n)
        await shard.close()

    async def _refresh_loop(self) -> None:
        while True:
            interval = self.metadata.setting("index.refresh_interval")
            await asyncio.sleep(interval if interval > 0 else 1.0)
            if interval <= 0:
                continue
            for shard in self.shards:
                if shard.is_active and shard.engine.needs_refresh:
                    try:
                        shard.engine.refresh()
                    except Exception:
                        log.exception("%s scheduled refresh failed", shard.ref)

    async def _sync_loop(self) -> None:
        """With async durability the translog is fsynced on a timer instead of per request."""
        while True:
            await asyncio.sleep(self.metadata.setting("index.translog.sync_interval"))
            if self.metadata.setting("index.translog.durability") != "async":
                continue
            for shard in self.shards:
                if shard.is_active:
                    try:
                        await shard.engine.sync_translog()
                    except Exception:
                        log.exception("%s scheduled translog sync failed", shard.ref)

    def after_write(self, shard: IndexShard) -> None:
        shard.maybe_flush(self.metadata.setting("index.translog.flush_threshold_size"),
                          self.metadata.setting("index.translog.generation_threshold_size"))

    async def close(self, flush: bool = True) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(s.close(flush=flush) for s in self.shards))
        self.local.clear()


def parse_create_body(name: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], dict, dict]:
    """Settings (flat strings), mappings (normalized) and aliases of a create-index body,
    every part checked before anything is created."""
    for key in body:
        if key not in ("settings", "mappings", "aliases"):
            raise IllegalArgument(f"unknown key [{key}] for create index")
    raw_settings = body.get("settings") or {}
    mapping_source = body.get("mappings") or {}
    aliases = body.get("aliases") or {}
    for key, value in (("settings", raw_settings), ("mappings", mapping_source), ("aliases", aliases)):
        if not isinstance(value, dict):
            raise IllegalArgument(f"[{key}] must be an object, found [{value}]")
    settings = normalize_index_settings(raw_settings)
    try:
        parsed = validate_index_settings(settings)
        check_soft_deletes(parsed)
        shards = parsed.get("index.number_of_shards", 1)
        if "index.number_of_routing_shards" in parsed:
            routing.validate_number_of_routing_shards(shards, parsed["index.number_of_routing_shards"])
        partition = parsed.get("index.routing_partition_size", 1)
        if partition > 1 and partition >= shards:
            raise SettingsError(f"routing partition size [{partition}] should be a positive number "
                                f"less than the number of routing shards [{shards}]")
    except (SettingsError, ValueError) as e:
        raise IllegalArgument(str(e)) from None
    flat = {k: setting_string(v) for k, v in settings.items() if v is not None}
    if mappings.is_typed_mapping(mapping_source):
        raise IllegalArgument("The mapping definition cannot be nested under a type [_doc] unless "
                              "include_type_name is set to true.")
    mapping = mappings.Mapping.parse(mapping_source, analysis=analysis_names(flat, name))
    check_limits(mapping, MappingLimits.of_settings(flat))
    return flat, mapping.to_dict(), alias_resolution.parse_create_aliases(name, aliases)


class IndicesService:
    """This node's shards, opened, updated and removed as the applied cluster state says
    (Elasticsearch's IndicesClusterStateService), and the node's entry points for index
    metadata changes, which go through the master (`admin`, action/index_admin.py)."""

    def __init__(self, data_path: Path):
        self.root = data_path / "indices"
        self.indices: dict[str, IndexService] = {}
        self.admin = None  # IndexAdmin, set once the node's transport exists
        self.node_id = ""
        # Every index of the applied cluster state, local or not: names this node can tell
        # apart from indices that do not exist.
        self.cluster_indices: dict[str, IndexMetadata] = {}
        self.apply_lock = asyncio.Lock()
        self._mappings: dict[str, tuple[Any, mappings.Mapping]] = {}
        self._reported: set[str] = set()  # allocation ids of initializing copies already reported
        self._alias_lookup = alias_resolution.AliasLookup.of({})
        self.recoveries = None  # the node's PeerRecovery: replicas recover from their primary
        self.restores = None  # the node's Restores: restored primaries copy their stores in

    async def start(self) -> None:
        """Finish removals a crash interrupted; shards open when the cluster state says so."""
        self.root.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        for folder in sorted(self.root.iterdir()):
            leftover = _leftover(folder)
            if leftover is not None:
                log.info("removing [%s], left over from %s", folder, leftover)
                await loop.run_in_executor(None, shutil.rmtree, folder, True)
            elif folder.is_dir():
                copies = await loop.run_in_executor(None, shard_folders.of_index, folder)
                for copy in copies:
                    log.info("removing [%s], left over from a copy a restart interrupted", copy)
                    await loop.run_in_executor(None, shutil.rmtree, copy, True)

    async def stop(self) -> None:
        async with self.apply_lock:
            await asyncio.gather(*(s.close() for s in self.indices.values()))
            self.indices.clear()

    def get(self, name: str) -> IndexService:
        """This node's service of `name`: only for indices with a copy here. Requests that
        any node may coordinate read `metadata` and route by the cluster state."""
        service = self.indices.get(name)
        if service is None:
            if name in self.cluster_indices:
                raise NoShardAvailable(f"[{name}] has no shard copy on node [{self.node_id}]", index=name)
            raise IndexNotFound(name)
        return service

    def metadata(self, name: str) -> IndexMetadata:
        """The applied cluster state's metadata of `name`, wherever its shards are."""
        metadata = self.cluster_indices.get(name)
        if metadata is None:
            raise IndexNotFound(name)
        return metadata

    def mapping(self, name: str) -> mappings.Mapping:
        """The compiled mapping of `name` as the applied cluster state has it (compiled once
        per metadata version), for coordinating steps on nodes without a copy."""
        metadata = self.metadata(name)
        local = self.indices.get(name)
        if local is not None and local.metadata is metadata:
            return local.mapping
        cached = self._mappings.get(name)
        if cached is None or cached[0] is not metadata.mappings:
            cached = self._mappings[name] = (metadata.mappings, mappings.Mapping.parse(metadata.mappings))
        return cached[1]

    def local_shard(self, index: str, shard: int, index_uuid: str | None = None) -> IndexShard:
        """This node's copy of a shard a shard-level request names; ShardNotFound (which
        the coordinating step retries) when this node does not hold it, or holds another
        index of that name."""
        service = self.indices.get(index)
        if service is None or (index_uuid is not None and service.metadata.uuid != index_uuid):
            raise ShardNotFound(index, index_uuid or "_na_", shard)
        return service.shard(shard)

    async def create(self, name: str, body: Mapping[str, Any]) -> IndexMetadata:
        """Create through the master (`indices:admin/create`); answers with the metadata
        of the applied state."""
        await self.admin.create_index(name, dict(body))
        return self.metadata(name)

    def check_create(self, name: str, body: Mapping[str, Any]) -> None:
        """What fails a creation before the master is asked: a bad name or body, a name
        taken by an index or alias."""
        validate_index_name(name)
        _, _, aliases = parse_create_body(name, body)
        alias_resolution.check_new_index(name, aliases, self.cluster_indices)
        if name in self.cluster_indices:
            existing = self.cluster_indices[name]
            raise ResourceAlreadyExists(f"index [{name}/{existing.uuid}] already exists",
                                        index_uuid=existing.uuid, index=name)

    async def delete(self, names: list[str]) -> None:
        for name in names:
            blocks.check(self.metadata(name), blocks.METADATA_WRITE, deleting=True)
        if names:
            await self.admin.delete_indices(names)

    async def put_mapping(self, names: list[str], source: Mapping[str, Any]) -> None:
        self.check_put_mapping(names, source)
        await self.admin.put_mapping(sorted(set(names)), dict(source))

    def check_put_mapping(self, names: list[str], source: Mapping[str, Any]) -> None:
        """A mapping update merges into every index named, or into none: the master
        computes each merge (and raises any conflict) before it changes any index. Any
        node checks it first: the pre-check reads the cluster state's metadata."""
        if mappings.is_typed_mapping(source):
            raise IllegalArgument("Types cannot be provided in put mapping requests")
        for name in names:  # a conflict is reported before the master is asked
            blocks.check(self.metadata(name), blocks.METADATA_WRITE)
            metadata = self.metadata(name)
            analysis = analysis_names(metadata.settings, name)
            merged = self.mapping(name).merge(mappings.Mapping.parse_update(source, analysis=analysis))
            check_limits(merged, MappingLimits.of(metadata.setting))

    # -- applying the cluster state ------------------------------------------------------

    async def apply_cluster_state(self, old, new) -> None:
        """Open the copies routed to this node, update the metadata of open ones, close and
        delete what the cluster no longer has. Runs on the applier task, in version order."""
        content = content_of(new)
        async with self.apply_lock:
            # Indices leave at once and arrive once opened: a request never finds a name
            # the cluster has but this node has not opened yet, nor one it already dropped.
            self.cluster_indices = {n: m for n, m in content.metadata.indices.items()
                                    if n in self.cluster_indices}
            wanted: dict[str, list] = {}
            for name, copies in content.routing_table.indices.items():
                mine = [c for c in copies
                        if c.node == self.node_id and c.state in ("INITIALIZING", "STARTED", "RELOCATING")]
                if mine:
                    wanted[name] = mine
            for name in list(self.indices):
                service = self.indices[name]
                metadata = content.metadata.indices.get(name)
                if metadata is None or metadata.uuid != service.metadata.uuid:
                    await self._delete_local(name)
                    continue
                numbers = {c.shard for c in wanted.get(name, ())}
                for n, shard in list(service.local.items()):
                    # A copy routed elsewhere closes; its data stays until it is needed. (A
                    # copy that failed here stays open, failed, so requests see why.)
                    if n not in numbers and shard.state != "FAILED":
                        await service.close_shard(n)
                if not service.local and name not in wanted:  # (a restore may be filling it)
                    await self._close_local(name)
            for name, copies in sorted(wanted.items()):
                metadata = content.metadata.indices[name]
                service = self.indices.get(name)
                if service is None:
                    service = await self._open_local(metadata)
                else:
                    await service.apply_metadata(metadata)
                for copy in copies:
                    shard = service.local.get(copy.shard)
                    if shard is not None and shard.allocation_id not in (None, copy.allocation_id):
                        await service.close_shard(copy.shard)  # another copy now: start over
                        shard = None
                    recovering = not copy.primary and copy.state == "INITIALIZING"
                    if (shard is None and copy.primary and copy.state == "INITIALIZING"
                            and self.restores is not None and service.metadata.restores(copy.shard)):
                        # Its store comes from a snapshot: the restore opens it once the
                        # files are in (once per copy; a failed one waits for the master).
                        self.restores.start(service, copy)
                        continue
                    if shard is None:
                        if recovering and self.recoveries is not None:
                            shard = await self.recoveries.open_target(service, copy.shard)
                        else:
                            shard = await service.open_shard(copy.shard)
                    self.assign_role(service, shard, copy, content)
                    if copy.primary and shard.state == "STARTED" and self.recoveries is not None:
                        self.recoveries.record_local(shard, copy)
                    if recovering and self.recoveries is not None and shard.state == "STARTED":
                        if copy.allocation_id not in self._reported:
                            self._reported.add(copy.allocation_id)
                            self.recoveries.start(service, shard, copy)
                    elif copy.state == "INITIALIZING":
                        forced = FORCED_ALLOCATION_ID in service.metadata.in_sync(copy.shard)
                        if (forced and copy.primary and shard.state == "STARTED"
                                and copy.allocation_id not in self._reported):
                            # A primary forced onto stale data starts a history of its own:
                            # copies of the old one cannot keep their stores (ES does the same).
                            await shard.engine.adopt_history_uuid(uuid.uuid4().hex)
                        self._report(service, copy)
            initializing = {c.allocation_id for copies in wanted.values() for c in copies
                            if c.state == "INITIALIZING"}
            self._reported &= initializing
            if self.restores is not None:
                self.restores.attempted &= initializing
                self.restores.cancel_unless(initializing)
            self.cluster_indices = dict(content.metadata.indices)
            self._mappings = {n: m for n, m in self._mappings.items() if n in self.cluster_indices}

    def assign_role(self, service: IndexService, shard: IndexShard, copy, content) -> None:
        """Keep the local copy's role in line with the routing table: a primary (new, or a
        replica just promoted) keeps the tracker of its replication group and writes with
        the shard's current primary term."""
        # A replica that became primary (not a relocation target taking over, which has
        # every operation of the primary it replaces) resyncs the other copies.
        promoted = (copy.primary and not shard.primary and shard.allocation_id == copy.allocation_id
                    and not shard.handoff_tracked and shard.relocating_from is None)
        shard.relocating_from = copy.relocating_node if copy.state == "INITIALIZING" else None
        shard.allocation_id = copy.allocation_id
        shard.primary = copy.primary
        if copy.state == "STARTED":
            shard.relocated = False  # a relocation called off: this copy serves on
        if not copy.primary:
            shard.tracker = None
            return
        if shard.state != "STARTED":
            return
        engine = shard.engine
        term = service.metadata.primary_terms[copy.shard]
        engine.primary_term = max(engine.primary_term, term)
        shard.operation_term = max(shard.operation_term, engine.primary_term)
        if shard.tracker is None or shard.tracker.allocation_id != copy.allocation_id:
            shard.tracker = ReplicationTracker(
                copy.allocation_id, engine.tracker.checkpoint, engine.translog.global_checkpoint,
                node_id=self.node_id, primary_term=engine.primary_term, leases=engine.retention_leases)
            for tracked in shard.handoff_tracked:  # copies the old primary was still recovering
                shard.tracker.initiate_tracking(tracked)
            shard.handoff_tracked = []
        group = [c for c in content.routing_table.indices.get(service.name, ()) if c.shard == copy.shard]
        nodes = {c.allocation_id: c.node for c in group if c.node is not None and c.allocation_id}
        shard.tracker.update_from_master(set(nodes), set(service.metadata.in_sync(copy.shard)), nodes,
                                         all_started=all(c.state == "STARTED" for c in group))
        if promoted and self.recoveries is not None:
            self.recoveries.resync(service, shard)

    def report_copy(self, service: IndexService, copy, *, started: bool, reason: str = "") -> None:
        """What became of a copy recovering from its primary or restoring from a snapshot
        (reported here, so the applier does not report it again)."""
        self._reported.add(copy.allocation_id)
        self.admin.report_shard(started, service.name, service.metadata.uuid, copy.shard, copy.allocation_id,
                                reason)

    def _report(self, service: IndexService, copy) -> None:
        """Tell the master how opening an initializing copy went, once per copy: the
        states applied before the master's answer arrives must not send it again."""
        if copy.allocation_id in self._reported:
            return
        self._reported.add(copy.allocation_id)
        shard = service.local[copy.shard]
        started = shard.state == "STARTED"
        reason = "" if started else f"shard failed to open: {shard.failure}"
        self.admin.report_shard(started, service.name, service.metadata.uuid, copy.shard, copy.allocation_id,
                                reason)

    async def _open_local(self, metadata: IndexMetadata) -> IndexService:
        """The index's folder (its uuid) opened with the cluster's metadata; created when
        the index is new to this node."""
        path = self.root / metadata.uuid
        await asyncio.get_running_loop().run_in_executor(
            None, write_atomically, path / "_state" / "index.json", metadata.to_json())
        service = IndexService(metadata, path)
        service.admin = self.admin
        await service.start()
        self.indices[metadata.name] = service
        return service

    async def _close_local(self, name: str) -> None:
        service = self.indices.pop(name)
        await service.close()

    async def _delete_local(self, name: str) -> None:
        """In three steps, so that a crash at any point can neither bring the index back
        nor leave it beside a new index of the same name (see DELETED_STATE)."""
        loop = asyncio.get_running_loop()
        service = self.indices.pop(name)
        # Under the metadata lock: a mapping update in flight finishes first, none starts after.
        async with service.metadata_lock:
            await loop.run_in_executor(None, _mark_deleted, service.path)
            service.deleted = True
        await service.close(flush=False)  # nothing of a deleted index needs committing
        await loop.run_in_executor(None, _remove_index_folder, service.path)
        log.info("[%s] deleted index", name)

    @property
    def aliases(self) -> alias_resolution.AliasLookup:
        """The aliases of the applied cluster state, gathered once per metadata value."""
        if self._alias_lookup.indices is not self.cluster_indices:
            self._alias_lookup = alias_resolution.AliasLookup.of(self.cluster_indices)
        return self._alias_lookup

    def resolve(self, expression: str | None, *, ignore_unavailable: bool = False,
                allow_no_indices: bool = True, expand_wildcards: str = "open",
                universe: Mapping[str, IndexMetadata] | None = None, allow_aliases: bool = True,
                forbid_closed: bool = False) -> list[str]:
        """Resolve a comma list of names, aliases and wildcards, `_all` and `-exclusions`,
        among every index of the applied cluster state, or among `universe` (a caller that
        renders one state resolves against that state). See index/aliases.py."""
        return self.resolve_expression(expression, ignore_unavailable=ignore_unavailable,
                                       allow_no_indices=allow_no_indices, expand_wildcards=expand_wildcards,
                                       universe=universe, allow_aliases=allow_aliases,
                                       forbid_closed=forbid_closed).names

    def resolve_expression(self, expression: str | None, *, ignore_unavailable: bool = False,
                           allow_no_indices: bool = True, expand_wildcards: str = "open",
                           universe: Mapping[str, IndexMetadata] | None = None,
                           allow_aliases: bool = True,
                           forbid_closed: bool = False) -> alias_resolution.Resolved:
        """As `resolve`, keeping which names reached each index (for alias filters and routing)."""
        lookup = self.aliases if universe is None else alias_resolution.AliasLookup.of(universe)
        return alias_resolution.resolve(expression, lookup, ignore_unavailable=ignore_unavailable,
                                        allow_no_indices=allow_no_indices, expand_wildcards=expand_wildcards,
                                        allow_aliases=allow_aliases, forbid_closed=forbid_closed)

    def write_target(self, name: str) -> tuple[IndexMetadata, str | None]:
        """The index a write to `name` goes to, and the alias it went through (if any)."""
        metadata = self.cluster_indices.get(name)
        if metadata is not None:
            return _open(metadata), None
        lookup = self.aliases
        if name not in lookup.aliases:
            raise IndexNotFound(name)
        return _open(self.cluster_indices[lookup.require_write_index(name)]), name

    def single_index_target(self, name: str, routing: str | None) -> tuple[IndexMetadata, str | None]:
        """The index and routing of a single-document read of `name` (an index, or an
        alias of one index, whose index routing applies as Elasticsearch's get applies it)."""
        metadata = self.cluster_indices.get(name)
        if metadata is not None:
            return _open(metadata), routing
        lookup = self.aliases
        if name not in lookup.aliases:
            raise IndexNotFound(name)
        index = lookup.single_index(name)
        return _open(self.cluster_indices[index]), lookup.index_routing(name, index, routing)


def _open(metadata: IndexMetadata) -> IndexMetadata:
    """The index a document read or write goes to, which a closed index cannot be."""
    if metadata.closed:
        raise IndexClosed(metadata.name, metadata.uuid)
    return metadata
