"""Which copy a read goes to: preferences, and adaptive replica selection's ranking."""

import pytest

from strata_node.cluster.shard_copies import read_copies, replica_rank, shard_preference, updated_ewma
from strata_node.cluster.state import ClusterStateContent, RoutingTable, ShardRouting
from strata_node.common.errors import IllegalArgument, NumberFormatError


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


def test_only_nodes_and_only_local_preferences_restrict_the_copies():
    assert nodes(read_copies(STATE, "logs", 0, "x", "_only_nodes:b")) == ["b"]
    assert nodes(read_copies(STATE, "logs", 0, "b", "_only_local")) == ["b"]
    assert nodes(read_copies(STATE, "logs", 0, "a", "_onlyLocal")) == ["a"]
    assert nodes(read_copies(STATE, "logs", 0, "x", "_only_local")) == []


@pytest.mark.parametrize("preference", ["_primary", "_replica", "_primary_first", "_bogus:x"])
def test_preferences_es_8_does_not_know_are_refused(preference):
    # Preference.parse: ES 7 removed _primary, _replica and their variants
    name = preference.split(":")[0]
    with pytest.raises(IllegalArgument, match=rf"^no Preference for \[{name}\]$"):
        read_copies(STATE, "logs", 0, "x", preference)
    with pytest.raises(IllegalArgument, match=rf"^no Preference for \[{name}\]$"):
        shard_preference(preference, 0)


def test_a_shards_preference_names_the_shards_read_and_then_the_copies_preference():
    listed = [shard_preference("_shards:0,2", n) for n in range(3)]
    assert listed == [(True, None), (False, None), (True, None)]
    assert shard_preference("_shards:1|_local", 1) == (True, "_local")
    assert shard_preference("_shards:1|user-42", 1) == (True, "user-42")
    assert shard_preference("_shards:1|", 1) == (True, None)
    assert shard_preference("_shards:1|_local", 0) == (False, None)
    assert shard_preference("_shards:1|_bogus", 0) == (False, None)  # only a listed shard reads the rest
    assert shard_preference("user-42", 3) == (True, "user-42")
    assert nodes(read_copies(STATE, "logs", 0, "b", "_shards:0|_local")) == ["b", "a"]


def test_a_shards_preference_reads_its_numbers_as_java_ints_and_refuses_the_rest():
    assert shard_preference("_shards:+1,", 1) == (True, None)
    assert shard_preference("_shards:0,x", 0) == (True, None)  # ES stops reading at the shard's own number
    with pytest.raises(NumberFormatError, match=r'^For input string: "x"$'):
        shard_preference("_shards:0,x", 1)
    with pytest.raises(NumberFormatError, match=r'^For input string: ""$'):
        shard_preference("_shards:,1", 1)
    with pytest.raises(NumberFormatError, match=r'^For input string: "2147483648"$'):
        shard_preference("_shards:2147483648", 0)
    with pytest.raises(IllegalArgument, match=r"^unknown preference \[SHARDS\]$"):
        shard_preference("_shards:0|_shards:1", 0)
    with pytest.raises(IllegalArgument, match=r"^no Preference for \[_shards\|_local\]$"):
        shard_preference("_shards|_local", 0)


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
