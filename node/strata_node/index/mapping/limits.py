"""The size limits of a mapping (Elasticsearch's `index.mapping.*.limit` settings), which
keep a stream of documents with ever new keys from growing a mapping without bound.

A mapping as a whole is checked whenever it changes (index creation, put-mapping,
templates, a document's new fields), as MappingLookup.checkLimits does: the total count
of fields (every leaf, multi-fields and objects included, the root and the metadata
fields not), the depth of every object, the length of every name. A document's new
fields are also counted as the parser adds them (DocumentParserContext.addDynamicMapper),
so a document with thousands of new keys fails at the first one over the limit, naming
how many it was adding, or with `ignore_dynamic_beyond_limit` keeps the rest of its
values out of the mapping and lists them in `_ignored`.

Nested mappings are refused, so the nested limits hold whatever their value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from ...common.errors import IllegalArgument
from ...settings import index_setting
from .mappers import FieldMapper, ObjectMapper

if TYPE_CHECKING:
    from .mapping import Mapping as CompiledMapping

LONG_MAX = (1 << 63) - 1
TOTAL_FIELDS = "index.mapping.total_fields.limit"
IGNORE_DYNAMIC_BEYOND_LIMIT = "index.mapping.total_fields.ignore_dynamic_beyond_limit"
DEPTH = "index.mapping.depth.limit"
FIELD_NAME_LENGTH = "index.mapping.field_name_length.limit"


@dataclass(frozen=True, slots=True)
class MappingLimits:
    total_fields: int = 1000
    depth: int = 20
    field_name_length: int = LONG_MAX
    ignore_dynamic_beyond_limit: bool = False

    @classmethod
    def of(cls, setting: Callable[[str], Any]) -> MappingLimits:
        """The limits an index's settings set (`setting` reads a parsed index setting)."""
        return cls(setting(TOTAL_FIELDS), setting(DEPTH), setting(FIELD_NAME_LENGTH),
                   setting(IGNORE_DYNAMIC_BEYOND_LIMIT))

    @classmethod
    def of_settings(cls, settings: Mapping[str, Any]) -> MappingLimits:
        """The limits of flat index settings not yet in any metadata (a new index, a template)."""
        return cls.of(partial(index_setting, settings))

    def for_copies(self) -> MappingLimits | None:
        """What a document written already is parsed again with (a replica, a translog
        replay, a rollback, a get of `_ignored`): the primary counted its new fields and
        published those it kept, so nothing is refused again, but under
        `ignore_dynamic_beyond_limit` the fields it left out must be left out (and listed
        in `_ignored`) again, not mapped: the same total limit, nothing else. None when
        the index does not leave fields out: the document then adds none the mapping
        lacks, unless the mapping has not reached this node yet (a replica waits for it)."""
        if not self.ignore_dynamic_beyond_limit:
            return None
        return MappingLimits(self.total_fields, LONG_MAX, LONG_MAX, True)


UNLIMITED = MappingLimits(LONG_MAX, LONG_MAX, LONG_MAX)


def total_fields_exceeded(limit: int, adding: int = 0) -> IllegalArgument:
    return IllegalArgument(f"Limit of total fields [{limit}] has been exceeded"
                           + (f" while adding new fields [{adding}]" if adding > 0 else ""))


def check_depth(limit: int, object_path: str) -> None:
    """An object's depth counts the root as 1: `a` is 2, `a.b` is 3."""
    if object_path.count(".") + 2 > limit:
        raise IllegalArgument(f"Limit of mapping depth [{limit}] has been exceeded due to object field "
                              f"[{object_path}]")


def _java_length(name: str) -> int:
    """String.length(): UTF-16 code units."""
    return len(name) + sum(1 for c in name if ord(c) > 0xFFFF)


def check_limits(mapping: CompiledMapping, limits: MappingLimits) -> None:
    """Raise what Elasticsearch raises for a mapping over its index's limits, in the order
    it checks them."""
    if mapping.total_fields > limits.total_fields:
        raise total_fields_exceeded(limits.total_fields)
    if limits.depth < LONG_MAX:
        for path in mapping.objects:
            check_depth(limits.depth, path)
    if limits.field_name_length < LONG_MAX:
        for mapper in [*mapping.objects.values(), *mapping.fields.values()]:
            if _java_length(mapper.name) > limits.field_name_length:
                raise IllegalArgument(f"Field name [{mapper.name}] is longer than the limit of "
                                      f"[{limits.field_name_length}] characters")


class FieldBudget:
    """The new fields one document may still add to a mapping of `total` fields."""

    __slots__ = ("added", "limits", "remaining")

    def __init__(self, limits: MappingLimits, total: int):
        self.limits = limits
        self.remaining = limits.total_fields - total
        self.added = 0

    def admit(self, mapper: FieldMapper | ObjectMapper) -> bool:
        """Count a new mapper (a field with its multi-fields; an object alone, its children
        come one by one). False: it is over the limit and is to be left out; raises when
        the index does not leave such fields out."""
        if isinstance(mapper, ObjectMapper):
            check_depth(self.limits.depth, mapper.path)
            size = 1
        else:
            size = 1 + len(mapper.fields)
        adding = self.added + size
        if self.remaining < adding:
            if self.limits.ignore_dynamic_beyond_limit:
                return False
            raise total_fields_exceeded(self.limits.total_fields, adding)
        self.added = adding
        return True
