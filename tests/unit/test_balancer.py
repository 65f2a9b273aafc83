"""The balancer (ES's BalancedShardsAllocator), the rebalance deciders and delayed
allocation, on pure cluster state contents: where new copies go, which started copies move
and when, that rebalancing converges without ping-pong under the deciders, that a replica
whose node left waits for it (and gets back to it), and what explain says of all that."""

import random

import msgspec
import pytest

from strata_node.action import index_admin
from strata_node.allocation import allocator, deciders, explain
from strata_node.allocation.balancer import Model, improves, lighter
from strata_node.allocation.deciders import NO, THROTTLE, YES, Allocation
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.state import ClusterStateContent, ShardRouting
from strata_node.settings import SettingsError, node_setting, validate_index_settings

NOW = 1_700_000_000_000
MINUTE = 60_000
NONE_EXPLANATION = "no rebalancing is allowed due to cluster setting [cluster.routing.rebalance.enable=none]"


def node(node_id: str, ephemeral: str = "e1", **attributes: str) -> DiscoveryNode:
    return DiscoveryNode(id=node_id, name=f"name-{node_id}", transport_address=f"127.0.0.{len(node_id)}:9300",
                         roles=("master", "data"), attributes=attributes, ephemeral_id=ephemeral)


def cluster(*ids: str) -> dict[str, DiscoveryNode]:
    return {i: node(i) for i in ids}


def with_settings(content: ClusterStateContent, **persistent) -> ClusterStateContent:
    flat = {k.replace("__", "."): v for k, v in persistent.items()}
    metadata = msgspec.structs.replace(content.metadata,
                                       persistent_settings={**content.metadata.persistent_settings, **flat})
    return msgspec.structs.replace(content, metadata=metadata)


def create(content: ClusterStateContent, name: str, nodes, *, shards: int = 1, replicas: int = 1,
           now: int = NOW, **settings) -> ClusterStateContent:
    body = {"settings": {"number_of_shards": shards, "number_of_replicas": replicas,
                         **{k.replace("__", "."): v for k, v in settings.items()}}}
    content = index_admin.create_index(content, index_admin.build_index_metadata(name, body))
    return allocator.reroute(content, nodes, now_ms=now)


def all_copies(content: ClusterStateContent) -> list[ShardRouting]:
    return [c for copies in content.routing_table.indices.values() for c in copies]


def start_initializing(content: ClusterStateContent) -> ClusterStateContent:
    for c in all_copies(content):
        if c.state == "INITIALIZING":
            content = allocator.shard_started(content, c.index, c.shard, c.allocation_id)
    return content


def settle(content: ClusterStateContent, nodes, *, now: int = NOW, rounds: int = 200, check=None):
    """Reroute, then every recovery and relocation completes, until a reroute changes
    nothing: (content, rounds it took)."""
    for n in range(rounds):
        routed = allocator.reroute(content, nodes, now_ms=now)
        if check is not None:
            check(routed, nodes)
        done = start_initializing(routed)
        if done is content:
            return content, n
        content = done
    raise AssertionError(f"no fixpoint after {rounds} rounds")


def per_node(content: ClusterStateContent, nodes, index: str | None = None) -> dict[str, int]:
    counts = dict.fromkeys(nodes, 0)
    for c in all_copies(content):
        if c.node is not None and c.state != "RELOCATING" and (index is None or c.index == index):
            counts[c.node] += 1
    return counts


# -- weights -------------------------------------------------------------------------------------


def test_the_weight_is_es_formula_with_the_factors_normalized():
    nodes = cluster("a", "b")
    content = with_settings(create(ClusterStateContent(), "logs", nodes, shards=2, replicas=0),
                            cluster__routing__allocation__balance__shard="1",
                            cluster__routing__allocation__balance__index="3")
    alloc = Allocation(content, nodes)
    assert (alloc.settings.shard_balance, alloc.settings.index_balance) == (0.25, 0.75)
    model = Model(content.routing_table.indices, alloc)
    # one copy on each node, 2 copies over 2 nodes: both at the average
    assert model.weight("a", "logs") == model.weight("b", "logs") == 0.0
    model.move("logs", "a", "b")
    assert model.weight("b", "logs") == pytest.approx(1.0)
    assert model.weight("a", "logs") == pytest.approx(-1.0)


