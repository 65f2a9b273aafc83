"""The master service's bookkeeping: cluster state update tasks and who waits on them.

Elasticsearch's MasterService runs update tasks in batches, each batch producing at most
one new state. Here the coordination core does the batching (every change queued while a
publication is in flight goes into the next one); this module wraps each task so that a
failing task fails alone, records which version carries it, and completes its waiter once
that version is applied on this node, or fails it if this node stops being master first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..common.errors import FailedToCommitClusterState
from .coordination.cluster_state import ClusterState
from .state import ClusterStateContent, as_content

log = logging.getLogger("strata.cluster.master")

ContentUpdate = Callable[[ClusterStateContent], ClusterStateContent]


@dataclass
class UpdateTask:
    source: str
    update: ContentUpdate
    future: asyncio.Future
    # (term, version) of the state that carries this task, once it is built
    published_in: tuple[int, int] | None = None


class PendingTasks:
    """Tasks submitted on this master and not yet applied here."""

    def __init__(self) -> None:
        self._tasks: list[UpdateTask] = []

    def wrap(self, task: UpdateTask, next_term_version: Callable[[], tuple[int, int]]):
        """The update the core runs while building the next state."""
        self._tasks.append(task)

        def run(value):
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
        remaining = []
        for task in self._tasks:
            if task.future.done():
                continue
            if task.published_in is not None and task.published_in[0] == state.term and (
                task.published_in[1] <= state.version
            ):
                task.future.set_result(state)
            else:
                remaining.append(task)
        self._tasks = remaining

    def fail_all(self, reason: str) -> None:
        """This node stopped leading: what it had not applied may or may not commit under
        the next master, and the submitters must find out from it."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            if not task.future.done():
                task.future.set_exception(FailedToCommitClusterState(
                    f"failed to publish cluster state update [{task.source}]: {reason}"))
