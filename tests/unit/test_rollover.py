"""The pure pieces of the rollover API: the new index's name, the conditions and their
keys, the request body, the names a rollover resolves, and the one cluster state update
that creates the new index and moves the alias (MetadataRolloverService,
RolloverConditions, TransportRolloverAction)."""

from __future__ import annotations

import msgspec
import orjson
import pytest

from strata_node.action.index_stats import ShardCopyStats
from strata_node.action.rollover import RolloverRequest, RolloverResponse, condition_stats, rollover_index
from strata_node.cluster.state import EMPTY_CONTENT, ClusterStateContent
from strata_node.common.errors import (
    ActionRequestValidation,
    IllegalArgument,
    InvalidIndexName,
    NumberFormatError,
    ResourceAlreadyExists,
    XContentParseError,
)
from strata_node.index.metadata import IndexMetadata
from strata_node.index.rollover import (
    Condition,
    ConditionStats,
    RolloverTargetMissing,
    check_new_index_name,
    conditions_met,
    evaluate_conditions,
    generate_rollover_index_name,
    lazy_refusal,
    resolve_rollover_names,
    validate_conditions,
)
from strata_node.index.templates.metadata import parse_component_template, parse_index_template
from strata_node.index.templates.updates import put_component_template, put_index_template
from strata_node.rest.rollover import parse_rollover_body, render_rollover

DAY = 86_400_000
NOW = 100 * DAY


def an_index(name: str, created: int = NOW - DAY, **alias_definitions) -> IndexMetadata:
    settings = {"index.number_of_shards": "1", "index.number_of_replicas": "0",
                "index.creation_date": str(created), "index.provided_name": name}
    return IndexMetadata(name, f"uuid-{name}", settings, {}, alias_definitions, primary_terms=(1,))


def content_of(*indices: IndexMetadata, content: ClusterStateContent = EMPTY_CONTENT) -> ClusterStateContent:
    metadata = msgspec.structs.replace(content.metadata, indices={m.name: m for m in indices})
    return msgspec.structs.replace(content, metadata=metadata)


def request(target: str = "logs", new_index: str | None = None, body: dict | None = None,
            **conditions) -> RolloverRequest:
    return RolloverRequest(target=target, new_index=new_index, create_body=orjson.dumps(body or {}),
                           conditions=[Condition(name=k, value=v) for k, v in conditions.items()])


# -- the new index's name -----------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new"), [("logs-000001", "logs-000002"), ("logs-1", "logs-000002"),
                                          ("logs-999999", "logs-1000000"), ("a-b-c-000009", "a-b-c-000010"),
                                          ("logs-2024.01.01-000041", "logs-2024.01.01-000042")])
def test_the_number_after_the_last_dash_is_incremented_six_digits_wide(old, new):
    assert generate_rollover_index_name(old) == new


@pytest.mark.parametrize("old", ["logs", "logs-", "logs-1a", "logs_000001", "logs-٣"])
def test_a_name_without_a_number_after_a_dash_cannot_be_incremented(old):
    with pytest.raises(IllegalArgument) as e:
        generate_rollover_index_name(old)
    assert str(e.value) == f"index name [{old}] does not match pattern '^.*-\\d+$'"


def test_the_number_is_a_java_int():
    """Integer.parseInt: past an int it is Java's NumberFormatException."""
    with pytest.raises(NumberFormatError, match='For input string: "2147483648"'):
        generate_rollover_index_name("logs-2147483648")
    assert generate_rollover_index_name("logs-2147483647") == "logs--2147483648"  # ++ overflows, as in Java


def test_date_math_names_are_refused_in_so_many_words():
    with pytest.raises(IllegalArgument, match=r"date math index name \[<logs-\{now/d\}-1>\] is not "):
        generate_rollover_index_name("<logs-{now/d}-1>")
    indices = {"logs-000001": an_index("logs-000001", logs={})}
    with pytest.raises(IllegalArgument, match="date math index name"):
        resolve_rollover_names(indices, "logs", "<logs-{now/d}>")


# -- the names a rollover resolves --------------------------------------------------------------


