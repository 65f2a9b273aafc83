"""Index metadata: what an index is, apart from its data.

Settings are kept flat and as strings, the way Elasticsearch stores them, and parsed on
use through the typed registry in settings.py. Mappings are kept in their normalized
form (what GET _mapping shows), compiled by index/service.py once per version. The master
owns it: it lives in the cluster state's metadata, and every node holding a shard of the
index keeps a copy under the index's folder (`_state/index.json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from .. import ES_COMPAT_VERSION
from ..common.patterns import simple_match_any
from ..settings import index_setting
from . import routing

# Elasticsearch's version id for the version Strata reports (major*1000000 + minor*10000 + patch*100 + 99).
_MAJOR, _MINOR, _PATCH = (int(p) for p in ES_COMPAT_VERSION.split("."))
VERIFIED_BEFORE_CLOSE = "index.verified_before_close"
VERSION_CREATED = str(_MAJOR * 1_000_000 + _MINOR * 10_000 + _PATCH * 100 + 99)


def setting_string(value: Any) -> str | list[str]:
    """A setting as Elasticsearch stores it: a string, or a list of strings (analysis
    filter chains, for one)."""
    if isinstance(value, list | tuple):
        return [setting_string(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class IndexMetadata:
    name: str
    uuid: str
    settings: Mapping[str, str | list[str]]  # flat, `index.`-prefixed, strings (or lists of them)
    mappings: Mapping[str, Any] = field(default_factory=dict)
    aliases: Mapping[str, Any] = field(default_factory=dict)
    primary_terms: tuple[int, ...] = ()
    state: str = "open"  # or "close" (Elasticsearch's IndexMetadata.State names)
    version: int = 1
    mapping_version: int = 1
    settings_version: int = 1
    aliases_version: int = 1
    # shard number (a string: cluster state maps are keyed by strings) -> the allocation
    # ids of the copies known to hold every acknowledged write
    in_sync_allocation_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # A restored index: the snapshot its primaries copy their stores from (repository,
    # snapshot, snapshot_uuid, index, index_id, restore_uuid; `empty_shards`, the shards a
    # partial restore starts empty because the snapshot failed them). A primary restores
    # only while its shard has no in-sync copy, as ES's SNAPSHOT recovery source does.
    restore_source: Mapping[str, Any] | None = None

    def restores(self, shard: int) -> bool:
        return (self.restore_source is not None and not self.in_sync(shard)
                and shard not in self.restore_source.get("empty_shards", ()))

    def starting_empty(self, shard: int) -> IndexMetadata:
        """The shard starts empty (allocate_empty_primary), whatever a restore would have
        copied into it."""
        if self.restore_source is None or shard in self.restore_source.get("empty_shards", ()):
            return self
        empty = sorted({*self.restore_source.get("empty_shards", ()), shard})
        return replace(self, restore_source={**self.restore_source, "empty_shards": empty},
                       version=self.version + 1)

    def setting(self, key: str) -> Any:
        # Metadata is immutable, so each setting is parsed once per metadata value; the
        # write path asks for several settings per document.
        cache = self.__dict__.setdefault("_parsed", {})
        if key not in cache:
            cache[key] = index_setting(self.settings, key)
        return cache[key]

    @property
    def number_of_shards(self) -> int:
        return self.setting("index.number_of_shards")

    @property
    def number_of_replicas(self) -> int:
        return self.setting("index.number_of_replicas")

    @property
    def number_of_routing_shards(self) -> int:
        value = self.setting("index.number_of_routing_shards")
        return value if value is not None else routing.default_number_of_routing_shards(self.number_of_shards)

    def shard_for(self, id: str, routing_value: str | None) -> int:
        if self.number_of_shards == 1 and self.setting("index.routing_partition_size") == 1:
            return 0  # the hash cannot change the answer
        return routing.shard_id(id, routing_value, self.number_of_shards, self.number_of_routing_shards,
                                self.setting("index.routing_partition_size"))

    def with_mappings(self, mappings: Mapping[str, Any]) -> IndexMetadata:
        """A new version with these mappings (normalized, as GET _mapping shows them)."""
        return replace(self, mappings=mappings, version=self.version + 1,
                       mapping_version=self.mapping_version + 1)

    def with_settings(self, settings: Mapping[str, str | list[str]]) -> IndexMetadata:
        return replace(self, settings=dict(settings), version=self.version + 1,
                       settings_version=self.settings_version + 1)

    def with_aliases(self, aliases: Mapping[str, Any]) -> IndexMetadata:
        """A new version with these aliases (name -> normalized definition); the aliases
        version moves only when they changed, as Elasticsearch bumps it."""
        if dict(aliases) == dict(self.aliases):
            return self
        return replace(self, aliases=dict(sorted(aliases.items())), version=self.version + 1,
                       aliases_version=self.aliases_version + 1)

    @property
    def closed(self) -> bool:
        return self.state == "close"

    def with_state(self, state: str) -> IndexMetadata:
        """Opened or closed: closing marks the index verified (`index.verified_before_close`,
        as ES does once every copy has flushed), opening drops the mark."""
        settings = {k: v for k, v in self.settings.items() if k != VERIFIED_BEFORE_CLOSE}
        if state == "close":
            settings[VERIFIED_BEFORE_CLOSE] = "true"
        return replace(self, state=state, settings=settings, version=self.version + 1,
                       settings_version=self.settings_version + 1)

    def with_in_sync(self, shard: int, allocation_ids: tuple[str, ...]) -> IndexMetadata:
        in_sync = {**self.in_sync_allocation_ids, str(shard): allocation_ids}
        return replace(self, in_sync_allocation_ids=in_sync, version=self.version + 1)

    def in_sync(self, shard: int) -> tuple[str, ...]:
        return tuple(self.in_sync_allocation_ids.get(str(shard), ()))

    def with_primary_term(self, shard: int, term: int) -> IndexMetadata:
        terms = list(self.primary_terms)
        terms[shard] = term
        return replace(self, primary_terms=tuple(terms), version=self.version + 1)

    def to_json(self) -> bytes:
        return orjson.dumps({"name": self.name, "uuid": self.uuid, "settings": dict(self.settings),
                             "mappings": self.mappings, "aliases": self.aliases,
                             "primary_terms": list(self.primary_terms), "state": self.state,
                             "version": self.version, "mapping_version": self.mapping_version,
                             "settings_version": self.settings_version,
                             "aliases_version": self.aliases_version,
                             "in_sync_allocation_ids": {k: list(v) for k, v in
                                                        self.in_sync_allocation_ids.items()},
                             "restore_source": self.restore_source})

    @classmethod
    def from_json(cls, data: bytes) -> IndexMetadata:
        raw = orjson.loads(data)
        return cls(raw["name"], raw["uuid"], raw["settings"], raw["mappings"], raw["aliases"],
                   tuple(raw["primary_terms"]), raw["state"], raw["version"], raw.get("mapping_version", 1),
                   raw.get("settings_version", 1), raw.get("aliases_version", 1),
                   {k: tuple(v) for k, v in raw.get("in_sync_allocation_ids", {}).items()},
                   raw.get("restore_source"))

    def settings_tree(self) -> dict[str, Any]:
        """Settings nested by dots, as the get-index and get-settings APIs show them."""
        return settings_tree(self.settings)

    def settings_matching(self, patterns: list[str]) -> dict[str, str]:
        """The settings whose flat names match any of the patterns (`*` wildcards, as
        Elasticsearch's Regex.simpleMatch), for `GET /{index}/_settings/{name}`."""
        return {k: v for k, v in self.settings.items() if simple_match_any(patterns, k)}


def settings_tree(settings: Mapping[str, str]) -> dict[str, Any]:
    """Flat settings nested by dots: {"index.number_of_shards": "1"} -> {"index": {...}}."""
    tree: dict[str, Any] = {}
    for key, value in sorted(settings.items()):
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree
