"""Allocation deciders one by one, the reroute with them, reroute commands and the
allocation explain API's answers, on pure cluster state contents."""

import dataclasses

import msgspec
import pytest

from strata_node.action import index_admin
from strata_node.allocation import allocator, commands, deciders, explain
from strata_node.allocation.deciders import NO, THROTTLE, YES, Allocation
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.state import ClusterStateContent, ShardRouting
from strata_node.common import cluster_settings
from strata_node.common.errors import IllegalArgument
from strata_node.settings import SettingsError, load_node_settings, validate_index_settings

NOW = 1_700_000_000_000


def node(
    node_id: str,
    zone: str | None = None,
    *,
    ip: str = "127.0.0.1",
    ephemeral: str = "e1",
    roles=("master", "data"),
    **attributes: str,
) -> DiscoveryNode:
    if zone is not None:
        attributes["zone"] = zone
    return DiscoveryNode(
        id=node_id,
        name=f"name-{node_id}",
        transport_address=f"{ip}:9300",
        roles=roles,
        attributes=attributes,
        ephemeral_id=ephemeral,
    )


def cluster(*members: DiscoveryNode) -> dict[str, DiscoveryNode]:
    return {n.id: n for n in members}


def with_settings(content: ClusterStateContent, **persistent: str) -> ClusterStateContent:
    flat = {k.replace("__", "."): v for k, v in persistent.items()}
    metadata = msgspec.structs.replace(
        content.metadata, persistent_settings={**content.metadata.persistent_settings, **flat}
    )
    return msgspec.structs.replace(content, metadata=metadata)


def create(
    content: ClusterStateContent, name: str, nodes, *, shards: int = 1, replicas: int = 1, **settings: str
) -> ClusterStateContent:
    body = {
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            **{k.replace("__", "."): v for k, v in settings.items()},
        }
    }
    content = index_admin.create_index(content, index_admin.build_index_metadata(name, body))
    return allocator.reroute(content, nodes, now_ms=NOW)


def copies(content: ClusterStateContent, name: str, shard: int = 0) -> list[ShardRouting]:
    return [c for c in content.routing_table.indices[name] if c.shard == shard]


def start_all(content: ClusterStateContent, nodes, rounds: int = 6) -> ClusterStateContent:
    """Report every initializing copy started and reroute, until nothing moves."""
    for _ in range(rounds):
        for name, all_copies in content.routing_table.indices.items():
            for c in all_copies:
                if c.state == "INITIALIZING":
                    content = allocator.shard_started(content, name, c.shard, c.allocation_id)
        content = allocator.reroute(content, nodes, now_ms=NOW)
    return content


def decide_on(content, nodes, copy, node_id, *, include_yes=True):
    alloc = Allocation(content, nodes, debug=True, include_yes=include_yes)
    alloc.count(content.routing_table.indices)
    shard = copies(content, copy.index, copy.shard)
    return deciders.decide(copy, alloc.data_nodes[node_id], shard, alloc)


def by_decider(decisions):
    return {d.decider: d for d in decisions}


# -- the deciders one by one ----------------------------------------------------------------------


def test_same_shard_refuses_a_node_holding_a_copy_and_quotes_it():
    nodes = cluster(node("a"), node("b"))
    content = start_all(create(ClusterStateContent(), "logs", cluster(node("a"))), cluster(node("a")))
    replica = next(c for c in copies(content, "logs") if not c.primary)
    kind, decisions = decide_on(content, nodes, replica, "a")
    primary = next(c for c in copies(content, "logs") if c.primary)
    assert kind == NO
    assert by_decider(decisions)["same_shard"].explanation == (
        "a copy of this shard is already allocated to this node "
        f"[[logs][0], node[a], [P], s[STARTED], a[id={primary.allocation_id}]]"
    )
    assert by_decider(decide_on(content, nodes, replica, "b")[1])["same_shard"].explanation == (
        "this node does not hold a copy of this shard"
    )


def test_same_shard_host_refuses_a_second_node_on_the_same_address():
    one = cluster(node("a", ip="10.0.0.1"))
    nodes = cluster(node("a", ip="10.0.0.1"), node("b", ip="10.0.0.1"), node("c", ip="10.0.0.2"))
    content = start_all(create(ClusterStateContent(), "logs", one), one)
    content = with_settings(content, cluster__routing__allocation__same_shard__host="true")
    replica = next(c for c in copies(content, "logs") if not c.primary)
    decision = by_decider(decide_on(content, nodes, replica, "b")[1])["same_shard"]
    assert decision.type == NO and "host address [10.0.0.1]" in decision.explanation
    assert by_decider(decide_on(content, nodes, replica, "c")[1])["same_shard"].type == YES