def test_an_alias_with_one_index_rolls_over_from_it():
    indices = {"logs-000001": an_index("logs-000001", logs={})}
    names = resolve_rollover_names(indices, "logs", None)
    assert (names.source, names.rollover) == ("logs-000001", "logs-000002")
    assert resolve_rollover_names(indices, "logs", "other").rollover == "other"


def test_an_alias_of_several_indices_rolls_over_from_its_write_index():
    indices = {"logs-000001": an_index("logs-000001", logs={"is_write_index": False}),
               "logs-000002": an_index("logs-000002", logs={"is_write_index": True})}
    assert resolve_rollover_names(indices, "logs", None).source == "logs-000002"


def test_the_new_name_comes_from_the_provided_name():
    old = an_index("logs-000001", logs={})
    old = old.with_settings({**old.settings, "index.provided_name": "logs-000007"})
    assert resolve_rollover_names({"logs-000001": old}, "logs", None).rollover == "logs-000008"


@pytest.mark.parametrize("indices", [
    {"a-1": an_index("a-1", logs={}), "b-1": an_index("b-1", logs={})},
    {"a-1": an_index("a-1", logs={"is_write_index": False})},
])
def test_an_alias_without_a_write_index_cannot_roll_over(indices):
    with pytest.raises(IllegalArgument, match=r"^rollover target \[logs\] does not point to a write index$"):
        resolve_rollover_names(indices, "logs", None)


def test_the_target_must_be_an_existing_alias():
    indices = {"logs-000001": an_index("logs-000001", logs={})}
    with pytest.raises(RolloverTargetMissing, match=r"rollover target \[nope\] does not exist") as e:
        resolve_rollover_names(indices, "nope", None)
    assert (e.value.type, e.value.status) == ("resource_not_found_exception", 404)
    with pytest.raises(IllegalArgument, match=r"rollover target is a \[concrete index\] but one of "
                                              r"\[alias,data_stream\] was expected"):
        resolve_rollover_names(indices, "logs-000001", None)


def test_the_new_name_must_be_free_and_valid():
    indices = {"logs-000001": an_index("logs-000001", logs={})}
    with pytest.raises(ResourceAlreadyExists, match=r"index \[logs-000001/uuid-logs-000001\] already exists"):
        check_new_index_name("logs-000001", indices)
    with pytest.raises(InvalidIndexName, match=r"Invalid index name \[logs\], already exists as alias"):
        check_new_index_name("logs", indices)
    with pytest.raises(InvalidIndexName, match="must be lowercase"):
        check_new_index_name("Logs-2", indices)


# -- conditions ---------------------------------------------------------------------------------


def test_condition_keys_print_values_as_timevalue_and_bytesizevalue_do():
    keys = [Condition(name=n, value=v).key for n, v in [
        ("max_age", 7 * DAY), ("max_age", 90 * 60_000), ("min_age", 1500), ("max_docs", 5),
        ("max_size", 5 << 30), ("max_primary_shard_size", 1536), ("min_primary_shard_docs", 0)]]
    assert keys == ["[max_age: 7d]", "[max_age: 1.5h]", "[min_age: 1.5s]", "[max_docs: 5]", "[max_size: 5gb]",
                    "[max_primary_shard_size: 1.5kb]", "[min_primary_shard_docs: 0]"]


def test_each_condition_holds_at_or_past_its_value():
    stats = ConditionStats(num_docs=10, index_created=NOW - 2 * DAY, index_size=1000,
                           max_primary_shard_size=600, max_primary_shard_docs=7)
    conditions = [Condition(name=n, value=v) for n, v in [
        ("max_docs", 10), ("max_docs", 11), ("max_age", 2 * DAY), ("min_age", 3 * DAY), ("max_size", 1000),
        ("min_size", 1001), ("max_primary_shard_size", 600), ("min_primary_shard_docs", 8)]]
    assert evaluate_conditions(conditions, stats, NOW) == {
        "[max_docs: 10]": True, "[max_docs: 11]": False, "[max_age: 2d]": True, "[min_age: 3d]": False,
        "[max_size: 1000b]": True, "[min_size: 1001b]": False, "[max_primary_shard_size: 600b]": True,
        "[min_primary_shard_docs: 8]": False}
    assert evaluate_conditions(conditions[:1], None, NOW) == {"[max_docs: 10]": False}


