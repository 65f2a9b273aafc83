"""The work of the `_analyze` API, as Elasticsearch's TransportAnalyzeAction does it.

Which analyzer runs: a `tokenizer` (with optional `filter`/`char_filter`) builds a custom
analyzer for the request; `filter`/`char_filter` alone build a normalizer on the keyword
tokenizer; otherwise the named `analyzer`, the named `normalizer` (index only), the
analyzer of `field`, or the default (`standard` without an index, the index's `default`
with one). With an index, names resolve to the index's own components first.

What comes back: every text's tokens in one list, positions and offsets going on from
text to text as one multi-valued field would have them (the analyzer's position gap, 100
for any named analyzer, and an offset gap of 1). Offsets are counted in UTF-16 code units,
as Java counts them, so an emoji moves later offsets by two. `explain` gives each stage's
tokens for analyzers built from components, with Lucene's extra attributes (`bytes`,
`positionLength`, `termFrequency`, narrowed by `attributes`).
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ...common.errors import ActionRequestValidation, IllegalArgument, IllegalState
from .analyzer import POSITION_INCREMENT_GAP, Analyzer, concatenate
from .filters import FILTER_TYPES, TokenFilter
from .params import Params
from .registry import CHAR_FILTER_TYPES, IndexAnalyzers, global_analyzer, global_filter, global_tokenizer
from .tokenizers import TOKENIZER_TYPES, KeywordTokenizer, Tokenizer
from .tokens import TokenList

MAX_TOKEN_COUNT = 10_000  # index.analyze.max_token_count's default

# A component named in the request, or defined inline (an object with a `type`).
NameOrDefinition = str | Mapping[str, Any]


@dataclass
class AnalyzeRequest:
    text: list[str] | None = None
    analyzer: str | None = None
    tokenizer: NameOrDefinition | None = None
    filters: list[NameOrDefinition] = dataclasses.field(default_factory=list)
    char_filters: list[NameOrDefinition] = dataclasses.field(default_factory=list)
    field: str | None = None
    explain: bool = False
    attributes: list[str] = dataclasses.field(default_factory=list)
    normalizer: str | None = None

    def validate(self, *, has_index: bool) -> None:
        """AnalyzeAction.Request.validate: every problem, in Elasticsearch's order."""
        errors = []
        if not self.text:
            errors.append("text is missing")
        if not has_index and self.normalizer is not None:
            errors.append("index is required if normalizer is specified")
        if self.normalizer is not None and (self.tokenizer is not None or self.analyzer is not None):
            errors.append("tokenizer/analyze should be null if normalizer is specified")
        extra = self.tokenizer is not None or self.char_filters or self.filters
        if self.analyzer is not None and extra:
            errors.append("cannot define extra components on a named analyzer")
        if self.normalizer is not None and extra:
            errors.append("cannot define extra components on a named normalizer")
        if self.field is not None and extra:
            errors.append("cannot define extra components on a field-specific analyzer")
        if errors:
            raise ActionRequestValidation(errors)


FieldAnalyzer = Callable[[str], Analyzer | None]


def analyze(request: AnalyzeRequest, index: IndexAnalyzers | None, *,
            field_analyzer: FieldAnalyzer | None = None,
            max_token_count: int = MAX_TOKEN_COUNT) -> dict[str, Any]:
    """The `_analyze` response body. `index` is None for the node-level API.

    `field_analyzer` gives the analyzer mapped for a field, None for a field that is not
    mapped. Until mappings resolve fields, callers pass none and a `field` request uses
    the index's default analyzer, which is also what Elasticsearch does for an unmapped
    field."""
    request.validate(has_index=index is not None)
    texts = request.text or []
    analyzer, request_built = _custom_analyzer(request, index), True
    if analyzer is None:
        analyzer, request_built = _named_analyzer(request, index, field_analyzer), False
    if request.explain:
        return {"detail": _detail(analyzer, texts, request_built, request.attributes, max_token_count)}
    tokens = _run(analyzer, texts, analyzer.position_increment_gap, max_token_count)
    return {"tokens": _tokens_json(tokens)}


def _named_analyzer(request: AnalyzeRequest, index: IndexAnalyzers | None,
                    field_analyzer: FieldAnalyzer | None) -> Analyzer:
    if request.analyzer is not None:
        if index is None:
            found = global_analyzer(request.analyzer)
            if found is None:
                raise IllegalArgument(f"failed to find global analyzer [{request.analyzer}]")
        else:
            found = index.analyzer(request.analyzer)
            if found is None:
                raise IllegalArgument(f"failed to find analyzer [{request.analyzer}]")
        return found
    if request.normalizer is not None:
        if index is None:
            raise IllegalArgument("analysis based on a normalizer requires an index")
        found = index.normalizer(request.normalizer)
        if found is None:
            raise IllegalArgument(f"failed to find normalizer under [{request.normalizer}]")
        return found
    if request.field is not None:
        if index is None:
            raise IllegalArgument("analysis based on a specific field requires an index")
        mapped = field_analyzer(request.field) if field_analyzer is not None else None
        if mapped is not None:
            return mapped
    return index.default if index is not None else global_analyzer("standard")


