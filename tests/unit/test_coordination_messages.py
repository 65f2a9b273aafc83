"""Coordination messages travel as tagged msgpack structs and come back equal."""

from __future__ import annotations

import msgspec

from strata_node.cluster.coordination import ClusterState, VotingConfiguration
from strata_node.cluster.coordination.messages import (
    ApplyCommitRequest,
    Join,
    JoinRequest,
    Message,
    PreVoteRequest,
    PublishRequest,
    PublishResponse,
    PublishWithJoinResponse,
)


def test_every_message_round_trips_through_msgpack():
    configuration = VotingConfiguration.of("a", "b", "c")
    state = ClusterState(
        term=2,
        version=7,
        master="a",
        nodes=frozenset("abc"),
        last_committed_configuration=configuration,
        last_accepted_configuration=configuration,
        value={"indices": ["logs"]},
    )
    vote = Join(source="b", target="a", term=2, last_accepted_term=1, last_accepted_version=6)
    messages = [
        JoinRequest(source="b", term=2, join=vote),
        JoinRequest(source="c", term=2),
        PublishRequest(source="a", state=state),
        PublishWithJoinResponse(source="b", response=PublishResponse(term=2, version=7), join=vote),
        ApplyCommitRequest(source="a", term=2, version=7),
        PreVoteRequest(source="c", current_term=2, last_accepted_term=2, last_accepted_version=7),
    ]
    decoder = msgspec.msgpack.Decoder(Message)
    for message in messages:
        assert decoder.decode(msgspec.msgpack.encode(message)) == message
