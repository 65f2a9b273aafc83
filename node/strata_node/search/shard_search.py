"""The query phase and the fetch phase on one shard (Elasticsearch's QueryPhase and
FetchPhase), synchronous: the shard's transport actions (`transport_actions.py`) run them
on the search executor, since a query over a million documents is long CPU work that must
not hold the event loop.

The query phase returns what the coordinator needs to merge shards (the shard's top
documents with their sort values and scores, its total, its aggregation partial) as plain
data; the shard node keeps the reader it ran on in a search context, so the fetch phase
reads the same refresh the query saw.
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any

import numpy as np
import orjson

from ..action.source_filter import filter_source
from ..common.errors import IllegalArgument, StrataError
from ..index.mapping import geo
from ..index.mapping.dates import formatter
from ..index.mapping.errors import java_string
from ..index.mapping.mappers import IGNORED
from ..index.mapping.numbers import NUMERIC_TYPES, UNSIGNED, unshift_unsigned
from ..transport.wire import Message
from .aggregations.single_bucket import check_placement
from .context import ShardContext
from .matches import Matches
from .request import TRACK_DISABLED, SearchRequest
from .sort import SCORE, SortKey, after_mask, is_relevance, key_values, needs_scores, top_k

RELEVANCE = [SortKey(SCORE, "desc")]


class ShardQueryResult(Message):
    """One shard's answer to the query phase: what the coordinator merges. Plain data, so
    it travels on the transport as it is; `context_id` names the search context the
    shard keeps for the fetch (none when the shard has no hit to fetch)."""

    total: int
    seqs: list[int]  # the shard's top from+size documents, in sort order
    scores: list[float | None]
    sort_values: list[list[Any]] | None = None  # rendered, when the request sorts
    merge_values: list[tuple[Any, ...]] | None = None
    max_score: float | None = None
    aggs: Any = None
    timed_out: bool = False
    terminated_early: bool = False
    context_id: str | None = None


def check_result_window(req: SearchRequest, max_result_window: int) -> None:
    """DefaultSearchContext.preProcess: from + size bounded per index."""
    window = req.from_ + req.size
    if window > max_result_window:
        raise IllegalArgument(
            f"Result window is too large, from + size must be less than or equal to: [{max_result_window}] "
            f"but was [{window}]. See the scroll api for a more efficient way to request large data sets. "
            "This limit can be set by changing the [index.max_result_window] index level setting.")


def _keep(matches: Matches, mask: np.ndarray) -> Matches:
    if mask.all():
        return matches
    return Matches(matches.seqs[mask], None if matches.scores is None else matches.scores[mask])


def _float32(value: float) -> float:
    return float(str(np.float32(value)))


def query_phase(ctx: ShardContext, req: SearchRequest, query: Any, *, max_result_window: int,
                boost: float = 1.0) -> ShardQueryResult:
    check_result_window(req, max_result_window)
    check_placement(req.aggs)  # as ES refuses a nested global: building aggregators, before searching
    ctx.check_cancelled()
    keys = req.sort if not is_relevance(req.sort) else None
    # size 0 collects no top docs, so nothing is scored for them and no max_score is
    # reported, search_after or not (search_after's values are still checked below)
    wants_hits = req.size > 0
    score = (wants_hits and needs_scores(keys)) or req.track_scores or req.min_score is not None \
        or (req.aggs is not None and req.aggs.needs_scores)
    matches = query.execute(ctx, score=score)
    ctx.check_cancelled()
    if score and boost != 1.0 and matches.scores is not None:
        matches = Matches(matches.seqs, (matches.scores * np.float32(boost)).astype(np.float32))
    if req.min_score is not None and matches.scores is not None:
        matches = _keep(matches, matches.scores >= np.float32(req.min_score))
    kept = None
    if req.post_filter is not None:
        filtered = req.post_filter.execute(ctx, score=False)
        kept = np.isin(matches.seqs, filtered.seqs, assume_unique=True)
        ctx.check_cancelled()
    matches, kept, terminated_early = _terminate_after(matches, kept, req.terminate_after)
    partial = req.aggs.collect(ctx, matches) if req.aggs is not None else None
    ctx.check_cancelled()
    hits = matches if kept is None else _keep(matches, kept)
    total = len(hits) if req.track_total_hits != TRACK_DISABLED else 0
    max_score = None
    if wants_hits and hits.scores is not None and len(hits) and (keys is None or req.track_scores):
        max_score = _float32(float(hits.scores.max()))
    seqs: list[int] = []
    scores: list[float | None] = []
    sort_values = merge_values = None
    k = req.from_ + req.size
    if k > 0 and len(hits):
        seqs, scores, sort_values, merge_values = _top_docs(ctx, req, keys, hits, k)
    elif req.search_after is not None:
        # ES reads search_after when it builds every shard's context: a value the sort
        # cannot read fails a shard with nothing to page through too
        after_mask([key_values(ctx, key, hits.seqs[:0], None) for key in keys or RELEVANCE], req.search_after)
    return ShardQueryResult(total=total, seqs=seqs, scores=scores, sort_values=sort_values,
                            merge_values=merge_values, max_score=max_score, aggs=partial,
                            timed_out=ctx.past_deadline(), terminated_early=terminated_early)


def _terminate_after(matches: Matches, kept: np.ndarray | None,
                     terminate_after: int) -> tuple[Matches, np.ndarray | None, bool]:
    """ES's QueryPhaseCollector counts terminate_after on the documents that pass the
    post_filter (`kept`), in document order, and stops at the first one past the limit:
    the hits are the first `terminate_after` that pass, and the aggregations see every
    match before the stopping document, whether the post_filter kept it or not. Returns
    the matches collected, their post_filter mask and whether collection stopped early."""
    if not terminate_after:
        return matches, kept, False
    passing = np.flatnonzero(kept) if kept is not None else None
    count = len(passing) if passing is not None else len(matches)
    if count <= terminate_after:
        return matches, kept, False
    stop = int(passing[terminate_after]) if passing is not None else terminate_after
    collected = Matches(matches.seqs[:stop], None if matches.scores is None else matches.scores[:stop])
    return collected, None if kept is None else kept[:stop], True


def _top_docs(ctx: ShardContext, req: SearchRequest, keys: list[SortKey] | None, hits: Matches,
              k: int) -> tuple[list[int], list[float | None], list[list[Any]] | None, list[tuple] | None]:
    """(seqs, scores, rendered sort values, merge values) of the shard's top k."""
    order = keys or RELEVANCE
    values = [key_values(ctx, key, hits.seqs, hits.scores) for key in order]
    candidates = np.arange(len(hits))
    if req.search_after is not None:
        candidates = np.flatnonzero(after_mask(values, req.search_after))
        values = [kv.subset(candidates) for kv in values]
    picked = top_k(values, k)
    positions = candidates[picked]
    seqs = hits.seqs[positions].tolist()
    scores = hits.scores
    top_scores = [_float32(float(scores[p])) for p in positions.tolist()] if scores is not None \
        else [None] * len(positions)
    if keys is None:
        return seqs, top_scores, None, None
    picked_list = picked.tolist()
    sort_values = [[kv.render(i) for kv in values] for i in picked_list]
    merge_values = [tuple(kv.merge_value(i) for kv in values) for i in picked_list]
    return seqs, top_scores, sort_values, merge_values


