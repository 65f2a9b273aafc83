"""A bulk shard request sent again after a retryable failure says so: its first attempt
may have been written before the failure (a primary that failed after writing), so the
engine looks its generated ids up rather than appending them twice."""

import asyncio
from types import SimpleNamespace

from strata_node.action.bulk import BulkAction, BulkItem, BulkShardResponse, WriteOptions


class RetryingRouter:
    """Calls the request builder once per attempt, as ShardRouter.on_primary does."""

    def __init__(self, attempts: int):
        self.attempts = attempts
        self.sent = []

    async def on_primary(self, action, index, shard, request, timeout):
        for _ in range(self.attempts):
            self.sent.append(request(False))
        return BulkShardResponse(items=[], local_responses=[None])


def sent_requests(attempts: int):
    action = BulkAction(indices=None)
    action.router = RetryingRouter(attempts)
    item = BulkItem("index", "logs", "gen-1", source=b"{}", auto_id=True)
    asyncio.run(action._send_to_primary(SimpleNamespace(name="logs", uuid="u"), 0, [item], [0], [None],
                                        WriteOptions()))
    return action.router.sent


def test_a_first_attempt_is_not_a_retry():
    assert [r.retry for r in sent_requests(1)] == [False]


def test_every_attempt_after_the_first_is_a_retry():
    assert [r.retry for r in sent_requests(3)] == [False, True, True]
