"""A snapshot repository: its registration in the cluster state, where its blobs live
and what its root blob says (Elasticsearch's BlobStoreRepository and RepositoryData).

Layout, with Elasticsearch's names (the blobs are JSON here, not SMILE):

    index-<N>                             the repository's root: every snapshot, every index
    index.latest                          N, as 8 big-endian bytes
    snap-<uuid>.dat                       one snapshot's info (state, indices, shards, times)
    meta-<uuid>.dat                       the cluster metadata it took (settings, templates)
    indices/<index id>/meta-<uuid>.dat    an index's metadata as the snapshot took it
    indices/<index id>/<shard>/snap-<uuid>.dat   a shard's files in that snapshot
    indices/<index id>/<shard>/__<blob uuid>     the files' content, shared between snapshots

A new root is written as `index-<N+1>` only if no such blob exists, so two writers cannot
both commit the same generation; the cluster state records the generation each change
saw, and a change that does not start from it is refused.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import orjson

from ..cluster.state import ClusterStateContent, with_custom
from ..common.errors import ActionRequestValidation, StrataError
from ..common.patterns import simple_match_any
from ..common.units import parse_bytes
from ..index.metadata import setting_string
from ..settings import flatten
from .blobs import BlobAlreadyExists, BlobContainer, BlobMissing, FsBlobContainer
from .s3 import (
    DEFAULT_BUFFER_SIZE,
    DEFAULT_CLIENT,
    MAX_BUFFER_SIZE,
    MIN_BUFFER_SIZE,
    S3BlobContainer,
    S3Calls,
    S3Clients,
)
from .throttle import RESTORE_RATE, SNAPSHOT_RATE, rate_of

CUSTOM = "repositories"  # the key in metadata customs, as Elasticsearch names it
TYPES = ("fs", "s3")
EMPTY_GENERATION = -1  # no root written yet
INVALID_FILE_CHARS = '\\/*?"<>| ,#'


class RepositoryError(StrataError):
    type = "repository_exception"
    status = 500

    def __init__(self, repository: str, reason: str, **kw):
        super().__init__(f"[{repository}] {reason}", **kw)


class RepositoryMissing(StrataError):
    type = "repository_missing_exception"
    status = 404

    def __init__(self, repository: str):
        super().__init__(f"[{repository}] missing")


class RepositoryVerificationError(StrataError):
    type = "repository_verification_exception"
    status = 500


class ConcurrentModification(RepositoryError):
    """Another change committed a generation this one did not start from."""


def validate_name(name: str) -> None:
    """RepositoriesService.validate's rules."""
    if not name:
        raise RepositoryError(name, f"Invalid repository name [{name}], cannot be empty")
    if any(c.isspace() for c in name):
        raise RepositoryError(name, f"Invalid repository name [{name}], must not contain whitespace")
    if "," in name:
        raise RepositoryError(name, f"Invalid repository name [{name}], must not contain ','")
    if "#" in name:
        raise RepositoryError(name, f"Invalid repository name [{name}], must not contain '#'")
    if any(c in INVALID_FILE_CHARS for c in name):
        raise RepositoryError(name, f"Invalid repository name [{name}], must not contain the following "
                                    "characters [\\, /, *, ?, \", <, >, |,  , ,]")


def parse_definition(name: str, body: Any) -> dict[str, Any]:
    """The body of `PUT /_snapshot/{repository}`, as the stored definition."""
    if not isinstance(body, dict):
        raise RepositoryError(name, "repository definition must be an object")
    kind = body.get("type")  # other keys are ignored, as PutRepositoryRequest ignores them
    if not isinstance(kind, str) or not kind:
        raise ActionRequestValidation(["type is missing"])
    if kind not in TYPES:
        raise RepositoryError(name, f"repository type [{kind}] does not exist")
    settings = body.get("settings") or {}
    if not isinstance(settings, dict):
        raise RepositoryError(name, "[settings] must be an object")
    flat = {key: setting_string(value) for key, value in flatten(settings).items()}
    for rate in (SNAPSHOT_RATE, RESTORE_RATE):
        try:
            rate_of(flat, rate)
        except ValueError as e:
            raise RepositoryError(name, str(e)) from None
    if kind == "s3":
        s3_buffer_size(name, flat)
        if not flat.get("bucket"):
            raise RepositoryError(name, "Invalid S3 bucket name, cannot be null or empty")
        for key in ("access_key", "secret_key", "session_token"):
            if key in flat:  # the cluster state would hold and show it
                raise RepositoryError(name, f"Setting [{key}] is insecure in repository settings: set "
                                            f"[s3.client.<client name>.{key}] on the nodes instead")
    return {"type": kind, "settings": flat}


