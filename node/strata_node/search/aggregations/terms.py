"""The terms aggregation: a bucket per distinct value, the biggest first.

Per shard, values become integer ids (keyword ordinals cached per column, `value - min`
for integers spanning a small range, a sort otherwise), np.bincount counts them, and
the top `shard_size` buckets (default size * 1.5 + 10) go to the reduce with the count
of everything left out (`sum_other_doc_count`). The reduce sums counts per key, keeps
`size`, and works out `doc_count_error_upper_bound` as InternalTerms does: per shard,
the count of its last returned bucket when it may have left terms out, summed over
shards, and 0 when there is only one shard.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument, NumberFormatError
from ...index.mapping.numbers import UNSIGNED, UNSIGNED_SHIFT, parse_unsigned_long, text_of_scalar
from ..matches import Matches
from .base import (
    Aggregator,
    BucketDocs,
    Params,
    collect_subs,
    reduce_subs,
    render_subs,
    sorted_unique,
    unique_inverse,
    unique_pairs,
)
from .formats import format_value
from .order import COUNT, KEY, BucketOrder
from .values import matched, missing_value, ordinals, resolve, value_format, with_missing

_PARAMS = ("field", "size", "shard_size", "min_doc_count", "shard_min_doc_count", "order", "missing",
           "include",
           "exclude", "format", "execution_hint", "collect_mode", "show_term_doc_count_error", "script",
           "value_type")
_KINDS = ("long", "double", "date", "boolean", "keyword", "ip", UNSIGNED)
# An unsigned_long's terms are LongTerms keyed through UNSIGNED_LONG_SHIFTED (no ulterms).
_TYPED = {"keyword": "sterms", "ip": "sterms", "long": "lterms", "date": "lterms", "boolean": "lterms",
          UNSIGNED: "lterms", "double": "dterms", None: "sterms"}  # UnmappedTerms reports StringTerms' type
_SMALL_RANGE = 1 << 20  # integer values spanning less than this are counted with bincount


class IncludeExclude:
    """`include`/`exclude`: a regular expression over the whole term (strings only), or
    arrays of exact values. A term passes if it is included (or nothing is) and not
    excluded."""

    def __init__(self, include: Any, exclude: Any):
        self.include = self._read(include, "include")
        self.exclude = self._read(exclude, "exclude")

    @staticmethod
    def _read(value: Any, what: str):
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return re.compile(value)
            except (re.error, OverflowError, RecursionError) as e:
                raise IllegalArgument(f"Invalid regular expression [{value}] in [{what}]: {e}") from None
        if isinstance(value, list):
            if any(isinstance(v, dict | list) for v in value):
                raise IllegalArgument(f"Unrecognized token for an {what} [{value}]")
            return set(value)
        if isinstance(value, dict):
            raise IllegalArgument(f"[{what}] partitions are not supported by Strata")
        raise IllegalArgument(f"Unrecognized token for an {what} [{value}]")

    def __bool__(self) -> bool:
        return self.include is not None or self.exclude is not None

    def accepts(self, terms: np.ndarray, kind: str) -> np.ndarray:
        """A mask over `terms` (the distinct keys, as values of the field's kind)."""
        keep = np.ones(len(terms), dtype=bool)
        for rule, wanted in ((self.include, True), (self.exclude, False)):
            if rule is None:
                continue
            if isinstance(rule, re.Pattern):
                if kind not in ("keyword", "ip"):
                    raise IllegalArgument("Aggregation [terms] cannot support regular expression style "
                                          "include/exclude settings as they can only be applied to string "
                                          "fields. Use an array of numeric values for include/exclude "
                                          "clauses used to filter numeric fields")
                hit = np.fromiter((rule.fullmatch(t) is not None for t in terms), dtype=bool,
                                  count=len(terms))
            else:
                allowed = {_as_kind(v, kind) for v in rule}
                hit = np.fromiter((t in allowed for t in terms.tolist()), dtype=bool, count=len(terms))
            keep &= hit if wanted else ~hit
        return keep


def _as_kind(value: Any, kind: str) -> Any:
    if kind == UNSIGNED:  # UNSIGNED_LONG_SHIFTED.parseLong: Long.parseUnsignedLong, exactly
        text = text_of_scalar(value)
        try:
            return parse_unsigned_long(text) - UNSIGNED_SHIFT
        except ValueError:
            raise NumberFormatError(f'For input string: "{text}"') from None
    try:
        if kind in ("long", "date"):
            return int(float(value)) if isinstance(value, str) else int(value)
        if kind == "double":
            return float(value)
    except (TypeError, ValueError, OverflowError):  # Long.parseLong / Double.parseDouble of the value
        raise NumberFormatError(f'For input string: "{text_of_scalar(value)}"') from None
    if kind == "boolean":
        return 1 if value in (True, "true", 1) else 0
    return value if isinstance(value, str) else str(value)


class Terms(Aggregator):
    type_name = "terms"
    kinds = _KINDS

    def __init__(self, name: str, subs, meta, body: dict[str, Any]):
        super().__init__(name, subs, meta)
        p = Params(self.type_name, body, _PARAMS)
        self.field = p.field()
        self.size, self.shard_size = p.bucket_sizes(name, 10)
        self.min_doc_count = p.integer("min_doc_count", 1)
        if self.min_doc_count < 0:
            raise IllegalArgument(f"[min_doc_count] must be greater than or equal to 0. Found "
                                  f"[{self.min_doc_count}] in [{name}]")
        self.shard_min_doc_count = p.integer("shard_min_doc_count", 0)
        self.order = BucketOrder.parse(p.get("order"), [(COUNT, False), (KEY, True)])
        self.order.validate(name, self.subs)
        self.missing = p.get("missing")
        self.format = p.string("format")
        self.filter = IncludeExclude(p.get("include"), p.get("exclude"))
        self.show_error = p.boolean("show_term_doc_count_error", False)

    # -- one shard --------------------------------------------------------------------------

    def collect(self, ctx, matches: Matches) -> dict[str, Any]:
        vs = with_missing(resolve(ctx, self.field, self.type_name, self.kinds), self.missing)
        if not vs.mapped:
            return self.empty()
        fmt = value_format(vs, self.format)
        seqs, ids, terms = self._ids(ctx, vs, matches.seqs)
        if self.filter:
            keep = self.filter.accepts(terms, vs.kind)
            if not keep.all():
                keep_ids = keep[ids]
                seqs, ids = seqs[keep_ids], ids[keep_ids]
                remap = np.cumsum(keep) - 1
                ids, terms = remap[ids], terms[keep]
        seqs, ids = unique_pairs(seqs, ids)
        counts = np.bincount(ids, minlength=len(terms)) if len(ids) else np.zeros(len(terms), dtype=np.int64)
        floor = max(self.shard_min_doc_count, 1 if self.min_doc_count > 0 else 0)
        candidates = np.flatnonzero(counts >= floor) if floor else np.arange(len(terms))
        total = int(counts.sum())
        chosen, sub_partials = self._top(ctx, matches, candidates, counts, seqs, ids, terms)
        keys = _keys(terms[chosen], vs.kind)
        buckets = [[k, int(counts[b]), s] for k, b, s in zip(keys, chosen.tolist(), sub_partials,
                                                             strict=True)]
        returned = int(counts[chosen].sum()) if len(chosen) else 0
        return {"kind": vs.kind, "fmt": fmt, "buckets": buckets, "other": total - returned, "error": 0,
                "shard_size": self.shard_size, "mapped": vs.type_name is not None}

    def _ids(self, ctx, vs, seqs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(doc seqs, term ids, terms): a term id per matched value, and the distinct
        terms in key order (for min_doc_count 0, every term of the field on the shard)."""
        every = self.min_doc_count == 0
        if vs.kind in ("keyword", "ip") and len(vs.column):
            terms, ords = ordinals(vs.column.values)
            if vs.kind == "ip":
                terms, ords = _ip_ordinals(terms, ords)
            rows = vs.rows(ctx, seqs)
            doc_seqs = vs.column.seqs if rows is None else vs.column.seqs[rows]
            ids = ords if rows is None else ords[rows]
            if self.missing is not None:
                absent = vs.without_values(seqs)
                if len(absent):
                    fill = missing_value(vs, self.missing, ctx)
                    if vs.kind == "ip":
                        at = bisect.bisect_left([_ip_key(t) for t in terms.tolist()], _ip_key(fill))
                    else:
                        at = int(np.searchsorted(terms, fill)) if len(terms) else 0
                    if at < len(terms) and terms[at] == fill:
                        fill_id = at
                    else:  # insert the missing term in key order
                        terms = np.insert(terms, at, fill)
                        ids = np.where(ids >= at, ids + 1, ids)
                        fill_id = at
                    doc_seqs = np.concatenate([doc_seqs, absent])
                    ids = np.concatenate([ids, np.full(len(absent), fill_id, dtype=ids.dtype)])
            if not every and len(ids) and len(terms) > 64 and len(ids) < len(terms):
                used = sorted_unique(ids)  # few matches of a big field: drop the unused terms now
                remap = np.full(len(terms), -1, dtype=np.int64)
                remap[used] = np.arange(len(used))
                return doc_seqs, remap[ids], terms[used]
            return doc_seqs, ids.astype(np.int64, copy=False), terms
        doc_seqs, values = matched(vs, ctx, seqs, self.missing)
        if every and len(vs.column):
            # every term of the field is a bucket: the column's values join the matched ones
            # to make the term list, and only the matched ones get ids
            all_values = vs.column.values
            values_for_terms = np.concatenate([all_values, values]) if len(values) else all_values
        else:
            values_for_terms = values
        if vs.kind == "boolean":
            terms = np.array([0, 1], dtype=np.int64)
            present = np.zeros(2, dtype=bool)
            present[np.bincount(values_for_terms.astype(np.int64), minlength=2) > 0] = True
            ids = values.astype(np.int64)
            if present.all():
                return doc_seqs, ids, terms
            remap = np.cumsum(present) - 1
            return doc_seqs, remap[ids], terms[present]
        if vs.kind in ("keyword", "ip"):  # an unmapped field given a string `missing`
            terms, ids = unique_inverse(values_for_terms.astype(str))
            out = np.empty(len(terms), dtype=object)
            out[:] = terms.tolist()
            return doc_seqs, ids[len(values_for_terms) - len(values):].astype(np.int64), out
        if not len(values_for_terms):
            return doc_seqs, np.empty(0, dtype=np.int64), values_for_terms[:0]
        if values_for_terms.dtype == np.int64:
            low, high = int(values_for_terms.min()), int(values_for_terms.max())
            if high - low < _SMALL_RANGE:
                present = np.bincount(values_for_terms - low, minlength=high - low + 1) > 0
                remap = np.cumsum(present) - 1
                terms = np.flatnonzero(present).astype(np.int64) + low
                return doc_seqs, remap[values - low], terms
        terms, inverse = unique_inverse(values_for_terms)
        return doc_seqs, inverse[len(values_for_terms) - len(values):].astype(np.int64), terms

    def _top(self, ctx, matches, candidates, counts, seqs, ids, terms) -> tuple[np.ndarray, list]:
        """The shard_size best candidates in order, and their sub-aggregation partials."""
        if self.order.by_count_or_key:
            ranked = candidates[_rank(self.order, counts[candidates], candidates)][: self.shard_size]
            docs = BucketDocs(matches, seqs, ids, wanted=len(ranked)) if self.subs else None
            subs = [collect_subs(self, ctx, docs.docs(int(b))) if docs else {} for b in ranked.tolist()]
            return ranked, subs
        # ordered by a sub-aggregation: every candidate's sub-aggregations decide
        docs = BucketDocs(matches, seqs, ids, wanted=len(candidates))
        subs = {int(b): collect_subs(self, ctx, docs.docs(int(b))) for b in candidates.tolist()}
        reduced = {b: self.subs.reduce([s]) for b, s in subs.items()}
        ordered = self.order.sort(list(subs), key_of=lambda b: b, count_of=lambda b: int(counts[b]),
                                  subs_of=lambda b: reduced[b], subs=self.subs)[: self.shard_size]
        return np.asarray(ordered, dtype=np.int64), [subs[b] for b in ordered]

    def empty(self) -> dict[str, Any]:
        return {"kind": None, "fmt": None, "buckets": [], "other": 0, "error": 0,
                "shard_size": self.shard_size}

    # -- across shards ----------------------------------------------------------------------

    def reduce(self, partials: list[dict[str, Any]]) -> dict[str, Any]:
        kind = next((p["kind"] for p in partials if p["kind"] is not None), None)
        fmt = next((p["fmt"] for p in partials if p["fmt"] is not None), None)
        kinds = {p["kind"] for p in partials if p.get("mapped", True)} - {None}
        if UNSIGNED in kinds and len(kinds) > 1 and kinds <= {UNSIGNED, "long", "double"}:
            # unsigned_long beside another numeric field: LongTerms.reduce promotes every
            # shard's terms to DoubleTerms (an index without the field, filled by
            # `missing`, is not one: ES gives its partial no numeric type)
            partials = [{**p, "buckets": [[float(b[0]), *b[1:]] for b in p["buckets"]]} for p in partials]
            kind = "double"
        merged: dict[Any, list] = {}
        errors = []
        other = 0
        for p in partials:
            error = self._shard_error(p)
            errors.append(error)
            other += p["other"]
            for key, count, subs, *rest in p["buckets"]:
                entry = merged.get(key)
                if entry is None:
                    entry = merged[key] = [key, 0, [], 0, set()]
                entry[1] += count
                entry[2].append(subs)
                previous = rest[0] if rest else 0
                entry[3] = -1 if entry[3] == -1 or previous == -1 else entry[3] + previous
                entry[4].add(len(errors) - 1)
        total_error = -1 if -1 in errors else sum(errors)
        buckets = []
        for key, count, subs, bucket_error, seen in merged.values():
            if total_error == -1 or bucket_error == -1:
                bucket_error = -1
            else:
                bucket_error += sum(errors[i] for i in range(len(errors)) if i not in seen)
            # a bucket under min_doc_count is dropped, not counted as other: only the buckets
            # `size` leaves out are (AbstractInternalTerms' reduce)
            if count >= self.min_doc_count:
                buckets.append([key, count, reduce_subs(self, subs), bucket_error])
        key_of = (lambda b: _ip_key(b[0])) if kind == "ip" else (lambda b: b[0])
        buckets = self.order.sort(buckets, key_of=key_of, count_of=lambda b: b[1],
                                  subs_of=lambda b: b[2], subs=self.subs)
        for dropped in buckets[self.size:]:
            other += dropped[1]
        error = -1 if total_error == -1 else (0 if len(partials) == 1 else total_error)
        return {"kind": kind, "fmt": fmt, "buckets": buckets[: self.size], "other": other, "error": error,
                "shard_size": self.shard_size}

    def _shard_error(self, p: dict[str, Any]) -> int:
        """InternalTerms.getDocCountError: how many documents of an unreturned term this
        partial could have left out."""
        buckets = p["buckets"]
        if not buckets or len(buckets) < p["shard_size"] or self.order.is_key_order:
            return 0
        if self.order.is_count_desc:
            return p["error"] if p["error"] > 0 else min(b[1] for b in buckets)
        return -1

    def render(self, reduced: dict[str, Any], typed_keys: bool = False) -> dict[str, Any]:
        fmt, kind = reduced["fmt"], reduced["kind"]
        buckets = []
        for key, count, subs, *rest in reduced["buckets"]:
            bucket: dict[str, Any] = {"key": key}
            if fmt is not None and kind not in ("keyword", "ip"):
                bucket["key_as_string"] = format_value(fmt, key)
            bucket["doc_count"] = count
            if self.show_error:
                bucket["doc_count_error_upper_bound"] = rest[0] if rest else 0
            buckets.append(render_subs(self, subs, bucket, typed_keys))
        return {"doc_count_error_upper_bound": reduced["error"], "sum_other_doc_count": reduced["other"],
                "buckets": buckets}

    def typed_name(self, reduced: dict[str, Any]) -> str:
        return _TYPED.get(reduced["kind"], "sterms")


def _ip_key(text: str) -> bytes:
    """IPs order by their 16-byte form (IPv4 mapped into IPv6), as ES orders ip terms."""
    address = ipaddress.ip_address(text)
    return b"\0" * 10 + b"\xff\xff" + address.packed if address.version == 4 else address.packed


def _ip_ordinals(terms: np.ndarray, ords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ordinals renumbered so that ip terms are in address order, not text order."""
    order = sorted(range(len(terms)), key=lambda i: _ip_key(terms[i]))
    rank = np.empty(len(terms), dtype=np.int64)
    rank[order] = np.arange(len(terms))
    return terms[order], rank[ords]


def _rank(order: BucketOrder, counts: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions of the candidates in a count/key order; ids are in key order already."""
    keys = []
    for what, ascending in reversed(order.criteria):
        column = counts if what == COUNT else ids
        keys.append(column if ascending else -column)
    return np.lexsort(keys)


def _keys(terms: np.ndarray, kind: str) -> list:
    if kind == UNSIGNED:
        return [t + UNSIGNED_SHIFT for t in terms.tolist()]
    if kind in ("long", "date", "boolean"):
        return [int(t) for t in terms.tolist()]
    if kind == "double":
        return [float(t) for t in terms.tolist()]
    return [str(t) for t in terms.tolist()]
