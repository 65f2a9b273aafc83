"""Index name rules, as Elasticsearch's MetadataCreateIndexService enforces them, checked
in the same order so a name with several faults gets the same message."""

from __future__ import annotations

from collections.abc import Callable

from ..common.errors import InvalidIndexName

INVALID_CHARS = ("\\", "/", "*", "?", '"', "<", ">", "|", " ", ",")
INVALID_CHARS_TEXT = "[" + ",".join(f"'{c}'" for c in INVALID_CHARS) + "]"
MAX_NAME_BYTES = 255


def validate_index_or_alias_name(name: str, error: Callable[[str, str], Exception], kind: str) -> None:
    """The rules index and alias names share (ES's validateIndexOrAliasName), each fault
    raised as `error(name, why)`."""
    if any(c in name for c in INVALID_CHARS):
        raise error(name, f"must not contain the following characters {INVALID_CHARS_TEXT}")
    if "#" in name:
        raise error(name, "must not contain '#'")
    if ":" in name:
        raise error(name, "must not contain ':'")
    if name[0] in "_-+":
        raise error(name, "must not start with '_', '-', or '+'")
    size = len(name.encode())
    if size > MAX_NAME_BYTES:
        raise error(name, f"{kind} name is too long, ({size} > {MAX_NAME_BYTES})")
    if name in (".", ".."):
        raise error(name, "must not be '.' or '..'")


def validate_index_name(name: str) -> None:
    if not name:
        raise InvalidIndexName(name, "must not be empty")
    validate_index_or_alias_name(name, InvalidIndexName, "index")
    if name != name.lower():
        raise InvalidIndexName(name, "must be lowercase")
