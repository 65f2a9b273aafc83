"""`POST /{alias}/_rollover[/{new_index}]` on a real node, through elasticsearch-py as an
application calls it, with Elasticsearch's answers and errors. Each test works in indices
and aliases named after itself."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError, BadRequestError, NotFoundError


def first(es, name: str, alias: str, **alias_definition) -> str:
    """The first index of an alias, one shard and no replica."""
    es.indices.create(index=name, settings={"number_of_shards": 1, "number_of_replicas": 0},
                      aliases={alias: alias_definition})
    return name


def aliases_of(es, alias: str) -> dict:
    return {index: body["aliases"][alias] for index, body in es.indices.get_alias(name=alias).body.items()}


def error_of(e: ApiError) -> tuple[int, str, str]:
    return e.meta.status, e.body["error"]["type"], e.body["error"]["reason"]


# -- rollover -----------------------------------------------------------------------------------


def test_rollover_without_conditions_moves_an_implicit_write_alias(es, index_name):
    old = first(es, f"{index_name}-000001", f"{index_name}-w")
    response = es.indices.rollover(alias=f"{index_name}-w", settings={"number_of_replicas": 0})
    assert response.body == {"acknowledged": True, "shards_acknowledged": True, "old_index": old,
                             "new_index": f"{index_name}-000002", "rolled_over": True, "dry_run": False,
                             "lazy": False, "conditions": {}}
    assert aliases_of(es, f"{index_name}-w") == {f"{index_name}-000002": {}}
    es.index(index=f"{index_name}-w", id="1", document={"n": 1}, refresh=True)
    assert es.count(index=f"{index_name}-000002")["count"] == 1
    assert es.count(index=old)["count"] == 0


def test_rollover_keeps_an_explicit_write_alias_on_the_old_index(es, index_name):
    alias = f"{index_name}-w"
    old = first(es, f"{index_name}-000007", alias, is_write_index=True)
    response = es.indices.rollover(alias=alias, settings={"number_of_replicas": 0})
    assert (response["old_index"], response["new_index"]) == (old, f"{index_name}-000008")
    assert aliases_of(es, alias) == {old: {"is_write_index": False},
                                     f"{index_name}-000008": {"is_write_index": True}}
    again = es.indices.rollover(alias=alias, settings={"number_of_replicas": 0})  # the new write index rolls
    assert (again["old_index"], again["new_index"]) == (f"{index_name}-000008", f"{index_name}-000009")
    assert aliases_of(es, alias)[f"{index_name}-000009"] == {"is_write_index": True}


def test_conditions_are_evaluated_against_the_old_index(es, index_name):
    alias = f"{index_name}-w"
    old = first(es, f"{index_name}-000001", alias, is_write_index=True)
    for i in range(3):
        es.index(index=alias, id=str(i), document={"n": i})
    es.indices.refresh(index=old)
    unmet = es.indices.rollover(alias=alias, conditions={"max_docs": 4, "max_age": "7d", "max_size": "5gb"})
    assert unmet.body == {"acknowledged": False, "shards_acknowledged": False, "old_index": old,
                          "new_index": f"{index_name}-000002", "rolled_over": False, "dry_run": False,
                          "lazy": False, "conditions": {"[max_docs: 4]": False, "[max_age: 7d]": False,
                                                        "[max_size: 5gb]": False}}
    assert not es.indices.exists(index=f"{index_name}-000002")
    min_unmet = es.indices.rollover(alias=alias, conditions={"max_docs": 3, "min_primary_shard_docs": 4})
    assert min_unmet["rolled_over"] is False
    assert min_unmet["conditions"] == {"[max_docs: 3]": True, "[min_primary_shard_docs: 4]": False}
    met = es.indices.rollover(alias=alias, conditions={"max_docs": 3, "max_age": "30d", "min_docs": 1,
                                                       "max_primary_shard_size": "1b"},
                              settings={"number_of_replicas": 0})
    assert met["rolled_over"] is True and met["acknowledged"] is True
    assert met["conditions"] == {"[max_docs: 3]": True, "[max_age: 30d]": False, "[min_docs: 1]": True,
                                 "[max_primary_shard_size: 1b]": True}
    assert es.indices.exists(index=f"{index_name}-000002")


def test_a_dry_run_answers_what_would_happen_and_changes_nothing(es, index_name):
    alias = f"{index_name}-w"
    old = first(es, f"{index_name}-000001", alias)
    response = es.indices.rollover(alias=alias, dry_run=True, conditions={"max_docs": 0})
    assert response.body == {"acknowledged": False, "shards_acknowledged": False, "old_index": old,
                             "new_index": f"{index_name}-000002", "rolled_over": False, "dry_run": True,
                             "lazy": False, "conditions": {"[max_docs: 0]": True}}
    assert not es.indices.exists(index=f"{index_name}-000002")
    assert aliases_of(es, alias) == {old: {}}


def test_a_new_index_named_in_the_path_gets_the_bodys_settings_mappings_and_aliases(es, index_name):
    alias = f"{index_name}-w"
    first(es, f"{index_name}-a", alias)
    new = f"{index_name}-named"
    response = es.indices.rollover(alias=alias, new_index=new, settings={"number_of_shards": 2,
                                                                         "number_of_replicas": 0},
                                   mappings={"properties": {"tag": {"type": "keyword"}}},
                                   aliases={f"{index_name}-extra": {}}, wait_for_active_shards="1")
    assert (response["new_index"], response["rolled_over"]) == (new, True)
    assert response["shards_acknowledged"] is True
    created = es.indices.get(index=new)[new]
    assert created["settings"]["index"]["number_of_shards"] == "2"
    assert created["mappings"] == {"properties": {"tag": {"type": "keyword"}}}
    assert set(created["aliases"]) == {alias, f"{index_name}-extra"}


def test_the_matching_index_template_applies_to_the_new_index(es, index_name):
    es.indices.put_index_template(name=index_name, index_patterns=[f"{index_name}-*"], priority=500,
                                  template={"settings": {"number_of_shards": 3, "number_of_replicas": 0}})
    try:
        alias = f"{index_name}-w"
        first(es, f"{index_name}-000001", alias)
        es.indices.rollover(alias=alias)
        assert es.indices.get_settings(index=f"{index_name}-000002")[f"{index_name}-000002"]["settings"][
            "index"]["number_of_shards"] == "3"
    finally:
        es.indices.delete_index_template(name=index_name)


def test_shards_acknowledged_is_false_when_the_copies_are_not_active_in_time(es, index_name):
    alias = f"{index_name}-w"
    first(es, f"{index_name}-000001", alias)
    response = es.indices.rollover(alias=alias, settings={"number_of_replicas": 1},
                                   wait_for_active_shards="all", master_timeout="1s")
    assert (response["rolled_over"], response["acknowledged"], response["shards_acknowledged"]) == (
        True, True, False)


# -- rollover errors ----------------------------------------------------------------------------


def test_a_missing_target_is_not_found(es, index_name):
    with pytest.raises(NotFoundError) as e:
        es.indices.rollover(alias=f"{index_name}-nope")
    assert error_of(e.value) == (404, "resource_not_found_exception",
                                 f"rollover target [{index_name}-nope] does not exist")


def test_an_index_is_not_a_rollover_target(es, index_name):
    first(es, f"{index_name}-000001", f"{index_name}-w")
    with pytest.raises(BadRequestError) as e:
        es.indices.rollover(alias=f"{index_name}-000001")
    reason = "rollover target is a [concrete index] but one of [alias,data_stream] was expected"
    assert error_of(e.value) == (400, "illegal_argument_exception", reason)


def test_an_alias_of_several_indices_without_a_write_index_is_refused(es, index_name):
    alias = f"{index_name}-w"
    first(es, f"{index_name}-000001", alias)
    first(es, f"{index_name}-000002", alias)
    with pytest.raises(BadRequestError) as e:
        es.indices.rollover(alias=alias, dry_run=True)
    assert error_of(e.value) == (400, "illegal_argument_exception",
                                 f"rollover target [{alias}] does not point to a write index")


def test_an_existing_new_index_is_refused_even_in_a_dry_run(es, index_name):
    alias = f"{index_name}-w"
    first(es, f"{index_name}-000001", alias)
    es.indices.create(index=f"{index_name}-000002", settings={"number_of_replicas": 0})
    for dry_run in (True, False):
        with pytest.raises(BadRequestError) as e:
            es.indices.rollover(alias=alias, dry_run=dry_run)
        status, kind, reason = error_of(e.value)
        assert (status, kind) == (400, "resource_already_exists_exception")
        assert reason.startswith(f"index [{index_name}-000002/") and reason.endswith("] already exists")


def test_an_old_name_without_a_counter_needs_a_new_name(es, index_name):
    alias = f"{index_name}-w"
    first(es, f"{index_name}_plain", alias)
    with pytest.raises(BadRequestError) as e:
        es.indices.rollover(alias=alias)
    assert error_of(e.value) == (400, "illegal_argument_exception",
                                 f"index name [{index_name}_plain] does not match pattern '^.*-\\d+$'")
    assert es.indices.rollover(alias=alias, new_index=f"{index_name}_next")["rolled_over"] is True


def test_lazy_needs_a_data_stream_and_min_conditions_a_max_one(es, index_name):
    alias = f"{index_name}-w"
    first(es, f"{index_name}-000001", alias)
    with pytest.raises(BadRequestError) as e:
        es.indices.rollover(alias=alias, lazy=True)
    assert error_of(e.value) == (400, "illegal_argument_exception", "Lazy rollover can be applied only on a "
                                                                    "data stream. Please remove the query "
                                                                    "parameter 'lazy'.")
    with pytest.raises(BadRequestError) as e:
        es.indices.rollover(alias=alias, conditions={"min_docs": 1})
    assert error_of(e.value)[1] == "action_request_validation_exception"
    with pytest.raises(BadRequestError) as e:
        es.indices.rollover(alias=alias, conditions={"max_dogs": 1})
    assert error_of(e.value)[:2] == (400, "x_content_parse_exception")
    cause = e.value.body["error"]["caused_by"]["reason"]
    assert cause.endswith("[rollover_conditions] unknown field [max_dogs]")
    assert not es.indices.exists(index=f"{index_name}-000002")
