"""Index name rules, as Elasticsearch's MetadataCreateIndexService enforces them."""

from __future__ import annotations

from ..common.errors import InvalidIndexName

INVALID_CHARS = ("\\", "/", "*", "?", '"', "<", ">", "|", " ", ",")
MAX_NAME_BYTES = 255


def validate_index_name(name: str) -> None:
    if not name:
        raise InvalidIndexName(name, "must not be empty")
    if name != name.lower():
        raise InvalidIndexName(name, "must be lowercase")
    if any(c in name for c in INVALID_CHARS):
        raise InvalidIndexName(name, "must not contain the following characters "
                                     "[' ','\"','*',',','/','<','>','?','\\','|']")
    if "#" in name:
        raise InvalidIndexName(name, "must not contain '#'")
    if ":" in name:
        raise InvalidIndexName(name, "must not contain ':'")
    if name[0] in "_-+":
        raise InvalidIndexName(name, "must not start with '_', '-', or '+'")
    if name in (".", ".."):
        raise InvalidIndexName(name, "must not be '.' or '..'")
    size = len(name.encode())
    if size > MAX_NAME_BYTES:
        raise InvalidIndexName(name, f"index name is too long, ({size} > {MAX_NAME_BYTES})")
