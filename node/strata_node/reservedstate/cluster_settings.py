"""The `cluster_settings` reserved state handler (Elasticsearch's
ReservedClusterSettingsAction): the file's settings become persistent cluster settings,
validated as `PUT /_cluster/settings` validates them, and each setting name is a reserved
key. A setting the file no longer names is removed from the persistent settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from ..cluster.state import ClusterStateContent
from ..common.cluster_settings import apply_update
from ..common.errors import IllegalArgument
from ..settings import flatten
from .handler import ReservedStateHandler, TransformResult

NAME = "cluster_settings"


class ClusterSettingsHandler(ReservedStateHandler):
    name = NAME

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
        if persistent != metadata.persistent_settings:
            content = msgspec.structs.replace(content, metadata=msgspec.structs.replace(
                metadata, persistent_settings=persistent, version=metadata.version + 1))
        return TransformResult(content, frozenset(wanted))