def test_a_move_must_gain_more_than_the_threshold_and_not_swap_the_weights():
    assert lighter(1.0, 1.0) and lighter(1.0005, 1.0) and not lighter(1.01, 1.0)
    assert not improves(1.0, 0.0, 1.0)  # one copy apart: moving it only swaps the two nodes
    assert improves(2.0, 0.0, 1.0)
    assert not improves(2.0, 0.0, 2.5)
    assert not improves(0.0, 2.0, 1.0)  # never towards the heavier node


def test_balance_settings_are_validated_as_elasticsearch_does():
    assert node_setting("cluster.routing.allocation.balance.threshold").parse("1.5", "t") == 1.5
    with pytest.raises(SettingsError):
        node_setting("cluster.routing.allocation.balance.threshold").parse("0.5", "t")
    with pytest.raises(SettingsError):
        node_setting("cluster.routing.rebalance.enable").parse("sometimes", "e")
    with pytest.raises(SettingsError):
        node_setting("cluster.routing.allocation.allow_rebalance").parse("never", "e")
    assert node_setting("cluster.routing.allocation.cluster_concurrent_rebalance").parse("-1", "c") == -1
    assert validate_index_settings({"index.unassigned.node_left.delayed_timeout": "5m"}) == {
        "index.unassigned.node_left.delayed_timeout": 300.0}
    assert validate_index_settings({"index.routing.rebalance.enable": "replicas"}) == {
        "index.routing.rebalance.enable": "replicas"}


# -- placing unassigned copies -----------------------------------------------------------------------


def test_a_new_copy_goes_to_the_node_of_least_weight_counting_its_index_more():
    nodes = cluster("a", "b", "c")
    content, _ = settle(create(ClusterStateContent(), "big", nodes, shards=3, replicas=0), nodes)
    # a, b and c hold one copy of "big" each; "small" then goes by node id at equal weight
    content, _ = settle(create(content, "small", nodes, shards=2, replicas=0), nodes)
    assert sorted(per_node(content, nodes, "small").values()) == [0, 1, 1]
    # a third index with 3 shards spreads one per node: the index factor outweighs the totals
    content, _ = settle(create(content, "third", nodes, shards=3, replicas=0), nodes)
    assert sorted(per_node(content, nodes, "third").values()) == [1, 1, 1]


# -- rebalancing -----------------------------------------------------------------------------------


def test_a_node_joining_receives_shards_until_balanced_at_most_two_moves_at_a_time():
    two = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", two, shards=6, replicas=1), two)
    assert per_node(content, two) == {"a": 6, "b": 6}
    three = cluster("a", "b", "c")
    moving = allocator.reroute(content, three, now_ms=NOW)
    relocating = [c for c in all_copies(moving) if c.state == "RELOCATING"]
    assert len(relocating) == 2  # cluster_concurrent_rebalance
    targets = [c for c in all_copies(moving) if c.relocating_node is not None and c.state == "INITIALIZING"]
    assert {c.node for c in targets} == {"c"}
    content, rounds = settle(moving, three)
    assert per_node(content, three) == {"a": 4, "b": 4, "c": 4}
    assert rounds <= 4
    assert {c.state for c in all_copies(content)} == {"STARTED"}


def test_equally_loaded_nodes_never_trade_copies():
    nodes = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "odd", nodes, shards=3, replicas=0), nodes)
    assert sorted(per_node(content, nodes).values()) == [1, 2]  # one apart: within the threshold
    assert allocator.reroute(content, nodes, now_ms=NOW) is content


def test_a_higher_threshold_tolerates_more_imbalance():
    two = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", two, shards=4, replicas=0), two)
    content = with_settings(content, cluster__routing__allocation__balance__threshold="3")
    three = cluster("a", "b", "c")
    content, _ = settle(content, three)
    assert per_node(content, three) == {"a": 2, "b": 2, "c": 0}  # a 2 to 0 gap is within 3
    content, _ = settle(with_settings(content, cluster__routing__allocation__balance__threshold="1"), three)
    assert sorted(per_node(content, three).values()) == [1, 1, 2]


