"""What every aggregation shares: the Aggregator contract, reading an aggregation's body
as Elasticsearch's ObjectParser reads it, and handing a bucket's documents to its
sub-aggregations.

An Aggregator is the parsed request (AggregationBuilder and factory in one). It never
holds per-request state, so one parsed tree serves every shard:

    collect(ctx, matches) -> partial     one shard; plain data (msgpack-able)
    empty()               -> partial     what a shard with no documents returns
    reduce(partials)      -> reduced     across shards; plain data
    render(reduced)       -> dict        the response body of this aggregation

Reduce must accept its own output among its inputs (a reduced value is also a valid
partial), so partial reductions are possible later.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, NumberFormatError, StrataError, XContentParseError
from ...common.suggest import did_you_mean
from ..matches import Matches


class TooManyBuckets(StrataError):
    """MultiBucketConsumerService's limit (search.max_buckets) on one response."""

    type = "too_many_buckets_exception"
    status = 400

    def __init__(self, count: int, limit: int):
        super().__init__(f"Trying to create too many buckets. Must be less than or equal to: [{limit}] but "
                         f"was [{count}]. This limit can be set by changing the [search.max_buckets] cluster "
                         "level setting.", max_buckets=limit)


MAX_BUCKETS = 65_536


class AggregationExecutionError(StrataError):
    """AggregationExecutionException: ES gives it no status of its own, hence 500."""

    type = "aggregation_execution_exception"
    status = 500


class AggregationInitializationError(StrataError):
    """An aggregation tree ES cannot build (a metric with sub-aggregations)."""

    type = "aggregation_initialization_exception"
    status = 400


def check_bucket_count(count: int) -> None:
    if count > MAX_BUCKETS:
        raise TooManyBuckets(count, MAX_BUCKETS)


class Params:
    """One aggregation's body, read field by field. Unknown fields are refused with
    `[type] unknown field [x]` (and a suggestion), values of the wrong kind with
    `[type] failed to parse field [x]`, as ObjectParser refuses them."""

    def __init__(self, agg_type: str, body: dict[str, Any], known: tuple[str, ...]):
        self.agg_type = agg_type
        self.body = body
        for key in body:
            if key not in known:
                raise XContentParseError(f"[{agg_type}] unknown field [{key}]{did_you_mean(key, known)}")

    def has(self, name: str) -> bool:
        return name in self.body

    def get(self, name: str, default: Any = None) -> Any:
        return self.body.get(name, default)

    def fail(self, name: str, cause: BaseException | None = None) -> XContentParseError:
        return XContentParseError(f"[{self.agg_type}] failed to parse field [{name}]", caused_by=cause)

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self.body.get(name, default)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            return str(value).lower() if isinstance(value, bool) else str(value)
        raise self.fail(name)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.body.get(name, default)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise self.fail(name, NumberFormatError(f'For input string: "{value}"')) from None
        raise self.fail(name)

    def number(self, name: str, default: float | None = None) -> float | None:
        value = self.body.get(name, default)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise self.fail(name, NumberFormatError(f'For input string: "{value}"')) from None
        raise self.fail(name)

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        value = self.body.get(name, default)
        if value is None or isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise self.fail(name, IllegalArgument(
            f"Failed to parse value [{value}] as only [true] or [false] are allowed."))

    def bucket_sizes(self, agg_name: str, default_size: int, shard_size_label: str = "shard_size"
                     ) -> tuple[int, int]:
        """`size` and `shard_size`, each at least 1; shard_size defaults to
        BucketUtils.suggestShardSideQueueSize (size * 1.5 + 10) and is never below size.
        `shard_size_label` is how ES's refusal names it (the geo grids say shardSize)."""
        size = self.integer("size", default_size)
        if size < 1:
            raise IllegalArgument(f"[size] must be greater than 0. Found [{size}] in [{agg_name}]")
        shard_size = self.integer("shard_size")
        if shard_size is not None and shard_size < 1:
            raise IllegalArgument(f"[{shard_size_label}] must be greater than 0. Found [{shard_size}] in "
                                  f"[{agg_name}]")
        return size, max(shard_size or int(size * 1.5 + 10), size)

    def field(self) -> str:
        """The `field` every values-source aggregation needs (scripts are not supported)."""
        if "script" in self.body:
            raise IllegalArgument(f"[{self.agg_type}] scripts are not supported by Strata")
        field = self.string("field")
        if field is None:
            raise IllegalArgument("Required one of fields [field, script], but none were specified. ")
        return field


