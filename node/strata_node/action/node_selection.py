"""Which nodes a request's node selectors name (Elasticsearch's
DiscoveryNodes.resolveNodes), applied in order: `_all`, `_local`, `_master`, node ids,
names, host names and addresses (with `*` wildcards), `role:true|false` (`master`,
`data`, `ingest`, `coordinating_only`, any role name) and custom attributes
`attr:value`."""

from __future__ import annotations

from typing import Any

from ..common.flags import parse_flag
from ..common.patterns import simple_match


def _catalogue(node, known: dict[str, str | None]) -> list[dict[str, Any]]:
    """What a selector can match for each node of the cluster."""
    coordination = node.coordination
    state = coordination.applied_state if coordination is not None else None
    details = state.node_details if state is not None else {}
    out = []
    for node_id, address in known.items():
        d = details.get(node_id)
        if node_id == node.node_id:
            name, roles, attributes = node.name, node.settings.get("node.roles"), \
                node.settings.attributes
            address = node.transport.address
        elif d is not None:
            name, roles, attributes = d.name, d.roles, d.attributes
        else:
            name, roles, attributes = "", (), {}
        host = (address or "").rsplit(":", 1)[0].strip("[]")
        out.append({"id": node_id, "name": name, "host": host, "roles": set(roles),
                    "attributes": dict(attributes)})
    return out

def select_nodes(node, wanted: list[str], known: dict[str, str | None]) -> dict[str, str | None]:
    """The nodes of `known` (node id -> address) the selectors in `wanted` name; every
    one when there is none."""
    if not wanted:
        return known
    catalogue = _catalogue(node, known)
    master = node.coordination.master_node if node.coordination is not None else None
    chosen: set[str] = set()
    for selector in (w.strip() for w in wanted):
        if selector == "_all":
            chosen |= {n["id"] for n in catalogue}
        elif selector == "_local":
            chosen.add(node.node_id)
        elif selector == "_master":
            if master is not None:
                chosen.add(master.id)
        elif selector in known:
            chosen.add(selector)
        else:
            chosen |= {n["id"] for n in catalogue if simple_match(selector, n["name"])
                       or simple_match(selector, n["host"])}
            name, colon, value = selector.partition(":")
            if not colon:
                continue
            role = {"coordinating_only": None}.get(name, name)
            if name == "coordinating_only" or name in {r for n in catalogue for r in n["roles"]} \
                    or name in ("master", "data", "ingest", "ml", "voting_only", "transform",
                                "remote_cluster_client"):
                matching = {n["id"] for n in catalogue
                            if (not n["roles"] if role is None else
                                role in n["roles"] or (role == "data" and
                                                       any(r.startswith("data") for r in n["roles"])))}
                if parse_flag(value, True):
                    chosen |= matching
                else:
                    chosen -= matching
            else:
                chosen |= {n["id"] for n in catalogue for k, v in n["attributes"].items()
                           if simple_match(name, k) and simple_match(value, str(v))}
    return {n: a for n, a in known.items() if n in chosen}