@pytest.mark.parametrize("value, moved", [("none", set()), ("primaries", {True}), ("replicas", {False})])
def test_rebalance_enable_says_which_copies_may_move(value, moved):
    two = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", two, shards=4, replicas=1), two)
    content = with_settings(content, cluster__routing__rebalance__enable=value)
    three = cluster("a", "b", "c")
    kinds = set()
    for _ in range(20):
        content = allocator.reroute(content, three, now_ms=NOW)
        kinds |= {c.primary for c in all_copies(content) if c.state == "RELOCATING"}
        content = start_initializing(content)
    assert kinds == moved
    assert (per_node(content, three)["c"] == 0) == (value == "none")


def test_the_index_rebalance_setting_overrides_the_clusters():
    two = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "pinned", two, shards=4, replicas=0,
                               index__routing__rebalance__enable="none"), two)
    content, _ = settle(create(content, "free", two, shards=4, replicas=0), two)
    three = cluster("a", "b", "c")
    content, _ = settle(content, three)
    assert per_node(content, three, "pinned")["c"] == 0
    assert per_node(content, three, "free")["c"] > 0


def test_allow_rebalance_waits_for_every_shard_to_be_active_by_default():
    two = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", two, shards=4, replicas=0), two)
    content = create(content, "fresh", two, shards=1, replicas=0)  # initializing
    three = cluster("a", "b", "c")
    assert not any(c.state == "RELOCATING" for c in all_copies(allocator.reroute(content, three, now_ms=NOW)))
    always = with_settings(content, cluster__routing__allocation__allow_rebalance="always")
    assert any(c.state == "RELOCATING" for c in all_copies(allocator.reroute(always, three, now_ms=NOW)))
    # an unassigned replica (nowhere to go) blocks it too, unless primaries_active is enough
    lonely, _ = settle(create(ClusterStateContent(), "wide", two, shards=4, replicas=2), two)
    assert not any(c.state == "RELOCATING" for c in all_copies(allocator.reroute(lonely, three, now_ms=NOW)))


def test_rebalancing_respects_the_allocation_deciders():
    two = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", two, shards=4, replicas=0,
                               index__routing__allocation__exclude___name="name-c"), two)
    three = cluster("a", "b", "c")
    content, _ = settle(content, three)
    assert per_node(content, three)["c"] == 0


def test_concurrent_rebalance_minus_one_is_unlimited():
    two = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", two, shards=8, replicas=0), two)
    content = with_settings(content, cluster__routing__allocation__cluster_concurrent_rebalance="-1",
                            cluster__routing__allocation__node_concurrent_recoveries="10")
    moving = allocator.reroute(content, cluster("a", "b", "c", "d"), now_ms=NOW)
    assert sum(c.state == "RELOCATING" for c in all_copies(moving)) == 4


def test_rebalance_deciders_answer_as_elasticsearch():
    nodes = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", nodes, shards=1, replicas=1), nodes)
    alloc = Allocation(content, nodes)
    alloc.count_activity(content.routing_table.indices)
    primary = next(c for c in all_copies(content) if c.primary)
    assert deciders.cluster_rebalance(alloc) == (YES, "cluster_rebalance", "all shards are active")
    assert deciders.concurrent_rebalance(alloc).explanation == (
        "below threshold [2] for concurrent rebalances, current rebalance shard count [0]")
    alloc.relocating = 2
    assert deciders.concurrent_rebalance(alloc) == (
        THROTTLE, "concurrent_rebalance", "reached the limit of concurrently rebalancing shards [2], cluster "
        "setting [cluster.routing.allocation.cluster_concurrent_rebalance=2]")
    alloc.unassigned = 1
    assert deciders.cluster_rebalance(alloc) == (
        NO, "cluster_rebalance", "the cluster has unassigned shards and cluster setting "
        "[cluster.routing.allocation.allow_rebalance] is set to [indices_all_active]")
    replicas = Allocation(with_settings(content, cluster__routing__rebalance__enable="replicas"), nodes)
    assert deciders.enable_rebalance(primary, replicas) == (
        NO, "enable", "primary rebalancing is forbidden due to cluster setting "
        "[cluster.routing.rebalance.enable=replicas]")
    off = Allocation(with_settings(content, cluster__routing__rebalance__enable="none"), nodes)
    assert deciders.enable_rebalance(None, off) == (NO, "enable", NONE_EXPLANATION)