class Aggregator:
    """One aggregation of the request: its name, its own parameters and its
    sub-aggregations (an Aggregations, possibly empty)."""

    type_name = ""
    accepts_subs = True
    # The field kinds it reads (values.kind_of): () for none, None for any. Nodes info
    # lists them per aggregation.
    kinds: tuple[str, ...] | None = ()

    def __init__(self, name: str, subs, meta: dict[str, Any] | None):
        self.name = name
        self.subs = subs
        self.meta = meta
        if subs and not self.accepts_subs:
            raise AggregationInitializationError(
                f"Aggregator [{name}] of type [{self.type_name}] cannot accept sub-aggregations")

    @property
    def needs_scores(self) -> bool:
        return bool(self.subs) and self.subs.needs_scores

    def collect(self, ctx, matches: Matches) -> Any:
        raise NotImplementedError

    def empty(self) -> Any:
        raise NotImplementedError

    def reduce(self, partials: list[Any]) -> Any:
        raise NotImplementedError

    def render(self, reduced: Any, typed_keys: bool = False) -> dict[str, Any]:
        raise NotImplementedError

    def typed_name(self, reduced: Any) -> str:
        """The `type#` prefix of `typed_keys=true` responses."""
        return self.type_name

    def sort_value(self, reduced: Any, path: list[str]) -> float:
        """The value a terms aggregation orders its buckets by when its `order` names
        this aggregation (`agg`, `agg.stat`, `agg>sub`)."""
        raise IllegalArgument("Buckets can only be sorted on a sub-aggregator path that is built out of "
                              "zero or more single-bucket aggregations within the path and a final "
                              f"single-bucket or a metrics aggregation at the path end. [{self.name}] is not "
                              "single-bucket.")

    def check_order_path(self, path: list[str]) -> None:
        """Refuse at parse time an `order` path this aggregation cannot answer."""
        self.sort_value(self.reduce([self.empty()]), path)


# -- distinct values without np.unique ----------------------------------------------------------
# numpy 2's np.unique hashes, which for a million int64 costs ten times a sort and a diff.


def sorted_unique(values: np.ndarray, presorted: bool = False) -> np.ndarray:
    """The distinct values, ascending."""
    if len(values) < 2:
        return values.copy()
    ordered = values if presorted else np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values ascending, each value's index among them)."""
    distinct = sorted_unique(values)
    return distinct, np.searchsorted(distinct, values).astype(np.int64)


def unique_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values ascending, how often each occurs)."""
    if not len(values):
        return values, np.empty(0, dtype=np.int64)
    ordered = np.sort(values)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[starts], np.diff(np.append(starts, len(ordered)))


# -- handing buckets' documents to sub-aggregations ---------------------------------------------


def unique_pairs(seqs: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(seq, bucket) pairs with repeats removed, so a document with two values in one
    bucket counts once there (as ES collects a document once per bucket), sorted by seq."""
    if len(seqs) < 2:
        return seqs, ids
    if np.all(seqs[1:] > seqs[:-1]):
        return seqs, ids
    order = np.lexsort((ids, seqs))
    seqs, ids = seqs[order], ids[order]
    keep = np.empty(len(seqs), dtype=bool)
    keep[0] = True
    keep[1:] = (seqs[1:] != seqs[:-1]) | (ids[1:] != ids[:-1])
    return seqs[keep], ids[keep]


def subset(matches: Matches, seqs: np.ndarray) -> Matches:
    """The matches restricted to `seqs` (sorted, unique, all of them matched), scores kept."""
    if matches.scores is None:
        return Matches(seqs, None)
    return Matches(seqs, matches.scores[np.searchsorted(matches.seqs, seqs)])