@pytest.mark.parametrize(
    "setting, primary_new, primary_existing, replica",
    [
        ("all", YES, YES, YES),
        ("none", NO, NO, NO),
        ("primaries", YES, YES, NO),
        ("new_primaries", YES, NO, NO),
    ],
)
def test_enable_by_kind_of_copy(setting, primary_new, primary_existing, replica):
    nodes = cluster(node("a"), node("b"))
    fresh = with_settings(ClusterStateContent(), cluster__routing__allocation__enable=setting)
    content = create(fresh, "new", {})
    new_primary = next(c for c in copies(content, "new") if c.primary)
    assert decide_on(content, nodes, new_primary, "a")[1][2].type == primary_new
    started = start_all(create(ClusterStateContent(), "old", cluster(node("a"))), cluster(node("a")))
    started = with_settings(
        allocator.reroute(started, {}, now_ms=NOW), cluster__routing__allocation__enable=setting
    )
    old_primary = next(c for c in copies(started, "old") if c.primary)
    assert old_primary.state == "UNASSIGNED" and old_primary.unassigned_reason == "NODE_LEFT"
    assert by_decider(decide_on(started, nodes, old_primary, "a")[1])["enable"].type == primary_existing
    both = start_all(
        create(
            with_settings(ClusterStateContent(), cluster__routing__allocation__enable="all"),
            "r",
            cluster(node("a")),
        ),
        cluster(node("a")),
    )
    both = with_settings(both, cluster__routing__allocation__enable=setting)
    unassigned_replica = next(c for c in copies(both, "r") if not c.primary)
    assert by_decider(decide_on(both, nodes, unassigned_replica, "b")[1])["enable"].type == replica


def test_the_index_enable_setting_overrides_the_clusters_and_says_so():
    nodes = cluster(node("a"))
    content = with_settings(ClusterStateContent(), cluster__routing__allocation__enable="none")
    content = create(content, "logs", nodes, index__routing__allocation__enable="all")
    assert next(c for c in copies(content, "logs") if c.primary).state == "INITIALIZING"
    content = create(ClusterStateContent(), "other", {}, index__routing__allocation__enable="none")
    primary = next(c for c in copies(content, "other") if c.primary)
    assert by_decider(decide_on(content, nodes, primary, "a")[1])["enable"].explanation == (
        "no allocations are allowed due to index setting [index.routing.allocation.enable=none]"
    )


@pytest.mark.parametrize(
    "settings, allowed",
    [
        ({"index.routing.allocation.require._name": "name-b"}, {"b"}),
        ({"index.routing.allocation.require._name": "name-*"}, {"a", "b", "c"}),
        ({"index.routing.allocation.include._name": "name-a,name-c"}, {"a", "c"}),
        ({"index.routing.allocation.exclude._name": "name-a,name-c"}, {"b"}),
        ({"index.routing.allocation.require._id": "c"}, {"c"}),
        ({"index.routing.allocation.include._ip": "10.0.0.2"}, {"b"}),
        ({"index.routing.allocation.exclude._ip": "10.0.0.*"}, {"c"}),
        ({"index.routing.allocation.include._host": "10.0.0.1"}, {"a"}),
        ({"index.routing.allocation.require.zone": "east"}, {"a", "b"}),
        (
            {
                "index.routing.allocation.require.zone": "east",
                "index.routing.allocation.require._name": "name-b",
            },
            {"b"},
        ),
        ({"index.routing.allocation.require.rack": "r1"}, set()),  # no node has it
        (
            {"index.routing.allocation.include.zone": "west", "index.routing.allocation.include._id": "a"},
            {"a", "c"},
        ),
        ({"index.routing.allocation.include._tier_preference": "data_hot"}, {"a", "b", "c"}),  # ES's trimTier
    ],
)
def test_index_filters_over_names_ids_addresses_and_attributes(settings, allowed):
    nodes = cluster(
        node("a", "east", ip="10.0.0.1"),
        node("b", "east", ip="10.0.0.2"),
        node("c", "west", ip="192.168.1.3"),
    )
    content = create(
        ClusterStateContent(), "logs", {}, **{k.replace(".", "__"): v for k, v in settings.items()}
    )
    primary = next(c for c in copies(content, "logs") if c.primary)
    assert {
        n for n in nodes if by_decider(decide_on(content, nodes, primary, n)[1])["filter"].type == YES
    } == allowed


def test_filter_explanations_name_the_setting_and_the_filters():
    nodes = cluster(node("a", "east"), node("b", "west"))
    content = create(
        ClusterStateContent(), "logs", {}, index__routing__allocation__require___name="name-b,x*"
    )
    primary = next(c for c in copies(content, "logs") if c.primary)
    assert by_decider(decide_on(content, nodes, primary, "a")[1])["filter"].explanation == (
        'node does not match index setting [index.routing.allocation.require] filters [_name:"name-b AND x*"]'
    )
    content = with_settings(
        create(ClusterStateContent(), "other", {}), cluster__routing__allocation__exclude__zone="west"
    )
    primary = next(c for c in copies(content, "other") if c.primary)
    assert by_decider(decide_on(content, nodes, primary, "b")[1])["filter"].explanation == (
        'node matches cluster setting [cluster.routing.allocation.exclude] filters [zone:"west"]'
    )
    assert by_decider(decide_on(content, nodes, primary, "a")[1])["filter"].explanation == (
        "node passes include/exclude/require filters"
    )


def test_awareness_allows_at_most_ceil_copies_per_zone():
    nodes = cluster(node("a", "east"), node("b", "east"), node("c", "west"))
    content = with_settings(ClusterStateContent(), cluster__routing__allocation__awareness__attributes="zone")
    content = create(content, "logs", cluster(node("a", "east")))
    content = start_all(content, cluster(node("a", "east")))
    replica = next(c for c in copies(content, "logs") if not c.primary)
    refused = by_decider(decide_on(content, nodes, replica, "b")[1])["awareness"]
    assert refused.type == NO
    assert refused.explanation == (
        "there are [2] copies of this shard and [2] values for attribute [zone] ([east, west] from nodes "
        "in the cluster and no forced awareness) so there may be at most [1] copies of this shard allocated "
        "to nodes with each value, but (including this copy) there would be [2] copies allocated to nodes "
        "with [node.attr.zone: east]"
    )
    assert by_decider(decide_on(content, nodes, replica, "c")[1])["awareness"].type == YES


