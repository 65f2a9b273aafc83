"""The mapping tree: leaf fields, objects and the root, immutable once built.

A FieldMapper keeps the parameters its definition set explicitly (normalized), so that
it prints back in Elasticsearch's normalized form and merges by Elasticsearch's rules;
everything the document parser needs per value (the converter, null_value, ignore_above,
whether the field is indexed) is resolved once, when the mapper is built, because
mappers are built once per mapping version and used for every document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .dates import DEFAULT_DYNAMIC_DATE_FORMATS
from .types import CONSTANT_KEYWORD, FIELD_TYPES, IGNORE_ABOVE_DEFAULT, FieldType, resolve_null_value

DYNAMIC_VALUES = ("true", "false", "strict")
TEXT_TYPES = ("text", "keyword")  # a string value is indexed as it is


class FieldMapper:
    __slots__ = ("convert", "copy_to", "doc_values", "emits", "fields", "ignore_above", "ignore_malformed",
                 "index", "name", "null_value", "params", "path", "plain", "store", "sub_plan", "subs",
                 "type", "type_name")

    def __init__(self, name: str, path: str, type_name: str, params: dict[str, Any],
                 fields: dict[str, FieldMapper] | None = None, copy_to: tuple[str, ...] = ()):
        self.name = name
        self.path = path
        self.type_name = type_name
        self.type: FieldType = FIELD_TYPES[type_name]
        self.params = params
        self.fields = fields or {}
        self.copy_to = copy_to
        get = self.get
        known = self.type.params
        self.convert: Callable[[Any], Any] = self.type.converter(get, path)
        self.null_value = resolve_null_value(type_name, path, params.get("null_value"), get)
        self.index: bool = get("index") if "index" in known else False
        # A constant_keyword is aggregatable and sortable as a column of its constant
        # (ShardContext.doc_values), but gives the index nothing.
        constant = type_name == CONSTANT_KEYWORD.name
        self.doc_values: bool = get("doc_values") if "doc_values" in known else constant
        self.store: bool = get("store") if "store" in known else False
        self.ignore_malformed: bool = get("ignore_malformed") if "ignore_malformed" in known else False
        above = get("ignore_above") if "ignore_above" in self.type.params else IGNORE_ABOVE_DEFAULT
        self.ignore_above: int | None = None if above == IGNORE_ABOVE_DEFAULT else above
        # A field that is neither indexed, nor has doc values, nor is stored gives the
        # index nothing: its values are still checked, but not emitted.
        self.emits = (self.index or self.doc_values or self.store) and not constant
        self.subs = tuple(self.fields.values())
        # The multi-fields as the fast path reads them: (path, converter, indexes strings as they
        # are, half of ignore_above, ignore_above, emits, mapper)
        self.sub_plan = tuple(
            (sub.path, sub.convert, sub.type_name in TEXT_TYPES,
             sub.ignore_above // 2 if sub.ignore_above is not None else 0, sub.ignore_above, sub.emits, sub)
            for sub in self.subs)
        # A value of a plain field goes straight to the index: the document parser's fast path.
        # (A point's multi-fields take its geohash, not the value: the slow path gives it.)
        self.plain = self.emits and self.ignore_above is None and not copy_to and \
            not (self.subs and type_name == "geo_point")

    def get(self, param: str) -> Any:
        params = self.params
        if param in params:
            return params[param]
        return self.type.params[param].default

    @property
    def constant(self) -> str | None:
        """A constant_keyword field's value: every document of the index has it."""
        return self.params.get("value")

    @property
    def analyzer(self) -> str:
        return self.get("analyzer")

    @property
    def normalizer(self) -> str | None:
        """The keyword normalizer the index applies to this field's values, if any."""
        return self.params.get("normalizer")

    @property
    def search_analyzer(self) -> str:
        """The analyzer for queries: `search_analyzer`, else `analyzer` (TextParams.Analyzers)."""
        return self.params.get("search_analyzer") or self.get("analyzer")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type_name}
        params = self.params
        for name, param in self.type.params.items():
            if param.printed(params):
                out[name] = param.render(params[name])
        if self.copy_to:
            out["copy_to"] = list(self.copy_to)
        if self.fields:
            out["fields"] = {n: self.fields[n].to_dict() for n in sorted(self.fields)}
        return out

    def walk(self) -> Iterator[FieldMapper]:
        yield self
        for sub in self.fields.values():
            yield from sub.walk()

    def __repr__(self) -> str:
        return f"FieldMapper({self.path!r}, {self.type_name!r})"


