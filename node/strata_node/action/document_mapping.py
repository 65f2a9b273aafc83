"""The shard step's side of mappings: every document is parsed against the index's
mapping before it is written, and the fields it adds are made durable in the index
metadata before the write is acknowledged, as Elasticsearch sends a dynamic mapping
update through the master before the write proceeds.

A shard request parses its documents in order against its own copy of the mapping, so
the second document of a batch sees the fields the first one added (and fails if it
gives one of them a value of another type, as in Elasticsearch). Before the documents
are written the accumulated mapping is published once, under the index's metadata lock.
If another request published meanwhile (another shard of the same index), the pending
documents are parsed again against that mapping: a field both added with different
types fails the documents that lost the race, with the parse error they now get.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..common.errors import InternalError, MapperParsingError, StrataError
from ..index.mapping import Mapping, ParsedDocument
from ..index.mapping.limits import MappingLimits, check_limits
from ..index.service import IndexService


class ShardMapper:
    def __init__(self, service: IndexService):
        self.service = service
        self.base: Mapping = service.mapping  # the published mapping this request started from
        self.mapping: Mapping = self.base  # with the fields this request's documents added
        self.dirty = False
        self._limits: MappingLimits | None = None
        self._limits_of = None

    @staticmethod
    def load(source: bytes) -> dict[str, Any]:
        """A document's source, already checked to be one JSON object by the REST layer."""
        try:
            doc = orjson.loads(source)
        except orjson.JSONDecodeError as e:
            raise MapperParsingError(f"failed to parse: {e}") from None
        if not isinstance(doc, dict):
            raise MapperParsingError("Malformed content, must start with an object")
        return doc

    @property
    def limits(self) -> MappingLimits:
        """The index's mapping limits, read once per metadata version."""
        metadata = self.service.metadata
        if metadata is not self._limits_of:
            self._limits = MappingLimits.of(metadata.setting)
            self._limits_of = metadata
        return self._limits

    def parse(self, doc: dict[str, Any], doc_id: str) -> ParsedDocument:
        """Parse a document; raises the error its item fails with."""
        limits = self.limits
        parsed = self.mapping.parse_document(doc, doc_id, limits)
        if parsed.dynamic_update is not None:
            mapping = self.mapping.merge(parsed.dynamic_update)
            check_limits(mapping, limits)
            self.mapping = mapping
            self.dirty = True
        return parsed

    async def publish(self, pending: list[tuple[int, dict[str, Any], str]]
                      ) -> tuple[dict[int, StrataError], dict[int, ParsedDocument]]:
        """Make the mapping the pending documents `(key, document, id)` need durable.
        Returns the documents that no longer fit (when another request's update came
        first) and the parse results of those parsed again. Raises when the mapping
        cannot be published at all (the index was deleted, the disk failed)."""
        failures: dict[int, StrataError] = {}
        reparsed: dict[int, ParsedDocument] = {}
        if not self.dirty:
            return failures, reparsed
        async with self.service.metadata_lock:
            current = self.service.mapping
            if current is not self.base:
                limits = self.limits
                for key, doc, doc_id in pending:
                    try:
                        parsed = current.parse_document(doc, doc_id, limits)
                        if parsed.dynamic_update is not None:
                            merged = current.merge(parsed.dynamic_update)
                            check_limits(merged, limits)
                            current = merged
                    except StrataError as e:
                        failures[key] = e
                        continue
                    reparsed[key] = parsed
                self.mapping = current
            try:
                await self.service.publish_mapping(self.mapping)
            except OSError as e:  # the metadata file could not be written: nothing was published
                raise InternalError(f"failed to update the mapping of [{self.service.name}]: {e}",
                                    caused_by=e) from None
        self.base = self.mapping = self.service.mapping
        self.dirty = False
        return failures, reparsed