class BucketDocs:
    """Each bucket's documents, from (seq, bucket id) pairs. For a handful of buckets a
    comparison per bucket is cheapest; for more, one stable sort by bucket id (a radix
    sort when ids fit 16 bits) makes a bucket's seqs a slice, so handing them to
    sub-aggregations costs a binary search per bucket however many buckets there are."""

    _MASK_BUCKETS = 8

    def __init__(self, matches: Matches, seqs: np.ndarray, ids: np.ndarray, wanted: int | None = None):
        self.matches = matches
        self.sorted_within = bool(len(seqs) < 2 or np.all(seqs[1:] >= seqs[:-1]))
        if wanted is not None and wanted <= self._MASK_BUCKETS:
            self.ids, self.seqs, self.grouped = ids, seqs, False
            return
        self.grouped = True
        keys = ids
        if len(ids):
            low = int(ids.min())
            top = int(ids.max()) - low
            if top < 1 << 32:
                keys = (ids - low).astype(np.uint16 if top < 1 << 16 else np.uint32)
        order = np.argsort(keys, kind="stable")
        self.ids = ids[order]
        self.seqs = seqs[order]

    def docs(self, bucket: int) -> Matches:
        if self.grouped:
            lo = np.searchsorted(self.ids, bucket, side="left")
            hi = np.searchsorted(self.ids, bucket, side="right")
            seqs = self.seqs[lo:hi]
        else:
            seqs = self.seqs[self.ids == bucket]
        if not self.sorted_within:
            seqs = np.sort(seqs)
        return subset(self.matches, seqs)


def collect_subs(agg: Aggregator, ctx, docs: Matches) -> dict[str, Any]:
    """The sub-aggregations' partials for one bucket ({} without sub-aggregations); a
    cancelled search stops between buckets."""
    if not agg.subs:
        return {}
    ctx.check_cancelled()
    return agg.subs.collect(ctx, docs)


def reduce_subs(agg: Aggregator, partials: list[dict[str, Any]]) -> dict[str, Any]:
    if not agg.subs:
        return {}
    return agg.subs.reduce(partials)


def empty_subs(agg: Aggregator) -> dict[str, Any]:
    if not agg.subs:
        return {}
    return agg.subs.empty()


def render_subs(agg: Aggregator, reduced: dict[str, Any], out: dict[str, Any],
                typed_keys: bool) -> dict[str, Any]:
    """The bucket's sub-aggregations, and the results pipelines added to it (a bucket may
    hold only those: a derivative of `_count`)."""
    if agg.subs or agg.subs.pipelines:
        out.update(agg.subs.render(reduced, typed_keys=typed_keys))
    return out


class SingleBucket(Aggregator):
    """A doc count and the sub-aggregations of one bucket (InternalSingleBucketAggregation):
    filter's (filters.py), and missing's and global's (single_bucket.py). A terms `order`
    path reaches through it: `agg` or `agg>_count` is the doc count, `agg>metric` reaches in."""

    def bucket(self, ctx, docs: Matches) -> dict[str, Any]:
        return {"doc_count": len(docs), "subs": collect_subs(self, ctx, docs)}

    def empty(self) -> dict[str, Any]:
        return {"doc_count": 0, "subs": empty_subs(self)}

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        return {"doc_count": sum(p["doc_count"] for p in partials),
                "subs": reduce_subs(self, [p["subs"] for p in partials])}

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        return render_subs(self, reduced["subs"], {"doc_count": reduced["doc_count"]}, typed_keys)

    def sort_value(self, reduced: dict[str, Any], path: list[str]) -> float:
        if not path or path == ["_count"] or path == ["doc_count"]:
            return float(reduced["doc_count"])
        sub = self.subs.get(path[0]) if self.subs else None
        if sub is None:
            raise IllegalArgument(f"No aggregation found for path [{'>'.join(path)}]")
        return sub.sort_value(reduced["subs"][path[0]], path[1:])

    def check_order_path(self, path: list[str]) -> None:
        if not path or path in (["_count"], ["doc_count"]):
            return
        sub = self.subs.get(path[0]) if self.subs else None
        if sub is None:
            raise IllegalArgument(f"No aggregation found for path [{'>'.join(path)}]")
        sub.check_order_path(path[1:])
