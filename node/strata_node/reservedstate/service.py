"""The reserved cluster state service, as a pure function of the cluster state
(Elasticsearch's ReservedClusterStateService and ReservedStateUpdateTask).

A settings document (`{"metadata": {"version", "compatibility"}, "state": {handler: ...}}`)
becomes at most one new cluster state:

- not newer than the namespace's stored version: nothing changes (the caller logs it);
- it does not parse, names an unknown handler, misses a dependency or has a cycle, or any
  handler raises: the state is left as it is except for the namespace's error metadata
  (kind `parsing` or `validation`), so a bad file never half-applies;
- otherwise every handler's change lands together with the new version and the keys each
  handler reserved, and any earlier error is cleared.

Handlers run in dependency order. A handler that reserved keys before and is absent from
the document now runs with an empty source, so what the file dropped leaves the cluster.
The master runs `apply` inside its update batch; the validation API runs `trial` on the
master's current state and shows the outcome without applying it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import orjson

from .. import ES_COMPAT_VERSION
from ..cluster.state import ClusterStateContent
from ..common.errors import StrataError
from .handler import ReservedStateHandler
from .metadata import EMPTY_VERSION, NO_VERSION, ReservedStateError, ReservedStateMetadata

log = logging.getLogger("strata.reserved_state")

FILE_SETTINGS = "file_settings"


class ReservedStateChunk(msgspec.Struct, frozen=True):
    version: int
    compatibility: str
    state: dict[str, Any]


class ChunkParseError(Exception):
    """The document is not a settings document; `version` is its version when that much
    could be read (EMPTY_VERSION otherwise)."""

    def __init__(self, message: str, version: int = EMPTY_VERSION):
        super().__init__(message)
        self.version = version


class Outcome(msgspec.Struct, frozen=True):
    """What processing a document did or would do: `applied` with the keys reserved, or an
    error of `error_kind` (parsing | validation), or `skipped` (not a newer version)."""

    namespace: str
    version: int
    applied: bool = False
    skipped: bool = False
    handlers: dict[str, tuple[str, ...]] = {}
    error_kind: str | None = None
    errors: tuple[str, ...] = ()
    current_version: int = NO_VERSION


def parse_chunk(data: bytes | Mapping[str, Any]) -> ReservedStateChunk:
    """The settings.json shape: `metadata.version` is an integer (a string in ES's docs, so
    both are accepted), `metadata.compatibility` a version, `state` an object of handler
    sections; nothing else is allowed at the top level."""
    try:
        raw = orjson.loads(data) if isinstance(data, bytes | bytearray | str) else data
    except orjson.JSONDecodeError as e:
        raise ChunkParseError(f"failed to parse the settings document: {e}") from None
    if not isinstance(raw, Mapping):
        raise ChunkParseError("the settings document must be a JSON object with [metadata] and [state]")
    unknown = sorted(set(raw) - {"metadata", "state"})
    if unknown:
        raise ChunkParseError(f"[reserved_state_chunk] unknown field [{unknown[0]}]")
    metadata = raw.get("metadata")
    if not isinstance(metadata, Mapping) or "version" not in metadata:
        raise ChunkParseError("[reserved_state_chunk] failed to parse: [metadata.version] is required")
    version = metadata["version"]
    if isinstance(version, bool) or not isinstance(version, int | str):
        raise ChunkParseError(f"[metadata.version] must be an integer, got [{version}]")
    try:
        version = int(version)
    except ValueError:
        raise ChunkParseError(f"[metadata.version] must be an integer, got [{version}]") from None
    if not -(2**63) < version < 2**63:  # a Java long, as Elasticsearch reads it
        raise ChunkParseError(f"[metadata.version] [{version}] is out of range for a long")
    compatibility = metadata.get("compatibility", ES_COMPAT_VERSION)
    if not isinstance(compatibility, str):
        raise ChunkParseError(f"[metadata.compatibility] must be a version string, got [{compatibility}]",
                              version)
    state = raw.get("state", {})
    if not isinstance(state, Mapping):
        raise ChunkParseError("[state] must be an object of handler sections", version)
    return ReservedStateChunk(version, compatibility, dict(state))


def order_handlers(handlers: Mapping[str, ReservedStateHandler], names: Iterable[str]) -> list[str]:
    """The handlers named, each after its dependencies (which must be among them) and its
    optional dependencies (when they are). Raises ValueError on an unknown handler, a
    missing dependency or a cycle, with Elasticsearch's messages."""
    names = set(names)
    ordered: list[str] = []
    in_progress: list[str] = []

    def add(name: str) -> None:
        if name in in_progress:
            raise ValueError("Cycle found in settings dependencies: " + " -> ".join(
                [*in_progress[in_progress.index(name):], name]))
        if name in ordered:
            return
        handler = handlers.get(name)
        if handler is None:
            raise ValueError(f"Unknown handler type: {name}")
        in_progress.append(name)
        for dependency in handler.dependencies():
            if dependency not in names:
                raise ValueError(f"Missing handler dependency definition: {name} -> {dependency}")
            add(dependency)
        for dependency in handler.optional_dependencies():
            if dependency in names:
                add(dependency)
        in_progress.pop()
        ordered.append(name)

    for name in sorted(names):
        add(name)
    return ordered


