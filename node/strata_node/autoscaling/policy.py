"""Autoscaling policies and where they live: the `autoscaling` metadata custom
(Elasticsearch's AutoscalingPolicy, AutoscalingMetadata and the put/delete transport
actions' cluster state updates).

A policy names a set of node roles and the deciders that say how much capacity nodes with
exactly those roles need. Decider settings are kept as Elasticsearch keeps them: flattened,
every value a string. The custom's shape is ES's,
`{"policies": {name: {"policy": {"roles": [...], "deciders": {...}}}}}`, so
`GET /_cluster/state` shows what ES shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ..cluster.state import ClusterStateContent, with_custom
from ..common.errors import ActionRequestValidation, IllegalArgument, StrataError, XContentParseError
from ..common.patterns import simple_match
from ..index.metadata import setting_string
from ..reservedstate.metadata import refuse_reserved
from ..settings import flatten
from .deciders import deciders_of

CUSTOM = "autoscaling"
HANDLER = "autoscaling"  # the reserved state handler that may own policies

# DiscoveryNodeRole.roleNames(): a policy may name roles no node of this cluster has.
ROLE_NAMES = frozenset({"data", "data_cold", "data_content", "data_frozen", "data_hot", "data_warm",
                        "ingest", "master", "ml", "remote_cluster_client", "transform", "voting_only"})
# Strings.INVALID_FILENAME_CHARS, in the order ES prints the set.
INVALID_NAME_CHARS = (" ", '"', "*", "\\", "<", "|", ",", ">", "/", "?")


class PolicyNotFound(StrataError):
    type = "resource_not_found_exception"
    status = 404

    def __init__(self, name: str):
        super().__init__(f"autoscaling policy with name [{name}] does not exist")


class PutPolicy(NamedTuple):
    """A put request's body: None for a field not given, which an existing policy keeps."""

    roles: tuple[str, ...] | None
    deciders: dict[str, dict[str, str]] | None


def parse_put(body: Any) -> PutPolicy:
    """The body of `PUT /_autoscaling/policy/{name}` (its parser is strict, and ES's name
    for it carries a typo: `put_autocaling_policy_request`)."""
    if not isinstance(body, dict):
        raise XContentParseError("[put_autocaling_policy_request] Expected START_OBJECT", line=1, column=1)
    roles: tuple[str, ...] | None = None
    deciders: dict[str, dict[str, str]] | None = None
    for key, value in body.items():
        if value is None and key in ("roles", "deciders"):
            raise XContentParseError(f"[put_autocaling_policy_request] {key} doesn't support values of type: "
                                     "VALUE_NULL", line=1, column=2)
        if key == "roles":
            if isinstance(value, str):  # ObjectParser's string arrays take one string too
                value = [value]
            if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
                raise XContentParseError("[put_autocaling_policy_request] failed to parse field [roles]",
                                         line=1, column=2)
            roles = tuple(sorted(set(value)))
        elif key == "deciders":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise XContentParseError("[put_autocaling_policy_request] failed to parse field [deciders]",
                                         line=1, column=2)
            deciders = {}
            for name, settings in sorted(value.items()):
                # Settings.fromXContent: nested objects flatten into dotted keys, values become text.
                flat = flatten(settings)
                if any(isinstance(v, list) for v in flat.values()):  # no decider reads a list
                    raise XContentParseError(
                        "[put_autocaling_policy_request] failed to parse field [deciders]", line=1, column=2)
                deciders[name] = {k: setting_string(v) for k, v in sorted(flat.items()) if v is not None}
        else:
            raise XContentParseError(f"[put_autocaling_policy_request] unknown field [{key}]",
                                     line=1, column=2)
    return PutPolicy(roles, deciders)


def validate_put(name: str, put: PutPolicy) -> None:
    """The request's own checks (PutAutoscalingPolicyAction.Request#validate)."""
    errors = []
    if put.roles is not None:
        errors.extend(r for r in put.roles if r not in ROLE_NAMES)
    if not name or any(c in name for c in INVALID_NAME_CHARS):
        chars = ", ".join(INVALID_NAME_CHARS)
        errors.append(f"name must not contain the following characters [{chars}]")
    if errors:
        raise ActionRequestValidation(errors)


def read_put(name: str, body: Any) -> PutPolicy:
    """A put body read and checked, as the API and the file settings handler take it."""
    request = parse_put(body)
    validate_put(name, request)
    return request


# -- the custom ------------------------------------------------------------------------------


def policies(content: ClusterStateContent) -> dict[str, dict[str, Any]]:
    """Policy name -> {"roles": [...], "deciders": {...}}, sorted by name."""
    custom = content.metadata.customs.get(CUSTOM) or {}
    return {n: entry["policy"] for n, entry in sorted((custom.get("policies") or {}).items())}


def _with_policies(content: ClusterStateContent,
                   by_name: Mapping[str, dict[str, Any]]) -> ClusterStateContent:
    # Kept when empty, as ES keeps `{"policies": {}}` once the custom exists.
    return with_custom(content, CUSTOM, {"policies": {n: {"policy": p} for n, p in sorted(by_name.items())}})


def put(content: ClusterStateContent, name: str, request: PutPolicy, *,
        check_reserved: bool = True) -> ClusterStateContent:
    """TransportPutAutoscalingPolicyAction#putAutoscalingPolicy: a new policy needs roles
    (an empty list is a choice); an existing one keeps what the request leaves out, and a
    given decider map replaces the old one whole. The result must be a policy the deciders
    this node knows can run. An unchanged policy is no change."""
    if check_reserved:
        refuse_reserved(content.metadata.reserved_state, HANDLER, {name},
                        f"put autoscaling policy [{name}]")
    current = policies(content)
    existing = current.get(name)
    if existing is None:
        if request.roles is None:
            raise IllegalArgument(f"new policy {name} with no roles defined, "
                                  "must provide empty list for no roles")
        roles, deciders = request.roles, request.deciders or {}
    else:
        roles = request.roles if request.roles is not None else tuple(existing["roles"])
        deciders = request.deciders if request.deciders is not None else existing["deciders"]
    deciders_of(name, roles, deciders)
    policy = {"roles": list(roles), "deciders": {d: dict(s) for d, s in sorted(deciders.items())}}
    if policy == existing:
        return content
    return _with_policies(content, {**current, name: policy})


def delete(content: ClusterStateContent, name: str, *, check_reserved: bool = True) -> ClusterStateContent:
    """A `*` pattern deletes what it matches, nothing included; a plain name must exist."""
    current = policies(content)
    if "*" in name:
        names = [n for n in current if simple_match(name, n)]
    elif name in current:
        names = [name]
    else:
        raise PolicyNotFound(name)
    if check_reserved:
        # ES checks the name as given: `*` deletes reserved policies too (ECK resets its
        # policies that way), a reserved name itself is refused.
        refuse_reserved(content.metadata.reserved_state, HANDLER, {name},
                        f"delete autoscaling policy [{name}]")
    if not names:
        return content
    return _with_policies(content, {n: p for n, p in current.items() if n not in names})
