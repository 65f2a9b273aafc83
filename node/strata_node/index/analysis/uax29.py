"""Lucene's StandardTokenizer: Unicode word segments (UAX #29), typed and kept as Lucene
keeps them.

Word boundaries come from the `regex` module, whose WORD flag makes `\\b` the default
Unicode word boundary of UAX #29, computed in C. On top of the segments, Lucene's grammar
(StandardTokenizerImpl.jflex) makes a few decisions of its own, reproduced here:

- only a segment holding a letter, digit, ideograph, kana, South-East Asian letter or
  emoji becomes a token; punctuation and spaces are dropped, and so are runs of `_` alone,
  a lone regional indicator, and `#` or `*` that do not start a keycap emoji;
- a run of South-East Asian characters (Line_Break=Complex_Context: Thai, Lao, Khmer,
  Myanmar) is one `<SOUTHEAST_ASIAN>` token, where plain UAX #29 splits every character;
- each token is typed `<ALPHANUM>`, `<NUM>`, `<HANGUL>`, `<KATAKANA>`, `<IDEOGRAPHIC>`
  (one Han character), `<HIRAGANA>` (one character), `<SOUTHEAST_ASIAN>` or `<EMOJI>`,
  the earlier rule of the grammar winning a tie as in JFlex;
- a text presentation selector (U+FE0E) ends an emoji token and is not part of it.

A token longer than `max_token_length` is cut where Lucene's scanner, whose buffer holds
that many characters, cuts it: the first piece is the first token a scan of the first
`max_token_length` characters finds, and scanning goes on right after that piece.

Most log text is ASCII, and for ASCII text without over-long tokens the tokens are just
the segments the pattern finds, so terms come from one `findall` with no Python code per
token; offsets and types are computed only when asked for.
"""

from __future__ import annotations

import re
from functools import lru_cache

import regex

from .tokens import (
    ALPHANUM,
    EMOJI,
    HANGUL,
    HIRAGANA,
    IDEOGRAPHIC,
    KATAKANA,
    NUM,
    SOUTHEAST_ASIAN,
    TokenList,
)

DEFAULT_MAX_TOKEN_LENGTH = 255
MAX_TOKEN_LENGTH_LIMIT = 1024 * 1024

_EXT = r"[\p{WB=Extend}\p{WB=Format}\p{WB=ZWJ}]"  # what UAX #29 rule WB4 attaches to the char before
_LETTER = r"[\p{WB=ALetter}\p{WB=Hebrew_Letter}\p{WB=Katakana}]"
_NUMERIC = r"\p{WB=Numeric}"
_EMOJI_CHAR = r"[\p{Extended_Pictographic}\p{Emoji_Modifier}]"
_RI = r"\p{WB=Regional_Indicator}"

# Where a kept token may start: a letter or digit (possibly after `_` joiners), an
# ideograph or kana, an emoji, a flag (two regional indicators) or a keycap. A segment
# starting anywhere else yields no token, so the scan skips it in C. A South-East Asian
# run is matched whole by its own branch (UAX #29 alone would give one segment a letter).
# Quantifiers are possessive: a long run of `_` and combining marks must not backtrack
# (Lucene met the same trap, LUCENE-5897).
_TOKEN_START = (
    rf"(?:\p{{WB=ExtendNumLet}}{_EXT}*+)*+[\p{{WB=ALetter}}\p{{WB=Hebrew_Letter}}\p{{WB=Katakana}}{_NUMERIC}]"
    r"|[\p{Script=Han}\p{Script=Hiragana}]"
    rf"|\u200d*{_EMOJI_CHAR}"
    rf"|{_RI}{_EXT}*{_RI}"
    r"|[#*]\ufe0f?\u20e3"
)
_SOUTHEAST_ASIAN_RUN = rf"(?:\p{{Line_Break=Complex_Context}}{_EXT}*+)++"
SEGMENT = regex.compile(rf"(?wsV1)\b(?:{_SOUTHEAST_ASIAN_RUN}|(?={_TOKEN_START}).+?\b)")
# The same for ASCII text, where a token can only start with a letter or digit, possibly
# after underscores; the smaller class makes the scan of log lines about a fifth faster.
ASCII_SEGMENT = regex.compile(r"(?wsV1)\b(?=_*[A-Za-z0-9]).+?\b")

