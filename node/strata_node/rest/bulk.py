"""`POST /_bulk`: newline-delimited action and source lines (BulkRequestParser).

A malformed action line fails the whole request, since nothing after it can be trusted;
a bad document fails only its own item, as in Elasticsearch."""

from __future__ import annotations

import time
from typing import Any

from ..action.bulk import BulkItem, item_to_json
from ..action.update import parse_update_body
from ..common.errors import (
    ActionRequestValidation,
    IllegalArgument,
    JsonParseError,
    StrataError,
    XContentParseError,
)
from ..common.xcontent import loads
from ..engine.engine import MATCH_ANY, UNASSIGNED_SEQ_NO
from ..index.names import validate_index_name
from .controller import RestController, RestResponse
from .request import RestRequest
from .write_params import check_source, parse_long, validate_item, write_options

ACTIONS = ("index", "create", "update", "delete")
METADATA = {"_index", "_id", "routing", "if_seq_no", "if_primary_term", "version", "version_type",
            "op_type", "pipeline", "require_alias", "retry_on_conflict", "_source", "dynamic_templates",
            "require_data_stream", "list_executed_pipelines"}
BULK_PARAMS = ("routing", "refresh", "timeout", "wait_for_active_shards", "pipeline", "require_alias",
               "_source", "_source_includes", "_source_excludes", "list_executed_pipelines")


def _action_line(line: bytes, number: int) -> tuple[str, dict[str, Any]]:
    try:
        value = loads(line, line_offset=number - 1)
    except JsonParseError as e:
        raise XContentParseError(f"[{number}:1] Malformed action/metadata line [{number}]",
                                 caused_by=e) from None
    if not isinstance(value, dict):
        raise IllegalArgument(f"Malformed action/metadata line [{number}], expected START_OBJECT or "
                              f"END_OBJECT but found [{_token(value)}]")
    if len(value) != 1:
        raise IllegalArgument(f"Malformed action/metadata line [{number}], expected a single action, "
                              f"found [{len(value)}]")
    [(action, meta)] = value.items()
    if action not in ACTIONS:
        raise IllegalArgument(f"Malformed action/metadata line [{number}], expected field [create], "
                              f"[delete], [index] or [update] but found [{action}]")
    if not isinstance(meta, dict):
        raise IllegalArgument(f"Malformed action/metadata line [{number}], expected START_OBJECT but "
                              f"found [{_token(meta)}]")
    for key, v in meta.items():
        if key not in METADATA:
            raise IllegalArgument(f"Action/metadata line [{number}] contains an unknown parameter [{key}]")
        if isinstance(v, dict | list) and key not in ("_source", "dynamic_templates"):
            raise IllegalArgument(f"Malformed action/metadata line [{number}], expected a simple value "
                                  f"for field [{key}] but found [{_token(v)}]")
    return action, meta


def _token(value: Any) -> str:
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, str):
        return "VALUE_STRING"
    if value is None:
        return "VALUE_NULL"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    return "VALUE_NUMBER"


def parse_bulk(body: bytes, default_index: str | None, default_routing: str | None,
               default_require_alias: bool) -> list[BulkItem]:
    if not body.strip():
        raise ActionRequestValidation(["no requests added"])
    if not body.endswith(b"\n"):
        raise IllegalArgument("The bulk request must be terminated by a newline [\\n]")
    lines = body.split(b"\n")
    items: list[BulkItem] = []
    missing_index: list[str] = []
    n = 0
    while n < len(lines):
        line = lines[n]
        n += 1
        if not line.strip():
            continue
        action, meta = _action_line(line, n)
        item = BulkItem(action=action, index=meta.get("_index", default_index), id=None)
        try:
            if "_id" in meta:
                item.id = str(meta["_id"]) if meta["_id"] is not None else None
            item.routing = meta.get("routing", default_routing)
            if item.routing is not None:
                item.routing = str(item.routing)
            if action == "index" and meta.get("op_type") == "create":
                item.action = "create"
            item.if_seq_no = parse_long("if_seq_no", meta.get("if_seq_no", UNASSIGNED_SEQ_NO))
            item.if_primary_term = parse_long("if_primary_term", meta.get("if_primary_term", 0))
            item.version = parse_long("version", meta.get("version", MATCH_ANY))
            item.version_type = str(meta.get("version_type", "internal"))
            item.retry_on_conflict = parse_long("retry_on_conflict", meta.get("retry_on_conflict", 0))
            item.require_alias = bool(meta.get("require_alias", default_require_alias))
            if meta.get("pipeline"):
                raise IllegalArgument(f"pipeline with id [{meta['pipeline']}] does not exist")
        except StrataError as e:
            item.error = e
        if item.index is None:
            missing_index.append("index is missing")
        if action != "delete":
            if n >= len(lines) or (n == len(lines) - 1 and not lines[n]):
                raise IllegalArgument(f"Malformed action/metadata line [{n}], the [{action}] action "
                                      "requires a document on the following line")
            source = lines[n]
            n += 1
            if action == "update":
                try:
                    spec_body = loads(source, line_offset=n - 1)
                except JsonParseError as e:
                    raise XContentParseError(f"[{n}:1] Malformed update request on line [{n}]",
                                             caused_by=e) from None
                try:
                    item.update = parse_update_body(spec_body)
                    if "_source" in meta and item.update.fetch_source is None:
                        item.update.fetch_source = meta["_source"]
                except StrataError as e:
                    item.error = item.error or e
            else:
                item.source = source.strip()
                if item.error is None:
                    try:
                        check_source(item.source, n)
                    except StrataError as e:
                        item.error = e
        if item.error is None:
            try:
                validate_item(item)
                if item.index is not None:
                    validate_index_name(item.index)
            except StrataError as e:
                item.error = e
        items.append(item)
    if missing_index:
        raise ActionRequestValidation(missing_index)
    return items


class BulkHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for method in ("POST", "PUT"):
            c.register(method, "/_bulk", self.bulk, BULK_PARAMS)
            c.register(method, "/{index}/_bulk", self.bulk, BULK_PARAMS)

    async def bulk(self, request: RestRequest) -> RestResponse:
        start = time.monotonic()
        options = write_options(request)
        items = parse_bulk(request.body, request.param("index"), request.param("routing"),
                           request.bool_param("require_alias"))
        responses = await self.node.bulk.execute(items, options)
        rendered = [item_to_json(r) for r in responses]
        errors = any(r.error is not None for r in responses)
        return RestResponse(200, {"errors": errors, "took": int((time.monotonic() - start) * 1000),
                                  "items": rendered})
