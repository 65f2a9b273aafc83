"""The master service's bookkeeping: cluster state update tasks and who waits on them.

Elasticsearch's MasterService runs update tasks in batches, each batch producing at most
one new state. Here the coordination core does the batching (every change queued while a
publication is in flight goes into the next one); this module wraps each task so that a
failing task fails alone, records which version carries it, and completes its waiter once
that version is applied on this node, or fails it if this node stops being master first.

The tasks not yet applied are the master's pending tasks (`_cluster/pending_tasks`, the
health's `number_of_pending_tasks`): queued from the moment they are submitted, executing
once the state that carries them is built, gone once it is applied here. Each carries the
priority Elasticsearch gives its kind of update, for the listing; they run in the order
they were submitted, whatever their priority (one queue, one batch per publication).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..common.errors import FailedToCommitClusterState
from .coordination.cluster_state import ClusterState
from .state import ClusterStateContent, as_content

log = logging.getLogger("strata.cluster.master")

ContentUpdate = Callable[[ClusterStateContent], ClusterStateContent]


# Elasticsearch's Priority, highest first.
PRIORITIES = ("IMMEDIATE", "URGENT", "HIGH", "NORMAL", "LOW", "LANGUID")


@dataclass
class UpdateTask:
    source: str
    update: ContentUpdate
    future: asyncio.Future
    priority: str = "NORMAL"
    inserted_at: float = field(default_factory=time.monotonic)
    insert_order: int = 0
    # (term, version) of the state that carries this task, once it is built
    published_in: tuple[int, int] | None = None
    # An acknowledged update (ES's AckedClusterStateUpdateTask) is answered once its state
    # is committed: its submitter then waits for every node's apply, this master's included,
    # up to its ack timeout. Others once this master applied it.
    acked: bool = False


class PendingTasks:
    """Tasks submitted on this master and not yet applied here."""

    def __init__(self) -> None:
        self._tasks: list[UpdateTask] = []
        self._insert_order = itertools.count()

    def add(self, task: UpdateTask) -> None:
        """A task enters the queue (it runs when the core next builds a state)."""
        task.insert_order = next(self._insert_order)
        self._tasks.append(task)

    def listing(self, now: float | None = None) -> list[dict[str, Any]]:
        """The pending tasks as PendingClusterTasksResponse shows them: the executing ones
        (their state is built and not yet applied here) first, then the queue in the
        order it runs."""
        now = time.monotonic() if now is None else now
        tasks = [t for t in self._tasks if not t.future.done()]
        tasks.sort(key=lambda t: (t.published_in is None, t.insert_order))
        return [{"insert_order": t.insert_order, "priority": t.priority, "source": t.source,
                 "executing": t.published_in is not None,
                 "time_in_queue_millis": int((now - t.inserted_at) * 1000)} for t in tasks]

    def max_wait_millis(self, now: float | None = None) -> int:
        """How long the oldest task still queued (not executing) has waited."""
        now = time.monotonic() if now is None else now
        waiting = [t.inserted_at for t in self._tasks if not t.future.done() and t.published_in is None]
        return int((now - min(waiting)) * 1000) if waiting else 0

    def wrap(self, task: UpdateTask, next_term_version: Callable[[], tuple[int, int]]):
        """The update the core runs while building the next state."""

        def run(value):
            if task.future.done():  # failed while queued (the master stepped down): never applied
                return value
            content = as_content(value)
            try:
                updated = task.update(content)
            except Exception as e:  # one task's failure fails that task only
                log.info("cluster state update task [%s] failed: %s", task.source, e)
                if not task.future.done():
                    task.future.set_exception(e)
                return value
            task.published_in = next_term_version()
            return updated

        return run

    def settle_unpublished(self, accepted: ClusterState) -> None:
        """Tasks whose batch changed nothing: the core published no state for them (ES's
        MasterService acks such a batch at once), so the state already accepted carries
        them. Run after every step, when any batch has either been published or dropped."""
        for task in self._tasks:
            if task.published_in is not None and task.published_in[0] == accepted.term and (
                    task.published_in[1] > accepted.version):
                task.published_in = (accepted.term, accepted.version)

    def applied(self, state: ClusterState) -> None:
        self._settle(state, acked_only=False)

    def committed(self, state: ClusterState) -> None:
        """A state this master committed: the acknowledged updates it carries are answered."""
        self._settle(state, acked_only=True)

    def _settle(self, state: ClusterState, acked_only: bool) -> None:
        remaining = []
        for task in self._tasks:
            if task.future.done():
                continue
            if (task.acked or not acked_only) and task.published_in is not None and (
                    task.published_in[0] == state.term and task.published_in[1] <= state.version):
                task.future.set_result(state)
            else:
                remaining.append(task)
        self._tasks = remaining

    def fail_all(self, reason: str, committed: ClusterState | None = None) -> None:
        """This node stopped leading: what it had not committed may or may not commit under
        the next master, and the submitters must find out from it. The tasks of a state it
        committed (`committed`, on its way to this node's applier) stay, answered when it is
        applied, as ES completes a committed publication it cancels."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            if task.future.done():
                continue
            if committed is not None and task.published_in is not None and (
                    task.published_in[0] == committed.term and task.published_in[1] <= committed.version):
                self._tasks.append(task)
                continue
            task.future.set_exception(FailedToCommitClusterState(
                f"failed to publish cluster state update [{task.source}]: {reason}"))
