"""Rolling an alias over to a new index: the pure pieces of Elasticsearch's
MetadataRolloverService and RolloverConditions, so the master's update and the unit tests
share them.

A rollover target is an alias with a write index (Strata has no data streams). The index
it rolls over from is that write index; the new one is named in the request or generated
from the old one's provided name (`logs-000001` -> `logs-000002`). The conditions, when
there are any, are evaluated against the old index's figures (documents of its primaries,
its age from `index.creation_date`, its primaries' store sizes): every `min_*` condition
and at least one `max_*` must hold, as RolloverConditions.areConditionsMet decides; a
request without conditions always rolls over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..common.errors import (
    ActionRequestValidation,
    IllegalArgument,
    InvalidIndexName,
    NumberFormatError,
    ResourceAlreadyExists,
    StrataError,
)
from ..common.units import INT_MAX, INT_MIN, human_bytes, human_millis, java_int
from ..transport.wire import Message
from .aliases import AliasAction, AliasLookup
from .metadata import IndexMetadata
from .names import validate_index_name
from .templates.resolve import composed_parts, find_template

if TYPE_CHECKING:
    from ..cluster.state import Metadata

# MetadataRolloverService.INDEX_NAME_PATTERN (Java's \d is ASCII digits only).
INDEX_NAME_PATTERN = re.compile(r".*-[0-9]+")


class RolloverTargetMissing(StrataError):
    """ES's ResourceNotFoundException for a rollover target that names nothing."""

    type = "resource_not_found_exception"
    status = 404


# -- names -------------------------------------------------------------------------------------


def is_date_math(name: str) -> bool:
    """Whether a name is a date math expression (`<logs-{now/d}-1>`), as
    IndexNameExpressionResolver.resolveDateMathExpression recognizes one."""
    return name.startswith("<") and name.endswith(">")


def refuse_date_math(name: str) -> None:
    """Strata resolves no date math in index names (index creation refuses `<` and `>`
    as Elasticsearch refuses them in a resolved name), so a rollover that would need one
    is refused in so many words rather than with the name rules' message."""
    if is_date_math(name):
        raise IllegalArgument(f"date math index name [{name}] is not supported: Strata does not resolve "
                              "date math in index names")


def generate_rollover_index_name(source: str) -> str:
    """MetadataRolloverService.generateRolloverIndexName: the number after the last `-`,
    plus one, at least six digits wide. The number is read as Java's Integer.parseInt
    reads it (too large: number_format_exception) and incremented as a Java int."""
    refuse_date_math(source)
    if INDEX_NAME_PATTERN.fullmatch(source) is None:
        raise IllegalArgument(f"index name [{source}] does not match pattern '^.*-\\d+$'")
    prefix, _, digits = source.rpartition("-")
    counter = java_int(digits)
    if counter is None:
        raise NumberFormatError(f'For input string: "{digits}"')
    counter = INT_MIN if counter == INT_MAX else counter + 1
    return f"{prefix}-{counter:06d}"


@dataclass(frozen=True)
class RolloverNames:
    """MetadataRolloverService.NameResolution for an alias: the write index it rolls over
    from (`source`) and the index it rolls over to (`rollover`)."""

    source: str
    rollover: str


def validate_target(indices: Mapping[str, IndexMetadata], target: str) -> AliasLookup:
    """MetadataRolloverService.validate: the target must be an alias with a write index."""
    if target in indices:
        raise IllegalArgument("rollover target is a [concrete index] but one of [alias,data_stream] was "
                              "expected")
    lookup = AliasLookup.of(indices)
    if target not in lookup.aliases:
        raise RolloverTargetMissing(f"rollover target [{target}] does not exist")
    if lookup.write_index(target) is None:
        raise IllegalArgument(f"rollover target [{target}] does not point to a write index")
    return lookup


def resolve_rollover_names(indices: Mapping[str, IndexMetadata], target: str,
                           new_index: str | None) -> RolloverNames:
    """The names a rollover of `target` uses (resolveAliasRolloverNames): the new index
    is named after the write index's `index.provided_name`, the name it was created with."""
    lookup = validate_target(indices, target)
    source = lookup.write_index(target)
    provided = indices[source].settings.get("index.provided_name", source)
    name = new_index if new_index is not None else generate_rollover_index_name(str(provided))
    refuse_date_math(name)
    return RolloverNames(source, name)


def check_new_index_name(name: str, indices: Mapping[str, IndexMetadata]) -> None:
    """MetadataCreateIndexService.validateIndexName, as the rollover calls it before it
    evaluates anything (so a dry run fails too): the name rules, then no index or alias
    of that name."""
    validate_index_name(name)
    existing = indices.get(name)
    if existing is not None:
        raise ResourceAlreadyExists(f"index [{name}/{existing.uuid}] already exists",
                                    index_uuid=existing.uuid, index=name)
    if name in AliasLookup.of(indices).aliases:
        raise InvalidIndexName(name, "already exists as alias")


