"""Seed hosts as Elasticsearch reads them, resolved through DNS on every round."""

import asyncio
from types import SimpleNamespace

from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.coordination_service import CoordinationService, format_address, parse_seed_host
from strata_node.transport.service import Handshake


def test_seed_hosts_take_the_default_port_unless_they_name_one():
    assert parse_seed_host("10.0.0.1", 9300) == ("10.0.0.1", 9300)
    assert parse_seed_host("db-0.strata:9400", 9300) == ("db-0.strata", 9400)
    assert parse_seed_host("[::1]", 9300) == ("::1", 9300)
    assert parse_seed_host("[::1]:9301", 9300) == ("::1", 9301)


def test_ipv6_addresses_are_bracketed():
    assert format_address("::1", 9300) == "[::1]:9300"
    assert format_address("127.0.0.1", 9300) == "127.0.0.1:9300"


def resolver(*seed_hosts: str):
    return SimpleNamespace(_seed_hosts=list(seed_hosts), _default_port=9300, _find_peers_seconds=1.0,
                           local_node=DiscoveryNode(id="me", name="me"))


def test_a_dns_name_resolves_to_every_address_it_has():
    addresses = asyncio.run(CoordinationService._resolve_seed_hosts(resolver("localhost:9301")))
    assert "127.0.0.1:9301" in addresses


def test_an_unresolvable_seed_host_is_skipped_and_the_others_still_resolve():
    addresses = asyncio.run(CoordinationService._resolve_seed_hosts(
        resolver("no-such-host.invalid", "127.0.0.1:9302")))
    assert addresses == {"127.0.0.1:9302"}


class Transport:
    """Holds a handshake with the node at `peer` that a send made since the last round."""

    address = "127.0.0.1:9300"
    disconnected: set[str] = set()

    def __init__(self, peer: str, node_id: str):
        self.handshakes = {peer: Handshake(cluster_name="c", node_id=node_id, node_name=node_id,
                                           version="0", address=peer, roles=("master",))}
        self.connects: list[str] = []

    def node_id_at(self, address):
        remote = self.handshakes.get(address)
        return remote.node_id if remote is not None else None

    async def connect(self, address):
        self.connects.append(address)
        return self.handshakes[address]


def discovering(transport: Transport, discovered: dict, nodes: frozenset[str]):
    async def seeds():
        return {"127.0.0.1:9301"}

    state = SimpleNamespace(nodes=nodes, node_details={})
    return SimpleNamespace(_single_node=False, _resolve_seed_hosts=seeds, _learned_addresses=set(),
                           coordinator=SimpleNamespace(last_accepted_state=state), transport=transport,
                           discovered=discovered, node_id="me", _inputs=asyncio.Queue(),
                           _maybe_bootstrap=lambda: None)


def test_a_node_back_from_a_restart_is_a_peer_again_though_a_send_shook_hands_with_it_first():
    """The last accepted state removed it while it was away, and the round then found nobody
    at its address; a message sent to it since made the transport shake hands. The next
    round must still find it, or the only other voter never hears a pre-vote."""
    transport = Transport("127.0.0.1:9301", "n1")
    service = discovering(transport, discovered={}, nodes=frozenset({"me"}))
    asyncio.run(CoordinationService._discovery_round(service))
    assert service._inputs.get_nowait() == ("peers", {"me", "n1"})
    assert set(service.discovered) == {"127.0.0.1:9301"}


def test_a_node_discovered_last_round_and_still_connected_is_not_asked_again():
    transport = Transport("127.0.0.1:9301", "n1")
    discovered = {"127.0.0.1:9301": transport.handshakes["127.0.0.1:9301"]}
    service = discovering(transport, discovered=discovered, nodes=frozenset({"me", "n1"}))
    asyncio.run(CoordinationService._discovery_round(service))
    assert transport.connects == []
    assert service._inputs.get_nowait() == ("peers", {"me", "n1"})
