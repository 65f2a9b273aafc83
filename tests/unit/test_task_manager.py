import pytest

from strata_node.common.errors import IllegalArgument, TaskCancelled
from strata_node.tasks.manager import TaskManager
from strata_node.tasks.task import TaskId


def manager(node="nodeA", now_ns=1_795_000_000_000_000_000):
    return TaskManager(node, clock_ns=lambda: now_ns)


def test_task_ids_name_the_node_and_count_up():
    m = manager()
    a, b = m.register("indices:data/read/search"), m.register("indices:data/read/search")
    assert a.id.node_id == "nodeA"
    assert b.id.id == a.id.id + 1
    assert str(a.id) == f"nodeA:{a.id.id}"


def test_a_restarted_node_numbers_its_tasks_above_every_earlier_one():
    before = manager(now_ns=1_795_000_000_000_000_000)
    last = [before.register("a") for _ in range(1000)][-1]
    after = manager(now_ns=1_795_000_000_001_000_000)  # restarted one millisecond later
    assert after.register("a").id.id > last.id.id


def test_task_ids_parse_and_malformed_ones_are_refused():
    assert TaskId.parse("abc:12") == TaskId("abc", 12)
    with pytest.raises(IllegalArgument, match="malformed task id abc"):
        TaskId.parse("abc")
    with pytest.raises(IllegalArgument):
        TaskId.parse("abc:x")


def test_listing_filters_by_action_wildcards_and_parent():
    m = manager()
    parent = m.register("cluster:admin/sleep", cancellable=True)
    child = m.register("cluster:admin/sleep[n]", parent=parent.id)
    m.register("indices:data/read/search")
    listed = [t.action for t in m.list(actions=["cluster:*"])]
    assert listed == ["cluster:admin/sleep", "cluster:admin/sleep[n]"]
    assert m.list(actions=["*search,*[n]"])[0].action == "cluster:admin/sleep[n]"
    assert m.list(parent=parent.id) == [child]


def test_unregistered_tasks_are_gone():
    m = manager()
    t = m.register("a")
    m.unregister(t)
    assert m.get(t.id) is None and m.tasks() == []


def test_cancelling_a_task_cancels_its_cancellable_descendants_only():
    m = manager()
    root = m.register("root", cancellable=True)
    child = m.register("child", parent=root.id, cancellable=True)
    grandchild = m.register("grandchild", parent=child.id, cancellable=True)
    plain = m.register("plain", parent=root.id)
    seen = []
    grandchild.on_cancel(seen.append)
    m.cancel(root, "by user request")
    assert root.cancelled and child.cancelled and grandchild.cancelled
    assert not plain.cancelled
    assert seen == ["by user request"]


def test_a_task_that_cannot_be_cancelled_refuses_it():
    m = manager()
    t = m.register("a")
    with pytest.raises(IllegalArgument, match="doesn't support cancellation"):
        m.cancel(t, "no")


def test_cancellation_names_the_nodes_that_ran_children():
    m = manager()
    root = m.register("root", cancellable=True)
    child = m.register("child", parent=root.id, cancellable=True)
    m.register_child_node(root, "nodeB")
    m.register_child_node(child, "nodeC")
    m.register_child_node(root, "nodeA")  # this node needs no ban message
    assert m.cancel(root, "stop") == {"nodeB", "nodeC"}


def test_a_cancelled_parent_refuses_new_local_children():
    m = manager()
    root = m.register("root", cancellable=True)
    m.cancel(root, "stop")
    with pytest.raises(TaskCancelled, match="shouldn't start any child tasks, stop"):
        m.register("child", parent=root.id)


def test_a_cancelled_parent_sends_no_more_children_to_other_nodes():
    m = manager()
    root = m.register("root", cancellable=True)
    m.cancel(root, "stop")
    with pytest.raises(TaskCancelled, match=r"parent task was cancelled \[stop\]"):
        m.register_child_node(root, "nodeB")


def test_a_ban_cancels_running_children_and_refuses_late_ones():
    m = manager("nodeB")
    remote_parent = TaskId("nodeA", 7)
    running = m.register("child", parent=remote_parent, cancellable=True)
    assert m.ban_parent(remote_parent, "by user request") == [running]
    assert running.cancelled
    with pytest.raises(TaskCancelled):
        m.register("late child", parent=remote_parent)
    m.remove_ban(remote_parent)
    m.register("allowed again", parent=remote_parent)


def test_bans_from_a_node_that_left_are_dropped():
    m = manager("nodeB")
    m.ban_parent(TaskId("nodeA", 1), "x")
    m.ban_parent(TaskId("nodeC", 2), "y")
    m.remove_bans_from("nodeA")
    assert list(m.bans) == [TaskId("nodeC", 2)]


def test_task_info_has_the_shape_of_elasticsearch():
    m = manager()
    parent = m.register("p", cancellable=True)
    t = m.register("indices:data/read/search", description="indices[logs]", parent=parent.id,
                   headers={"X-Opaque-Id": "abc"}, cancellable=True, status=lambda: {"phase": "query"})
    info = t.info(detailed=True)
    assert info["node"] == "nodeA" and info["id"] == t.id.id and info["type"] == "transport"
    assert info["description"] == "indices[logs]" and info["status"] == {"phase": "query"}
    assert info["cancellable"] is True and info["cancelled"] is False
    assert info["parent_task_id"] == str(parent.id)
    assert info["headers"] == {"X-Opaque-Id": "abc"}
    assert info["running_time_in_nanos"] >= 0
    assert "description" not in t.info(detailed=False)


def test_a_cancelled_task_stops_at_its_next_check():
    m = manager()
    t = m.register("a", cancellable=True)
    t.ensure_not_cancelled()
    m.cancel(t, "by user request")
    with pytest.raises(TaskCancelled, match="task cancelled \\[by user request\\]"):
        t.ensure_not_cancelled()
