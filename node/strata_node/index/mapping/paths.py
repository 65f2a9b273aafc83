"""Field names with dots: `a.b` in a mapping or a document means field `b` of object `a`.
Elasticsearch splits them, refusing names that would make the split ambiguous."""

from __future__ import annotations

from ...common.errors import IllegalArgument


def split_path(name: str) -> list[str]:
    """The parts of a dotted name, checked as DocumentParser.splitAndValidatePath does."""
    if not name:
        raise IllegalArgument("field name cannot be an empty string")
    if "." not in name:
        if name.isspace():
            raise IllegalArgument(f"field name cannot contain only whitespace: ['{name}']")
        return [name]
    parts = name.split(".")
    if all(not p for p in parts):
        raise IllegalArgument("field name cannot contain only dots")
    for part in parts:
        if not part:
            raise IllegalArgument(f"field name starting or ending with a [.] makes object resolution "
                                  f"ambiguous: [{name}]")
        if part.isspace():
            raise IllegalArgument(f"field name cannot contain only whitespace: ['{name}']")
    return parts


def child_path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def parent_of(path: str) -> str:
    return path.rpartition(".")[0]
