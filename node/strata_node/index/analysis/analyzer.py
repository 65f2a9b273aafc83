"""An analyzer: a tokenizer and its filters, with the gaps Elasticsearch puts between the
values of a multi-valued field.

Every analyzer Elasticsearch hands out by name leaves a position gap of 100 between values
(TextFieldMapper's default; a custom analyzer may set `position_increment_gap`) and an
offset gap of 1 (Lucene's default; custom analyzers may set `offset_gap`).

`components` is true for analyzers built from parts (type `custom`, or a tokenizer and
filters named in an `_analyze` request): `_analyze` with `explain` shows each part's
output for those, and only the analyzer's output for the others, as Elasticsearch does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .filters import TokenFilter
from .tokenizers import Tokenizer
from .tokens import Token, TokenList

POSITION_INCREMENT_GAP = 100  # TextFieldMapper.Defaults.POSITION_INCREMENT_GAP
OFFSET_GAP = 1


@dataclass(frozen=True)
class Analyzer:
    name: str
    tokenizer: Tokenizer
    filters: tuple[TokenFilter, ...] = ()
    position_increment_gap: int = POSITION_INCREMENT_GAP
    offset_gap: int = OFFSET_GAP
    components: bool = False

    def analyze(self, text: str, *, detail: bool = False) -> TokenList:
        """The tokens of one value. Without detail only terms and positions are filled in,
        which is all indexing needs and much the cheapest."""
        tokens = self.tokenizer.tokenize(text, detail)
        for f in self.filters:
            tokens = f.apply(tokens)
        return tokens

    def tokens(self, text: str) -> list[Token]:
        return self.analyze(text, detail=True).tokens()

    def stages(self, text: str) -> Iterator[tuple[str, TokenList]]:
        """The tokenizer's output, then each filter's, named as configured."""
        tokens = self.tokenizer.tokenize(text, True)
        yield self.tokenizer.name, tokens
        for f in self.filters:
            tokens = f.apply(tokens)
            yield f.name, tokens

    def analyze_values(self, values: Sequence[str], *, detail: bool = False,
                       position_increment_gap: int | None = None) -> TokenList:
        """Several values as one field holds them: positions go on from value to value,
        `position_increment_gap` apart (the analyzer's own unless given), and offsets go on
        from the end of the previous value plus the offset gap."""
        return concatenate([self.analyze(v, detail=detail) for v in values], [len(v) for v in values],
                           self.position_increment_gap if position_increment_gap is None
                           else position_increment_gap, self.offset_gap)


def concatenate(parts: Sequence[TokenList], lengths: Sequence[int], position_gap: int,
                offset_gap: int) -> TokenList:
    """Join the token lists of consecutive values as Lucene's indexing chain and
    TransportAnalyzeAction do: the next value starts at the last position reached (the
    tokenizer's position count, which includes trailing dropped tokens) plus the gap, and
    at the previous value's final offset (its length) plus the offset gap."""
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return TokenList.of([])
    detail = all(p.starts is not None for p in parts)
    terms: list[str] = []
    positions: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    types: list[str] = []
    last_position = -1
    last_offset = 0
    for part, length in zip(parts, lengths, strict=True):
        base = last_position + 1
        terms += part.terms
        positions += [base + p for p in part.position_list()]
        if detail:
            starts += [last_offset + s for s in part.starts]
            ends += [last_offset + e for e in part.ends]
            types += part.types
        last_position += part.position_count + position_gap
        last_offset += length + offset_gap
    count = last_position + 1 - position_gap
    if detail:
        return TokenList(terms, starts, ends, types, positions, count)
    return TokenList(terms, None, None, None, positions, count)
