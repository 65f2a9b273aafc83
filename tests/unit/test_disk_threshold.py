"""Disk watermarks: their parsing and checks, the disk threshold decider (allocate and
remain), the reroute with it, and the monitor's assessment, on pure contents and
hand-made cluster infos. Figures and messages are Elasticsearch's."""

import logging

import msgspec
import pytest

from strata_node.action import index_admin
from strata_node.allocation import allocator, explain
from strata_node.allocation.cluster_info import EMPTY, DiskUsage, ShardCopySize, build
from strata_node.allocation.deciders import NO, YES, Allocation, can_remain, decide, node_info
from strata_node.allocation.disk import (
    BLOCK,
    MonitorState,
    assess,
    disk_can_remain,
    disk_threshold,
    disk_thresholds,
)
from strata_node.cluster.state import ClusterStateContent, RoutingTable, ShardRouting
from strata_node.common import cluster_settings
from strata_node.common.errors import IllegalArgument
from strata_node.common.units import parse_relative_bytes
from strata_node.settings import SettingsError, check_disk_settings, load_node_settings

from .test_allocation_deciders import NOW, cluster, copies, node, with_settings

GB = 1 << 30
LOW = "cluster.routing.allocation.disk.watermark.low"
HIGH = "cluster.routing.allocation.disk.watermark.high"
FLOOD = "cluster.routing.allocation.disk.watermark.flood_stage"


def usage(node_id: str, total: int, free: int) -> DiskUsage:
    return DiskUsage(node_id, f"name-{node_id}", "/data", total, free)


def info(*usages: DiskUsage, sizes: dict | None = None):
    """Usages, and copies held: {node id: [(index, shard, primary, bytes)]}."""
    held = {
        n: [ShardCopySize(i, s, p, b, "/data") for i, s, p, b in copies_]
        for n, copies_ in (sizes or {}).items()
    }
    return build(usages, held)


def create(content, name, nodes, disk, *, replicas=1, **settings):
    body = {
        "settings": {
            "number_of_shards": 1,
            "number_of_replicas": replicas,
            **{k.replace("__", "."): v for k, v in settings.items()},
        }
    }
    content = index_admin.create_index(content, index_admin.build_index_metadata(name, body))
    return allocator.reroute(content, nodes, now_ms=NOW, info=disk)


def start_all(content, nodes, disk, rounds=6):
    for _ in range(rounds):
        for name, all_copies in content.routing_table.indices.items():
            for c in all_copies:
                if c.state == "INITIALIZING":
                    content = allocator.shard_started(content, name, c.shard, c.allocation_id)
        content = allocator.reroute(content, nodes, now_ms=NOW, info=disk)
    return content


def decision(copy, target, content, nodes, disk, *, remain=False, **node_settings):
    alloc = Allocation(content, nodes, info=disk, node_settings=node_settings, debug=True, include_yes=True)
    alloc.count(content.routing_table.indices)
    shard = copies(content, copy.index, copy.shard)
    decider = disk_can_remain if remain else disk_threshold
    return decider(copy, node_info(nodes[target]), shard, alloc)


# -- watermark values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, percent, size, shown",
    [
        ("85%", 85.0, None, "85%"),
        ("0.85", 85.0, None, "85%"),
        ("87.5%", 87.5, None, "87.5%"),
        ("500mb", None, 500 << 20, "500mb"),
        ("1000tb", None, 1000 << 40, "1000tb"),
        ("0", None, 0, "0b"),
    ],
)
def test_a_watermark_is_a_share_of_the_disk_or_the_free_bytes_required(text, percent, size, shown):
    value = parse_relative_bytes(text, LOW)
    assert (value.percent, value.bytes, str(value)) == (percent, size, shown)


def test_a_watermark_that_is_neither_share_nor_size_is_refused_with_es_message():
    with pytest.raises(
        ValueError,
        match=r"^unable to parse \[cluster.routing.allocation.disk.watermark.low=foo\] "
        r"as either percentage or bytes$",
    ):
        parse_relative_bytes("foo", LOW)
    for out_of_range in ("150%", "1.5", "-0.1"):
        with pytest.raises(ValueError, match=r"as either percentage or bytes$"):
            parse_relative_bytes(out_of_range, LOW)