def test_forced_awareness_counts_values_no_node_has_and_a_node_without_the_attribute_is_refused():
    nodes = cluster(node("a", "east"), node("b", "east"), node("x"))
    content = with_settings(ClusterStateContent(), cluster__routing__allocation__awareness__attributes="zone")
    content = create(content, "logs", cluster(node("a", "east")))
    content = start_all(content, cluster(node("a", "east")))
    replica = next(c for c in copies(content, "logs") if not c.primary)
    assert by_decider(decide_on(content, nodes, replica, "b")[1])["awareness"].type == YES  # ceil(2/1)
    forced = with_settings(content, cluster__routing__allocation__awareness__force__zone__values="east,west")
    decision = by_decider(decide_on(forced, nodes, replica, "b")[1])["awareness"]
    assert decision.type == NO and "[east, west] from forced awareness" in decision.explanation
    assert by_decider(decide_on(content, nodes, replica, "x")[1])["awareness"].explanation == (
        "node does not contain the awareness attribute [zone]; required attributes cluster setting "
        "[cluster.routing.allocation.awareness.attributes=zone]"
    )


def test_throttling_limits_incoming_and_outgoing_recoveries_and_initial_primaries():
    a, b, c = node("a"), node("b"), node("c")
    content = ClusterStateContent()
    for name in ("i1", "i2", "i3"):
        content = create(content, name, cluster(a))
    content = start_all(content, cluster(a), rounds=1)
    content = allocator.reroute(content, cluster(a, b, c), now_ms=NOW)
    # Three replicas whose primaries all sit on a: two recoveries out of a at once.
    initializing = [x for n in ("i1", "i2", "i3") for x in copies(content, n) if x.state == "INITIALIZING"]
    assert len(initializing) == 2
    waiting = next(x for n in ("i1", "i2", "i3") for x in copies(content, n) if x.state == "UNASSIGNED")
    decision = by_decider(decide_on(content, cluster(a, b, c), waiting, "c")[1])["throttling"]
    assert decision.type == THROTTLE and decision.explanation.startswith(
        "reached the limit of outgoing shard recoveries [2] on the node [a] which holds the primary"
    )
    more = allocator.reroute(
        with_settings(content, cluster__routing__allocation__node_concurrent_recoveries="3"),
        cluster(a, b, c),
        now_ms=NOW,
    )
    assert all(
        x.state == "INITIALIZING" for n in ("i1", "i2", "i3") for x in copies(more, n) if not x.primary
    )
    primaries = create(
        with_settings(
            ClusterStateContent(), cluster__routing__allocation__node_initial_primaries_recoveries="2"
        ),
        "many",
        cluster(a),
        shards=3,
        replicas=0,
    )
    assert sorted(x.state for x in primaries.routing_table.indices["many"]) == [
        "INITIALIZING",
        "INITIALIZING",
        "UNASSIGNED",
    ]


def test_max_retry_counts_failures_against_the_index_limit():
    a = node("a")
    content = create(
        ClusterStateContent(), "logs", cluster(a), replicas=0, index__allocation__max_retries="2"
    )
    primary = copies(content, "logs")[0]
    assert by_decider(decide_on(content, cluster(a), primary, "a")[1])["max_retry"].explanation == (
        "shard has no previous failures"
    )
    content = allocator.shard_failed(content, "logs", 0, primary.allocation_id, "disk on fire", now_ms=NOW)
    failed = copies(content, "logs")[0]
    assert by_decider(decide_on(content, cluster(a), failed, "a")[1])["max_retry"].explanation == (
        "shard has failed allocating [1] times but [2] retries are allowed"
    )
    content = allocator.reroute(content, cluster(a), now_ms=NOW)
    again = copies(content, "logs")[0]
    assert again.state == "INITIALIZING" and again.failed_attempts == 1
    content = allocator.shard_failed(content, "logs", 0, again.allocation_id, "disk on fire", now_ms=NOW)
    content = allocator.reroute(content, cluster(a), now_ms=NOW)
    stuck = copies(content, "logs")[0]
    assert (stuck.state, stuck.failed_attempts) == ("UNASSIGNED", 2)
    decision = by_decider(decide_on(content, cluster(a), stuck, "a")[1])["max_retry"]
    assert decision.type == NO and decision.explanation.startswith(
        "shard has exceeded the maximum number of retries [2] on failed allocation attempts - manually call "
        "[POST /_cluster/reroute?retry_failed&metric=none] to retry, "
        "[unassigned_info[[reason=ALLOCATION_FAILED], at[2023-11-14T22:13:20.000Z], failed_attempts[2]"
    )


