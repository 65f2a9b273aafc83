"""A master action whose master stepped down or could not publish the change is tried
again on the next master (TransportMasterNodeAction retries publish failures)."""

import asyncio
from types import SimpleNamespace

import pytest

from strata_node.action.master import MasterActions, MasterNodeRequest
from strata_node.common.errors import FailedToCommitClusterState, IllegalArgument
from strata_node.transport.wire import Empty


class Coordination:
    is_master = True

    def __init__(self):
        self.master_node = SimpleNamespace(id="n0")

    async def wait_for_change(self, timeout):
        await asyncio.sleep(0)


def actions_failing_with(*errors):
    node = SimpleNamespace(node_id="n0", name="n0", coordination=Coordination(),
                           transport=SimpleNamespace(register=lambda *a, **k: None))
    actions = MasterActions(node)
    remaining = list(errors)
    calls = []

    async def operation(request, task):
        calls.append(request)
        if remaining:
            raise remaining.pop(0)
        return Empty()

    actions.register("cluster:admin/test", MasterNodeRequest, Empty, operation)
    return actions, calls


def test_a_publication_that_failed_to_commit_is_tried_again():
    actions, calls = actions_failing_with(FailedToCommitClusterState("failed to publish: lost quorum"))
    answer = asyncio.run(actions.on_master("cluster:admin/test", MasterNodeRequest(master_timeout=5), None))
    assert isinstance(answer, Empty) and len(calls) == 2


def test_a_request_error_is_not_tried_again():
    actions, calls = actions_failing_with(IllegalArgument("bad"))
    with pytest.raises(IllegalArgument):
        asyncio.run(actions.on_master("cluster:admin/test", MasterNodeRequest(master_timeout=5), None))
    assert len(calls) == 1
