"""The reactive storage autoscaling decider on pure contents and hand-made cluster infos:
what a data tier needs when only its disks keep shards from their place."""

from strata_node.action import index_admin
from strata_node.allocation import allocator
from strata_node.allocation.cluster_info import EMPTY
from strata_node.allocation.disk import disk_thresholds
from strata_node.autoscaling.capacity import Capacity, Resources
from strata_node.autoscaling.deciders import REACTIVE_STORAGE, Context
from strata_node.autoscaling.storage import ClusterView, minimum_disk_below_low
from strata_node.cluster.state import ClusterStateContent

from .test_allocation_deciders import NOW, cluster, node
from .test_disk_threshold import GB, LOW, create, info, start_all, usage, with_settings

MB = 1 << 20
CURRENT = Capacity(total=Resources(200 * GB, 0, None), node=Resources(100 * GB, 0, None))


def scale(content, nodes, disk, members=("a", "b"), current=CURRENT):
    view = ClusterView(content, nodes, disk, {})
    return REACTIVE_STORAGE.scale({}, Context(("data",), current, members, view))


def two_nodes():
    return cluster(node("a"), node("b"))


def test_without_a_current_capacity_the_requirement_is_unknown():
    result = scale(ClusterStateContent(), two_nodes(), EMPTY, current=None)
    assert result.required_capacity is None
    assert result.reason_summary == "current capacity not available"
    assert result.reason_details == {
        "reason": "current capacity not available",
        "unassigned": -1,
        "unassigned_shards": [],
        "unassigned_shards_count": 0,
        "assigned": -1,
        "assigned_shards": [],
        "assigned_shards_count": 0,
    }


