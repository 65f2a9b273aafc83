"""Stop word lists: `stopwords` as Elasticsearch's Analysis.parseStopWords reads it.

`_english_` is Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, the list Elasticsearch
documents for the stop filter and analyzer. `_none_` is the empty list. Any other word is
taken literally. Elasticsearch also names lists for some thirty other languages, which
come from Lucene's data files; Strata does not ship them, so naming one is refused rather
than silently treated as a literal word.
"""

from __future__ import annotations

from ...common.errors import IllegalArgument
from .lowercase import java_lower
from .params import Params

ENGLISH = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no",
    "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this",
    "to", "was", "will", "with",
))

NAMED = {"_english_": ENGLISH}

# The other predefined lists Elasticsearch knows (Analysis.NAMED_STOP_WORDS).
UNSHIPPED = frozenset((
    "_arabic_", "_armenian_", "_basque_", "_bengali_", "_brazilian_", "_bulgarian_", "_catalan_", "_cjk_",
    "_czech_", "_danish_", "_dutch_", "_estonian_", "_finnish_", "_french_", "_galician_", "_german_",
    "_greek_", "_hindi_", "_hungarian_", "_indonesian_", "_irish_", "_italian_", "_latvian_",
    "_lithuanian_", "_norwegian_", "_persian_", "_portuguese_", "_romanian_", "_russian_", "_serbian_",
    "_sorani_", "_spanish_", "_swedish_", "_thai_", "_turkish_",
))


def parse_stop_words(params: Params, default: frozenset[str], ignore_case: bool) -> frozenset[str]:
    if "stopwords_path" in params:
        raise IllegalArgument("[stopwords_path] is not supported by Strata: list the stop words in "
                              "[stopwords]")
    if "stopwords" not in params:
        words = default
    elif params.values["stopwords"] == "_none_":
        return frozenset()
    else:
        found: set[str] = set()
        for word in params.get_list("stopwords"):
            if word in NAMED:
                found |= NAMED[word]
            elif word in UNSHIPPED:
                raise IllegalArgument(f"the predefined stop word list [{word}] is not available in Strata; "
                                      "list the stop words in [stopwords] instead")
            else:
                found.add(word)
        words = frozenset(found)
    return frozenset(java_lower(w) for w in words) if ignore_case else words
