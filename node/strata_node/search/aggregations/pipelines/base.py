"""What every pipeline aggregation shares: its place in the request, the pieces of body
parsing the builders have in common, and the results they add (InternalSimpleValue and
friends), with how those render and answer a path.

A pipeline never collects on a shard. After the final reduce the coordinator hands it the
reduced values: a sibling pipeline reads the aggregations beside it and adds one result
(`compute`); a parent pipeline rewrites the buckets of the multi-bucket aggregation it sits
in (`rewrite`). Results are plain dicts, kept in the reduced tree under the pipeline's name.
"""

from __future__ import annotations

import math
from typing import Any

from ....common.errors import IllegalArgument, IllegalState, ParsingError, StrataError
from ....common.xcontent import scalar_text, token_name
from ..formats import decimal_format, format_value
from .paths import GAP_POLICIES, java_list


class ArrayIndexOutOfBounds(StrataError):
    """An empty `buckets_path` array: ES takes its first element regardless (500)."""

    type = "array_index_out_of_bounds_exception"
    status = 500

    def __init__(self):
        super().__init__("Index 0 out of bounds for length 0")


class Pipeline:
    type_name = ""
    result_type = ""  # the typed_keys prefix of its results
    sibling = True

    def __init__(self, name: str, meta: dict[str, Any] | None, body: dict[str, Any]):
        self.name = name
        self.meta = meta
        self.buckets_paths: list[str] = []
        self.format: str | None = None
        self.parse(body)
        # built once: every bucket's result prints with it
        self.fmt: list | None = decimal_format(self.format) if self.format is not None else None

    def parse(self, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def validate(self, level, parent, errors: list[str]) -> None:
        """PipelineAggregationBuilder.validate: `level` holds the pipeline's siblings, `parent`
        is the aggregation whose `aggs` it is in (None at the top)."""

    # sibling pipelines
    def compute(self, level, values: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    # parent pipelines
    def rewrite(self, agg, reduced: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def typed_name(self, result: dict[str, Any]) -> str:
        return self.result_type

    def render(self, result: dict[str, Any]) -> dict[str, Any]:
        return value_body(result["value"], self.fmt)

    def property(self, result: dict[str, Any], path: list[str]) -> Any:
        """getProperty of the result: a single value unless a subclass says otherwise."""
        if not path or path == ["value"]:
            return result["value"]
        raise IllegalArgument(f"path not supported for [{self.name}]: {java_list(path)}")


def value_body(value: float, fmt: list | None, key: str = "value") -> dict[str, Any]:
    """InternalSimpleValue: null for NaN and infinities, `*_as_string` with a format."""
    if not math.isfinite(value):
        return {key: None}
    out: dict[str, Any] = {key: value}
    if fmt is not None:
        out[f"{key}_as_string"] = format_value(fmt, value)
    return out


def parse_gap_policy(text: str) -> str:
    if text not in GAP_POLICIES:
        raise ParsingError(f"Invalid gap policy: [{text}], accepted values: {java_list(list(GAP_POLICIES))}")
    return text


def path_texts(items: list[Any]) -> list[str]:
    """The elements of a `buckets_path` array, read with parser.text()."""
    out = []
    for item in items:
        if item is None or isinstance(item, dict | list):
            raise IllegalState(f"Can't get text on a {token_name(item)}")
        out.append(scalar_text(item))
    if not out:
        raise ArrayIndexOutOfBounds()
    return out


def parent_check(type_name: str, name: str, parent, errors: list[str], without_gaps: bool) -> None:
    """validateParentAggSequentiallyOrdered(WithoutSkips): a histogram or date_histogram
    parent, with min_doc_count 0 when gaps matter."""
    if parent is None:
        errors.append(f"{type_name} aggregation [{name}] must have a histogram, date_histogram or "
                      "auto_date_histogram as parent but doesn't have a parent")
    elif parent.type_name not in ("histogram", "date_histogram"):
        errors.append(f"{type_name} aggregation [{name}] must have a histogram, date_histogram or "
                      "auto_date_histogram as parent")
    elif without_gaps and parent.min_doc_count != 0:
        errors.append(f"parent histogram of {type_name} aggregation [{name}] must have min_doc_count of 0")