def count_phase(ctx: ShardContext, query: Any, *, min_score: float | None,
                terminate_after: int) -> tuple[int, bool]:
    """`_count` on one shard: how many documents match (and whether terminate_after cut it)."""
    ctx.check_cancelled()
    matches = query.execute(ctx, score=min_score is not None)
    count = len(matches)
    if min_score is not None and matches.scores is not None:
        count = int(np.count_nonzero(matches.scores >= np.float32(min_score)))
    if terminate_after and count > terminate_after:
        return terminate_after, True
    return count, False


def validate_phase(ctx: ShardContext, query: Any) -> None:
    """`_validate/query` on one shard: the query run against the shard's mapping, so what
    only a shard can refuse (a value its field cannot hold) is found."""
    query.execute(ctx, score=False)


# -- fetch -----------------------------------------------------------------------------------

class FetchSpec(Message):
    """What each hit shows beside `_index`, `_id` and `_score`: built once by the
    coordinator and sent with every shard's fetch."""

    fetch_source: bool
    includes: list[str]
    excludes: list[str]
    version: bool
    seq_no_primary_term: bool
    stored_fields: list[str] | None
    docvalue_fields: list[dict[str, Any]] = []
    source_explicit: bool = False
    fields: list[dict[str, Any]] = []

    @classmethod
    def of(cls, req: SearchRequest, source_explicit: bool) -> FetchSpec:
        return cls(fetch_source=req.fetch_source, includes=req.source_includes, excludes=req.source_excludes,
                   version=req.version, seq_no_primary_term=req.seq_no_primary_term,
                   stored_fields=req.stored_fields, docvalue_fields=req.docvalue_fields,
                   source_explicit=source_explicit, fields=req.fields)

    @property
    def show_id(self) -> bool:
        return self.stored_fields != ["_none_"]

    @property
    def show_source(self) -> bool:
        """FetchPhase: a stored_fields list without `_source` turns the source off unless
        the request asked for it explicitly; `_none_` turns everything off."""
        if self.stored_fields is None:
            return self.fetch_source
        if self.stored_fields == ["_none_"]:
            return False
        if self.source_explicit:
            return self.fetch_source
        return "_source" in self.stored_fields