def test_with_nothing_waiting_for_disk_the_tier_needs_what_it_has():
    nodes = two_nodes()
    roomy = info(
        usage("a", 100 * GB, 80 * GB), usage("b", 100 * GB, 80 * GB), sizes={"a": [("i", 0, True, GB)]}
    )
    content = start_all(create(ClusterStateContent(), "i", nodes, roomy), nodes, roomy)
    result = scale(content, nodes, roomy)
    assert result.reason_summary == "storage ok"
    # The largest shard (1gb) below the 85% low watermark, and ES's 10mb of overhead.
    assert result.required_capacity == Capacity(
        total=Resources(200 * GB, None, None), node=Resources(-(-100 * GB // 85) + 10 * MB, None, None)
    )


def test_a_replica_only_the_disk_keeps_unassigned_is_asked_for_at_its_primarys_size():
    nodes = two_nodes()
    roomy = info(usage("a", 100 * GB, 80 * GB), usage("b", 100 * GB, 80 * GB))
    content = start_all(create(ClusterStateContent(), "i", nodes, roomy, replicas=0), nodes, roomy)
    holder = content.routing_table.indices["i"][0].node
    other = "b" if holder == "a" else "a"
    content = start_all(create(content, "j", nodes, roomy, replicas=0), nodes, roomy)
    full = info(
        usage(holder, 100 * GB, 80 * GB),
        usage(other, 100 * GB, 10 * GB),
        sizes={holder: [("i", 0, True, 3 * GB)]},
    )
    content = allocator.reroute(
        index_admin.update_settings(content, ["i"], {"index.number_of_replicas": 1}),
        nodes,
        now_ms=NOW,
        info=full,
    )
    assert [c.state for c in content.routing_table.indices["i"] if not c.primary] == ["UNASSIGNED"]
    result = scale(content, nodes, full)
    assert result.reason_summary == "not enough storage available, needs 3gb"
    assert result.reason_details == {
        "reason": "not enough storage available, needs 3gb",
        "unassigned": 3 * GB,
        "unassigned_shards": ["[i][0]"],
        "unassigned_shards_count": 1,
        "assigned": 0,
        "assigned_shards": [],
        "assigned_shards_count": 0,
    }
    assert result.required_capacity.total == Resources(203 * GB, None, None)


def test_a_shard_another_decider_refuses_is_not_a_storage_problem():
    nodes = two_nodes()
    roomy = info(usage("a", 100 * GB, 80 * GB), usage("b", 100 * GB, 80 * GB))
    content = create(
        ClusterStateContent(), "i", nodes, roomy, index__routing__allocation__require__zone="nowhere"
    )
    full = info(usage("a", 100 * GB, 10 * GB), usage("b", 100 * GB, 10 * GB))
    assert scale(content, nodes, full).reason_summary == "storage ok"


def test_a_copy_that_may_not_remain_and_cannot_move_is_asked_for():
    nodes = two_nodes()
    roomy = info(usage("a", 100 * GB, 80 * GB), usage("b", 100 * GB, 80 * GB))
    content = start_all(create(ClusterStateContent(), "i", nodes, roomy, replicas=0), nodes, roomy)
    holder = content.routing_table.indices["i"][0].node
    both_full = info(
        usage("a", 100 * GB, 5 * GB), usage("b", 100 * GB, 5 * GB), sizes={holder: [("i", 0, True, 2 * GB)]}
    )
    result = scale(content, nodes, both_full)
    # ES's unmovable size: back under the high watermark (10gb free of 100gb, 5gb short),
    # and at least the smallest stuck copy (2gb).
    assert result.reason_details["assigned"] == 5 * GB
    assert result.reason_details["assigned_shards"] == ["[i][0]"]
    # With room elsewhere in the tier it would just move: nothing to ask for.
    other_roomy = info(
        usage(holder, 100 * GB, 5 * GB),
        usage("b" if holder == "a" else "a", 100 * GB, 80 * GB),
        sizes={holder: [("i", 0, True, 2 * GB)]},
    )
    assert scale(content, nodes, other_roomy).reason_details["assigned"] == 0


def test_only_the_policys_nodes_are_considered():
    nodes = two_nodes()
    roomy = info(usage("a", 100 * GB, 80 * GB), usage("b", 100 * GB, 80 * GB))
    content = start_all(create(ClusterStateContent(), "i", nodes, roomy, replicas=0), nodes, roomy)
    holder = content.routing_table.indices["i"][0].node
    other = "b" if holder == "a" else "a"
    both_full = info(
        usage("a", 100 * GB, 5 * GB), usage("b", 100 * GB, 5 * GB), sizes={holder: [("i", 0, True, 2 * GB)]}
    )
    assert scale(content, nodes, both_full, members=(other,)).reason_details["assigned"] == 0


def test_the_smallest_disk_below_the_low_watermark():
    defaults = disk_thresholds(({},)).low
    assert minimum_disk_below_low(85 * GB, defaults) == 100 * GB
    # A large shard: the 200gb headroom caps what must stay free.
    assert minimum_disk_below_low(2000 * GB, defaults) == 2200 * GB
    absolute = disk_thresholds(
        ({LOW: "50gb", LOW.replace("low", "high"): "40gb", LOW.replace("low", "flood_stage"): "30gb"},)
    ).low
    assert minimum_disk_below_low(10 * GB, absolute) == 60 * GB


def test_the_watermarks_of_the_cluster_state_apply():
    nodes = two_nodes()
    roomy = info(
        usage("a", 100 * GB, 80 * GB), usage("b", 100 * GB, 80 * GB), sizes={"a": [("i", 0, True, GB)]}
    )
    content = start_all(create(ClusterStateContent(), "i", nodes, roomy), nodes, roomy)
    content = with_settings(
        content,
        **{
            LOW.replace(".", "__"): "50%",
            LOW.replace("low", "high").replace(".", "__"): "60%",
            LOW.replace("low", "flood_stage").replace(".", "__"): "70%",
        },
    )
    node_need = scale(content, nodes, roomy).required_capacity.node.storage
    assert node_need == 2 * GB + 10 * MB


def test_a_shard_never_measured_still_asks_for_a_kilobyte():
    nodes = two_nodes()
    roomy = info(usage("a", 100 * GB, 80 * GB), usage("b", 100 * GB, 80 * GB))
    content = start_all(create(ClusterStateContent(), "i", nodes, roomy, replicas=0), nodes, roomy)
    content = index_admin.update_settings(content, ["i"], {"index.number_of_replicas": 1})
    full = info(usage("a", 100 * GB, 10 * GB), usage("b", 100 * GB, 10 * GB))
    content = allocator.reroute(content, nodes, now_ms=NOW, info=full)
    result = scale(content, nodes, full)
    assert result.reason_summary == "not enough storage available, needs 1kb"
    assert result.reason_details["unassigned"] == 1024


def test_a_tier_with_no_node_yet_is_asked_for_what_prefers_it():
    nodes = cluster(node("h", roles=("master", "data_hot", "data_content")))
    roomy = info(usage("h", 100 * GB, 80 * GB))
    content = create(ClusterStateContent(), "cold-logs", nodes, roomy, replicas=0,
                     index__routing__allocation__include___tier_preference="data_warm")
    content = create(content, "hot-logs", nodes, roomy, replicas=0,
                     index__routing__allocation__include___tier_preference="data_hot")
    empty_warm = Capacity(total=Resources(0, 0, None), node=Resources(0, 0, None))
    view = ClusterView(content, nodes, roomy, {})
    result = REACTIVE_STORAGE.scale({}, Context(("data_warm",), empty_warm, (), view))
    assert result.reason_details["unassigned_shards"] == ["[cold-logs][0]"]
    assert result.required_capacity.total.storage == 1024
