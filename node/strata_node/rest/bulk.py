"""`POST /_bulk`: newline-delimited action and source lines (BulkRequestParser).

What Elasticsearch refuses while parsing fails the whole request: a malformed action or
update line, a value that cannot be read, a missing final newline, and any item that
does not validate (action_request_validation_exception listing every item's problems).
Nothing of such a request is applied. What Elasticsearch finds later, item by item (a
document that does not parse, a bad index name, an empty id), fails only that item.

Positions in parse errors of action and update lines are lines of the whole body, which
is what a client needs to find the culprit; document errors are located within the
document, as Elasticsearch locates them.
"""

from __future__ import annotations

from typing import Any

from ..action.bulk import BulkItem, names_pipeline
from ..action.source_filter import check_fetch_source
from ..action.update import as_int, as_long, parse_update_body
from ..action.write_actions import BULK, BulkRequest, BulkResponse, WriteRequestOptions
from ..common.errors import ActionRequestValidation, IllegalArgument, ParseError, StrataError
from ..common.ids import time_based_id
from ..common.xcontent import loads, token_name
from ..common.xcontent import scalar_text as _text
from ..index.names import validate_index_name
from .controller import RestController, RestResponse
from .request import RestRequest, source_from_params
from .write_params import (
    check_cas_values,
    check_id_not_empty,
    check_source,
    parse_version_type,
    validation_errors,
    write_options,
)

ACTIONS = ("index", "create", "update", "delete")
TEXT_FIELDS = {"_index", "_id", "routing", "op_type", "pipeline", "version_type"}
LONG_FIELDS = {"version", "if_seq_no", "if_primary_term"}
INT_FIELDS = {"retry_on_conflict"}
BOOLEAN_FIELDS = {"require_alias", "require_data_stream", "list_executed_pipelines"}
OBJECT_FIELDS = {"_source", "dynamic_templates"}
KNOWN_FIELDS = TEXT_FIELDS | LONG_FIELDS | INT_FIELDS | BOOLEAN_FIELDS | OBJECT_FIELDS
SIMPLE_FIELDS = frozenset({"_index", "_id"})
BULK_PARAMS = ("routing", "refresh", "timeout", "wait_for_active_shards", "pipeline", "require_alias",
               "_source", "_source_includes", "_source_excludes", "list_executed_pipelines")


def _malformed(number: int, what: str) -> IllegalArgument:
    return IllegalArgument(f"Malformed action/metadata line [{number}], {what}")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise IllegalArgument(f"Failed to parse value [{_text(value)}] as only [true] or [false] are allowed.")


# Action lines without metadata, what clients that let the node pick ids send for every
# document: recognised by their bytes, without a JSON parse.
BARE_ACTIONS = {b'{"index":{}}': "index", b'{"create":{}}': "create",
                b'{"index": {}}': "index", b'{"create": {}}': "create"}


def parse_action_line(line: bytes, number: int) -> tuple[str, dict[str, Any]]:
    """The action and its metadata, with null values dropped (Elasticsearch skips them)."""
    action = BARE_ACTIONS.get(line)
    if action is not None:
        return action, {}
    value = loads(line, line_offset=number - 1)
    if not isinstance(value, dict):
        raise _malformed(number, f"expected START_OBJECT but found [{token_name(value)}]")
    if not value:
        raise _malformed(number, "expected FIELD_NAME but found [END_OBJECT]")
    action, meta = next(iter(value.items()))
    if len(value) == 1 and action in ACTIONS and meta.__class__ is dict and meta.keys() <= SIMPLE_FIELDS \
            and all(v.__class__ is str for v in meta.values()):
        return action, meta  # the common line: `{"index": {"_index": "x", "_id": "1"}}` or less
    if action not in ACTIONS:
        raise _malformed(number, "expected field [create], [delete], [index] or [update] "
                                 f"but found [{action}]")
    if not isinstance(meta, dict):
        raise _malformed(number, f"expected START_OBJECT or END_OBJECT but found [{token_name(meta)}]")
    for key, v in meta.items():
        if isinstance(v, list) or (isinstance(v, dict) and key not in OBJECT_FIELDS):
            raise _malformed(number, f"expected a simple value for field [{key}] but found [{token_name(v)}]")
        if v is not None and not isinstance(v, dict) and key not in KNOWN_FIELDS:
            raise IllegalArgument(f"Action/metadata line [{number}] contains an unknown parameter [{key}]")
    if len(value) > 1:
        # Elasticsearch 8 ignores further keys with a deprecation warning; 9 refuses them, as here.
        raise _malformed(number, "expected END_OBJECT but found [FIELD_NAME]")
    return action, {k: v for k, v in meta.items() if v is not None}


