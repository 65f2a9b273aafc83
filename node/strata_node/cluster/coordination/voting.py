"""Voting configurations and the votes counted against them."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec


class VotingConfiguration(msgspec.Struct, frozen=True):
    """The master-eligible node ids whose majority decides elections and commits.

    A quorum is strictly more than half of the configuration, so any two quorums of the
    same configuration share a node: that overlap is what makes terms and commits safe.
    The empty configuration (a node not yet bootstrapped) has no quorum at all.
    """

    node_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *node_ids: str) -> VotingConfiguration:
        return cls(frozenset(node_ids))

    def has_quorum(self, votes: Iterable[str]) -> bool:
        if not self.node_ids:
            return False
        granted = sum(1 for node_id in set(votes) if node_id in self.node_ids)
        return granted * 2 > len(self.node_ids)

    def is_empty(self) -> bool:
        return not self.node_ids

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.node_ids

    def __len__(self) -> int:
        return len(self.node_ids)

    def __repr__(self) -> str:
        return "VotingConfiguration(" + ",".join(sorted(self.node_ids)) + ")"


EMPTY_CONFIGURATION = VotingConfiguration()


class VoteCollection:
    """Votes from distinct nodes (joins in an election, acceptances in a publication)."""

    __slots__ = ("_votes",)

    def __init__(self) -> None:
        self._votes: set[str] = set()

    def add(self, node_id: str) -> bool:
        """Count a vote; False when that node had already voted."""
        if node_id in self._votes:
            return False
        self._votes.add(node_id)
        return True

    def contains(self, node_id: str) -> bool:
        return node_id in self._votes

    def is_quorum(self, configuration: VotingConfiguration) -> bool:
        return configuration.has_quorum(self._votes)

    def is_empty(self) -> bool:
        return not self._votes

    def node_ids(self) -> frozenset[str]:
        return frozenset(self._votes)

    def __repr__(self) -> str:
        return "VoteCollection(" + ",".join(sorted(self._votes)) + ")"
