"""The `_mget` body, read as Elasticsearch's MultiGetRequest parser reads it.

`docs` and `ids` arrays are the only top-level keys. Each doc may name `_index`, `_id`,
`routing`, `stored_fields`, `version`, `version_type` and `_source`; any other field
holding a value fails the whole request (Elasticsearch 8 dropped the underscore forms
`_routing` and `_version`, so those fail too), and `fields` is refused with a pointer to
`stored_fields`. Whatever is refused here is refused before anything is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..action.update import as_long
from ..common.errors import IllegalArgument, ParseError, ParsingError
from ..common.xcontent import loads, scalar_text, token_name
from .write_params import parse_version_type

# (fetch, includes, excludes): a FetchSourceContext
Fetch = tuple[bool, list[str], list[str]]


@dataclass
class MultiGetItem:
    index: str | None
    id: str | None
    routing: str | None = None
    stored_fields: list[str] | None = None
    version: int | None = None  # None: any version
    version_type: str = "internal"
    fetch: Fetch | None = None  # None: the request's default


def _is_value(value: Any) -> bool:
    """XContentParser.Token.isValue(): a string, number or boolean; null is not one."""
    return value is not None and not isinstance(value, dict | list)


def parse_mget_body(body: bytes, default_index: str | None, default_routing: str | None,
                    default_stored_fields: list[str] | None) -> list[MultiGetItem]:
    if not body.strip():
        raise ParseError("request body or source parameter is required")
    value = loads(body)
    if not isinstance(value, dict):
        raise ParsingError(f"unexpected token [{token_name(value)}], expected [START_OBJECT]")
    items: list[MultiGetItem] = []
    for key, entries in value.items():
        if not isinstance(entries, list):
            raise ParsingError(f"unexpected token [{token_name(entries)}], expected [FIELD_NAME] or "
                               "[START_ARRAY]")
        if key == "docs":
            items += [_parse_doc(d, default_index, default_routing, default_stored_fields) for d in entries]
        elif key == "ids":
            for id in entries:
                if not _is_value(id):
                    raise IllegalArgument("ids array element should only contain ids")
                items.append(MultiGetItem(default_index, scalar_text(id), default_routing,
                                          default_stored_fields))
        else:
            raise ParsingError(f"unknown key [{key}] for a START_ARRAY, expected [docs] or [ids]")
    return items


def _parse_doc(doc: Any, default_index: str | None, default_routing: str | None,
               default_stored_fields: list[str] | None) -> MultiGetItem:
    if not isinstance(doc, dict):
        raise IllegalArgument("docs array element should include an object")
    item = MultiGetItem(default_index, None, default_routing, default_stored_fields)
    for key, value in doc.items():
        if value is None:
            continue  # Elasticsearch's parser passes over null values
        if key == "fields":
            raise ParsingError("Unsupported field [fields] used, expected [stored_fields] instead")
        if key == "_source":
            item.fetch = _parse_source(value)
        elif key == "stored_fields":
            item.stored_fields = [scalar_text(v) for v in value] if isinstance(value, list) \
                else [scalar_text(value)]
        elif isinstance(value, list):
            continue  # arrays under other names are skipped, as Elasticsearch skips them
        elif not _is_value(value):
            raise ParseError(f"failed to parse multi get request. unknown field [{key}]")
        elif key == "_index":
            item.index = scalar_text(value)
        elif key == "_id":
            item.id = scalar_text(value)
        elif key == "routing":
            item.routing = scalar_text(value)
        elif key == "version":
            item.version = as_long(value)
        elif key == "version_type":
            item.version_type = parse_version_type(scalar_text(value))
        else:
            raise ParseError(f"failed to parse multi get request. unknown field [{key}]")
    return item


def _parse_source(value: Any) -> Fetch:
    """A doc's `_source`: a boolean, one include, a list of includes, or an object of
    `includes`/`excludes` (singular forms accepted)."""
    if isinstance(value, bool) or value in ("true", "false"):
        return value in (True, "true"), [], []
    if isinstance(value, str):
        return True, [value], []
    if isinstance(value, list):
        return True, [scalar_text(v) for v in value], []
    if isinstance(value, dict):
        lists: dict[str, list[str]] = {"includes": [], "excludes": []}
        for key, entries in value.items():
            name = {"include": "includes", "includes": "includes",
                    "exclude": "excludes", "excludes": "excludes"}.get(key)
            if name is None:
                raise ParseError(f"source definition may not contain [{key}]")
            if isinstance(entries, list):
                lists[name] += [scalar_text(v) for v in entries]
            elif _is_value(entries):
                lists[name].append(scalar_text(entries))
            else:
                raise ParseError("unexpected token while parsing source settings")
        return True, lists["includes"], lists["excludes"]
    raise ParseError(f"illegal type for _source: [{token_name(value)}]")