@pytest.mark.parametrize(
    "values, message",
    [
        ({LOW: "95%"}, "low disk watermark [95%] more than high disk watermark [90%]"),
        ({HIGH: "96%"}, "high disk watermark [96%] more than flood stage disk watermark [95%]"),
        (
            {LOW: "1gb", HIGH: "2gb", FLOOD: "1gb"},
            "low disk watermark [1gb] less than high disk watermark [2gb]",
        ),
        (
            {LOW: "3gb", HIGH: "2gb", FLOOD: "2.5gb"},
            "high disk watermark [2gb] less than flood stage disk watermark [2.5gb]",
        ),
        (
            {LOW: "1000tb"},
            "unable to consistently parse [cluster.routing.allocation.disk.watermark.low=1000tb], "
            "[cluster.routing.allocation.disk.watermark.high=90%], and "
            "[cluster.routing.allocation.disk.watermark.flood_stage=95%] as percentage or bytes",
        ),
        ({LOW + ".max_headroom": "-1"}, "setting a headroom value to less than 0 is not supported"),
        (
            {LOW: "3gb", HIGH: "2gb", FLOOD: "1gb", LOW + ".max_headroom": "10gb"},
            "At least one of the disk max headroom settings is set [low=10gb, high=-1, flood=-1], while the "
            "disk watermark values are set to absolute values instead of ratios/percentages, e.g., the low "
            "watermark is [3gb]",
        ),
        (
            {LOW + ".max_headroom": "100gb", HIGH + ".max_headroom": "120gb"},
            "high disk max headroom [120gb] more than low disk max headroom [100gb]",
        ),
    ],
)
def test_the_watermarks_and_headrooms_are_checked_together(values, message):
    with pytest.raises(SettingsError) as e:
        check_disk_settings(values)
    assert str(e.value) == message


def test_a_settings_update_is_checked_against_the_layers_it_lands_on():
    cluster_settings.check_consistent({LOW}, {}, {LOW: "80%"}, {HIGH: "85%"})
    with pytest.raises(IllegalArgument, match=r"low disk watermark \[80%\] more than high disk watermark"):
        cluster_settings.check_consistent({HIGH}, {}, {LOW: "80%"}, {HIGH: "70%"})
    # The node's own settings are the layer beneath.
    with pytest.raises(IllegalArgument, match="unable to consistently parse"):
        cluster_settings.check_consistent({LOW}, {LOW: "1b", HIGH: "1b", FLOOD: "1b"}, {LOW: "80%"})


def test_an_update_that_changes_no_disk_setting_is_not_held_to_them():
    clash = ({LOW: "1b", HIGH: "1b", FLOOD: "1b"}, {LOW: "80%"})
    cluster_settings.check_consistent({"action.auto_create_index"}, *clash)


def test_a_node_file_may_set_the_disk_settings_but_no_other_routing_setting(tmp_path):
    settings = load_node_settings(None, [f"{LOW}=1b", f"{HIGH}=1b", f"{FLOOD}=1b"], environ={})
    assert settings.get(LOW).bytes == 1
    with pytest.raises(SettingsError, match="read from the cluster state only"):
        load_node_settings(None, ["cluster.routing.allocation.enable=none"], environ={})
    with pytest.raises(SettingsError, match="more than high disk watermark"):
        load_node_settings(None, [f"{LOW}=95%"], environ={})


