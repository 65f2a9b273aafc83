"""The reserved state handlers a node knows, by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .autoscaling import AUTOSCALING_HANDLER
from .cluster_settings import ClusterSettingsHandler
from .handler import ReservedStateHandler
from .index_templates import INDEX_TEMPLATES_HANDLER


def handlers_by_name(*handlers: ReservedStateHandler) -> dict[str, ReservedStateHandler]:
    out: dict[str, ReservedStateHandler] = {}
    for handler in handlers:
        if handler.name in out:
            raise ValueError(f"Duplicate key {handler.name}")
        out[handler.name] = handler
    return out


def default_handlers(node_settings: Mapping[str, Any] | None = None) -> dict[str, ReservedStateHandler]:
    return handlers_by_name(ClusterSettingsHandler(node_settings), INDEX_TEMPLATES_HANDLER,
                            AUTOSCALING_HANDLER)
