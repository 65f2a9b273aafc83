import msgspec
import pytest

from strata_node.action.persistent_tasks import CounterExecutor, render
from strata_node.cluster import diff
from strata_node.cluster.coordination import ClusterState, VotingConfiguration
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.coordination_service import _allocate
from strata_node.cluster.state import ClusterStateContent, decode_state, encode_state
from strata_node.common.errors import IllegalArgument
from strata_node.tasks import persistent
from strata_node.tasks.persistent import (
    INITIAL_ASSIGNMENT,
    NO_NODE_FOUND,
    Assignment,
    PersistentTasks,
    PersistentTasksNodeService,
    ResourceAlreadyExists,
    ResourceNotFound,
    assigner_for,
    least_loaded,
)

DATA = ("master", "data")


def nodes(*ids: str, roles=DATA) -> dict[str, DiscoveryNode]:
    return {n: DiscoveryNode(id=n, name=n, roles=roles) for n in ids}


def with_one_task(node="n1") -> PersistentTasks:
    return PersistentTasks().add("reindex-1", "reindex", {"source": "a"}, Assignment(node))


def test_a_new_task_gets_the_next_allocation_id():
    state = with_one_task().add("reindex-2", "reindex", {}, Assignment("n2"))
    assert [t.allocation_id for t in state.tasks.values()] == [1, 2]


def test_a_task_id_is_unique():
    with pytest.raises(ResourceAlreadyExists, match=r"task with id \{reindex-1\} already exist"):
        with_one_task().add("reindex-1", "reindex", {}, Assignment("n1"))


def test_a_task_whose_node_left_is_reassigned_with_a_higher_allocation_id():
    state = with_one_task("n1").update_state("reindex-1", 1, {"done": 3}).reassign(nodes("n2", "n3"),
                                                                                  assigner_for)
    task = state.tasks["reindex-1"]
    assert task.assignment.executor_node == "n2"
    assert task.allocation_id == 2 and state.last_allocation_id == 2
    # The reported state travels with the task, so the new node resumes from it.
    assert task.state == {"done": 3} and task.allocation_id_on_last_status_update == 1


def test_tasks_on_live_nodes_keep_their_allocation():
    state = with_one_task("n1")
    assert state.reassign(nodes("n1", "n2"), assigner_for) == state


def test_with_no_node_left_the_task_waits_unassigned_under_a_new_allocation_id():
    state = with_one_task("n1").reassign({}, assigner_for)
    task = state.tasks["reindex-1"]
    assert not task.assignment.assigned and task.allocation_id == 2
    assert task.assignment == NO_NODE_FOUND
    with pytest.raises(ResourceNotFound):  # the node that left reports late
        state.update_state("reindex-1", 1, {"done": 1})
    # A node joins: the waiting task is placed, again under a new id.
    placed = state.reassign(nodes("n4"), assigner_for).tasks["reindex-1"]
    assert placed.assignment.executor_node == "n4" and placed.allocation_id == 3


def test_the_default_assigner_picks_the_data_node_with_fewest_tasks_of_that_name():
    tasks = (PersistentTasks().add("a", "reindex", {}, Assignment("n1"))
             .add("b", "reindex", {}, Assignment("n1"))
             .add("c", "other", {}, Assignment("n2"))
             .add("d", "other", {}, Assignment("n2")))
    candidates = {**nodes("n1", "n2"), **nodes("m", roles=("master",))}
    new = tasks.add("e", "reindex", {}).tasks["e"]
    assert least_loaded(new, candidates, tasks) == Assignment("n2", "")
    assert least_loaded(new, nodes("m", roles=("master",)), tasks) == NO_NODE_FOUND


def test_tasks_reassigned_together_spread_over_the_nodes():
    tasks = PersistentTasks()
    for i in range(4):
        tasks = tasks.add(f"t{i}", "reindex", {}, Assignment("gone"))
    placed = tasks.reassign(nodes("n1", "n2"), assigner_for)
    assert sorted(t.assignment.executor_node for t in placed.tasks.values()) == ["n1", "n1", "n2", "n2"]


def test_an_assigner_registered_for_a_task_name_decides_its_placement():
    persistent.register_assigner("pinned-test", lambda task, ns, tasks: Assignment("n2", "pinned"))
    tasks = PersistentTasks().add("p", "pinned-test", {}).reassign(nodes("n1", "n2"), assigner_for)
    assert tasks.tasks["p"].assignment == Assignment("n2", "pinned")