def fetch_phase(ctx: ShardContext, seqs: list[int], scores: list[float | None],
                sort_values: list[list[Any]] | None, spec: FetchSpec) -> list[dict[str, Any]]:
    """The hits of one shard, in the order given. An unfiltered `_source` is the stored
    JSON as bytes (plain data for the transport); the coordinator embeds it as it is."""
    hits = []
    columns: dict[str, Any] = {}
    if seqs and spec.fields:
        _check_fetch_formats(ctx, spec.fields)
    # FetchFieldsPhase fetches `_ignored` (and `_routing`) with every hit unless stored
    # fields are off (`_none_`) and no `fields` are asked for; `fields` shows it too when
    # named (a pattern leaves metadata fields out).
    show_ignored = spec.stored_fields != ["_none_"] or bool(spec.fields)
    ignored_in_fields = any(item["field"] == IGNORED for item in spec.fields)
    for i, seq in enumerate(seqs):
        ctx.check_cancelled()
        op = ctx.reader.document(seq)
        hit: dict[str, Any] = {"_index": ctx.index}
        if spec.show_id:
            hit["_id"] = op.id
        if spec.version:
            hit["_version"] = op.version
        if spec.seq_no_primary_term:
            hit["_seq_no"] = op.seq_no
            hit["_primary_term"] = op.primary_term
        score = scores[i]
        hit["_score"] = None if score is None or math.isnan(score) else score
        ignored = ctx.ignored(seq) if show_ignored else None
        if ignored:
            hit[IGNORED] = ignored
        if op.routing is not None and spec.show_id:
            hit["_routing"] = op.routing
        source = None
        if spec.show_source or spec.stored_fields or spec.fields:
            source = op.source
        shown = source if ctx.mapping.source_enabled else None  # `_source.enabled: false`
        if spec.show_source and shown is not None:
            if spec.includes or spec.excludes:
                hit["_source"] = filter_source(orjson.loads(source), spec.includes, spec.excludes)
            else:
                hit["_source"] = source
        fields = stored_field_values(ctx.mapping, ctx.analyzers, spec.stored_fields, source, op.id) \
            if spec.stored_fields else {}
        if spec.fields and shown is not None:  # `fields` reads the source, as ES's does
            fields.update(_fetch_fields(ctx, spec.fields, op.id, source))
        if ignored_in_fields and ignored:  # (from doc values, as ES's)
            fields[IGNORED] = ignored
        for item in spec.docvalue_fields:
            fields.update(_docvalue_field(ctx, columns, item, seq))
        if fields:
            hit["fields"] = fields
        if sort_values is not None:
            from .sort import render_sort_value

            hit["sort"] = [render_sort_value(v) for v in sort_values[i]]
        hits.append(hit)
    return hits


