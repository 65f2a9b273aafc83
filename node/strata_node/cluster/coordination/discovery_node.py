"""What a cluster knows of one node: Elasticsearch's DiscoveryNode.

The coordination core only needs `id` and whether the node may vote (`master` among its
roles); the rest travels with the node's join so every node can reach and describe every
other one from the cluster state alone.
"""

from __future__ import annotations

import msgspec

MASTER_ROLE = "master"
DATA_ROLES = frozenset({"data", "data_content", "data_hot", "data_warm", "data_cold", "data_frozen"})


class DiscoveryNode(msgspec.Struct, frozen=True):
    id: str
    name: str = ""
    transport_address: str = ""
    http_address: str = ""
    roles: tuple[str, ...] = (MASTER_ROLE,)
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    # A fresh id per process start: a restarted node is a new member to the master, which
    # must publish to it in full (Elasticsearch's ephemeral id).
    ephemeral_id: str = ""

    @property
    def is_master_eligible(self) -> bool:
        return MASTER_ROLE in self.roles

    @property
    def is_data_node(self) -> bool:
        return not DATA_ROLES.isdisjoint(self.roles)