def _compatible(compatibility: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("-")[0].split(".") if p.isdigit())
    try:
        return parts(compatibility) <= parts(ES_COMPAT_VERSION)
    except ValueError:
        return False


def _describe(handler: str, e: Exception) -> str:
    kind = e.type if isinstance(e, StrataError) else type(e).__name__
    return f"Error processing {handler} state change: {kind}: {e}"


def trial(namespace: str, chunk: ReservedStateChunk, content: ClusterStateContent,
          handlers: Mapping[str, ReservedStateHandler]) -> tuple[ClusterStateContent, Outcome]:
    """Run every handler against `content`; the content they produce and what happened.
    Pure: the caller decides whether to keep the content."""
    existing = content.metadata.reserved_state.get(namespace)
    current = existing.version if existing is not None else NO_VERSION
    # 0 and below are never applied (checkMetadataVersion): 0 stands for a snapshot's restore
    if chunk.version <= current or chunk.version <= 0:
        return content, Outcome(namespace, chunk.version, skipped=True, current_version=current)
    if not _compatible(chunk.compatibility):
        message = (f"Reserved cluster state version [{chunk.compatibility}] for namespace [{namespace}] "
                   f"is not compatible with this node [{ES_COMPAT_VERSION}]")
        return content, Outcome(namespace, chunk.version, error_kind="validation", errors=(message,),
                                current_version=current)
    # A handler that reserved keys before runs even when the document no longer has it.
    previous = dict(existing.handlers) if existing is not None else {}
    sources = {name: chunk.state[name] for name in chunk.state}
    for name, keys in previous.items():
        if keys and name not in sources and name in handlers:
            sources[name] = {}
    try:
        order = order_handlers(handlers, sources)
    except ValueError as e:  # Elasticsearch counts these as parsing errors
        return content, Outcome(namespace, chunk.version, error_kind="parsing", errors=(str(e),),
                                current_version=current)
    new = content
    reserved: dict[str, tuple[str, ...]] = {}
    errors: list[str] = []
    for name in order:
        try:
            result = handlers[name].transform(sources[name], new, frozenset(previous.get(name, ())))
        except Exception as e:  # any failure is the document's error, recorded in the state
            errors.append(_describe(name, e))
            continue
        new = result.content
        if result.keys:
            reserved[name] = tuple(sorted(result.keys))
    if errors:
        return content, Outcome(namespace, chunk.version, error_kind="validation", errors=tuple(errors),
                                current_version=current)
    return new, Outcome(namespace, chunk.version, applied=True, handlers=reserved, current_version=current)


def _with_reserved(content: ClusterStateContent, metadata: ReservedStateMetadata) -> ClusterStateContent:
    reserved = {**content.metadata.reserved_state, metadata.namespace: metadata}
    return msgspec.structs.replace(content, metadata=msgspec.structs.replace(
        content.metadata, reserved_state=reserved, version=content.metadata.version + 1))


def with_error(content: ClusterStateContent, namespace: str, version: int, kind: str,
               errors: Iterable[str]) -> ClusterStateContent:
    """The namespace's error metadata recorded, everything else as it was. An error older
    than the one recorded is dropped (a parse error may not know its version, so it always
    counts), and the same error is not written twice."""
    existing = content.metadata.reserved_state.get(namespace) or ReservedStateMetadata(namespace)
    error = ReservedStateError(version, kind, tuple(errors))
    if existing.errors is not None and (
            existing.errors == error or (version != EMPTY_VERSION and existing.errors.version > version)):
        return content
    return _with_reserved(content, msgspec.structs.replace(existing, errors=error))


def apply(namespace: str, data: bytes | Mapping[str, Any], content: ClusterStateContent,
          handlers: Mapping[str, ReservedStateHandler]) -> tuple[ClusterStateContent, Outcome]:
    """What the master's update task does with a settings document."""
    try:
        chunk = parse_chunk(data)
    except ChunkParseError as e:
        outcome = Outcome(namespace, e.version, error_kind="parsing", errors=(str(e),))
        return with_error(content, namespace, e.version, "parsing", outcome.errors), outcome
    new, outcome = trial(namespace, chunk, content, handlers)
    if outcome.skipped:
        return content, outcome
    if outcome.error_kind is not None:
        return with_error(content, namespace, chunk.version, outcome.error_kind, outcome.errors), outcome
    return _with_reserved(new, ReservedStateMetadata(namespace, chunk.version, outcome.handlers)), outcome


def describe(outcome: Outcome) -> dict[str, Any]:
    """An outcome as the validation API answers it."""
    body: dict[str, Any] = {"namespace": outcome.namespace, "version": outcome.version,
                            "current_version": None if outcome.current_version == NO_VERSION
                            else outcome.current_version}
    if outcome.skipped:
        body.update(valid=True, would_apply=False,
                    reason=f"version [{outcome.version}] is not newer than the applied version "
                           f"[{outcome.current_version}]")
    elif outcome.error_kind is not None:
        body.update(valid=False, would_apply=False,
                    errors={"error_kind": outcome.error_kind, "errors": list(outcome.errors)})
    else:
        body.update(valid=True, would_apply=True,
                    handlers={name: {"keys": list(keys)} for name, keys in sorted(outcome.handlers.items())})
    return body
