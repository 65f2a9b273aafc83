"""Reserved state metadata: which keys a namespace (`file_settings`) owns, and why its
last update failed (Elasticsearch's ReservedStateMetadata, ReservedStateHandlerMetadata
and ReservedStateErrorMetadata).

It lives in the cluster state's metadata, one entry per namespace, so every node can
refuse a REST change to a reserved key, and Kubernetes tooling reads the applied version
and errors back from `GET /_cluster/state`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from ..common.errors import IllegalArgument

# ES's sentinels: NO_VERSION for a namespace never applied, EMPTY_VERSION for one whose
# file held no state at all, RESTORED_VERSION for metadata restored from a snapshot.
NO_VERSION = -(2**63)
EMPTY_VERSION = -1
RESTORED_VERSION = 0

ERROR_KINDS = ("parsing", "validation", "transient")


class ReservedStateError(msgspec.Struct, frozen=True):
    version: int
    error_kind: str  # one of ERROR_KINDS
    errors: tuple[str, ...] = ()


class ReservedStateMetadata(msgspec.Struct, frozen=True):
    namespace: str
    version: int = NO_VERSION
    # handler name -> the keys it reserved, sorted
    handlers: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    errors: ReservedStateError | None = None

    def conflicts(self, handler: str, modified: Iterable[str]) -> set[str]:
        return set(self.handlers.get(handler, ())) & set(modified)

    def keys(self, handler: str) -> frozenset[str]:
        return frozenset(self.handlers.get(handler, ()))

    def render(self) -> dict[str, Any]:
        """As `GET /_cluster/state` shows it under `metadata.reserved_state.<namespace>`."""
        errors = None
        if self.errors is not None:
            errors = {"version": self.errors.version, "error_kind": self.errors.error_kind,
                      "errors": list(self.errors.errors)}
        return {"version": self.version,
                "handlers": {name: {"keys": list(keys)} for name, keys in sorted(self.handlers.items())},
                "errors": errors}


def refuse_reserved(reserved: Mapping[str, ReservedStateMetadata], handler: str,
                    modified: Iterable[str], request: str) -> None:
    """What every REST-reachable change to state a handler owns calls first: a change to a
    key some namespace reserved is refused with Elasticsearch's message, naming the
    namespace and the keys; changes to other keys go through."""
    modified = set(modified)
    problems = []
    for namespace in sorted(reserved):
        conflicts = reserved[namespace].conflicts(handler, modified)
        if conflicts:
            problems.append(f"[{', '.join(sorted(conflicts))}] set as read-only by [{namespace}]")
    if problems:
        raise IllegalArgument(f"Failed to process request [{request}] with errors: [{', '.join(problems)}]")
