"""Ports for a local cluster whose seed hosts are known before its nodes start."""

from __future__ import annotations

import socket

from strata_node.common.net import ephemeral_range, free_ports


def test_free_ports_lie_below_the_range_the_kernel_hands_to_outgoing_connections():
    """A free port in the ephemeral range can go to any outgoing connection before the
    node binds it (a node of a test cluster then failed with `Address already in use`)."""
    low, _ = ephemeral_range()
    ports = free_ports(20)
    assert len(set(ports)) == 20
    assert all(port < low for port in ports)


def test_ports_handed_out_are_not_handed_out_again_while_their_nodes_start():
    first, second = free_ports(50), free_ports(50)
    assert not set(first) & set(second)


def test_a_port_in_use_is_not_handed_out(monkeypatch):
    import strata_node.common.net as net

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        # the candidates come out with the held port first
        monkeypatch.setattr(net.random, "sample", lambda ports, k: [taken, *ports[:k]])
        monkeypatch.setattr(net, "ephemeral_range", lambda: (65000, 65535))
        ports = free_ports(3)
    assert taken not in ports and len(ports) == 3
