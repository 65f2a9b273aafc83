"""The master service's bookkeeping of update tasks: who waits for which state."""

from __future__ import annotations

import asyncio

import msgspec

from strata_node.cluster.coordination.cluster_state import ClusterState
from strata_node.cluster.master_service import PendingTasks, UpdateTask
from strata_node.cluster.state import ClusterStateContent, Metadata


def _task(loop, update, pending: PendingTasks | None = None) -> UpdateTask:
    task = UpdateTask("test", update, loop.create_future())
    if pending is not None:
        pending.add(task)  # as submit queues it
    return task


def test_a_task_completes_once_the_state_carrying_it_is_applied():
    loop = asyncio.new_event_loop()
    pending = PendingTasks()
    task = _task(loop, lambda c: msgspec.structs.replace(c, metadata=Metadata(version=1)), pending)
    run = pending.wrap(task, lambda: (3, 8))
    run(ClusterStateContent())
    pending.applied(ClusterState(term=3, version=7))
    assert not task.future.done()
    pending.applied(ClusterState(term=3, version=8))
    assert task.future.done()
    loop.close()


def test_a_task_whose_batch_published_nothing_completes_on_the_state_already_accepted():
    loop = asyncio.new_event_loop()
    pending = PendingTasks()
    task = _task(loop, lambda c: c, pending)
    pending.wrap(task, lambda: (3, 8))(ClusterStateContent())
    accepted = ClusterState(term=3, version=7)
    pending.settle_unpublished(accepted)  # the core dropped the batch: version 8 never comes
    pending.applied(accepted)
    assert task.future.done()
    loop.close()


def test_a_task_not_yet_run_is_not_settled():
    loop = asyncio.new_event_loop()
    pending = PendingTasks()
    task = _task(loop, lambda c: c, pending)
    pending.wrap(task, lambda: (3, 8))  # queued behind a publication in flight: not run yet
    pending.settle_unpublished(ClusterState(term=3, version=7))
    pending.applied(ClusterState(term=3, version=7))
    assert not task.future.done()
    loop.close()