def _custom_analyzer(request: AnalyzeRequest, index: IndexAnalyzers | None) -> Analyzer | None:
    """AnalysisRegistry.buildCustomAnalyzer for a request naming components: Elasticsearch
    names the result `__custom__` and gives it the usual gap of 100 between texts."""
    if request.tokenizer is None and not request.filters and not request.char_filters:
        return None
    normalizer = request.tokenizer is None
    tokenizer: Tokenizer = KeywordTokenizer() if normalizer else _resolve(
        "tokenizer", request.tokenizer, index, TOKENIZER_TYPES, global_tokenizer,
        index.tokenizer if index is not None else None)
    for char_filter in request.char_filters:
        _resolve("char_filter", char_filter, index, CHAR_FILTER_TYPES, lambda name: None,
                 index.char_filter if index is not None else None)
    filters: list[TokenFilter] = []
    for definition in request.filters:
        token_filter = _resolve("filter", definition, index, FILTER_TYPES, global_filter,
                                index.filter if index is not None else None)
        if normalizer and not token_filter.normalizing:
            raise IllegalArgument(f"Custom normalizer may not use filter [{token_filter.name}]")
        filters.append(token_filter)
    return Analyzer("__custom__", tokenizer, tuple(filters), POSITION_INCREMENT_GAP, components=True)


def _resolve(kind: str, component: NameOrDefinition, index: IndexAnalyzers | None,
             types: Mapping[str, Callable[[str, Params], Any]], global_lookup: Callable[[str], Any],
             index_lookup: Callable[[str], Any] | None) -> Any:
    """AnalysisRegistry.getComponentFactory: an inline definition is built under the name
    `__anonymous__<type>`; a name is looked up in the index, or among the built-ins."""
    if isinstance(component, Mapping):
        params = Params(_flatten(component))
        type_name = params.get("type")
        if type_name is None:
            raise IllegalArgument(f"Missing [type] setting for anonymous {kind}: {params.describe()}")
        build = types.get(type_name)
        if build is None:
            raise IllegalArgument(f"failed to find global {kind} under [{type_name}]")
        return build(f"__anonymous__{type_name}", params)
    if index_lookup is None:
        found = global_lookup(component)
        if found is None:
            raise IllegalArgument(f"failed to find global {kind} under [{component}]")
        return found
    found = index_lookup(component)
    if found is None:
        raise IllegalArgument(f"failed to find {kind} under [{component}]")
    return found


def _flatten(definition: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in definition.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# -- running ---------------------------------------------------------------------------


def _utf16(text: str, tokens: TokenList) -> tuple[TokenList, int]:
    """Offsets and the text's length in UTF-16 code units, as Lucene reports them."""
    if text.isascii() or max(text) <= "\uffff":
        return tokens, len(text)
    astral = [i for i, c in enumerate(text) if c > "\uffff"]
    starts = [s + bisect_left(astral, s) for s in tokens.starts]
    ends = [e + bisect_left(astral, e) for e in tokens.ends]
    return replace(tokens, starts=starts, ends=ends), len(text) + len(astral)


def _join(texts: list[str], per_text: list[TokenList], position_gap: int, offset_gap: int,
          max_token_count: int) -> TokenList:
    converted = [_utf16(t, tokens) for t, tokens in zip(texts, per_text, strict=True)]
    joined = concatenate([c[0] for c in converted], [c[1] for c in converted], position_gap, offset_gap)
    if len(joined.terms) > max_token_count:
        raise IllegalState("The number of tokens produced by calling _analyze has exceeded the allowed "
                           f"maximum of [{max_token_count}]. This limit can be set by changing the "
                           "[index.analyze.max_token_count] index level setting.")
    return joined


def _run(analyzer: Analyzer, texts: list[str], position_gap: int, max_token_count: int) -> TokenList:
    return _join(texts, [analyzer.analyze(t, detail=True) for t in texts], position_gap, analyzer.offset_gap,
                 max_token_count)


def _detail(analyzer: Analyzer, texts: list[str], request_built: bool, attributes: list[str],
            max_token_count: int) -> dict[str, Any]:
    wanted = {a.lower() for a in attributes}
    if not analyzer.components:
        tokens = _run(analyzer, texts, analyzer.position_increment_gap, max_token_count)
        return {"custom_analyzer": False,
                "analyzer": {"name": analyzer.name, "tokens": _explained(tokens, wanted)}}
    # Elasticsearch takes the gap from the analyzer inside its NamedAnalyzer wrapper here:
    # 0 for one built for the request, the configured one for an index's custom analyzer.
    gap = 0 if request_built else analyzer.position_increment_gap
    stages = [list(analyzer.stages(t)) for t in texts]
    names = [name for name, _ in stages[0]]
    lists = [_explained(_join(texts, [s[i][1] for s in stages], gap, analyzer.offset_gap, max_token_count),
                        wanted) for i in range(len(names))]
    return {"custom_analyzer": True, "charfilters": [],
            "tokenizer": {"name": names[0], "tokens": lists[0]},
            "tokenfilters": [{"name": n, "tokens": t} for n, t in zip(names[1:], lists[1:], strict=True)]}


def _tokens_json(tokens: TokenList) -> list[dict[str, Any]]:
    return [{"token": term, "start_offset": start, "end_offset": end, "type": kind, "position": position}
            for term, start, end, kind, position in zip(tokens.terms, tokens.starts, tokens.ends,
                                                         tokens.types, tokens.position_list(), strict=True)]


def _explained(tokens: TokenList, wanted: set[str]) -> list[dict[str, Any]]:
    """Tokens with the attributes Lucene's default token attributes reflect, sorted by
    name; `bytes` is the UTF-8 term as BytesRef prints it."""
    out = _tokens_json(tokens)
    for token in out:
        term = token["token"]
        extra = {"bytes": "[" + " ".join(format(b, "x") for b in term.encode("utf-8", "surrogatepass")) + "]",
                 "positionLength": 1, "termFrequency": 1}
        token.update((k, v) for k, v in extra.items() if not wanted or k.lower() in wanted)
    return out