# -- explain for a started copy ---------------------------------------------------------------------


def test_explain_says_a_started_copy_can_rebalance_to_a_lighter_node():
    two = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", two, shards=4, replicas=0), two)
    three = cluster("a", "b", "c")
    copy = explain.find_shard(content, three, "logs", 3, True, None)
    body = explain.explain(content, three, copy, now_ms=NOW)
    assert (body["can_remain_on_current_node"], body["can_rebalance_cluster"],
            body["can_rebalance_to_other_node"], body["rebalance_explanation"]) == (
        "yes", "yes", "yes", "Elasticsearch can rebalance this shard to another node.")
    assert body["target_node"]["id"] == "c"
    assert "can_rebalance_cluster_decisions" not in body
    decisions = {d["node_id"]: d["node_decision"] for d in body["node_allocation_decisions"]}
    other = ({"a", "b"} - {copy.node}).pop()
    assert decisions == {"c": "yes", other: "worse_balance"}
    assert body["current_node"]["weight_ranking"] >= 2


def test_explain_shows_the_rebalance_deciders_that_refuse():
    two = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", two, shards=4, replicas=0), two)
    content = with_settings(content, cluster__routing__rebalance__enable="none")
    three = cluster("a", "b", "c")
    body = explain.explain(content, three, explain.find_shard(content, three, "logs", 0, True, None))
    assert (body["can_rebalance_cluster"], body["can_rebalance_to_other_node"]) == ("no", "no")
    assert body["can_rebalance_cluster_decisions"] == [
        {"decider": "enable", "decision": "NO", "explanation": NONE_EXPLANATION}]
    assert body["rebalance_explanation"] == (
        "Elasticsearch is allowed to allocate this shard on another node, and there is at least one node to "
        "which it could move this shard that would improve the overall cluster balance, but it isn't allowed "
        "to rebalance this shard there. If you expect this shard to be rebalanced to another node, check the "
        "cluster-wide rebalancing decisions and address any reasons preventing Elasticsearch from "
        "rebalancing shards within the cluster, and then find the expected node in the node-by-node "
        "explanation and address the reasons which prevent Elasticsearch from moving this shard there.")


def test_explain_says_rebalancing_is_refused_with_no_node_that_would_better_the_balance():
    """A node whose deciders say yes but where the copy would not better the balance is
    `worse_balance`: it is not the node CANNOT_REBALANCE_CAN_ALLOCATE speaks of."""
    two = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", two, shards=4, replicas=0), two)
    content = with_settings(content, cluster__routing__rebalance__enable="none")
    body = explain.explain(content, two, explain.find_shard(content, two, "logs", 0, True, None))
    assert [d["node_decision"] for d in body["node_allocation_decisions"]] == ["worse_balance"]
    assert body["rebalance_explanation"] == (
        "Elasticsearch is not allowed to allocate or rebalance this shard to another node. If you expect "
        "this shard to be rebalanced to another node, find this node in the node-by-node explanation and "
        "address the reasons which prevent Elasticsearch from rebalancing this shard there.")


def test_explain_says_rebalancing_is_throttled_at_the_concurrent_limit():
    two = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", two, shards=6, replicas=0), two)
    three = cluster("a", "b", "c")
    moving = allocator.reroute(content, three, now_ms=NOW)
    started = next(c for c in all_copies(moving) if c.state == "STARTED")
    body = explain.explain(moving, three, explain.find_shard(moving, three, "logs", started.shard, True,
                                                             None))
    assert (body["can_rebalance_cluster"], body["can_rebalance_to_other_node"],
            body["rebalance_explanation"]) == (
        "throttled", "throttled", "Elasticsearch is currently busy with other activities. It will rebalance "
                                  "this shard when those activities finish. Please wait.")
    assert [d["decider"] for d in body["can_rebalance_cluster_decisions"]] == ["concurrent_rebalance"]


# -- delayed allocation -------------------------------------------------------------------------------


def replicas_of(content: ClusterStateContent, name: str = "logs") -> list[ShardRouting]:
    return [c for c in content.routing_table.indices[name] if not c.primary]


def three_with_replicas(**settings):
    nodes = cluster("a", "b", "c")
    content, _ = settle(create(ClusterStateContent(), "logs", nodes, shards=3, replicas=1, **settings), nodes)
    return content, nodes


