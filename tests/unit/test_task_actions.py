"""The node-level task actions (tasks/actions.py) as one node runs them: cancelling by a
filter, listing with a wait for completion, bans of nodes that left, and the refusal of
children a cancelled parent tries to send."""

import asyncio
import contextlib

import pytest

from strata_node.cluster.coordination.cluster_state import ClusterState
from strata_node.common.errors import TaskCancelled
from strata_node.tasks.actions import (
    CANCEL_NODE,
    LIST_NODE,
    CancelTasks,
    ListNodeTasks,
    TaskActions,
    TaskFilter,
)
from strata_node.tasks.manager import TaskManager
from strata_node.tasks.task import TaskId, TimedOut
from strata_node.transport import context
from strata_node.transport.service import TransportService
from strata_node.transport.wire import Empty

from .test_transport_service import served

SEARCH = "indices:data/read/search"
QUERY_PHASE = "indices:data/read/search[phase/query]"


def node(node_id="nodeA") -> tuple[TaskManager, TransportService, TaskActions]:
    tasks = TaskManager(node_id)
    transport = TransportService(node_id=node_id, node_name=node_id, cluster_name="c1", secret="s3cret",
                                 tasks=tasks)
    return tasks, transport, TaskActions(transport, tasks)


def ids(answer) -> list[str]:
    return [f"{t['node']}:{t['id']}" for t in answer.tasks]


def waiting(*actions: str, timeout: float = 10.0) -> ListNodeTasks:
    return ListNodeTasks(filter=TaskFilter(actions=list(actions)), wait_for_completion=True, timeout=timeout)


async def still_waiting(listing: asyncio.Future) -> bool:
    """The listing has not answered after a moment of an otherwise idle loop (it has had
    every chance to look at the tasks by then)."""
    done, _ = await asyncio.wait({listing}, timeout=0.2)
    return not done


# -- cancelling by a filter --------------------------------------------------------------------------


def test_cancelling_by_parent_cancels_its_children_on_the_parents_own_node():
    async def go():
        tasks, transport, _ = node()
        search = tasks.register(SEARCH, cancellable=True)
        phases = [tasks.register(QUERY_PHASE, parent=search.id, cancellable=True) for _ in range(2)]
        by_parent = TaskFilter(parent_task_id=str(search.id))
        answer = await transport.execute(CANCEL_NODE, CancelTasks(filter=by_parent))
        assert ids(answer) == [str(p.id) for p in phases]
        assert all(p.cancelled for p in phases) and not search.cancelled
    asyncio.run(go())


def test_cancelling_by_action_reaches_phases_whose_search_runs_on_the_same_node():
    async def go():
        tasks, transport, _ = node()
        search = tasks.register(SEARCH, cancellable=True)
        local = tasks.register(QUERY_PHASE, parent=search.id, cancellable=True)
        remote = tasks.register(QUERY_PHASE, parent=TaskId("nodeB", 7), cancellable=True)
        answer = await transport.execute(CANCEL_NODE, CancelTasks(filter=TaskFilter(actions=[QUERY_PHASE])))
        assert ids(answer) == [str(local.id), str(remote.id)]
        assert local.cancelled and remote.cancelled and not search.cancelled
    asyncio.run(go())


def test_cancelling_a_parent_and_its_child_together_lists_both():
    async def go():
        tasks, transport, _ = node()
        search = tasks.register(SEARCH, cancellable=True)
        phase = tasks.register(QUERY_PHASE, parent=search.id, cancellable=True)
        answer = await transport.execute(CANCEL_NODE, CancelTasks(filter=TaskFilter(actions=["indices:*"])))
        assert ids(answer) == [str(search.id), str(phase.id)]
        assert all(t["cancelled"] for t in answer.tasks)
    asyncio.run(go())


def test_a_waiting_cancellation_answers_once_the_cancelled_tasks_have_ended():
    async def go():
        tasks, transport, _ = node()
        search = tasks.register(SEARCH, cancellable=True)
        waited = CancelTasks(filter=TaskFilter(actions=[SEARCH]), wait_for_completion=True, timeout=10.0)
        cancelling = asyncio.ensure_future(transport.execute(CANCEL_NODE, waited))
        assert await still_waiting(cancelling)
        assert search.cancelled
        tasks.unregister(search)
        answer = await asyncio.wait_for(cancelling, 5.0)
        assert ids(answer) == [str(search.id)] and answer.tasks[0]["cancelled"]
    asyncio.run(go())


def test_a_waiting_cancellation_that_runs_out_of_time_names_a_task_still_running():
    async def go():
        tasks, transport, _ = node()
        search = tasks.register(SEARCH, cancellable=True)
        waited = CancelTasks(filter=TaskFilter(actions=[SEARCH]), wait_for_completion=True, timeout=0.1)
        named = rf"Timed out waiting for the cancelled task \[{search.id}\] to end"
        with pytest.raises(TimedOut, match=named):
            await transport.execute(CANCEL_NODE, waited)
    asyncio.run(go())


# -- listing with wait_for_completion ------------------------------------------------------------------


def test_a_waiting_listing_answers_with_the_tasks_that_matched_once_they_have_ended():
    async def go():
        tasks, transport, _ = node()
        reindex = tasks.register("indices:data/write/reindex")
        listing = asyncio.ensure_future(transport.execute(LIST_NODE, waiting("indices:*")))
        assert await still_waiting(listing)
        tasks.unregister(reindex)
        answer = await asyncio.wait_for(listing, 5.0)
        assert ids(answer) == [str(reindex.id)]
    asyncio.run(go())


