"""A REST request as handlers see it: path and query parameters with typed accessors,
and the body. Parameters are declared per route, so an unknown one is refused before
any handler runs (nothing is half-applied)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..action.resolve import EXPAND_WILDCARDS
from ..common import xcontent
from ..common.errors import IllegalArgument, ParseError
from ..common.flags import parse_flag
from ..common.params import int_param, time_param


@dataclass
class RestRequest:
    method: str
    path: str
    params: dict[str, str]
    path_params: dict[str, str]
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def param(self, name: str, default: str | None = None) -> str | None:
        value = self.path_params.get(name)
        if value is None:
            value = self.params.get(name)
        return default if value is None else value

    def has_param(self, name: str) -> bool:
        return name in self.params or name in self.path_params

    def bool_param(self, name: str, default: bool = False) -> bool:
        return parse_flag(self.params.get(name), default)

    def int_param(self, name: str, default: int) -> int:
        value = int_param(self.params, name)
        return default if value is None else value

    def time_param(self, name: str, default: float) -> float:
        value = time_param(self.params, name)
        return default if value is None else value

    def expand_wildcards_param(self, default: str) -> str:
        """`expand_wildcards`: a comma list of open, closed, hidden, none and all; anything
        else is refused as IndicesOptions refuses it, before any index is resolved."""
        value = self.param("expand_wildcards", default)
        for part in value.split(","):
            if part.strip() not in EXPAND_WILDCARDS:
                raise IllegalArgument(f"No valid expand wildcard value [{part}]")
        return value

    def list_param(self, name: str) -> list[str]:
        value = self.param(name)
        return [v for v in value.split(",") if v] if value else []

    @property
    def error_trace(self) -> bool:
        """`error_trace`, read as the controller reads it for the top-level error, so
        per-item errors (bulk items, mget docs) follow the same switch."""
        return self.params.get("error_trace") in ("", "true")

    @property
    def has_body(self) -> bool:
        return bool(self.body.strip())

    def json_body(self, *, required: bool = False) -> dict[str, Any]:
        if not self.has_body:
            if required:
                raise ParseError("request body is required")
            return {}
        return xcontent.loads_object(self.body)


def metric_names(request: RestRequest, param: str, known, what: str = "metric") -> list[str] | None:
    """The names a metric path part lists, checked as ES's stats actions check them:
    None for every metric (none named, or `_all` alone); `_all` beside other names and
    names not in `known` are refused with the path in the message."""
    names = request.list_param(param)
    if not names or names == ["_all"]:
        return None
    if "_all" in names:
        raise IllegalArgument(f"request [{request.path}] contains _all and individual {what}s "
                              f"[{','.join(names)}]")
    unknown = [n for n in names if n not in known]
    if unknown:
        noun = what if len(unknown) == 1 else f"{what}s"
        raise IllegalArgument(f"request [{request.path}] contains unrecognized {noun}: "
                              f"[{', '.join(unknown)}]")
    return names


def source_from_params(request: RestRequest) -> Any:
    """`_source`, `_source_includes` and `_source_excludes` as one fetch-source value
    (None when the request has none of them)."""
    includes = request.list_param("_source_includes")
    excludes = request.list_param("_source_excludes")
    if includes or excludes:
        return {"includes": includes, "excludes": excludes}
    return request.param("_source")