def _item(action: str, meta: dict[str, Any], defaults: dict[str, Any]) -> BulkItem:
    if meta.keys() <= SIMPLE_FIELDS and all(v.__class__ is str for v in meta.values()):
        # nothing to convert or check beyond the defaults (a number or boolean `_id` or
        # `_index` is read as its text below)
        return BulkItem(action, meta.get("_index", defaults["index"]), meta.get("_id"),
                        routing=defaults["routing"], require_alias=defaults["require_alias"])
    item = BulkItem(action=action, index=_text(meta["_index"]) if "_index" in meta else defaults["index"],
                    id=_text(meta["_id"]) if "_id" in meta else None)
    item.routing = _text(meta["routing"]) if "routing" in meta else defaults["routing"]
    item.version_type = parse_version_type(_text(meta["version_type"]) if "version_type" in meta else None)
    # BulkRequestParser reads these with longValue() and retry_on_conflict with intValue(),
    # coercing (7.5 and "7.5" are 7)
    longs = {key: as_long(meta[key]) for key in LONG_FIELDS if key in meta}
    item.version = longs.get("version", item.version)
    item.if_seq_no = longs.get("if_seq_no", item.if_seq_no)
    item.if_primary_term = longs.get("if_primary_term", item.if_primary_term)
    item.retry_on_conflict = as_int(meta["retry_on_conflict"]) if "retry_on_conflict" in meta else 0
    check_cas_values(item.if_seq_no, item.if_primary_term)
    item.require_alias = _boolean(meta["require_alias"]) if "require_alias" in meta \
        else defaults["require_alias"]
    for key in BOOLEAN_FIELDS - {"require_alias"}:
        if key in meta:
            _boolean(meta[key])
    if "_source" in meta:
        check_fetch_source(meta["_source"])
    if action == "index" and _text(meta.get("op_type", "index")) == "create":
        item.action = "create"
    if action == "update" and ("version" in meta or item.version_type != "internal"):
        raise IllegalArgument("Update requests do not support versioning. "
                              "Please use `if_seq_no` and `if_primary_term` instead")
    return item


def _check_pipeline(item: BulkItem, meta: dict[str, Any], default_pipeline: str | None) -> None:
    """An item's own `pipeline` wins over the request's, which only index and create items
    take (BulkRequestParser). A named pipeline fails its item, as IngestService fails an
    item whose pipeline does not exist; `_none` asks for none, so the item is indexed."""
    if item.error is not None:
        return
    if "pipeline" in meta:
        pipeline = _text(meta["pipeline"])
    elif item.action in ("index", "create"):
        pipeline = default_pipeline
    else:
        return
    if names_pipeline(pipeline):
        item.error = IllegalArgument(f"pipeline with id [{pipeline}] does not exist")


def parse_bulk(body: bytes, default_index: str | None, default_routing: str | None,
               default_require_alias: bool, default_pipeline: str | None = None) -> list[BulkItem]:
    if not body:
        raise ParseError("request body is required")
    *lines, tail = body.split(b"\n")
    defaults = {"index": default_index, "routing": default_routing, "require_alias": default_require_alias}
    items: list[BulkItem] = []
    valid_names: set[str] = set()
    n = 0
    while n < len(lines):
        line = lines[n]
        n += 1
        if not line or line.isspace():
            continue
        action, meta = parse_action_line(line, n)
        item = _item(action, meta, defaults)
        _check_pipeline(item, meta, default_pipeline)
        if action != "delete":
            if n >= len(lines):
                if tail:
                    break  # the document line is there, but unterminated
                raise _malformed(n, f"the [{action}] action requires a document on the following line")
            source = lines[n].removesuffix(b"\r")
            n += 1
            if action == "update":
                _read_update(item, source, n, meta)
            else:
                item.source = source.strip()
                _check_item_source(item, source)
        if item.error is None:
            try:
                check_id_not_empty(item)
                if item.index is not None and item.index not in valid_names:
                    validate_index_name(item.index)
                    valid_names.add(item.index)
            except StrataError as e:
                item.error = e
        items.append(item)
    if tail:
        raise IllegalArgument("The bulk request must be terminated by a newline [\\n]")
    errors = [error for item in items for error in validation_errors(item)]
    if not items:
        errors.append("no requests added")
    if errors:
        raise ActionRequestValidation(errors)
    return items


def _read_update(item: BulkItem, source: bytes, number: int, meta: dict[str, Any]) -> None:
    spec = parse_update_body(source, line_offset=number - 1)
    if spec.fetch_source is None and "_source" in meta:
        spec.fetch_source = meta["_source"]
    if spec.if_seq_no is not None:
        item.if_seq_no = spec.if_seq_no
    if spec.if_primary_term is not None:
        item.if_primary_term = spec.if_primary_term
    check_cas_values(item.if_seq_no, item.if_primary_term)
    item.update = spec


def _check_item_source(item: BulkItem, source: bytes) -> None:
    """A document that does not parse fails its own item, under the id it would have had."""
    if item.error is not None:
        return
    try:
        item.document = check_source(source)
    except StrataError as e:
        item.error = e
        if item.id is None:
            item.id, item.auto_id = time_based_id(), True


class BulkHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for method in ("POST", "PUT"):
            c.register(method, "/_bulk", self.bulk, BULK_PARAMS, action=BULK)
            c.register(method, "/{index}/_bulk", self.bulk, BULK_PARAMS, action=BULK)

    async def bulk(self, request: RestRequest) -> RestResponse:
        options = write_options(request)
        items = parse_bulk(request.body, request.param("index"), request.param("routing"),
                           request.bool_param("require_alias"), options.pipeline)
        options.pipeline = None  # the items took it: a pipeline fails them one by one
        fetch = source_from_params(request)
        for item in items:
            if item.update is not None and item.update.fetch_source is None:
                item.update.fetch_source = fetch
        response: BulkResponse = await self.node.client.execute(
            BULK, BulkRequest(options=WriteRequestOptions.of(options), local_items=items))
        return RestResponse(200, {"errors": response.errors, "took": response.took, "items": response.items})