def s3_buffer_size(name: str, settings: Mapping[str, Any]) -> int:
    """The part size of an `s3` repository's uploads (ES's `buffer_size`, 5mb to 5gb)."""
    raw = settings.get("buffer_size")
    if raw is None:
        return DEFAULT_BUFFER_SIZE
    try:
        size = parse_bytes(raw, "buffer_size")
    except ValueError as e:
        raise RepositoryError(name, str(e)) from None
    if not MIN_BUFFER_SIZE <= size <= MAX_BUFFER_SIZE:
        raise RepositoryError(name, f"failed to parse value [{raw}] for setting [buffer_size], must be "
                                    f">= [5mb] and <= [5gb]")
    return size


def location_of(name: str, settings: Mapping[str, Any], path_repo: list[str]) -> Path:
    """The folder of an `fs` repository: its `location`, resolved against the first of
    `path.repo` when relative, and inside one of them (FsRepository's check)."""
    location = settings.get("location")
    if not location:
        raise RepositoryError(name, "missing location")
    roots = [Path(p).resolve() for p in path_repo]
    if not roots:
        raise RepositoryError(name, f"location [{location}] doesn't match any of the locations specified by "
                                    "path.repo because this setting is empty")
    path = Path(location)
    path = (path if path.is_absolute() else roots[0] / path).resolve()
    if not any(path == root or root in path.parents for root in roots):
        raise RepositoryError(name, f"location [{location}] doesn't match any of the locations specified by "
                                    f"path.repo: [{', '.join(path_repo)}]")
    return path


class Stores:
    """What a node opens repositories with: the folders `fs` ones may use (`path.repo`)
    and its S3 clients (`s3.client.<name>.*`)."""

    def __init__(self, path_repo: list[str], s3_clients: S3Clients):
        self.path_repo = path_repo
        self.s3_clients = s3_clients

    def container(self, name: str, definition: Mapping[str, Any]) -> BlobContainer:
        """The repository's root container."""
        settings = definition["settings"]
        if definition["type"] == "fs":
            return FsBlobContainer(location_of(name, settings, self.path_repo))
        client = settings.get("client") or DEFAULT_CLIENT
        if client not in self.s3_clients.names():
            raise RepositoryError(name, f"Unknown s3 client name [{client}]. Existing client configs: "
                                        f"{', '.join(sorted(self.s3_clients.names()))}")
        base_path = str(settings.get("base_path") or "").strip("/")
        put_args = {}
        if str(settings.get("server_side_encryption", "false")).lower() == "true":
            put_args["ServerSideEncryption"] = "AES256"
        if settings.get("storage_class"):
            put_args["StorageClass"] = str(settings["storage_class"]).upper()
        if settings.get("canned_acl"):
            put_args["ACL"] = str(settings["canned_acl"])
        calls = S3Calls(functools.partial(self.s3_clients.get, client), str(settings["bucket"]))
        return S3BlobContainer(calls,
                               f"{base_path}/" if base_path else "",
                               buffer_size=s3_buffer_size(name, settings), put_args=put_args)


def is_readonly(definition: Mapping[str, Any]) -> bool:
    return str(definition["settings"].get("readonly", "false")).lower() == "true"


# -- the repositories in the cluster state ---------------------------------------------------


def of(content: ClusterStateContent) -> dict[str, dict[str, Any]]:
    return dict(content.metadata.customs.get(CUSTOM) or {})


def get(content: ClusterStateContent, name: str) -> dict[str, Any]:
    definition = of(content).get(name)
    if definition is None:
        raise RepositoryMissing(name)
    return definition


def with_repositories(content: ClusterStateContent, repositories: dict[str, Any]) -> ClusterStateContent:
    return with_custom(content, CUSTOM, repositories)


def same_definition(stored: Mapping[str, Any], definition: Mapping[str, Any]) -> bool:
    """A stored repository (which also carries its generation) is the one `definition` puts."""
    return {k: stored[k] for k in ("type", "settings")} == definition


