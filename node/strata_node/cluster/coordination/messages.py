"""Messages between coordinating nodes.

Every message names its `source`, so a receiver needs nothing but the message. They are
frozen msgspec structs, tagged for the wire codec, and carry terms so that any receiver
can learn of a newer term from any message.
"""

from __future__ import annotations

import msgspec

from strata_node.cluster.coordination.cluster_state import ClusterState
from strata_node.cluster.coordination.discovery_node import DiscoveryNode


class CoordinationMessage(msgspec.Struct, frozen=True, tag=True):
    source: str


class StartJoinRequest(CoordinationMessage, frozen=True, tag=True):
    """A candidate asks the receiver to move to `term` and vote for it."""

    term: int


class Join(msgspec.Struct, frozen=True):
    """A vote: `source` votes for `target` in `term`, having last accepted the state
    (`last_accepted_term`, `last_accepted_version`). A node casts at most one per term."""

    source: str
    target: str
    term: int
    last_accepted_term: int
    last_accepted_version: int


class JoinRequest(CoordinationMessage, frozen=True, tag=True):
    """Asks the receiver (a candidate or the leader) to take `source` into its cluster,
    carrying the vote when `source` has one for it in the receiver's term, and what the
    master should publish about `source` (address, roles)."""

    term: int
    join: Join | None = None
    node: DiscoveryNode | None = None


class PublishRequest(CoordinationMessage, frozen=True, tag=True):
    """Phase one of a publication: accept (persist) this state."""

    state: ClusterState


class PublishResponse(msgspec.Struct, frozen=True):
    term: int
    version: int


class PublishWithJoinResponse(CoordinationMessage, frozen=True, tag=True):
    """The acceptance of a publication, plus the vote the receiver cast on moving to the
    publisher's term (so the leader gathers join votes for a later reconfiguration)."""

    response: PublishResponse
    join: Join | None = None


class PublishRejected(CoordinationMessage, frozen=True, tag=True):
    """The receiver refused a publication; `current_term` lets the publisher learn of a
    newer term, and lets it fail the publication early when no quorum is left."""

    term: int
    version: int
    current_term: int
    reason: str


class ApplyCommitRequest(CoordinationMessage, frozen=True, tag=True):
    """Phase two: the state (`term`, `version`) is committed; apply it."""

    term: int
    version: int


class ApplyCommitResponse(CoordinationMessage, frozen=True, tag=True):
    """The receiver applied (`term`, `version`); the leader's lag detector counts these."""

    term: int
    version: int


class PreVoteRequest(CoordinationMessage, frozen=True, tag=True):
    """Would the receiver vote for `source`? Changes nothing on the receiver, so a node
    that cannot win (lagging, or cut off from a healthy leader) does not bump terms."""

    current_term: int
    last_accepted_term: int
    last_accepted_version: int


class PreVoteResponse(CoordinationMessage, frozen=True, tag=True):
    current_term: int
    last_accepted_term: int
    last_accepted_version: int
    granted: bool


class PeersRequest(CoordinationMessage, frozen=True, tag=True):
    """Sent by a candidate to find an existing leader."""

    term: int


class PeersResponse(CoordinationMessage, frozen=True, tag=True):
    """`leader` is the responder itself when it leads, else None (a follower's view of its
    leader may be stale, so only a leader speaks for itself)."""

    term: int
    leader: str | None


class LeaderCheckRequest(CoordinationMessage, frozen=True, tag=True):
    """A follower asking its leader whether it still leads and still counts it in."""

    term: int
    check_id: int


class LeaderCheckResponse(CoordinationMessage, frozen=True, tag=True):
    term: int
    check_id: int
    ok: bool


class FollowerCheckRequest(CoordinationMessage, frozen=True, tag=True):
    """The leader asking a node whether it still follows it in `term`."""

    term: int
    check_id: int


class FollowerCheckResponse(CoordinationMessage, frozen=True, tag=True):
    """`current_term` is the follower's, so a leader learns of a newer term from it."""

    current_term: int
    check_id: int
    ok: bool


Message = (
    StartJoinRequest
    | JoinRequest
    | PublishRequest
    | PublishWithJoinResponse
    | PublishRejected
    | ApplyCommitRequest
    | ApplyCommitResponse
    | PreVoteRequest
    | PreVoteResponse
    | PeersRequest
    | PeersResponse
    | LeaderCheckRequest
    | LeaderCheckResponse
    | FollowerCheckRequest
    | FollowerCheckResponse
)
