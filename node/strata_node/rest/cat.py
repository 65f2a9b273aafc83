"""The `_cat` table: columns with aliases and descriptions, typed cells, and the common
parameters every cat API takes (Elasticsearch's Table, RestTable and AbstractCatAction).

- `h`: the columns to show, by name or alias (`*` wildcards match names); unknown names
  are dropped. Without `h`, the columns marked default.
- `s`: sort keys, by name or alias, each with an optional `:asc` or `:desc`.
- `v`: a header line; `help`: one `name | aliases | description` line per column.
- `format=json`: a list of objects keyed by the names asked for, every value a string
  (or null), as Elasticsearch renders them.
- `bytes` and `time`: the unit of byte-size and time cells (whole numbers); without them
  sizes and times are human-readable (`1.5kb`, `250ms`).

Text columns are separated by one space and padded to the widest cell; columns marked
right-aligned (numbers and sizes) pad on the left; the last column is not padded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cmp_to_key
from typing import Any

from ..common.errors import IllegalArgument, StrataError
from ..common.patterns import simple_match
from ..common.units import human_bytes, human_millis
from .controller import RestResponse
from .request import RestRequest

CAT_PARAMS = ("format", "h", "help", "s", "v")
TEXT = "text/plain; charset=UTF-8"
_BYTES_PARAM = {
    "b": 1,
    "k": 1 << 10,
    "kb": 1 << 10,
    "m": 1 << 20,
    "mb": 1 << 20,
    "g": 1 << 30,
    "gb": 1 << 30,
    "t": 1 << 40,
    "tb": 1 << 40,
    "p": 1 << 50,
    "pb": 1 << 50,
}
_TIME_PARAM = {
    "nanos": 1e-6,
    "micros": 1e-3,
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
}


class UnknownSortKey(StrataError):
    type = "unsupported_operation_exception"
    status = 400


@dataclass(frozen=True)
class Column:
    name: str
    aliases: tuple[str, ...] = ()
    desc: str = "not available"
    default: bool = True
    right: bool = False  # text-align:right


def col(
    name: str, aliases: str = "", desc: str = "not available", *, default: bool = True, right: bool = False
) -> Column:
    return Column(name, tuple(a for a in aliases.split(",") if a), desc, default, right)


@dataclass(frozen=True, order=True)
class ByteSize:
    bytes: int


@dataclass(frozen=True, order=True)
class Millis:
    millis: float


def render_value(value: Any, request: RestRequest) -> str | None:
    if value is None:
        return None
    if isinstance(value, ByteSize):
        unit = request.param("bytes")
        if unit is None:
            return human_bytes(value.bytes)
        return str(value.bytes // _BYTES_PARAM[unit])
    if isinstance(value, Millis):
        unit = request.param("time")
        if unit is None:
            return human_millis(value.millis)
        return str(int(value.millis // _TIME_PARAM[unit]))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_units(request: RestRequest) -> None:
    unit = request.param("bytes")
    if unit is not None and unit not in _BYTES_PARAM:
        raise IllegalArgument(
            f"failed to parse setting [bytes] with value [{unit}] as a size in bytes: "
            "unit is missing or unrecognized"
        )
    time = request.param("time")
    if time is not None and time not in _TIME_PARAM:
        raise IllegalArgument(
            f"failed to parse setting [time] with value [{time}] as a time value: "
            "unit is missing or unrecognized"
        )


class CatTable:
    def __init__(self, columns: Sequence[Column]):
        self.columns = list(columns)
        self.by_name = {c.name: c for c in self.columns}
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def add_all(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows.extend(rows)

    # -- choosing columns -----------------------------------------------------------------

    def _lookup(self, name: str) -> Column | None:
        column = self.by_name.get(name)
        if column is not None:
            return column
        for c in self.columns:
            if name in c.aliases:
                return c
        return None

    def display(self, request: RestRequest, *, with_timestamps: bool = True) -> list[tuple[Column, str]]:
        """(column, name to show) for each column asked for (RestTable.buildDisplayHeaders)."""
        wanted = request.list_param("h")
        out: list[tuple[Column, str]] = []
        if not wanted:
            out = [(c, c.name) for c in self.columns if c.default]
        else:
            for h in wanted:
                h = h.strip()
                if "*" in h:
                    out.extend((c, c.name) for c in self.columns if simple_match(h, c.name))
                    continue
                column = self._lookup(h)
                if column is not None:
                    out.append((column, h))
        if not with_timestamps:
            out = [(c, n) for c, n in out if c.name not in ("epoch", "timestamp")]
        return out

    # -- sorting --------------------------------------------------------------------------

    def sorted_rows(self, request: RestRequest) -> list[dict[str, Any]]:
        keys = request.list_param("s")
        if not keys:
            return self.rows
        order: list[tuple[str, bool]] = []
        for key in keys:
            name, _, direction = key.strip().partition(":")
            column = self._lookup(name)
            if column is None:
                raise UnknownSortKey(f"Unable to sort by unknown sort key `{name}`")
            order.append((column.name, direction == "desc"))

        def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
            for name, reverse in order:
                x, y = a.get(name), b.get(name)
                if x is None and y is None:
                    continue
                if x is None or y is None:  # empty cells last, whichever the direction
                    return 1 if x is None else -1
                try:
                    result = (x > y) - (x < y)
                except TypeError:
                    result = (str(x) > str(y)) - (str(x) < str(y))
                if result:
                    return -result if reverse else result
            return 0

        return sorted(self.rows, key=cmp_to_key(compare))

    # -- rendering ------------------------------------------------------------------------

    def help_text(self) -> str:
        rows = [(c.name, ",".join(c.aliases), c.desc) for c in self.columns]
        widths = [max((len(r[i]) for r in rows), default=0) for i in range(3)]
        return "".join(
            f"{r[0].ljust(widths[0])} | {r[1].ljust(widths[1])} | {r[2].ljust(widths[2])}\n" for r in rows
        )

    def response(self, request: RestRequest, *, with_timestamps: bool = True) -> RestResponse:
        _check_units(request)
        if request.bool_param("help"):
            return RestResponse(200, self.help_text(), content_type=TEXT)
        display = self.display(request, with_timestamps=with_timestamps)
        rows = self.sorted_rows(request)
        rendered = [[render_value(row.get(c.name), request) for c, _ in display] for row in rows]
        if (request.param("format") or "").lower() == "json":
            return RestResponse(200, [dict(zip((n for _, n in display), r, strict=True)) for r in rendered])
        return RestResponse(200, self.text(display, rendered, request.bool_param("v")), content_type=TEXT)

    @staticmethod
    def text(display: list[tuple[Column, str]], rendered: list[list[str | None]], verbose: bool) -> str:
        lines: list[list[str]] = ([[n for _, n in display]] if verbose else []) + [
            [v if v is not None else "" for v in r] for r in rendered
        ]
        if not lines or not display:
            return ""
        widths = [max(len(line[i]) for line in lines) for i in range(len(display))]
        last = len(display) - 1
        out = []
        for line in lines:
            cells = []
            for i, (value, width) in enumerate(zip(line, widths, strict=True)):
                if display[i][0].right:
                    cells.append(value.rjust(width))
                else:
                    cells.append(value if i == last else value.ljust(width))
            out.append(" ".join(cells) + "\n")
        return "".join(out)
