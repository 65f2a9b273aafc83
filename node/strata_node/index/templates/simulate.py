"""What an index would get from the templates, without creating anything (Elasticsearch's
TransportSimulateIndexTemplateAction and TransportSimulateTemplateAction).

Both answer `{"template": {settings, mappings, aliases}, "overlapping": [...]}`: the
composed settings, the merged mapping as the index would hold it, the aliases, and the
other templates whose patterns overlap the chosen one's. A template given in the body is
put into a copy of the state first, with every check a real put makes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...common.errors import IllegalArgument
from ...common.ids import random_base64_uuid
from .. import mapping as mappings
from ..service import analysis_names
from .metadata import ComposableIndexTemplate, render_settings
from .resolve import composed_parts, find_template, overlapping_templates, resolved_template
from .updates import put_index_template

if TYPE_CHECKING:
    from ...cluster.state import ClusterStateContent, Metadata


def _with_template(content: ClusterStateContent, name: str, template: ComposableIndexTemplate,
                   create: bool) -> Metadata:
    return put_index_template(content, name, template, create=create).metadata


def _answer(metadata: Metadata, template_name: str, index: str, flat: bool) -> dict[str, Any]:
    template = metadata.index_templates[template_name]
    composed = resolved_template(composed_parts(template, metadata.component_templates))
    rendered: dict[str, Any] = {"settings": render_settings(composed.settings, flat)}
    if composed.mappings:
        mapping = mappings.Mapping.parse(composed.mappings, analysis=analysis_names(composed.settings, index))
        rendered["mappings"] = mapping.to_dict()
    rendered["aliases"] = composed.aliases
    overlapping = overlapping_templates(metadata.index_templates, template_name, template.index_patterns)
    return {"template": rendered,
            "overlapping": [{"name": n, "index_patterns": p} for n, p in overlapping.items()]}


def simulate_index(content: ClusterStateContent, index: str, template: ComposableIndexTemplate | None = None,
                   *, create: bool = False, flat: bool = False) -> dict[str, Any]:
    """`POST /_index_template/_simulate_index/{index}`: `{}` when no template matches."""
    metadata = content.metadata
    if template is not None:
        metadata = _with_template(content, f"simulate_index_template_{random_base64_uuid().lower()}",
                                  template, create)
    matching = find_template(metadata.index_templates, index)
    return {} if matching is None else _answer(metadata, matching, index, flat)


def simulate_template(content: ClusterStateContent, name: str | None,
                      template: ComposableIndexTemplate | None, *, create: bool = False,
                      flat: bool = False) -> dict[str, Any]:
    """`POST /_index_template/_simulate[/{name}]`: an existing template by name, or the
    one in the body (under that name, or a temporary one)."""
    suffix = random_base64_uuid().lower()
    metadata = content.metadata
    if template is not None:
        name = name or f"simulate_template_{suffix}"
        metadata = _with_template(content, name, template, create)
    if name is None or name not in metadata.index_templates:
        raise IllegalArgument(f"unable to simulate template [{name}] that does not exist")
    return _answer(metadata, name, f"simulate_template_index_{suffix}", flat)
