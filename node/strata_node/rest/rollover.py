"""`POST /{alias}/_rollover[/{new_index}]` (Elasticsearch's RestRolloverIndexAction): the
body read as RolloverRequest reads it, the rollover done by `indices:admin/rollover`
(action/rollover.py), the answer shaped as RolloverResponse prints it."""

from __future__ import annotations

from typing import Any

import orjson

from ..action.master import DEFAULT_MASTER_TIMEOUT
from ..action.rollover import ROLLOVER, RolloverRequest, RolloverResponse
from ..action.update import as_long
from ..common.errors import ParseError, StrataError, XContentParseError
from ..common.units import parse_bytes, parse_time
from ..common.xcontent import ObjectFields, field_locations, token_name
from ..index.rollover import AGE, CONDITIONS, DOCS, Condition, validate_conditions
from .controller import RestController, RestResponse
from .indices import active_shards_param
from .request import RestRequest

ROLLOVER_PARAMS = ("dry_run", "lazy", "wait_for_active_shards", "timeout", "master_timeout")
BODY_FIELDS = {"conditions": ("START_OBJECT",), "settings": ("START_OBJECT",), "mappings": ("START_OBJECT",),
               "aliases": ("START_OBJECT",)}
# RolloverConditions.PARSER: ages and sizes are strings, document counts longs (which
# XContentParser also reads from strings).
CONDITION_TOKENS = {AGE: ("VALUE_STRING",), DOCS: ("VALUE_NUMBER", "VALUE_STRING")}


class RolloverHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for path in ("/{index}/_rollover", "/{index}/_rollover/{new_index}"):
            c.register("POST", path, self.rollover, ROLLOVER_PARAMS, action=ROLLOVER)

    async def rollover(self, request: RestRequest) -> RestResponse:
        conditions, create = parse_rollover_body(request.body) if request.has_body else ([], {})
        validate_conditions(conditions)
        response: RolloverResponse = await self.node.client.execute(ROLLOVER, RolloverRequest(
            target=request.param("index"), new_index=request.param("new_index"),
            create_body=orjson.dumps(create), conditions=conditions, dry_run=request.bool_param("dry_run"),
            lazy=request.bool_param("lazy"), wait_for_active_shards=active_shards_param(request),
            ack_timeout=request.time_param("timeout", 30.0),
            master_timeout=request.time_param("master_timeout", DEFAULT_MASTER_TIMEOUT)))
        return RestResponse(200, render_rollover(response))


def render_rollover(response: RolloverResponse) -> dict[str, Any]:
    """RolloverResponse.toXContent, in its field order."""
    return {"acknowledged": response.acknowledged, "shards_acknowledged": response.shards_acknowledged,
            "old_index": response.old_index, "new_index": response.new_index,
            "rolled_over": response.rolled_over, "dry_run": response.dry_run, "lazy": response.lazy,
            "conditions": dict(response.conditions)}


def parse_rollover_body(raw: bytes) -> tuple[list[Condition], dict[str, Any]]:
    """RolloverRequest's PARSER: `conditions` and the new index's `settings`, `mappings`
    and `aliases` (a create-index body, validated as index creation validates one when the
    index is made). Faults are x_content_parse_exceptions naming the parser and located
    where they are; a condition's is wrapped in `[rollover] failed to parse field
    [conditions]`, as ObjectParser nests a field's failure."""
    body = ObjectFields("rollover", raw, BODY_FIELDS)
    conditions: list[Condition] = []
    create: dict[str, Any] = {}
    for key, value in body.items():
        if key != "conditions":
            create[key] = value
            continue
        try:
            conditions = parse_conditions(raw, value)
        except XContentParseError as e:
            raise body.fail(key, f"failed to parse field [{key}]", cause=e) from None
    return conditions, create


def parse_conditions(raw: bytes, conditions: dict[str, Any]) -> list[Condition]:
    """RolloverConditions.PARSER over the body's `conditions` object. Its fields are
    located in the body's own lines and columns: the text before the object is blanked
    (newlines kept), so the scan of top-level fields sees it as the outermost object."""
    text = raw.decode("utf-8", "replace")
    (_, (line, column)) = field_locations(text)["conditions"]
    start = sum(len(part) + 1 for part in text.split("\n")[:line - 1]) + column - 1
    where = field_locations("".join(c if c == "\n" else " " for c in text[:start]) + text[start:])
    out = []
    for key, value in conditions.items():
        (name_at, value_at) = where[key]
        kind = CONDITIONS.get(key)
        if kind is None:
            raise XContentParseError(f"[rollover_conditions] unknown field [{key}]", line=name_at[0],
                                     column=name_at[1])
        accepted = CONDITION_TOKENS.get(kind, ("VALUE_STRING",))
        if token_name(value) not in accepted:
            raise XContentParseError(f"[rollover_conditions] {key} doesn't support values of type: "
                                     f"{token_name(value)}", line=value_at[0], column=value_at[1])
        try:
            out.append(Condition(name=key, value=condition_value(key, kind, value)))
        except StrataError as e:
            raise XContentParseError(f"[rollover_conditions] failed to parse field [{key}]", line=value_at[0],
                                     column=value_at[1], caused_by=e) from None
    return out


def condition_value(name: str, kind: str, value: Any) -> float:
    """TimeValue.parseTimeValue (milliseconds) and ByteSizeValue.parseBytesSizeValue
    (bytes), both a parse_exception when they fail, or XContentParser.longValue."""
    if kind == DOCS:
        return float(as_long(value))
    try:
        return parse_time(value, name) * 1000 if kind == AGE else float(parse_bytes(value, name))
    except ValueError as e:
        raise ParseError(str(e)) from None
