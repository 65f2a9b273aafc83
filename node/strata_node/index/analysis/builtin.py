"""The analyzer types Elasticsearch ships in its server module, built from settings:
`standard`, `simple`, `whitespace`, `keyword` and `stop`.

- standard: standard tokenizer, lowercase, stop (`stopwords` default `_none_`,
  `max_token_length` default 255);
- simple: letter tokenizer, lowercase (Lucene's SimpleAnalyzer);
- whitespace: whitespace tokenizer;
- keyword: the whole value as one token;
- stop: letter tokenizer, lowercase, stop (`stopwords` default `_english_`).

These are not built from components, so `_analyze` with `explain` shows them whole.
"""

from __future__ import annotations

from collections.abc import Callable

from .analyzer import Analyzer
from .filters import LowercaseFilter, StopFilter
from .params import Params
from .stopwords import ENGLISH, parse_stop_words
from .tokenizers import KeywordTokenizer, LetterTokenizer, StandardTokenizer, WhitespaceTokenizer


def standard(name: str, params: Params) -> Analyzer:
    tokenizer = StandardTokenizer.from_params("standard", params)
    filters: tuple = (LowercaseFilter(),)
    words = parse_stop_words(params, frozenset(), params.get_bool("stopwords_case", False))
    if words:
        filters += (StopFilter("stop", words),)
    return Analyzer(name, tokenizer, filters)


def simple(name: str, params: Params) -> Analyzer:
    return Analyzer(name, LetterTokenizer(), (LowercaseFilter(),))


def whitespace(name: str, params: Params) -> Analyzer:
    return Analyzer(name, WhitespaceTokenizer())


def keyword(name: str, params: Params) -> Analyzer:
    return Analyzer(name, KeywordTokenizer())


def stop(name: str, params: Params) -> Analyzer:
    ignore_case = params.get_bool("stopwords_case", False)
    words = parse_stop_words(params, ENGLISH, ignore_case)
    return Analyzer(name, LetterTokenizer(), (LowercaseFilter(), StopFilter("stop", words, ignore_case)))


ANALYZER_TYPES: dict[str, Callable[[str, Params], Analyzer]] = {
    "standard": standard,
    "simple": simple,
    "whitespace": whitespace,
    "keyword": keyword,
    "stop": stop,
}
