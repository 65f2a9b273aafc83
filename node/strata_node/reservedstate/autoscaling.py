"""The `autoscaling` reserved state handler (Elasticsearch's ReservedAutoscalingPolicyAction):
the autoscaling policies a settings file declares, and nothing else of the ones it declared
before.

    "autoscaling": {"<name>": {"roles": [...], "deciders": {...}}}

Each entry reads and applies as the body of `PUT /_autoscaling/policy/<name>` does; a
policy the file named before and names no more is deleted. It reserves each policy's
name, so the API refuses to change or delete it.
"""

from __future__ import annotations

from typing import Any

from ..autoscaling import policy as policies
from ..cluster.state import ClusterStateContent
from ..common.errors import IllegalArgument
from .handler import ReservedStateHandler, TransformResult


class AutoscalingHandler(ReservedStateHandler):
    name = policies.HANDLER

    def transform(self, source: Any, content: ClusterStateContent,
                  previous_keys: frozenset[str]) -> TransformResult:
        source = source or {}
        if not isinstance(source, dict):
            raise IllegalArgument(f"[{self.name}] must be an object of policies by name")
        requests = {}
        for name, body in sorted(source.items()):
            requests[name] = policies.read_put(name, body)
        for name, request in requests.items():
            content = policies.put(content, name, request, check_reserved=False)
        stored = policies.policies(content)
        for name in sorted(previous_keys - set(requests)):
            if name in stored:  # gone already (deleted before the file reserved it): nothing to do
                content = policies.delete(content, name, check_reserved=False)
        return TransformResult(content, frozenset(requests))


AUTOSCALING_HANDLER = AutoscalingHandler()
