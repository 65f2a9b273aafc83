"""The token filters: `lowercase` and `stop`.

A filter takes a token list and returns a new one (the stages of `_analyze` with
`explain` are shown side by side, so a stage never changes the list it was given).
`normalizing` marks the filters a normalizer may use, as Elasticsearch's
NormalizingTokenFilterFactory does: one token in, one token out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...common.errors import IllegalArgument
from .lowercase import lower_all
from .params import Params
from .stopwords import ENGLISH, parse_stop_words
from .tokens import TokenList


@dataclass(frozen=True)
class LowercaseFilter:
    name: str = "lowercase"
    normalizing = True

    @classmethod
    def from_params(cls, name: str, params: Params) -> LowercaseFilter:
        language = params.get("language")
        if language is not None:
            if language.lower() in ("greek", "irish", "turkish"):
                raise IllegalArgument(f"the [{language}] lowercase filter is not supported by Strata")
            raise IllegalArgument(f"language [{language}] not support for lower case")
        return cls(name)

    def apply(self, tokens: TokenList) -> TokenList:
        # A new list (explain keeps every stage), built directly: dataclasses.replace
        # costs more than the lowercasing on the indexing path.
        return TokenList(lower_all(tokens.terms), tokens.starts, tokens.ends, tokens.types,
                         tokens.positions, tokens.position_count)


@dataclass(frozen=True)
class StopFilter:
    """Drops stop words; the positions they held stay unused, as Lucene's StopFilter adds
    their position increments to the next token kept (and to the end of the stream)."""

    name: str = "stop"
    words: frozenset[str] = ENGLISH
    ignore_case: bool = False
    normalizing = False

    @classmethod
    def from_params(cls, name: str, params: Params) -> StopFilter:
        ignore_case = params.get_bool("ignore_case", False)
        if not params.get_bool("remove_trailing", True):
            raise IllegalArgument("[remove_trailing: false] is not supported by Strata")
        return cls(name, parse_stop_words(params, ENGLISH, ignore_case), ignore_case)

    def apply(self, tokens: TokenList) -> TokenList:
        probe = lower_all(tokens.terms) if self.ignore_case else tokens.terms
        if self.words.isdisjoint(probe):
            return tokens
        words = self.words
        kept = replace(tokens)
        kept.keep([term not in words for term in probe])
        return kept


TokenFilter = LowercaseFilter | StopFilter

FILTER_TYPES = {
    "lowercase": LowercaseFilter.from_params,
    "stop": StopFilter.from_params,
}
