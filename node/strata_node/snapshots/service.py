"""Repositories, snapshots and restores: the master's side and the reads any node serves
(Elasticsearch's RepositoriesService, SnapshotsService, RestoreService and the get and
status actions).

A snapshot is an entry in the cluster state (in_progress.py) naming each shard's primary.
The master asks each of those nodes to copy its shard into the repository (shards.py),
records each answer in the entry, and once every shard is done, finalizes: the index and
cluster metadata, the snapshot's info, and a new root (`index-<N+1>`) naming it; then the
entry leaves the state. A new master takes up the entries it finds. Deleting snapshots
marks a deletion in the state (none runs beside a snapshot of the same repository: the new
snapshot may be reusing the blobs a deletion frees), writes the root without them, then
deletes what no remaining snapshot refers to.

A restore creates each index from the snapshot's metadata with a new uuid and a restore
source, in one cluster state update; the node each primary is allocated to copies the
shard's files in (shards.py `Restores`), and replicas recover from it as usual.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec
import orjson

from .. import ES_COMPAT_VERSION
from ..action.index_admin import APPLY_TIMEOUT, AppliedVersion
from ..action.master import MasterNodeRequest
from ..allocation.deciders import es_time
from ..cluster.state import ClusterStateContent, RoutingTable, ShardRouting, content_of
from ..common.cluster_settings import archive_unknown_or_invalid
from ..common.errors import (
    FailedToCommitClusterState,
    IllegalArgument,
    IllegalState,
    IndexNotFound,
    NotMasterError,
    ParseError,
    StrataError,
    error_to_dict,
)
from ..common.flags import parse_flag
from ..common.ids import random_base64_uuid
from ..common.patterns import simple_match, simple_match_any
from ..index import aliases
from ..index.metadata import VERSION_CREATED, IndexMetadata, settings_tree
from ..index.names import validate_index_name
from ..index.service import parse_create_body
from ..index.templates.metadata import ComponentTemplate, ComposableIndexTemplate
from ..reservedstate.metadata import RESTORED_VERSION
from ..tasks.task import Task
from ..transport.wire import Empty, Message
from . import in_progress, repository
from .blobs import BlobMissing
from .in_progress import InvalidSnapshotName, SnapshotFailure
from .shards import (
    SNAPSHOT_SHARD,
    ShardSnapshotRequest,
    ShardSnapshotResponse,
    repository_container,
    shard_container,
)

log = logging.getLogger("strata.snapshots")

PUT_REPOSITORY = "cluster:admin/repository/put"
DELETE_REPOSITORY = "cluster:admin/repository/delete"
VERIFY_REPOSITORY = "cluster:admin/repository/verify"
CLEANUP_REPOSITORY = "cluster:admin/repository/_cleanup"
VERIFY_ON_NODE = "internal:admin/repository/verify"
CREATE = "cluster:admin/snapshot/create"
DELETE = "cluster:admin/snapshot/delete"
RESTORE = "cluster:admin/snapshot/restore"
GET = "cluster:admin/snapshot/get"
GET_REPOSITORIES = "cluster:admin/repository/get"
STATUS = "cluster:admin/snapshot/status"
WAIT_FOREVER = 365 * 86400.0
CREATE_KEYS = ("indices", "ignore_unavailable", "allow_no_indices", "expand_wildcards",
               "include_global_state", "partial", "metadata", "feature_states")
RESTORE_KEYS = ("indices", "ignore_unavailable", "allow_no_indices", "expand_wildcards",
                "include_global_state", "partial", "rename_pattern", "rename_replacement", "index_settings",
                "ignore_index_settings", "include_aliases", "feature_states")
# Settings a restore may not change, and those it may change but not leave out: without
# them the index would not be the one snapshotted (its shard count), or would lose its
# copies (RestoreService's lists).
UNMODIFIABLE_SETTINGS = ("index.number_of_shards", "index.version.created", "index.uuid",
                         "index.creation_date", "index.history.uuid")
UNREMOVABLE_SETTINGS = (*UNMODIFIABLE_SETTINGS, "index.number_of_replicas", "index.auto_expand_replicas")


class SnapshotMissing(SnapshotFailure):
    type = "snapshot_missing_exception"
    status = 404

    def __init__(self, repository_name: str, snapshot: str):
        super().__init__(repository_name, snapshot, "is missing")


class SnapshotError(SnapshotFailure):
    type = "snapshot_exception"
    status = 500


class SnapshotRestoreError(SnapshotFailure):
    type = "snapshot_restore_exception"
    status = 500


# -- requests -----------------------------------------------------------------------------------


class PutRepositoryRequest(MasterNodeRequest):
    runs_long: ClassVar[bool] = True
    name: str
    definition: bytes  # JSON
    verify: bool = True
    ack_timeout: float = APPLY_TIMEOUT  # how long every node may take to apply it (`timeout`)


class DeleteRepositoryRequest(MasterNodeRequest):
    names: list[str]
    ack_timeout: float = APPLY_TIMEOUT


class VerifyRepositoryRequest(MasterNodeRequest):
    runs_long: ClassVar[bool] = True
    name: str


class VerifyResponse(Message):
    nodes: dict[str, str]  # node id -> name


class VerifyOnNodeRequest(Message):
    repository: str
    definition: bytes
    seed: str


class CreateSnapshotRequest(MasterNodeRequest):
    runs_long: ClassVar[bool] = True
    repository: str
    snapshot: str
    body: bytes  # JSON
    wait_for_completion: bool = False

    @property
    def description(self) -> str:
        """CreateSnapshotRequest.getDescription."""
        return f"snapshot [{self.repository}:{self.snapshot}]"


class SnapshotResponse(Message):
    body: bytes  # JSON: the REST answer


class CleanupRepositoryRequest(MasterNodeRequest):
    runs_long: ClassVar[bool] = True
    name: str


class CleanupResponse(Message):
    deleted_blobs: int
    deleted_bytes: int


class GetRepositoriesRequest(MasterNodeRequest):
    names: str | None = None  # a comma list with wildcards; None: every one


class GetSnapshotsRequest(MasterNodeRequest):
    repositories: str
    snapshots: str
    ignore_unavailable: bool = False


class StatusRequest(MasterNodeRequest):
    repositories: str | None = None
    snapshots: str | None = None
    ignore_unavailable: bool = False


class ReadResponse(Message):
    body: bytes  # JSON


class DeleteSnapshotRequest(MasterNodeRequest):
    runs_long: ClassVar[bool] = True
    repository: str
    snapshots: list[str]

    @property
    def description(self) -> str:
        """DeleteSnapshotRequest.getDescription: `[repository]` and the names as
        Arrays.toString prints them."""
        return f"[{self.repository}][{', '.join(self.snapshots)}]"


class RestoreRequest(MasterNodeRequest):
    repository: str
    snapshot: str
    body: bytes  # JSON

    @property
    def description(self) -> str:
        """RestoreSnapshotRequest.getDescription."""
        return f"snapshot [{self.repository}:{self.snapshot}]"


class RestoreResponse(Message):
    term: int  # the cluster state that created the indices
    version: int
    snapshot: str
    indices: list[str]  # the names restored
    uuids: list[str]  # their new uuids


# -- pure helpers -----------------------------------------------------------------------------


def validate_snapshot_name(repository_name: str, name: str) -> None:
    """SnapshotsService.validate's rules."""
    if not name:
        raise InvalidSnapshotName(repository_name, name, "cannot be empty")
    if any(c.isspace() for c in name):
        raise InvalidSnapshotName(repository_name, name, "must not contain whitespace")
    if "," in name:
        raise InvalidSnapshotName(repository_name, name, "must not contain ','")
    if "#" in name:
        raise InvalidSnapshotName(repository_name, name, "must not contain '#'")
    if name.startswith("_"):
        raise InvalidSnapshotName(repository_name, name, "must not start with '_'")
    if name.lower() != name:
        raise InvalidSnapshotName(repository_name, name, "must be lowercase")
    if any(c in '\\/*?"<>|' for c in name):
        raise InvalidSnapshotName(repository_name, name, 'must not contain the following characters '
                                                         '[\\, /, *, ?, ", <, >, |]')