def test_a_started_copy_may_not_remain_where_a_filter_now_excludes_it():
    a, b = node("a"), node("b")
    content = start_all(create(ClusterStateContent(), "logs", cluster(a, b)), cluster(a, b))
    primary = next(c for c in copies(content, "logs") if c.primary)
    alloc = Allocation(content, cluster(a, b))
    alloc.count(content.routing_table.indices)
    assert (
        deciders.can_remain(primary, alloc.data_nodes[primary.node], copies(content, "logs"), alloc)[0] == YES
    )
    excluded = with_settings(content, cluster__routing__allocation__exclude___id=primary.node)
    alloc = Allocation(excluded, cluster(a, b), debug=True)
    kind, decisions = deciders.can_remain(
        primary, alloc.data_nodes[primary.node], copies(content, "logs"), alloc
    )
    assert kind == NO and decisions[0].decider == "filter"
    assert (
        allocator.reroute(excluded, cluster(a, b), now_ms=NOW) is excluded
    )  # drained by relocation, not here


# -- the reroute with the deciders ------------------------------------------------------------------


def test_an_index_level_require_keeps_every_copy_on_the_named_nodes():
    nodes = cluster(node("a"), node("b"), node("c"))
    content = create(
        ClusterStateContent(),
        "logs",
        nodes,
        shards=2,
        replicas=1,
        index__routing__allocation__require___name="name-a,name-*",
    )
    content = start_all(content, nodes)
    assert {c.node for c in content.routing_table.indices["logs"] if c.node} == {"a"}
    replicas = [c for c in content.routing_table.indices["logs"] if not c.primary]
    assert all(c.state == "UNASSIGNED" for c in replicas)


def test_enable_none_keeps_new_shards_unassigned_and_all_lets_them_start():
    nodes = cluster(node("a"), node("b"))
    content = with_settings(ClusterStateContent(), cluster__routing__allocation__enable="none")
    content = create(content, "logs", nodes)
    assert all(c.state == "UNASSIGNED" for c in copies(content, "logs"))
    transient = msgspec.structs.replace(
        content.metadata, transient_settings={"cluster.routing.allocation.enable": "all"}
    )
    content = start_all(msgspec.structs.replace(content, metadata=transient), nodes)
    assert [c.state for c in copies(content, "logs")] == ["STARTED", "STARTED"]


def test_an_in_sync_primary_goes_back_to_its_data_whatever_enable_and_the_filters_say():
    a, b = node("a"), node("b")
    content = start_all(create(ClusterStateContent(), "logs", cluster(a), replicas=0), cluster(a))
    before = copies(content, "logs")[0]
    content = allocator.reroute(content, cluster(b), now_ms=NOW)  # a leaves
    content = with_settings(
        content,
        cluster__routing__allocation__enable="none",
        cluster__routing__allocation__exclude___name="name-a",
    )
    content = allocator.reroute(content, cluster(node("a", ephemeral="e2"), b), now_ms=NOW)
    primary = copies(content, "logs")[0]
    assert (primary.node, primary.allocation_id, primary.state) == ("a", before.allocation_id, "INITIALIZING")
    assert content.metadata.indices["logs"].primary_terms == (2,)


def test_a_failed_in_sync_primary_is_retried_on_its_node_until_max_retries():
    a = node("a")
    content = start_all(create(ClusterStateContent(), "logs", cluster(a), replicas=0), cluster(a))
    seen = {copies(content, "logs")[0].allocation_id}
    for attempt in range(5):
        primary = copies(content, "logs")[0]
        assert (primary.node, primary.state, primary.failed_attempts) == (
            "a",
            "INITIALIZING" if attempt else "STARTED",
            attempt,
        )
        # Each retry opens the same folder under a new allocation id, which joins the in-sync set.
        assert primary.allocation_id in content.metadata.indices["logs"].in_sync(0)
        seen.add(primary.allocation_id)
        content = allocator.shard_failed(
            content, "logs", 0, primary.allocation_id, "store corrupted", now_ms=NOW
        )
        content = allocator.reroute(content, cluster(a), now_ms=NOW)
    assert len(seen) == 5
    primary = copies(content, "logs")[0]
    assert (primary.state, primary.failed_attempts, primary.last_node) == ("UNASSIGNED", 5, "a")
    retried = allocator.reroute(commands.reset_failed(content), cluster(a), now_ms=NOW)
    assert copies(retried, "logs")[0].state == "INITIALIZING"
    started = start_all(retried, cluster(a))
    assert started.metadata.indices["logs"].in_sync(0) == (copies(started, "logs")[0].allocation_id,)


def test_replicas_spread_over_zones_with_awareness():
    nodes = cluster(node("a", "east"), node("b", "east"), node("c", "west"), node("d", "west"))
    content = with_settings(ClusterStateContent(), cluster__routing__allocation__awareness__attributes="zone")
    content = start_all(create(content, "logs", nodes, shards=4, replicas=1), nodes)
    for shard in range(4):
        zones = {nodes[c.node].attributes["zone"] for c in copies(content, "logs", shard)}
        assert zones == {"east", "west"}


def test_a_failed_replica_is_retried_and_a_started_copy_forgets_its_failures():
    a, b = node("a"), node("b")
    content = start_all(create(ClusterStateContent(), "logs", cluster(a)), cluster(a))
    content = allocator.reroute(content, cluster(a, b), now_ms=NOW)
    replica = next(c for c in copies(content, "logs") if not c.primary)
    content = allocator.shard_failed(content, "logs", 0, replica.allocation_id, "recovery failed", now_ms=NOW)
    content = allocator.reroute(content, cluster(a, b), now_ms=NOW)
    replica = next(c for c in copies(content, "logs") if not c.primary)
    assert (replica.state, replica.node, replica.failed_attempts) == ("INITIALIZING", "b", 1)
    content = start_all(content, cluster(a, b))
    assert next(c for c in copies(content, "logs") if not c.primary).failed_attempts == 0