def test_a_replica_whose_node_left_waits_for_the_delayed_timeout_then_goes_elsewhere():
    content, nodes = three_with_replicas()
    gone = next(c for c in replicas_of(content)).node
    left = {n: d for n, d in nodes.items() if n != gone}
    content = allocator.reroute(content, left, now_ms=NOW)
    waiting = [c for c in all_copies(content) if c.state == "UNASSIGNED"]
    assert waiting
    assert all(c.delayed and not c.primary and c.unassigned_reason == "NODE_LEFT" for c in waiting)
    assert allocator.next_delay_expiry(content, left) == NOW + MINUTE
    assert allocator.reroute(content, left, now_ms=NOW + MINUTE - 1) is content
    after = allocator.reroute(content, left, now_ms=NOW + MINUTE)
    assert not any(c.state == "UNASSIGNED" or c.delayed for c in all_copies(after))
    assert allocator.next_delay_expiry(after, left) is None


def test_a_node_back_within_the_delay_gets_its_replicas_back():
    content, nodes = three_with_replicas()
    gone = next(c for c in replicas_of(content)).node
    before = {(c.shard, c.node) for c in replicas_of(content) if c.node == gone}
    left = {n: d for n, d in nodes.items() if n != gone}
    content = allocator.reroute(content, left, now_ms=NOW)
    back = {**left, gone: node(gone, ephemeral="e2")}
    content = allocator.reroute(content, back, now_ms=NOW + 10_000)
    # every copy that was on it goes back to it (a primary there was replaced by a promoted
    # replica, so its copy comes back as a replica)
    assert {c.shard for c in all_copies(content) if c.node == gone} >= {s for s, _ in before}
    assert not any(c.state == "UNASSIGNED" for c in all_copies(content))
    assert all(c.node == gone for c in all_copies(content) if c.state == "INITIALIZING")


def test_a_zero_delayed_timeout_reallocates_at_once():
    content, nodes = three_with_replicas(index__unassigned__node_left__delayed_timeout="0s")
    gone = next(c for c in replicas_of(content)).node
    left = {n: d for n, d in nodes.items() if n != gone}
    content = allocator.reroute(content, left, now_ms=NOW)
    assert not any(c.delayed for c in all_copies(content))
    assert not any(c.state == "UNASSIGNED" for c in all_copies(content))


def test_a_restart_marker_delays_by_the_longer_of_its_delay_and_the_indexs():
    content, nodes = three_with_replicas()
    gone = next(c for c in replicas_of(content)).node
    marker = {gone: {"node_id": gone, "type": "restart", "reason": "r", "allocation_delay_ms": 10 * MINUTE}}
    metadata = msgspec.structs.replace(content.metadata, customs={deciders.SHUTDOWN_CUSTOM: marker})
    content = msgspec.structs.replace(content, metadata=metadata)
    left = {n: d for n, d in nodes.items() if n != gone}
    content = allocator.reroute(content, left, now_ms=NOW)
    assert allocator.next_delay_expiry(content, left) == NOW + 10 * MINUTE
    assert allocator.reroute(content, left, now_ms=NOW + 2 * MINUTE) is content


def test_explain_a_delayed_replica_as_elasticsearch():
    content, nodes = three_with_replicas()
    gone = next(c for c in replicas_of(content)).node
    left = {n: d for n, d in nodes.items() if n != gone}
    content = allocator.reroute(content, left, now_ms=NOW)
    waiting = next(c for c in all_copies(content) if c.delayed)
    body = explain.explain(content, left, waiting, now_ms=NOW + 200)
    assert body["can_allocate"] == "allocation_delayed"
    assert body["allocate_explanation"] == (
        "The node containing this shard copy recently left the cluster. Elasticsearch is waiting for it to "
        "return. If the node does not return within [59.8s] then Elasticsearch will allocate this shard to "
        "another node. Please wait.")
    assert (body["configured_delay"], body["configured_delay_in_millis"]) == ("1m", 60_000)
    assert (body["remaining_delay"], body["remaining_delay_in_millis"]) == ("59.8s", 59_800)
    assert body["unassigned_info"]["reason"] == "NODE_LEFT"


