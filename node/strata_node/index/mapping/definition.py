"""Reading a mapping definition (the body of `mappings` or of a put-mapping request) into
a mapping tree, with Elasticsearch's checks and messages.

Anything that cannot be read raises MappingParseError or IllegalArgument; the API wraps
them in "Failed to parse mapping: ..." (errors.FailedToParseMapping). Checks that need
the whole mapping (copy_to targets) are in validate(), which runs on the mapping an
update produces, as MappingLookup.validate does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...common.errors import IllegalArgument
from .dates import formatter
from .errors import MappingParseError, java_class, java_string
from .mappers import FieldMapper, ObjectMapper, RootMapper
from .merge import merge_children
from .params import parse_bool
from .paths import child_path, split_path
from .types import FIELD_TYPES

# Types Elasticsearch has that Strata does not map (yet): named so the error says which.
METADATA_FIELDS = frozenset({"_id", "_index", "_routing", "_source", "_seq_no", "_primary_term", "_version",
                             "_ignored", "_field_names", "_nested_path", "_tier", "_data_stream_timestamp",
                             "_tsid", "_ts_routing_hash", "_ignored_source", "_doc_count", "_feature"})
ANALYZER_PARAMS = ("analyzer", "search_analyzer", "search_quote_analyzer")


@dataclass(frozen=True)
class AnalysisNames:
    """Which analyzer and normalizer names an index knows (its analysis settings and the
    built-ins): mappings naming others are refused, as Elasticsearch refuses them."""

    analyzer: Callable[[str], bool]
    normalizer: Callable[[str], bool]


def not_supported(what: str) -> MappingParseError:
    return MappingParseError(f"{what} is not supported by Strata")


def is_typed_mapping(source: dict[str, Any]) -> bool:
    """MapperService.isMappingSourceTyped: `{"_doc": {...}}`, a pre-8 mapping type."""
    return len(source) == 1 and next(iter(source)) == "_doc"


def _remaining(node: dict[str, Any]) -> str:
    return "".join(f" [{k} : {java_string(v)}]" for k, v in node.items())


def _expect_map(value: Any, prop: str, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingParseError(f"Expected map for property [{prop}] on field [{field}] but got a "
                                f"{java_class(value)}")
    return value


def _parse_dynamic(value: Any, owner: str) -> str:
    text = java_string(value)
    if text.lower() == "strict":
        return "strict"
    if text.lower() == "runtime":
        raise not_supported("[dynamic] set to [runtime] (runtime fields)")
    try:
        return "true" if parse_bool(value) else "false"
    except IllegalArgument as e:
        raise IllegalArgument(f"Could not convert [{owner}.dynamic] to boolean", caused_by=e) from None


def parse_mapping(source: Any, *, analysis: AnalysisNames | None = None) -> RootMapper:
    """The root of a mapping definition."""
    if not isinstance(source, dict):
        raise MappingParseError(f"Expected map for property [mappings] but got a {java_class(source)}")
    node = dict(source)
    kwargs: dict[str, Any] = {}
    dynamic = enabled = None
    children: dict[str, FieldMapper | ObjectMapper] = {}
    parser = _Parser(analysis)
    if "dynamic" in node:
        dynamic = _parse_dynamic(node.pop("dynamic"), "_doc")
    if "enabled" in node:
        enabled = parse_bool(node.pop("enabled"))
    for key in ("date_detection", "numeric_detection"):
        if key in node:
            kwargs[key] = parse_bool(node.pop(key))
    if "dynamic_date_formats" in node:
        kwargs["dynamic_date_formats"] = _parse_date_formats(node.pop("dynamic_date_formats"))
    if "_meta" in node:
        meta = node.pop("_meta")
        if not isinstance(meta, dict):
            raise MappingParseError(f"[_meta] must be an object, got {java_class(meta).rsplit('.', 1)[-1]}"
                                    f"[{java_string(meta)}]")
        kwargs["meta"] = meta
    if "_routing" in node:
        kwargs["routing_required"] = _parse_routing(node.pop("_routing"))
    if "_source" in node:
        kwargs["source_enabled"] = _parse_source(node.pop("_source"))
    for key in ("dynamic_templates", "runtime", "subobjects"):
        if key in node:
            raise not_supported(f"[{key}]")
    if "properties" in node:
        children = parser.properties(node.pop("properties"), "", "_doc", root=True)
    if node:
        raise MappingParseError(f"Root mapping definition has unsupported parameters: {_remaining(node)}")
    return RootMapper(children, dynamic, enabled, **kwargs)


def _parse_date_formats(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    formats = []
    for v in values:
        if not isinstance(v, str):
            raise MappingParseError(f"Invalid format: [{java_string(v)}]")
        formatter(v)  # a bad format fails here, not on the first document that needs it
        formats.append(v)
    return tuple(formats)


def _parse_routing(value: Any) -> bool:
    if not isinstance(value, dict):
        raise MappingParseError(f"Expected map for property [_routing] but got a {java_class(value)}")
    node = dict(value)
    required = parse_bool(node.pop("required")) if "required" in node else False
    if node:
        raise MappingParseError(f"unknown parameter [{next(iter(node))}] on mapper [_routing] of type "
                                "[_routing]")
    return required


def _parse_source(value: Any) -> bool | None:
    """`_source.enabled`, or None when not given. The source is always kept whole inside
    (the history replicas and recoveries replay holds it, as ES keeps a recovery source);
    disabled, it is never shown. Filtering what is kept (`includes`, `excludes`) is not
    offered: updates would have to drop the filtered-out fields, as ES's do."""
    if not isinstance(value, dict):
        raise MappingParseError(f"Expected map for property [_source] but got a {java_class(value)}")
    node = dict(value)
    enabled = parse_bool(node.pop("enabled")) if "enabled" in node else None
    if node:
        raise not_supported(f"[_source.{next(iter(node))}]")
    return enabled