def test_a_node_leaving_resets_the_failure_count_and_stamps_the_time():
    a, b = node("a"), node("b")
    content = start_all(create(ClusterStateContent(), "logs", cluster(a, b)), cluster(a, b))
    content = allocator.reroute(content, cluster(a), now_ms=NOW + 5)
    replica = next(c for c in copies(content, "logs") if not c.primary)
    assert (replica.unassigned_reason, replica.failed_attempts, replica.unassigned_at) == (
        "NODE_LEFT",
        0,
        NOW + 5,
    )


# -- settings ----------------------------------------------------------------------------------------


def test_allocation_settings_are_dynamic_cluster_settings_with_affix_groups():
    current, _ = cluster_settings.apply_update(
        {},
        {
            "cluster": {
                "routing": {
                    "allocation": {
                        "enable": "primaries",
                        "include": {"zone": "east,west"},
                        "awareness": {"attributes": ["zone"], "force": {"zone": {"values": "e"}}},
                        "node_concurrent_recoveries": 4,
                    }
                }
            }
        },
        "persistent",
    )
    assert current == {
        "cluster.routing.allocation.enable": "primaries",
        "cluster.routing.allocation.include.zone": "east,west",
        "cluster.routing.allocation.awareness.attributes": ["zone"],
        "cluster.routing.allocation.awareness.force.zone.values": "e",
        "cluster.routing.allocation.node_concurrent_recoveries": "4",
    }
    for bad, message in [
        ({"cluster.routing.allocation.enable": "some"}, "must be one of"),
        ({"cluster.routing.allocation.exclude._ip": "not-an-ip"}, "invalid IP address"),
        ({"cluster.routing.allocation.awareness.force.zone.other": "x"}, "invalid forced"),
        ({"cluster.routing.allocation.node_concurrent_recoveries": -1}, "must be >= 0"),
    ]:
        with pytest.raises(IllegalArgument, match=message):
            cluster_settings.apply_update({}, bad, "persistent")
    assert cluster_settings.apply_update(
        current, {"cluster.routing.allocation.include.*": None}, "persistent"
    )[0].keys() == {
        "cluster.routing.allocation.enable",
        "cluster.routing.allocation.awareness.attributes",
        "cluster.routing.allocation.awareness.force.zone.values",
        "cluster.routing.allocation.node_concurrent_recoveries",
    }


def test_allocation_index_settings_validate_and_node_files_may_not_set_cluster_ones():
    assert validate_index_settings(
        {
            "index.routing.allocation.require._name": "a,b",
            "index.routing.allocation.enable": "primaries",
            "index.allocation.max_retries": "3",
        }
    ) == {
        "index.routing.allocation.require._name": ["a", "b"],
        "index.routing.allocation.enable": "primaries",
        "index.allocation.max_retries": 3,
    }
    with pytest.raises(SettingsError, match="invalid IP address"):
        validate_index_settings({"index.routing.allocation.include._ip": "nope"})
    with pytest.raises(SettingsError, match="read from the cluster state only"):
        load_node_settings(None, ["cluster.routing.allocation.enable=none"], {})


# -- reroute commands ----------------------------------------------------------------------------------


def run(content, nodes, *command_list, explain_=False, retry_failed=False, stores=None):
    return commands.execute(
        content,
        nodes,
        list(command_list),
        explain=explain_,
        retry_failed=retry_failed,
        now_ms=NOW,
        stores=stores,
    )


def test_allocate_replica_checks_the_deciders_but_ignores_enable():
    nodes = cluster(node("a"), node("b"), node("c"))
    content = start_all(create(ClusterStateContent(), "logs", cluster(node("a"))), cluster(node("a")))
    content = with_settings(
        content,
        cluster__routing__allocation__enable="primaries",
        cluster__routing__allocation__exclude___name="name-c",
    )
    result = run(content, nodes, commands.Command("allocate_replica", "logs", 0, "name-b"), explain_=True)
    replica = next(c for c in copies(result.content, "logs") if not c.primary)
    assert (replica.node, replica.state) == ("b", "INITIALIZING")
    [explanation] = result.explanations
    assert explanation["command"] == "allocate_replica"
    assert explanation["parameters"] == {"index": "logs", "shard": 0, "node": "name-b"}
    assert {
        "decider": "enable",
        "decision": "YES",
        "explanation": "explicitly ignoring any disabling of allocation "
        "due to manual allocation commands via the reroute API",
    } in explanation["decisions"]
    with pytest.raises(
        IllegalArgument,
        match=r"^\[allocate_replica\] allocation of \[logs\]\[0\] on node "
        r"\{name-c\}.* is not allowed, reason: .*\[NO\(node matches",
    ):
        run(content, nodes, commands.Command("allocate_replica", "logs", 0, "c"))
    refused = run(content, nodes, commands.Command("allocate_replica", "logs", 0, "c"), explain_=True)
    assert refused.content.routing_table.indices["logs"] == content.routing_table.indices["logs"]
    with pytest.raises(IllegalArgument, match=r"all copies of \[logs\]\[0\] are already assigned"):
        run(result.content, nodes, commands.Command("allocate_replica", "logs", 0, "c"))
    with pytest.raises(IllegalArgument, match=r"failed to resolve \[nobody\], no matching nodes"):
        run(content, nodes, commands.Command("allocate_replica", "logs", 0, "nobody"))


