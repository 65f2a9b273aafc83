"""Autoscaling deciders (Elasticsearch's AutoscalingDeciderService implementations) and the
checks a policy passes before it is stored (AutoscalingCalculateCapacityService#validate).

A decider is pure: given what the master knows about the policy's nodes and the cluster,
it returns the capacity those nodes need and why. Which deciders a policy runs: those it
configures, plus every decider that is on by default and applies to its roles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..common.errors import IllegalArgument
from ..common.units import human_bytes, parse_bytes
from ..settings import _int as int_setting
from .capacity import Capacity, Resources
from .storage import ROLES as STORAGE_ROLES
from .storage import ClusterView, reactive


class Context(NamedTuple):
    """What a decider reads (AutoscalingDeciderContext): the policy's roles, what its
    nodes have now (None unless every one of them reported it), which nodes they are, and
    the master's view of the cluster (state, nodes, cluster info) the storage deciders
    simulate allocation over."""

    roles: tuple[str, ...]
    current_capacity: Capacity | None
    members: tuple[str, ...] = ()
    cluster: ClusterView | None = None


class Result(NamedTuple):
    required_capacity: Capacity | None
    reason_summary: str | None = None
    reason_details: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.required_capacity is not None:
            out["required_capacity"] = self.required_capacity.to_json()
        if self.reason_summary is not None:
            out["reason_summary"] = self.reason_summary
            out["reason_details"] = self.reason_details
        return out


@dataclass(frozen=True)
class Decider:
    name: str
    roles: frozenset[str] | None  # None: every role
    applies_to_empty_roles: bool
    default_on: bool
    # setting -> its reader, (text, key) -> value, raising ValueError for a bad one
    settings: Mapping[str, Callable[[str, str], Any]]
    scale: Callable[[Mapping[str, Any], Context], Result]

    def applies_to(self, roles: tuple[str, ...]) -> bool:
        if not roles:
            return self.applies_to_empty_roles
        return self.roles is None or bool(self.roles & set(roles))

    def configuration(self, raw: Mapping[str, str]) -> dict[str, Any]:
        """Each configured setting read; unknown ones and bad values are refused."""
        out = {}
        for key, text in raw.items():
            read = self.settings.get(key)
            if read is None:
                raise IllegalArgument(f"unknown setting [{key}] for decider [{self.name}]")
            try:
                out[key] = read(text, key)
            except ValueError as e:
                raise IllegalArgument(str(e)) from None
        return out


def processors(text: str, key: str) -> float:
    """Processors.of: a finite count above zero, kept to five decimals."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"Failed to parse value [{text}] for setting [{key}]") from None
    if not math.isfinite(value) or value <= 0.0:
        java = {math.inf: "Infinity", -math.inf: "-Infinity"}
        shown = "NaN" if math.isnan(value) else java.get(value, value)
        raise ValueError(f"processors must be a positive number; provided [{shown}]")
    return round(value, 5)


# -- fixed -------------------------------------------------------------------------------------


def _fixed(configuration: Mapping[str, Any], context: Context) -> Result:
    """FixedAutoscalingDeciderService: the capacity the settings name, per node and times
    `nodes` in total; nothing set asks for nothing (an undetermined capacity)."""
    storage, memory = configuration.get("storage"), configuration.get("memory")
    processors = configuration.get("processors")
    nodes = configuration.get("nodes", 1)
    details: dict[str, Any] = {"storage": None if storage is None else human_bytes(storage),
                               "memory": None if memory is None else human_bytes(memory),
                               "nodes": nodes}
    if processors is not None:
        details["processors"] = processors
    shown = {k: "null" if v is None else v for k, v in {**details, "processors": processors}.items()}
    summary = (f"fixed storage [{shown['storage']}] memory [{shown['memory']}] "
               f"processors [{shown['processors']}] nodes [{nodes}]")
    if storage is None and memory is None and processors is None:
        return Result(None, summary, details)
    node = Resources(storage, memory, processors)
    total = Resources(None if storage is None else storage * nodes,
                      None if memory is None else memory * nodes,
                      None if processors is None else round(processors * nodes, 5))
    return Result(Capacity(total=total, node=node), summary, details)


FIXED = Decider("fixed", roles=None, applies_to_empty_roles=True, default_on=False,
                settings={"storage": parse_bytes, "memory": parse_bytes, "processors": processors,
                          "nodes": int_setting(0)},
                scale=_fixed)

# -- reactive_storage ------------------------------------------------------------------------


def _reactive_storage(configuration: Mapping[str, Any], context: Context) -> Result:
    return Result(*reactive(context.current_capacity, context.roles, context.members, context.cluster))


REACTIVE_STORAGE = Decider("reactive_storage", roles=STORAGE_ROLES, applies_to_empty_roles=False,
                           default_on=True, settings={}, scale=_reactive_storage)

DECIDERS: dict[str, Decider] = {d.name: d for d in (FIXED, REACTIVE_STORAGE)}


def deciders_of(name: str, roles: tuple[str, ...], configured: Mapping[str, Mapping[str, str]],
                known: Mapping[str, Decider] = DECIDERS) -> dict[str, dict[str, Any]]:
    """The deciders a policy runs and their read settings: the configured ones, checked,
    then the default ones that apply to its roles. Raises what ES raises for a bad policy."""
    out: dict[str, dict[str, Any]] = {}
    for decider_name, raw in configured.items():
        decider = known.get(decider_name)
        if decider is None:
            raise IllegalArgument(f"unknown decider [{decider_name}]")
        if not decider.applies_to(roles):
            raise IllegalArgument(f"decider [{decider_name}] not applicable to policy with roles "
                                  f"[ [{', '.join(roles)}]]")
        out[decider_name] = decider.configuration(raw)
    for decider in known.values():
        if decider.default_on and decider.applies_to(roles) and decider.name not in out:
            out[decider.name] = {}
    if not out:
        raise IllegalArgument(f"no default nor user configured deciders for policy [{name}] with roles "
                              f"[[{', '.join(roles)}]]")
    return out

