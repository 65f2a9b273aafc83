"""Elasticsearch-shaped errors.

Every failure a client can see is one of these: it knows its `type` (the snake_case name
Elasticsearch gives the exception), its HTTP status and the metadata Elasticsearch puts
beside the reason (`index`, `index_uuid`, `shard`, `resource.id`, ...), so the REST layer
renders it exactly as Elasticsearch would.
"""

from __future__ import annotations

import traceback
from typing import Any


class StrataError(Exception):
    type = "exception"
    status = 500

    def __init__(self, reason: str, *, caused_by: BaseException | None = None, **metadata: Any):
        super().__init__(reason)
        self.reason = reason
        self.caused_by = caused_by
        # Metadata keys may contain dots ("resource.id"), so callers pass them via a dict.
        self.metadata: dict[str, Any] = {k: v for k, v in metadata.items() if v is not None}

    def with_metadata(self, **metadata: Any) -> StrataError:
        self.metadata.update({k.replace("__", "."): v for k, v in metadata.items() if v is not None})
        return self

    def to_dict(self, *, stack_trace: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "reason": self.reason}
        body.update(self.metadata)
        if self.caused_by is not None:
            body["caused_by"] = error_to_dict(self.caused_by, stack_trace=stack_trace)
        if stack_trace:
            body["stack_trace"] = format_stack_trace(self)
        return body

    def root_causes(self, *, stack_trace: bool = False) -> list[dict[str, Any]]:
        cause = self
        while isinstance(cause.caused_by, StrataError) and cause.wraps_root_cause:
            cause = cause.caused_by
        body = {"type": cause.type, "reason": cause.reason}
        body.update(cause.metadata)
        if stack_trace:
            body["stack_trace"] = format_stack_trace(cause)
        return [body]

    # Wrapper exceptions (Elasticsearch's "ElasticsearchWrapperException") report their cause
    # as the root cause rather than themselves.
    wraps_root_cause = False


def error_to_dict(error: BaseException, *, stack_trace: bool = False) -> dict[str, Any]:
    if isinstance(error, StrataError):
        return error.to_dict(stack_trace=stack_trace)
    body: dict[str, Any] = {"type": snake_type(error), "reason": str(error) or None}
    if stack_trace:
        body["stack_trace"] = format_stack_trace(error)
    return body


def java_class_name(error: BaseException) -> str:
    """The Java class Elasticsearch would name: its types are the snake_case of the class
    (`document_missing_exception` <- DocumentMissingException)."""
    type_ = error.type if isinstance(error, StrataError) else snake_type(error)
    return "".join(part[:1].upper() + part[1:] for part in type_.split("_"))


def detailed_message(error: BaseException) -> str:
    """ExceptionsHelper.detailedMessage: `Class[reason]`, and the causes after `nested: `."""
    if getattr(error, "caused_by", None) is None:
        return f"{java_class_name(error)}[{_reason(error)}]"
    parts = []
    current: BaseException | None = error
    while current is not None:
        parts.append(f"{java_class_name(current)}[{_reason(current)}]; ")
        current = getattr(current, "caused_by", None)
        if current is not None:
            parts.append("nested: ")
    return "".join(parts)


def describe(error: BaseException) -> str:
    """ElasticsearchException.toString(): the index (`[name/uuid]`) and shard (`[[name][0]]`)
    the failure belongs to, then the detailed message."""
    prefix = ""
    metadata = getattr(error, "metadata", {})
    if "index" in metadata:
        index, uuid = metadata["index"], metadata.get("index_uuid", "_na_")
        prefix = f"[{index}]" if uuid == "_na_" else f"[{index}/{uuid}]"
        if "shard" in metadata:
            prefix += f"[[{index}][{metadata['shard']}]]"
        prefix += " "
    return prefix + detailed_message(error).strip()


def format_stack_trace(error: BaseException) -> str:
    """What `error_trace=true` returns. Elasticsearch's trace starts with the exception's
    toString(), which clients and the REST tests match on; the frames below it are
    Strata's own, from Python."""
    return describe(error) + "\n" + "".join(traceback.format_exception(error))


