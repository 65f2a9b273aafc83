"""`GET|POST /_analyze` and `/{index}/_analyze` (RestAnalyzeAction).

The body is read as Elasticsearch's `analyze_request` ObjectParser reads it: `text` (a
string or an array), `analyzer`, `tokenizer` (a name or an inline definition), `filter`
and `char_filter` (arrays of names or definitions), `field`, `normalizer`, `explain` and
`attributes`. A field it does not know, or a value of the wrong kind, is an
x_content_parse_exception located at the field. The request is then validated (`text is
missing`, ...) before the index is looked up, as TransportAction validates before it runs.

The analysis itself is `indices:admin/analyze` (action/analyze_action.py).
"""

from __future__ import annotations

from typing import Any

from ..action.analyze_action import ANALYZE, AnalyzeActionRequest, AnalyzeActionResponse
from ..common.errors import IllegalArgument, ParseError, StrataError, XContentParseError
from ..common.xcontent import ObjectFields, scalar_text, token_name
from ..index.analysis import AnalyzeRequest
from .controller import RestController, RestResponse
from .request import RestRequest

PARSER_NAME = "analyze_request"
# The fields of AnalyzeAction.Request's ObjectParser and the tokens each accepts.
_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("START_ARRAY", "VALUE_STRING"),
    "analyzer": ("VALUE_STRING",),
    "tokenizer": ("START_OBJECT", "VALUE_STRING"),
    "filter": ("START_OBJECT", "START_ARRAY"),
    "char_filter": ("START_OBJECT", "START_ARRAY"),
    "field": ("VALUE_STRING",),
    "explain": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "attributes": ("START_ARRAY", "VALUE_STRING"),
    "normalizer": ("VALUE_STRING",),
}


class AnalyzeHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        for method in ("GET", "POST"):
            c.register(method, "/_analyze", self.analyze, ("index",), action=ANALYZE)
            c.register(method, "/{index}/_analyze", self.analyze, ("index",),
                       action=ANALYZE)

    async def analyze(self, request: RestRequest) -> RestResponse:
        spec = parse_analyze_body(request.body)
        index = request.param("index")
        response: AnalyzeActionResponse = await self.node.client.execute(
            ANALYZE, AnalyzeActionRequest(spec=spec, index=index))
        return RestResponse(200, response.body)


def parse_analyze_body(raw: bytes) -> AnalyzeRequest:
    if not raw.strip():
        raise ParseError("request body or source parameter is required")
    body = ObjectFields(PARSER_NAME, raw, _FIELDS)
    fail = body.fail
    spec = AnalyzeRequest()
    for key, value in body.items():
        try:
            if key in ("text", "attributes"):
                setattr(spec, key, _strings(value))
            elif key in ("filter", "char_filter"):
                components = [_name_or_definition(v) for v in (value if isinstance(value, list) else [value])]
                setattr(spec, "filters" if key == "filter" else "char_filters", components)
            elif key == "explain":
                spec.explain = _boolean(value)
            else:
                setattr(spec, key, value)
        except StrataError as e:
            raise fail(key, f"failed to parse field [{key}]", cause=e) from None
    return spec


def _strings(value: Any) -> list[str]:
    """A string array: one string, or an array of values read as text."""
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, dict | list) or v is None:
            raise IllegalArgument(f"Can't get text on a {token_name(v)}")
    return [scalar_text(v) for v in values]


def _name_or_definition(value: Any) -> str | dict[str, Any]:
    """NameOrDefinition.fromXContent: a component's name, or its definition."""
    if isinstance(value, str | dict):
        return value
    raise XContentParseError(f"Expected [VALUE_STRING] or [START_OBJECT], got {token_name(value)}")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise IllegalArgument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")
