"""Which voting configuration the master should aim for.

Elasticsearch's Reconfigurator. The configuration follows the live master-eligible nodes
so that the cluster tolerates as many failures as it can: an odd size (an even one
tolerates no more failures than one node fewer), the master first, then nodes already in
the configuration (fewer changes), then newcomers; a master under an exclusion is left
out like any other node. With auto-shrink it keeps at least
three nodes once it has three not excluded; without, it never shrinks. A change is proposed only when
the live nodes hold a quorum of the new configuration, so it can actually commit. Nodes
under a voting configuration exclusion are left out, live or not.
"""

from __future__ import annotations

from collections.abc import Iterable

from strata_node.cluster.coordination.voting import VotingConfiguration


def _round_down_to_odd(count: int) -> int:
    return count - (1 - count % 2) if count > 0 else 0


def reconfigure(
    live_nodes: Iterable[str],
    master: str,
    current: VotingConfiguration,
    *,
    auto_shrink: bool,
    excluded: frozenset[str] = frozenset(),
) -> VotingConfiguration:
    # An excluded master leaves the configuration too, then hands over (Coordinator).
    leads = [] if master in excluded else [master]
    live = sorted((set(live_nodes) - excluded) | set(leads))
    if not live:
        return current  # never exclude the last voter
    live_in_config = [n for n in live if n in current and n != master]
    live_not_in_config = [n for n in live if n not in current and n != master]
    in_config_not_live = sorted(
        n for n in current.node_ids if n not in live and n != master and n not in excluded
    )
    # As Elasticsearch: the floor of three counts the configuration's nodes that are not
    # excluded; counting an excluded one would keep it in (3 -> 2 excluded-one stays 3) and
    # ask for the vote of a master-eligible node that may have voted for another candidate.
    remaining = [n for n in current.node_ids if n not in excluded]
    minimum = 1 if len(remaining) < 3 else 3
    if auto_shrink:
        target = max(_round_down_to_odd(len(live)), minimum)
    else:
        target = max(_round_down_to_odd(len(live)), len(current))
    ordered = [*leads, *live_in_config, *live_not_in_config, *in_config_not_live]
    proposed = VotingConfiguration(frozenset(ordered[:target]))
    if proposed.has_quorum(live):
        return proposed
    return current
