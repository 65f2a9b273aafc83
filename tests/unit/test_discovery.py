"""Seed hosts as Elasticsearch reads them, resolved through DNS on every round."""

import asyncio
from types import SimpleNamespace

from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.coordination_service import CoordinationService, format_address, parse_seed_host


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
