"""Parsing a document against a mapping: the values each field gives the index, and the
mapping update the document implies (DocumentParser).

The walk runs once per document on the write path, so the common case (every field
already mapped, no dots in names) is a dictionary lookup and a converter call per value.
A document that needs new fields gets them built as it goes, in an overlay keyed by full
path, so later values in the same document (array elements, a dotted spelling of the
same field) use them; the new mappers, with shells of their existing parents, form the
update the caller merges into the mapping before the write is acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...common.errors import IllegalArgument
from .definition import METADATA_FIELDS
from .dynamic import infer_field
from .errors import DocumentParseError, EmptyNumber, MalformedValue, StrictDynamicMapping, java_string
from .geo import geohash, is_point_array
from .limits import FieldBudget, MappingLimits
from .mappers import IGNORED, FieldMapper, ObjectMapper, RootMapper
from .paths import child_path, split_path

_NOTHING_IGNORED: tuple[str, ...] = ()
GEO_POINT = "geo_point"  # takes objects and [lon, lat] arrays as one value


class ParsedDocument:
    """What one document gives the index.

    fields: field path -> normalized values, in document order (multi-fields under
        their own path, `message.keyword`; copy_to targets under theirs); a document
        that left fields out also has `_ignored`, their paths sorted, which the index
        takes as any keyword (IgnoredFieldMapper.postParse: terms and doc values), so it
        travels wherever the fields go (the indexing worker, replicas, replays);
    ignored: the fields left out by `ignore_malformed`, `ignore_above` or the field
        limit under `ignore_dynamic_beyond_limit`, in the order met;
    dynamic_update: the new fields, as a mapping fragment to merge, or None.
    """

    __slots__ = ("dynamic_update", "fields", "ignored")

    def __init__(self, fields: dict[str, list[Any]], ignored: Sequence[str],
                 dynamic_update: RootMapper | None):
        self.fields = fields
        self.ignored = ignored
        self.dynamic_update = dynamic_update

    def __repr__(self) -> str:
        return f"ParsedDocument({self.fields!r}, ignored={self.ignored!r}, update={self.dynamic_update!r})"


def _not_an_object(name: str, existing: FieldMapper) -> DocumentParseError:
    return DocumentParseError(f"Could not dynamically add mapping for field [{name}]. Existing mapping for "
                              f"[{existing.path}] must be of type object but found [{existing.type_name}].")


def _over(text: str, limit: int) -> bool:
    """Whether Java's String.length() (UTF-16 units), which ignore_above compares
    against, is over the limit."""
    if len(text) > limit:
        return True
    return not text.isascii() and len(text.encode("utf-16-le")) // 2 > limit


class _DocumentParser:
    __slots__ = ("additions", "budget", "doc_id", "fields", "ignored", "limits", "lookup", "new", "root",
                 "total")

    def __init__(self, root: RootMapper, lookup: dict[str, FieldMapper | ObjectMapper], doc_id: str,
                 limits: MappingLimits | None = None, total: int = 0):
        self.root = root
        self.limits = limits  # the index's, for the fields this document adds (None: no count)
        self.total = total  # the fields of the mapping
        self.budget: FieldBudget | None = None  # made at the first new field
        self.lookup = lookup  # full path -> mapper, every object and leaf (multi-fields too)
        self.doc_id = doc_id
        self.fields: dict[str, list[Any]] = {}
        # Made when first needed: most documents ignore nothing and add nothing.
        self.ignored: list[str] | None = None
        self.new: dict[str, FieldMapper | ObjectMapper] | None = None  # mappers this document created
        self.additions: list[tuple[str, FieldMapper | ObjectMapper]] | None = None  # (parent, new child)

    # -- objects ----------------------------------------------------------------------------

    def object(self, obj: ObjectMapper, source: dict[str, Any], dynamic: str) -> None:
        if dynamic == "false" and not obj.children and not self.new:
            # Nothing mapped here and nothing may be added (an index of stored documents):
            # only a name that is an error whatever the mapping needs a look.
            for key in source:
                if "." in key or not key or key.isspace() or (not obj.path and key in METADATA_FIELDS):
                    self.unmapped(obj, key, source[key], dynamic)
            return
        # objects this document is creating are still gaining children: no plan for them
        plan = None if self.new and obj.path in self.new else obj.plan.get
        fields = self.fields
        for key, value in source.items():
            step = plan(key) if plan is not None else None
            if step is not None and value is not None and value.__class__ is not list:
                # the common case, inline: one scalar for a plain mapped field
                path, convert, subs, text = step
                if text and value.__class__ is str:
                    normalized = value
                else:
                    try:
                        normalized = convert(value)
                    except MalformedValue:
                        self.value(obj.children[key], value, True)
                        continue
                if path in fields:
                    fields[path].append(normalized)
                else:
                    fields[path] = [normalized]
                for sub_path, sub_convert, sub_text, half, above, emits, sub in subs:
                    if sub_text and value.__class__ is str:
                        normalized = value
                    else:
                        try:
                            normalized = sub_convert(value)
                        except MalformedValue:
                            self.value(sub, value, False)
                            continue
                    if above is not None and len(normalized) > half and _over(normalized, above):
                        self.ignore(sub_path)
                    elif emits:
                        if sub_path in fields:
                            fields[sub_path].append(normalized)
                        else:
                            fields[sub_path] = [normalized]
                continue
            child = obj.children.get(key)
            if child is None:
                self.unmapped(obj, key, value, dynamic)
            elif child.__class__ is FieldMapper:
                self.value(child, value, True)
            else:
                self.object_value(child, key, value, dynamic)

    def object_value(self, obj: ObjectMapper, key: str, value: Any, dynamic: str) -> None:
        """A value for a mapped object: an object, null, or an array of those."""
        if value.__class__ is dict:
            if obj.enabled is not False:
                self.object(obj, value, obj.dynamic or dynamic)
        elif value.__class__ is list:
            for element in value:
                self.object_value(obj, key, element, dynamic)
        elif value is not None:
            raise DocumentParseError(f"object mapping for [{obj.path}] tried to parse field [{key}] as "
                                     "object, but found a concrete value")

    def metadata_field(self, key: str) -> None:
        inner = DocumentParseError(f"Field [{key}] is a metadata field and cannot be added inside a "
                                   "document. Use the index API request parameters.")
        raise DocumentParseError(f"failed to parse: {inner.reason}", caused_by=inner)

    def child(self, obj: ObjectMapper, name: str) -> FieldMapper | ObjectMapper | None:
        child = obj.children.get(name)
        if child is None and self.new:
            child = self.new.get(child_path(obj.path, name))
        return child

    def unmapped(self, obj: ObjectMapper, key: str, value: Any, dynamic: str) -> None:
        """A key the object's mapping does not have: a metadata field, a dotted path, a
        field this document already created, or a new field."""
        if not obj.path and key in METADATA_FIELDS:
            self.metadata_field(key)
        if "." in key or not key or key.isspace():
            try:
                parts = split_path(key)
            except IllegalArgument as e:
                raise DocumentParseError(f"failed to parse: {e.reason}", caused_by=e) from None
            if len(parts) > 1:
                self.dotted(obj, key, parts, value, dynamic)
                return
        child = self.new.get(child_path(obj.path, key)) if self.new else None
        if child is None:
            self.dynamic_value(obj, key, value, dynamic)
        elif child.__class__ is FieldMapper:
            self.value(child, value, True)
        else:
            self.object_value(child, key, value, dynamic)

    def dotted(self, obj: ObjectMapper, key: str, parts: list[str], value: Any, dynamic: str) -> None:
        """`{"a.b": 1}` is `{"a": {"b": 1}}`: walk, or create, the objects on the way."""
        walked = self.parents(obj, parts[:-1], dynamic, key)
        if walked is not None:
            obj, dynamic = walked
            self.object(obj, {parts[-1]: value}, dynamic)

    def parents(self, obj: ObjectMapper, parts: list[str], dynamic: str,
                name: str) -> tuple[ObjectMapper, str] | None:
        """Walk, or create, the objects named by `parts` below `obj`; None when the value
        is to be dropped (dynamic false, or a disabled object on the way)."""
        for part in parts:
            child = self.child(obj, part)
            if child is None:
                if dynamic == "strict":
                    raise StrictDynamicMapping(obj.path or "_doc", part)
                if dynamic == "false":
                    return None
                child = self.add(obj, ObjectMapper(part, child_path(obj.path, part)))
                if child is None:  # over the field limit, left out
                    return None
            elif child.__class__ is FieldMapper:
                raise _not_an_object(name, child)
            elif child.enabled is False:
                return None
            else:
                dynamic = child.dynamic or dynamic
            obj = child
        return obj, dynamic

    # -- new fields -------------------------------------------------------------------------

    def add(self, parent: ObjectMapper, mapper: FieldMapper | ObjectMapper) -> Any:
        """Add a new mapper to the document's update; None when the index's field limit
        leaves it out (its path is then ignored, with everything below it)."""
        if self.limits is not None and mapper.path not in self.lookup:  # (not a constant's value)
            if self.budget is None:
                self.budget = FieldBudget(self.limits, self.total)
            try:
                admitted = self.budget.admit(mapper)
            except IllegalArgument as e:
                raise DocumentParseError(f"failed to parse: {e.reason}", caused_by=e) from None
            if not admitted:
                self.ignore(mapper.path)
                return None
        if self.new is None:
            self.new, self.additions = {}, []
        self.new[mapper.path] = mapper
        if isinstance(mapper, FieldMapper):
            for sub in mapper.fields.values():
                self.new[sub.path] = sub
        if parent is not self.root and parent.path in self.new:
            parent.children[mapper.name] = mapper  # a parent this document created: it owns it
        else:
            self.additions.append((parent.path, mapper))
        return mapper

    def dynamic_value(self, obj: ObjectMapper, name: str, value: Any, dynamic: str) -> None:
        if dynamic == "strict":
            raise StrictDynamicMapping(obj.path or "_doc", name)
        if dynamic == "false" or value is None:
            return
        cls = value.__class__
        if cls is list:
            for element in value:
                child = self.child(obj, name)
                if child is None:
                    self.dynamic_value(obj, name, element, dynamic)
                elif child.__class__ is FieldMapper:
                    self.value(child, element, True)
                else:
                    self.object_value(child, name, element, dynamic)
        elif cls is dict:
            new = self.add(obj, ObjectMapper(name, child_path(obj.path, name)))
            if new is not None:
                self.object(new, value, dynamic)
        else:
            mapper = self.add(obj, infer_field(self.root, name, child_path(obj.path, name), value))
            if mapper is not None:
                self.value(mapper, value, True)

    # -- leaf values ------------------------------------------------------------------------

    def value(self, mapper: FieldMapper, value: Any, copy: bool) -> None:
        """One value (or an array of them) of a leaf field, then its multi-fields and its
        copy_to targets, each with the same value."""
        if value.__class__ is list and not (mapper.type_name == GEO_POINT and is_point_array(value)):
            for element in value:
                self.value(mapper, element, copy)
            return
        if mapper.type_name == "constant_keyword" and mapper.constant is None and self.new:
            mapper = self.new.get(mapper.path, mapper)  # the value an earlier one in this document set
        if value is None:
            if mapper.type_name == "constant_keyword":
                raise self.field_error(mapper, value, IllegalArgument(
                    f"[constant_keyword] field [{mapper.path}] doesn't accept [null] values"))
            normalized = mapper.null_value
        else:
            try:
                normalized = mapper.convert(value)
            except EmptyNumber:
                normalized = mapper.null_value
            except MalformedValue as e:
                # an object is malformed for a leaf field, not ignorable, unless it is a point
                if not mapper.ignore_malformed or (value.__class__ is dict and mapper.type_name != GEO_POINT):
                    raise self.field_error(mapper, value, e.cause) from None
                normalized = None
                self.ignore(mapper.path)
        if mapper.type_name == "constant_keyword" and mapper.constant is None and normalized is not None:
            self.set_constant(mapper, normalized)
        if normalized is not None:
            above = mapper.ignore_above
            if above is not None and len(normalized) > above // 2 and _over(normalized, above):
                self.ignore(mapper.path)
            elif mapper.emits:
                values = self.fields.get(mapper.path)
                if values is None:
                    self.fields[mapper.path] = [normalized]
                else:
                    values.append(normalized)
        if mapper.subs and mapper.type_name == GEO_POINT:  # multi-fields index the point's geohash
            value = geohash(normalized) if normalized is not None else None
        for sub in mapper.subs:
            self.value(sub, value, False)
        if copy and mapper.copy_to:
            for target in mapper.copy_to:
                self.copy(mapper, target, value)

    def field_error(self, mapper: FieldMapper, value: Any, cause: BaseException) -> DocumentParseError:
        return DocumentParseError(
            f"failed to parse field [{mapper.path}] of type [{mapper.type_name}] in document with id "
            f"'{self.doc_id}'. Preview of field's value: '{java_string(value)}'", caused_by=cause)

    def set_constant(self, mapper: FieldMapper, value: str) -> None:
        """A constant_keyword field mapped without a value takes the first document's, as
        a mapping update (later values in the document are checked against it)."""
        parent_path = mapper.path.rpartition(".")[0]
        parent = self.lookup.get(parent_path) if parent_path else self.root
        params = {**mapper.params, "value": value}
        self.add(parent, FieldMapper(mapper.name, mapper.path, mapper.type_name, params,
                                     copy_to=mapper.copy_to))

    def copy(self, source: FieldMapper, target: str, value: Any) -> None:
        """copy_to: the value is indexed again under the target, which is created
        dynamically when the mapping lacks it. Copies are not copied on."""
        mapper = self.lookup.get(target) or (self.new.get(target) if self.new else None)
        if mapper is None:
            parts = target.split(".")
            walked = self.parents(self.root, parts[:-1], self.root.dynamic or "true", target)
            if walked is None:
                return
            obj, dynamic = walked
            if dynamic == "strict":
                raise StrictDynamicMapping(obj.path or "_doc", parts[-1])
            if dynamic == "false" or value is None:
                return
            mapper = self.add(obj, infer_field(self.root, parts[-1], target, value))
            if mapper is None:
                return
        if mapper.__class__ is not FieldMapper:
            raise DocumentParseError(f"Cannot copy field [{source.path}] to fields [{target}]. Copy-to "
                                     "currently only works for value-type fields, not objects.")
        self.value(mapper, value, False)

    def ignore(self, path: str) -> None:
        if self.ignored is None:
            self.ignored = [path]
        elif path not in self.ignored:
            self.ignored.append(path)

    # -- the result -------------------------------------------------------------------------

    def update(self) -> RootMapper | None:
        if not self.additions:
            return None
        children: dict[str, FieldMapper | ObjectMapper] = {}
        for parent_path, mapper in self.additions:
            level = children
            path = ""
            for part in parent_path.split(".") if parent_path else ():
                path = child_path(path, part)
                shell = level.get(part)
                if shell is None:
                    shell = level[part] = ObjectMapper(part, path)
                level = shell.children
            level[mapper.name] = mapper
        return RootMapper(children)


def parse_document(root: RootMapper, lookup: dict[str, FieldMapper | ObjectMapper], source: dict[str, Any],
                   doc_id: str, limits: MappingLimits | None = None, total: int = 0) -> ParsedDocument:
    parser = _DocumentParser(root, lookup, doc_id, limits, total)
    if root.enabled is not False:
        try:
            parser.object(root, source, root.dynamic or "true")
        except RecursionError:
            raise DocumentParseError("failed to parse: the document is nested too deeply") from None
    ignored = parser.ignored
    if ignored is None:  # most documents: nothing more to do
        return ParsedDocument(parser.fields, _NOTHING_IGNORED, parser.update())
    # Doc values are a sorted set: Python's order of str is UTF-8 byte order, Lucene's.
    parser.fields[IGNORED] = sorted(ignored)
    return ParsedDocument(parser.fields, ignored, parser.update())
