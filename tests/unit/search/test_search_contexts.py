"""The search contexts a node keeps between a shard's query phase and its fetch: taken
once by the fetch, freed on request, and reaped once idle past their keep-alive."""

import time

import pytest

from strata_node.search.context import ShardContext
from strata_node.search.contexts import SearchContextMissing, SearchContexts


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def context(shard: int = 0) -> ShardContext:
    return ShardContext("logs", shard, reader=None, mapping=None, analyzers=None, now_millis=0)


def test_a_fetch_takes_its_context_once():
    contexts = SearchContexts(reap_every=None)
    ctx = context()
    context_id = contexts.open(ctx)
    assert len(contexts) == 1
    assert contexts.take(context_id) is ctx
    assert len(contexts) == 0
    with pytest.raises(SearchContextMissing, match=rf"No search context found for id \[{context_id}\]") as e:
        contexts.take(context_id)
    assert (e.value.type, e.value.status) == ("search_context_missing_exception", 404)


def test_free_drops_a_context_and_says_whether_there_was_one():
    contexts = SearchContexts(reap_every=None)
    first, second = contexts.open(context(0)), contexts.open(context(1))
    assert first != second
    assert contexts.free(first) is True
    assert contexts.free(first) is False
    assert len(contexts) == 1
    assert contexts.take(second).shard_id == 1


def test_the_reaper_frees_only_contexts_idle_past_their_keep_alive():
    clock = Clock()
    contexts = SearchContexts(keep_alive=300.0, reap_every=None, clock=clock)
    old = contexts.open(context(0))
    clock.now += 200
    young = contexts.open(context(1))
    assert contexts.reap() == 0
    clock.now += 100  # the first is 300 s old, the second 100 s
    assert contexts.reap() == 1
    with pytest.raises(SearchContextMissing):
        contexts.take(old)
    clock.now += 199
    assert contexts.reap() == 0
    clock.now += 1
    assert contexts.reap() == 1
    assert contexts.free(young) is False
    assert len(contexts) == 0


def test_ids_from_another_process_session_name_nothing_here():
    before_restart, after_restart = SearchContexts(reap_every=None), SearchContexts(reap_every=None)
    context_id = before_restart.open(context())
    after_restart.open(context())
    with pytest.raises(SearchContextMissing):
        after_restart.take(context_id)


def test_the_reaper_thread_starts_with_the_first_context_and_reaps_on_its_own():
    clock = Clock()
    contexts = SearchContexts(keep_alive=1.0, reap_every=0.01, clock=clock)
    assert contexts._reaper is None  # a node that never keeps a context runs no thread
    contexts.open(context())
    assert contexts._reaper is not None and contexts._reaper.daemon
    clock.now += 1.0
    for _ in range(500):
        if not len(contexts):
            break
        time.sleep(0.01)
    assert len(contexts) == 0


def test_the_reaper_frees_the_contexts_of_a_shard_closed_since_they_opened(tmp_path):
    import asyncio

    from strata_node.engine.engine import Engine, ShardRef

    async def go():
        engines = [Engine(ShardRef("logs", "uuid-1", n), tmp_path / str(n), 1) for n in (0, 1)]
        for e in engines:
            await e.open()
        contexts = SearchContexts(reap_every=None)
        ids = [contexts.open(ShardContext("logs", n, reader=e.searcher(), mapping=None, analyzers=None,
                                          now_millis=0)) for n, e in enumerate(engines)]
        await engines[0].close()
        assert contexts.reap() == 1  # well within its keep-alive, but its shard is gone
        with pytest.raises(SearchContextMissing):
            contexts.take(ids[0])
        assert contexts.take(ids[1]).shard_id == 1
        await engines[1].close()

    asyncio.run(go())