def test_conditions_are_met_by_all_min_and_any_max():
    conditions = [Condition(name="max_docs", value=5), Condition(name="max_age", value=DAY),
                  Condition(name="min_docs", value=1)]
    keys = [c.key for c in conditions]
    assert conditions_met([], {})
    assert conditions_met(conditions, dict(zip(keys, [False, True, True], strict=True)))
    assert not conditions_met(conditions, dict(zip(keys, [True, True, False], strict=True)))
    assert not conditions_met(conditions, dict(zip(keys, [False, False, True], strict=True)))


def test_min_conditions_need_a_max_condition():
    validate_conditions([Condition(name="max_docs", value=5), Condition(name="min_docs", value=1)])
    with pytest.raises(ActionRequestValidation, match="at least one max_\\* rollover condition must be set "
                                                      "when using min_\\* conditions"):
        validate_conditions([Condition(name="min_docs", value=1)])


def test_lazy_is_refused_for_aliases_in_transport_rollover_actions_words():
    assert str(lazy_refusal([])) == ("Lazy rollover can be applied only on a data stream. Please remove the "
                                     "query parameter 'lazy'.")
    assert "with no conditions" in str(lazy_refusal([Condition(name="max_docs", value=1)]))


def test_stats_come_from_the_primaries():
    def copy(docs, size):
        return ShardCopyStats(index="i", index_uuid="u", shard=0, state="STARTED", path="p", primary=True,
                              figures={"docs": docs, "store_bytes": size})

    stats = condition_stats(an_index("i", created=123), [copy(4, 100), copy(None, 50), None, copy(9, 30)])
    assert stats == ConditionStats(num_docs=13, index_created=123, index_size=180, max_primary_shard_size=100,
                                   max_primary_shard_docs=9)


# -- the request body ---------------------------------------------------------------------------


def test_the_body_gives_conditions_and_the_new_index_body():
    raw = (b'{"conditions": {"max_age": "7d", "max_docs": "5", "max_size": "1gb", '
           b'"min_primary_shard_docs": 2}, "settings": {"number_of_replicas": 0}, "aliases": {"extra": {}}}')
    conditions, create = parse_rollover_body(raw)
    assert [(c.name, c.value) for c in conditions] == [
        ("max_age", 7 * DAY), ("max_docs", 5), ("max_size", 1 << 30), ("min_primary_shard_docs", 2)]
    assert create == {"settings": {"number_of_replicas": 0}, "aliases": {"extra": {}}}


def test_body_faults_are_located_as_object_parser_reports_them():
    with pytest.raises(XContentParseError) as e:
        parse_rollover_body(b'{\n  "conditions": {\n    "max_docs": 1,\n    "bogus": 2}}')
    assert str(e.value) == "[2:17] [rollover] failed to parse field [conditions]"
    assert str(e.value.__cause__ or e.value.caused_by) == "[4:5] [rollover_conditions] unknown field [bogus]"
    with pytest.raises(XContentParseError, match=r"^\[1:2\] \[rollover\] unknown field \[nope\]"):
        parse_rollover_body(b'{"nope": 1}')
    with pytest.raises(XContentParseError) as e:
        parse_rollover_body(b'{"conditions": {"max_age": 7}}')
    assert str(e.value.caused_by) == "[1:28] [rollover_conditions] max_age doesn't support values of type: " \
                                     "VALUE_NUMBER"
    with pytest.raises(XContentParseError) as e:
        parse_rollover_body(b'{"conditions": {"max_size": "5 parsecs"}}')
    inner = e.value.caused_by
    assert str(inner) == "[1:29] [rollover_conditions] failed to parse field [max_size]"
    assert inner.caused_by.type == "parse_exception"


