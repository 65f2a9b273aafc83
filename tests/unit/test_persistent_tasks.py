import pytest

from strata_node.tasks.persistent import (
    Assignment,
    PersistentTasks,
    PersistentTasksNodeService,
    ResourceAlreadyExists,
    ResourceNotFound,
    least_loaded,
)


def with_one_task(node="n1") -> PersistentTasks:
    return PersistentTasks().add("reindex-1", "reindex", {"source": "a"}, Assignment(node))


def test_a_new_task_gets_the_next_allocation_id():
    state = with_one_task().add("reindex-2", "reindex", {}, Assignment("n2"))
    assert [t.allocation_id for t in state.tasks.values()] == [1, 2]


def test_a_task_id_is_unique():
    with pytest.raises(ResourceAlreadyExists):
        with_one_task().add("reindex-1", "reindex", {}, Assignment("n1"))


def test_a_task_whose_node_left_is_reassigned_with_a_higher_allocation_id():
    state = with_one_task("n1").reassign(["n2", "n3"], least_loaded)
    task = state.tasks["reindex-1"]
    assert task.assignment.executor_node == "n2"
    assert task.allocation_id == 2


def test_tasks_on_live_nodes_keep_their_allocation():
    state = with_one_task("n1")
    assert state.reassign(["n1", "n2"], least_loaded) == state


def test_with_no_node_left_the_task_waits_unassigned_under_a_new_allocation_id():
    state = with_one_task("n1").reassign([], least_loaded)
    task = state.tasks["reindex-1"]
    assert not task.assignment.assigned and task.allocation_id == 2
    assert task.assignment.explanation == "no node is available to run the task"
    with pytest.raises(ResourceNotFound):  # the node that left reports late
        state.update_state("reindex-1", 1, {"done": 1})


def test_a_report_from_a_stale_allocation_is_refused():
    state = with_one_task("n1").reassign(["n2"], least_loaded)
    with pytest.raises(ResourceNotFound, match="allocation id 1"):
        state.update_state("reindex-1", 1, {"done": 10})
    assert state.update_state("reindex-1", 2, {"done": 10}).tasks["reindex-1"].state == {"done": 10}


def test_removing_an_unknown_task_is_not_found():
    with pytest.raises(ResourceNotFound):
        PersistentTasks().remove("nope")


def test_the_node_service_starts_what_is_assigned_here_and_cancels_what_moved_away():
    started, cancelled = [], []
    service = PersistentTasksNodeService("n1", lambda t: started.append((t.id, t.allocation_id)),
                                         lambda t, reason: cancelled.append((t.id, reason)))
    state = with_one_task("n1").add("other", "x", {}, Assignment("n2"))
    service.apply(state)
    service.apply(state)  # the same state again starts nothing twice
    assert started == [("reindex-1", 1)]
    service.apply(state.reassign(["n2"], least_loaded))
    assert cancelled == [("reindex-1", "task has been reassigned, cancelling locally")]
    assert service.running == {}


def test_the_node_service_cancels_a_removed_task():
    cancelled = []
    service = PersistentTasksNodeService("n1", lambda t: None, lambda t, r: cancelled.append(r))
    state = with_one_task("n1")
    service.apply(state)
    service.apply(state.remove("reindex-1"))
    assert cancelled == ["task has been removed, cancelling locally"]
