"""`_analyze` through the official elasticsearch-py client on a real node: the built-in
analyzers, analyzers defined in index settings (also after a restart), and Elasticsearch's
errors."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

FOXES = "The 2 QUICK Brown-Foxes jumped over the lazy dog's bone."
ANALYSIS = {
    "analyzer": {"my": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "my_stop"]}},
    "filter": {"my_stop": {"type": "stop", "stopwords": ["the", "quick"]}},
}


@pytest.fixture(scope="module")
def analysed_index(es) -> str:
    es.indices.create(index="analysed", settings={"number_of_shards": 1, "number_of_replicas": 0,
                                                   "analysis": ANALYSIS})
    return "analysed"


def tokens(response) -> list[str]:
    return [t["token"] for t in response["tokens"]]


def test_standard_analyzer_gives_elasticsearch_tokens(es):
    response = es.indices.analyze(analyzer="standard", text=FOXES)
    assert tokens(response) == ["the", "2", "quick", "brown", "foxes", "jumped", "over", "the", "lazy",
                                "dog's", "bone"]
    assert response["tokens"][1] == {"token": "2", "start_offset": 4, "end_offset": 5, "type": "<NUM>",
                                     "position": 1}


@pytest.mark.parametrize("analyzer, expected", [
    ("simple", ["the", "quick", "brown", "foxes", "jumped", "over", "the", "lazy", "dog", "s", "bone"]),
    ("whitespace", ["The", "2", "QUICK", "Brown-Foxes", "jumped", "over", "the", "lazy", "dog's", "bone."]),
    ("keyword", [FOXES]),
    ("stop", ["quick", "brown", "foxes", "jumped", "over", "lazy", "dog", "s", "bone"]),
])
def test_each_built_in_analyzer_answers(es, analyzer, expected):
    assert tokens(es.indices.analyze(analyzer=analyzer, text=FOXES)) == expected


def test_no_analyzer_means_standard(es):
    assert tokens(es.indices.analyze(text="Brown-Foxes")) == ["brown", "foxes"]


def test_text_arrays_continue_positions_across_values(es):
    response = es.indices.analyze(analyzer="standard", text=["foo bar", "baz"])
    assert [(t["token"], t["position"], t["start_offset"]) for t in response["tokens"]] == [
        ("foo", 0, 0), ("bar", 1, 4), ("baz", 102, 8)]


def test_request_may_build_its_own_analyzer(es):
    response = es.indices.analyze(tokenizer={"type": "standard", "max_token_length": 5},
                                  filter=["lowercase", {"type": "stop", "stopwords": "_english_"}],
                                  text=FOXES)
    assert tokens(response) == ["2", "quick", "brown", "foxes", "jumpe", "d", "over", "lazy", "dog's", "bone"]


def test_unicode_text_is_split_and_typed_as_lucene_does(es):
    response = es.indices.analyze(tokenizer="standard", text="東京 カタカナ 한국어 ภาษาไทย 👍🏽 café")
    assert [(t["token"], t["type"]) for t in response["tokens"]] == [
        ("東", "<IDEOGRAPHIC>"), ("京", "<IDEOGRAPHIC>"), ("カタカナ", "<KATAKANA>"), ("한국어", "<HANGUL>"),
        ("ภาษาไทย", "<SOUTHEAST_ASIAN>"), ("👍🏽", "<EMOJI>"), ("café", "<ALPHANUM>")]
    assert response["tokens"][-1]["start_offset"] == 25  # the emoji and its modifier are four UTF-16 units


def test_explain_lists_every_stage(es):
    detail = es.indices.analyze(tokenizer="standard", filter=["lowercase"], text="Hi", explain=True,
                                attributes=["termFrequency"])["detail"]
    assert detail["custom_analyzer"] is True
    assert detail["tokenizer"]["tokens"][0] == {"token": "Hi", "start_offset": 0, "end_offset": 2,
                                                "type": "<ALPHANUM>", "position": 0, "termFrequency": 1}
    assert detail["tokenfilters"][0]["name"] == "lowercase"
    assert detail["tokenfilters"][0]["tokens"][0]["token"] == "hi"


def test_index_analyzers_come_from_index_settings(es, analysed_index):
    response = es.indices.analyze(index=analysed_index, analyzer="my", text="The QUICK brown fox")
    assert [(t["token"], t["position"]) for t in response["tokens"]] == [("brown", 2), ("fox", 3)]
    whitespace = es.indices.analyze(index=analysed_index, analyzer="whitespace", text="a-b c")
    assert tokens(whitespace) == ["a-b", "c"]


def test_a_field_that_is_not_mapped_uses_the_index_default_analyzer(es, analysed_index):
    assert tokens(es.indices.analyze(index=analysed_index, field="title", text="Brown-Foxes")) == [
        "brown", "foxes"]


def test_a_mapped_field_analyses_as_its_mapping_says(es):
    es.indices.create(index="mapped", settings={"number_of_replicas": 0, "analysis": ANALYSIS}, mappings={
        "properties": {"body": {"type": "text", "analyzer": "my"}, "tag": {"type": "keyword"},
                       "count": {"type": "long"}}})
    assert tokens(es.indices.analyze(index="mapped", field="body", text="The QUICK fox")) == ["fox"]
    assert tokens(es.indices.analyze(index="mapped", field="tag", text="Brown Foxes")) == ["Brown Foxes"]
    with pytest.raises(BadRequestError) as e:
        es.indices.analyze(index="mapped", field="count", text="1")
    assert error(e) == ("illegal_argument_exception",
                        "Can't process field [count], Analysis requests are only supported on tokenized "
                        "fields")


def error(excinfo) -> tuple[str, str]:
    body = excinfo.value.body["error"]
    return body["type"], body["reason"]


def test_unknown_analyzer_is_refused(es, analysed_index):
    with pytest.raises(BadRequestError) as e:
        es.indices.analyze(analyzer="nope", text="x")
    assert error(e) == ("illegal_argument_exception", "failed to find global analyzer [nope]")
    with pytest.raises(BadRequestError) as e:
        es.indices.analyze(index=analysed_index, analyzer="nope", text="x")
    assert error(e) == ("illegal_argument_exception", "failed to find analyzer [nope]")


def test_missing_text_is_a_validation_failure(es):
    with pytest.raises(BadRequestError) as e:
        es.indices.analyze(analyzer="standard")
    assert error(e) == ("action_request_validation_exception", "Validation Failed: 1: text is missing;")


def test_unknown_index_is_not_found(es):
    with pytest.raises(NotFoundError) as e:
        es.indices.analyze(index="no-such-index", text="x")
    assert error(e) == ("index_not_found_exception", "no such index [no-such-index]")


@pytest.mark.parametrize("analysis, reason", [
    ({"analyzer": {"a": {"type": "english"}}}, "Unknown analyzer type [english] for [a]"),
    ({"analyzer": {"a": {"tokenizer": "standard", "filter": ["asciifolding"]}}},
     "Custom Analyzer [a] failed to find filter under name [asciifolding]"),
])
def test_index_with_an_unknown_analysis_component_is_not_created(es, analysis, reason):
    with pytest.raises(BadRequestError) as e:
        es.indices.create(index="bad-analysis", settings={"analysis": analysis})
    assert error(e) == ("illegal_argument_exception", reason)
    assert not es.indices.exists(index="bad-analysis")


def test_get_with_a_body_and_unknown_fields(http):
    response = http.request("GET", "/_analyze", json={"analyzer": "simple", "text": "A-b"})
    assert response.status_code == 200
    assert [t["token"] for t in response.json()["tokens"]] == ["a", "b"]
    response = http.post("/_analyze", content=b'{"text": "x", "analyser": "simple"}',
                         headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == (
        "[1:15] [analyze_request] unknown field [analyser] did you mean [analyzer]?")


def test_index_analyzers_survive_a_restart(fresh_node):
    node = fresh_node().start()
    client = Elasticsearch(node.url, request_timeout=30)
    client.indices.create(index="kept", settings={"number_of_replicas": 0, "analysis": ANALYSIS})
    node.stop()
    node.start()
    client = Elasticsearch(node.url, request_timeout=30)
    assert tokens(client.indices.analyze(index="kept", analyzer="my", text="The QUICK brown fox")) == [
        "brown", "fox"]


def test_list_valued_analysis_settings_read_back_as_arrays(http):
    settings = {"analysis": {"analyzer": {"my_stop": {"type": "custom", "tokenizer": "standard",
                                                      "filter": ["lowercase", "stop"]}}}}
    assert http.put("/list-settings", json={"settings": settings}).status_code == 200
    got = http.get("/list-settings/_settings").json()["list-settings"]["settings"]["index"]
    assert got["analysis"]["analyzer"]["my_stop"]["filter"] == ["lowercase", "stop"]
    tokens = http.post("/list-settings/_analyze", json={"analyzer": "my_stop", "text": "The Fox"}).json()
    assert [t["token"] for t in tokens["tokens"]] == ["fox"]