class _Parser:
    def __init__(self, analysis: AnalysisNames | None):
        self.analysis = analysis

    def properties(self, value: Any, path: str, owner: str, *, root: bool = False
                   ) -> dict[str, FieldMapper | ObjectMapper]:
        if value is None:
            return {}
        props = _expect_map(value, "properties", owner)
        children: dict[str, FieldMapper | ObjectMapper] = {}
        for name, definition in props.items():
            if name == "":
                raise IllegalArgument("field name cannot be an empty string")
            parts = split_path(name)
            mapper = self.property(parts[-1], child_path(path, ".".join(parts)), definition)
            # `a.b` is field `b` of object `a`, as if written out in full
            for i in range(len(parts) - 2, -1, -1):
                object_path = child_path(path, ".".join(parts[:i + 1]))
                mapper = ObjectMapper(parts[i], object_path, {mapper.name: mapper})
            existing = children.get(mapper.name)
            if existing is None:
                children[mapper.name] = mapper
            else:
                merged = merge_children({existing.name: existing}, {mapper.name: mapper})
                children[mapper.name] = merged[mapper.name]
        if root:
            for name in children:
                if name in METADATA_FIELDS:
                    raise MappingParseError(f"Field [{name}] is defined more than once")
        return children

    def property(self, name: str, path: str, definition: Any) -> FieldMapper | ObjectMapper:
        node = _expect_map(definition, "fields", name)
        type_name = node.get("type")
        if type_name is None:
            if node.get("properties") is not None or (len(node) == 1 and "enabled" in node):
                type_name = "object"
            else:
                raise MappingParseError(f"No type specified for field [{name}]")
        type_name = java_string(type_name)
        if type_name == "object":
            return self.object(name, path, node)
        if type_name not in FIELD_TYPES:
            raise MappingParseError(f"No handler for type [{type_name}] declared on field [{name}]")
        return self.field(name, path, type_name, node)

    def object(self, name: str, path: str, node: dict[str, Any]) -> ObjectMapper:
        node = dict(node)
        node.pop("type", None)
        dynamic = _parse_dynamic(node.pop("dynamic"), name) if "dynamic" in node else None
        enabled = parse_bool(node.pop("enabled")) if "enabled" in node else None
        if "subobjects" in node:
            raise not_supported("[subobjects]")
        children = self.properties(node.pop("properties"), path, name) if "properties" in node else {}
        if node:
            raise MappingParseError(f"Mapping definition for [{name}] has unsupported parameters: "
                                    f"{_remaining(node)}")
        return ObjectMapper(name, path, children, dynamic, enabled)

    def field(self, name: str, path: str, type_name: str, node: dict[str, Any], *,
              multi_field_of: str | None = None) -> FieldMapper:
        field_type = FIELD_TYPES[type_name]
        params: dict[str, Any] = {}
        fields: dict[str, FieldMapper] = {}
        copy_to: tuple[str, ...] = ()
        for key, value in node.items():
            if key == "type":
                continue
            if key == "fields":
                if multi_field_of is not None:
                    raise MappingParseError(f"Encountered a multi-field [{path}] which itself contains a "
                                            "multi-field. Defining chained multi-fields is not supported.")
                fields = self.multi_fields(name, path, value)
                continue
            if key == "copy_to":
                copy_to = _parse_copy_to(value)
                continue
            if key == "boost":
                raise MappingParseError(f"Unknown parameter [boost] on mapper [{name}]")
            param = field_type.params.get(key)
            if param is None:
                raise MappingParseError(f"unknown parameter [{key}] on mapper [{name}] of type [{type_name}]")
            if value is None and not param.accepts_null:
                raise MappingParseError(f"[{key}] on mapper [{name}] of type [{type_name}] must not have a "
                                        "[null] value")
            params[key] = param.parse(value, name)
        for key in field_type.required:
            if key not in params:
                raise MappingParseError(f"Field [{key}] is required")
        if field_type.complete is not None:
            field_type.complete(params)
        if self.analysis is not None:
            for key in ANALYZER_PARAMS:
                if key in params and not self.analysis.analyzer(params[key]):
                    raise IllegalArgument(f"analyzer [{params[key]}] has not been configured in mappings")
            if params.get("normalizer") is not None and not self.analysis.normalizer(params["normalizer"]):
                raise MappingParseError(f"normalizer [{params['normalizer']}] not found for field [{name}]")
        if type_name == "constant_keyword":
            fields, copy_to = {}, ()  # accepted and ignored, as ConstantKeywordFieldMapper builds none
        return FieldMapper(name, path, type_name, params, fields, copy_to)

    def multi_fields(self, name: str, path: str, value: Any) -> dict[str, FieldMapper]:
        node = _expect_map(value, "fields", name)
        fields: dict[str, FieldMapper] = {}
        for sub_name, definition in node.items():
            if "." in sub_name:
                raise MappingParseError(f"Field name [{sub_name}] which is a multi field of [{name}] cannot "
                                        "contain '.'")
            if not sub_name:
                raise IllegalArgument("field name cannot be an empty string")
            sub = _expect_map(definition, "fields", sub_name)
            if "type" not in sub:
                raise MappingParseError(f"No type specified for field [{sub_name}]")
            type_name = java_string(sub["type"])
            if type_name in ("object", "constant_keyword"):
                raise MappingParseError(f"Type [{type_name}] cannot be used in multi field")
            if type_name not in FIELD_TYPES:
                raise MappingParseError(f"No handler for type [{type_name}] declared on field [{sub_name}]")
            fields[sub_name] = self.field(sub_name, f"{path}.{sub_name}", type_name, sub, multi_field_of=path)
        return fields