def _flag(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return parse_flag(str(value), default)


def _expression(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, str):
        return value
    raise IllegalArgument(f"malformed indices section, should be an array of strings, got [{value}]")


def check_keys(body: Any, known: tuple[str, ...]) -> None:
    """A create or restore body: an object of known keys (CreateSnapshotRequest.source and
    RestoreSnapshotRequest.source refuse the others)."""
    if not isinstance(body, dict):
        raise ParseError("request body must be an object")
    for key in body:
        if key not in known:
            raise IllegalArgument(f"Unknown parameter {key}")


def check_restore_types(body: Mapping[str, Any]) -> None:
    """RestoreSnapshotRequest.source's refusals of values of the wrong type, before the
    request leaves the node."""
    for key in ("rename_pattern", "rename_replacement"):
        if key in body and not isinstance(body[key], str):
            raise IllegalArgument(f"malformed {key}")
    if "index_settings" in body and not isinstance(body["index_settings"], dict):
        raise IllegalArgument("malformed index_settings section")
    ignored = body.get("ignore_index_settings", "")
    strings = isinstance(ignored, list) and all(isinstance(s, str) for s in ignored)
    if not isinstance(ignored, str) and not strings:
        raise IllegalArgument("malformed ignore_index_settings section, should be an array of strings")


def new_entry(content: ClusterStateContent, repository_name: str, snapshot: str, snapshot_uuid: str,
              body: Mapping[str, Any], index_names: list[str], data: repository.RepositoryData,
              now_ms: int) -> dict[str, Any]:
    """The in-progress entry of a new snapshot: each shard with the node of its started
    primary, or MISSING (refused unless `partial`)."""
    partial = _flag(body, "partial", False)
    index_ids: dict[str, dict[str, str]] = {}
    running_ids = {name: meta["id"] for e in in_progress.entries(content)
                   if e["repository"] == repository_name for name, meta in e["indices"].items()}
    shards: dict[str, dict[str, Any]] = {}
    missing = []
    for name in index_names:
        metadata = content.metadata.indices[name]
        # One id per index name in a repository, shared with running snapshots of it.
        index_id = data.index_id(name) or running_ids.get(name) or random_base64_uuid()
        index_ids[name] = {"id": index_id, "uuid": metadata.uuid}
        copies = content.routing_table.indices.get(name, ())
        for n in range(metadata.number_of_shards):
            primary = next((c for c in copies if c.shard == n and c.primary
                            and c.state in ("STARTED", "RELOCATING")), None)
            key = in_progress.shard_key(name, n)
            if primary is None or metadata.closed:
                missing.append(name)
                shards[key] = {"state": "MISSING", "node": None, "reason": "primary shard is not allocated"}
            else:
                shards[key] = {"state": "INIT", "node": primary.node}
    if missing and not partial:
        raise SnapshotError(repository_name, snapshot, "Indices don't have primary shards "
                                                       f"[{', '.join(sorted(set(missing)))}]")
    metadata = body.get("metadata")
    return {"repository": repository_name, "snapshot": snapshot, "uuid": snapshot_uuid, "state": "STARTED",
            "include_global_state": _flag(body, "include_global_state", True), "partial": partial,
            "metadata": metadata, "start_time": now_ms, "indices": index_ids, "shards": shards}


def several_repositories(expression: str) -> bool:
    """A get request of more than one repository, or of a pattern (not
    GetSnapshotsRequest.isSingleRepositoryRequest): it reports failures by repository."""
    return "," in expression or expression == "_all" or "*" in expression


def current_only(patterns: list[str]) -> bool:
    return [p.lower() for p in patterns] == ["_current"]


def select_snapshots(patterns: list[str], committed: list[str], running: list[str], repository_name: str,
                     ignore_unavailable: bool) -> set[str]:
    """The names of one repository's snapshots a get request asks for
    (TransportGetSnapshotsAction): names, wildcards, `_current` (those running) and, after
    a wildcard or `_current`, `-` exclusions, which need not exist. A name that is neither
    committed nor running is missing unless `ignore_unavailable`; so is a request that
    selects nothing, `_current` alone aside."""
    every = {*committed, *running}
    if not patterns or patterns in (["_all"], ["*"]):
        return every
    includes, excludes = [], []
    current = wildcard = False
    for pattern in patterns:
        if wildcard and len(pattern) > 1 and pattern.startswith("-"):
            excludes.append(pattern[1:])
        elif "*" in pattern:
            wildcard = True
            includes.append(pattern)
        elif pattern.lower() == "_current":
            current = wildcard = True
        elif pattern in every or ignore_unavailable:
            includes.append(pattern)
        else:
            raise SnapshotMissing(repository_name, pattern)
    chosen = {n for n in every if simple_match_any(includes, n) and not simple_match_any(excludes, n)}
    if current:
        chosen |= {n for n in running if not simple_match_any(excludes, n)}
    if not chosen and not ignore_unavailable and not current_only(patterns):
        raise SnapshotMissing(repository_name, patterns[0])
    return chosen


def snapshot_info(entry: Mapping[str, Any], end_ms: int) -> dict[str, Any]:
    """The info of a finished snapshot (Elasticsearch's SnapshotInfo), from its entry."""
    failures = []
    successful = 0
    for key, shard in sorted(entry["shards"].items()):
        index, n = in_progress.split_key(key)
        if shard["state"] == "SUCCESS":
            successful += 1
        else:
            failures.append({"index": index, "index_uuid": entry["indices"][index]["uuid"], "shard_id": n,
                             "reason": shard.get("reason") or "failed", "node_id": shard.get("node"),
                             "status": "INTERNAL_SERVER_ERROR"})
    total = len(entry["shards"])
    state = "SUCCESS" if not failures else "FAILED" if successful == 0 and total else "PARTIAL"
    info = {"snapshot": entry["snapshot"], "uuid": entry["uuid"], "version_id": int(VERSION_CREATED),
            "version": ES_COMPAT_VERSION, "indices": sorted(entry["indices"]), "data_streams": [],
            "include_global_state": entry["include_global_state"], "state": state,
            "start_time_in_millis": entry["start_time"], "end_time_in_millis": end_ms, "failures": failures,
            "shards": {"total": total, "failed": len(failures), "successful": successful},
            "feature_states": []}
    if entry.get("metadata") is not None:
        info["metadata"] = entry["metadata"]
    if state == "FAILED":
        info["reason"] = "all shards failed"
    return info


def brief(rendered: Mapping[str, Any]) -> dict[str, Any]:
    """A rendered snapshot as `verbose=false` shows it."""
    return {k: rendered[k] for k in ("snapshot", "uuid", "repository", "indices", "data_streams", "state")}


def render_info(info: Mapping[str, Any], repository_name: str) -> dict[str, Any]:
    """A snapshot as the get API shows it (SnapshotInfo.toXContent's order)."""
    out: dict[str, Any] = {"snapshot": info["snapshot"], "uuid": info["uuid"], "repository": repository_name}
    out.update({"version_id": info["version_id"], "version": info["version"], "indices": info["indices"],
                "data_streams": info.get("data_streams", []),
                "include_global_state": info["include_global_state"]})
    if "metadata" in info:
        out["metadata"] = info["metadata"]
    out["state"] = info["state"]
    if info.get("reason"):
        out["reason"] = info["reason"]
    start = info["start_time_in_millis"]
    out.update({"start_time": es_time(start), "start_time_in_millis": start})
    end = info.get("end_time_in_millis")
    if end:
        out.update({"end_time": es_time(end), "end_time_in_millis": end, "duration_in_millis": end - start})
    else:
        out["duration_in_millis"] = int(time.time() * 1000) - start
    out.update({"failures": info["failures"], "shards": info["shards"],
                "feature_states": info.get("feature_states", [])})
    return out


def running_info(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A snapshot under way, as the get API shows it."""
    successful = sum(1 for s in entry["shards"].values() if s["state"] == "SUCCESS")
    failed = sum(1 for s in entry["shards"].values() if s["state"] in ("FAILED", "MISSING"))
    info = {"snapshot": entry["snapshot"], "uuid": entry["uuid"], "version_id": int(VERSION_CREATED),
            "version": ES_COMPAT_VERSION, "indices": sorted(entry["indices"]), "data_streams": [],
            "include_global_state": entry["include_global_state"], "state": "IN_PROGRESS",
            "start_time_in_millis": entry["start_time"], "end_time_in_millis": 0, "failures": [],
            "shards": {"total": len(entry["shards"]), "failed": failed, "successful": successful},
            "feature_states": []}
    if entry.get("metadata") is not None:
        info["metadata"] = entry["metadata"]
    return info


def java_replacement(replacement: str) -> str:
    """A Java regex replacement (`$1`, `${name}`, `\\$`) as Python's re.sub takes it."""
    out = []
    i = 0
    while i < len(replacement):
        c = replacement[i]
        if c == "\\" and i + 1 < len(replacement):
            out.append(replacement[i + 1] if replacement[i + 1] != "\\" else "\\\\")
            i += 2
            continue
        if c == "$":
            m = re.match(r"\$(\d+|\{(\w+)\})", replacement[i:])
            if m is None:
                raise IllegalArgument(f"Illegal group reference in [{replacement}]")
            out.append(f"\\g<{m.group(2) or m.group(1)}>")
            i += len(m.group(0))
            continue
        out.append("\\\\" if c == "\\" else c)
        i += 1
    return "".join(out)


def renamed(names: list[str], pattern: str | None, replacement: str | None) -> dict[str, str]:
    """Index name in the snapshot -> the name it is restored as."""
    if pattern is None or replacement is None:
        return {n: n for n in names}
    try:
        regex = re.compile(pattern)
        python_replacement = java_replacement(replacement)
        return {n: regex.sub(python_replacement, n) for n in names}
    except (re.error, IndexError) as e:
        raise IllegalArgument(
            f"failed to rename with pattern [{pattern}] and replacement [{replacement}]: {e}") from None


def resolve_in_snapshot(expression: str | None, available: list[str], *, ignore_unavailable: bool,
                        allow_no_indices: bool = True) -> list[str]:
    """The snapshot's indices an expression names (SnapshotUtils.filterIndices): names,
    wildcards and `-` exclusions, a leading exclusion starting from every index. A name
    the snapshot lacks, excluded or not, is not found unless `ignore_unavailable`; a
    wildcard matching none is not found unless `allow_no_indices`."""
    parts = [p.strip() for p in (expression or "").split(",") if p.strip()]
    if not parts or parts == ["_all"]:
        return sorted(available)
    chosen: set[str] = set()
    for i, part in enumerate(parts):
        if part in available:
            chosen.add(part)
            continue
        include = not part.startswith("-")
        if part[0] in "+-":
            if not include and i == 0:
                chosen = set(available)
            part = part[1:]
        named = _named_in_snapshot(part, available, ignore_unavailable, allow_no_indices)
        chosen = chosen | named if include else chosen - named
    return sorted(chosen)


def _named_in_snapshot(part: str, available: list[str], ignore_unavailable: bool,
                       allow_no_indices: bool) -> set[str]:
    if "*" in part:
        named = {n for n in available if simple_match(part, n)}
        if not named and not allow_no_indices:
            raise IndexNotFound(part)
        return named
    if part in available:
        return {part}
    if not ignore_unavailable:
        raise IndexNotFound(part)
    return set()


def without_ignored(settings: dict[str, Any], ignored: list[str], repository_name: str,
                    snapshot: str) -> dict[str, Any]:
    """The settings less those `ignore_index_settings` names (RestoreService.updateIndexSettings):
    naming an unremovable one is refused, and a wildcard leaves every unremovable one in."""
    names, patterns = set(), []
    for pattern in ignored:
        key = pattern if pattern.startswith("index.") else f"index.{pattern}"
        if "*" in key:
            patterns.append(key)
        elif key in UNREMOVABLE_SETTINGS:
            raise SnapshotRestoreError(repository_name, snapshot, f"cannot remove setting [{key}] on restore")
        else:
            names.add(key)
    return {k: v for k, v in settings.items()
            if k in UNREMOVABLE_SETTINGS or (k not in names and not simple_match_any(patterns, k))}


def restore_settings(metadata: IndexMetadata, body: Mapping[str, Any], repository_name: str,
                     snapshot: str) -> dict[str, Any]:
    """The restored index's settings: the snapshot's, less `ignore_index_settings`, with
    `index_settings` over them."""
    ignored = body.get("ignore_index_settings") or []
    if isinstance(ignored, str):
        ignored = [s for s in ignored.split(",") if s]
    settings = without_ignored(dict(metadata.settings), ignored, repository_name, snapshot)
    changes = body.get("index_settings") or {}  # an object: check_restore_types refused the rest
    if changes:
        flat, _, _ = parse_create_body(metadata.name, {"settings": changes})
        for key in flat:
            if key in UNMODIFIABLE_SETTINGS:
                raise SnapshotRestoreError(repository_name, snapshot,
                                           f"cannot modify setting [{key}] on restore")
        settings.update(flat)
    return settings


def start_restore(content: ClusterStateContent, repository_name: str, snapshot: str, snapshot_uuid: str,
                  restored: list[IndexMetadata],
                  global_metadata: Mapping[str, Any] | None) -> ClusterStateContent:
    """The update that begins a restore (RestoreSnapshotStateTask.execute): refused while
    the snapshot is being deleted; the global state, when asked for, then the indices."""
    in_progress.check_not_deleting(content, repository_name, snapshot, snapshot_uuid)
    if global_metadata is not None:
        content = restore_global_state(content, global_metadata)
    return restore_indices(content, restored)


def restore_indices(content: ClusterStateContent, restored: list[IndexMetadata]) -> ClusterStateContent:
    """The restored indices in the metadata, with their copies unassigned (the reroute
    that follows places the primaries, which restore because no copy is in sync)."""
    indices = dict(content.metadata.indices)
    routing = dict(content.routing_table.indices)
    for metadata in restored:
        existing = indices.get(metadata.name)
        source = metadata.restore_source or {}
        if existing is not None:
            state = "an open" if not existing.closed else "a closed"
            raise SnapshotRestoreError(
                source.get("repository", ""), source.get("snapshot", ""),
                f"cannot restore index [{metadata.name}] because {state} index with same name already exists "
                "in the cluster. Either close or delete the existing index or restore the index under a "
                "different name by providing a rename pattern and replacement name")
        aliases.check_new_index(metadata.name, metadata.aliases, indices)
        indices[metadata.name] = metadata
        copies = []
        for n in range(metadata.number_of_shards):
            copies.append(ShardRouting(metadata.name, n, True, unassigned_reason="NEW_INDEX_RESTORED",
                                       unassigned_at=int(time.time() * 1000)))
            copies += [ShardRouting(metadata.name, n, False, unassigned_reason="NEW_INDEX_RESTORED",
                                    unassigned_at=int(time.time() * 1000))
                       for _ in range(metadata.number_of_replicas)]
        routing[metadata.name] = tuple(copies)
    aliases.validate_aliases(indices)
    metadata_value = msgspec.structs.replace(content.metadata, indices=indices,
                                             version=content.metadata.version + 1)
    table = RoutingTable(content.routing_table.version + 1, routing)
    return msgspec.structs.replace(content, metadata=metadata_value, routing_table=table)


def restore_global_state(content: ClusterStateContent,
                         global_metadata: Mapping[str, Any]) -> ClusterStateContent:
    """The snapshot's global state in place of the cluster's, as applyGlobalStateRestore
    sets it: persistent settings whole (one the snapshot did not have is gone), and the
    component and composable index templates whole (restorable customs: removed, then the
    snapshot's put). Reserved state is marked restored (version 0), so the file settings
    service processes its file again and puts back what the file reserves, as ES's
    FileSettingsService does after a restore."""
    meta = content.metadata
    settings = archive_unknown_or_invalid(global_metadata.get("persistent_settings", {}))
    component = {k: msgspec.convert(v, ComponentTemplate)
                 for k, v in global_metadata.get("component_templates", {}).items()}
    composable = {k: msgspec.convert(v, ComposableIndexTemplate)
                  for k, v in global_metadata.get("index_templates", {}).items()}
    reserved = {namespace: msgspec.structs.replace(entry, version=RESTORED_VERSION)
                for namespace, entry in meta.reserved_state.items()}
    metadata = msgspec.structs.replace(meta, persistent_settings=settings, component_templates=component,
                                       index_templates=composable, reserved_state=reserved,
                                       version=meta.version + 1)
    return msgspec.structs.replace(content, metadata=metadata)


def restore_finished(content: ClusterStateContent, uuids: list[str]) -> tuple[bool, int, int]:
    """Whether every primary of the restored indices is done (started, or given up on
    after `index.allocation.max_retries` failures), with the shards restored and failed
    (a shard the snapshot failed, started empty by a partial restore, counts as failed,
    as ES counts it)."""
    total = started = failed = 0
    by_uuid = {m.uuid: m for m in content.metadata.indices.values()}
    for index_uuid in uuids:
        metadata = by_uuid.get(index_uuid)
        if metadata is None:
            continue  # deleted meanwhile: nothing left to wait for
        retries = metadata.setting("index.allocation.max_retries")
        empty = (metadata.restore_source or {}).get("empty_shards", ())
        for copy in content.routing_table.indices.get(metadata.name, ()):
            if not copy.primary:
                continue
            total += 1
            if copy.state == "STARTED" and copy.shard in empty:
                failed += 1
            elif copy.state == "STARTED":
                started += 1
            elif in_progress.gave_up(copy, retries):
                failed += 1
    return started + failed == total, started, failed


# -- the service ---------------------------------------------------------------------------------


class SnapshotsService:
    def __init__(self, node):
        self.node = node
        self._repository_locks: dict[str, asyncio.Lock] = {}
        self._driving: dict[str, asyncio.Task] = {}  # snapshot uuid -> its driver, on the master
        self._deleting: dict[str, asyncio.Task] = {}  # deletion id -> its task, on the master
        self._completions: dict[str, list[asyncio.Future]] = {}  # snapshot uuid -> waiters for its info
        self.aborted: set[str] = set()  # uuids of the snapshots a deletion aborted, as last applied
        self.running: set[str] = set()  # uuids of every snapshot under way, as last applied

    def register(self) -> None:
        master = self.node.master_actions
        master.register(PUT_REPOSITORY, PutRepositoryRequest, AppliedVersion, self._put_repository)
        master.register(DELETE_REPOSITORY, DeleteRepositoryRequest, AppliedVersion, self._delete_repository)
        master.register(VERIFY_REPOSITORY, VerifyRepositoryRequest, VerifyResponse, self._verify_repository)
        master.register(CLEANUP_REPOSITORY, CleanupRepositoryRequest, CleanupResponse,
                        self._cleanup_repository)
        master.register(CREATE, CreateSnapshotRequest, SnapshotResponse, self._create)
        master.register(DELETE, DeleteSnapshotRequest, Empty, self._delete)
        master.register(RESTORE, RestoreRequest, RestoreResponse, self._restore)
        # The reads run on the master, as Elasticsearch's do: it holds the newest state.
        master.register(GET_REPOSITORIES, GetRepositoriesRequest, ReadResponse, self._get_repositories)
        master.register(GET, GetSnapshotsRequest, ReadResponse, self._get_snapshots)
        master.register(STATUS, StatusRequest, ReadResponse, self._status)
        self.node.transport.register(VERIFY_ON_NODE, VerifyOnNodeRequest, Empty, self._verify_on_node)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._repository_locks.setdefault(name, asyncio.Lock())

    async def _off_loop(self, fn, *args):
        executor = self.node.executors["snapshot_meta"]
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    async def _blobs(self, content: ClusterStateContent, name: str):
        definition = repository.get(content, name)
        return definition, await repository_container(self.node, name, definition)

    async def _repository_data(self, name: str, definition: Mapping[str, Any],
                               blobs) -> repository.RepositoryData:
        return await self._off_loop(repository.read_repository_data, name, blobs,
                                    definition.get("generation"))

    # -- repositories ------------------------------------------------------------------------

    async def _put_repository(self, request: PutRepositoryRequest, task: Task) -> AppliedVersion:
        definition = orjson.loads(request.definition)
        blobs = await repository_container(self.node, request.name, definition)
        if not repository.is_readonly(definition):
            await self._off_loop(blobs.create)
        applied = await self.node.index_admin.submit(
            f"put_repository [{request.name}]",
            lambda content: self._checked_put(content, request.name, definition),
            ack_timeout=request.ack_timeout)
        log.info("put repository [%s]", request.name)
        if request.verify and applied.acknowledged:  # as ES: the nodes may not have it yet otherwise
            await self._verify_repository(VerifyRepositoryRequest(name=request.name), task)
        return applied

    @staticmethod
    def _checked_put(content: ClusterStateContent, name: str,
                     definition: dict[str, Any]) -> ClusterStateContent:
        if in_progress.in_use(content, name):
            existing = repository.of(content).get(name)
            if existing is not None and not repository.same_definition(existing, definition):
                raise repository_in_use(name)
        return repository.put(content, name, definition)

    async def _delete_repository(self, request: DeleteRepositoryRequest, task: Task) -> AppliedVersion:
        def update(content: ClusterStateContent) -> ClusterStateContent:
            names = [n for n in repository.of(content) if simple_match_any(request.names, n)]
            for name in names:
                if in_progress.in_use(content, name):
                    raise repository_in_use(name)
            return repository.delete(content, request.names)

        return await self.node.index_admin.submit(f"delete_repository {request.names}", update,
                                                  ack_timeout=request.ack_timeout)

    async def _verify_repository(self, request: VerifyRepositoryRequest, task: Task) -> VerifyResponse:
        """The master writes a blob, every master-eligible and data node reads it and writes
        its own (BlobStoreRepository.startVerification / verify): each must see the same
        folder for snapshots and restores to work."""
        node = self.node
        content = node.coordination.content
        definition, blobs = await self._blobs(content, request.name)
        seed = random_base64_uuid()
        tests = blobs.child(f"tests-{seed}")
        readonly = repository.is_readonly(definition)
        if not readonly:
            try:
                await self._off_loop(tests.write, "master.dat", seed.encode())
            except OSError as e:
                raise repository.RepositoryVerificationError(
                    f"[{request.name}] path [{blobs.location}] is not accessible on master node: "
                    f"{e}") from None
        state = node.coordination.applied_state
        nodes = {nid: d for nid, d in state.node_details.items() if d.is_master_eligible or d.is_data_node}
        verify = VerifyOnNodeRequest(repository=request.name, definition=orjson.dumps(definition),
                                     seed="" if readonly else seed)
        try:
            results = await asyncio.gather(*(node.transport.execute(
                VERIFY_ON_NODE, verify, address=None if nid == node.node_id else d.transport_address)
                for nid, d in nodes.items()), return_exceptions=True)
        finally:
            if not readonly:
                try:
                    await self._off_loop(tests.delete_tree)
                except OSError as e:  # the check's answer stands; `_cleanup` removes it later
                    log.warning("[%s] could not remove the verification blobs [%s]: %s", request.name,
                                tests.location, e)
        failures = [f"[{nid}, '{r}']" for (nid, _), r in zip(nodes.items(), results, strict=True)
                    if isinstance(r, BaseException)]
        if failures:
            raise repository.RepositoryVerificationError(f"[{request.name}] {', '.join(failures)}")
        return VerifyResponse(nodes={nid: d.name for nid, d in nodes.items()})

    async def _verify_on_node(self, request: VerifyOnNodeRequest, task: Task) -> Empty:
        definition = orjson.loads(request.definition)
        blobs = await repository_container(self.node, request.repository, definition)
        if not request.seed:
            await self._off_loop(blobs.check)
            return Empty()
        tests = blobs.child(f"tests-{request.seed}")
        try:
            seen = await self._off_loop(tests.read, "master.dat")
        except (OSError, BlobMissing) as e:
            raise repository.RepositoryVerificationError(
                f"[{request.repository}] a file written by master to the store [{blobs.location}] cannot be "
                f"accessed on the node [{self.node.name}]. This might indicate that the store "
                f"[{blobs.location}] is not shared between this node and the master node or that permissions "
                f"on the store don't allow reading files written by the master node: {e}") from None
        if seen.decode() != request.seed:
            raise repository.RepositoryVerificationError(
                f"[{request.repository}] store location [{blobs.location}] is not shared between node "
                f"[{self.node.name}] and the master node")
        await self._off_loop(tests.write, f"data-{self.node.node_id}.dat", request.seed.encode())
        return Empty()

    async def _cleanup_repository(self, request: CleanupRepositoryRequest, task: Task) -> CleanupResponse:
        """What no committed snapshot refers to (left by a failed snapshot or an
        interrupted deletion); refused while the repository is in use."""
        content = self.node.coordination.content
        definition = repository.get(content, request.name)
        if repository.is_readonly(definition):
            raise repository.RepositoryError(request.name, "cannot run cleanup on readonly repository")
        if in_progress.takes_or_deletes(content, request.name):  # a restore only reads what it keeps
            raise IllegalState(f"Cannot cleanup [{request.name}] - a snapshot is currently running")
        # A deletion of no snapshot: the state then refuses new snapshots until it is done.
        cleanup = {"id": random_base64_uuid(), "repository": request.name, "snapshots": [], "uuids": []}
        count, size = await self._delete_marked(cleanup)
        return CleanupResponse(deleted_blobs=count, deleted_bytes=size)

    # -- create ---------------------------------------------------------------------------------

    async def _create(self, request: CreateSnapshotRequest, task: Task) -> SnapshotResponse:
        node = self.node
        body = orjson.loads(request.body)
        name = request.snapshot
        validate_snapshot_name(request.repository, name)
        content = node.coordination.content
        definition, blobs = await self._blobs(content, request.repository)
        if repository.is_readonly(definition):
            raise repository.RepositoryError(request.repository,
                                             "cannot create snapshot in a readonly repository")
        data = await self._repository_data(request.repository, definition, blobs)
        if data.snapshot(name) is not None:
            raise InvalidSnapshotName(request.repository, name, "snapshot with the same name already exists")
        snapshot_uuid = random_base64_uuid()

        def update(content: ClusterStateContent) -> ClusterStateContent:
            names = node.indices.resolve(
                _expression(body.get("indices")), ignore_unavailable=_flag(body, "ignore_unavailable", False),
                allow_no_indices=_flag(body, "allow_no_indices", True),
                expand_wildcards=str(body.get("expand_wildcards", "open,hidden")),
                universe=content.metadata.indices, allow_aliases=True)
            entry = new_entry(content, request.repository, name, snapshot_uuid, body, names, data,
                              int(time.time() * 1000))
            return in_progress.add(content, entry)

        waiter = asyncio.get_running_loop().create_future() if request.wait_for_completion else None
        if waiter is not None:
            self._completions.setdefault(snapshot_uuid, []).append(waiter)
        try:
            await node.coordination.submit(f"create_snapshot [{request.repository}:{name}]", update)
        except BaseException:
            self._completions.pop(snapshot_uuid, None)
            raise
        log.info("snapshot [%s:%s/%s] started", request.repository, name, snapshot_uuid)
        self._drive(snapshot_uuid)
        if waiter is None:
            return SnapshotResponse(body=orjson.dumps({"accepted": True}))
        info = await waiter
        return SnapshotResponse(body=orjson.dumps({"snapshot": render_info(info, request.repository)}))

    def _drive(self, snapshot_uuid: str) -> None:
        if snapshot_uuid in self._driving:
            return
        task = asyncio.get_running_loop().create_task(self._run_snapshot(snapshot_uuid))
        self._driving[snapshot_uuid] = task
        task.add_done_callback(lambda _: self._driving.pop(snapshot_uuid, None))

    async def _run_snapshot(self, snapshot_uuid: str) -> None:
        node = self.node
        entry = in_progress.find(node.coordination.content, snapshot_uuid)
        if entry is None:
            await self._answer_from_repository(snapshot_uuid)
            return
        task = node.tasks.register(CREATE + "[drive]", type="transport", cancellable=False,
                                   description=f"snapshot [{entry['repository']}:{entry['snapshot']}]")
        task.status = lambda: self._entry_status(snapshot_uuid)
        try:
            pending = [k for k, s in entry["shards"].items() if s["state"] == "INIT"]
            # The repository's root, read once for every shard: which snapshots each index has.
            root = asyncio.ensure_future(self._root_of(entry["repository"])) if pending else None
            results = await asyncio.gather(*(self._snapshot_shard(entry, key, root) for key in pending),
                                           return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result  # not master any more, or cancelled: the entry stays for the next
            await self._finalize(snapshot_uuid)
        except NotMasterError:
            log.info("snapshot [%s:%s] handed to the next master", entry["repository"], entry["snapshot"])
            self._fail_waiters(snapshot_uuid, NotMasterError("no longer master while the snapshot ran"))
        except Exception as e:
            log.warning("snapshot [%s:%s] failed: %s", entry["repository"], entry["snapshot"], e,
                        exc_info=not isinstance(e, StrataError))
            self._fail_waiters(snapshot_uuid, e)
        finally:
            node.tasks.unregister(task)

    async def _answer_from_repository(self, snapshot_uuid: str) -> None:
        """The entry is gone (another master finalized it): waiters get the info it wrote."""
        waiters = self._completions.pop(snapshot_uuid, [])
        if not waiters:
            return
        error: BaseException | None = None
        info = None
        for name, definition in repository.of(self.node.coordination.content).items():
            blobs = await repository_container(self.node, name, definition)
            try:
                info = await self._off_loop(repository.read_json, blobs, f"snap-{snapshot_uuid}.dat")
                break
            except (OSError, StrataError) as e:
                error = e
        for waiter in waiters:
            if waiter.done():
                continue
            if info is not None:
                waiter.set_result(info)
            else:
                waiter.set_exception(SnapshotError("", snapshot_uuid,
                                                   f"finished elsewhere, info unreadable: {error}"))

    def _entry_status(self, snapshot_uuid: str) -> dict[str, Any] | None:
        entry = in_progress.find(self.node.coordination.content, snapshot_uuid)
        if entry is None:
            return None
        states: dict[str, int] = {}
        for shard in entry["shards"].values():
            states[shard["state"]] = states.get(shard["state"], 0) + 1
        return {"snapshot": entry["snapshot"], "repository": entry["repository"], "shards": states}

    async def _snapshot_shard(self, entry: dict[str, Any], key: str, root: asyncio.Future) -> None:
        node = self.node
        index, n = in_progress.split_key(key)
        shard = entry["shards"][key]
        try:
            # Shielded: one shard's cancellation must not fail the read for the others.
            definition, data = await asyncio.shield(root)
            committed = data.snapshots_of_index(index)
            ids = entry["indices"][index]
            request = ShardSnapshotRequest(
                repository=entry["repository"], definition=orjson.dumps(definition),
                snapshot=entry["snapshot"], snapshot_uuid=entry["uuid"], index=index, index_uuid=ids["uuid"],
                index_id=ids["id"], shard=n, committed=committed)
            address = None if shard["node"] == node.node_id else node.shard_router.address(shard["node"])
            response: ShardSnapshotResponse = await node.transport.execute(SNAPSHOT_SHARD, request,
                                                                            address=address)
            state, reason, stats = "SUCCESS", None, orjson.loads(response.stats)
        except Exception as e:  # any failure of the shard is recorded as its failure
            reason = f"{e.type}: {e.reason}" if isinstance(e, StrataError) else f"{type(e).__name__}: {e}"
            state, stats = "FAILED", None
            log.warning("[%s:%s] shard [%s][%d] failed: %s", entry["repository"], entry["snapshot"],
                        index, n, reason, exc_info=not isinstance(e, StrataError | OSError))
        await node.coordination.submit(
            f"update_snapshot_status [{entry['snapshot']}] [{index}][{n}] {state}",
            lambda content: in_progress.update_shard(content, entry["uuid"], key, state, reason, stats))

    async def _root_of(self, repository_name: str) -> tuple[dict[str, Any], repository.RepositoryData]:
        definition, blobs = await self._blobs(self.node.coordination.content, repository_name)
        return definition, await self._repository_data(repository_name, definition, blobs)

    async def _finalize(self, snapshot_uuid: str) -> None:
        node = self.node
        entry = in_progress.find(node.coordination.content, snapshot_uuid)
        if entry is None or not in_progress.all_done(entry):
            return  # another driver still waits for a shard: its answer drives the entry again
        repository_name = entry["repository"]
        if entry["state"] == "ABORTED":
            # Nothing is committed: the deletion that aborted it removes what its shards wrote.
            await self._remove_entry(entry, "aborted")
            log.info("snapshot [%s:%s/%s] aborted", repository_name, entry["snapshot"], snapshot_uuid)
            self._fail_waiters(snapshot_uuid, SnapshotError(repository_name, entry["snapshot"],
                                                            "Snapshot was aborted by deletion"))
            return
        async with self._lock(repository_name):
            try:
                info = await self._commit(entry)
            except (NotMasterError, FailedToCommitClusterState):
                raise  # the entry stays for the next master, which finalizes it again
            except Exception as e:
                # Removed as Elasticsearch removes a snapshot it failed to finalize: left in
                # the state, it would show as running and keep the repository from
                # deletions, cleanup and changes until the next change of master.
                await self._remove_entry(entry, "failed to finalize")
                if isinstance(e, SnapshotFailure):
                    raise
                raise SnapshotError(repository_name, entry["snapshot"], f"failed to finalize: {e}") from e
        log.info("snapshot [%s:%s/%s] completed with state [%s]", repository_name, entry["snapshot"],
                 snapshot_uuid, info["state"])
        for waiter in self._completions.pop(snapshot_uuid, []):
            if not waiter.done():
                waiter.set_result(info)

    async def _remove_entry(self, entry: dict[str, Any], why: str) -> None:
        await self.node.coordination.submit(f"remove_snapshot [{entry['snapshot']}] ({why})",
                                            lambda content: in_progress.remove(content, entry["uuid"]))

    async def _commit(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Write the snapshot's metadata, info and the next root, name that root in the
        cluster state in the update that removes the entry, then remove the older roots
        (best effort); returns the info."""
        node = self.node
        repository_name, snapshot_uuid = entry["repository"], entry["uuid"]
        content = node.coordination.content
        definition, blobs = await self._blobs(content, repository_name)
        data = await self._repository_data(repository_name, definition, blobs)
        info = snapshot_info(entry, int(time.time() * 1000))
        clash = [i for i, ids in entry["indices"].items() if data.index_id(i) not in (None, ids["id"])]
        if data.snapshot(entry["snapshot"]) is not None or clash:
            # Another snapshot committed meanwhile the same name, or a first snapshot of
            # one of these indices under another id: this one's blobs would not be found.
            raise SnapshotError(repository_name, entry["snapshot"],
                                "a snapshot of the same name, or a first snapshot of "
                                f"{clash or 'its indices'}, was committed while it ran")
        global_metadata = None
        if entry["include_global_state"]:
            meta = content.metadata
            global_metadata = {"persistent_settings": meta.persistent_settings,
                               "component_templates": msgspec.to_builtins(meta.component_templates),
                               "index_templates": msgspec.to_builtins(meta.index_templates)}
        index_metadata = {}
        for index, ids in entry["indices"].items():
            metadata = content.metadata.indices.get(index)
            if metadata is not None and metadata.uuid == ids["uuid"]:
                index_metadata[ids["id"]] = metadata.to_json()

        def write() -> int:
            if global_metadata is not None:
                repository.write_json(blobs, f"meta-{snapshot_uuid}.dat", global_metadata)
            for index_id, raw in index_metadata.items():
                blobs.child("indices", index_id).write(f"meta-{snapshot_uuid}.dat", raw)
            repository.write_json(blobs, f"snap-{snapshot_uuid}.dat", info)
            summary = {"name": entry["snapshot"], "uuid": snapshot_uuid, "state": info["state"],
                       "start_time_in_millis": info["start_time_in_millis"],
                       "end_time_in_millis": info["end_time_in_millis"]}
            return repository.write_repository_data(
                repository_name, blobs,
                data.with_snapshot(summary, {i: ids["id"] for i, ids in entry["indices"].items()}))

        generation = await self._off_loop(write)
        await node.coordination.submit(
            f"snapshot_finalized [{repository_name}:{entry['snapshot']}]",
            lambda content: in_progress.remove(repository.with_generation(
                content, repository_name, definition.get("generation"), generation), snapshot_uuid))
        try:
            await self._off_loop(repository.delete_old_roots, blobs, generation)
        except OSError as e:  # committed all the same; the next root's write or `_cleanup` removes them
            log.warning("[%s] could not remove the roots before [index-%d]: %s", repository_name,
                        generation, e)
        return info

    def _fail_waiters(self, snapshot_uuid: str, error: BaseException) -> None:
        for waiter in self._completions.pop(snapshot_uuid, []):
            if not waiter.done():
                waiter.set_exception(error)

    # -- delete -----------------------------------------------------------------------------------

    async def _delete(self, request: DeleteSnapshotRequest, task: Task) -> Empty:
        node = self.node
        content = node.coordination.content
        definition, blobs = await self._blobs(content, request.repository)
        if repository.is_readonly(definition):
            raise repository.RepositoryError(request.repository, "cannot delete snapshot from a readonly "
                                                                 "repository")
        data = await self._repository_data(request.repository, definition, blobs)
        running = [e for e in in_progress.entries(content) if e["repository"] == request.repository]
        names: list[str] = []
        aborting: dict[str, dict[str, Any]] = {}  # uuid -> the running entry the request names
        for pattern in request.snapshots:
            wildcard = pattern in ("_all", "*") or "*" in pattern
            glob = "*" if pattern == "_all" else pattern
            named = [e for e in running if simple_match(glob, e["snapshot"])]
            aborting.update((e["uuid"], e) for e in named)
            if wildcard:
                names += [s["name"] for s in data.snapshots if simple_match(glob, s["name"])
                          and s["name"] not in names]
            elif data.snapshot(pattern) is not None:
                if pattern not in names:
                    names.append(pattern)
            elif not named:
                raise SnapshotMissing(request.repository, pattern)
        if aborting:
            await self._abort(list(aborting.values()))
            # One that was finalizing when the abort came is committed now: it goes too.
            definition, blobs = await self._blobs(node.coordination.content, request.repository)
            data = await self._repository_data(request.repository, definition, blobs)
            names += [s["name"] for s in data.snapshots if s["uuid"] in aborting and s["name"] not in names]
        if names:
            deletion = {"id": random_base64_uuid(), "repository": request.repository, "snapshots": names,
                        "uuids": [data.snapshot(n)["uuid"] for n in names]}
        elif aborting:  # only what the aborted snapshots wrote is to go
            deletion = {"id": random_base64_uuid(), "repository": request.repository, "snapshots": [],
                        "uuids": []}
        else:
            return Empty()
        try:
            await self._delete_marked(deletion)
        except in_progress.ConcurrentSnapshotExecution:
            if names:
                raise
            log.info("[%s] another snapshot began after the abort: what the aborted one wrote stays "
                     "until the repository's _cleanup", request.repository)
        return Empty()

    async def _abort(self, running: list[dict[str, Any]]) -> None:
        """Mark the snapshots ABORTED and wait until the master has removed them (every
        shard answered: copies stop at their next chunk once their node sees the mark)."""
        uuids = {e["uuid"] for e in running}
        for entry in running:
            await self.node.coordination.submit(
                f"abort_snapshot [{entry['repository']}:{entry['snapshot']}]",
                lambda content, u=entry["uuid"]: in_progress.abort(content, u))
            log.info("snapshot [%s:%s/%s] aborting: deleted while it ran", entry["repository"],
                     entry["snapshot"], entry["uuid"])
        coordination = self.node.coordination

        def removed(state) -> bool:
            return not uuids & {e["uuid"] for e in in_progress.entries(content_of(state))}

        while not await coordination.wait_for_state(removed, 1.0):
            if not coordination.is_master:  # the coordinating node retries on the next master
                raise NotMasterError(f"node [{self.node.name}] stopped being the master while aborting "
                                     f"{sorted(uuids)}")

    async def _delete_marked(self, deletion: dict[str, Any]) -> tuple[int, int]:
        """Mark the deletion in the state and run it here; this node's listener must not
        take it up as one left by another master."""
        self._deleting[deletion["id"]] = asyncio.current_task()
        try:
            await self.node.coordination.submit(
                f"delete_snapshot [{deletion['repository']}]{deletion['snapshots']}",
                lambda content: in_progress.add_deletion(content, deletion))
            return await self._run_deletion(deletion)
        finally:
            self._deleting.pop(deletion["id"], None)

    async def _run_deletion(self, deletion: dict[str, Any]) -> tuple[int, int]:
        node = self.node
        repository_name = deletion["repository"]
        uuids = set(deletion["uuids"])
        freed = (0, 0)
        try:
            async with self._lock(repository_name):
                content = node.coordination.content
                if all(d["id"] != deletion["id"] for d in in_progress.deletions(content)):
                    return freed  # done already (a run of it before this one)
                definition, blobs = await self._blobs(content, repository_name)
                data = await self._repository_data(repository_name, definition, blobs)
                remaining = data.without_snapshots(uuids)
                generation = data.generation
                if len(remaining.snapshots) != len(data.snapshots):
                    generation = await self._off_loop(repository.write_repository_data, repository_name,
                                                      blobs, remaining)
                    await node.coordination.submit(
                        f"snapshot_deleted [{repository_name}]",
                        lambda content: repository.with_generation(content, repository_name,
                                                                   definition.get("generation"), generation))
                remaining = msgspec.structs.replace(remaining, generation=generation)
                freed = await self._off_loop(repository.remove_unreferenced, blobs, remaining)
                log.info("deleted snapshots [%s]%s, freed %d blobs (%d bytes)", repository_name,
                         deletion["snapshots"], freed[0], freed[1])
                return freed
        finally:
            try:
                await node.coordination.submit(
                    f"remove_snapshot_deletion [{repository_name}]",
                    lambda content: in_progress.remove_deletion(content, deletion["id"]))
            except NotMasterError:
                pass  # the next master takes the deletion up again

    # -- taking up entries after a change of master --------------------------------------------

    def apply_cluster_state(self, old, new) -> None:
        """On every node: the snapshots being aborted (their shard copies stop). On the
        master: drive the snapshots and deletions it finds and is not driving (an earlier
        master's, or this node's from before a restart)."""
        content = content_of(new)
        self.aborted = in_progress.aborted(content)
        self.running = {e["uuid"] for e in in_progress.entries(content)}
        if not self.node.coordination.is_master:
            return
        for entry in in_progress.entries(content):
            if entry["uuid"] not in self._driving:
                self._drive(entry["uuid"])
        for deletion in in_progress.deletions(content):
            if deletion["id"] not in self._deleting:
                task = asyncio.get_running_loop().create_task(self._resume_deletion(deletion))
                self._deleting[deletion["id"]] = task
                task.add_done_callback(lambda _, d=deletion["id"]: self._deleting.pop(d, None))

    async def _resume_deletion(self, deletion: dict[str, Any]) -> None:
        try:
            await self._run_deletion(deletion)
        except Exception as e:
            log.warning("deleting snapshots [%s]%s failed: %s", deletion["repository"], deletion["snapshots"],
                        e, exc_info=not isinstance(e, StrataError))

    async def close(self) -> None:
        tasks = [*self._driving.values(), *self._deleting.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- restore -----------------------------------------------------------------------------------

    async def _restore(self, request: RestoreRequest, task: Task) -> RestoreResponse:
        node = self.node
        body = orjson.loads(request.body)
        content = node.coordination.content
        definition, blobs = await self._blobs(content, request.repository)
        data = await self._repository_data(request.repository, definition, blobs)
        summary = data.snapshot(request.snapshot)
        if summary is None:
            raise SnapshotMissing(request.repository, request.snapshot)
        snapshot_uuid = summary["uuid"]
        info = await self._off_loop(repository.read_json, blobs, f"snap-{snapshot_uuid}.dat")
        if info["state"] not in ("SUCCESS", "PARTIAL"):
            raise SnapshotRestoreError(request.repository, request.snapshot,
                                       f"unsupported snapshot state [{info['state']}]")
        partial = _flag(body, "partial", False)
        chosen = resolve_in_snapshot(_expression(body.get("indices")), info["indices"],
                                     ignore_unavailable=_flag(body, "ignore_unavailable", False),
                                     allow_no_indices=_flag(body, "allow_no_indices", True))
        failed_shards: dict[str, list[int]] = {}
        for failure in info["failures"]:
            failed_shards.setdefault(failure["index"], []).append(failure["shard_id"])
        if not partial:
            unrestorable = [i for i in chosen if i in failed_shards]
            if unrestorable:
                raise SnapshotRestoreError(request.repository, request.snapshot,
                                           f"index [{unrestorable[0]}] wasn't fully snapshotted - cannot "
                                           "restore")
        names = renamed(chosen, body.get("rename_pattern"), body.get("rename_replacement"))
        if len(set(names.values())) != len(names):
            raise SnapshotRestoreError(request.repository, request.snapshot,
                                       "indices would be restored under the same name: "
                                       + str(sorted(names.values())))
        include_aliases = _flag(body, "include_aliases", True)
        restore_uuid = random_base64_uuid()
        restored: list[IndexMetadata] = []
        for index in chosen:
            index_id = data.index_id(index)
            raw = await self._off_loop(
                lambda i=index_id: blobs.child("indices", i).read(f"meta-{snapshot_uuid}.dat"))
            snapshotted = IndexMetadata.from_json(raw)
            new_name = names[index]
            validate_index_name(new_name)
            settings = restore_settings(snapshotted, body, request.repository, request.snapshot)
            new_uuid = random_base64_uuid()
            settings.update({"index.uuid": new_uuid, "index.provided_name": new_name})
            shards = snapshotted.number_of_shards
            restored.append(IndexMetadata(
                new_name, new_uuid, settings, snapshotted.mappings,
                snapshotted.aliases if include_aliases else {},
                primary_terms=tuple(snapshotted.primary_terms) or (1,) * shards,
                restore_source={"repository": request.repository, "snapshot": request.snapshot,
                                "snapshot_uuid": snapshot_uuid, "index": index, "index_id": index_id,
                                "restore_uuid": restore_uuid, "version": info["version"],
                                **({"empty_shards": sorted(failed_shards[index])}
                                   if index in failed_shards else {})}))
        global_metadata = None
        if _flag(body, "include_global_state", False):
            try:
                global_metadata = await self._off_loop(repository.read_json, blobs,
                                                       f"meta-{snapshot_uuid}.dat")
            except BlobMissing:
                global_metadata = None  # the snapshot did not take the global state

        state = await node.coordination.submit(
            f"restore_snapshot[{request.snapshot}]",
            lambda content: start_restore(content, request.repository, request.snapshot, snapshot_uuid,
                                          restored, global_metadata))
        log.info("restore [%s:%s] started: %s", request.repository, request.snapshot,
                 [m.name for m in restored])
        return RestoreResponse(term=state.term, version=state.version, snapshot=request.snapshot,
                               indices=[m.name for m in restored], uuids=[m.uuid for m in restored])

    async def wait_for_restore(self, response: RestoreResponse) -> dict[str, Any]:
        """Once every restored primary is done: ES's restore answer. (The caller has
        applied the state that created the indices: one missing now was deleted.)"""
        counts: list[tuple[bool, int, int]] = []

        def done(state) -> bool:
            counts[:] = [restore_finished(content_of(state), response.uuids)]
            return counts[0][0]

        await self.node.coordination.wait_for_state(done, WAIT_FOREVER)
        _, started, failed = counts[0]
        return {"snapshot": {"snapshot": response.snapshot, "indices": response.indices,
                             "shards": {"total": started + failed, "failed": failed, "successful": started}}}

    async def _get_repositories(self, request: GetRepositoriesRequest, task: Task) -> ReadResponse:
        content = self.node.coordination.content
        known = repository.of(content)
        names = self._repositories(content, request.names or "_all")
        return ReadResponse(body=orjson.dumps({
            n: {"type": known[n]["type"], "settings": settings_tree(known[n]["settings"])} for n in names}))

    async def _get_snapshots(self, request: GetSnapshotsRequest, task: Task) -> ReadResponse:
        found = await self.get_snapshots(request.repositories, request.snapshots,
                                         ignore_unavailable=request.ignore_unavailable)
        return ReadResponse(body=orjson.dumps(found))

    async def _status(self, request: StatusRequest, task: Task) -> ReadResponse:
        found = await self.status(request.repositories, request.snapshots,
                                  ignore_unavailable=request.ignore_unavailable)
        return ReadResponse(body=orjson.dumps({"snapshots": found}))

    # -- reads: get and status, on the master -----------------------------------------------

    def _repositories(self, content: ClusterStateContent, pattern: str) -> list[str]:
        known = repository.of(content)
        patterns = [p for p in pattern.split(",") if p]
        if not patterns or patterns == ["_all"]:
            return sorted(known)
        names = [n for n in sorted(known) if simple_match_any(patterns, n)]
        for p in patterns:
            if "*" not in p and p not in known:
                raise repository.RepositoryMissing(p)
        return names

    async def get_snapshots(self, repositories: str, snapshots: str, *,
                            ignore_unavailable: bool) -> dict[str, Any]:
        """The snapshots asked for, and `failures` by repository: a request of several
        repositories answers with those it could read (TransportGetSnapshotsAction)."""
        content = self.node.coordination.content
        patterns = [p for p in snapshots.split(",") if p]
        names = self._repositories(content, repositories)

        async def of(name: str) -> list[dict[str, Any]] | StrataError | OSError:
            try:
                return await self._snapshots_of(content, name, patterns, ignore_unavailable)
            except (StrataError, OSError) as e:
                if not several_repositories(repositories):
                    raise
                return e

        found: list[dict[str, Any]] = []
        failures: dict[str, dict[str, Any]] = {}
        for name, read in zip(names, await asyncio.gather(*map(of, names)), strict=True):
            if isinstance(read, list):
                found += read
            else:
                failures[name] = error_to_dict(read)
        return {"snapshots": found, "failures": failures}

    async def _snapshots_of(self, content: ClusterStateContent, name: str, patterns: list[str],
                            ignore_unavailable: bool) -> list[dict[str, Any]]:
        definition, blobs = await self._blobs(content, name)
        running = {e["snapshot"]: e for e in in_progress.entries(content) if e["repository"] == name}
        data = repository.RepositoryData() if current_only(patterns) else \
            await self._repository_data(name, definition, blobs)
        chosen = select_snapshots(patterns, [s["name"] for s in data.snapshots], list(running), name,
                                  ignore_unavailable)
        committed = [s for s in data.snapshots if s["name"] in chosen and s["name"] not in running]
        infos = await self._off_loop(lambda: [repository.read_json(blobs, f"snap-{s['uuid']}.dat")
                                              for s in committed]) if committed else []
        return [render_info(running_info(e), name) for n, e in running.items() if n in chosen] + \
            [render_info(info, name) for info in infos]

    async def status(self, repositories: str | None, snapshots: str | None, *,
                     ignore_unavailable: bool) -> list[dict[str, Any]]:
        content = self.node.coordination.content
        running = in_progress.entries(content)
        if repositories is None or snapshots is None or snapshots == "_current":
            names = None if repositories is None else self._repositories(content, repositories)
            return [running_status(e) for e in running if names is None or e["repository"] in names]
        out = []
        for name in self._repositories(content, repositories):
            definition, blobs = await self._blobs(content, name)
            data = await self._repository_data(name, definition, blobs)
            for pattern in (p for p in snapshots.split(",") if p):
                entry = next((e for e in running
                              if e["repository"] == name and e["snapshot"] == pattern), None)
                if entry is not None:
                    out.append(running_status(entry))
                    continue
                matches = [s for s in data.snapshots if simple_match(pattern if pattern != "_all" else "*",
                                                                     s["name"])]
                if not matches and not ignore_unavailable:
                    raise SnapshotMissing(name, pattern)
                for summary in matches:
                    out.append(await self._off_loop(self._finished_status, name, blobs, data, summary))
        return out

    @staticmethod
    def _finished_status(name: str, blobs, data: repository.RepositoryData,
                         summary: dict[str, Any]) -> dict[str, Any]:
        snapshot_uuid = summary["uuid"]
        info = repository.read_json(blobs, f"snap-{snapshot_uuid}.dat")
        failed = {(f["index"], f["shard_id"]) for f in info["failures"]}
        shards: dict[str, dict[str, dict[str, Any]]] = {}
        for index in info["indices"]:
            index_id = data.index_id(index)
            index_blobs = blobs.child("indices", index_id)
            count = None
            try:
                count = IndexMetadata.from_json(
                    index_blobs.read(f"meta-{snapshot_uuid}.dat")).number_of_shards
            except BlobMissing:
                count = len(index_blobs.children())
            for n in range(count):
                if (index, n) in failed:
                    shards.setdefault(index, {})[str(n)] = {"stage": "FAILURE", "stats": _empty_stats()}
                    continue
                try:
                    shard_blob = repository.read_json(shard_container(blobs, index_id, n),
                                                      f"snap-{snapshot_uuid}.dat")
                    stats = shard_blob["stats"]
                except BlobMissing:
                    stats = _empty_stats()
                shards.setdefault(index, {})[str(n)] = {"stage": "DONE", "stats": stats}
        # SUCCESS for a PARTIAL one too, as Elasticsearch's status has no PARTIAL.
        state = "FAILED" if info["state"] == "FAILED" else "SUCCESS"
        return _status_body(info["snapshot"], name, snapshot_uuid, state,
                            info["include_global_state"], shards, info["start_time_in_millis"],
                            info.get("end_time_in_millis"))


def running_status(entry: dict[str, Any]) -> dict[str, Any]:
    """A snapshot under way as `_status` shows it: STARTED, or ABORTED once a deletion
    asked it to stop."""
    shards: dict[str, dict[str, dict[str, Any]]] = {}
    for key, shard in entry["shards"].items():
        index, n = in_progress.split_key(key)
        stage = {"INIT": "STARTED", "SUCCESS": "DONE", "FAILED": "FAILURE",
                 "MISSING": "FAILURE"}[shard["state"]]
        shards.setdefault(index, {})[str(n)] = {"stage": stage,
                                                "stats": shard.get("stats") or _empty_stats()}
    return _status_body(entry["snapshot"], entry["repository"], entry["uuid"], entry["state"],
                        entry["include_global_state"], shards, entry["start_time"])


def _empty_stats() -> dict[str, Any]:
    return {"incremental": {"file_count": 0, "size_in_bytes": 0},
            "total": {"file_count": 0, "size_in_bytes": 0},
            "start_time_in_millis": 0, "time_in_millis": 0}


def _sum_stats(stats: list[dict[str, Any]], start: int, end: int | None) -> dict[str, Any]:
    out = _empty_stats()
    for s in stats:
        for part in ("incremental", "total"):
            out[part]["file_count"] += s[part]["file_count"]
            out[part]["size_in_bytes"] += s[part]["size_in_bytes"]
    out["start_time_in_millis"] = start
    out["time_in_millis"] = (end or int(time.time() * 1000)) - start
    return out


def _shards_stats(stages: list[str]) -> dict[str, int]:
    return {"initializing": stages.count("INIT"), "started": stages.count("STARTED"),
            "finalizing": stages.count("FINALIZE"), "done": stages.count("DONE"),
            "failed": stages.count("FAILURE"), "total": len(stages)}


def _status_body(snapshot: str, repository_name: str, snapshot_uuid: str, state: str,
                 include_global_state: bool, shards: dict[str, dict[str, dict[str, Any]]], start: int,
                 end: int | None = None) -> dict[str, Any]:
    """A snapshot as `_status` shows it (SnapshotStatus.toXContent)."""
    indices = {}
    every = []
    for index, by_number in sorted(shards.items()):
        stages = [s["stage"] for s in by_number.values()]
        every += list(by_number.values())
        indices[index] = {"shards_stats": _shards_stats(stages),
                          "stats": _sum_stats([s["stats"] for s in by_number.values()], start, end),
                          "shards": dict(sorted(by_number.items(), key=lambda kv: int(kv[0])))}
    return {"snapshot": snapshot, "repository": repository_name, "uuid": snapshot_uuid, "state": state,
            "include_global_state": include_global_state,
            "shards_stats": _shards_stats([s["stage"] for s in every]),
            "stats": _sum_stats([s["stats"] for s in every], start, end), "indices": indices}


def repository_in_use(name: str) -> IllegalState:
    return IllegalState(f"trying to modify or unregister repository [{name}] that is currently used")