def test_allocate_empty_primary_needs_accept_data_loss_once_the_shard_held_data():
    a, b = node("a"), node("b")
    content = start_all(create(ClusterStateContent(), "logs", cluster(a), replicas=0), cluster(a))
    content = allocator.reroute(content, cluster(b), now_ms=NOW)  # the only copy is gone
    command = commands.Command("allocate_empty_primary", "logs", 0, "b")
    with pytest.raises(
        IllegalArgument,
        match=r"^\[allocate_empty_primary\] allocating an empty primary for "
        r"\[logs\]\[0\] can result in data loss",
    ):
        run(content, cluster(b), command)
    result = run(content, cluster(b), command._replace(accept_data_loss=True), explain_=True)
    primary = copies(result.content, "logs")[0]
    assert (primary.node, primary.state) == ("b", "INITIALIZING")
    metadata = result.content.metadata.indices["logs"]
    assert metadata.in_sync(0) == () and metadata.primary_terms == (2,)
    assert result.wipes == [("b", metadata.uuid, 0)]
    assert result.explanations[0]["decisions"] == [
        {
            "decider": "allocate_empty_primary (allocation command)",
            "decision": "YES",
            "explanation": "ignore deciders",
        }
    ]
    started = allocator.shard_started(result.content, "logs", 0, primary.allocation_id)
    assert started.metadata.indices["logs"].in_sync(0) == (primary.allocation_id,)


def test_allocate_stale_primary_needs_data_loss_a_shard_that_was_active_and_data_on_the_node():
    a, b = node("a"), node("b")
    content = create(ClusterStateContent(), "fresh", {}, replicas=0)
    with pytest.raises(IllegalArgument, match="while no such shard has ever been active"):
        run(
            content,
            cluster(a),
            commands.Command("allocate_stale_primary", "fresh", 0, "a", accept_data_loss=True),
        )
    content = start_all(create(ClusterStateContent(), "logs", cluster(a), replicas=0), cluster(a))
    content = allocator.reroute(content, cluster(b), now_ms=NOW)
    with pytest.raises(IllegalArgument, match="can result in data loss"):
        run(content, cluster(b), commands.Command("allocate_stale_primary", "logs", 0, "b"))
    uuid = content.metadata.indices["logs"].uuid
    with pytest.raises(IllegalArgument, match=r"no copy of \[logs\]\[0\] was found on node \[b\]"):
        run(
            content,
            cluster(b),
            commands.Command("allocate_stale_primary", "logs", 0, "b", accept_data_loss=True),
            stores={("b", uuid, 0): False},
        )
    result = run(
        content, cluster(b), commands.Command("allocate_stale_primary", "logs", 0, "b", accept_data_loss=True)
    )
    assert copies(result.content, "logs")[0].node == "b" and result.store_checks == [("b", uuid, 0)]
    assert result.content.metadata.indices["logs"].in_sync(0) == (commands.FORCED_ALLOCATION_ID,)


def test_cancel_unassigns_a_replica_but_a_primary_only_with_allow_primary():
    a, b = node("a"), node("b")
    content = allocator.reroute(
        start_all(create(ClusterStateContent(), "logs", cluster(a)), cluster(a)), cluster(a, b), now_ms=NOW
    )
    with pytest.raises(
        IllegalArgument,
        match=r"^\[cancel_allocation\] can't cancel 0 on node \{name-a\}.*, shard "
        r"is primary and started",
    ):
        run(content, cluster(a, b), commands.Command("cancel", "logs", 0, "a"))
    result = run(content, cluster(a, b), commands.Command("cancel", "logs", 0, "b"), explain_=True)
    assert result.explanations[0]["decisions"][0]["explanation"].startswith("shard 0 on node {name-b}")
    # The reroute that follows places it again at once (there is no delay to wait for).
    assert next(c for c in copies(result.content, "logs") if not c.primary).state == "INITIALIZING"
    forced = run(content, cluster(a, b), commands.Command("cancel", "logs", 0, "a", allow_primary=True))
    primary = next(c for c in copies(forced.content, "logs") if c.primary)
    assert (primary.node, primary.state) == ("a", "INITIALIZING")  # back to its in-sync data, a new term
    assert forced.content.metadata.indices["logs"].primary_terms == (2,)


