"""Putting and deleting component and composable index templates: pure functions of the
cluster state content, which the master runs inside its update so two racing requests
cannot both succeed (Elasticsearch's MetadataIndexTemplateService).

A template is checked alone (name, patterns, settings against the index settings
registry, mappings parsed with the analyzers its settings define) and as composed: an
index template with its component templates, and, when a component template changes,
every index template that uses it. Two index templates of the same priority may not
share a name they both match; a component template in use may not go; an index template
may only name component templates that exist.

Keys some namespace reserved (`component_template:<name>`, `composable_index_template:<name>`)
are refused to API changes; the `index_templates` reserved state handler, their owner,
calls these with `check_reserved=False`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from ...cluster.state import ClusterStateContent, Metadata
from ...common.errors import IllegalArgument, StrataError
from ...common.patterns import simple_match
from ...reservedstate.metadata import refuse_reserved
from ...settings import SettingsError, check_soft_deletes, validate_index_settings
from .. import mapping as mappings
from ..aliases import parse_definition
from ..mapping.limits import MappingLimits, check_limits
from ..service import analysis_names
from .errors import IndexTemplateMissing, InvalidIndexTemplate, TemplateNotFound
from .metadata import ComponentTemplate, ComposableIndexTemplate, Template
from .resolve import composed_parts, is_match_all, overlapping_templates, resolve_settings, resolved_template

log = logging.getLogger("strata.templates")

HANDLER = "index_templates"
HIDDEN = "index.hidden"
FILENAME_FORBIDDEN = ("\\", "/", "?", '"', "<", ">", "|")  # Strings.INVALID_FILENAME_CHARS but `*`


def component_template_key(name: str) -> str:
    return f"component_template:{name}"


def index_template_key(name: str) -> str:
    return f"composable_index_template:{name}"


# -- validation -------------------------------------------------------------------------------


def _name_errors(name: str) -> list[str]:
    errors = [f"name must not contain a '{c}'" if c != " " else "name must not contain a space"
              for c in (" ", ",", "#", "*") if c in name]
    if name.startswith("_"):
        errors.append("name must not start with '_'")
    if name.lower() != name:
        errors.append("name must be lower cased")
    return errors


def _pattern_errors(pattern: str) -> list[str]:
    errors = []
    if " " in pattern:
        errors.append(f"index_patterns [{pattern}] must not contain a space")
    errors.extend(f"index_pattern [{pattern}] must not contain a '{c}'" for c in (",", "#", ":")
                  if c in pattern)
    if pattern.startswith("_"):
        errors.append(f"index_pattern [{pattern}] must not start with '_'")
    if any(c in pattern for c in FILENAME_FORBIDDEN):
        errors.append(f"index_pattern [{pattern}] must not contain the following characters "
                      f"[{', '.join(FILENAME_FORBIDDEN)}]")
    return errors


def validate_template(name: str, template: Template | None, patterns: tuple[str, ...] = (), *,
                      mappings_alone: bool = True) -> None:
    """One template alone: name, patterns and settings problems together, as one
    invalid_index_template_exception; then its aliases (names, index routing, fields) and,
    for a component template, its mappings (an index template's mappings may use analyzers
    its component templates define: they are parsed as composed)."""
    template = template or Template()
    errors = _name_errors(name)
    for pattern in patterns:
        errors.extend(_pattern_errors(pattern))
    settings = template.settings or {}
    try:
        _validate_settings(settings)
    except IllegalArgument as e:
        errors.append(e.reason)
    if is_match_all(patterns) and HIDDEN in settings:
        errors.append(f"global templates may not specify the setting {HIDDEN}")
    if errors:
        raise InvalidIndexTemplate(name, "Validation Failed: " + "".join(f"{i}: {e};" for i, e in
                                                                       enumerate(errors, 1)))
    for alias, definition in (template.aliases or {}).items():
        # Alone, as AliasValidator.validateAliasStandalone: the index is not known yet. The
        # definition is parsed as index creation parses it, so a template stored here never
        # fails the creation of the indices it matches.
        parse_definition(alias, definition)
        if alias in patterns:
            raise IllegalArgument(f"alias [{alias}] cannot be the same as any pattern in "
                                  f"[{', '.join(patterns)}]")
    if mappings_alone:
        _parse_mappings(name, settings, template.mappings)


def _validate_settings(settings: Mapping[str, Any]) -> None:
    """Against the index settings registry (analysis settings as a whole)."""
    try:
        check_soft_deletes(validate_index_settings(settings))  # every index it makes would fail
    except SettingsError as e:
        raise IllegalArgument(str(e)) from None


def _parse_mappings(name: str, settings: Mapping[str, Any], source: Mapping[str, Any] | None) -> None:
    if source:
        mapping = mappings.Mapping.parse(dict(source), analysis=analysis_names(settings, name))
        check_limits(mapping, MappingLimits.of_settings(settings))


def _validate_composed(name: str, template: ComposableIndexTemplate,
                       component_templates: Mapping[str, ComponentTemplate]) -> None:
    """The template as its component templates and its own part compose it: valid
    settings, and mappings that parse once merged."""
    composed = resolved_template(composed_parts(template, component_templates))
    try:
        _validate_settings(composed.settings)
        _parse_mappings(name, composed.settings, composed.mappings)
    except StrataError as e:
        with_components = f"with component templates [{', '.join(template.composed_of)}] " \
            if template.composed_of else ""
        raise IllegalArgument(f"composable template [{name}] template after composition {with_components}is "
                              f"invalid", caused_by=e) from None


def _missing_components(template: ComposableIndexTemplate,
                        component_templates: Mapping[str, ComponentTemplate]) -> list[str]:
    ignorable = set(template.ignore_missing_component_templates or ())
    return [n for n in template.composed_of if n not in component_templates and n not in ignorable]


# -- the content ------------------------------------------------------------------------------


def _with(content: ClusterStateContent, **templates: dict) -> ClusterStateContent:
    metadata = msgspec.structs.replace(content.metadata, version=content.metadata.version + 1, **templates)
    return msgspec.structs.replace(content, metadata=metadata)


def _without(content: ClusterStateContent, field: str, names: list[str]) -> ClusterStateContent:
    """The content without the templates named in `field` (a metadata field)."""
    if not names:
        return content
    log.info("removing %s %s", field.replace("_", " "), names)
    kept = {n: t for n, t in getattr(content.metadata, field).items() if n not in names}
    return _with(content, **{field: kept})


def _matching(names: Iterable[str], expressions: list[str], missing: type[StrataError]) -> list[str]:
    """DELETE's names: one expression may be a wildcard (matching none is fine for a
    match-all one); several are exact names, and every one must exist."""
    names = sorted(names)
    if len(expressions) > 1:
        absent = [e for e in expressions if e not in names]
        if absent:
            raise missing(",".join(absent))
        return list(dict.fromkeys(expressions))
    [expression] = expressions
    found = [n for n in names if simple_match(expression, n)]
    if not found and expression not in ("*", "_all"):
        raise missing(expression)
    return found


def _refuse_reserved(metadata: Metadata, check: bool, keys: set[str], request: str) -> None:
    """An API change to a key some namespace reserved is refused; the handler skips this."""
    if check:
        refuse_reserved(metadata.reserved_state, HANDLER, keys, request)


def put_component_template(content: ClusterStateContent, name: str, template: ComponentTemplate, *,
                           create: bool = False, check_reserved: bool = True) -> ClusterStateContent:
    metadata = content.metadata
    _refuse_reserved(metadata, check_reserved, {component_template_key(name)},
                     f"put component template [{name}]")
    existing = metadata.component_templates.get(name)
    if create and existing is not None:
        raise IllegalArgument(f"component template [{name}] already exists")
    users = {n: t for n, t in sorted(metadata.index_templates.items()) if name in t.composed_of}
    if HIDDEN in (template.template.settings or {}) and not create:
        global_users = [n for n, t in users.items() if is_match_all(t.index_patterns)]
        if global_users:
            raise IllegalArgument(f"cannot update component template [{name}] because the following global "
                                  f"templates would resolve to specifying the [{HIDDEN}] setting: "
                                  f"[{','.join(global_users)}]")
    if template == existing:
        return content
    validate_template(name, template.template)
    components = {**metadata.component_templates, name: template}
    for user, index_template in users.items():
        try:
            _validate_composed(user, index_template, components)
        except StrataError as e:
            raise IllegalArgument(f"updating component template [{name}] results in invalid composable "
                                  f"template [{user}] after templates are merged", caused_by=e) from None
    log.info("%s component template [%s]", "adding" if existing is None else "updating", name)
    return _with(content, component_templates=components)


def delete_component_templates(content: ClusterStateContent, expressions: list[str], *,
                               check_reserved: bool = True) -> ClusterStateContent:
    """Refused while an index template uses one of them; reserved ones are refused by
    the names the expressions resolve to, so a wildcard cannot remove them either."""
    metadata = content.metadata
    names = _matching(metadata.component_templates, expressions, TemplateNotFound)
    _refuse_reserved(metadata, check_reserved, {component_template_key(n) for n in names},
                     f"delete component templates [{','.join(expressions)}]")
    used: set[str] = set()
    users = []
    for user, template in sorted(metadata.index_templates.items()):
        in_use = set(template.composed_of) & set(names)
        if in_use:
            used |= in_use
            users.append(user)
    if users:
        raise IllegalArgument(f"component templates [{', '.join(sorted(used))}] cannot be removed as they "
                              f"are still in use by index templates [{', '.join(users)}]")
    return _without(content, "component_templates", names)


def put_index_template(content: ClusterStateContent, name: str, template: ComposableIndexTemplate, *,
                       create: bool = False, check_reserved: bool = True) -> ClusterStateContent:
    metadata = content.metadata
    _refuse_reserved(metadata, check_reserved, {index_template_key(name)}, f"put index template [{name}]")
    components = metadata.component_templates
    composed_settings = resolve_settings(composed_parts(template, components))
    if is_match_all(template.index_patterns) and HIDDEN in composed_settings:
        raise InvalidIndexTemplate(name, f"global composable templates may not specify the setting {HIDDEN}")
    missing = _missing_components(template, components)
    if missing:
        raise InvalidIndexTemplate(name, f"index template [{name}] specifies component templates "
                                         f"[{', '.join(missing)}] that do not exist")
    existing = metadata.index_templates.get(name)
    if create and existing is not None:
        raise IllegalArgument(f"index template [{name}] already exists")
    priority = template.priority_or_zero
    overlaps = overlapping_templates(metadata.index_templates, name, template.index_patterns, priority)
    if overlaps:
        described = ",".join(f"{n} => [{', '.join(p)}]" for n, p in overlaps.items())
        raise IllegalArgument(
            f"index template [{name}] has index patterns [{', '.join(template.index_patterns)}] matching "
            f"patterns from existing templates [{','.join(overlaps)}] with patterns ({described}) that have "
            f"the same priority [{priority}], multiple index templates may not match during index creation, "
            f"please use a different priority")
    if template == existing:
        return content
    validate_template(name, template.template, template.index_patterns, mappings_alone=False)
    _validate_composed(name, template, components)
    log.info("%s index template [%s] for index patterns [%s]", "adding" if existing is None else "updating",
             name, ", ".join(template.index_patterns))
    return _with(content, index_templates={**metadata.index_templates, name: template})


def delete_index_templates(content: ClusterStateContent, expressions: list[str], *,
                           check_reserved: bool = True) -> ClusterStateContent:
    metadata = content.metadata
    names = _matching(metadata.index_templates, expressions, IndexTemplateMissing)
    _refuse_reserved(metadata, check_reserved, {index_template_key(n) for n in names},
                     f"delete index templates [{','.join(expressions)}]")
    return _without(content, "index_templates", names)
