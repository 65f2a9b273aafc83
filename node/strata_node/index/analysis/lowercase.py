"""Lower-casing as Lucene's LowerCaseFilter does it: Java's Character.toLowerCase, one code
point at a time.

Python's `str.lower` is full Unicode case mapping, which differs in two places: a final
capital sigma (U+03A3) becomes the final form U+03C2 where Java always gives U+03C3, and a
dotted capital I (U+0130) becomes two code points where Java gives `i`. Everything else
agrees, so those two are mapped by hand and the rest goes through `str.lower`, in C. A
list of terms is lowered as one joined string when it is ASCII, which is most of the time
for log text.
"""

from __future__ import annotations

_SIMPLE = {"\u03a3": "\u03c3", "\u0130": "i"}
_SEPARATOR = "\x00"


def java_lower(text: str) -> str:
    if "\u03a3" in text or "\u0130" in text:
        return "".join(_SIMPLE.get(c) or c.lower() for c in text)
    return text.lower()


def lower_all(terms: list[str]) -> list[str]:
    joined = _SEPARATOR.join(terms)
    if joined.isascii():
        lowered = joined.lower().split(_SEPARATOR)
        if len(lowered) == len(terms):  # no term held the separator itself
            return lowered
    return [java_lower(t) for t in terms]
