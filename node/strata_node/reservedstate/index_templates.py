"""The `index_templates` reserved state handler (Elasticsearch's
ReservedComposableIndexTemplateAction): the component and composable index templates a
settings file declares, and nothing else of the ones it declared before.

    "index_templates": {
      "component_templates": {"<name>": {"template": {...}}},
      "composable_index_templates": {"<name>": {"index_patterns": [...], "composed_of": [...]}}
    }

It puts component templates before the index templates that may compose them, then
removes what the file no longer names: index templates before the component templates
they may use. Every check a put or delete through the API makes applies, except the
refusal of reserved keys: this handler is their owner. It reserves
`component_template:<name>` and `composable_index_template:<name>`.
"""

from __future__ import annotations

from typing import Any

from ..cluster.state import ClusterStateContent
from ..common.errors import IllegalArgument
from ..index.templates import updates
from ..index.templates.metadata import parse_component_template, parse_index_template
from .handler import ReservedStateHandler, TransformResult

COMPONENTS = "component_templates"
INDEX_TEMPLATES = "composable_index_templates"


def _section(source: dict[str, Any], key: str) -> dict[str, Any]:
    section = source.get(key) or {}
    if not isinstance(section, dict):
        raise IllegalArgument(f"[{updates.HANDLER}] [{key}] must be an object of templates by name")
    return section


def _names(keys: frozenset[str], prefix_of) -> set[str]:
    prefix = prefix_of("")
    return {k[len(prefix):] for k in keys if k.startswith(prefix)}


class IndexTemplatesHandler(ReservedStateHandler):
    name = updates.HANDLER

    def transform(self, source: Any, content: ClusterStateContent,
                  previous_keys: frozenset[str]) -> TransformResult:
        source = source or {}
        if not isinstance(source, dict):
            raise IllegalArgument(f"[{self.name}] must be an object")
        unknown = sorted(set(source) - {COMPONENTS, INDEX_TEMPLATES})
        if unknown:
            raise IllegalArgument(f"[{self.name}] unknown keys {unknown}, expected "
                                  f"[{COMPONENTS}, {INDEX_TEMPLATES}]")
        components = {n: parse_component_template(b) for n, b in _section(source, COMPONENTS).items()}
        index_templates = {n: parse_index_template(b) for n, b in _section(source, INDEX_TEMPLATES).items()}

        for name, template in sorted(components.items()):
            content = updates.put_component_template(content, name, template, check_reserved=False)
        for name, template in sorted(index_templates.items()):
            content = updates.put_index_template(content, name, template, check_reserved=False)
        dropped_index_templates = _names(previous_keys, updates.index_template_key) - set(index_templates)
        dropped_components = _names(previous_keys, updates.component_template_key) - set(components)
        # Gone already (removed before the file reserved them, say): nothing to remove.
        dropped_index_templates &= set(content.metadata.index_templates)
        dropped_components &= set(content.metadata.component_templates)
        if dropped_index_templates:
            content = updates.delete_index_templates(content, sorted(dropped_index_templates),
                                                     check_reserved=False)
        if dropped_components:
            content = updates.delete_component_templates(content, sorted(dropped_components),
                                                         check_reserved=False)

        keys = {updates.component_template_key(n) for n in components}
        keys |= {updates.index_template_key(n) for n in index_templates}
        return TransformResult(content, frozenset(keys))


INDEX_TEMPLATES_HANDLER = IndexTemplatesHandler()
