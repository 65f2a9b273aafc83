"""Index name rules, as Elasticsearch's MetadataCreateIndexService enforces them, checked
in the same order so a name with several faults gets the same message."""

from __future__ import annotations

from ..common.errors import InvalidIndexName

INVALID_CHARS = ("\\", "/", "*", "?", '"', "<", ">", "|", " ", ",")
INVALID_CHARS_TEXT = "[" + ",".join(f"'{c}'" for c in INVALID_CHARS) + "]"
MAX_NAME_BYTES = 255


def validate_index_name(name: str) -> None:
    if any(c in name for c in INVALID_CHARS):
        raise InvalidIndexName(name, f"must not contain the following characters {INVALID_CHARS_TEXT}")
    if not name:
        raise InvalidIndexName(name, "must not be empty")
    if "#" in name:
        raise InvalidIndexName(name, "must not contain '#'")
    if ":" in name:
        raise InvalidIndexName(name, "must not contain ':'")
    if name[0] in "_-+":
        raise InvalidIndexName(name, "must not start with '_', '-', or '+'")
    size = len(name.encode())
    if size > MAX_NAME_BYTES:
        raise InvalidIndexName(name, f"index name is too long, ({size} > {MAX_NAME_BYTES})")
    if name in (".", ".."):
        raise InvalidIndexName(name, "must not be '.' or '..'")
    if name != name.lower():
        raise InvalidIndexName(name, "must be lowercase")
