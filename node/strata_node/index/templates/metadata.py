"""Component templates and composable index templates as the cluster state keeps them
(Elasticsearch's Template, ComponentTemplate and ComposableIndexTemplate): read from a
REST body or a settings file, and rendered back as the get APIs and `GET /_cluster/state`
show them.

Settings are kept flat, `index.`-prefixed and as strings, as index metadata keeps them;
mappings as given, without a `_doc` wrapper (the get APIs show them so); aliases as
name -> definition as given, checked alone when the template is put (updates.py) and
against the index at its creation.
Each part of a Template remembers whether it was given at all: Elasticsearch renders only
the parts a template has.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...common.errors import ActionRequestValidation, IllegalArgument, XContentParseError
from ...common.units import LONG_MAX
from ...settings import normalize_index_settings
from ..mapping import is_typed_mapping
from ..metadata import setting_string, settings_tree


class Template(msgspec.Struct, frozen=True):
    settings: dict[str, Any] | None = None  # flat `index.` keys -> strings (or lists of them)
    mappings: dict[str, Any] | None = None
    aliases: dict[str, dict[str, Any]] | None = None


class ComponentTemplate(msgspec.Struct, frozen=True):
    template: Template
    version: int | None = None
    meta: dict[str, Any] | None = None  # `_meta`


class ComposableIndexTemplate(msgspec.Struct, frozen=True):
    index_patterns: tuple[str, ...]
    template: Template | None = None
    composed_of: tuple[str, ...] = ()
    priority: int | None = None
    version: int | None = None
    meta: dict[str, Any] | None = None  # `_meta`
    allow_auto_create: bool | None = None
    # Component templates that may be missing, at put time and at index creation.
    ignore_missing_component_templates: tuple[str, ...] | None = None

    @property
    def priority_or_zero(self) -> int:
        return self.priority or 0


EMPTY_TEMPLATE = Template()
TEMPLATE_FIELDS = ("settings", "mappings", "aliases")
COMPONENT_FIELDS = ("template", "version", "_meta")
INDEX_TEMPLATE_FIELDS = ("index_patterns", "template", "composed_of", "priority", "version", "_meta",
                         "allow_auto_create", "ignore_missing_component_templates", "data_stream")


# -- reading ----------------------------------------------------------------------------------


def _unknown_fields(body: dict[str, Any], known: tuple[str, ...], owner: str) -> None:
    for key in body:
        if key not in known:
            raise XContentParseError(f"[{owner}] unknown field [{key}]")


def _object(value: Any, field: str, owner: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise XContentParseError(f"[{owner}] {field} doesn't support values of type: {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if isinstance(value, int | float):
        return "VALUE_NUMBER"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_NULL" if value is None else "START_OBJECT"


def _long(value: Any, field: str, owner: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise XContentParseError(f"[{owner}] failed to parse field [{field}]")
    try:
        number = int(value)
    except ValueError:
        raise XContentParseError(f"[{owner}] failed to parse field [{field}]") from None
    if not -LONG_MAX - 1 <= number <= LONG_MAX:  # a Java long, as the parser reads it
        raise XContentParseError(f"[{owner}] failed to parse field [{field}]")
    return number


def _strings(value: Any, field: str, owner: str) -> tuple[str, ...]:
    """A string array; a single string is a one-element array, as ObjectParser reads it."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise XContentParseError(f"[{owner}] failed to parse field [{field}]")
    return tuple(value)


def parse_template(body: Any) -> Template:
    """The `template` object: settings, mappings and aliases."""
    body = _object(body, "template", "template")
    _unknown_fields(body, TEMPLATE_FIELDS, "template")
    settings = mappings = aliases = None
    if body.get("settings") is not None:
        raw = _object(body["settings"], "settings", "template")
        settings = {k: setting_string(v) for k, v in normalize_index_settings(raw).items() if v is not None}
    if body.get("mappings") is not None:
        mappings = dict(_object(body["mappings"], "mappings", "template"))
        if is_typed_mapping(mappings) and isinstance(mappings["_doc"], dict):
            mappings = dict(mappings["_doc"])  # templates may wrap their mapping in `_doc`
    if body.get("aliases") is not None:
        aliases = {}
        for name, definition in _object(body["aliases"], "aliases", "template").items():
            aliases[name] = dict(_object(definition or {}, f"alias [{name}]", "template"))
    return Template(settings, mappings, aliases)