def _parse_copy_to(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [] if value is None else [value]
    targets = []
    for v in values:
        if isinstance(v, dict | list):
            raise MappingParseError(f"Expected a string or a list of strings for [copy_to] but got "
                                    f"{java_class(v)}")
        targets.append(java_string(v))
    return tuple(targets)


def validate(root: RootMapper) -> None:
    """Checks of the whole mapping (FieldMapper.validate): copy_to may neither start
    from nor land in a multi-field, nor land in an object."""
    objects: set[str] = set()
    multi_fields: set[str] = set()
    leaves: list[FieldMapper] = []

    def walk(obj: ObjectMapper) -> None:
        for child in obj.children.values():
            if isinstance(child, ObjectMapper):
                objects.add(child.path)
                walk(child)
            else:
                leaves.append(child)
                for sub in child.fields.values():
                    multi_fields.add(sub.path)
                    leaves.append(sub)

    walk(root)
    for leaf in leaves:
        if not leaf.copy_to:
            continue
        if leaf.path in multi_fields:
            raise IllegalArgument(f"[copy_to] may not be used to copy from a multi-field: [{leaf.path}]")
        for target in leaf.copy_to:
            if target in multi_fields:
                raise IllegalArgument(f"[copy_to] may not be used to copy to a multi-field: [{target}]")
            if target in objects:
                raise IllegalArgument(f"Cannot copy to field [{target}] since it is mapped as an object")
