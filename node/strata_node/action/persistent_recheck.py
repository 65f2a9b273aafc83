"""The master's periodic recheck of persistent tasks no node could take (Elasticsearch's
PersistentTasksClusterService.PeriodicRechecker and its dynamic setting
`cluster.persistent_tasks.allocation.recheck_interval`, default 30s).

Every state the master builds places the unassigned tasks (`reassign_tasks`), so a
change the state shows (a node joining, a setting) places them at once. But an assigner
may read what no state change announces (Elasticsearch's machine learning reads a node's
free memory; Strata's test counter reads the clock), so while any task is unassigned the
master submits an empty update every interval: it runs the placement again, and when
nothing moves it publishes nothing. Each node runs this listener; only the elected master
keeps a recheck scheduled, and a new interval takes effect when the state carrying it is
applied.
"""

from __future__ import annotations

import asyncio
import logging

from ..cluster.state import content_of
from ..common.errors import NotMasterError, StrataError
from ..tasks import persistent

log = logging.getLogger("strata.tasks.persistent")

RECHECK_INTERVAL = "cluster.persistent_tasks.allocation.recheck_interval"
SOURCE = "reassign persistent tasks"


def any_unassigned(tasks: persistent.PersistentTasks) -> bool:
    return any(not t.assignment.assigned for t in tasks.tasks.values())


class PersistentTasksRechecker:
    def __init__(self, node):
        self.node = node
        self._runner: asyncio.Task | None = None
        self._interval: float | None = None  # what the running recheck was scheduled with

    def apply_cluster_state(self, new) -> None:
        """Keep a recheck scheduled while this node is the master and a task is unassigned."""
        wanted = self.node.coordination.is_master and any_unassigned(persistent.of(content_of(new)))
        if not wanted:
            self._cancel()
            return
        interval = self.node.cluster_settings.get(RECHECK_INTERVAL)
        if self._runner is not None and not self._runner.done() and interval == self._interval:
            return
        self._cancel()
        self._interval = interval
        self._runner = asyncio.get_running_loop().create_task(self._recheck_every(interval))

    async def _recheck_every(self, interval: float) -> None:
        coordination = self.node.coordination
        while True:
            await asyncio.sleep(interval)
            if not coordination.is_master or not any_unassigned(persistent.of(coordination.content)):
                return
            log.debug("rechecking unassigned persistent tasks (every [%ss])", interval)
            try:
                await coordination.submit(SOURCE, lambda content: content)
            except NotMasterError:
                return  # the next master schedules its own when it applies its first state
            except StrataError as e:
                log.warning("failed to recheck unassigned persistent tasks, trying again in [%ss]: %s",
                            interval, e)

    def _cancel(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
        self._runner = None

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
