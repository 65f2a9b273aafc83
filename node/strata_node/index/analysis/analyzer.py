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
from dataclasses import dataclass, field

from .filters import LowercaseFilter, TokenFilter
from .tokenizers import StandardTokenizer, Tokenizer
from .tokens import Token, TokenList
from .uax29 import ascii_index_terms, ascii_terms

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
    # A standard tokenizer followed by lowercase: for ASCII text, lower-casing first gives
    # the same terms (ASCII case never changes a character's word-break class), so the
    # tokenizer's output needs no second pass; see `analyze`.
    _lower_first: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lower_first", self.tokenizer.__class__ is StandardTokenizer
                           and bool(self.filters) and self.filters[0].__class__ is LowercaseFilter)

    def analyze(self, text: str, *, detail: bool = False) -> TokenList:
        """The tokens of one value. Without detail only terms and positions are filled in,
        which is all indexing needs and much the cheapest."""
        filters = self.filters
        if not detail and self._lower_first and text.isascii():
            terms = ascii_terms(text.lower(), self.tokenizer.max_token_length)
            if terms is not None:
                tokens = TokenList(terms, None, None, None, None, len(terms))
                for f in filters[1:]:
                    tokens = f.apply(tokens)
                return tokens
        tokens = self.tokenizer.tokenize(text, detail)
        for f in filters:
            tokens = f.apply(tokens)
        return tokens

    def index_terms(self, values: Sequence[str]) -> tuple[list[bytes], list[int] | None]:
        """A field's values as the index takes them: the terms `analyze_values` gives, as
        UTF-8 bytes, with their positions (None when they are 0, 1, 2, ...). ASCII text
        under a standard tokenizer and lowercase alone (the standard analyzer without stop
        words) is scanned as bytes, which is the cheapest way to those same terms."""
        if len(values) == 1:
            text = values[0]
            if self._lower_first and len(self.filters) == 1:
                terms = _short_text_terms(text, self.tokenizer.max_token_length)
                if terms is not None:
                    return terms, None
            tokens = self.analyze(text)
        else:
            tokens = self.analyze_values(values)
        return [t.encode() for t in tokens.terms], tokens.positions

    def index_terms_column(self, column: Sequence[Sequence[str]]) -> list[tuple]:
        """`index_terms` of each document's values of one field; the single short ASCII
        values of log fields go straight to the table of short texts."""
        if not (self._lower_first and len(self.filters) == 1):
            return [self.index_terms(values) for values in column]
        limit = self.tokenizer.max_token_length
        out = []
        append = out.append
        for values in column:
            if len(values) == 1:
                terms = _short_text_terms(values[0], limit)
                if terms is not None:
                    append((terms, None))
                    continue
            append(self.index_terms(values))
        return out

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


# The index terms of short ASCII values under a standard tokenizer and lowercase alone,
# by value: short values of log fields repeat (methods, paths, levels, hosts), and a
# lookup costs a fraction of a scan. The terms of a value no longer than the longest
# token allowed are the same whatever that limit (no token can exceed it), so one table
# serves every such analyzer. Bounded: cleared when full. Callers only read the lists.
_SHORT_TEXT = 64
_SHORT_TEXT_MAX = 4096
_short_text: dict[str, list[bytes]] = {}


def _short_text_terms(text: str, max_length: int) -> list[bytes] | None:
    """The terms `ascii_index_terms` finds in `text`, or None when it is not ASCII or
    has a token longer than `max_length`."""
    if len(text) > max_length or len(text) > _SHORT_TEXT:
        return ascii_index_terms(text.encode().lower(), max_length) if text.isascii() else None
    terms = _short_text.get(text)
    if terms is None and text.isascii():
        if len(_short_text) >= _SHORT_TEXT_MAX:
            _short_text.clear()
        terms = _short_text[text] = ascii_index_terms(text.encode().lower(), max_length)
    return terms


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