def _reason(error: BaseException) -> str:
    return error.reason if isinstance(error, StrataError) else str(error)


def snake_type(error: BaseException) -> str:
    name = type(error).__name__
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def error_body(error: BaseException, *, stack_trace: bool = False) -> dict[str, Any]:
    """The body Elasticsearch sends for a failed request."""
    if not isinstance(error, StrataError):
        error = InternalError(str(error) or type(error).__name__, caused_by=error)
    err = error.to_dict(stack_trace=stack_trace)
    root_causes = error.root_causes(stack_trace=stack_trace)
    return {"error": {"root_cause": root_causes, **err}, "status": error.status}


class InternalError(StrataError):
    type = "exception"
    status = 500


class IllegalArgument(StrataError):
    type = "illegal_argument_exception"
    status = 400


class IllegalState(StrataError):
    type = "illegal_state_exception"
    status = 500


class ParseError(StrataError):
    type = "parse_exception"
    status = 400


class ParsingError(StrataError):
    """A request body (a query, an aggregation) that parsed as JSON but is not what the
    parser expected: ES puts `line` and `col` beside the reason."""

    type = "parsing_exception"
    status = 400

    def __init__(self, reason: str, *, line: int | None = None, column: int | None = None,
                 caused_by: BaseException | None = None, **metadata: Any):
        super().__init__(reason, caused_by=caused_by, **metadata)
        if line is not None:
            self.metadata.update(line=line, col=column)


class QueryShardError(StrataError):
    """A query that cannot run against one shard's mapping (a range on a field of the
    wrong type, a value the field cannot hold)."""

    type = "query_shard_exception"
    status = 400


class SearchPhaseExecutionError(StrataError):
    """A search whose shards all failed (or a coordinating step that failed): the shard
    failures are its root causes, deduplicated by index and cause as ES groups them."""

    type = "search_phase_execution_exception"
    wraps_root_cause = True

    def __init__(self, phase: str, reason: str, shard_failures: list[dict[str, Any]],
                 causes: list[BaseException], *, caused_by: BaseException | None = None):
        super().__init__(reason, caused_by=caused_by)
        self.metadata.update(phase=phase, grouped=True, failed_shards=shard_failures)
        self.causes = causes
        # ES answers with the status of the first cause (400 for a bad query on every
        # shard), 503 when no shard could run it at all.
        self.status = next((c.status for c in causes if isinstance(c, StrataError)), 503)

    def root_causes(self, *, stack_trace: bool = False) -> list[dict[str, Any]]:
        seen, out = set(), []
        for cause in self.causes:
            for body in (cause.root_causes(stack_trace=stack_trace) if isinstance(cause, StrataError)
                         else [error_to_dict(cause, stack_trace=stack_trace)]):
                key = (body.get("type"), body.get("reason"), body.get("index"))
                if key not in seen:
                    seen.add(key)
                    out.append(body)
        return out or super().root_causes(stack_trace=stack_trace)


class XContentParseError(StrataError):
    """A body that is not the JSON a parser expected; the reason starts with the
    `[line:column]` where parsing stopped, as Elasticsearch's XContentParseException."""

    type = "x_content_parse_exception"
    status = 400

    def __init__(self, reason: str, *, line: int | None = None, column: int | None = None,
                 caused_by: BaseException | None = None, **metadata: Any):
        self.line, self.column = line, column
        self.message = reason
        if line is not None:
            reason = f"[{line}:{column}] {reason}"
        super().__init__(reason, caused_by=caused_by, **metadata)


class JsonParseError(StrataError):
    type = "json_parse_exception"
    status = 400


class NotXContent(StrataError):
    type = "not_x_content_exception"
    status = 400


class MapperParsingError(StrataError):
    """A document that cannot be indexed, with the `[line:column]` of the problem when
    there is one. Elasticsearch 8.8+ calls it mapper_parsing_exception; Strata keeps
    mapper_parsing_exception, the type OpenSearch and earlier 8.x clients expect."""

    type = "mapper_parsing_exception"
    status = 400

    def __init__(self, reason: str, *, line: int | None = None, column: int | None = None,
                 caused_by: BaseException | None = None):
        if line is not None:
            reason = f"[{line}:{column}] {reason}"
        super().__init__(reason, caused_by=caused_by)


