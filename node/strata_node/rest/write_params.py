"""Validation shared by single-document writes and bulk items: ids, versions,
compare-and-set and the refresh policy.

Elasticsearch splits these checks in two, and so does this module. Values that cannot
even be read (a version type that does not exist, a negative sequence number) fail while
the request is parsed. Everything else is collected, item by item, into one
action_request_validation_exception (IndexRequest.validate, DeleteRequest.validate,
UpdateRequest.validate), which fails the whole request, a bulk included: nothing of a
request that does not validate is applied.
"""

from __future__ import annotations

from typing import Any

from ..action.bulk import BulkItem, WriteOptions
from ..common.errors import (
    ActionRequestValidation,
    IllegalArgument,
    MapperParsingError,
    NumberFormatError,
    XContentParseError,
)
from ..common.units import java_long
from ..common.xcontent import loads
from ..engine.engine import MATCH_ANY, UNASSIGNED_SEQ_NO
from .request import RestRequest

MAX_ID_BYTES = 512
# The names VersionType.fromString reads, and the version type each is: `external_gt` is
# another name of `external`.
VERSION_TYPES = {"internal": "internal", "external": "external", "external_gt": "external",
                 "external_gte": "external_gte"}


def parse_long(name: str, value: Any) -> int:
    """A long request parameter (RestRequest.paramAsLong: Long.parseLong, so no spaces,
    no underscores, and nothing beyond the range of a Java long)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = java_long(str(value))
    if number is not None:
        return number
    raise IllegalArgument(f"Failed to parse long parameter [{name}] with value [{value}]",
                          caused_by=NumberFormatError(f'For input string: "{value}"'))


def parse_version_type(value: str | None) -> str:
    if value is None:
        return "internal"
    version_type = VERSION_TYPES.get(value)
    if version_type is None:
        raise IllegalArgument(f"No version type match [{value}]")
    return version_type


def check_cas_values(if_seq_no: int, if_primary_term: int) -> None:
    """The setters' checks (setIfSeqNo, setIfPrimaryTerm): these fail at parse time."""
    if if_seq_no < 0 and if_seq_no != UNASSIGNED_SEQ_NO:
        raise IllegalArgument(f"sequence numbers must be non negative. got [{if_seq_no}].")
    if if_primary_term < 0:
        raise IllegalArgument(f"primary term must be non negative. got [{if_primary_term}].")


def validation_errors(item: BulkItem) -> list[str]:
    """What Elasticsearch's validate() of the item's request reports, in its order."""
    if item.id is None and item.action == "index" and item.index is not None \
            and item.version == MATCH_ANY and item.version_type == "internal" \
            and item.if_seq_no == UNASSIGNED_SEQ_NO and item.if_primary_term == 0:
        return []  # a plain index request with a generated id: nothing below can apply
    errors: list[str] = []
    if item.index is None:
        errors.append("index is missing")
    if item.action in ("index", "create"):
        if item.action == "create":
            if item.version_type != "internal":
                return [*errors, "create operations only support internal versioning. use index instead"]
            if item.version != MATCH_ANY:
                return [*errors, "create operations do not support explicit versions. use index instead"]
            if item.if_seq_no != UNASSIGNED_SEQ_NO or item.if_primary_term != 0:
                return [*errors, "create operations do not support compare and set. use index instead"]
        if item.id is None and (item.version_type != "internal" or item.version != MATCH_ANY):
            errors.append("an id must be provided if version type or value are set")
        errors += _cas_errors(item)
        errors += _id_length_errors(item.id)
    elif item.action == "delete":
        if not item.id:
            errors.append("id is missing")
        errors += _cas_errors(item)
        errors += _id_length_errors(item.id)
    else:
        spec = item.update
        if not item.id:
            errors.append("id is missing")
        errors += _cas_errors(item)
        if item.if_seq_no != UNASSIGNED_SEQ_NO:
            if item.retry_on_conflict > 0:
                errors.append("compare and write operations can not be retried")
            if spec is not None and spec.doc_as_upsert:
                errors.append("compare and write operations can not be used with upsert")
            if spec is not None and spec.upsert is not None:
                errors.append("upsert requests don't support `if_seq_no` and `if_primary_term`")
        if spec is None or spec.doc is None:
            errors.append("script or doc is missing")
        if spec is not None and spec.doc is None and spec.doc_as_upsert:
            errors.append("doc must be specified if doc_as_upsert is enabled")
    return errors