def test_a_report_from_a_stale_allocation_is_refused():
    state = with_one_task("n1").reassign(nodes("n2"), assigner_for)
    with pytest.raises(ResourceNotFound, match="allocation id 1"):
        state.update_state("reindex-1", 1, {"done": 10})
    updated = state.update_state("reindex-1", 2, {"done": 10}).tasks["reindex-1"]
    assert updated.state == {"done": 10} and updated.allocation_id_on_last_status_update == 2


def test_a_completion_from_a_stale_allocation_is_refused_and_the_current_one_removes_the_task():
    state = with_one_task("n1").reassign(nodes("n2"), assigner_for)
    with pytest.raises(ResourceNotFound):
        state.complete("reindex-1", 1)
    assert state.complete("reindex-1", 2).tasks == {}
    with pytest.raises(ResourceNotFound):
        state.complete("nope", 1)


def test_removing_an_unknown_task_is_not_found():
    with pytest.raises(ResourceNotFound):
        PersistentTasks().remove("nope")


# -- the custom in the cluster state --------------------------------------------------------


def a_state(version: int, content: ClusterStateContent) -> ClusterState:
    return ClusterState(term=1, version=version, master="n1", nodes=frozenset({"n1", "n2"}),
                        last_committed_configuration=VotingConfiguration.of("n1"),
                        last_accepted_configuration=VotingConfiguration.of("n1"), value=content,
                        node_details=nodes("n1", "n2"))


def test_the_master_places_a_started_task_in_the_state_it_builds_keeping_its_allocation_id():
    content = persistent.start_task(ClusterStateContent(), "c1", "strata/test/counter", {"count_to": 3})
    assert persistent.of(content).tasks["c1"].assignment == INITIAL_ASSIGNMENT
    placed = _allocate(content, nodes("n1", "n2"))
    task = persistent.of(placed).tasks["c1"]
    assert task.assignment.executor_node == "n1" and task.allocation_id == 1
    assert placed.metadata.version > content.metadata.version
    assert _allocate(placed, nodes("n1", "n2")) is placed  # nothing to do: the same content


def test_the_allocation_hook_moves_the_tasks_of_a_node_that_left():
    content = _allocate(persistent.start_task(ClusterStateContent(), "c1", "x", {}), nodes("n1", "n2"))
    content = persistent.update_task_state(content, "c1", 1, {"count": 4})
    moved = persistent.of(_allocate(content, nodes("n2"))).tasks["c1"]
    assert moved.assignment.executor_node == "n2" and moved.allocation_id == 2
    assert moved.state == {"count": 4}
    with pytest.raises(ResourceNotFound):
        persistent.update_task_state(_allocate(content, nodes("n2")), "c1", 1, {"count": 5})


def test_the_custom_round_trips_through_state_encoding_and_diffs():
    content = _allocate(persistent.start_task(ClusterStateContent(), "c1", "x", {"n": [1, 2], "s": "a"}),
                        nodes("n1", "n2"))
    content = persistent.start_task(content, "c2", "x", {})
    content = _allocate(content, nodes("n1", "n2"))
    old = a_state(1, content)
    assert decode_state(msgspec.msgpack.decode(msgspec.msgpack.encode(encode_state(old)))) == old

    changed = persistent.update_task_state(content, "c1", 1, {"count": 7, "nested": {"x": 1.5}})
    changed = persistent.remove_task(changed, "c2")
    new = a_state(2, _allocate(changed, nodes("n2")))
    changes = diff.diff(encode_state(old), encode_state(new))
    rebuilt = decode_state(msgspec.msgpack.decode(msgspec.msgpack.encode(
        diff.apply(encode_state(old), changes))))
    assert rebuilt == new
    task = persistent.of(rebuilt.value).tasks["c1"]
    assert task.state == {"count": 7, "nested": {"x": 1.5}}
    assert (task.allocation_id, task.assignment.executor_node) == (3, "n2")


