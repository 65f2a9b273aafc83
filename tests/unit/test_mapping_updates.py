"""Dynamic mapping updates on the write path: published durably, once per batch, and
safe against another request publishing first."""

from __future__ import annotations

import asyncio
import json

import pytest

from strata_node.action.document_mapping import ShardMapper
from strata_node.common.errors import IndexNotFound
from tests.support.local_master import create_local, open_indices


def run(coro):
    return asyncio.run(coro)


def stored_mapping(service) -> dict:
    return json.loads((service.path / "_state" / "index.json").read_bytes())["mappings"]


def test_a_batch_publishes_its_new_fields_once_and_durably(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {})
        version = service.metadata.version
        mapper = ShardMapper(service)
        docs = [{"a": 1}, {"a": 2, "b": "x"}, {"a": 3}]
        for i, doc in enumerate(docs):
            mapper.parse(doc, str(i))
        assert service.metadata.version == version  # nothing published while parsing
        failures, _ = await mapper.publish([(i, d, str(i)) for i, d in enumerate(docs)])
        assert failures == {}
        assert service.metadata.version == version + 1
        assert sorted(stored_mapping(service)["properties"]) == ["a", "b"]
        assert service.mapping.to_dict() == stored_mapping(service)
        await indices.stop()

    run(go())


def test_when_another_request_maps_a_field_first_the_losing_documents_fail(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {"settings": {"number_of_shards": 2}})
        first, second = ShardMapper(service), ShardMapper(service)
        first.parse({"x": 1}, "1")
        second.parse({"x": "text", "y": True}, "2")
        second.parse({"y": False}, "3")
        assert (await first.publish([(0, {"x": 1}, "1")]))[0] == {}
        pending = [(0, {"x": "text", "y": True}, "2"), (1, {"y": False}, "3")]
        failures, reparsed = await second.publish(pending)
        assert list(failures) == [0]
        assert failures[0].reason.startswith(
            "failed to parse field [x] of type [long] in document with id '2'")
        assert reparsed[1].dynamic_update is not None  # `y` now comes from document 3 alone
        assert stored_mapping(service)["properties"] == {"x": {"type": "long"}, "y": {"type": "boolean"}}
        await indices.stop()

    run(go())


def test_no_update_is_written_into_a_deleted_index(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {})
        mapper = ShardMapper(service)
        mapper.parse({"a": 1}, "1")
        await indices.delete(["logs"])
        with pytest.raises(IndexNotFound):
            await mapper.publish([(0, {"a": 1}, "1")])
        assert not service.path.exists()
        await indices.stop()

    run(go())


def test_the_compiled_mapping_is_reused_until_the_mapping_changes(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
        service = await create_local(indices, "logs", {"mappings": {"properties": {"a": {"type": "long"}}}})
        assert service.mapping is service.mapping
        before = service.mapping
        await indices.put_mapping(["logs"], {"properties": {"b": {"type": "keyword"}}})
        assert service.mapping is not before
        assert sorted(service.mapping.fields) == ["a", "b"]
        await indices.stop()
        reopened = await open_indices(tmp_path)
        assert sorted(reopened.get("logs").mapping.fields) == ["a", "b"]
        await reopened.stop()

    run(go())