def put(content: ClusterStateContent, name: str, definition: dict[str, Any]) -> ClusterStateContent:
    repositories = of(content)
    existing = repositories.get(name)
    if existing is not None and same_definition(existing, definition):
        return content  # the same definition again changes nothing
    # A changed definition may point elsewhere: its generation is read from there again.
    repositories[name] = {**definition, "generation": None}
    return with_repositories(content, repositories)


def delete(content: ClusterStateContent, patterns: list[str]) -> ClusterStateContent:
    repositories = of(content)
    names = [n for n in repositories if simple_match_any(patterns, n)]
    if not names:
        raise RepositoryMissing(",".join(patterns))
    for name in names:
        del repositories[name]
    return with_repositories(content, repositories)


def with_generation(content: ClusterStateContent, name: str, expected: int | None,
                    generation: int) -> ClusterStateContent:
    """The repository's root moved from `expected` to `generation`: refused when the
    cluster state says another change moved it meanwhile."""
    repositories = of(content)
    definition = repositories.get(name)
    if definition is None:
        raise RepositoryMissing(name)
    known = definition.get("generation")
    if known is not None and expected is not None and known != expected:
        raise ConcurrentModification(name, f"concurrent modification of the index-N file, expected current "
                                           f"generation [{expected}] but it was [{known}]")
    repositories[name] = {**definition, "generation": generation}
    return with_repositories(content, repositories)


# -- the root blob --------------------------------------------------------------------------


class RepositoryData(msgspec.Struct):
    """What `index-<N>` holds: every snapshot of the repository and every index any of
    them took (index name -> its id in the repository and the snapshots holding it)."""

    generation: int = EMPTY_GENERATION
    snapshots: list[dict[str, Any]] = msgspec.field(default_factory=list)  # name, uuid, state, times
    indices: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)  # name -> {id, snapshots}

    def snapshot(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.snapshots if s["name"] == name), None)

    def index_id(self, index: str) -> str | None:
        entry = self.indices.get(index)
        return entry["id"] if entry else None

    def snapshots_of_index(self, index: str) -> list[str]:
        entry = self.indices.get(index)
        return list(entry["snapshots"]) if entry else []

    def with_snapshot(self, summary: dict[str, Any], index_ids: Mapping[str, str]) -> RepositoryData:
        indices = {name: {"id": entry["id"], "snapshots": list(entry["snapshots"])}
                   for name, entry in self.indices.items()}
        for name, index_id in index_ids.items():
            indices.setdefault(name, {"id": index_id, "snapshots": []})["snapshots"].append(summary["uuid"])
        return RepositoryData(self.generation, [*self.snapshots, summary], indices)

    def without_snapshots(self, uuids: set[str]) -> RepositoryData:
        indices = {}
        for name, entry in self.indices.items():
            kept = [u for u in entry["snapshots"] if u not in uuids]
            if kept:
                indices[name] = {"id": entry["id"], "snapshots": kept}
        return RepositoryData(self.generation, [s for s in self.snapshots if s["uuid"] not in uuids], indices)

    def to_json(self) -> bytes:
        return orjson.dumps({"snapshots": self.snapshots, "indices": self.indices})


def latest_generation(blobs: BlobContainer) -> int:
    """The newest committed root: `index.latest` when readable, else the highest `index-N` listed."""
    try:
        data = blobs.read("index.latest")
        if len(data) == 8:
            return struct.unpack(">q", data)[0]
    except BlobMissing:
        pass
    return highest_root_listed(blobs)


def highest_root_listed(blobs: BlobContainer) -> int:
    generations = [int(m.group(1)) for name in blobs.list("index-")
                   if (m := re.fullmatch(r"index-(\d+)", name))]
    return max(generations, default=EMPTY_GENERATION)


def next_generation(blobs: BlobContainer, data: RepositoryData) -> int:
    """The generation the root after `data` is written as: past every root on disk.
    A writer that failed between writing `index-N` and `index.latest` left a root no one
    committed, and `index.latest` does not name it: counting only `index.latest`, every
    later writer would pick N again and fail on the blob that exists. Elasticsearch
    records a pending generation in the cluster state for this; listing the roots before
    each write finds the same leftovers without another cluster state update, and the
    write only if new still fences a writer racing this one. `index.latest` need not be
    read: it is written only after the `index-N` it names, and the newest root is never
    deleted, so it never names past the highest root listed. Blocking."""
    return max(data.generation, highest_root_listed(blobs)) + 1


