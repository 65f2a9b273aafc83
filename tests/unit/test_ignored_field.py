"""The `_ignored` metadata field (ES's IgnoredFieldMapper since 8.15): the fields a document
left out (`ignore_above`, `ignore_malformed`, the field limit under
`ignore_dynamic_beyond_limit`) are indexed as a keyword with doc values on every path that
indexes a document (in-process, the indexing worker, replicas, translog replay, merges),
searched and aggregated as one, and shown in hits."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import orjson
import pytest

from strata_node.action.bulk import BulkItem, WriteOptions
from strata_node.action.get import GetShardRequest, get_on_shard
from strata_node.engine import operation as ops
from strata_node.engine.engine import Engine, IndexOp, ShardRef
from strata_node.engine.index_structures import SegmentWriter, decode_segment
from strata_node.index.analysis import index_analyzers
from strata_node.index.indexing import DocumentIndexer, encode_documents, index_part
from strata_node.index.mapping import DocumentParseError, Mapping
from strata_node.index.mapping.limits import LONG_MAX, MappingLimits
from strata_node.replication import replica
from strata_node.search.request import parse_search
from strata_node.search.shard_search import FetchSpec, fetch_phase, query_phase
from tests.support.local_master import local_bulk, open_indices
from tests.unit.search.shards import ids, run, shard, shards

MAPPING = {"properties": {"k": {"type": "keyword", "ignore_above": 3},
                          "n": {"type": "long", "ignore_malformed": True},
                          "d": {"type": "date", "ignore_malformed": True},
                          "t": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 5}}}}}
DOCS = [
    {"k": "abc", "n": 1},  # 0: nothing left out
    {"k": "abcd", "n": 2},  # 1: k
    {"k": "abcd", "n": "two", "d": "today"},  # 2: d, k, n
    {"n": "three", "t": "a long text"},  # 3: n, t.raw
    {"t": "short"},  # 4: nothing
]


def compiled() -> Mapping:
    return Mapping.parse(MAPPING)


# -- parsing and indexing ---------------------------------------------------------------------


def test_the_fields_a_document_left_out_are_its_ignored_values_sorted():
    parsed = compiled().parse_document({"n": "x", "k": "long", "d": "never"}, "1")
    assert parsed.ignored == ["n", "k", "d"]  # as met
    assert parsed.fields["_ignored"] == ["d", "k", "n"]  # as the sorted set of doc values
    assert parsed.fields == {"_ignored": ["d", "k", "n"]}
    twice = compiled().parse_document({"k": ["long", "longer"], "t": "a multi-field left out"}, "2")
    assert twice.fields["_ignored"] == ["k", "t.raw"]


def test_a_document_that_leaves_nothing_out_has_no_ignored_field():
    parsed = compiled().parse_document({"k": "abc", "n": 5, "t": "short"}, "1")
    assert "_ignored" not in parsed.fields and parsed.ignored == ()


def test_a_document_may_not_set_ignored_itself():
    with pytest.raises(DocumentParseError) as raised:
        compiled().parse_document({"_ignored": ["k"]}, "1")
    inner = ("Field [_ignored] is a metadata field and cannot be added inside a document. Use the index API "
             "request parameters.")
    assert raised.value.reason == f"failed to parse: {inner}"
    assert raised.value.root_causes()[0]["reason"] == inner
    # below the root it is a field like any other
    assert compiled().parse_document({"o": {"_ignored": "x"}}, "1").fields["o._ignored"] == ["x"]


def test_every_mapping_has_ignored_as_an_indexed_keyword_with_doc_values_outside_its_fields():
    for mapping in (Mapping.empty(), compiled()):
        field = mapping.field("_ignored")
        assert (field.type_name, field.index, field.doc_values, field.store) == ("keyword", True, True, False)
        assert "_ignored" not in mapping.fields  # wildcards over the mapping leave it out
        assert "_ignored" not in str(mapping.to_dict())
        assert mapping.total_fields == len(mapping.fields) + len(mapping.objects)


def test_the_indexer_gives_ignored_terms_and_doc_values():
    mapping = compiled()
    indexed = DocumentIndexer(mapping, index_analyzers({}, "i"))(mapping.parse_document(DOCS[2], "2"))
    assert indexed.terms["_ignored"] == (["d", "k", "n"], None)
    assert indexed.doc_values["_ignored"] == ["d", "k", "n"]


def test_the_worker_indexes_ignored_as_the_event_loop_does():
    """index_part (the indexing worker's side of bulk requests and replica batches) takes
    `_ignored` from the parsed fields it is sent, as the in-process indexer does."""
    mapping = compiled()
    indexer = DocumentIndexer(mapping, index_analyzers({}, "i"))
    docs = DOCS * 60
    parsed = [mapping.parse_document(d, str(i)) for i, d in enumerate(docs)]
    writer = SegmentWriter()
    for i, p in enumerate(parsed):
        writer.add_local(i, indexer(p))
    fields = [p.fields for p in parsed]
    numbers = list(range(len(fields)))
    plans = indexer.plans(fields)
    assert index_part(3, plans, numbers[:250], encode_documents(fields[:250]), False) is None
    segment = decode_segment(index_part(3, plans, numbers[250:], encode_documents(fields[250:]), True))
    assert segment == writer.encode()
    assert "_ignored" in {name for name, *_ in segment.postings}
    assert "_ignored" in {name for _, name, _ in segment.columns}


# -- search -----------------------------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path):
    with shard(tmp_path, MAPPING, DOCS) as context:
        yield context


def test_term_terms_exists_prefix_and_wildcard_find_what_was_left_out(ctx):
    assert ids(ctx, {"term": {"_ignored": "k"}}) == ["1", "2"]
    assert ids(ctx, {"term": {"_ignored": "t.raw"}}) == ["3"]
    assert ids(ctx, {"terms": {"_ignored": ["d", "t.raw"]}}) == ["2", "3"]
    assert ids(ctx, {"exists": {"field": "_ignored"}}) == ["1", "2", "3"]
    assert ids(ctx, {"bool": {"must_not": {"exists": {"field": "_ignored"}}}}) == ["0", "4"]
    assert ids(ctx, {"prefix": {"_ignored": "t"}}) == ["3"]
    assert ids(ctx, {"wildcard": {"_ignored": "?"}}) == ["1", "2", "3"]
    assert ids(ctx, {"term": {"_ignored": "nothing"}}) == []
    assert ids(ctx, {"regexp": {"_ignored": "[dk]"}}) == ["1", "2"]
    assert ids(ctx, {"range": {"_ignored": {"gte": "n"}}}) == ["2", "3"]
    assert ids(ctx, {"match": {"_ignored": "t.raw"}}) == ["3"]


def test_a_terms_aggregation_counts_the_documents_per_field_left_out(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS[:3], DOCS[3:]]) as contexts:
        out = run({"f": {"terms": {"field": "_ignored"}}}, contexts)
    assert out["f"]["buckets"] == [{"key": "k", "doc_count": 2}, {"key": "n", "doc_count": 2},
                                   {"key": "d", "doc_count": 1}, {"key": "t.raw", "doc_count": 1}]


def test_hits_show_ignored_from_its_doc_values_unless_stored_fields_are_off(ctx):
    seqs = ctx.reader.docs().tolist()

    def fetched(body):
        spec = FetchSpec.of(parse_search(body, {}), source_explicit="_source" in body)
        return fetch_phase(ctx, seqs, [1.0] * len(seqs), None, spec)

    hits = fetched({})
    assert [h.get("_ignored") for h in hits] == [None, ["k"], ["d", "k", "n"], ["n", "t.raw"], None]
    assert list(hits[2]) == ["_index", "_id", "_score", "_ignored", "_source"]
    assert fetched({"stored_fields": ["k"]})[1]["_ignored"] == ["k"]
    assert all("_ignored" not in h for h in fetched({"stored_fields": "_none_"}))
    # `fields` names it (a pattern does not), `docvalue_fields` reads its doc values
    hits = fetched({"fields": ["_ignored", "n"], "_source": False})
    assert hits[2]["_ignored"] == ["d", "k", "n"] and hits[2]["fields"] == {"_ignored": ["d", "k", "n"]}
    assert hits[1]["fields"] == {"n": [2], "_ignored": ["k"]}
    assert all("_ignored" not in h.get("fields", {}) for h in fetched({"fields": ["*"]}))
    hits = fetched({"docvalue_fields": ["_ignored"]})
    assert [h.get("fields") for h in hits] == [None, {"_ignored": ["k"]}, {"_ignored": ["d", "k", "n"]},
                                              {"_ignored": ["n", "t.raw"]}, None]


def test_hits_sort_on_ignored_as_on_a_keyword(ctx):
    req = parse_search({"query": {"match_all": {}}, "sort": [{"_ignored": "desc"}], "size": 5}, {})
    result = query_phase(ctx, req, req.query, max_result_window=10_000)
    assert [ctx.reader.document(s).id for s in result.seqs] == ["3", "2", "1", "0", "4"]
    assert result.sort_values[:3] == [["t.raw"], ["n"], ["k"]]


def test_top_hits_show_ignored(tmp_path):
    with shards(tmp_path, MAPPING, [DOCS]) as contexts:
        out = run({"h": {"top_hits": {"size": 5, "_source": False, "sort": ["_doc"]}}}, contexts)
    assert [h.get("_ignored") for h in out["h"]["hits"]["hits"]] == \
        [None, ["k"], ["d", "k", "n"], ["n", "t.raw"], None]


# -- the paths that index a document again ------------------------------------------------------


def test_copies_leave_out_again_the_fields_the_limit_left_out():
    assert MappingLimits(total_fields=5).for_copies() is None
    limits = MappingLimits(total_fields=5, depth=3, field_name_length=9, ignore_dynamic_beyond_limit=True)
    assert limits.for_copies() == MappingLimits(5, LONG_MAX, LONG_MAX, True)
    primary = MappingLimits(total_fields=3, ignore_dynamic_beyond_limit=True)
    doc = {"a": 1, "b": "x", "c": 2, "d": {"e": 1}}
    written = Mapping.empty().parse_document(doc, "1", primary)
    mapping = Mapping.empty().merge(written.dynamic_update)  # what the primary published
    again = mapping.parse_document(doc, "1", primary.for_copies())
    assert again.dynamic_update is None
    assert again.fields == written.fields and again.fields["_ignored"] == ["c", "d"]


def test_a_replica_batch_leaves_out_what_its_primary_left_out():
    primary = MappingLimits(total_fields=2, ignore_dynamic_beyond_limit=True)
    doc = {"a": 1, "b": 2, "c": "over the limit"}
    mapping = Mapping.empty()
    mapping = mapping.merge(mapping.parse_document(doc, "0", primary).dynamic_update)
    indexer = DocumentIndexer(mapping, index_analyzers({}, "i"))
    service = SimpleNamespace(indexer=indexer, name="i", copy_limits=primary.for_copies())
    batch = [ops.Operation(ops.INDEX, n, 1, 1, str(n), source=orjson.dumps(doc)) for n in range(3)]
    # (no node: a document needing a mapping it lacks would wait for one)
    applied, prebuilt = asyncio.run(replica.index_operations(None, service, [ops.encode(op) for op in batch]))
    assert prebuilt is None
    assert all(indexed.terms["_ignored"] == (["c"], None) for _, _, indexed in applied)


def test_a_force_merge_keeps_ignored_and_purges_replaced_versions(tmp_path):
    mapping = compiled()
    indexer = DocumentIndexer(mapping, index_analyzers({}, "i"))

    def write(engine, docs: dict[str, dict]) -> None:
        engine.write([IndexOp(i, orjson.dumps(d), indexed=indexer(mapping.parse_document(d, i)))
                      for i, d in docs.items()], lambda i, outcome: None)

    async def go():
        engine = Engine(ShardRef("i", "u", 0), tmp_path, 1)
        await engine.open()
        engine.translog.global_checkpoint = 1_000_000
        for b in range(3):
            write(engine, {f"{b}-{i}": d for i, d in enumerate(DOCS)})
        write(engine, {"1-2": {"k": "ok"}})  # replaces a document that left three fields out
        engine.refresh()
        before = engine.searcher()
        expected = before.doc_values("_ignored")
        result = await engine.force_merge()
        engine.refresh()
        after = engine.searcher()
        assert result.batches == 4 and result.purged == 1
        assert after.doc_values("_ignored").seqs.tolist() == expected.seqs.tolist()
        assert after.doc_values("_ignored").values.tolist() == expected.values.tolist()
        assert len(after.postings("_ignored", b"d").seqs) == 2
        assert after.field_stats("_ignored") == (8, 15)  # 9 documents, 18 terms, less the replaced one's
        await engine.close()

    asyncio.run(go())


SETTINGS = {"index.mapping.total_fields.limit": 2,
            "index.mapping.total_fields.ignore_dynamic_beyond_limit": True}


def test_a_replayed_translog_and_a_get_give_the_ignored_of_the_write(tmp_path):
    async def go():
        indices = await open_indices(tmp_path)
        keyword = {"type": "keyword", "ignore_above": 3}
        await indices.create("lim", {"settings": SETTINGS, "mappings": {"properties": {"k": keyword}}})
        items = [BulkItem("index", "lim", "1", source=b'{"k": "abcd", "a": 1, "b": 2}'),
                 BulkItem("index", "lim", "2", source=b'{"k": "abc"}')]
        assert all(r.error is None for r in await local_bulk(indices).execute(items, WriteOptions()))
        service = indices.get("lim")
        assert sorted(service.mapping.fields) == ["a", "k"]

        def get(doc_id, stored_fields=("_ignored",)):
            request = GetShardRequest(index="lim", index_uuid=service.metadata.uuid, shard=0, id=doc_id,
                                      stored_fields=stored_fields)
            return get_on_shard(indices, request)

        assert get("1").ignored == ["b", "k"] and get("2").ignored is None
        assert get("1", ()).ignored is None  # only when stored_fields names it
        engine = service.shard(0).engine
        engine.refresh()
        written = engine.searcher().postings("_ignored", b"b").seqs.tolist()
        assert written == [0]
        # Lose the store's copy, as a power loss would before LevelDB synced: the translog
        # replays the writes through the parser again.
        for key in list(engine.db.iterator(include_value=False)):
            if key[:1] in (b"t", b"v", b"n", b"a", b"h", b"d", b"s"):
                engine.db.delete(key)
        await engine.close(flush=False)
        await indices.stop()
        indices = await open_indices(tmp_path)
        engine = indices.get("lim").shard(0).engine
        engine.refresh()
        reader = engine.searcher()
        assert reader.postings("_ignored", b"b").seqs.tolist() == written
        assert reader.doc_values("_ignored").values.tolist() == ["b", "k"]
        assert list(reader.terms("b")) == []  # left out again, not indexed as a new field
        await indices.stop()

    asyncio.run(go())
