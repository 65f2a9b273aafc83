"""`GET|POST /_analyze` and `/{index}/_analyze` (RestAnalyzeAction).

The body is read as Elasticsearch's `analyze_request` ObjectParser reads it: `text` (a
string or an array), `analyzer`, `tokenizer` (a name or an inline definition), `filter`
and `char_filter` (arrays of names or definitions), `field`, `normalizer`, `explain` and
`attributes`. A field it does not know, or a value of the wrong kind, is an
x_content_parse_exception located at the field. The request is then validated (`text is
missing`, ...) before the index is looked up, as TransportAction validates before it runs.

`field` analyses as the index's mapping says: a text field with its analyzer, a keyword
field as one token (through its normalizer, if it has one), a field that is not mapped
with the index's default analyzer; other field types are refused, as Elasticsearch
refuses them.
"""

from __future__ import annotations

from typing import Any

from ..common.errors import IllegalArgument, ParseError, StrataError, XContentParseError
from ..common.xcontent import ObjectFields, scalar_text, token_name
from ..index.analysis import (
    Analyzer,
    AnalyzeRequest,
    IndexAnalyzers,
    analyze,
    global_analyzer,
    index_analyzers,
)
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
            c.register(method, "/_analyze", self.analyze, ("index",), rest_task="indices:admin/analyze")
            c.register(method, "/{index}/_analyze", self.analyze, ("index",),
                       rest_task="indices:admin/analyze")

    async def analyze(self, request: RestRequest) -> RestResponse:
        spec = parse_analyze_body(request.body)
        index_name = request.param("index")
        spec.validate(has_index=index_name is not None)
        if index_name is None:
            return RestResponse(200, analyze(spec, None))
        # The cluster state's metadata: any node analyses for any index, copy or not (an
        # alias of one index stands for it).
        metadata, _ = self.node.indices.single_index_target(index_name, None)
        index = index_analyzers(metadata.settings, metadata.name)
        mapping = self.node.indices.mapping(metadata.name)
        return RestResponse(200, analyze(spec, index, field_analyzer=lambda path: _field_analyzer(
            mapping.field(path), path, index)))


def _field_analyzer(mapper, path: str, index: IndexAnalyzers) -> Analyzer | None:
    """The analyzer a mapped field indexes with (TransportAnalyzeAction: a StringFieldType's
    index analyzer); None for a field that is not mapped."""
    if mapper is None:
        return None
    if mapper.type_name in ("text", "match_only_text"):
        return index.default if mapper.analyzer == "default" else index.analyzer(mapper.analyzer)
    if mapper.type_name == "keyword":
        return index.normalizer(mapper.normalizer) if mapper.normalizer else global_analyzer("keyword")
    raise IllegalArgument(f"Can't process field [{path}], Analysis requests are only supported on tokenized "
                          "fields")


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
