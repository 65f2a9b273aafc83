"""Which indices a request's index expression names (ES's IndicesOptions and the
resolution every index-level action starts with), among the cluster state's indices."""

from __future__ import annotations

from ..transport.wire import Message

EXPAND_WILDCARDS = ("open", "closed", "hidden", "none", "all")


class IndicesOptions(Message):
    ignore_unavailable: bool = False
    allow_no_indices: bool = True
    expand_wildcards: str = "open"
    # An action on the data of its indices: a closed index named fails it (or, with
    # ignore_unavailable, is left out) rather than being acted on.
    forbid_closed: bool = False


def resolve_names(indices, expression: str | None, options: IndicesOptions, *,
                  allow_aliases: bool = True) -> list[str]:
    """The names `expression` resolves to (an alias standing for its indices, unless the
    action takes concrete indices only)."""
    return indices.resolve(expression, ignore_unavailable=options.ignore_unavailable,
                           allow_no_indices=options.allow_no_indices,
                           expand_wildcards=options.expand_wildcards, allow_aliases=allow_aliases,
                           forbid_closed=options.forbid_closed)
