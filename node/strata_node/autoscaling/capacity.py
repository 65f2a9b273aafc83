"""Capacity: storage, memory and processors, per node and in total (Elasticsearch's
AutoscalingCapacity), and how it is written in `GET /_autoscaling/capacity`.

Sizes are bytes; processors a float. A field that is None is unknown or not asked for, and
is left out of the JSON, as ES leaves it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple


class Resources(NamedTuple):
    storage: int | None = None
    memory: int | None = None
    processors: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("storage", self.storage), ("memory", self.memory),
                                  ("processors", self.processors)) if v is not None}

    def merge(self, other: Resources, how) -> Resources:
        """Field by field; a None field yields to the other's value."""
        return Resources(*(a if b is None else b if a is None else how(a, b)
                           for a, b in zip(self, other, strict=True)))


ZERO = Resources(0, 0, 0.0)


def _add(a, b):
    # Processors are kept to five decimals, as ES's Processors are.
    return round(a + b, 5) if isinstance(a, float) or isinstance(b, float) else a + b


class Capacity(NamedTuple):
    total: Resources
    node: Resources | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.node is not None:
            out["node"] = self.node.to_json()
        out["total"] = self.total.to_json()
        return out


ZERO_CAPACITY = Capacity(total=ZERO, node=ZERO)


def current(nodes: Iterable[Resources]) -> Capacity:
    """What the policy's nodes have: the sum over them, and the largest of them
    (AutoscalingCapacity.Builder's add and max); zero when there are none."""
    total: Resources | None = None
    largest: Resources | None = None
    for node in nodes:
        total = node if total is None else total.merge(node, _add)
        largest = node if largest is None else largest.merge(node, max)
    if total is None or largest is None:
        return ZERO_CAPACITY
    return Capacity(total=total, node=largest)


def upper_bound(capacities: Iterable[Capacity]) -> Capacity:
    """The least capacity that satisfies all of them (AutoscalingCapacity.upperBound)."""
    total = Resources()
    node: Resources | None = None
    for capacity in capacities:
        total = total.merge(capacity.total, max)
        if capacity.node is not None:
            node = capacity.node if node is None else node.merge(capacity.node, max)
    return Capacity(total=total, node=node)