def test_move_answers_es_errors_and_starts_a_relocation_it_allows():
    a, b, c = node("a"), node("b"), node("c")
    nodes = cluster(a, b, c)
    content = start_all(create(ClusterStateContent(), "logs", cluster(a, b)), cluster(a, b))
    primary = next(x for x in copies(content, "logs") if x.primary)
    other = "b" if primary.node == "a" else "a"
    with pytest.raises(IllegalArgument, match=r"since its not allowed, reason: .*\[NO\(a copy of this shard"):
        run(content, nodes, commands.Command("move", "logs", 0, from_node=primary.node, to_node=other))
    with pytest.raises(IllegalArgument, match=r"can't move 0, failed to find it on node \{name-c\}"):
        run(content, nodes, commands.Command("move", "logs", 0, from_node="c", to_node="a"))
    explained = run(content, nodes, commands.Command("move", "logs", 0, from_node=primary.node, to_node="c"),
                    explain_=True)
    assert explained.explanations[0]["decisions"][0]["decision"] == "YES"
    assert explained.explanations[0]["parameters"] == {
        "index": "logs",
        "shard": 0,
        "from_node": primary.node,
        "to_node": "c",
    }
    moved = copies(explained.content, "logs")
    source = next(x for x in moved if x.allocation_id == primary.allocation_id)
    target = next(x for x in moved if x.node == "c")
    assert (source.state, source.relocating_node, source.primary) == ("RELOCATING", "c", True)
    assert (target.state, target.relocating_node, target.primary) == ("INITIALIZING", primary.node, False)


@pytest.mark.parametrize(
    "raw, error",
    [
        ([{"teleport": {}}], "failed to parse field [commands]"),
        ([{"allocate_replica": {"index": "i", "shard": 0}}], "Argument [node] must be defined"),
        (
            [{"allocate_replica": {"index": "i", "shard": 0, "node": "n", "x": 1}}],
            "[allocate_replica] unknown field [x]",
        ),
        ([{"cancel": {"index": "i", "shard": 0}}], "[cancel] command missing the node parameter"),
        (
            [{"move": {"index": "i", "shard": 0, "from_node": "a", "to": "b"}}],
            "[move] command does not support field",
        ),
    ],
)
def test_commands_parse_as_es_parses_them(raw, error):
    with pytest.raises(Exception) as caught:
        commands.parse_commands(raw)
    assert error in str(caught.value)


def test_parsed_commands_keep_their_options():
    parsed = commands.parse_commands(
        [
            {"allocate_empty_primary": {"index": "i", "shard": 1, "node": "n", "accept_data_loss": True}},
            {"cancel": {"index": "i", "shard": "2", "node": "n", "allow_primary": True}},
            {"move": {"index": "i", "shard": 0, "from_node": "a", "to_node": "b"}},
        ]
    )
    assert parsed == [
        commands.Command("allocate_empty_primary", "i", 1, "n", accept_data_loss=True),
        commands.Command("cancel", "i", 2, "n", allow_primary=True),
        commands.Command("move", "i", 0, from_node="a", to_node="b"),
    ]


# -- the allocation explain API ----------------------------------------------------------------------


def test_explain_an_unassigned_replica_with_every_nodes_deciders():
    nodes = cluster(node("a", "east"), node("b", "west"))
    content = start_all(
        create(ClusterStateContent(), "logs", nodes, index__routing__allocation__require__zone="east"), nodes
    )
    copy = explain.find_shard(content, nodes, "logs", 0, False, None)
    body = explain.explain(content, nodes, copy)
    assert body["current_state"] == "unassigned" and body["can_allocate"] == "no"
    assert body["unassigned_info"] == {
        "reason": "INDEX_CREATED",
        "at": "2023-11-14T22:13:20.000Z",
        "last_allocation_status": "no",
    }
    assert body["allocate_explanation"] == (
        "Elasticsearch isn't allowed to allocate this shard to any of the nodes in the cluster. Choose a "
        "node to which you expect this shard to be allocated, find this node in the node-by-node "
        "explanation, and address the reasons which prevent Elasticsearch from allocating this shard there.")
    decisions = {d["node_name"]: d for d in body["node_allocation_decisions"]}
    assert [x["decider"] for x in decisions["name-a"]["deciders"]] == ["same_shard"]
    assert decisions["name-b"]["deciders"] == [
        {
            "decider": "filter",
            "decision": "NO",
            "explanation": "node does not match index setting [index.routing.allocation.require] "
            'filters [zone:"east"]',
        }
    ]
    assert decisions["name-b"]["node_attributes"] == {"zone": "west"}
    verbose = explain.explain(content, nodes, copy, include_yes=True, include_disk_info=True)
    assert len(verbose["node_allocation_decisions"][0]["deciders"]) == len(deciders.DECIDERS)
    assert verbose["cluster_info"]["nodes"] == {}


def test_explain_without_a_shard_picks_an_unassigned_primary_first_and_refuses_when_none():
    nodes = cluster(node("a"))
    content = start_all(create(ClusterStateContent(), "logs", nodes), nodes)
    assert explain.find_shard(content, nodes, None, None, None, None).primary is False
    content = create(with_settings(content, cluster__routing__allocation__enable="none"), "later", nodes)
    picked = explain.find_shard(content, nodes, None, None, None, None)
    assert (picked.index, picked.primary) == ("later", True)
    assert "note" in explain.explain(content, nodes, picked, specific=False)
    done = start_all(create(ClusterStateContent(), "solo", nodes, replicas=0), nodes)
    with pytest.raises(IllegalArgument, match="there are no unassigned shards in this cluster"):
        explain.find_shard(done, nodes, None, None, None, None)
    with pytest.raises(IllegalArgument, match=r"unable to find any shards to explain"):
        explain.find_shard(done, nodes, "solo", 0, False, None)