def test_explain_a_delayed_replica_no_other_node_may_take_as_elasticsearch():
    nodes = cluster("a", "b")
    content, _ = settle(create(ClusterStateContent(), "logs", nodes, shards=1, replicas=1), nodes)
    gone = next(c for c in replicas_of(content)).node
    left = {n: d for n, d in nodes.items() if n != gone}
    content = allocator.reroute(content, left, now_ms=NOW)
    waiting = next(c for c in all_copies(content) if c.delayed)
    body = explain.explain(content, left, waiting, now_ms=NOW + 200)
    assert body["allocate_explanation"] == (
        "The node holding this shard copy recently left the cluster. Elasticsearch is waiting for it to "
        "return. If the node does not return within [59.8s] then Elasticsearch will attempt to allocate this "
        "shard to another node, but it cannot be allocated to any other node currently in the cluster. If "
        "you expect this shard to be allocated to another node, find this node in the node-by-node "
        "explanation and address the reasons which prevent Elasticsearch from allocating this shard there.")


# -- convergence over random clusters -------------------------------------------------------------------


def check_invariants(content: ClusterStateContent, nodes) -> None:
    """What no reroute may ever produce: two copies of a shard on one node, a copy where a
    filter forbids it, more recoveries per node or relocations than the limits allow."""
    alloc = Allocation(content, nodes)
    alloc.count(content.routing_table.indices)
    alloc.count_activity(content.routing_table.indices)
    for name, copies in content.routing_table.indices.items():
        held = [(c.shard, c.node) for c in copies if c.node is not None]
        assert len(held) == len(set(held)), (name, held)
        for c in copies:
            if c.node is not None:
                assert deciders._filter(alloc.data_nodes[c.node], alloc, name).type == YES, (name, c)
    assert all(v <= alloc.settings.incoming for v in alloc.incoming.values())
    assert all(v <= alloc.settings.outgoing for v in alloc.outgoing.values())
    assert alloc.relocating <= alloc.settings.concurrent_rebalance


def assert_balanced(content: ClusterStateContent, nodes) -> None:
    """ES's end state: wherever one node outweighs another for an index by more than the
    threshold, no started copy of that index on the heavier node may move to the lighter."""
    alloc = Allocation(content, nodes)
    alloc.count(content.routing_table.indices)
    alloc.count_activity(content.routing_table.indices)
    model = Model(content.routing_table.indices, alloc)
    for index, copies in content.routing_table.indices.items():
        for heavy in nodes:
            for light in nodes:
                if lighter(model.weight(heavy, index) - model.weight(light, index), alloc.settings.threshold):
                    continue
                for c in copies:
                    if c.node == heavy and c.state == "STARTED":
                        shard = [x for x in copies if x.shard == c.shard]
                        movable = (deciders.can_rebalance(c, shard, alloc)[0] != NO
                                   and deciders.decide(c, alloc.data_nodes[light], shard, alloc)[0] != NO)
                        assert not movable, (index, c, heavy, light)


@pytest.mark.parametrize("seed", range(200))
def test_random_clusters_converge_balanced_without_violating_a_decider(seed):
    rng = random.Random(seed)
    ids = [f"n{i}" for i in range(rng.randint(2, 6))]
    first = {i: node(i) for i in ids[:rng.randint(1, len(ids))]}
    everyone = {i: node(i) for i in ids}
    content = ClusterStateContent()
    if rng.random() < 0.3:
        content = with_settings(content, cluster__routing__allocation__cluster_concurrent_rebalance=str(
            rng.randint(1, 4)))
    total = 0
    for n in range(rng.randint(1, 5)):
        settings = {}
        if len(ids) >= 3 and rng.random() < 0.3:
            settings["index__routing__allocation__exclude___name"] = f"name-{rng.choice(ids)}"
        shards, replicas = rng.randint(1, 5), rng.randint(0, 2)
        total += shards * (replicas + 1)
        content = create(content, f"index-{n}", first, shards=shards, replicas=replicas, **settings)
    content, _ = settle(content, first, check=check_invariants)
    content, rounds = settle(content, everyone, check=check_invariants)
    assert rounds <= 2 * total + 5
    assert_balanced(content, everyone)
    # and a settled cluster stays put
    assert allocator.reroute(content, everyone, now_ms=NOW) is content