def test_the_custom_renders_in_elasticsearch_shape():
    content = _allocate(persistent.start_task(ClusterStateContent(), "c1", "strata/test/counter",
                                              {"count_to": 3}), nodes("n1"))
    content = persistent.update_task_state(content, "c1", 1, {"count": 2})
    assert render(content.metadata.customs["persistent_tasks"]) == {
        "last_allocation_id": 1,
        "tasks": [{"id": "c1",
                   "task": {"strata/test/counter": {"params": {"count_to": 3}, "state": {"count": 2}}},
                   "allocation_id": 1,
                   "assignment": {"executor_node": "n1", "explanation": ""},
                   "allocation_id_on_last_status_update": 1}],
    }


def test_the_counter_validates_its_params():
    counter = CounterExecutor()
    counter.validate({"count_to": 3, "step_millis": 10})
    for bad in ({}, {"count_to": -1}, {"count_to": "3"}, {"count_to": True}, {"count_to": 1, "x": 1}):
        with pytest.raises(IllegalArgument):
            counter.validate(bad)


def test_the_counter_waits_for_its_instant_then_goes_to_the_least_loaded_node():
    """The condition only the periodic recheck notices: the clock, which no state announces."""
    counter = CounterExecutor()
    counter.validate({"count_to": 3, "not_before_millis": 1_700_000_000_000})
    with pytest.raises(IllegalArgument):
        counter.validate({"count_to": 3, "not_before_millis": "soon"})
    tasks = PersistentTasks().add("c1", CounterExecutor.name, {"count_to": 3, "not_before_millis": 2**53})
    waiting = CounterExecutor.assign(tasks.tasks["c1"], nodes("n1"), tasks)
    assert waiting == Assignment(None, f"no node may run this task before [{2**53}]")
    tasks = PersistentTasks().add("c2", CounterExecutor.name, {"count_to": 3, "not_before_millis": 0})
    assert CounterExecutor.assign(tasks.tasks["c2"], nodes("n1"), tasks) == Assignment("n1", "")


def test_a_recheck_places_a_waiting_task_once_its_condition_holds():
    """What the master's recheck runs: an empty update, then the placement step; the task
    moves from no node to one under a new allocation id, and without a change it stays."""
    condition = {"met": False}

    def assigner(task, members, tasks):
        return least_loaded(task, members, tasks) if condition["met"] else NO_NODE_FOUND

    persistent.register_assigner("test/recheck", assigner)
    try:
        started = persistent.start_task(ClusterStateContent(), "t1", "test/recheck", {})
        content = _allocate(started, nodes("n1"))
        assert persistent.of(content).tasks["t1"].assignment == NO_NODE_FOUND
        assert persistent.reassign_tasks(content, nodes("n1")) is content  # nothing to publish
        condition["met"] = True
        placed = persistent.of(persistent.reassign_tasks(content, nodes("n1"))).tasks["t1"]
        assert placed.assignment == Assignment("n1", "") and placed.allocation_id == 2
    finally:
        persistent._assigners.pop("test/recheck")


# -- the node side --------------------------------------------------------------------------


def test_the_node_service_starts_what_is_assigned_here_and_cancels_what_moved_away():
    started, cancelled = [], []
    service = PersistentTasksNodeService("n1", lambda t: started.append((t.id, t.allocation_id)),
                                         lambda t, reason: cancelled.append((t.id, reason)))
    state = with_one_task("n1").add("other", "x", {}, Assignment("n2"))
    service.apply(state)
    service.apply(state.update_state("reindex-1", 1, {"done": 1}))  # progress starts nothing twice
    assert started == [("reindex-1", 1)]
    service.apply(state.reassign(nodes("n2"), assigner_for))
    assert cancelled == [("reindex-1", "task has been reassigned, cancelling locally")]
    assert service.running == {}


def test_the_node_service_restarts_a_task_reassigned_back_to_it_under_the_new_allocation():
    started, cancelled = [], []
    service = PersistentTasksNodeService("n1", lambda t: started.append(t.allocation_id),
                                         lambda t, reason: cancelled.append(t.allocation_id))
    state = with_one_task("n1")
    service.apply(state)
    back = state.reassign({}, assigner_for).reassign(nodes("n1"), assigner_for)
    service.apply(back)
    assert started == [1, 3] and cancelled == [1]


def test_the_node_service_cancels_a_removed_task():
    cancelled = []
    service = PersistentTasksNodeService("n1", lambda t: None, lambda t, r: cancelled.append(r))
    state = with_one_task("n1")
    service.apply(state)
    service.apply(state.remove("reindex-1"))
    assert cancelled == ["task has been removed, cancelling locally"]
