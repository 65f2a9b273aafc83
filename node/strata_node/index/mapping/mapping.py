"""A compiled mapping: the tree, lookups by full path, and the operations the node needs
(render, merge an update, parse a document). Built once per mapping version and shared;
it never changes."""

from __future__ import annotations

from typing import Any

from ...common.errors import StrataError
from .definition import AnalysisNames, parse_mapping, validate
from .document import ParsedDocument, parse_document
from .errors import FailedToParseMapping
from .limits import MappingLimits
from .mappers import IGNORED, IGNORED_FIELD, FieldMapper, ObjectMapper, RootMapper
from .merge import merge_root


class Mapping:
    __slots__ = ("_dict", "fields", "lookup", "objects", "root")

    def __init__(self, root: RootMapper):
        self.root = root
        self.fields: dict[str, FieldMapper] = {}  # every leaf, multi-fields included, by full path
        self.objects: dict[str, ObjectMapper] = {}
        for mapper in root.walk():
            if isinstance(mapper, ObjectMapper):
                self.objects[mapper.path] = mapper
            else:
                self.fields[mapper.path] = mapper
        self.lookup: dict[str, FieldMapper | ObjectMapper] = {**self.objects, **self.fields}
        self._dict: dict[str, Any] | None = None

    @classmethod
    def parse(cls, source: Any, *, analysis: AnalysisNames | None = None) -> Mapping:
        """A whole mapping definition (index creation): read, then checked as a whole."""
        root = cls.parse_update(source, analysis=analysis)
        validate(root)
        return cls(root)

    @staticmethod
    def parse_update(source: Any, *, analysis: AnalysisNames | None = None) -> RootMapper:
        """A mapping definition to merge into a mapping (put-mapping), read but not yet
        checked as a whole: copy_to may name a field the current mapping has."""
        try:
            return parse_mapping(source, analysis=analysis)
        except StrataError as e:
            raise FailedToParseMapping(e) from None

    @classmethod
    def empty(cls) -> Mapping:
        return cls(RootMapper())

    def to_dict(self) -> dict[str, Any]:
        """The normalized form GET _mapping shows and index metadata stores."""
        if self._dict is None:
            self._dict = self.root.to_dict()
        return self._dict

    def merge(self, update: RootMapper | Mapping) -> Mapping:
        """This mapping with an update merged in (put-mapping, or a document's new fields)."""
        root = update.root if isinstance(update, Mapping) else update
        merged = merge_root(self.root, root)
        validate(merged)
        return Mapping(merged)

    @property
    def total_fields(self) -> int:
        """What `index.mapping.total_fields.limit` counts: every leaf (multi-fields too)
        and every object, not the root nor the metadata fields."""
        return len(self.fields) + len(self.objects)

    def parse_document(self, source: dict[str, Any], doc_id: str,
                       limits: MappingLimits | None = None) -> ParsedDocument:
        """`limits`: the index's, counted against the fields the document adds (None: a
        replica or a replay, whose primary counted them)."""
        return parse_document(self.root, self.lookup, source, doc_id, limits, self.total_fields)

    def field(self, path: str) -> FieldMapper | None:
        """A leaf by full path; `_ignored` too, which every mapping has (not in `fields`:
        wildcards over the mapping leave metadata fields out, as ES's do)."""
        mapper = self.fields.get(path)
        if mapper is None and path == IGNORED:
            return IGNORED_FIELD
        return mapper

    @property
    def routing_required(self) -> bool:
        return bool(self.root.routing_required)

    @property
    def source_enabled(self) -> bool:
        return self.root.source_enabled is not False
