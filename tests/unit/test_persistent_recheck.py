"""The master's periodic recheck of unassigned persistent tasks, against a stand-in node:
an empty update every interval while this node is master and a task waits, none else."""

import asyncio
from types import SimpleNamespace

from strata_node.action.persistent_recheck import RECHECK_INTERVAL, SOURCE, PersistentTasksRechecker
from strata_node.cluster.state import ClusterStateContent
from strata_node.common.errors import NotMasterError
from strata_node.tasks import persistent
from strata_node.tasks.persistent import Assignment

WAITING = persistent.start_task(ClusterStateContent(), "t1", "x", {})  # no node yet
PLACED = persistent.with_tasks(ClusterStateContent(), persistent.PersistentTasks().add("t1", "x", {},
                                                                                       Assignment("n1")))


def state(content):
    """An applied cluster state, as listeners get it."""
    return SimpleNamespace(value=content)


class Coordination:
    def __init__(self, content, is_master=True):
        self.content = content
        self.is_master = is_master
        self.submitted: list[str] = []

    async def submit(self, source, update):
        if not self.is_master:
            raise NotMasterError("not the master")
        self.submitted.append(source)
        self.content = update(self.content)


def node(coordination, interval=0.02):
    settings = {RECHECK_INTERVAL: interval}
    return SimpleNamespace(coordination=coordination, cluster_settings=SimpleNamespace(get=settings.get),
                           settings_values=settings)


def test_a_master_with_a_waiting_task_rechecks_every_interval_until_it_is_placed():
    async def go():
        coordination = Coordination(WAITING)
        rechecker = PersistentTasksRechecker(node(coordination))
        rechecker.apply_cluster_state(state(WAITING))
        await asyncio.sleep(0.15)
        assert coordination.submitted.count(SOURCE) >= 3
        coordination.content = PLACED  # placed by one of them: the loop ends by itself
        await asyncio.sleep(0.05)
        assert rechecker._runner.done()
        await rechecker.close()
    asyncio.run(go())


def test_nothing_is_rechecked_on_a_follower_or_without_waiting_tasks():
    async def go():
        for coordination, content in ((Coordination(WAITING, is_master=False), WAITING),
                                      (Coordination(PLACED), PLACED)):
            rechecker = PersistentTasksRechecker(node(coordination))
            rechecker.apply_cluster_state(state(content))
            await asyncio.sleep(0.06)
            assert coordination.submitted == [] and rechecker._runner is None
    asyncio.run(go())


def test_a_new_interval_reschedules_and_losing_the_mastership_stops():
    async def go():
        coordination = Coordination(WAITING)
        stand_in = node(coordination, interval=30.0)
        rechecker = PersistentTasksRechecker(stand_in)
        rechecker.apply_cluster_state(state(WAITING))
        first = rechecker._runner
        rechecker.apply_cluster_state(state(WAITING))  # same interval: the same schedule
        assert rechecker._runner is first
        stand_in.settings_values[RECHECK_INTERVAL] = 0.02
        rechecker.apply_cluster_state(state(WAITING))
        await asyncio.sleep(0.1)
        assert first.cancelled() and coordination.submitted
        coordination.is_master = False
        rechecker.apply_cluster_state(state(WAITING))
        assert rechecker._runner is None
        await rechecker.close()
    asyncio.run(go())