def test_a_waiting_listing_does_not_wait_for_listings_its_own_or_another_waiters():
    async def go():
        tasks, transport, _ = node()
        reindex = tasks.register("indices:data/write/reindex")
        everything = waiting()
        listings = [asyncio.ensure_future(transport.execute(LIST_NODE, everything)) for _ in range(2)]
        assert await still_waiting(listings[0])
        tasks.unregister(reindex)
        answers = await asyncio.wait_for(asyncio.gather(*listings), 5.0)
        assert all(str(reindex.id) in ids(a) for a in answers)
    asyncio.run(go())


def test_a_waiting_listing_does_not_wait_for_tasks_started_after_it():
    async def go():
        tasks, transport, _ = node()
        first = tasks.register("indices:data/write/reindex")
        listing = asyncio.ensure_future(transport.execute(LIST_NODE, waiting("indices:*")))
        assert await still_waiting(listing)
        later = tasks.register("indices:data/write/reindex")
        tasks.unregister(first)
        answer = await asyncio.wait_for(listing, 5.0)
        assert ids(answer) == [str(first.id)]
        assert tasks.get(later.id) is later  # still running: it was never waited for
    asyncio.run(go())


def test_a_waiting_listing_that_runs_out_of_time_says_so():
    async def go():
        tasks, transport, _ = node()
        tasks.register("indices:data/write/reindex")
        with pytest.raises(TimedOut, match=r"timed out after \[100ms\]"):
            await transport.execute(LIST_NODE, waiting("indices:*", timeout=0.1))
    asyncio.run(go())


# -- bans ---------------------------------------------------------------------------------------------


def test_bans_placed_by_a_node_that_left_the_cluster_are_dropped():
    tasks, _, actions = node("nodeB")
    tasks.ban_parent(TaskId("nodeA", 1), "by user request")
    tasks.ban_parent(TaskId("nodeC", 2), "by user request")
    before = ClusterState(version=1, nodes=frozenset({"nodeA", "nodeB", "nodeC"}))
    actions.apply_cluster_state(before, before.next(version=2, nodes=frozenset({"nodeB", "nodeC"})))
    assert list(tasks.bans) == [TaskId("nodeC", 2)]
    tasks.register("child", parent=TaskId("nodeA", 1))  # no longer refused


# -- children of a cancelled parent --------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(transport: TransportService):
    """`transport` on a loopback port of its own, for the block; yields its address."""
    try:
        async with served(transport.app()) as address:
            yield address
    finally:
        await transport.close()


def test_a_cancelled_parent_cannot_send_a_child_to_another_node():
    async def go():
        tasks_a, a, _ = node("nodeA")
        _, b, _ = node("nodeB")
        received = []

        def child(request, task):
            received.append(task)
            return Empty()

        b.register("test:child", Empty, Empty, child)
        async with serving(b) as address:
            await a.connect(address)
            parent = tasks_a.register(SEARCH, cancellable=True)
            tasks_a.cancel(parent, "by user request")
            refused = pytest.raises(TaskCancelled, match=r"parent task was cancelled \[by user request\]")
            with context.bound(context.RequestContext({}, str(parent.id))), refused:
                await a.execute("test:child", Empty(), address=address)
        assert received == []
        await a.close()
    asyncio.run(go())


def test_a_cancelled_child_lifts_its_bans_when_it_ends_under_a_cancelled_parent():
    """The child ends in its parent's context; the lift of its bans is no child of that
    cancelled parent, so it is not refused and no ban outlives the child."""
    async def go():
        tasks_a, a, _ = node("nodeA")
        tasks_b, b, _ = node("nodeB")
        async with serving(b) as address:
            await a.connect(address)
            search = tasks_a.register(SEARCH, cancellable=True)
            phase = tasks_a.register(QUERY_PHASE, parent=search.id, cancellable=True)
            tasks_a.register_child_node(phase, "nodeB")
            await a.execute(CANCEL_NODE, CancelTasks(filter=TaskFilter(actions=["indices:*"])))
            assert phase.id in tasks_b.bans
            with context.bound(context.RequestContext({}, str(search.id))):
                tasks_a.unregister(phase)
            for _ in range(500):
                if phase.id not in tasks_b.bans:
                    break
                await asyncio.sleep(0.01)
            assert phase.id not in tasks_b.bans
        await a.close()
    asyncio.run(go())


def test_a_ban_cancels_the_children_and_bans_them_on_the_nodes_of_their_own_children():
    """A parent on A, its child on B, the child's own child on C: cancelling the parent
    reaches C too (ES's banParent cancels each child with its descendants)."""
    async def go():
        tasks_a, a, _ = node("nodeA")
        tasks_b, b, _ = node("nodeB")
        tasks_c, c, _ = node("nodeC")
        async with serving(b) as address_b, serving(c) as address_c:
            await a.connect(address_b)
            await b.connect(address_c)
            search = tasks_a.register(SEARCH, cancellable=True)
            tasks_a.register_child_node(search, "nodeB")
            phase = tasks_b.register(QUERY_PHASE, parent=search.id, cancellable=True)
            tasks_b.register_child_node(phase, "nodeC")
            fetch = tasks_c.register(QUERY_PHASE, parent=phase.id, cancellable=True)
            await a.execute(CANCEL_NODE, CancelTasks(filter=TaskFilter(actions=[SEARCH])))
            assert phase.cancelled and phase.id in tasks_c.bans
            assert fetch.cancelled and fetch.cancelled_reason == "by user request"
        await a.close()
    asyncio.run(go())
