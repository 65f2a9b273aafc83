"""Index aliases: their definitions, the pure update that adds and removes them, and how
a name that is an alias resolves to indices (Elasticsearch's AliasMetadata, AliasValidator,
MetadataIndexAliasesService and the alias half of IndexNameExpressionResolver).

An alias lives in the metadata of each index it points to, as that index's definition of
it: `filter`, `index_routing`, `search_routing`, `is_write_index`, `is_hidden`, each only
when set. There is no alias object of its own: `AliasLookup` gathers, per metadata value,
which indices each alias name points to. Everything here is a function of the cluster
state's indices, so the master validates inside its update function (two racing requests
cannot both succeed) and every node resolves the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..cluster import blocks
from ..common.errors import (
    ActionRequestValidation,
    IllegalArgument,
    IllegalState,
    IndexClosed,
    IndexNotFound,
    InvalidIndexName,
    ParsingError,
    StrataError,
)
from ..common.patterns import simple_match
from ..common.xcontent import scalar_text
from .metadata import IndexMetadata
from .names import validate_index_or_alias_name

ROUTING_KEYS = ("routing", "index_routing", "search_routing")
DEFINITION_KEYS = ("filter", *ROUTING_KEYS, "is_write_index", "is_hidden")


class InvalidAliasName(StrataError):
    type = "invalid_alias_name_exception"
    status = 400

    def __init__(self, alias: str, why: str):
        super().__init__(f"Invalid alias name [{alias}]: {why}")


class AliasesNotFound(StrataError):
    type = "aliases_not_found_exception"
    status = 404

    def __init__(self, names: list[str]):
        super().__init__(f"aliases [{', '.join(names)}] missing")
        self.metadata.update({"resource.type": "aliases", "resource.id": list(names)})


class RequiredAliasMissing(StrataError):
    """A `remove` with `must_exist` of an alias the index lacks (ES's ResourceNotFoundException)."""

    type = "resource_not_found_exception"
    status = 404

    def __init__(self, alias: str):
        super().__init__(f"required alias [{alias}] does not exist")


def _same_name_as_index(alias: str) -> InvalidAliasName:
    return InvalidAliasName(alias, "an index or data stream exists with the same name as the alias")


def matches_alias_error(expression: str) -> IllegalArgument:
    """What an API that takes concrete indices only (delete index, remove_index) says of an alias."""
    return IllegalArgument(f"The provided expression [{expression}] matches an alias, specify the "
                           "corresponding concrete indices instead.")


# -- definitions ------------------------------------------------------------------------------


def validate_alias_name(alias: str) -> None:
    """The checks of an alias name alone (validateAliasStandalone), in Elasticsearch's order."""
    if not alias or not alias.strip():
        raise IllegalArgument("alias name is required")
    validate_index_or_alias_name(alias, InvalidAliasName, "alias")


def _routing_text(alias: str, key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise IllegalArgument(f"[{key}] of alias [{alias}] must be a string, found [{value}]")
    return str(value)


def _flag(alias: str, key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise IllegalArgument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


def parse_definition(alias: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
    """An alias definition as stored and shown: `routing` sets both routings (an explicit
    `index_routing` or `search_routing` wins), flags only when given, routing values as
    strings. The name and the index routing are checked here; the filter against a
    mapping in search/alias_filter.py."""
    validate_alias_name(alias)
    body = body or {}
    if not isinstance(body, Mapping):
        raise IllegalArgument(f"alias [{alias}] must be an object, found [{body}]")
    out: dict[str, Any] = {}
    for key in body:
        if key not in DEFINITION_KEYS:
            raise IllegalArgument(f"Unsupported field [{key}]")
    if body.get("filter") is not None:
        if not isinstance(body["filter"], Mapping):
            raise IllegalArgument(f"failed to parse filter for alias [{alias}]")
        if body["filter"]:
            out["filter"] = dict(body["filter"])
    routing = body.get("routing")
    index_routing = body.get("index_routing", routing)
    search_routing = body.get("search_routing", routing)
    if index_routing is not None:
        out["index_routing"] = _routing_text(alias, "index_routing", index_routing)
        if "," in out["index_routing"]:
            raise IllegalArgument(f"alias [{alias}] has several index routing values associated with it")
    if search_routing is not None:
        out["search_routing"] = _routing_text(alias, "search_routing", search_routing)
    for key in ("is_write_index", "is_hidden"):
        if body.get(key) is not None:
            out[key] = _flag(alias, key, body[key])
    return out


# The keys RestIndexPutAliasAction reads as routings, under each spelling it knows.
PUT_ALIAS_ROUTINGS = {"routing": "routing", "index_routing": "index_routing", "indexRouting": "index_routing",
                      "index-routing": "index_routing", "search_routing": "search_routing",
                      "searchRouting": "search_routing", "search-routing": "search_routing"}


def put_alias_action(indices: list[str], alias: str, body: Any) -> dict[str, Any]:
    """The `add` action of `PUT /{index}/_alias/{name}`, whose body (any JSON value, None
    when there is none) RestIndexPutAliasAction reads token by token rather than as an
    alias definition: `index` and `alias` replace the path's, `routing` and the index and
    search routings (each in three spellings) are read as text, `filter` as an object and
    `is_write_index` as a boolean. Every other key is ignored, `is_hidden` and `must_exist`
    too (such an alias is visible), and so are nulls; a known key nested in some other
    object or array still counts, as the token walk meets it there."""
    action: dict[str, Any] = {"indices": indices, "aliases": [alias]}
    current: str | None = None  # the last field name the walk met, as the parser's

    def walk(value: Any) -> None:
        nonlocal current
        if isinstance(value, Mapping):
            if current == "filter":
                action["filter"] = dict(value)
                return
            for key, item in value.items():
                current = key
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif value is not None:
            _read_put_alias_value(action, alias, current, value)

    walk(body)
    return action


def _read_put_alias_value(action: dict[str, Any], alias: str, key: str | None, value: Any) -> None:
    if key == "index":
        action["indices"] = [n for n in scalar_text(value).split(",") if n]
    elif key == "alias":
        action["aliases"] = [scalar_text(value)]
    elif key in PUT_ALIAS_ROUTINGS:
        action[PUT_ALIAS_ROUTINGS[key]] = scalar_text(value)
    elif key == "is_write_index":
        action["is_write_index"] = _flag(alias, key, value)


def parse_create_aliases(index: str, aliases: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The `aliases` of a create-index body, normalized; none may be named as the index."""
    out = {}
    for alias, body in aliases.items():
        definition = parse_definition(alias, body)
        if alias == index:
            raise _same_name_as_index(alias)
        out[alias] = definition
    return dict(sorted(out.items()))


def search_routing_values(definition: Mapping[str, Any]) -> set[str]:
    return {v for v in definition.get("search_routing", "").split(",") if v}


# -- the lookup of aliases --------------------------------------------------------------------


@dataclass(frozen=True)
class AliasLookup:
    """Alias name -> the names of the indices it points to (sorted), for one metadata value."""

    indices: Mapping[str, IndexMetadata]
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, indices: Mapping[str, IndexMetadata]) -> AliasLookup:
        aliases: dict[str, list[str]] = {}
        for name in sorted(indices):
            for alias in indices[name].aliases:
                aliases.setdefault(alias, []).append(name)
        return cls(indices, {a: tuple(names) for a, names in aliases.items()})

    def definition(self, alias: str, index: str) -> Mapping[str, Any]:
        return self.indices[index].aliases[alias]

    def hidden(self, alias: str) -> bool:
        return any(self.definition(alias, n).get("is_hidden") for n in self.aliases[alias])

    def write_index(self, alias: str) -> str | None:
        """The index writes through the alias go to: the one marked `is_write_index`, else
        the only index of the alias unless that one says `is_write_index: false`."""
        names = self.aliases[alias]
        marked = [n for n in names if self.definition(alias, n).get("is_write_index") is True]
        if marked:
            return marked[0]
        if len(names) == 1 and self.definition(alias, names[0]).get("is_write_index") is not False:
            return names[0]
        return None

    def require_write_index(self, alias: str) -> str:
        name = self.write_index(alias)
        if name is None:
            raise IllegalArgument(
                f"no write index is defined for alias [{alias}]. The write index may be explicitly disabled "
                "using is_write_index=false or the alias points to multiple indices without one being "
                "designated as a write index")
        return name

    def single_index(self, alias: str) -> str:
        """The index of an alias a single-document read goes to: it must have just one."""
        names = self.aliases[alias]
        if len(names) > 1:
            raise IllegalArgument(f"alias [{alias}] has more than one index associated with it "
                                  f"[{', '.join(names)}], can't execute a single index op")
        return names[0]

    def index_routing(self, alias: str, index: str, routing: str | None) -> str | None:
        """The routing of a single-document operation through the alias (resolveIndexRouting):
        the alias's index routing, which a request routing may only repeat."""
        alias_routing = self.definition(alias, index).get("index_routing")
        if alias_routing is None:
            return routing
        if "," in alias_routing:
            raise IllegalArgument(f"index/alias [{alias}] provided with routing value [{alias_routing}] that "
                                  "resolved to several routing values, rejecting operation")
        if routing is not None and routing != alias_routing:
            raise IllegalArgument(f"Alias [{alias}] has index routing associated with it [{alias_routing}], "
                                  f"and was provided with routing value [{routing}], rejecting operation")
        return alias_routing


# -- resolving expressions ---------------------------------------------------------------------


@dataclass
class Resolved:
    """Concrete indices in resolution order, each with the names (itself, or aliases) that
    reached it: search filters and search routing depend on which."""

    via: dict[str, set[str]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.via)

    def add(self, index: str, through: str) -> None:
        self.via.setdefault(index, set()).add(through)


def _hidden_index(metadata: IndexMetadata) -> bool:
    # index.hidden alone: a dot-prefixed name is not hidden (a pattern starting with a dot
    # still reaches hidden indices, ES's isVisibleDueToImplicitHidden).
    return metadata.setting("index.hidden")


def resolve(expression: str | None, lookup: AliasLookup, *, ignore_unavailable: bool = False,
            allow_no_indices: bool = True, expand_wildcards: str = "open",
            allow_aliases: bool = True, forbid_closed: bool = False) -> Resolved:
    """A comma list of names and wildcards, `_all` and `-exclusions`, over indices and
    aliases. Wildcards match alias names too (hidden aliases only when hidden is expanded
    or the pattern starts with a dot), and an alias stands for all its indices. With
    `allow_aliases` off (delete index, remove_index) an alias named outright is refused
    and wildcards match indices only.

    Wildcards (and `_all`) expand to the open indices, the closed ones or both, as
    `expand_wildcards` says. An action that reads or writes data (`forbid_closed`) fails
    on a closed index however it was named, or leaves it out with `ignore_unavailable`."""
    universe = lookup.indices
    parts = [p for p in (expression or "_all").split(",") if p] or ["_all"]
    expand = expand_wildcards.split(",")
    include_hidden = "hidden" in expand or "all" in expand
    wildcards_off = "none" in expand
    states = {state for state, words in (("open", ("open", "all")), ("close", ("closed", "all")))
              if not wildcards_off and any(w in expand for w in words)}
    out = Resolved()

    def expanded(n: str) -> bool:
        return universe[n].state in states

    for i, part in enumerate(parts):
        if part.startswith("-") and i > 0:
            pattern = part[1:]
            excluded = {n for n in out.via if simple_match(pattern, n)}
            if allow_aliases:
                excluded |= {n for a, names in lookup.aliases.items() if simple_match(pattern, a)
                             for n in names}
            out.via = {n: v for n, v in out.via.items() if n not in excluded}
            continue
        if part in ("_all", "*"):
            for n in sorted(universe):
                if expanded(n) and (include_hidden or not _hidden_index(universe[n])):
                    out.add(n, n)
        elif "*" in part:
            if wildcards_off:
                continue
            matched = False
            for n in sorted(universe):
                if simple_match(part, n) and expanded(n) and (include_hidden or not _hidden_index(universe[n])
                                                              or part.startswith(".")):
                    out.add(n, n)
                    matched = True
            if allow_aliases:
                for alias in sorted(lookup.aliases):
                    if simple_match(part, alias) and (include_hidden or not lookup.hidden(alias)
                                                      or part.startswith(".")):
                        for n in lookup.aliases[alias]:
                            if expanded(n):
                                out.add(n, alias)
                                matched = True
            if not matched and not allow_no_indices:
                raise IndexNotFound(part)  # each wildcard must match (WildcardExpressionResolver)
        elif part in universe:
            out.add(part, part)
        elif part in lookup.aliases:
            if not allow_aliases:
                raise matches_alias_error(part)
            for n in lookup.aliases[part]:
                out.add(n, part)
        elif not ignore_unavailable:
            raise IndexNotFound(part)
    if forbid_closed:
        closed = [n for n in out.via if universe[n].closed]
        if closed and not ignore_unavailable:
            raise IndexClosed(closed[0], universe[closed[0]].uuid)
        for n in closed:
            del out.via[n]
    if not out.via and not allow_no_indices:
        raise no_indices_error(expression, parts)
    return out


def no_indices_error(expression: str | None, parts: list[str]) -> IndexNotFound:
    """What an expression that resolved to no index says when that is not allowed
    (IndexNameExpressionResolver.notFoundException): `_all` or nothing, that no index
    exists; one expression, its name; several, no name at all (Java's null)."""
    if expression is None or parts == ["_all"]:
        return IndexNotFound("_all", "no such index [_all] and no indices exist")
    if len(parts) == 1:
        return IndexNotFound(parts[0])
    error = IndexNotFound("null")
    error.metadata = {"resource.type": "index_expression", "resource.id": list(parts)}
    return error


def alias_filter(resolved: Resolved, lookup: AliasLookup, index: str) -> dict[str, Any] | None:
    """The filter searches of `index` run with (IndicesService.buildAliasFilter): none when
    the index was named itself or through an alias without a filter; the one filter of a
    single alias; several aliases' filters as a `should` of them."""
    via = resolved.via.get(index, set())
    if not via or index in via:
        return None
    filters = []
    for alias in sorted(via):
        definition = lookup.definition(alias, index)
        if "filter" not in definition:
            return None
        filters.append(definition["filter"])
    return filters[0] if len(filters) == 1 else {"bool": {"should": filters}}


def search_routing(resolved: Resolved, lookup: AliasLookup,
                   request_routing: str | None) -> dict[str, str | None]:
    """Per index, the routing a search of it uses (resolveSearchRouting): an index named
    itself, or through an alias without search routing, takes the request's routing (None:
    every shard); through aliases with search routing, the union of their values, each
    set intersected with the request's routing when there is one."""
    requested = {v for v in (request_routing or "").split(",") if v} or None
    out: dict[str, str | None] = {}
    for index, via in resolved.via.items():
        values: set[str] = set()
        unrouted = False
        for name in via:
            alias_values = set() if name == index else search_routing_values(lookup.definition(name, index))
            if not alias_values:
                unrouted = True
                break
            values |= alias_values & requested if requested is not None else alias_values
        if unrouted:
            out[index] = request_routing or None
        else:
            out[index] = ",".join(sorted(values)) if values else None
    return out


# -- the update: add, remove, remove_index, atomically -----------------------------------------


@dataclass(frozen=True)
class AliasAction:
    """One `actions` entry of `POST /_aliases`, as sent to the master: index and alias
    expressions are resolved there, against the state the update runs on."""

    type: str  # add | remove | remove_index
    indices: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    definition: Mapping[str, Any] = field(default_factory=dict)  # add: the raw definition
    must_exist: bool | None = None


def _names(action: str, body: Mapping[str, Any], one: str, many: str, *,
           split: bool = True) -> tuple[str, ...]:
    """Index expressions are comma lists; alias names are taken whole (AliasActions.alias
    and aliases split nothing, so `a,b` is one name, which the name rules then refuse)."""
    if one in body and many in body:
        raise IllegalArgument(f"Only one of [{one}] and [{many}] is supported")
    value = body.get(one, body.get(many))
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise IllegalArgument(f"[{action}] [{many}] must be strings")
    if not split:
        return tuple(v for v in values if v)
    return tuple(n for v in values for n in v.split(",") if n)


ACTION_KEYS = {
    "add": {"index", "indices", "alias", "aliases", *DEFINITION_KEYS},
    "remove": {"index", "indices", "alias", "aliases", "must_exist"},
    "remove_index": {"index", "indices", "must_exist"},
}


def parse_actions(body: Mapping[str, Any], *, validate: bool = True) -> list[AliasAction]:
    """The `actions` of a `POST /_aliases` body, checked as IndicesAliasesRequest validates
    them before anything is resolved (unless `validate` is off: the REST layer looks at
    what was parsed first)."""
    for key in body:
        if key != "actions":
            raise ParsingError(f"[aliases] unknown field [{key}]")
    entries = body.get("actions") or []
    if not isinstance(entries, list):
        raise ParsingError("[aliases] actions must be an array")
    actions: list[AliasAction] = []
    errors: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise ParsingError("[alias_action] an action must name one of [add, remove, remove_index]")
        [(kind, spec)] = entry.items()
        if kind not in ACTION_KEYS:
            raise ParsingError(f"[alias_action] unknown field [{kind}]")
        if not isinstance(spec, Mapping):
            raise ParsingError(f"[{kind}] must be an object")
        for key in spec:
            if key not in ACTION_KEYS[kind]:
                raise ParsingError(f"[{kind}] unknown field [{key}]")
        indices = _names(kind, spec, "index", "indices")
        aliases = () if kind == "remove_index" else _names(kind, spec, "alias", "aliases", split=False)
        if not indices:
            errors.append("One of [index] or [indices] is required")
        if kind != "remove_index" and not aliases:
            errors.append("One of [alias] or [aliases] is required")
        definition = {k: v for k, v in spec.items() if k in DEFINITION_KEYS}
        must_exist = spec.get("must_exist")
        actions.append(AliasAction(kind, indices, aliases, definition,
                                   None if must_exist is None else _flag("", "must_exist", must_exist)))
    if not actions and not errors:
        errors.append("Must specify at least one alias action")
    if errors and validate:
        raise ActionRequestValidation(errors)
    return actions


@dataclass
class ActionResult:
    """What one action did (IndicesAliasesResponse.AliasActionResult): the indices it
    resolved to, and the error of a `remove` that matched no alias on any of them."""

    action: AliasAction
    indices: list[str]
    error: StrataError | None = None


@dataclass
class AliasUpdate:
    """The indices after every action, those `remove_index` deleted, and each action's result."""

    indices: dict[str, IndexMetadata]
    removed: list[str]
    results: list[ActionResult]


def apply_actions(indices: Mapping[str, IndexMetadata], actions: list[AliasAction],
                  validate_filter=None) -> AliasUpdate:
    """Every action, in order, as TransportIndicesAliasesAction and MetadataIndexAliasesService
    apply them; any failure raises before anything changes. Index expressions and the
    aliases a `remove` matches resolve against the state the update started from (aliases
    standing for their indices). A `remove` that matches nothing fails alone, in its
    result, unless no action does anything: then the request fails. `validate_filter(alias,
    filter, metadata)` checks a filter against the mapping of each index it is added to."""
    lookup = AliasLookup.of(indices)
    targets = [_targets(action, lookup) for action in actions]
    for name in dict.fromkeys(n for names in targets for n in names):
        blocks.check(indices[name], blocks.METADATA_WRITE)
    removed = list(dict.fromkeys(n for action, names in zip(actions, targets, strict=True)
                                 if action.type == "remove_index" for n in names))
    aliases = {n: dict(m.aliases) for n, m in indices.items() if n not in removed}
    remaining = {n: m for n, m in indices.items() if n not in removed}
    results: list[ActionResult] = []
    produced = False  # whether any action had something to do (ES: final actions)
    for action, names in zip(actions, targets, strict=True):
        if action.type == "remove_index":
            results.append(ActionResult(action, names))
            produced = True
            continue
        gone = [n for n in names if n in removed]
        if gone:
            raise IndexNotFound(gone[0])
        if action.type == "add":
            for alias in action.aliases:
                definition = parse_definition(alias, action.definition)
                if alias in remaining:
                    raise _same_name_as_index(alias)
                for index in names:
                    if "filter" in definition and validate_filter is not None:
                        validate_filter(alias, definition["filter"], indices[index])
                    aliases[index][alias] = definition
            results.append(ActionResult(action, names))
            produced = True
            continue
        removals = [(index, alias) for index in names for alias in _to_remove(action, indices[index])]
        for index, alias in removals:
            if alias in aliases[index]:
                del aliases[index][alias]
            elif action.must_exist:
                raise RequiredAliasMissing(alias)
        error = None if removals else AliasesNotFound(list(action.aliases))
        results.append(ActionResult(action, names, error))
        produced = produced or bool(removals)
    if actions and not produced:
        raise AliasesNotFound(list(dict.fromkeys(a for action in actions for a in action.aliases)))
    updated = {n: m.with_aliases(aliases[n]) for n, m in remaining.items()}
    validate_aliases(updated)
    return AliasUpdate(updated, removed, results)


def _targets(action: AliasAction, lookup: AliasLookup) -> list[str]:
    """The indices an action's index expressions name; `remove_index` takes concrete ones only."""
    if action.type == "remove_index":
        for part in action.indices:
            if part in lookup.aliases:
                raise matches_alias_error(part)
        return resolve(",".join(action.indices), lookup, allow_no_indices=False, allow_aliases=False).names
    return resolve(",".join(action.indices), lookup, allow_no_indices=False).names


def _to_remove(action: AliasAction, metadata: IndexMetadata) -> list[str]:
    """The aliases of the index a `remove` matches (concreteAliases); none matched with
    `must_exist`: the names as given, which then fail as missing."""
    matched = [a for a in metadata.aliases
               if any(p in ("_all", "*") or simple_match(p, a) for p in action.aliases)]
    if not matched and action.must_exist:
        return list(action.aliases)
    return matched


def validate_aliases(indices: Mapping[str, IndexMetadata]) -> None:
    """What must hold of every alias in the metadata (Metadata.Builder.validateAlias): at
    most one write index, and one `is_hidden` for all its indices. Both are
    IllegalStateException in Elasticsearch, so 500: the metadata itself would be wrong."""
    lookup = AliasLookup.of(indices)
    for alias, names in lookup.aliases.items():
        writers = [n for n in names if lookup.definition(alias, n).get("is_write_index") is True]
        if len(writers) > 1:
            raise IllegalState(f"alias [{alias}] has more than one write index [{','.join(writers)}]")
        hidden = [n for n in names if lookup.definition(alias, n).get("is_hidden") is True]
        if hidden and len(hidden) != len(names):
            visible = [n for n in names if n not in hidden]
            raise IllegalState(
                f"alias [{alias}] has is_hidden set to true on indices [{','.join(hidden)}] but does not "
                f"have is_hidden set to true on indices [{','.join(visible)}]; alias must have the same "
                "is_hidden setting on all indices")


def check_new_index(name: str, aliases: Mapping[str, Any], indices: Mapping[str, IndexMetadata]) -> None:
    """A new index's name may not be an alias's, nor its aliases an index's name."""
    lookup = AliasLookup.of(indices)
    if name in lookup.aliases:
        raise InvalidIndexName(name, "already exists as alias")
    for alias in aliases:
        if alias in indices:
            raise _same_name_as_index(alias)