def rollover_alias_actions(old: str, new: str, alias: str,
                           definition: Mapping[str, Any]) -> list[AliasAction]:
    """MetadataRolloverService.rolloverAliasToNewIndex. An alias whose write index was
    marked `is_write_index: true` keeps the old index, marked false, and marks the new one
    true; an alias that wrote to its only index implicitly moves to the new one. Either
    way the alias is added afresh (no filter, no routing) with the old definition's
    `is_hidden`, as Elasticsearch's AliasAction.Add replaces it."""
    hidden = {} if definition.get("is_hidden") is None else {"is_hidden": definition["is_hidden"]}
    if definition.get("is_write_index") is True:
        return [AliasAction("add", (new,), (alias,), {"is_write_index": True, **hidden}),
                AliasAction("add", (old,), (alias,), {"is_write_index": False, **hidden})]
    return [AliasAction("add", (new,), (alias,), hidden), AliasAction("remove", (old,), (alias,))]


def check_no_duplicated_alias_in_index_template(metadata: Metadata, name: str, alias: str,
                                                hidden: bool) -> None:
    """MetadataRolloverService.checkNoDuplicatedAliasInIndexTemplate: a template that
    would give the new index the rollover alias too would leave the alias with two write
    candidates, so the rollover is refused before anything is made."""
    template = find_template(metadata.index_templates, name, hidden=hidden)
    if template is None:
        return
    for part in composed_parts(metadata.index_templates[template], metadata.component_templates):
        if part.aliases and alias in part.aliases:
            raise IllegalArgument(f"Rollover alias [{alias}] can point to multiple indices, found duplicated "
                                  f"alias [[{', '.join(part.aliases)}]] in index template [{template}]")


# -- conditions --------------------------------------------------------------------------------

AGE, DOCS, SIZE = "age", "docs", "size"
# Each condition's name -> what its value measures.
CONDITIONS = {"max_age": AGE, "max_docs": DOCS, "max_size": SIZE, "max_primary_shard_size": SIZE,
              "max_primary_shard_docs": DOCS, "min_age": AGE, "min_docs": DOCS, "min_size": SIZE,
              "min_primary_shard_size": SIZE, "min_primary_shard_docs": DOCS}


@dataclass(frozen=True)
class ConditionStats:
    """Condition.Stats: the figures of the index rolled over from."""

    num_docs: int = 0  # documents of its primaries
    index_created: int = 0  # index.creation_date, ms since the epoch
    index_size: int = 0  # bytes, its primaries' stores together
    max_primary_shard_size: int = 0
    max_primary_shard_docs: int = 0


class Condition(Message):
    """One rollover condition (MaxAgeCondition, MinDocsCondition, ...). `value` is
    milliseconds for the ages, bytes for the sizes, a count for the documents."""

    name: str
    value: float

    @property
    def type(self) -> str:
        return self.name[:3]  # "max" or "min"

    @property
    def key(self) -> str:
        """Condition.toString, the key of the response's `conditions`: `[max_docs: 5]`,
        `[max_age: 7d]`, `[max_size: 5gb]` (TimeValue and ByteSizeValue as they print)."""
        kind = CONDITIONS[self.name]
        text = (human_millis(self.value) if kind == AGE else human_bytes(int(self.value)) if kind == SIZE
                else str(int(self.value)))
        return f"[{self.name}: {text}]"

    def evaluate(self, stats: ConditionStats, now_millis: int) -> bool:
        """Whether the index has reached the value: each condition holds at or past it."""
        measured = {"max_age": now_millis - stats.index_created, "min_age": now_millis - stats.index_created,
                    "max_docs": stats.num_docs, "min_docs": stats.num_docs,
                    "max_size": stats.index_size, "min_size": stats.index_size,
                    "max_primary_shard_size": stats.max_primary_shard_size,
                    "min_primary_shard_size": stats.max_primary_shard_size,
                    "max_primary_shard_docs": stats.max_primary_shard_docs,
                    "min_primary_shard_docs": stats.max_primary_shard_docs}[self.name]
        return measured >= self.value


def evaluate_conditions(conditions: Sequence[Condition], stats: ConditionStats | None,
                        now_millis: int) -> dict[str, bool]:
    """TransportRolloverAction.evaluateConditions: each condition's key and whether it
    holds; without figures (the index is gone) none holds."""
    if stats is None:
        return {c.key: False for c in conditions}
    return {c.key: c.evaluate(stats, now_millis) for c in conditions}


def conditions_met(conditions: Sequence[Condition], results: Mapping[str, bool]) -> bool:
    """RolloverConditions.areConditionsMet: no condition at all, or every `min_*` and at
    least one `max_*` holding."""
    if not results:
        return True
    mins = all(results.get(c.key, False) for c in conditions if c.type == "min")
    maxes = any(results.get(c.key, False) for c in conditions if c.type == "max")
    return mins and maxes


def validate_conditions(conditions: Sequence[Condition]) -> None:
    """RolloverRequest.validate: `min_*` conditions only bound `max_*` ones."""
    if any(c.type == "min" for c in conditions) and not any(c.type == "max" for c in conditions):
        raise ActionRequestValidation(["at least one max_* rollover condition must be set when using min_* "
                                       "conditions"])


def lazy_refusal(conditions: Sequence[Condition]) -> IllegalArgument:
    """`lazy` marks a data stream to roll over at its next write; an alias cannot be, and
    Strata has no data streams, so it is always refused, in TransportRolloverAction's words."""
    if conditions:
        return IllegalArgument("Lazy rollover can be applied only on a data stream with no conditions. "
                               "Please remove the query parameter 'lazy'.")
    return IllegalArgument("Lazy rollover can be applied only on a data stream. Please remove the query "
                           "parameter 'lazy'.")