class ObjectMapper:
    """An object and its properties. `dynamic` and `enabled` are None when not set:
    an object inherits `dynamic` from its parent, and a mapping update changes only what
    it sets explicitly."""

    __slots__ = ("_plan", "children", "dynamic", "enabled", "name", "path")

    def __init__(self, name: str, path: str, children: dict[str, FieldMapper | ObjectMapper] | None = None,
                 dynamic: str | None = None, enabled: bool | None = None):
        self.name = name
        self.path = path
        self.children = children if children is not None else {}
        self.dynamic = dynamic
        self.enabled = enabled
        self._plan: dict[str, tuple] | None = None

    @property
    def plan(self) -> dict[str, tuple]:
        """The plain leaf children, by name: (path, converter, multi-fields), what the
        document parser's fast path needs with no attribute lookups. Built on first use:
        a mapper under construction (a document's new object) is still gaining children."""
        plan = self._plan
        if plan is None:
            plan = self._plan = {name: (c.path, c.convert, c.sub_plan, c.type_name in TEXT_TYPES)
                                 for name, c in self.children.items()
                                 if c.__class__ is FieldMapper and c.plain}
        return plan

    @property
    def is_enabled(self) -> bool:
        return self.enabled is not False

    def object_params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.dynamic is not None:
            out["dynamic"] = self.dynamic  # printed as a string, as ObjectMapper prints it
        if self.enabled is False:
            out["enabled"] = False
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not self.children:
            out["type"] = "object"  # only written when there are no properties to show it
        out.update(self.object_params())
        if self.children:
            out["properties"] = self.properties_dict()
        return out

    def properties_dict(self) -> dict[str, Any]:
        return {n: self.children[n].to_dict() for n in sorted(self.children)}

    def walk(self) -> Iterator[FieldMapper | ObjectMapper]:
        for child in self.children.values():
            if isinstance(child, ObjectMapper):
                yield child
                yield from child.walk()
            else:
                yield from child.walk()

    def __repr__(self) -> str:
        return f"ObjectMapper({self.path!r}, {sorted(self.children)})"


class RootMapper(ObjectMapper):
    """The root object, with the parameters only the root has. Explicit-or-None values
    print only when set, as RootObjectMapper prints them."""

    __slots__ = ("date_detection", "dynamic_date_formats", "meta", "numeric_detection", "routing_required",
                 "source_enabled")

    def __init__(self, children: dict[str, FieldMapper | ObjectMapper] | None = None,
                 dynamic: str | None = None, enabled: bool | None = None, *,
                 date_detection: bool | None = None, numeric_detection: bool | None = None,
                 dynamic_date_formats: tuple[str, ...] | None = None,
                 meta: dict[str, Any] | None = None, routing_required: bool | None = None,
                 source_enabled: bool | None = None):
        super().__init__("_doc", "", children, dynamic, enabled)
        self.date_detection = date_detection
        self.numeric_detection = numeric_detection
        self.dynamic_date_formats = dynamic_date_formats
        self.meta = meta
        self.routing_required = routing_required
        self.source_enabled = source_enabled

    @property
    def effective_date_formats(self) -> tuple[str, ...]:
        formats = self.dynamic_date_formats
        return formats if formats is not None else DEFAULT_DYNAMIC_DATE_FORMATS

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.meta is not None:
            out["_meta"] = self.meta
        if self.routing_required:
            out["_routing"] = {"required": True}
        if self.source_enabled is False:
            out["_source"] = {"enabled": False}
        out.update(self.object_params())
        if self.dynamic_date_formats is not None:
            out["dynamic_date_formats"] = list(self.dynamic_date_formats)
        if self.date_detection is not None:
            out["date_detection"] = self.date_detection
        if self.numeric_detection is not None:
            out["numeric_detection"] = self.numeric_detection
        if self.children:
            out["properties"] = self.properties_dict()
        return out

    def with_children(self, children: dict[str, FieldMapper | ObjectMapper]) -> RootMapper:
        return RootMapper(children, self.dynamic, self.enabled, date_detection=self.date_detection,
                          numeric_detection=self.numeric_detection,
                          dynamic_date_formats=self.dynamic_date_formats, meta=self.meta,
                          routing_required=self.routing_required, source_enabled=self.source_enabled)


IGNORED = "_ignored"
# The `_ignored` metadata field (IgnoredFieldMapper, as indices made since 8.15 have it):
# indexed and with doc values, not stored, searched as a keyword is. Every mapping has it;
# no mapping definition names it (a root property of that name is refused, a document
# key too), so it is known by path alone (Mapping.field).
IGNORED_FIELD = FieldMapper(IGNORED, IGNORED, "keyword", {})


def child_path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name
