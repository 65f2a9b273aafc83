"""The master's pending cluster state updates (`_cluster/pending_tasks`, the health's
number_of_pending_tasks): listed from submission until applied here, executing once the
state that carries them is built, in the order they run, and an update failed while it
waited is never applied afterwards."""

import asyncio
import time

import pytest

from strata_node.cluster.master_service import PendingTasks, UpdateTask
from strata_node.common.errors import FailedToCommitClusterState
from tests.support.held_step import HeldStep
from tests.unit.test_coordination_restart import set_persistent, started


def test_updates_behind_a_publication_are_listed_in_order_until_they_are_applied(tmp_path):
    async def run():
        service = await started(tmp_path)
        held = HeldStep(then=service._store.write)
        service._store.write = held  # the first update's state waits to be written
        first = asyncio.ensure_future(service.submit("put-mapping [a]", set_persistent("a", 1), "HIGH"))
        await held.until_started()
        second = asyncio.ensure_future(service.submit("create-index [b]", set_persistent("b", 1), "URGENT"))
        third = asyncio.ensure_future(service.submit("reroute", set_persistent("c", 1)))
        await asyncio.sleep(0.05)
        listed = service.pending_tasks()
        assert [(t["source"], t["priority"], t["executing"]) for t in listed] == [
            ("put-mapping [a]", "HIGH", True), ("create-index [b]", "URGENT", False),
            ("reroute", "NORMAL", False)]
        orders = [t["insert_order"] for t in listed]
        assert orders == sorted(orders) and len(set(orders)) == 3
        assert listed[0]["time_in_queue_millis"] >= 50
        assert service.max_task_wait_millis() >= 50  # the oldest of the queued ones, not the executing one
        assert service.max_task_wait_millis() <= listed[1]["time_in_queue_millis"] + 1
        service._store.write = held.then
        held.release.set()
        await asyncio.wait_for(asyncio.gather(first, second, third), 10)
        assert service.pending_tasks() == [] and service.max_task_wait_millis() == 0
        await service.stop()

    asyncio.run(run())


def test_an_update_that_fails_leaves_the_listing(tmp_path):
    async def run():
        service = await started(tmp_path)

        def broken(content):
            raise ValueError("no")

        with pytest.raises(ValueError):
            await asyncio.wait_for(service.submit("broken", broken), 10)
        assert service.pending_tasks() == []
        await service.stop()

    asyncio.run(run())


def test_an_update_failed_while_it_waited_is_never_applied():
    async def run():
        pending = PendingTasks()
        task = UpdateTask("create-index [late]", lambda content: pytest.fail("applied"),
                          asyncio.get_running_loop().create_future())
        pending.add(task)
        pending.fail_all("this node stopped being the master")
        with pytest.raises(FailedToCommitClusterState):
            await task.future
        state = object()
        assert pending.wrap(task, lambda: (1, 2))(state) is state  # a later build skips it
        assert pending.listing() == [] and task.published_in is None

    asyncio.run(run())


def test_time_in_queue_counts_from_submission():
    async def run():
        pending = PendingTasks()
        future = asyncio.get_running_loop().create_future()
        task = UpdateTask("shard-started [i][0]", lambda c: c, future, "URGENT")
        pending.add(task)
        later = time.monotonic() + 1.5
        [listed] = pending.listing(later)
        assert listed == {"insert_order": 0, "priority": "URGENT", "source": "shard-started [i][0]",
                          "executing": False, "time_in_queue_millis": pytest.approx(1500, abs=50)}
        assert pending.max_wait_millis(later) == listed["time_in_queue_millis"]

    asyncio.run(run())


class _State:
    """What PendingTasks reads of a cluster state."""

    def __init__(self, term: int, version: int):
        self.term, self.version = term, version


def _published(pending: PendingTasks, term: int, version: int, *, acked: bool) -> UpdateTask:
    task = UpdateTask("update", lambda c: c, asyncio.get_running_loop().create_future(), acked=acked)
    pending.add(task)
    task.published_in = (term, version)
    return task


def test_an_acknowledged_update_is_answered_at_the_commit_and_others_once_applied():
    async def run():
        pending = PendingTasks()
        acked = _published(pending, 3, 7, acked=True)
        plain = _published(pending, 3, 7, acked=False)
        committed = _State(3, 7)
        pending.committed(committed)
        assert acked.future.result() is committed and not plain.future.done()
        pending.applied(committed)
        assert plain.future.result() is committed

    asyncio.run(run())


def test_a_master_that_steps_down_keeps_the_updates_of_the_state_it_committed():
    async def run():
        pending = PendingTasks()
        carried = _published(pending, 3, 7, acked=False)
        beyond = _published(pending, 3, 8, acked=False)
        pending.fail_all("this node stopped being the master", _State(3, 7))
        with pytest.raises(FailedToCommitClusterState):
            await beyond.future
        assert not carried.future.done()
        applied = _State(3, 7)
        pending.applied(applied)  # the applier reaches the committed state
        assert carried.future.result() is applied

    asyncio.run(run())
