"""Which analyzers, tokenizers and filters a name means: the built-in ones every node has,
and an index's own from its `index.analysis.*` settings (Elasticsearch's
AnalysisRegistry and IndexAnalyzers).

An index's settings group components by kind and name:
`index.analysis.<analyzer|tokenizer|filter|char_filter|normalizer>.<name>.<setting>`.
Building them checks everything Elasticsearch checks when an index is created, with its
messages, so a bad definition refuses the index rather than a later request:
an unknown type, an analyzer with neither type nor tokenizer, a custom analyzer naming a
tokenizer or filter that does not exist, an analyzer name starting with `_`.

A name an index does not define falls back to the built-in of that name, so an index
has `standard`, `simple`, ... as well as its own. `default` is the index's analyzer for
text fields: `index.analysis.analyzer.default` when set, `standard` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from ...common.errors import IllegalArgument, SettingsError
from .analyzer import Analyzer
from .builtin import ANALYZER_TYPES
from .filters import FILTER_TYPES, TokenFilter
from .params import Params
from .tokenizers import TOKENIZER_TYPES, KeywordTokenizer, Tokenizer

PREFIX = "index.analysis."
DEFAULT = "default"
KINDS = ("analyzer", "tokenizer", "filter", "char_filter", "normalizer")

# No char filter type exists in Strata yet; the kind is still recognised so that defining
# one fails as an unknown type, as it would in Elasticsearch for a type it lacks.
CHAR_FILTER_TYPES: dict[str, Callable[[str, Params], Any]] = {}


@cache
def global_analyzer(name: str) -> Analyzer | None:
    """A built-in analyzer by name (`default` is `standard`), or None."""
    kind = "standard" if name == DEFAULT else name
    build = ANALYZER_TYPES.get(kind)
    return build(name, Params({})) if build is not None else None


@cache
def global_tokenizer(name: str) -> Tokenizer | None:
    build = TOKENIZER_TYPES.get(name)
    return build(name, Params({})) if build is not None else None


@cache
def global_filter(name: str) -> TokenFilter | None:
    build = FILTER_TYPES.get(name)
    return build(name, Params({})) if build is not None else None


@dataclass(frozen=True)
class IndexAnalyzers:
    """One index's analysis components, each kind by name; names it does not define fall
    back to the built-in components."""

    analyzers: Mapping[str, Analyzer] = field(default_factory=dict)
    normalizers: Mapping[str, Analyzer] = field(default_factory=dict)
    tokenizers: Mapping[str, Tokenizer] = field(default_factory=dict)
    filters: Mapping[str, TokenFilter] = field(default_factory=dict)
    char_filters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def default(self) -> Analyzer:
        return self.analyzers.get(DEFAULT) or _DEFAULT_ANALYZER

    def analyzer(self, name: str) -> Analyzer | None:
        return self.analyzers.get(name) or global_analyzer(name)

    def normalizer(self, name: str) -> Analyzer | None:
        return self.normalizers.get(name)

    def tokenizer(self, name: str) -> Tokenizer | None:
        return self.tokenizers.get(name) or global_tokenizer(name)

    def filter(self, name: str) -> TokenFilter | None:
        return self.filters.get(name) or global_filter(name)

    def char_filter(self, name: str) -> Any:
        return self.char_filters.get(name)


_DEFAULT_ANALYZER = ANALYZER_TYPES["standard"](DEFAULT, Params({}))
NO_INDEX_ANALYSIS = IndexAnalyzers()


def analysis_groups(settings: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """{kind: {name: {setting: value}}} from flat index settings; other keys are ignored,
    and so are kinds Elasticsearch does not read (it accepts any key under the prefix)."""
    groups: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
    for key, value in settings.items():
        if not key.startswith(PREFIX) or value is None:
            continue
        kind, _, rest = key[len(PREFIX):].partition(".")
        if kind not in groups:
            continue
        name, dot, setting = rest.partition(".")
        if not dot or not name or not setting:
            raise SettingsError(f"Failed to get setting group for [{PREFIX}{kind}.] setting prefix and "
                                f"setting [{key}] because of a missing '.'")
        groups[kind].setdefault(name, {})[setting] = value
    return groups


def index_analyzers(settings: Mapping[str, Any], index: str | None = None) -> IndexAnalyzers:
    """The analysis components of an index with these (flat) settings. Built once per
    distinct analysis configuration: the write path asks for them per document."""
    items = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in settings.items()
                         if k.startswith(PREFIX) and v is not None))
    if not items:
        return NO_INDEX_ANALYSIS
    try:
        return _build_cached(items, index)
    except TypeError:  # unhashable: a list holding objects or lists (checked only when it fails)
        if any(isinstance(x, dict | list) for _, v in items if isinstance(v, tuple) for x in v):
            raise SettingsError("only value lists are allowed in serialized settings") from None
        raise


@lru_cache(maxsize=256)
def _build_cached(items: tuple[tuple[str, Any], ...], index: str | None) -> IndexAnalyzers:
    return build_index_analyzers({k: list(v) if isinstance(v, tuple) else v for k, v in items}, index)


def validate_analysis_settings(settings: Mapping[str, Any], index: str | None = None) -> None:
    """Refuse analysis settings Elasticsearch would refuse at index creation."""
    index_analyzers(settings, index)


def build_index_analyzers(settings: Mapping[str, Any], index: str | None = None) -> IndexAnalyzers:
    groups = analysis_groups(settings)
    tokenizers = {name: _component("tokenizer", name, Params(s), TOKENIZER_TYPES)
                  for name, s in groups["tokenizer"].items()}
    filters = {name: _component("filter", name, Params(s), FILTER_TYPES)
               for name, s in groups["filter"].items()}
    char_filters = {name: _component("char_filter", name, Params(s), CHAR_FILTER_TYPES)
                    for name, s in groups["char_filter"].items()}
    partial = IndexAnalyzers({}, {}, tokenizers, filters, char_filters)
    analyzers = {name: _analyzer(name, Params(s), partial) for name, s in groups["analyzer"].items()}
    normalizers = {name: _normalizer(name, Params(s), partial) for name, s in groups["normalizer"].items()}
    if "default_index" in analyzers:
        raise IllegalArgument("setting [index.analysis.analyzer.default_index] is not supported anymore, use "
                              f"[index.analysis.analyzer.default] instead for index [{index or '_na_'}]")
    for name in analyzers:
        if name.startswith("_"):
            raise IllegalArgument(f"analyzer name must not start with '_'. got \"{name}\"")
    return IndexAnalyzers(analyzers, normalizers, tokenizers, filters, char_filters)


Builders = Mapping[str, Callable[[str, Params], Any]]


def _component(kind: str, name: str, params: Params, types: Builders) -> Any:
    type_name = params.get("type")
    if type_name is None:
        raise IllegalArgument(f"{kind} [{name}] must specify either an analyzer type, or a tokenizer")
    build = types.get(type_name)
    if build is None:
        raise IllegalArgument(f"Unknown {kind} type [{type_name}] for [{name}]")
    return build(name, params)


def _analyzer(name: str, params: Params, components: IndexAnalyzers) -> Analyzer:
    type_name = params.get("type")
    if type_name is None and params.get("tokenizer") is None:
        raise IllegalArgument(f"analyzer [{name}] must specify either an analyzer type, or a tokenizer")
    if type_name is None or type_name == "custom":
        return _custom(name, params, components)
    build = ANALYZER_TYPES.get(type_name)
    if build is None:
        raise IllegalArgument(f"Unknown analyzer type [{type_name}] for [{name}]")
    return build(name, params)


def _custom(name: str, params: Params, components: IndexAnalyzers) -> Analyzer:
    """CustomAnalyzerProvider: a named tokenizer, then named char filters and filters."""
    tokenizer_name = params.get("tokenizer")
    if tokenizer_name is None:
        raise IllegalArgument(f"Custom Analyzer [{name}] must be configured with a tokenizer")
    tokenizer = components.tokenizer(tokenizer_name)
    if tokenizer is None:
        raise IllegalArgument(f"Custom Analyzer [{name}] failed to find tokenizer under name "
                              f"[{tokenizer_name}]")
    for char_filter in params.get_list("char_filter"):
        if components.char_filter(char_filter) is None:
            raise IllegalArgument(f"Custom Analyzer [{name}] failed to find char_filter under name "
                                  f"[{char_filter}]")
    filters = []
    for filter_name in params.get_list("filter"):
        token_filter = components.filter(filter_name)
        if token_filter is None:
            raise IllegalArgument(f"Custom Analyzer [{name}] failed to find filter under name "
                                  f"[{filter_name}]")
        filters.append(token_filter)
    position_gap = params.get_int("position_increment_gap", 100)
    offset_gap = params.get_int("offset_gap", -1)
    return Analyzer(name, tokenizer, tuple(filters), position_gap, offset_gap if offset_gap >= 0 else 1,
                    components=True)


def _normalizer(name: str, params: Params, components: IndexAnalyzers) -> Analyzer:
    """CustomNormalizerProvider: the keyword tokenizer and filters that map one token to
    one token (for keyword fields)."""
    type_name = params.get("type")
    if type_name is not None and type_name != "custom":
        raise IllegalArgument(f"Unknown normalizer type [{type_name}] for [{name}]")
    if params.get("tokenizer") is not None:
        raise IllegalArgument(f"Custom normalizer [{name}] cannot configure a tokenizer")
    for char_filter in params.get_list("char_filter"):
        if components.char_filter(char_filter) is None:
            raise IllegalArgument(f"Custom normalizer [{name}] failed to find char_filter under name "
                                  f"[{char_filter}]")
    filters = []
    for filter_name in params.get_list("filter"):
        token_filter = components.filter(filter_name)
        if token_filter is None:
            raise IllegalArgument(f"Custom normalizer [{name}] failed to find filter under name "
                                  f"[{filter_name}]")
        if not token_filter.normalizing:
            raise IllegalArgument(f"Custom normalizer [{name}] may not use filter [{filter_name}]")
        filters.append(token_filter)
    return Analyzer(name, KeywordTokenizer(), tuple(filters), components=True)
