"""Which composable template a new index gets, and what it composes to (Elasticsearch's
MetadataIndexTemplateService.findV2Template and its resolveSettings, collectMappings and
resolveAliases, and MetadataCreateIndexService's V2 path).

The template with the highest priority among those whose patterns match the name wins (a
hidden index is matched only by templates without a match-all pattern). Its component
templates apply in `composed_of` order, then its own `template`, then the create-index
request: settings override key by key, mappings merge property by property (an object
merges into an object; any other field replaces the one before it, as MergeReason
INDEX_TEMPLATE merges), aliases by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ...common.errors import IndexNotFound
from ...common.patterns import any_patterns_overlap, simple_match_any
from ...settings import index_setting, normalize_index_settings
from ..metadata import setting_string
from .metadata import EMPTY_TEMPLATE, ComponentTemplate, ComposableIndexTemplate, Template

if TYPE_CHECKING:
    from ...cluster.state import Metadata

OBJECT_TYPES = ("object", "nested")


def is_match_all(patterns: Iterable[str]) -> bool:
    return any(p == "*" for p in patterns)


def find_template(index_templates: Mapping[str, ComposableIndexTemplate], index: str,
                  hidden: bool = False) -> str | None:
    """The name of the matching template of highest priority, or None. Priorities of
    overlapping templates differ (puts refuse a tie), so the winner is unique; among
    templates that never overlap by pattern yet both match, the first by name wins."""
    best: tuple[int, str] | None = None
    for name in sorted(index_templates):
        template = index_templates[name]
        if hidden and is_match_all(template.index_patterns):
            continue
        matches = simple_match_any(template.index_patterns, index)
        if matches and (best is None or template.priority_or_zero > best[0]):
            best = (template.priority_or_zero, name)
    return None if best is None else best[1]


def template_allows_auto_create(index_templates: Mapping[str, ComposableIndexTemplate],
                                index: str) -> bool | None:
    """What the matching template's `allow_auto_create` says of auto-creating `index`,
    which overrides `action.auto_create_index`: True allows it, false refuses it (raised,
    worded as Elasticsearch's AutoCreateIndex words it), None leaves it to the setting."""
    name = find_template(index_templates, index)
    allowed = None if name is None else index_templates[name].allow_auto_create
    if allowed is False:
        patterns = ", ".join(index_templates[name].index_patterns)
        raise IndexNotFound(f"composable template [{patterns}] forbids index auto creation")
    return allowed


def composed_parts(template: ComposableIndexTemplate,
                   component_templates: Mapping[str, ComponentTemplate]) -> list[Template]:
    """The templates that compose it, lowest precedence first: its component templates in
    `composed_of` order (missing ones skipped, as only ignorable ones can be), then its own."""
    parts = [component_templates[n].template for n in template.composed_of if n in component_templates]
    parts.append(template.template or EMPTY_TEMPLATE)
    return parts


def resolve_settings(parts: Iterable[Template]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for part in parts:
        settings.update(part.settings or {})
    return settings


def resolve_aliases(parts: Iterable[Template]) -> dict[str, dict[str, Any]]:
    aliases: dict[str, dict[str, Any]] = {}
    for part in parts:
        aliases.update(part.aliases or {})
    return aliases


def resolve_mappings(parts: Iterable[Template]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        if part.mappings:
            merged = merge_mappings(merged, part.mappings)
    return merged


def merge_mappings(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """`update` over `base`: `properties` merged field by field, every other root
    parameter (`dynamic`, `_source`, `_meta`, ...) replaced."""
    merged = dict(base)
    for key, value in update.items():
        if key == "properties" and isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merge_properties(base[key], value)
        else:
            merged[key] = value
    return merged


def _is_object(field: Any) -> bool:
    return isinstance(field, dict) and field.get("type", "object") in OBJECT_TYPES


def _merge_properties(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, field in update.items():
        old = merged.get(name)
        if _is_object(old) and _is_object(field) and old.get("type", "object") == field.get("type", "object"):
            merged[name] = merge_mappings(old, field)
        else:
            merged[name] = field
    return merged


def request_hidden(settings: Mapping[str, Any]) -> bool:
    """Whether a create request's own (normalized) settings make the index hidden, which
    keeps match-all templates from matching it."""
    value = settings.get("index.hidden")
    return value is not None and bool(index_setting({"index.hidden": setting_string(value)}, "index.hidden"))


def compose_create_body(metadata: Metadata, index: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The create-index body an index gets from the matching template and the request's own
    body, which takes precedence; the request's body as it is when no template matches.
    Index creation then validates it as a whole, template aliases included."""
    request_settings = normalize_index_settings(body.get("settings") or {})
    name = find_template(metadata.index_templates, index, hidden=request_hidden(request_settings))
    if name is None:
        return dict(body)
    parts = composed_parts(metadata.index_templates[name], metadata.component_templates)
    request = Template(request_settings, body.get("mappings") or {}, body.get("aliases") or {})
    composed = resolved_template([*parts, request])
    return {"settings": composed.settings, "mappings": composed.mappings, "aliases": composed.aliases}


def resolved_template(parts: list[Template]) -> Template:
    return Template(resolve_settings(parts), resolve_mappings(parts), resolve_aliases(parts))


def overlapping_templates(index_templates: Mapping[str, ComposableIndexTemplate], name: str,
                          patterns: Iterable[str], priority: int | None = None) -> dict[str, list[str]]:
    """Other templates (not `name`) with a pattern some index name matches along with one
    of `patterns`; with `priority`, only those of that priority (findConflictingV2Templates)."""
    patterns = list(patterns)
    out = {}
    for other in sorted(index_templates):
        template = index_templates[other]
        if other == name or (priority is not None and template.priority_or_zero != priority):
            continue
        if any_patterns_overlap(patterns, template.index_patterns):
            out[other] = list(template.index_patterns)
    return out