def test_the_response_is_printed_in_rollover_responses_field_order():
    body = render_rollover(RolloverResponse(old_index="a-1", new_index="a-000002",
                                            conditions={"[max_docs: 1]": True}, dry_run=True))
    assert list(body) == ["acknowledged", "shards_acknowledged", "old_index", "new_index", "rolled_over",
                          "dry_run", "lazy", "conditions"]
    assert body["acknowledged"] is False and body["dry_run"] is True


# -- the cluster state update -------------------------------------------------------------------


def test_an_explicit_write_alias_stays_on_the_old_index_marked_false():
    content = content_of(an_index("logs-000001", logs={"is_write_index": True, "filter": {"match_all": {}}}),
                         an_index("logs-000000", logs={"is_write_index": False}))
    updated, names, results = rollover_index(content, request(max_docs=1), {
        "logs-000001": ConditionStats(num_docs=1)}, NOW)
    assert (names.source, names.rollover, results) == ("logs-000001", "logs-000002", {"[max_docs: 1]": True})
    indices = updated.metadata.indices
    assert dict(indices["logs-000002"].aliases) == {"logs": {"is_write_index": True}}
    # added afresh, as ES's AliasAction.Add does: the old definition's filter is not kept
    assert dict(indices["logs-000001"].aliases) == {"logs": {"is_write_index": False}}
    assert dict(indices["logs-000000"].aliases) == {"logs": {"is_write_index": False}}


def test_an_implicit_write_alias_moves_to_the_new_index():
    content = content_of(an_index("logs-000001", logs={"is_hidden": True}))
    updated, _, _ = rollover_index(content, request(), {}, NOW)
    indices = updated.metadata.indices
    assert dict(indices["logs-000002"].aliases) == {"logs": {"is_hidden": True}}
    assert dict(indices["logs-000001"].aliases) == {}
    assert updated.metadata.version > content.metadata.version


def test_the_body_makes_the_new_index_as_index_creation_would():
    content = content_of(an_index("logs-000001", logs={}))
    body = {"settings": {"number_of_shards": 3}, "mappings": {"properties": {"n": {"type": "long"}}},
            "aliases": {"extra": {}}}
    updated, _, _ = rollover_index(content, request(new_index="fresh", body=body), {}, NOW)
    new = updated.metadata.indices["fresh"]
    assert new.number_of_shards == 3
    assert new.mappings == {"properties": {"n": {"type": "long"}}}
    assert set(new.aliases) == {"extra", "logs"}
    assert new.settings["index.provided_name"] == "fresh"


def test_unmet_conditions_leave_the_content_as_it_is():
    content = content_of(an_index("logs-000001", logs={}))
    stats = {"logs-000001": ConditionStats(num_docs=4)}
    updated, _, results = rollover_index(content, request(max_docs=5), stats, NOW)
    assert updated is content and results == {"[max_docs: 5]": False}


def test_an_existing_new_index_fails_the_update():
    content = content_of(an_index("logs-000001", logs={}), an_index("logs-000002"))
    with pytest.raises(ResourceAlreadyExists):
        rollover_index(content, request(), {}, NOW)


def test_templates_apply_to_the_new_index():
    base = put_component_template(EMPTY_CONTENT, "shards", parse_component_template(
        {"template": {"settings": {"number_of_shards": 2}}}))
    base = put_index_template(base, "logs", parse_index_template({"index_patterns": ["logs-*"],
                                                                  "composed_of": ["shards"]}))
    content = content_of(an_index("logs-000001", logs={}), content=base)
    updated, _, _ = rollover_index(content, request(), {}, NOW)
    assert updated.metadata.indices["logs-000002"].number_of_shards == 2


def test_a_template_that_would_add_the_rollover_alias_too_is_refused():
    base = put_index_template(EMPTY_CONTENT, "logs", parse_index_template({
        "index_patterns": ["logs-*"], "template": {"aliases": {"logs": {}, "other": {}}}}))
    content = content_of(an_index("logs-000001", logs={}), content=base)
    with pytest.raises(IllegalArgument, match=r"^Rollover alias \[logs\] can point to multiple indices, "
                                              r"found duplicated alias \[\[logs, other\]\] in index "
                                              r"template \[logs\]$"):
        rollover_index(content, request(), {}, NOW)
