"""Lucene's StandardTokenizer: the token grammar of StandardTokenizerImpl.jflex, written
over the `regex` module's Unicode properties.

Lucene does not find UAX #29 boundaries and then pick segments: its tokenizer is a
scanner whose rules are UAX #29's word rules written as regular expressions over the
Word_Break property (WB4 as "a character and its marks", WB5-WB13b as the shapes of a
word or number), plus rules of its own for emoji, runs of South-East Asian letters and
single ideographs. The same rules are written below with `\\p{WB=...}`, `\\p{Script=...}`,
`\\p{Line_Break=Complex_Context}` and `\\p{Extended_Pictographic}` from `regex`, which
keeps the Unicode data current, so one pattern scans a text in C and what it finds is what
Lucene finds. (`regex`'s own word boundaries, its WORD flag, are not UAX #29: it keeps an
apostrophe with a following vowel, so `'apple'` loses its word, and it misplaces marks
before `'` and `.`; see docs/architecture.md.)

The scanner takes the longest match of its rules, the earlier rule winning a tie. Here the
word rule comes first and the token's type is decided afterwards, in the rules' order:
`<EMOJI>` (a keycap such as `3\\ufe0f\\u20e3` is also a number: the emoji rule comes first),
`<NUM>` (digits and their separators only), `<HANGUL>`, `<KATAKANA>`, `<ALPHANUM>`,
`<SOUTHEAST_ASIAN>`, `<IDEOGRAPHIC>` and `<HIRAGANA>`.

A token longer than `max_token_length` is cut where Lucene's scanner, whose buffer holds
that many characters, cuts it: the first piece is the first token a scan of the first
`max_token_length` characters finds, and scanning goes on right after that piece.

Every repetition that can never give characters back is possessive, and runs of
characters that start no token are consumed in one step, so no input makes the scan
quadratic (Lucene met that trap too, LUCENE-5897).
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

# -- the character classes of StandardTokenizerImpl.jflex ---------------------------------

_MARK = r"[\p{WB=Format}\p{WB=Extend}\p{WB=ZWJ}]"  # WB4: what belongs to the character before it
_EXT = rf"{_MARK}*+"
# Inside emoji the marks may give characters back (a joiner or keycap mark is also the
# next part of the sequence), so this repetition is greedy, not possessive.
_EXT_NO_SELECTOR = r"[[\p{WB=Format}\p{WB=Extend}\p{WB=ZWJ}]--[\ufe0e\ufe0f]]*"
_WORD_CLASSES = {
    "letter": r"[\p{WB=ALetter}\p{WB=Hebrew_Letter}]",
    "numeric": r"[\p{WB=Numeric}[\p{Block=Halfwidth_And_Fullwidth_Forms}&&\p{Nd}]]",
    "katakana": r"\p{WB=Katakana}",
    "hebrew": r"\p{WB=Hebrew_Letter}",
    "mid_letter": r"[\p{WB=MidLetter}\p{WB=MidNumLet}\p{WB=Single_Quote}]",
    "mid_numeric": r"[\p{WB=MidNum}\p{WB=MidNumLet}\p{WB=Single_Quote}]",
    "single_quote": r"\p{WB=Single_Quote}",
    "double_quote": r"\p{WB=Double_Quote}",
    "joiner": r"\p{WB=ExtendNumLet}",  # `_` and its kin
    "mark": _MARK,
}
_EMOJI_CHAR = (r"[\p{Extended_Pictographic}"
               r"[\p{Emoji}--[\p{WB=Regional_Indicator}0-9#*\xa9\xae\u2122\u3030\u303d\p{Emoji_Modifier}]]]")


def _ascii_only(classes: dict[str, str]) -> dict[str, str | None]:
    """The same classes restricted to ASCII (None when nothing is left), for a pattern that
    scans ASCII text faster and finds exactly what the full one finds there."""
    out: dict[str, str | None] = {}
    for name, pattern in classes.items():
        chars = [c for c in map(chr, range(128)) if regex.fullmatch(f"(?V1){pattern}", c)]
        out[name] = "[" + "".join(regex.escape(c) for c in chars) + "]" if chars else None
    return out


# -- the rules ------------------------------------------------------------------------------


def _word_rule(c: dict[str, str | None]) -> str:
    """WB5-WB13b: letters, numbers and katakana joined by `_`, and by `.`, `'`, `:` or `,`
    between two of a kind (Lucene's WORD rule, which also covers its NUM, HANGUL and
    KATAKANA rules: those only type some of its matches).

    A Hebrew letter followed by a quote is left to the Hebrew branch (WB7a-c), which the
    letter branch would otherwise swallow without the quote: the scanner's longest match
    takes the quote."""
    ext = f"{c['mark']}*+" if c["mark"] else ""
    joiner = f"{c['joiner']}{ext}"
    parts = []
    if c["hebrew"]:
        quote = f"(?:{c['single_quote']}{ext}|{c['double_quote']}{ext}{c['hebrew']}{ext})"
        parts.append(f"{c['hebrew']}{ext}{quote}")
        letter = f"(?:[{c['letter']}--{c['hebrew']}]|{c['hebrew']}(?!{ext}{quote})){ext}"
    else:
        letter = f"{c['letter']}{ext}"
    parts.append(f"{c['numeric']}{ext}(?:(?:(?:{joiner})*+|{c['mid_numeric']}{ext}){c['numeric']}{ext})*+")
    parts.append(f"{letter}(?:(?:(?:{joiner})*+|{c['mid_letter']}{ext}){letter})*+")
    part = "(?:" + "|".join(parts) + ")++"
    if c["katakana"]:
        part = f"{c['katakana']}{ext}(?:(?:{joiner})*+{c['katakana']}{ext})*+|{part}"
    return f"(?:{joiner})*+(?:{part})(?:(?:{joiner})++(?:{part}))*+(?:{joiner})*+"


_WORD = _word_rule(_WORD_CLASSES)

# TR51 emoji sequences: a character with its presentation selector or skin tone, zero
# width joiner sequences, tag sequences, keycaps and flags. A joiner followed by an emoji
# joins it rather than ending the emoji before it, as the scanner's longest match would.
_EMOJI_START = rf"[{_EMOJI_CHAR}\p{{Emoji_Modifier_Base}}\p{{Emoji_Modifier}}]"
_EMOJI_MARKS = (rf"(?:[[\p{{WB=Format}}\p{{WB=Extend}}]--[\ufe0e\ufe0f\u200d]]"
                rf"|\u200d(?!\u200d*{_EMOJI_START}))*")
_EMOJI_UNIT = (rf"\u200d*+{_EMOJI_CHAR}{_EMOJI_MARKS}\ufe0f?"
               rf"|(?:\u200d*+\p{{Emoji_Modifier_Base}}{_EXT_NO_SELECTOR})?\p{{Emoji_Modifier}}{_EMOJI_MARKS}")
_EMOJI = (rf"(?:{_EMOJI_UNIT})(?:(?:\u200d(?:{_EMOJI_UNIT}))*|[\U000e0020-\U000e007e]+\U000e007f)"
          rf"|[0-9#*]{_EXT_NO_SELECTOR}\ufe0f?\u20e3{_EXT_NO_SELECTOR}"
          rf"|\p{{WB=Regional_Indicator}}{_EXT}\p{{WB=Regional_Indicator}}{_EXT}")

_SOUTHEAST_ASIAN_RUN = rf"(?:\p{{Line_Break=Complex_Context}}{_EXT})++"
_IDEOGRAPH = rf"\p{{Script=Han}}{_EXT}"
_HIRAGANA_CHAR = rf"\p{{Script=Hiragana}}{_EXT}"

# What starts no token but would make every position of a long run try again: a run of
# joiners not followed by a word (no later position in it starts one either), marks
# without a base, zero width joiners that join no emoji. Skipped whole (the token group is
# then empty).
_SKIP = (r"(?:\p{WB=ExtendNumLet}[[\p{WB=Extend}\p{WB=Format}]--\p{Emoji_Modifier}]*+)++"
         r"|[[\p{WB=Extend}\p{WB=Format}]--[\p{Emoji_Modifier}\u200d]]++"
         rf"|\u200d++(?!{_EMOJI_START})")

# One group for the terms-only scan (`findall` gives the token, or "" for a skipped run),
# one group per rule for the scan that types tokens. ASCII text can only hold the word
# rule's matches, and its own pattern scans it faster.
TOKEN = regex.compile(rf"(?V1)({_WORD}|{_EMOJI}|{_SOUTHEAST_ASIAN_RUN}|{_IDEOGRAPH}|{_HIRAGANA_CHAR})"
                      rf"|{_SKIP}")
RULES = regex.compile(rf"(?V1)(?P<word>{_WORD})|(?P<emoji>{_EMOJI})"
                      rf"|(?P<southeast_asian>{_SOUTHEAST_ASIAN_RUN})|(?P<ideograph>{_IDEOGRAPH})"
                      rf"|(?P<hiragana>{_HIRAGANA_CHAR})|{_SKIP}")
ASCII_TOKEN = re.compile(f"(?P<word>{_word_rule(_ascii_only(_WORD_CLASSES))})|_++")
_RULE_TYPES = {"emoji": EMOJI, "southeast_asian": SOUTHEAST_ASIAN, "ideograph": IDEOGRAPHIC,
               "hiragana": HIRAGANA}

# -- types of the word rule's matches --------------------------------------------------------

_ASCII_LETTER = regex.compile("[A-Za-z]").search
_EMOJI_TOKEN = regex.compile(rf"(?V1){_EMOJI}").fullmatch
_LETTER_IN = regex.compile(rf"(?V1)[{_WORD_CLASSES['letter']}{_WORD_CLASSES['katakana']}]").search
_ONLY_HANGUL = regex.compile(rf"(?V1)(?:[\p{{Script=Hangul}}&&{_WORD_CLASSES['letter']}]{_EXT})++").fullmatch
_ONLY_KATAKANA = regex.compile(rf"(?V1)(?:{_WORD_CLASSES['katakana']}{_EXT})++").fullmatch
# A character without which no token exists.
_TOKEN_CHAR = regex.compile(rf"(?V1)[{_WORD_CLASSES['letter']}{_WORD_CLASSES['numeric']}"
                            rf"{_WORD_CLASSES['katakana']}\p{{Script=Han}}\p{{Script=Hiragana}}"
                            r"\p{Line_Break=Complex_Context}\p{Emoji}\p{Extended_Pictographic}\u20e3]")


def word_type(token: str) -> str:
    """The type of a non-ASCII match of the word rule. Natural text repeats its words, so
    the answer for a word-sized token is cached."""
    return _cached_word_type(token) if len(token) <= 32 else _word_type(token)


def _word_type(token: str) -> str:
    if _EMOJI_TOKEN(token):
        return EMOJI  # a keycap, or a letter that is also an emoji: the emoji rule comes first
    if _LETTER_IN(token) is None:
        return NUM
    if _ONLY_HANGUL(token):
        return HANGUL
    if _ONLY_KATAKANA(token):
        return KATAKANA
    return ALPHANUM


_cached_word_type = lru_cache(maxsize=16384)(_word_type)


def _scan(text: str) -> tuple[list[str], list[int], list[int], list[str]]:
    """Every token of `text` with its offsets and type, before over-long ones are cut."""
    terms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    types: list[str] = []
    for m in (ASCII_TOKEN if text.isascii() else RULES).finditer(text):
        rule = m.lastgroup
        if rule is None:
            continue  # a skipped run
        token = m.group()
        if rule != "word":
            kind = _RULE_TYPES[rule]
        elif token.isascii():
            kind = ALPHANUM if _ASCII_LETTER(token) else NUM
        else:
            kind = word_type(token)
        terms.append(token)
        starts.append(m.start())
        ends.append(m.end())
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
                # Nothing starts here: the scanner skips one character and tries again. No
                # window can hold a token before it reaches a character a token needs, so
                # go straight to the first window that does.
                needed = _TOKEN_CHAR.search(text, at + 1, end)
                if needed is None:
                    break
                at = max(at + 1, needed.start() - max_length + 1)
                continue
            terms.append(w_terms[0])
            starts.append(at + w_starts[0])
            ends.append(at + w_ends[0])
            types.append(w_types[0])
            at += w_ends[0]
    return terms, starts, ends, types


_ascii_findall = ASCII_TOKEN.findall


def ascii_terms(text: str, max_length: int = DEFAULT_MAX_TOKEN_LENGTH) -> list[str] | None:
    """The terms of ASCII text, or None when one is longer than `max_length` (to be cut
    by the full scan). A text no longer than the limit holds no longer token, which
    spares measuring them."""
    terms = list(filter(None, _ascii_findall(text)))  # skipped runs of `_` come back empty
    if len(text) <= max_length or not terms or max(map(len, terms)) <= max_length:
        return terms
    return None


# ASCII characters that belong to no token and join no two parts of one (everything but
# letters, digits, `_` and the mid-word `'.,:;`): a scan never crosses one, so text cut at
# them scans piece by piece to the same tokens, and a piece of letters and digits alone
# is one token without a scan.
_ASCII_BREAKS = bytes(c if chr(c).isalnum() or chr(c) in "_'.,:;" else 32 for c in range(128)) \
    + b" " * 128
_ascii_bytes_findall = re.compile(ASCII_TOKEN.pattern.encode()).findall


# The terms of the pieces that need the regular expression, by piece: log lines repeat
# most of theirs (versions, user agents, a date within its second), and a lookup costs a
# tenth of a scan. Bounded: cleared when full, so unique pieces (IPs) cannot grow it.
_scanned_pieces: dict[bytes, list[bytes]] = {}
_SCANNED_PIECES_MAX = 8192


def _scan_piece(piece: bytes) -> list[bytes]:
    if len(_scanned_pieces) >= _SCANNED_PIECES_MAX:
        _scanned_pieces.clear()
    found = _scanned_pieces[piece] = list(filter(None, _ascii_bytes_findall(piece)))  # runs of `_` are empty
    return found


def ascii_index_terms(data: bytes, max_length: int = DEFAULT_MAX_TOKEN_LENGTH) -> list[bytes] | None:
    """What `ascii_terms` finds in ASCII text, as bytes (the index stores terms as UTF-8),
    or None when a term is longer than `max_length`. Splitting at the characters no token
    holds is a C loop, and most pieces of log text are plain words or numbers that need
    no regular expression at all."""
    terms: list[bytes] = []
    scanned = _scanned_pieces
    for piece in data.translate(_ASCII_BREAKS).split():
        # Letters and digits alone, or digits joined by single dots (IPv4 addresses,
        # versions, decimals), are one token, as UAX #29 keeps Numeric (MidNumLet) Numeric
        # together. Most log lines hold an address, unique per line, which the regular
        # expression and its cache would otherwise take; the test is inline, a call per
        # piece costing as much as the test.
        if piece.isalnum() or (piece.replace(b".", b"").isdigit() and piece[0] != 46 and piece[-1] != 46
                               and b".." not in piece):
            terms.append(piece)
        else:
            found = scanned.get(piece)
            terms += found if found is not None else _scan_piece(piece)
    if len(data) <= max_length or not terms or max(map(len, terms)) <= max_length:
        return terms
    return None


def standard_tokens(text: str, max_length: int = DEFAULT_MAX_TOKEN_LENGTH, *, detail: bool) -> TokenList:
    if not detail:
        if text.isascii():
            terms = ascii_terms(text, max_length)
        else:
            terms = list(filter(None, TOKEN.findall(text)))
            if terms and max(map(len, terms)) > max_length:
                terms = None
        if terms is not None:
            return TokenList.of(terms)
    scanned = _scan(text)
    if scanned[0] and max(map(len, scanned[0])) > max_length:
        scanned = _cut(text, scanned, max_length)
    terms, starts, ends, types = scanned
    return TokenList.of(terms, starts, ends, types) if detail else TokenList.of(terms)