def read_repository_data(name: str, blobs: BlobContainer, generation: int | None = None) -> RepositoryData:
    """The root at `generation` (the newest when None). Blocking."""
    if generation is None:
        generation = latest_generation(blobs)
    if generation == EMPTY_GENERATION:
        return RepositoryData()
    try:
        raw = orjson.loads(blobs.read(f"index-{generation}"))
    except BlobMissing:
        raise RepositoryError(name, f"could not read repository data from index blob [index-{generation}]: "
                                    "it is missing") from None
    except orjson.JSONDecodeError as e:
        raise RepositoryError(name, f"could not read repository data from index blob [index-{generation}]: "
                                    f"{e}") from None
    return RepositoryData(generation, raw.get("snapshots", []), raw.get("indices", {}))


def write_repository_data(name: str, blobs: BlobContainer, data: RepositoryData) -> int:
    """Commit `data` as the next generation after the newest on disk; returns it.
    The old roots are left for the caller to delete once the cluster state names the new
    one. Blocking."""
    # Past any root a writer left without the cluster state naming it (it failed or lost
    # mastership before): that root is not the repository's, and must not block it.
    generation = next_generation(blobs, data)
    try:
        blobs.write(f"index-{generation}", data.to_json(), fail_if_exists=True)
    except BlobAlreadyExists:
        raise ConcurrentModification(name, f"concurrent modification of the index-N file, expected current "
                                           f"generation [{data.generation}], but another writer committed "
                                           f"[{generation}]") from None
    blobs.write("index.latest", struct.pack(">q", generation))
    return generation


def read_json(blobs: BlobContainer, name: str) -> Any:
    return orjson.loads(blobs.read(name))


def write_json(blobs: BlobContainer, name: str, value: Any) -> None:
    blobs.write(name, orjson.dumps(value))


def delete_old_roots(blobs: BlobContainer, generation: int) -> None:
    """The roots before `generation`, once the cluster state names it. Blocking."""
    blobs.delete([n for n in blobs.list("index-")
                  if re.fullmatch(r"index-\d+", n) and int(n[6:]) < generation])


def remove_unreferenced(blobs: BlobContainer, data: RepositoryData) -> tuple[int, int]:
    """Delete every blob the committed snapshots of `data` do not refer to: the info and
    metadata of other snapshots, indices no snapshot holds, shard blobs and file blobs of
    no committed snapshot, older roots. Only while no snapshot or deletion of the
    repository runs (a running snapshot's blobs are not committed yet). Returns the blobs
    and bytes deleted. Blocking."""
    committed = {s["uuid"] for s in data.snapshots}
    count = size = 0

    def drop(container: BlobContainer, names: list[str]) -> None:
        nonlocal count, size
        size += container.delete(names)
        count += len(names)

    drop(blobs, [n for n in blobs.list() if (m := re.fullmatch(r"(?:snap|meta)-(.+)\.dat", n))
                 and m.group(1) not in committed])
    ids = {entry["id"]: entry for entry in data.indices.values()}
    indices = blobs.child("indices")
    for index_id in indices.children():
        index_blobs = indices.child(index_id)
        entry = ids.get(index_id)
        if entry is None:
            removed, freed = index_blobs.delete_tree()
            count, size = count + removed, size + freed
            continue
        held = set(entry["snapshots"])
        drop(index_blobs, [n for n in index_blobs.list("meta-") if n[5:-4] not in held])
        for shard in index_blobs.children():
            shard_blobs = index_blobs.child(shard)
            drop(shard_blobs, [n for n in shard_blobs.list("snap-") if n[5:-4] not in held])
            referenced: set[str] = set()
            for snapshot_uuid in held:
                try:
                    referenced.update(f["name"]
                                      for f in read_json(shard_blobs, f"snap-{snapshot_uuid}.dat")["files"])
                except BlobMissing:
                    continue  # the shard failed in that snapshot
            drop(shard_blobs, [n for n in shard_blobs.list("__") if n not in referenced])
    before = len(blobs.list("index-"))
    if data.generation != EMPTY_GENERATION:
        delete_old_roots(blobs, data.generation)
    count += before - len(blobs.list("index-"))
    return count, size
