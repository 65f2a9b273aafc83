"""`POST /{index}/_forcemerge` on a real node: updated documents' replaced versions leave
the search structures, so scores come out as in an index that never held them."""

from __future__ import annotations

from elasticsearch import helpers

from tests.support.polling import wait_until

WORDS = ["alpha", "beta", "gamma", "delta"]


def load(es, index: str, rounds: int, docs: int = 20, **settings) -> None:
    """`docs` documents, each written `rounds` times: the last write of each is the same
    whatever `rounds` is."""
    es.indices.create(index=index, settings={"number_of_shards": 1, "number_of_replicas": 1,
                                             "refresh_interval": "-1", **settings})
    for r in range(rounds):
        last = r == rounds - 1
        helpers.bulk(es, ({"_index": index, "_id": str(i),
                           "body": f"common {WORDS[i % 4]} " + tail(r, i, last)} for i in range(docs)))
    es.indices.refresh(index=index)


def tail(r: int, i: int, last: bool) -> str:
    return "final" if last else f"draft{r} " * (1 + i % 3)


def scores(es, index: str, text: str) -> dict[str, float]:
    hits = es.search(index=index, query={"match": {"body": text}}, size=50)["hits"]["hits"]
    return {h["_id"]: h["_score"] for h in hits}


def test_force_merge_expunges_replaced_versions_so_scores_match_an_index_that_never_held_them(es):
    load(es, "fm-updated", rounds=3)
    load(es, "fm-fresh", rounds=1)
    expected = scores(es, "fm-fresh", "common alpha final")
    assert scores(es, "fm-updated", "common alpha final") != expected  # replaced versions still counted

    merged = es.indices.forcemerge(index="fm-updated", only_expunge_deletes=True)

    # the replica cannot be placed on one node: counted, not failed, as in ES
    assert merged["_shards"] == {"total": 2, "successful": 1, "failed": 0}
    es.indices.refresh(index="fm-updated")
    assert scores(es, "fm-updated", "common alpha final") == expected
    assert es.count(index="fm-updated", query={"match": {"body": "draft0"}})["count"] == 0
    assert es.count(index="fm-updated")["count"] == 20


def test_a_merged_index_takes_updates_and_merges_again(es):
    load(es, "fm-again", rounds=2)
    es.indices.forcemerge(index="fm-again", max_num_segments=1)
    es.index(index="fm-again", id="0", document={"body": "rewritten"}, refresh=True)
    assert es.count(index="fm-again", query={"match": {"body": "rewritten"}})["count"] == 1
    assert es.count(index="fm-again", query={"match": {"body": "final"}})["count"] == 19
    es.indices.forcemerge(index="fm-again")
    es.indices.refresh(index="fm-again")
    assert es.count(index="fm-again", query={"match": {"body": "final"}})["count"] == 19
    assert es.get(index="fm-again", id="0")["_source"] == {"body": "rewritten"}


def test_force_merge_without_waiting_answers_with_a_task_whose_result_is_stored(es):
    load(es, "fm-detached", rounds=2)
    started = es.indices.forcemerge(index="fm-detached", wait_for_completion=False)
    done = es.tasks.get(task_id=started["task"], wait_for_completion=True, timeout="30s")
    assert done["completed"] is True
    assert done["task"]["action"] == "indices:admin/forcemerge"
    assert done["task"]["description"] == ("Force-merge indices [fm-detached], maxSegments[-1], "
                                           "onlyExpungeDeletes[false], flush[true]")
    assert done["response"]["_shards"]["failed"] == 0


def test_force_merge_rejects_expunging_deletes_with_a_segment_count(http):
    response = http.post("/_forcemerge", params={"only_expunge_deletes": "true", "max_num_segments": "1"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "action_request_validation_exception"
    assert "cannot set only_expunge_deletes and max_num_segments at the same time" in error["reason"]


def test_force_merge_of_a_missing_index_or_with_bad_parameters_is_refused(http):
    assert http.post("/fm-missing/_forcemerge").json()["error"]["type"] == "index_not_found_exception"
    bad_number = http.post("/_forcemerge", params={"max_num_segments": "many"})
    assert bad_number.status_code == 400
    unknown = http.post("/_forcemerge", params={"segments": "1"})
    assert unknown.status_code == 400
    assert "segments" in unknown.json()["error"]["reason"]


def test_a_background_merge_purges_replaced_versions_once_they_pass_the_allowed_share(es):
    load(es, "fm-auto-fresh", rounds=1, docs=1200)
    expected = scores(es, "fm-auto-fresh", "common alpha final")
    # 1200 of 2400 versions replaced: past the 20 % allowed and the 1000 a merge waits for
    load(es, "fm-auto", rounds=2, docs=1200, **{"soft_deletes.retention_lease.sync_interval": "0.2s"})

    def merged() -> bool:
        es.indices.refresh(index="fm-auto")
        return scores(es, "fm-auto", "common alpha final") == expected

    wait_until(merged, timeout=30)


def test_the_allowed_share_of_replaced_versions_is_a_percentage_from_5_to_50(http):
    refused = http.put("/fm-pct", json={"settings": {"index.merge.policy.deletes_pct_allowed": 60}})
    assert refused.status_code == 400
    assert "must be <= 50.0" in refused.json()["error"]["reason"]
    accepted = http.put("/fm-pct", json={"settings": {"index.merge.policy.deletes_pct_allowed": 33.5}})
    assert accepted.status_code == 200, accepted.text