def test_the_headroom_caps_a_shares_free_space_on_a_large_disk_unless_a_watermark_is_set():
    big = 10 * 1024 * GB
    defaults = disk_thresholds(({},))
    assert defaults.low.free_threshold(big) == 200 * GB  # 15% would be 1.5tb
    assert defaults.low.describe(big) == "cluster.routing.allocation.disk.watermark.low.max_headroom=200gb"
    assert defaults.low.free_threshold(100 * GB) == 15 * GB
    assert defaults.low.describe(100 * GB) == "cluster.routing.allocation.disk.watermark.low=85%"
    explicit = disk_thresholds(({LOW: "85%"},))
    assert explicit.low.free_threshold(big) == big - -(-85 * big // 100)
    assert explicit.low.describe(big, False) == "85%"


# -- the decider ------------------------------------------------------------------------------


def two_nodes():
    return cluster(node("a"), node("b"))


def test_without_disk_usages_or_when_disabled_every_answer_is_yes():
    nodes = two_nodes()
    content = create(ClusterStateContent(), "i", nodes, EMPTY)
    replica = next(c for c in copies(content, "i") if not c.primary)
    d = decision(replica, "b", content, nodes, EMPTY)
    assert (d.type, d.explanation) == (YES, "disk usages are unavailable")
    full = info(usage("a", 100 * GB, 1 * GB), usage("b", 100 * GB, 1 * GB))
    off = with_settings(content, cluster__routing__allocation__disk__threshold_enabled="false")
    d = decision(replica, "b", off, nodes, full)
    assert (d.type, d.explanation) == (YES, "the disk threshold decider is disabled")


def test_no_replica_goes_to_a_node_past_the_low_watermark():
    nodes = two_nodes()
    disk = info(usage("a", 100 * GB, 50 * GB), usage("b", 100 * GB, 10 * GB))
    content = start_all(create(ClusterStateContent(), "i", nodes, disk), nodes, disk)
    primary, replica = sorted(copies(content, "i"), key=lambda c: not c.primary)
    assert primary.node == "a" and replica.state == "UNASSIGNED"
    d = decision(replica, "b", content, nodes, disk)
    assert d == (
        NO,
        "disk_threshold",
        "the node is above the low watermark cluster setting [cluster.routing.allocation.disk.watermark.low="
        "85%], having less than the minimum required [15gb] free space, actual free: [10gb], actual used: "
        "[90%]",
    )


def test_a_new_empty_primary_may_go_past_the_low_watermark_until_the_high_one():
    nodes = cluster(node("a"))
    between = info(usage("a", 100 * GB, 12 * GB))
    content = create(ClusterStateContent(), "i", nodes, between, replicas=0)
    assert copies(content, "i")[0].state == "INITIALIZING"
    d = decision(
        msgspec.structs.replace(copies(content, "i")[0], state="UNASSIGNED", node=None),
        "a",
        content,
        nodes,
        between,
    )
    assert d.explanation == (
        "the node is above the low watermark, but less than the high watermark, and this "
        "primary shard has never been allocated before"
    )
    past_high = info(usage("a", 100 * GB, 5 * GB))
    content = create(ClusterStateContent(), "j", nodes, past_high, replicas=0)
    assert copies(content, "j")[0].state == "UNASSIGNED"
    d = decision(copies(content, "j")[0], "a", content, nodes, past_high)
    assert d == (
        NO,
        "disk_threshold",
        "the node is above the high watermark cluster setting [cluster.routing.allocation.disk.watermark."
        "high=90%], having less than the minimum required [10gb] free space, actual free: [5gb], actual "
        "used: [95%]",
    )


def test_an_existing_primary_is_held_to_the_low_watermark():
    nodes = cluster(node("a"))
    roomy = info(usage("a", 100 * GB, 50 * GB))
    content = start_all(create(ClusterStateContent(), "i", nodes, roomy, replicas=0), nodes, roomy)
    primary = copies(content, "i")[0]
    returning = msgspec.structs.replace(primary, state="UNASSIGNED", node=None, allocation_id=None)
    d = decision(returning, "a", content, nodes, info(usage("a", 100 * GB, 12 * GB)))
    assert d.type == NO and d.explanation.startswith("the node is above the low watermark cluster setting")


def test_a_copy_that_would_take_the_node_past_the_high_watermark_is_refused_with_its_size():
    nodes = two_nodes()
    disk = info(
        usage("a", 100 * GB, 60 * GB), usage("b", 100 * GB, 20 * GB), sizes={"a": [("i", 0, True, 15 * GB)]}
    )
    content = start_all(create(ClusterStateContent(), "i", nodes, disk), nodes, disk)
    replica = next(c for c in copies(content, "i") if not c.primary)
    sized = info(
        *disk.usages.values(), sizes={"a": [("i", 0, True, 15 * GB)], "b": [("i", 0, False, 15 * GB)]}
    )
    d = decision(msgspec.structs.replace(replica, state="UNASSIGNED", node=None), "b", content, nodes, sized)
    assert d == (
        NO,
        "disk_threshold",
        "allocating the shard to this node will bring the node above the high watermark cluster setting "
        "[cluster.routing.allocation.disk.watermark.high=90%] and cause it to have less than the minimum "
        "required [10gb] of free space (free: [20gb], used: [80%], estimated shard size: [15gb])",
    )
    d = decision(msgspec.structs.replace(replica, state="UNASSIGNED", node=None), "a", content, nodes, sized)
    assert d == (
        YES,
        "disk_threshold",
        "enough disk for shard on node, free: [60gb], used: [40%], shard size: "
        "[15gb], free after allocating shard: [45gb]",
    )


def test_a_node_not_reported_counts_as_the_average_of_the_others():
    nodes = cluster(node("a"), node("b"), node("c"))
    content = create(ClusterStateContent(), "i", nodes, EMPTY)
    replica = next(c for c in copies(content, "i") if not c.primary)
    disk = info(usage("a", 100 * GB, 2 * GB), usage("b", 100 * GB, 20 * GB))  # c: average, 11gb free
    d = decision(replica, "c", content, nodes, disk)
    assert d.explanation.endswith("actual free: [11gb], actual used: [89%]")


def test_a_relocation_coming_in_is_charged_to_its_target():
    nodes = two_nodes()
    roomy = info(usage("a", 100 * GB, 80 * GB), usage("b", 100 * GB, 80 * GB))
    content = start_all(create(ClusterStateContent(), "i", nodes, roomy, replicas=0), nodes, roomy)
    source = copies(content, "i")[0]
    target = "b" if source.node == "a" else "a"
    moved = list(content.routing_table.indices["i"])
    allocator.relocate(moved, 0, nodes[target])  # the balancer's own move
    content = msgspec.structs.replace(content, routing_table=RoutingTable(2, {"i": tuple(moved)}))
    sized = info(
        usage(source.node, 100 * GB, 80 * GB),
        usage(target, 100 * GB, 30 * GB),
        sizes={source.node: [("i", 0, True, 40 * GB)]},
    )
    other = create(content, "j", nodes, EMPTY, replicas=0)
    j = copies(other, "j")[0]
    d = decision(msgspec.structs.replace(j, state="UNASSIGNED", node=None), target, other, nodes, sized)
    # 30gb free less the 40gb on its way: nothing left.
    assert d == (
        NO,
        "disk_threshold",
        "the node has fewer free bytes remaining than the total size of all incoming "
        "shards: free space [32212254720B], relocating shards [42949672960B]",
    )


# -- remaining --------------------------------------------------------------------------------


def started_on_a(disk_when_placed):
    nodes = two_nodes()
    content = ClusterStateContent()
    content = create(content, "i", nodes, disk_when_placed, replicas=0)
    return nodes, start_all(content, nodes, disk_when_placed)


def test_a_copy_may_not_remain_on_a_node_past_the_high_watermark():
    nodes, content = started_on_a(info(usage("a", 100 * GB, 90 * GB), usage("b", 100 * GB, 50 * GB)))
    copy = copies(content, "i")[0]
    assert copy.node == "a"
    full = info(
        usage("a", 100 * GB, 5 * GB), usage("b", 100 * GB, 50 * GB), sizes={"a": [("i", 0, True, GB)]}
    )
    d = decision(copy, "a", content, nodes, full, remain=True)
    assert d == (
        NO,
        "disk_threshold",
        "the shard cannot remain on this node because it is above the high watermark cluster setting "
        "[cluster.routing.allocation.disk.watermark.high=90%] and there is less than the required [10gb] "
        "free space on node, actual free: [5gb], actual used: [95%]",
    )
    fine = info(
        usage("a", 100 * GB, 50 * GB), usage("b", 100 * GB, 50 * GB), sizes={"a": [("i", 0, True, GB)]}
    )
    assert decision(copy, "a", content, nodes, fine, remain=True) == (
        YES,
        "disk_threshold",
        "there is enough disk on this node for the shard to remain, free: [50gb]",
    )
    unknown_path = info(usage("a", 100 * GB, 5 * GB), usage("b", 100 * GB, 50 * GB))
    assert decision(copy, "a", content, nodes, unknown_path, remain=True).explanation == (
        "this shard is not allocated on the most utilized disk and can remain"
    )


def test_the_reroute_moves_copies_off_a_node_past_the_high_watermark():
    nodes, content = started_on_a(info(usage("a", 100 * GB, 90 * GB), usage("b", 100 * GB, 50 * GB)))
    full = info(
        usage("a", 100 * GB, 5 * GB), usage("b", 100 * GB, 50 * GB), sizes={"a": [("i", 0, True, GB)]}
    )
    moved = allocator.reroute(content, nodes, now_ms=NOW, info=full)
    states = {(c.node, c.state) for c in copies(moved, "i")}
    assert states == {("a", "RELOCATING"), ("b", "INITIALIZING")}
    # Nowhere to go: it stays.
    both_full = info(
        usage("a", 100 * GB, 5 * GB), usage("b", 100 * GB, 5 * GB), sizes={"a": [("i", 0, True, GB)]}
    )
    assert allocator.reroute(content, nodes, now_ms=NOW, info=both_full) is content


def test_explain_shows_the_cluster_info_and_the_remain_decision():
    nodes, content = started_on_a(info(usage("a", 100 * GB, 90 * GB), usage("b", 100 * GB, 5 * GB)))
    full = info(usage("a", 100 * GB, 5 * GB), usage("b", 100 * GB, 5 * GB), sizes={"a": [("i", 0, True, GB)]})
    body = explain.explain(
        content, nodes, copies(content, "i")[0], include_disk_info=True, info=full, now_ms=NOW
    )
    assert body["can_remain_on_current_node"] == "no"
    assert body["can_remain_decisions"][0]["decider"] == "disk_threshold"
    assert body["cluster_info"]["nodes"]["a"] == {
        "node_name": "name-a",
        "least_available": {
            "path": "/data",
            "total_bytes": 100 * GB,
            "used_bytes": 95 * GB,
            "free_bytes": 5 * GB,
            "free_disk_percent": 5.0,
            "used_disk_percent": 95.0,
        },
        "most_available": {
            "path": "/data",
            "total_bytes": 100 * GB,
            "used_bytes": 95 * GB,
            "free_bytes": 5 * GB,
            "free_disk_percent": 5.0,
            "used_disk_percent": 95.0,
        },
    }
    assert body["cluster_info"]["shard_sizes"] == {"[i][0][p]_bytes": GB}
    assert body["cluster_info"]["shard_data_set_sizes"] == {"[i][0]_bytes": GB}
    assert body["cluster_info"]["shard_paths"] == {"NodeAndShard[nodeId=a, shardId=[i][0]]": "/data"}
    decisions = {d["decider"]: d for d in body["can_remain_decisions"]}
    assert set(decisions) == {"disk_threshold"}


def test_the_masters_own_settings_are_the_layer_under_the_cluster_states():
    nodes = two_nodes()
    content = create(ClusterStateContent(), "i", nodes, EMPTY)
    replica = next(c for c in copies(content, "i") if not c.primary)
    disk = info(usage("a", 100 * GB, 10 * GB), usage("b", 100 * GB, 10 * GB))
    relaxed = {LOW: "1b", HIGH: "1b", FLOOD: "1b"}
    assert decision(replica, "b", content, nodes, disk, **relaxed).type == YES
    strict = with_settings(
        content,
        **{LOW.replace(".", "__"): "5gb", HIGH.replace(".", "__"): "1b", FLOOD.replace(".", "__"): "1b"},
    )
    assert decision(replica, "b", strict, nodes, disk, **relaxed).type == YES  # 10gb free, 5gb asked
    stricter = with_settings(
        content,
        **{LOW.replace(".", "__"): "50gb", HIGH.replace(".", "__"): "1b", FLOOD.replace(".", "__"): "1b"},
    )
    d = decision(replica, "b", stricter, nodes, disk, **relaxed)
    assert d.type == NO and "[cluster.routing.allocation.disk.watermark.low=50gb]" in d.explanation


def test_the_full_deciders_run_disk_threshold_after_same_shard():
    nodes = two_nodes()
    disk = info(usage("a", 100 * GB, 50 * GB), usage("b", 100 * GB, 10 * GB))
    content = start_all(create(ClusterStateContent(), "i", nodes, disk), nodes, disk)
    replica = next(c for c in copies(content, "i") if not c.primary)
    alloc = Allocation(content, nodes, info=disk, debug=True, include_yes=True)
    alloc.count(content.routing_table.indices)
    _, decisions = decide(replica, node_info(nodes["b"]), copies(content, "i"), alloc)
    names = [d.decider for d in decisions]
    assert names.index("same_shard") < names.index("disk_threshold") < names.index("throttling")
    started = next(c for c in copies(content, "i") if c.primary)
    kind, kept = can_remain(started, node_info(nodes["a"]), copies(content, "i"), alloc)
    assert kind == YES and "disk_threshold" in [d.decider for d in kept]


# -- the monitor ------------------------------------------------------------------------------


def placed(disk):
    nodes = two_nodes()
    content = start_all(create(ClusterStateContent(), "i", nodes, disk, replicas=0), nodes, disk)
    content = start_all(create(content, "j", nodes, disk, replicas=0), nodes, disk)
    return nodes, content


def roomy():
    return info(usage("a", 100 * GB, 80 * GB), usage("b", 100 * GB, 80 * GB))


def test_past_the_flood_stage_every_index_on_the_node_is_blocked():
    nodes, content = placed(roomy())
    on_a = sorted({c.index for cs in content.routing_table.indices.values() for c in cs if c.node == "a"})
    flooded = info(usage("a", 100 * GB, 2 * GB), usage("b", 100 * GB, 80 * GB))
    found = assess(flooded, content, nodes, disk_thresholds(({},)), MonitorState(), NOW)
    assert found.block == tuple(on_a) and found.release == ()
    assert (
        logging.WARNING,
        "flood stage disk watermark [95%] exceeded on [a][name-a][/data] free: 2gb[2%], all "
        "indices on this node will be marked read-only",
    ) in found.logs


def test_an_index_already_write_blocked_is_not_blocked_again():
    nodes, content = placed(roomy())
    content = index_admin.update_settings(content, ["i", "j"], {"index.blocks.write": "true"})
    flooded = info(usage("a", 100 * GB, 2 * GB), usage("b", 100 * GB, 2 * GB))
    assert assess(flooded, content, nodes, disk_thresholds(({},)), MonitorState(), NOW).block == ()


def test_the_block_comes_off_once_every_holder_is_under_the_high_watermark():
    nodes, content = placed(roomy())
    content = index_admin.update_settings(content, ["i", "j"], {BLOCK: "true"})
    holder = {name: cs[0].node for name, cs in content.routing_table.indices.items()}
    assert holder == {"i": "a", "j": "b"}
    s = disk_thresholds(({},))
    # Past the high watermark on i's node: i kept; between low and high on j's: j released.
    partly = info(usage("a", 100 * GB, 5 * GB), usage("b", 100 * GB, 12 * GB))
    assert assess(partly, content, nodes, s, MonitorState(), NOW).release == ("j",)
    unreported = info(usage("b", 100 * GB, 80 * GB))
    assert assess(unreported, content, nodes, s, MonitorState(), NOW).release == ("j",)
    found = assess(roomy(), content, nodes, s, MonitorState(), NOW)
    assert found.release == ("i", "j")
    assert (
        logging.INFO,
        "releasing read-only block on indices [i, j] since they are now allocated to nodes with "
        "sufficient disk space",
    ) in found.logs


def test_a_reroute_is_asked_for_new_nodes_and_past_the_high_watermark_at_most_every_interval():
    nodes, content = placed(roomy())
    s = disk_thresholds(({},))
    first = assess(roomy(), content, nodes, s, MonitorState(), NOW)
    assert first.reroute == "new disk usage from nodes"
    quiet = assess(roomy(), content, nodes, s, first.state, NOW + 1000)
    assert quiet.reroute is None
    high = info(usage("a", 100 * GB, 5 * GB), usage("b", 100 * GB, 80 * GB))
    due = assess(high, content, nodes, s, quiet.state, NOW + 61_000)
    assert due.reroute == "high disk watermark exceeded on one or more nodes"
    again = assess(high, content, nodes, s, due.state, NOW + 62_000)
    assert again.reroute is None  # within reroute_interval (60s) of the last
    recovered = assess(roomy(), content, nodes, s, again.state, NOW + 130_000)
    assert recovered.reroute == "one or more nodes has gone under the high or low watermark"
    assert (
        logging.INFO,
        "low disk watermark [85%] no longer exceeded on [a][name-a][/data] free: 80gb[80%]",
    ) in recovered.logs


def test_the_low_watermark_is_logged_once_when_crossed():
    nodes, content = placed(roomy())
    s = disk_thresholds(({},))
    low = info(usage("a", 100 * GB, 12 * GB), usage("b", 100 * GB, 80 * GB))
    first = assess(low, content, nodes, s, MonitorState(known=frozenset({"a", "b"})), NOW)
    assert first.logs == (
        (
            logging.INFO,
            "low disk watermark [85%] exceeded on [a][name-a][/data] free: 12gb[12%], "
            "replicas will not be assigned to this node",
        ),
    )
    assert assess(low, content, nodes, s, first.state, NOW + 1).logs == ()


def test_a_primary_moved_off_a_full_node_is_charged_its_size_where_it_would_go():
    nodes, content = started_on_a(info(usage("a", 100 * GB, 90 * GB), usage("b", 100 * GB, 90 * GB)))
    # a is past the high watermark; b has room for a small copy, not for this 45gb one.
    disks = (usage("a", 100 * GB, 5 * GB), usage("b", 100 * GB, 50 * GB))
    full = info(*disks, sizes={"a": [("i", 0, True, 45 * GB)]})
    assert allocator.reroute(content, nodes, now_ms=NOW, info=full) is content
    small = info(*disks, sizes={"a": [("i", 0, True, GB)]})
    moved = allocator.reroute(content, nodes, now_ms=NOW, info=small)
    assert {(c.node, c.state) for c in copies(moved, "i")} == {("a", "RELOCATING"), ("b", "INITIALIZING")}


def test_replicas_recovering_onto_a_node_count_against_its_free_space():
    nodes = cluster(node("a"), node("b"), node("c"))
    roomy = info(usage("a", 100 * GB, 80 * GB), usage("b", 100 * GB, 80 * GB), usage("c", 100 * GB, 80 * GB))
    content = start_all(create(ClusterStateContent(), "i", nodes, roomy), nodes, roomy)
    replica = next(c for c in copies(content, "i") if not c.primary)
    primary = next(c for c in copies(content, "i") if c.primary)
    assert replica.state == "STARTED"
    # The same copy, still recovering onto its node: 8gb of 25gb free are spoken for.
    recovering = msgspec.structs.replace(replica, state="INITIALIZING")
    routing = RoutingTable(9, {"i": (primary, recovering)})
    content = msgspec.structs.replace(content, routing_table=routing)
    disks = (usage(n, 100 * GB, 25 * GB) for n in "abc")
    sized = info(*disks, sizes={primary.node: [("i", 0, True, 8 * GB)]})
    other = next(n for n in "abc" if n not in (primary.node, replica.node))
    probe = ShardRouting("j", 0, False)
    alloc = Allocation(content, nodes, info=sized, debug=True)
    alloc.count(content.routing_table.indices)
    assert alloc.incoming_bytes == {replica.node: 8 * GB}
    d = disk_threshold(probe, node_info(nodes[replica.node]), [probe], alloc)
    assert "free: [17gb]" in d.explanation
    # One placed in this reroute counts too.
    alloc.placed(msgspec.structs.replace(probe, index="i"), other, primary.node)
    assert alloc.incoming_bytes[other] == 8 * GB
