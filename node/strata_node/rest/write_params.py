"""Validation shared by single-document writes and bulk items (IndexRequest.validate and
friends in Elasticsearch): ids, versions, compare-and-set, the refresh policy."""

from __future__ import annotations

from typing import Any

from ..action.bulk import BulkItem, WriteOptions
from ..common.errors import (
    ActionRequestValidation,
    IllegalArgument,
    JsonParseError,
    MapperParsingError,
    ParsingError,
)
from ..common.xcontent import loads
from ..engine.engine import MATCH_ANY, UNASSIGNED_SEQ_NO
from .request import RestRequest

MAX_ID_BYTES = 512
VERSION_TYPES = ("internal", "external", "external_gte")


def parse_long(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise IllegalArgument(f"Failed to parse value [{value}] for [{name}]: expected a number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise IllegalArgument(f"Failed to parse long parameter [{name}] with value [{value}]") from None


def validate_item(item: BulkItem) -> None:
    """Raise action_request_validation_exception for what Elasticsearch refuses up front."""
    errors = []
    if item.id is not None:
        if item.id == "":
            errors.append("if _id is specified it must not be empty")
        elif len(item.id.encode()) > MAX_ID_BYTES:
            errors.append(f"id [{item.id}] is too long, must be no longer than {MAX_ID_BYTES} bytes "
                          f"but was: {len(item.id.encode())}")
    elif item.action in ("update", "delete"):
        errors.append("id is missing")
    if item.version_type not in VERSION_TYPES:
        raise IllegalArgument(f"No version type match [{item.version_type}]")
    if item.action == "create" and item.version_type != "internal":
        errors.append("create operations only support internal versioning. use index instead")
    if item.version != MATCH_ANY and item.version_type == "internal" and item.action != "create":
        errors.append("internal versioning can not be used for optimistic concurrency control. "
                      "Please use `if_seq_no` and `if_primary_term` instead")
    if item.version_type != "internal" and item.version == MATCH_ANY:
        errors.append(f"illegal version value [{item.version}] for version type [{item.version_type}]")
    if item.version_type != "internal" and item.version < 0 and item.version != MATCH_ANY:
        errors.append(f"illegal version value [{item.version}] for version type [{item.version_type}]")
    if item.if_seq_no != UNASSIGNED_SEQ_NO:
        if item.if_seq_no < 0:
            errors.append(f"ifSeqNo must be non negative but was [{item.if_seq_no}]")
        if item.if_primary_term <= 0:
            errors.append(f"ifSeqNo is set, but primary term is [{item.if_primary_term}]")
        if item.version != MATCH_ANY:
            errors.append("compare and write operations can not use versioning")
    elif item.if_primary_term != 0:
        errors.append(f"ifPrimaryTerm is set, but ifSeqNo is [{item.if_seq_no}]")
    if item.action == "update" and item.retry_on_conflict > 0 and item.if_seq_no != UNASSIGNED_SEQ_NO:
        errors.append("compare and write operations can not be retried")
    if item.action == "update" and item.version != MATCH_ANY:
        errors.append("can't provide version in update request.")
    if errors:
        raise ActionRequestValidation(errors)


def check_source(source: bytes, line: int | None = None) -> None:
    """A document must be one JSON object; otherwise the item fails with
    mapper_parsing_exception, as Elasticsearch fails documents it cannot parse."""
    if not source.strip():
        raise ActionRequestValidation(["source is missing"])
    try:
        value = loads(source, line_offset=(line - 1) if line else 0)
    except JsonParseError as e:
        raise MapperParsingError("failed to parse", caused_by=e) from None
    if not isinstance(value, dict):
        raise MapperParsingError("failed to parse", caused_by=ParsingError(
            "Malformed content, must start with an object"))


def refresh_policy(value: str | None) -> str:
    if value is None or value == "false":
        return "false"
    if value in ("", "true"):
        return "true"
    if value == "wait_for":
        return "wait_for"
    raise IllegalArgument(f"Unknown value for refresh: [{value}].")


def write_options(request: RestRequest) -> WriteOptions:
    wait = request.param("wait_for_active_shards", "1")
    if wait != "all":
        try:
            if int(wait) < 0:
                raise ValueError
        except ValueError:
            raise IllegalArgument(f"Illegal value for wait_for_active_shards: [{wait}]") from None
    return WriteOptions(refresh=refresh_policy(request.param("refresh")), wait_for_active_shards=wait,
                        timeout=request.time_param("timeout", 60.0), pipeline=request.param("pipeline"))