class NumberFormatError(StrataError):
    """Java's NumberFormatException, which Elasticsearch reports as is for numbers in
    bodies that do not parse (`For input string: "abc"`)."""

    type = "number_format_exception"
    status = 400


class ActionRequestValidation(StrataError):
    type = "action_request_validation_exception"
    status = 400

    def __init__(self, errors: list[str]):
        self.errors = errors
        reason = "Validation Failed: " + "".join(f"{i}: {e};" for i, e in enumerate(errors, 1))
        super().__init__(reason)


class IndexNotFound(StrataError):
    type = "index_not_found_exception"
    status = 404

    def __init__(self, index: str, reason: str | None = None):
        super().__init__(reason or f"no such index [{index}]")
        self.metadata.update({"resource.type": "index_or_alias", "resource.id": index,
                              "index_uuid": "_na_", "index": index})


class RoutingMissing(StrataError):
    """A document of an index whose mapping says `_routing.required`, written or read
    without routing (IndexRouting.checkRoutingRequired); `index` is the concrete index."""

    type = "routing_missing_exception"
    status = 400

    def __init__(self, index: str, id: str):
        super().__init__(f"routing is required for [{index}]/[{id}]", index_uuid="_na_", index=index)
        self.index = index


class IndexClosed(StrataError):
    """A read or write of a closed index (Elasticsearch's IndexClosedException)."""

    type = "index_closed_exception"
    status = 400

    def __init__(self, index: str, uuid: str):
        super().__init__("closed")
        self.metadata.update({"index_uuid": uuid, "index": index})


class ResourceAlreadyExists(StrataError):
    type = "resource_already_exists_exception"
    status = 400


class InvalidIndexName(StrataError):
    type = "invalid_index_name_exception"
    status = 400

    def __init__(self, index: str, why: str):
        super().__init__(f"Invalid index name [{index}], {why}")
        self.metadata.update({"index_uuid": "_na_", "index": index})


class VersionConflict(StrataError):
    type = "version_conflict_engine_exception"
    status = 409


class DocumentMissing(StrataError):
    type = "document_missing_exception"
    status = 404


class DocumentSourceMissing(StrataError):
    type = "document_source_missing_exception"
    status = 400


class UnavailableShards(StrataError):
    type = "unavailable_shards_exception"
    status = 503


class ShardFailed(StrataError):
    type = "shard_not_available_exception"
    status = 503


class ContentTooLong(StrataError):
    type = "content_too_long_exception"
    status = 413


class TaskCancelled(StrataError):
    type = "task_cancelled_exception"
    status = 400


class SettingsError(StrataError):
    type = "settings_exception"
    status = 400


class TranslogCorrupted(StrataError):
    type = "translog_corrupted_exception"
    status = 500


class NodeClosed(StrataError):
    type = "node_closed_exception"
    status = 500


class NotMasterError(StrataError):
    """This node is not (or no longer) the elected master (ES's NotMasterException)."""

    type = "not_master_exception"
    status = 503


class MasterNotDiscovered(StrataError):
    type = "master_not_discovered_exception"
    status = 503


class FailedToCommitClusterState(StrataError):
    type = "failed_to_commit_cluster_state_exception"
    status = 503


class IncompatibleClusterStateVersion(StrataError):
    type = "incompatible_cluster_state_version_exception"
    status = 500


class ClusterBlockError(StrataError):
    type = "cluster_block_exception"
    status = 503


class ShardNotFound(StrataError):
    """A shard request reached a node that does not hold the shard (yet, or any more):
    the coordinating step retries once its cluster state moves on."""

    type = "shard_not_found_exception"
    status = 404

    def __init__(self, index: str, index_uuid: str, shard: int, reason: str = "no such shard"):
        super().__init__(reason, index_uuid=index_uuid, shard=str(shard), index=index)


class NoShardAvailable(StrataError):
    type = "no_shard_available_action_exception"
    status = 503
