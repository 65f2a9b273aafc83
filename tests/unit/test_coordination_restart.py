"""A coordination step that fails leaves the node as a restart would: the core rebuilt
from its persisted term and state, a master stepped down with its pending updates failed,
and the next election and updates working again (not a master stuck on a state it never
wrote)."""

import asyncio

import msgspec
import pytest

from strata_node.cluster.coordination import Mode
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.coordination_service import CoordinationService
from strata_node.cluster.persisted import PersistedStateStore
from strata_node.common.errors import FailedToCommitClusterState
from strata_node.settings import load_node_settings


class Transport:
    """A single-node cluster sends nothing; the service only registers its handlers."""

    address = "127.0.0.1:9300"

    def register(self, *args, **kwargs):
        pass

    def peers(self):
        return {}


def set_persistent(key, value):
    def update(content):
        metadata = msgspec.structs.replace(
            content.metadata, persistent_settings={**content.metadata.persistent_settings, key: value}
        )
        return msgspec.structs.replace(content, metadata=metadata)

    return update


async def started(tmp_path) -> CoordinationService:
    settings = load_node_settings(
        None,
        [
            "discovery.type=single-node",
            "cluster.coordination.tick_interval=10ms",
            "cluster.election.initial_timeout=10ms",
        ],
        {},
    )
    service = CoordinationService(
        settings=settings,
        local_node=DiscoveryNode(id="n0", name="n0", roles=("master",)),
        transport=Transport(),
        data_path=tmp_path,
    )
    service.start()
    await elected(service)
    return service


async def elected(service: CoordinationService) -> None:
    async with asyncio.timeout(10):
        while not (service.is_master and service.applied_state is not None):
            await asyncio.sleep(0.01)


def test_a_state_the_store_cannot_encode_fails_its_update_and_the_master_publishes_again(tmp_path):
    async def run():
        service = await started(tmp_path)
        term = service.current_term
        # msgpack holds 64 bits: the state is accepted by the core but cannot be written.
        with pytest.raises(FailedToCommitClusterState, match="failed to persist the cluster state"):
            await asyncio.wait_for(service.submit("too big", set_persistent("x", 2**70)), 10)
        await elected(service)
        assert service.current_term > term
        applied = await asyncio.wait_for(service.submit("fine", set_persistent("y", 1)), 10)
        assert applied.value.metadata.persistent_settings.get("x") is None
        assert applied.value.metadata.persistent_settings["y"] == 1
        await service.stop()
        reopened = PersistedStateStore(tmp_path / "_state" / "coordination").load()
        assert reopened.last_accepted_state.value.metadata.persistent_settings == {"y": 1}

    asyncio.run(run())


def test_a_store_write_that_fails_once_leaves_the_master_able_to_commit_the_retry(tmp_path, monkeypatch):
    async def run():
        service = await started(tmp_path)
        write = service._store.write
        failures = []

        def failing_once(*args):
            if not failures:
                failures.append(1)
                raise OSError("No space left on device")
            return write(*args)

        monkeypatch.setattr(service._store, "write", failing_once)
        with pytest.raises(FailedToCommitClusterState, match="No space left on device"):
            await asyncio.wait_for(service.submit("first", set_persistent("a", 1)), 10)
        await elected(service)
        applied = await asyncio.wait_for(service.submit("retry", set_persistent("a", 2)), 10)
        assert applied.value.metadata.persistent_settings["a"] == 2
        await service.stop()

    asyncio.run(run())


def test_a_step_that_raises_rebuilds_the_core_from_its_persisted_state(tmp_path):
    async def run():
        service = await started(tmp_path)
        before = service.coordinator
        persisted = before.persisted_state
        service._inputs.put_nowait(("message", object()))  # the core raises TypeError on it
        async with asyncio.timeout(10):
            while service.coordinator is before:
                await asyncio.sleep(0.01)
        await elected(service)  # standing again from the persisted term: a later one
        assert service.coordinator.mode is Mode.LEADER
        assert service.current_term > persisted.current_term
        assert service.coordinator.last_accepted_state.version > persisted.last_accepted_state.version
        await service.stop()

    asyncio.run(run())


def test_a_failed_write_of_the_committed_cluster_uuid_does_not_stop_applying_states(tmp_path, monkeypatch):
    async def run():
        def failing(uuid):
            raise OSError("Input/output error")

        settings = load_node_settings(
            None, ["discovery.type=single-node", "cluster.coordination.tick_interval=10ms"], {}
        )
        service = CoordinationService(
            settings=settings, local_node=DiscoveryNode(id="n0", name="n0", roles=("master",)),
            transport=Transport(), data_path=tmp_path,
        )
        monkeypatch.setattr(service._store, "record_committed_cluster_uuid", failing)
        service.start()
        await elected(service)
        applied = await asyncio.wait_for(service.submit("after", set_persistent("z", 1)), 10)
        assert applied.value.metadata.persistent_settings["z"] == 1
        assert service.applied_state.version == applied.version
        await service.stop()

    asyncio.run(run())
