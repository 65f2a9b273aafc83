"""The contract of a reserved state handler (Elasticsearch's ReservedClusterStateHandler).

A handler owns one part of the cluster state, named like its key in settings.json's
`state` object. `transform` is pure: given its part of the file and the cluster state
content as the handlers before it left it, it returns the new content and the exact set of
keys it now reserves. It reconciles: whatever it reserved before and the file no longer
names is removed from the cluster (`previous_keys` says what that was). Any exception is a
validation error; the service then applies nothing.
"""

from __future__ import annotations

import abc
from typing import Any

import msgspec

from ..cluster.state import ClusterStateContent


class TransformResult(msgspec.Struct, frozen=True):
    content: ClusterStateContent
    keys: frozenset[str]


class ReservedStateHandler(abc.ABC):
    """The base of every handler: no dependencies unless a handler names some."""

    name: str

    def dependencies(self) -> tuple[str, ...]:
        """Handlers that must be present in the file and run before this one."""
        return ()

    def optional_dependencies(self) -> tuple[str, ...]:
        """Handlers that run before this one when the file has them."""
        return ()

    @abc.abstractmethod
    def transform(self, source: Any, content: ClusterStateContent,
                  previous_keys: frozenset[str]) -> TransformResult:
        """The content with this handler's part made what `source` says, and its keys."""