_ASCII_LETTER = re.compile("[A-Za-z]").search
_EMOJI_SEQUENCE = regex.compile(rf"(?V1)(?:\u200d*{_EMOJI_CHAR}{_EXT}*)+|{_RI}{_EXT}*{_RI}{_EXT}*").fullmatch
_LETTER_IN = regex.compile(rf"(?V1){_LETTER}").search
_NUMERIC_IN = regex.compile(rf"(?V1){_NUMERIC}").search
_ONLY_HANGUL = regex.compile(rf"(?V1)(?:[\p{{Script=Hangul}}&&\p{{WB=ALetter}}]{_EXT}*)+").fullmatch
_ONLY_KATAKANA = regex.compile(rf"(?V1)(?:\p{{WB=Katakana}}{_EXT}*)+").fullmatch
_SOUTHEAST_ASIAN = regex.compile(r"\p{Line_Break=Complex_Context}").match
_HAN = regex.compile(r"\p{Script=Han}").match
_HIRAGANA = regex.compile(r"\p{Script=Hiragana}").match
_KEYCAP_BASE = frozenset("0123456789#*")


def token_type(segment: str) -> str | None:
    """The type Lucene gives a non-ASCII segment, or None when it is not a token. Natural
    text repeats its words, so the answer for a word-sized segment is cached."""
    return _cached_type(segment) if len(segment) <= 32 else _type(segment)


def _type(segment: str) -> str | None:
    if _EMOJI_SEQUENCE(segment) or (segment[0] in _KEYCAP_BASE and "\u20e3" in segment):
        return EMOJI
    if _LETTER_IN(segment) is None:
        if _NUMERIC_IN(segment) is not None:
            return NUM
    elif _ONLY_HANGUL(segment):
        return HANGUL
    elif _ONLY_KATAKANA(segment):
        return KATAKANA
    else:
        return ALPHANUM
    if _SOUTHEAST_ASIAN(segment):
        return SOUTHEAST_ASIAN
    if _HAN(segment):
        return IDEOGRAPHIC
    if _HIRAGANA(segment):
        return HIRAGANA
    return None


_cached_type = lru_cache(maxsize=16384)(_type)


def _scan(text: str) -> tuple[list[str], list[int], list[int], list[str]]:
    """Every token of `text` with its offsets and type, before over-long ones are cut."""
    terms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    types: list[str] = []
    for m in (ASCII_SEGMENT if text.isascii() else SEGMENT).finditer(text):
        segment = m.group()
        start, end = m.span()
        if segment.isascii():
            kind = ALPHANUM if _ASCII_LETTER(segment) else NUM
        else:
            kind = token_type(segment)
            if kind is None:
                continue
            if kind is EMOJI and "\ufe0e" in segment:
                at = start
                for piece in segment.split("\ufe0e"):
                    if piece and _EMOJI_SEQUENCE(piece):
                        terms.append(piece)
                        starts.append(at)
                        ends.append(at + len(piece))
                        types.append(EMOJI)
                    at += len(piece) + 1
                continue
        terms.append(segment)
        starts.append(start)
        ends.append(end)
        types.append(kind)
    return terms, starts, ends, types


def _cut(text: str, scanned: tuple[list[str], list[int], list[int], list[str]],
         max_length: int) -> tuple[list[str], list[int], list[int], list[str]]:
    """Cut tokens longer than `max_length` as Lucene's bounded scanner buffer does."""
    terms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    types: list[str] = []
    for term, start, end, kind in zip(*scanned, strict=True):
        if len(term) <= max_length:
            terms.append(term)
            starts.append(start)
            ends.append(end)
            types.append(kind)
            continue
        at = start
        while at < end:
            w_terms, w_starts, w_ends, w_types = _scan(text[at:min(at + max_length, end)])
            if not w_terms:
                at += 1  # nothing starts here: the scanner skips one character
                continue
            terms.append(w_terms[0])
            starts.append(at + w_starts[0])
            ends.append(at + w_ends[0])
            types.append(w_types[0])
            at += w_ends[0]
    return terms, starts, ends, types


def standard_tokens(text: str, max_length: int = DEFAULT_MAX_TOKEN_LENGTH, *, detail: bool) -> TokenList:
    if not detail and text.isascii():
        terms = ASCII_SEGMENT.findall(text)
        if not terms or max(map(len, terms)) <= max_length:
            return TokenList.of(terms)
    scanned = _scan(text)
    if scanned[0] and max(map(len, scanned[0])) > max_length:
        scanned = _cut(text, scanned, max_length)
    terms, starts, ends, types = scanned
    return TokenList.of(terms, starts, ends, types) if detail else TokenList.of(terms)