def parse_component_template(body: Any) -> ComponentTemplate:
    body = _object(body, "component_template", "component_template")
    _unknown_fields(body, COMPONENT_FIELDS, "component_template")
    if body.get("template") is None:
        raise IllegalArgument("Required [template]")
    meta = body.get("_meta")
    return ComponentTemplate(parse_template(body["template"]),
                             _long(body.get("version"), "version", "component_template"),
                             None if meta is None else dict(_object(meta, "_meta", "component_template")))


def parse_index_template(body: Any) -> ComposableIndexTemplate:
    """A composable index template. `data_stream` is refused: Strata has no data streams,
    and a template that asks for one must not quietly create plain indices instead."""
    owner = "index_template"
    body = _object(body, owner, owner)
    _unknown_fields(body, INDEX_TEMPLATE_FIELDS, owner)
    if "data_stream" in body:
        raise IllegalArgument("[data_stream] is not supported by Strata: it has no data streams")
    if body.get("index_patterns") is None:
        raise IllegalArgument("Required [index_patterns]")
    patterns = _strings(body["index_patterns"], "index_patterns", owner)
    priority = _long(body.get("priority"), "priority", owner)
    errors = []
    if not patterns:
        errors.append("index patterns are missing")
    if priority is not None and priority < 0:
        errors.append("index template priority must be >= 0")
    if errors:
        raise ActionRequestValidation(errors)
    allow_auto_create = body.get("allow_auto_create")
    if allow_auto_create is not None and not isinstance(allow_auto_create, bool):
        raise XContentParseError(f"[{owner}] failed to parse field [allow_auto_create]")
    meta = body.get("_meta")
    ignore_missing = body.get("ignore_missing_component_templates")
    return ComposableIndexTemplate(
        index_patterns=patterns,
        template=None if body.get("template") is None else parse_template(body["template"]),
        composed_of=_strings(body.get("composed_of") or [], "composed_of", owner),
        priority=priority,
        version=_long(body.get("version"), "version", owner),
        meta=None if meta is None else dict(_object(meta, "_meta", owner)),
        allow_auto_create=allow_auto_create,
        ignore_missing_component_templates=None if ignore_missing is None else _strings(
            ignore_missing, "ignore_missing_component_templates", owner))


# -- rendering --------------------------------------------------------------------------------


def render_settings(settings: dict[str, Any], flat: bool) -> dict[str, Any]:
    return dict(sorted(settings.items())) if flat else settings_tree(settings)


def render_template(template: Template, flat: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if template.settings is not None:
        out["settings"] = render_settings(template.settings, flat)
    if template.mappings:
        out["mappings"] = template.mappings
    if template.aliases is not None:
        out["aliases"] = template.aliases
    return out


def render_component_template(template: ComponentTemplate, flat: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"template": render_template(template.template, flat)}
    if template.version is not None:
        out["version"] = template.version
    if template.meta is not None:
        out["_meta"] = template.meta
    return out


def render_index_template(template: ComposableIndexTemplate, flat: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"index_patterns": list(template.index_patterns)}
    if template.template is not None:
        out["template"] = render_template(template.template, flat)
    out["composed_of"] = list(template.composed_of)
    optional = (("priority", template.priority), ("version", template.version), ("_meta", template.meta),
                ("allow_auto_create", template.allow_auto_create))
    for key, value in optional:
        if value is not None:
            out[key] = value
    if template.ignore_missing_component_templates is not None:
        out["ignore_missing_component_templates"] = list(template.ignore_missing_component_templates)
    return out
