"""The indices on this node: creating, opening, resolving and deleting them, their
mappings (compiled once per metadata version, updated durably), and the per-index
background work (scheduled refresh, async translog sync)."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import functools
import logging
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from ..common.errors import (
    IllegalArgument,
    IndexNotFound,
    ResourceAlreadyExists,
)
from ..common.files import fsync_dir, write_atomically
from ..common.ids import random_base64_uuid
from ..engine.engine import ShardRef
from ..engine.index_structures import IndexedDocument
from ..engine.operation import Operation
from ..settings import SettingsError, normalize_index_settings, validate_index_settings
from . import mapping as mappings
from . import routing
from .analysis import index_analyzers
from .indexing import DocumentIndexer
from .metadata import VERSION_CREATED, IndexMetadata, setting_string
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
    def __init__(self, metadata: IndexMetadata, path: Path):
        self.metadata = metadata
        self.path = path
        self.shards = [
            IndexShard(ShardRef(metadata.name, metadata.uuid, n), path / str(n), metadata.primary_terms[n])
            for n in range(metadata.number_of_shards)
        ]
        self._tasks: list[asyncio.Task] = []
        self._indexer: DocumentIndexer | None = None
        for shard in self.shards:
            shard.engine.indexer = self.index_replayed
        self._mapping: mappings.Mapping | None = None
        self._mapping_of: Mapping[str, Any] | None = None
        # Held while the metadata file is rewritten (mapping updates) and while the index
        # is deleted, so that no update lands in the folder of a deleted index.
        self.metadata_lock = asyncio.Lock()
        self.deleted = False

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
        if self._indexer is None or self._indexer.mapping is not mapping:
            self._indexer = DocumentIndexer(mapping, index_analyzers(self.metadata.settings, self.name))
        return self._indexer

    def index_replayed(self, op: Operation) -> IndexedDocument | None:
        """The search structures of an operation replayed from the translog. Its fields
        were published before it was acknowledged, so the current mapping has them."""
        indexer = self.indexer
        return indexer(indexer.mapping.parse_document(orjson.loads(op.source), op.id))

    @property
    def analysis_names(self) -> mappings.AnalysisNames:
        return analysis_names(self.metadata.settings, self.name)

    async def publish_mapping(self, mapping: mappings.Mapping) -> bool:
        """Make `mapping` this index's mapping: a new metadata version, written durably
        (temp file, fsync, rename) before this returns, so a write that needed it is
        acknowledged only once a restart would find it. The caller holds metadata_lock.
        Returns False when there was nothing to change."""
        assert self.metadata_lock.locked()
        if self.deleted:
            raise IndexNotFound(self.name)
        normalized = mapping.to_dict()
        if normalized == self.metadata.mappings:
            return False
        metadata = self.metadata.with_mappings(normalized)
        await asyncio.get_running_loop().run_in_executor(None, functools.partial(
            write_atomically, self.path / "_state" / "index.json", metadata.to_json(), create_parents=False))
        self.metadata = metadata
        self._mapping, self._mapping_of = mapping, normalized
        return True

    async def start(self) -> None:
        await asyncio.gather(*(s.start() for s in self.shards))
        self._tasks.append(asyncio.create_task(self._refresh_loop()))
        self._tasks.append(asyncio.create_task(self._sync_loop()))

    def shard(self, n: int) -> IndexShard:
        return self.shards[n]

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


def _parse_create_body(name: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], dict, dict]:
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
    return flat, mapping.to_dict(), aliases


class IndicesService:
    def __init__(self, data_path: Path):
        self.root = data_path / "indices"
        self.indices: dict[str, IndexService] = {}
        self._create_lock = asyncio.Lock()

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in sorted(self.root.iterdir()):
            leftover = _leftover(folder)
            if leftover is not None:
                log.info("removing [%s], left over from %s", folder, leftover)
                await asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, folder, True)
                continue
            state = folder / "_state" / "index.json"
            if not state.exists():
                continue
            metadata = IndexMetadata.from_json(state.read_bytes())
            # A primary re-opened after a restart starts a new primary term, as when
            # Elasticsearch assigns a primary after a full cluster restart.
            for n in range(metadata.number_of_shards):
                metadata = metadata.with_primary_term(n, metadata.primary_terms[n] + 1)
            write_atomically(state, metadata.to_json())
            service = IndexService(metadata, folder)
            self.indices[metadata.name] = service
        await asyncio.gather(*(s.start() for s in self.indices.values()))
        if self.indices:
            log.info("opened %d indices", len(self.indices))

    async def stop(self) -> None:
        await asyncio.gather(*(s.close() for s in self.indices.values()))
        self.indices.clear()

    def get(self, name: str) -> IndexService:
        service = self.indices.get(name)
        if service is None:
            raise IndexNotFound(name)
        return service

    async def create(self, name: str, body: Mapping[str, Any]) -> IndexService:
        validate_index_name(name)
        settings, mapping_source, aliases = _parse_create_body(name, body)
        async with self._create_lock:
            if name in self.indices:
                existing = self.indices[name].metadata
                raise ResourceAlreadyExists(f"index [{name}/{existing.uuid}] already exists",
                                            index_uuid=existing.uuid, index=name)
            uuid = random_base64_uuid()
            settings.update({
                "index.uuid": uuid,
                "index.creation_date": str(int(time.time() * 1000)),
                "index.version.created": VERSION_CREATED,
                "index.provided_name": name,
            })
            settings.setdefault("index.number_of_shards", "1")
            settings.setdefault("index.number_of_replicas", "1")
            shards = int(settings["index.number_of_shards"])
            metadata = IndexMetadata(name, uuid, settings, mapping_source, aliases,
                                     primary_terms=(1,) * shards)
            path = self.root / uuid
            await asyncio.get_running_loop().run_in_executor(
                None, write_atomically, path / "_state" / "index.json", metadata.to_json())
            service = IndexService(metadata, path)
            await service.start()
            self.indices[name] = service
            log.info("[%s] created index with %d shard(s)", name, shards)
            return service

    async def delete(self, names: list[str]) -> None:
        loop = asyncio.get_running_loop()
        for name in names:
            async with self._create_lock:
                service = self.indices.pop(name, None)
                if service is None:
                    continue
                # Durable before the name is free again: a create (an auto-create by a
                # bulk, say) must not leave a second folder of this name on disk that a
                # restart could open instead of it. Under the metadata lock: a mapping
                # update in flight finishes first, and none starts after.
                try:
                    async with service.metadata_lock:
                        await loop.run_in_executor(None, _mark_deleted, service.path)
                        service.deleted = True
                except BaseException:
                    self.indices[name] = service
                    raise
            await service.close(flush=False)  # nothing of a deleted index needs committing
            await loop.run_in_executor(None, _remove_index_folder, service.path)
            log.info("[%s] deleted index", name)

    async def put_mapping(self, services: list[IndexService], source: Mapping[str, Any]) -> None:
        """Merge a mapping update into every index named, or into none: each merge is
        computed (and any conflict raised) before the first index is changed."""
        if mappings.is_typed_mapping(source):
            raise IllegalArgument("Types cannot be provided in put mapping requests")
        ordered = sorted(set(services), key=lambda s: s.name)
        async with contextlib.AsyncExitStack() as locks:
            for service in ordered:  # in name order: two requests cannot wait on each other
                await locks.enter_async_context(service.metadata_lock)
            merged = []
            for service in ordered:
                if service.deleted:
                    raise IndexNotFound(service.name)
                update = mappings.Mapping.parse_update(source, analysis=service.analysis_names)
                merged.append((service, service.mapping.merge(update)))
            for service, mapping in merged:
                if await service.publish_mapping(mapping):
                    log.info("[%s] mapping updated", service.name)

    def resolve(self, expression: str | None, *, ignore_unavailable: bool = False,
                allow_no_indices: bool = True, expand_wildcards: str = "open") -> list[str]:
        """Resolve a comma list of names and wildcards, `_all` and `-exclusions`."""
        parts = [p for p in (expression or "_all").split(",") if p] or ["_all"]
        expand = expand_wildcards.split(",")
        include_hidden = "hidden" in expand or "all" in expand
        wildcards_off = "none" in expand
        out: list[str] = []
        seen: set[str] = set()
        for i, part in enumerate(parts):
            if part.startswith("-") and i > 0:
                pattern = part[1:]
                out = [n for n in out if not fnmatch.fnmatchcase(n, pattern)]
                seen = set(out)
                continue
            if part in ("_all", "*"):
                matches = [n for n in sorted(self.indices) if include_hidden or not self._hidden(n)]
            elif "*" in part:
                if wildcards_off:
                    matches = []
                else:
                    matches = sorted(n for n in self.indices if fnmatch.fnmatchcase(n, part)
                                     and (include_hidden or not self._hidden(n) or part.startswith(".")))
            else:
                if part not in self.indices:
                    if ignore_unavailable:
                        continue
                    raise IndexNotFound(part)
                matches = [part]
            for n in matches:
                if n not in seen:
                    seen.add(n)
                    out.append(n)
        if not out and not allow_no_indices:
            raise IndexNotFound(expression or "_all")
        return out

    def _hidden(self, name: str) -> bool:
        return self.indices[name].metadata.setting("index.hidden") or name.startswith(".")