# Metadata fields a stored_fields list may name; they are answered (or not) elsewhere.
_METADATA_FIELDS = frozenset(("_source", "_id", "_routing", "_index", "_version", "_seq_no",
                              "_primary_term", "_ignored", "_none_"))


def stored_field_values(mapping, analyzers, names: list[str] | tuple[str, ...], source: bytes | None,
                        doc_id: str) -> dict[str, list[Any]]:
    """The fields mapped with `store: true` that `names` (names or wildcard patterns) ask
    for, as ES returns stored fields: Strata keeps no stored-field files, the source holds
    what they would, so the values are the source read through the mapping as it was
    indexed (numbers parsed, keywords normalized, multi-fields from their parent, copy_to
    targets filled), dates formatted with the field's first format.

    A source the mapping no longer parses (a field mapped since with another type, a
    mapping made strict) still answers, as ES's stored-field files would: its values are
    then read from the source as they stand."""
    patterns = [n for n in names if n not in _METADATA_FIELDS]
    wanted = [path for path, mapper in mapping.fields.items()
              if mapper.store and any(fnmatch.fnmatchcase(path, n) for n in patterns)]
    if not wanted or source is None:
        return {}
    document = orjson.loads(source)
    try:
        parsed = mapping.parse_document(document, doc_id).fields
    except StrataError:
        parsed = {path: [v for v in _path_values(document, path.split(".")) if v is not None]
                  for path in wanted}
    out = {}
    for path in wanted:
        values = parsed.get(path)
        if values:
            mapper = mapping.fields[path]
            normalizer = analyzers.normalizer(mapper.normalizer) if mapper.type_name == "keyword" \
                and mapper.normalizer else None
            if normalizer is not None:
                values = ["".join(normalizer.analyze(str(v)).terms) for v in values]
            if mapper.type_name == "geo_point":  # stored as GeoPoint.toString(): "lat, lon"
                out[path] = [_stored_point(v) for v in values]
            elif mapper.type_name == UNSIGNED:  # stored as its text, Long.toUnsignedString
                out[path] = [str(v) for v in values]
            else:
                out[path] = [_format_fetched(mapper, v, None) for v in values]
    return out


