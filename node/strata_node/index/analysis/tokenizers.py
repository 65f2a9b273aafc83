"""The tokenizers: `standard`, `letter`, `whitespace` and `keyword`.

Each is built from its settings (`index.analysis.tokenizer.<name>.*`, an inline
definition in `_analyze`, or none for the built-in of that name) and keeps the name it
was registered under, which `_analyze` with `explain` shows.

`letter` and `whitespace` are Lucene CharTokenizers: a token is a run of characters of one
class, cut every `max_token_length` characters (255 by default), typed `word`. `keyword`
is the whole input as one token, even an empty one, as Lucene's KeywordTokenizer emits.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from ...common.errors import IllegalArgument
from .params import Params
from .tokens import WORD, TokenList
from .uax29 import DEFAULT_MAX_TOKEN_LENGTH, MAX_TOKEN_LENGTH_LIMIT, standard_tokens

# Java's Character.isWhitespace: space, line and paragraph separators except the
# non-breaking ones, and the ASCII controls \t \n \v \f \r and \x1c-\x1f.
_JAVA_WHITESPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f\p{Zs}\p{Zl}\p{Zp}--[\xa0\u2007\u202f]]"


@dataclass(frozen=True)
class StandardTokenizer:
    name: str = "standard"
    max_token_length: int = DEFAULT_MAX_TOKEN_LENGTH

    @classmethod
    def from_params(cls, name: str, params: Params) -> StandardTokenizer:
        length = params.get_int("max_token_length", DEFAULT_MAX_TOKEN_LENGTH)
        if length < 1:
            raise IllegalArgument("maxTokenLength must be greater than zero")
        if length > MAX_TOKEN_LENGTH_LIMIT:
            raise IllegalArgument(f"maxTokenLength may not exceed {MAX_TOKEN_LENGTH_LIMIT}")
        return cls(name, length)

    def tokenize(self, text: str, detail: bool) -> TokenList:
        return standard_tokens(text, self.max_token_length, detail=detail)


class _CharClassTokenizer:
    """Runs of one character class, at most `max_token_length` long, found by one pattern."""

    name: str
    _pattern: regex.Pattern

    def tokenize(self, text: str, detail: bool) -> TokenList:
        if not detail:
            return TokenList.of(self._pattern.findall(text))
        spans = [m.span() for m in self._pattern.finditer(text)]
        return TokenList.of([text[s:e] for s, e in spans], [s for s, _ in spans], [e for _, e in spans],
                            [WORD] * len(spans))


def _char_tokenizer_length(params: Params) -> int:
    length = params.get_int("max_token_length", DEFAULT_MAX_TOKEN_LENGTH)
    if length <= 0 or length > MAX_TOKEN_LENGTH_LIMIT:
        raise IllegalArgument(f"maxTokenLen must be greater than 0 and less than {MAX_TOKEN_LENGTH_LIMIT} "
                              f"passed: {length}")
    return length


class LetterTokenizer(_CharClassTokenizer):
    """Runs of letters (Java's Character.isLetter: Unicode category L)."""

    def __init__(self, name: str = "letter", max_token_length: int = DEFAULT_MAX_TOKEN_LENGTH):
        self.name = name
        self._pattern = regex.compile(rf"\p{{L}}{{1,{max_token_length}}}")

    @classmethod
    def from_params(cls, name: str, params: Params) -> LetterTokenizer:
        return cls(name)  # Elasticsearch's letter tokenizer takes no settings


class WhitespaceTokenizer(_CharClassTokenizer):
    """Runs of anything but Java whitespace."""

    def __init__(self, name: str = "whitespace", max_token_length: int = DEFAULT_MAX_TOKEN_LENGTH):
        self.name = name
        self._pattern = regex.compile(rf"(?V1)[^{_JAVA_WHITESPACE[1:-1]}]{{1,{max_token_length}}}")

    @classmethod
    def from_params(cls, name: str, params: Params) -> WhitespaceTokenizer:
        return cls(name, _char_tokenizer_length(params))


@dataclass(frozen=True)
class KeywordTokenizer:
    name: str = "keyword"

    @classmethod
    def from_params(cls, name: str, params: Params) -> KeywordTokenizer:
        size = params.get_int("buffer_size", 256)  # only the initial buffer; any length is one token
        if size <= 0 or size > MAX_TOKEN_LENGTH_LIMIT:
            raise IllegalArgument("maxTokenLen must be greater than 0 and less than "
                                  f"{MAX_TOKEN_LENGTH_LIMIT} passed: {size}")
        return cls(name)

    def tokenize(self, text: str, detail: bool) -> TokenList:
        if not detail:
            return TokenList.of([text])
        return TokenList.of([text], [0], [len(text)], [WORD])


Tokenizer = StandardTokenizer | LetterTokenizer | WhitespaceTokenizer | KeywordTokenizer

TOKENIZER_TYPES = {
    "standard": StandardTokenizer.from_params,
    "letter": LetterTokenizer.from_params,
    "whitespace": WhitespaceTokenizer.from_params,
    "keyword": KeywordTokenizer.from_params,
}
