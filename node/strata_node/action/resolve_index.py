"""`indices:admin/resolve/index` (Elasticsearch's ResolveIndexAction): which indices,
aliases and data streams a list of names and wildcards names, answered by any node from
its applied cluster state.

Unlike the resolution every other index API starts with (index/aliases.py `resolve`), an
alias is not replaced by its indices: names resolve to index abstractions, as
IndexNameExpressionResolver.resolveExpressions does with aliases and data streams
preserved. A wildcard matches the names of indices in the states `expand_wildcards`
asks for and of aliases whatever their indices' states; hidden ones only when hidden is
expanded or both the pattern and the name start with a dot. A name outright must exist
(`index_not_found_exception`) unless `ignore_unavailable`; `-name` after a wildcard
removes what it matches. Strata has no data streams, system or frozen indices, so
`data_streams` is always empty and no index is `system` or `frozen`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..common.errors import IndexNotFound, InvalidIndexName
from ..common.patterns import simple_match
from ..index.aliases import AliasLookup
from ..index.metadata import IndexMetadata
from ..tasks.task import Task
from ..transport.wire import Message
from .resolve import IndicesOptions

RESOLVE_INDEX = "indices:admin/resolve/index"


class ResolveIndexRequest(Message):
    names: list[str]
    options: IndicesOptions = IndicesOptions()

    @property
    def description(self) -> str:
        return f"indices[{','.join(self.names)}]"


class ResolvedIndex(Message):
    name: str
    aliases: list[str]
    attributes: list[str]  # sorted: closed or open, and hidden


class ResolvedAlias(Message):
    name: str
    indices: list[str]


class ResolveIndexResponse(Message):
    indices: list[ResolvedIndex]
    aliases: list[ResolvedAlias]


def wildcard_states(expand_wildcards: str) -> tuple[set[str], bool]:
    """The index states (`open`, `close`) wildcards expand to, and whether to hidden ones."""
    words = {w.strip() for w in expand_wildcards.split(",")}
    if "none" in words:
        return set(), False
    states = {"open"} if "open" in words else set()
    if "closed" in words:
        states.add("close")
    if "all" in words:
        states = {"open", "close"}
    return states, bool(words & {"hidden", "all"})


def _visible(pattern: str, name: str, hidden: bool, expand_hidden: bool) -> bool:
    """IndexNameExpressionResolver's hidden rule: shown when not hidden, when hidden is
    expanded, or when the pattern and the name both start with a dot."""
    return not hidden or expand_hidden or (pattern.startswith(".") and name.startswith("."))


def resolve_abstractions(names: list[str], lookup: AliasLookup, options: IndicesOptions) -> list[str]:
    """The names of the indices and aliases `names` resolves to, in resolution order.
    `*` or `_all` alone is every name (ResolveIndexAction rewrites it to `**` so that
    aliases are listed too); `_all` within a list is a name and, as any name starting
    with `_`, refused."""
    states, expand_hidden = wildcard_states(options.expand_wildcards)
    expand = bool(states)
    if names in (["_all"], ["*"]):
        names = ["**"]
    indices: Mapping[str, IndexMetadata] = lookup.indices
    out: dict[str, None] = {}
    wildcard_seen = False
    for expression in names:
        exclusion = wildcard_seen and expression.startswith("-")
        base = expression[1:] if exclusion else expression
        if not base:
            raise IndexNotFound(base)
        if base.startswith("_"):
            raise InvalidIndexName(base, "must not start with '_'.")
        if expand and "*" in expression:
            wildcard_seen = True
            matched = [n for n in sorted(indices) if simple_match(base, n) and indices[n].state in states
                       and _visible(base, n, indices[n].setting("index.hidden"), expand_hidden)]
            matched += [a for a in sorted(lookup.aliases) if simple_match(base, a)
                        and _visible(base, a, lookup.hidden(a), expand_hidden)]
            if not matched and not options.allow_no_indices:
                raise IndexNotFound(base)
            for name in matched:
                if exclusion:
                    out.pop(name, None)
                else:
                    out[name] = None
        elif exclusion:
            out.pop(base, None)
        elif base in indices or base in lookup.aliases:
            out[base] = None
        elif not options.ignore_unavailable:
            raise IndexNotFound(base)
    return list(out)


def resolve_index(names: list[str], lookup: AliasLookup, options: IndicesOptions) -> ResolveIndexResponse:
    """ResolveIndexAction's answer: each index with its aliases and attributes, each alias
    with all its indices (closed ones too), both sorted by name."""
    indices: list[ResolvedIndex] = []
    aliases: list[ResolvedAlias] = []
    for name in resolve_abstractions(names, lookup, options):
        metadata = lookup.indices.get(name)
        if metadata is None:
            aliases.append(ResolvedAlias(name=name, indices=sorted(lookup.aliases[name])))
            continue
        attributes = ["closed" if metadata.closed else "open"]
        if metadata.setting("index.hidden"):
            attributes.append("hidden")
        indices.append(ResolvedIndex(name=name, aliases=sorted(metadata.aliases),
                                     attributes=sorted(attributes)))
    return ResolveIndexResponse(indices=sorted(indices, key=lambda i: i.name),
                                aliases=sorted(aliases, key=lambda a: a.name))


def register(node) -> None:
    async def handle(request: ResolveIndexRequest, task: Task) -> ResolveIndexResponse:
        return resolve_index(request.names, node.indices.aliases, request.options)

    node.transport.register(RESOLVE_INDEX, ResolveIndexRequest, ResolveIndexResponse, handle)
