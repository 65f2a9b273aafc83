"""The master reads settings.json when it starts leading, in every term it leads: a node
that steps down and is elected again with no state applied in between (a coordination
restart, a brief loss of quorum) still reads a file that changed while it did not lead."""

import asyncio
from types import SimpleNamespace

from strata_node.reservedstate.file_settings import FileSettingsService


def service(coordination) -> tuple[FileSettingsService, list[str]]:
    settings = SimpleNamespace(get=lambda key: "/nonexistent")
    node = SimpleNamespace(coordination=coordination, settings=settings)
    svc = FileSettingsService(node, {})
    reads: list[str] = []

    async def process_file():
        reads.append("read")

    svc._process_file = process_file
    return svc, reads


def test_a_master_elected_again_in_a_later_term_reads_the_file_again():
    async def run():
        coordination = SimpleNamespace(is_master=True, current_term=3)
        svc, reads = service(coordination)
        loop = asyncio.create_task(svc._process_loop())
        svc.apply_cluster_state(None, None)
        await asyncio.sleep(0.01)
        coordination.is_master = False
        svc._wake.set()  # the file changes while it does not lead: dropped
        await asyncio.sleep(0.01)
        coordination.is_master, coordination.current_term = True, 5
        svc.apply_cluster_state(None, None)
        await asyncio.sleep(0.01)
        loop.cancel()
        return reads

    assert asyncio.run(run()) == ["read", "read"]


def test_more_states_in_the_same_term_do_not_read_the_file_again():
    async def run():
        coordination = SimpleNamespace(is_master=True, current_term=3)
        svc, reads = service(coordination)
        loop = asyncio.create_task(svc._process_loop())
        for _ in range(3):
            svc.apply_cluster_state(None, None)
            await asyncio.sleep(0.01)
        loop.cancel()
        return reads

    assert asyncio.run(run()) == ["read"]


def with_file_settings_version(version: int) -> SimpleNamespace:
    import msgspec

    from strata_node.cluster.state import ClusterStateContent
    from strata_node.reservedstate.metadata import ReservedStateMetadata

    entry = ReservedStateMetadata("file_settings", version)
    metadata = msgspec.structs.replace(ClusterStateContent().metadata,
                                       reserved_state={"file_settings": entry})
    return SimpleNamespace(value=msgspec.structs.replace(ClusterStateContent(), metadata=metadata))


def test_a_restore_of_the_global_state_has_the_master_read_the_file_again_once():
    async def run():
        coordination = SimpleNamespace(is_master=True, current_term=3)
        svc, reads = service(coordination)
        loop = asyncio.create_task(svc._process_loop())
        applied, restored = with_file_settings_version(7), with_file_settings_version(0)
        svc.apply_cluster_state(None, applied)
        await asyncio.sleep(0.01)
        svc.apply_cluster_state(applied, restored)  # the restore reset the version to 0
        await asyncio.sleep(0.01)
        svc.apply_cluster_state(restored, restored)  # a later state, the file not applied (missing, say)
        await asyncio.sleep(0.01)
        loop.cancel()
        return reads

    assert asyncio.run(run()) == ["read", "read"]
