"""Index blocks (Elasticsearch's IndexMetadata.INDEX_*_BLOCK): dynamic `index.blocks.*`
settings that refuse reads, writes or metadata changes of an index, checked by the
coordinating step of each action at the level it works at."""

from __future__ import annotations

from dataclasses import dataclass

from ..common.errors import StrataError
from ..index.metadata import IndexMetadata

READ, WRITE, METADATA_READ, METADATA_WRITE = "read", "write", "metadata_read", "metadata_write"


@dataclass(frozen=True)
class IndexBlock:
    setting: str
    id: int
    description: str
    status: str  # the RestStatus name, the first part of the block's rendering
    levels: frozenset[str]


BLOCKS = (
    IndexBlock("index.blocks.read_only", 5, "index read-only (api)", "FORBIDDEN",
               frozenset({WRITE, METADATA_WRITE})),
    IndexBlock("index.blocks.read", 7, "index read (api)", "FORBIDDEN", frozenset({READ})),
    IndexBlock("index.blocks.write", 8, "index write (api)", "FORBIDDEN", frozenset({WRITE})),
    IndexBlock("index.blocks.metadata", 9, "index metadata (api)", "FORBIDDEN",
               frozenset({METADATA_READ, METADATA_WRITE})),
    IndexBlock("index.blocks.read_only_allow_delete", 12,
               "disk usage exceeded flood-stage watermark, index has read-only-allow-delete block",
               "TOO_MANY_REQUESTS", frozenset({WRITE, METADATA_WRITE})),
)
# Not a setting: the block a closed index has (MetadataIndexStateService.INDEX_CLOSED_BLOCK).
INDEX_CLOSED = IndexBlock("", 4, "index closed", "FORBIDDEN", frozenset({READ, WRITE}))
STATUS_CODES = {"FORBIDDEN": 403, "TOO_MANY_REQUESTS": 429}


class IndexBlocked(StrataError):
    type = "cluster_block_exception"

    def __init__(self, index: str, blocks: list[IndexBlock]):
        rendered = ", ".join(f"{b.status}/{b.id}/{b.description}" for b in blocks)
        super().__init__(f"index [{index}] blocked by: [{rendered}];")
        # ES answers 429 only when every block in the way is a TOO_MANY_REQUESTS one.
        self.status = 429 if all(b.status == "TOO_MANY_REQUESTS" for b in blocks) else 403


LEVEL_ORDER = (READ, WRITE, METADATA_READ, METADATA_WRITE)  # ClusterBlockLevel's order


def active_blocks(metadata: IndexMetadata) -> list[IndexBlock]:
    """Every block the index has (the cluster state's `blocks.indices`): those its settings
    set, and the closed index's."""
    blocks = [INDEX_CLOSED] if metadata.closed else []
    blocks.extend(b for b in BLOCKS if metadata.setting(b.setting))
    return blocks


def render(block: IndexBlock) -> dict:
    return {"description": block.description, "retryable": False,
            "levels": [level for level in LEVEL_ORDER if level in block.levels]}


def blocks_of(metadata: IndexMetadata, level: str) -> list[IndexBlock]:
    return [b for b in active_blocks(metadata) if level in b.levels]


def check(metadata: IndexMetadata, level: str, *, deleting: bool = False) -> None:
    """Raise the error Elasticsearch gives when a block of the index covers `level`
    (deleting the index: everything but read_only_allow_delete, which exists to allow it)."""
    blocked = [b for b in blocks_of(metadata, level) if not (deleting and b.id == 12)]
    if blocked:
        raise IndexBlocked(metadata.name, blocked)


def lifts_blocks(settings: dict) -> bool:
    """A settings update that passes whatever metadata write blocks its indices have, or a
    block could never be lifted (TransportUpdateSettingsAction.checkBlock): one that sets
    or resets `read_only` or `read_only_allow_delete`, whatever else it holds, or one that
    holds `index.blocks.metadata` alone. Any other, lifting `write` or `read` included,
    is refused on a blocked index."""
    if "index.blocks.read_only" in settings or "index.blocks.read_only_allow_delete" in settings:
        return True
    return list(settings) == ["index.blocks.metadata"]
