""""Did you mean" suggestions, scored as Elasticsearch scores them.

Elasticsearch ranks candidates with Lucene's LevenshteinDistance (1 - edits / length of
the longer string) and suggests those scoring above 0.5, best first and alphabetically
among equals. The REST layer (unrecognized parameters) and the body parsers (unknown
fields) both use it, so a near miss reads the same wherever it happens.
"""

from __future__ import annotations

from collections.abc import Iterable


def similarity(a: str, b: str) -> float:
    """Lucene's LevenshteinDistance: 1 - edits / length of the longer string."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1 - previous[-1] / max(len(a), len(b), 1)


def close_matches(unknown: str, candidates: Iterable[str]) -> list[str]:
    """Candidates scoring above 0.5, best first, then by name."""
    scored = sorted((-similarity(unknown, c), c) for c in set(candidates))
    return [c for score, c in scored if -score > 0.5]


def did_you_mean(unknown: str, candidates: Iterable[str]) -> str:
    """The suffix ObjectParser adds to "unknown field [x]" (SuggestingErrorOnUnknown):
    ` did you mean [doc]?`, ` did you mean any of [a, b]?`, or nothing."""
    close = close_matches(unknown, candidates)
    if not close:
        return ""
    if len(close) == 1:
        return f" did you mean [{close[0]}]?"
    return f" did you mean any of [{', '.join(close)}]?"