def _cas_errors(item: BulkItem) -> list[str]:
    """DocWriteRequest.validateSeqNoBasedCASParams."""
    errors = []
    version, version_type = item.version, item.version_type
    valid = version >= 0 if version_type != "internal" else (version > 0 or version == MATCH_ANY)
    if not valid:
        errors.append(f"illegal version value [{version}] for version type [{version_type.upper()}]")
    if version_type == "internal" and version != MATCH_ANY:
        errors.append("internal versioning can not be used for optimistic concurrency control. "
                      "Please use `if_seq_no` and `if_primary_term` instead")
    if item.if_seq_no != UNASSIGNED_SEQ_NO and (version_type != "internal" or version != MATCH_ANY):
        errors.append("compare and write operations can not use versioning")
    if item.if_primary_term == 0 and item.if_seq_no != UNASSIGNED_SEQ_NO:
        errors.append("ifSeqNo is set, but primary term is [0]")
    if item.if_primary_term != 0 and item.if_seq_no == UNASSIGNED_SEQ_NO:
        errors.append(f"ifSeqNo is unassigned, but primary term is [{item.if_primary_term}]")
    return errors


def read_version_errors(version: int, version_type: str) -> list[str]:
    """What GetRequest.validate says of a get's version (VersionType.validateVersionForReads):
    internal versions are positive, external ones at least 0, and -3 (MATCH_ANY) is any."""
    valid = version == MATCH_ANY or (version > 0 if version_type == "internal" else version >= 0)
    if valid:
        return []
    return [f"illegal version value [{version}] for version type [{version_type.upper()}]"]


def _id_length_errors(id: str | None) -> list[str]:
    if id is not None and len(id.encode()) > MAX_ID_BYTES:
        return [f"id [{id}] is too long, must be no longer than {MAX_ID_BYTES} bytes but was: "
                f"{len(id.encode())}"]
    return []


def validate_item(item: BulkItem) -> None:
    errors = validation_errors(item)
    if errors:
        raise ActionRequestValidation(errors)


def check_id_not_empty(item: BulkItem) -> None:
    """An explicit empty id fails its item when it is routed (IndexRouting.process)."""
    if item.action in ("index", "create") and item.id == "":
        raise IllegalArgument("if _id is specified it must not be empty")


def check_source(source: bytes) -> dict:
    """A document must be one JSON object, or it fails with mapper_parsing_exception,
    located where parsing stopped (positions are within the document itself). Returns
    the parsed object, which the shard step maps and indexes without parsing again."""
    if not source:
        raise MapperParsingError("failed to parse, document is empty", line=0, column=0)
    if not source.strip():
        raise MapperParsingError("Malformed content, must start with an object")
    try:
        value = loads(source)
    except XContentParseError as e:
        raise MapperParsingError(f"failed to parse: {e.message}", line=e.line, column=e.column,
                                   caused_by=e) from None
    if not isinstance(value, dict):
        raise MapperParsingError("Malformed content, must start with an object")
    return value


def refresh_policy(value: str | None) -> str:
    if value is None or value == "false":
        return "false"
    if value in ("", "true"):
        return "true"
    if value == "wait_for":
        return "wait_for"
    raise IllegalArgument(f"Unknown value for refresh: [{value}].")


def write_options(request: RestRequest) -> WriteOptions:
    wait = request.param("wait_for_active_shards")  # None: the index's index.write.wait_for_active_shards
    if wait is not None and wait != "all":
        try:
            if int(wait) < 0:
                raise ValueError
        except ValueError:
            raise IllegalArgument(f"Illegal value for wait_for_active_shards: [{wait}]") from None
    return WriteOptions(refresh=refresh_policy(request.param("refresh")), wait_for_active_shards=wait,
                        timeout=request.time_param("timeout", 60.0), pipeline=request.param("pipeline"),
                        error_trace=request.error_trace)