def _stored_point(value: Any) -> str:
    """A geo_point's stored value: its encoded long, or, read from a source the mapping no
    longer parses, the point as the source gives it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return "{}, {}".format(*geo.decode(value))
    try:
        return "{}, {}".format(*geo.parse_point(value))
    except StrataError:
        return java_string(value)


def _path_values(source: Any, path: list[str]) -> list[Any]:
    """The values at a dotted path of a source, through arrays; "a.b" may be one key or
    two levels."""
    if not path:
        return source if isinstance(source, list) else [source]
    if isinstance(source, list):
        return [v for item in source for v in _path_values(item, path)]
    if not isinstance(source, dict):
        return []
    out = []
    for cut in range(len(path), 0, -1):
        key = ".".join(path[:cut])
        if key in source:
            out += _path_values(source[key], path[cut:])
    return out


def _fetch_fields(ctx: ShardContext, patterns: list[dict[str, Any]], doc_id: str,
                  source: bytes) -> dict[str, list[Any]]:
    """The `fields` option (FetchFieldsPhase): each mapped field matching a pattern, its
    values read from the source as the mapping reads them (multi-fields from their parent,
    numbers parsed, dates formatted with the field's format or the one asked for)."""
    parsed = ctx.mapping.parse_document(orjson.loads(source), doc_id).fields
    out: dict[str, list[Any]] = {}
    for item in patterns:
        pattern = item["field"]
        for path, values in parsed.items():
            mapper = ctx.field(path)
            if mapper is None or path in out or path == IGNORED or not fnmatch.fnmatchcase(path, pattern):
                continue
            out[path] = [_format_fetched(mapper, v, item.get("format")) for v in values]
        for path, mapper in ctx.mapping.fields.items():  # every document has a constant_keyword's value
            if (mapper.type_name == "constant_keyword" and mapper.constant is not None and path not in out
                    and fnmatch.fnmatchcase(path, pattern)):
                out[path] = [mapper.constant]
    return out


_NUMBERS = (*NUMERIC_TYPES, UNSIGNED)  # NumberFieldType.valueFetcher refuses a format


def _check_fetch_formats(ctx: ShardContext, patterns: list[dict[str, Any]]) -> None:
    """A `format` on a number is refused when the shard builds its fetchers (before any
    hit is read, so whether a hit holds the field does not matter), as
    NumberFieldType.valueFetcher refuses it."""
    for item in patterns:
        if item.get("format") is None:
            continue
        for path, mapper in ctx.mapping.fields.items():
            if mapper.type_name in _NUMBERS and fnmatch.fnmatchcase(path, item["field"]):
                raise IllegalArgument(f"Field [{path}] of type [{mapper.type_name}] doesn't support formats.")


def _format_fetched(mapper, value: Any, fmt: str | None) -> Any:
    if mapper.type_name == "date":
        pattern = fmt or str(mapper.get("format")).split("||")[0]
        return str(value) if pattern == "epoch_millis" else formatter(pattern).format_millis(int(value))
    if mapper.type_name in ("float", "half_float") and isinstance(value, float):
        return _float32(value)
    if mapper.type_name == "geo_point":  # GeoJSON unless WKT is asked for, as ES's fields API
        return geo.wkt(value) if fmt == "wkt" else geo.geojson(value)
    return value


def _docvalue_field(ctx: ShardContext, columns: dict[str, Any], item: dict[str, Any],
                    seq: int) -> dict[str, list]:
    pattern = item["field"]
    names = [pattern] if "*" not in pattern else sorted(
        p for p in ctx.mapping.fields if fnmatch.fnmatchcase(p, pattern))
    out = {}
    for name in names:
        mapper = ctx.field(name)
        if mapper is None:
            continue
        if mapper.type_name == "text":
            from .sort import fielddata_error

            raise fielddata_error(ctx, name)
        if name not in columns:
            columns[name] = ctx.doc_values(name)
        column = columns[name]
        lo, hi = np.searchsorted(column.seqs, [seq, seq + 1])
        if lo == hi:
            continue
        values = column.values[lo:hi]
        out[name] = [_format_docvalue(mapper, v, item.get("format")) for v in sorted(values.tolist())]
    return out


def _format_docvalue(mapper, value: Any, fmt: str | None) -> Any:
    """A doc value as the fields section shows it: dates formatted with the field's first
    format, numbers through a DecimalFormat-like pattern when one is given."""
    if mapper.type_name == "geo_point":
        return geo.lat_lon(value)
    if mapper.type_name == UNSIGNED:  # UNSIGNED_LONG_SHIFTED, which takes no pattern
        return unshift_unsigned(value)
    if mapper.type_name == "date":
        pattern = fmt if fmt and fmt != "use_field_mapping" else str(mapper.get("format")).split("||")[0]
        if pattern == "epoch_millis":
            return str(value)
        return formatter(pattern).format_millis(int(value))
    if fmt and fmt != "use_field_mapping" and isinstance(value, int | float) and not isinstance(value, bool):
        decimals = len(fmt.split(".", 1)[1]) if "." in fmt else 0
        return f"{float(value):.{decimals}f}"
    return value
