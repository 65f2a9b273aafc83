"""What analysis produces: tokens, and the token list the stages pass along.

A Lucene token stream is one token at a time with attributes; here a stage hands the
next one whole lists (terms, offsets, types, positions side by side), because the
per-token work then happens inside C loops (list comprehensions, `str.lower` over a joined
string, set lookups) rather than in Python code per token. Indexing asks only for terms
and positions, so offsets and types are filled in only when a caller wants them
(`detail`), as the `_analyze` API does.

Positions are absolute within one analysed value: the tokenizer numbers its tokens 0, 1,
2, ... and a filter that drops a token simply leaves a gap, which is what Lucene's
accumulated position increments amount to. `position_count` is how many positions the
tokenizer used, what the position reaches once Lucene's `end()` has added the increments
of dropped trailing tokens; multi-valued fields and `_analyze` with several texts need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress
from typing import NamedTuple

# Token types as Lucene's tokenizers name them.
ALPHANUM = "<ALPHANUM>"
NUM = "<NUM>"
SOUTHEAST_ASIAN = "<SOUTHEAST_ASIAN>"
IDEOGRAPHIC = "<IDEOGRAPHIC>"
HIRAGANA = "<HIRAGANA>"
KATAKANA = "<KATAKANA>"
HANGUL = "<HANGUL>"
EMOJI = "<EMOJI>"
WORD = "word"  # the default type, which character-class and keyword tokenizers keep


class Token(NamedTuple):
    """One token. Offsets index the analysed Python string (code points); the `_analyze`
    API converts them to the UTF-16 offsets Elasticsearch reports."""

    term: str
    start_offset: int
    end_offset: int
    type: str
    position: int


@dataclass(slots=True)
class TokenList:
    """Tokens side by side. `starts`, `ends` and `types` are None unless detail was asked
    for; `positions` is None while it is still 0..n-1 (nothing dropped)."""

    terms: list[str]
    starts: list[int] | None
    ends: list[int] | None
    types: list[str] | None
    positions: list[int] | None
    position_count: int

    @classmethod
    def of(cls, terms: list[str], starts: list[int] | None = None, ends: list[int] | None = None,
           types: list[str] | None = None) -> TokenList:
        return cls(terms, starts, ends, types, None, len(terms))

    def position_list(self) -> list[int]:
        return list(range(len(self.terms))) if self.positions is None else self.positions

    def keep(self, mask: list[bool]) -> None:
        """Drop the tokens whose mask entry is false, leaving their positions unused."""
        positions = self.position_list()
        self.terms = list(compress(self.terms, mask))
        self.positions = list(compress(positions, mask))
        if self.starts is not None:
            self.starts = list(compress(self.starts, mask))
            self.ends = list(compress(self.ends, mask))
        if self.types is not None:
            self.types = list(compress(self.types, mask))

    def tokens(self) -> list[Token]:
        """Token tuples; only for a list analysed with detail."""
        assert self.starts is not None and self.ends is not None and self.types is not None
        return list(map(Token, self.terms, self.starts, self.ends, self.types, self.position_list()))