def test_explain_a_started_copy_and_an_in_sync_primary_with_no_copy_left():
    a, b = node("a"), node("b")
    content = start_all(create(ClusterStateContent(), "logs", cluster(a, b)), cluster(a, b))
    primary = explain.find_shard(content, cluster(a, b), "logs", 0, True, None)
    body = explain.explain(content, cluster(a, b), primary)
    assert (body["current_state"], body["can_remain_on_current_node"], body["can_rebalance_cluster"]) == (
        "started",
        "yes",
        "yes",
    )
    assert body["can_rebalance_to_other_node"] == "no"
    assert body["rebalance_explanation"] == (
        "This shard is in a well-balanced location and satisfies all allocation rules so it will remain on "
        "this node. Elasticsearch cannot improve the cluster balance by moving it to another node. If you "
        "expect this shard to be rebalanced to another node, find the other node in the node-by-node "
        "explanation and address the reasons which prevent Elasticsearch from rebalancing this shard there.")
    assert body["current_node"]["id"] == primary.node
    lost = allocator.reroute(content, {}, now_ms=NOW)
    primary = explain.find_shard(lost, {}, "logs", 0, True, None)
    body = explain.explain(lost, cluster(node("c")), primary)
    assert body["can_allocate"] == "no_valid_shard_copy"
    assert body["allocate_explanation"] == (
        "Elasticsearch can't allocate this shard because there are no copies of its data in the cluster. "
        "Elasticsearch will allocate this shard when a node holding a good copy of its data joins the "
        "cluster. If no such node is available, restore this index from a recent snapshot.")
    assert body["node_allocation_decisions"][0]["store"] == {"found": False}
    with pytest.raises(IllegalArgument, match=r"unable to find primary shard assigned to node \[name-b\]"):
        explain.find_shard(
            content, cluster(a, b), "logs", 0, True, "name-b" if primary.last_node == "a" else "a"
        )


def restoring(name: str) -> ClusterStateContent:
    """An index being restored from a snapshot, its primaries not yet allocated."""
    content = create(ClusterStateContent(), name, {}, replicas=0)
    metadata = content.metadata.indices[name]
    restored = dataclasses.replace(metadata, restore_source={"repository": "r", "snapshot": "s"})
    assert restored.restores(0)
    return msgspec.structs.replace(content, metadata=msgspec.structs.replace(
        content.metadata, indices={**content.metadata.indices, name: restored}))


def test_allocate_empty_primary_on_a_restored_index_starts_the_shard_empty_not_restored():
    result = run(restoring("logs"), cluster(node("a")),
                 commands.Command("allocate_empty_primary", "logs", 0, "a", accept_data_loss=True))
    assert not result.content.metadata.indices["logs"].restores(0)


def test_allocate_empty_primary_abandons_a_restore_only_with_accept_data_loss():
    content = restoring("logs")
    with pytest.raises(IllegalArgument, match=r"^\[allocate_empty_primary\] allocating an empty primary for "
                       r"\[logs\]\[0\] can result in data loss. Please confirm by setting the "
                       r"accept_data_loss parameter to true$"):
        run(content, cluster(node("a")), commands.Command("allocate_empty_primary", "logs", 0, "a"))


def test_a_new_primary_only_throttled_waits_as_deciders_throttled_and_its_shard_is_yellow():
    from strata_node.action.cluster_health import IndexView, Status, shard_health

    content = create(with_settings(ClusterStateContent(),
                                   cluster__routing__allocation__node_initial_primaries_recoveries="2"),
                     "many", cluster(node("a")), shards=3, replicas=0)
    [waiting] = [x for x in content.routing_table.indices["many"] if x.state == "UNASSIGNED"]
    assert waiting.allocation_status == "deciders_throttled"
    view = IndexView(content.metadata.indices["many"], content.routing_table.indices["many"], None, "a")
    assert shard_health(view, waiting.shard).status is Status.YELLOW


def test_a_new_primary_every_node_refuses_is_deciders_no_and_its_shard_is_red():
    from strata_node.action.cluster_health import IndexView, Status, shard_health

    content = create(ClusterStateContent(), "nowhere", cluster(node("a")), replicas=0,
                     index__routing__allocation__require___name="absent")
    [primary] = content.routing_table.indices["nowhere"]
    assert (primary.state, primary.allocation_status) == ("UNASSIGNED", "deciders_no")
    view = IndexView(content.metadata.indices["nowhere"], content.routing_table.indices["nowhere"], None, "a")
    assert shard_health(view, 0).status is Status.RED


def test_a_new_primary_with_no_data_node_at_all_is_deciders_no():
    content = create(ClusterStateContent(), "orphan", cluster(node("m", roles=("master",))), replicas=0)
    [primary] = content.routing_table.indices["orphan"]
    assert primary.allocation_status == "deciders_no"


def test_an_in_sync_primary_whose_data_is_on_no_node_here_has_no_valid_shard_copy():
    a, b = node("a"), node("b")
    content = create(ClusterStateContent(), "kept", cluster(a, b), replicas=0)
    [primary] = content.routing_table.indices["kept"]
    content = allocator.shard_started(content, "kept", 0, primary.allocation_id)
    holder = content.routing_table.indices["kept"][0].node
    gone = allocator.reroute(content, {n.id: n for n in (a, b) if n.id != holder})
    [primary] = gone.routing_table.indices["kept"]
    assert (primary.state, primary.allocation_status) == ("UNASSIGNED", "no_valid_shard_copy")
    again = allocator.reroute(gone, {n.id: n for n in (a, b) if n.id != holder})
    assert again is gone  # the same answer changes nothing
