"""Which copy a read goes to: preferences, and adaptive replica selection's ranking."""

from strata_node.cluster.shard_copies import read_copies, replica_rank, updated_ewma
from strata_node.cluster.state import ClusterStateContent, RoutingTable, ShardRouting


def content(*copies: ShardRouting) -> ClusterStateContent:
    return ClusterStateContent(routing_table=RoutingTable(1, {"logs": tuple(copies)}))


STATE = content(
    ShardRouting("logs", 0, True, "STARTED", "a", allocation_id="pa"),
    ShardRouting("logs", 0, False, "STARTED", "b", allocation_id="rb"),
    ShardRouting("logs", 0, False, "INITIALIZING", "c", allocation_id="rc"),
)


def nodes(copies) -> list[str]:
    return [c.node for c in copies]


def test_only_active_copies_are_read():
    assert sorted(nodes(read_copies(STATE, "logs", 0, "x"))) == ["a", "b"]


def test_local_preference_tries_this_nodes_copy_first():
    assert nodes(read_copies(STATE, "logs", 0, "b", "_local")) == ["b", "a"]


def test_only_nodes_and_primary_preferences_restrict_the_copies():
    assert nodes(read_copies(STATE, "logs", 0, "x", "_only_nodes:b")) == ["b"]
    assert nodes(read_copies(STATE, "logs", 0, "x", "_primary")) == ["a"]


def test_a_custom_preference_always_picks_the_same_order():
    orders = {tuple(nodes(read_copies(STATE, "logs", 0, "x", "user-42"))) for _ in range(5)}
    assert len(orders) == 1


def test_adaptive_selection_reads_from_the_better_ranked_copy():
    ranks = {"a": replica_rank(30.0, 0), "b": replica_rank(5.0, 0)}
    assert nodes(read_copies(STATE, "logs", 0, "x", None, ranks)) == ["b", "a"]


def test_a_node_never_measured_is_tried_first():
    assert nodes(read_copies(STATE, "logs", 0, "x", None, {"a": replica_rank(1.0, 0)})) == ["b", "a"]


def test_outstanding_requests_weigh_more_than_response_time():
    assert replica_rank(5.0, 2) > replica_rank(20.0, 0)


def test_the_response_time_average_moves_toward_new_samples():
    assert updated_ewma(None, 10.0) == 10.0
    assert 10.0 < updated_ewma(10.0, 20.0) < 20.0
