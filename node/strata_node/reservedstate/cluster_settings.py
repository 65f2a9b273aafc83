"""The `cluster_settings` reserved state handler (Elasticsearch's
ReservedClusterSettingsAction): the file's settings become persistent cluster settings,
validated as `PUT /_cluster/settings` validates them, and each setting name is a reserved
key. A setting the file no longer names is removed from the persistent settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from ..cluster.state import ClusterStateContent
from ..common.cluster_settings import apply_update, check_consistent
from ..common.errors import IllegalArgument
from ..settings import flatten
from .handler import ReservedStateHandler, TransformResult

NAME = "cluster_settings"


class ClusterSettingsHandler(ReservedStateHandler):
    """`node_settings`: the node's own, the layer under the file's for the checks that span
    settings (the disk watermarks)."""

    name = NAME

    def __init__(self, node_settings: Mapping[str, Any] | None = None):
        self.node_settings = node_settings or {}

    def transform(self, source: Any, content: ClusterStateContent,
                  previous_keys: frozenset[str]) -> TransformResult:
        if source is None:
            source = {}
        if not isinstance(source, Mapping):
            raise IllegalArgument(f"[{NAME}] must be an object of settings, got [{source}]")
        wanted = flatten(source)
        nulls = sorted(k for k, v in wanted.items() if v is None)
        if nulls:
            raise IllegalArgument(f"[{NAME}] settings must have values; [{', '.join(nulls)}] is null")
        # Settings dropped from the file are reset; the rest set, all validated together.
        update = {**{key: None for key in previous_keys if key not in wanted}, **wanted}
        metadata = content.metadata
        persistent, _ = apply_update(metadata.persistent_settings, update, "persistent")
        changed = {k for k in persistent.keys() | metadata.persistent_settings.keys()
                   if persistent.get(k) != metadata.persistent_settings.get(k)}
        check_consistent(changed, self.node_settings, persistent, metadata.transient_settings)
        if persistent != metadata.persistent_settings:
            content = msgspec.structs.replace(content, metadata=msgspec.structs.replace(
                metadata, persistent_settings=persistent, version=metadata.version + 1))
        return TransformResult(content, frozenset(wanted))
