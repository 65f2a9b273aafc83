"""The pure alias logic: definitions, the atomic update of `POST /_aliases`, and how
expressions naming aliases resolve (to indices, write index, routing and filters)."""

from __future__ import annotations

import pytest

from strata_node.action.index_admin import create_index, update_aliases
from strata_node.cluster.blocks import IndexBlocked
from strata_node.cluster.state import ClusterStateContent, Metadata
from strata_node.common.errors import (
    ActionRequestValidation,
    IllegalArgument,
    IllegalState,
    IndexNotFound,
    InvalidIndexName,
)
from strata_node.index import aliases
from strata_node.index.aliases import (
    AliasAction,
    AliasesNotFound,
    AliasLookup,
    InvalidAliasName,
    RequiredAliasMissing,
)
from strata_node.index.metadata import IndexMetadata
from strata_node.search.alias_filter import validate_alias_filter


def an_index(name: str, mappings: dict | None = None, settings: dict | None = None,
             **alias_definitions) -> IndexMetadata:
    return IndexMetadata(name, f"uuid-{name}", {"index.number_of_shards": "2", **(settings or {})},
                         mappings or {}, alias_definitions)


def content_of(*indices: IndexMetadata) -> ClusterStateContent:
    return ClusterStateContent(metadata=Metadata(cluster_uuid="u", indices={m.name: m for m in indices}))


def add(indices, alias, **definition) -> AliasAction:
    return AliasAction("add", tuple(indices), (alias,), definition)


def remove(indices, alias, must_exist=None) -> AliasAction:
    return AliasAction("remove", tuple(indices), (alias,), must_exist=must_exist)


# -- definitions ------------------------------------------------------------------------------


def test_routing_sets_both_routings_and_explicit_ones_win():
    assert aliases.parse_definition("a", {"routing": 1}) == {"index_routing": "1", "search_routing": "1"}
    assert aliases.parse_definition("a", {"routing": "1", "search_routing": "2,3"}) == {
        "index_routing": "1", "search_routing": "2,3"}


def test_definition_keeps_only_what_was_set():
    assert aliases.parse_definition("a", None) == {}
    assert aliases.parse_definition("a", {"is_write_index": False, "filter": {"term": {"t": "x"}}}) == {
        "filter": {"term": {"t": "x"}}, "is_write_index": False}


def test_index_routing_with_several_values_is_refused():
    with pytest.raises(IllegalArgument, match=r"alias \[a\] has several index routing values"):
        aliases.parse_definition("a", {"index_routing": "1,2"})


@pytest.mark.parametrize("name", ["_a", "a*b", "a,b", "a#b", ".."])
def test_alias_names_follow_the_index_name_rules(name):
    with pytest.raises(InvalidAliasName, match=rf"Invalid alias name \[{name.replace('*', '[*]')}\]: "):
        aliases.validate_alias_name(name)


def test_create_aliases_may_not_be_named_as_the_index():
    with pytest.raises(InvalidAliasName, match="an index or data stream exists with the same name"):
        aliases.parse_create_aliases("logs", {"logs": {}})


# -- parsing actions --------------------------------------------------------------------------


def test_actions_without_index_or_alias_fail_validation_together():
    with pytest.raises(ActionRequestValidation) as raised:
        aliases.parse_actions({"actions": [{"add": {}}]})
    assert raised.value.errors == ["One of [index] or [indices] is required",
                                   "One of [alias] or [aliases] is required"]


def test_no_actions_is_refused():
    with pytest.raises(ActionRequestValidation, match="Must specify at least one alias action"):
        aliases.parse_actions({"actions": []})


def test_comma_lists_and_arrays_are_both_names():
    [action] = aliases.parse_actions({"actions": [{"add": {"indices": ["a", "b,c"], "alias": "x"}}]})
    assert action.indices == ("a", "b", "c") and action.aliases == ("x",)


def test_an_alias_name_is_taken_whole_and_a_comma_in_it_is_refused_by_the_name_rules():
    [action] = aliases.parse_actions({"actions": [{"add": {"index": "a", "alias": "x,y"}}]})
    assert action.aliases == ("x,y",)
    with pytest.raises(InvalidAliasName, match=r"^Invalid alias name \[x,y\]: must not contain"):
        aliases.apply_actions({"a": an_index("a")}, [action])


def test_put_alias_reads_its_body_as_rest_index_put_alias_action_does():
    action = aliases.put_alias_action(["i"], "al", {
        "indexRouting": 1, "search-routing": "2,3", "is_write_index": "true", "is_hidden": True,
        "must_exist": True, "bogus": {"x": 1}, "filter": {"term": {"t": "x"}}, "routing": None})
    assert action == {"indices": ["i"], "aliases": ["al"], "index_routing": "1", "search_routing": "2,3",
                      "is_write_index": True, "filter": {"term": {"t": "x"}}}
    [parsed] = aliases.parse_actions({"actions": [{"add": action}]})
    assert aliases.parse_definition("al", parsed.definition) == {
        "filter": {"term": {"t": "x"}}, "index_routing": "1", "search_routing": "2,3", "is_write_index": True}


def test_put_alias_body_keys_count_wherever_the_token_walk_meets_them():
    """Nested objects are walked into (only `filter` is read whole), array values each
    overwrite the last, `index` and `alias` replace the path's, a non-object body is no
    definition at all."""
    action = aliases.put_alias_action(["i"], "al", {"x": {"routing": "r"}, "index": "j,k", "alias": "other",
                                                    "search_routing": ["a", "b"]})
    assert action == {"indices": ["j", "k"], "aliases": ["other"], "routing": "r", "search_routing": "b"}
    assert aliases.put_alias_action(["i"], "al", [1, {"routing": 2}]) == {
        "indices": ["i"], "aliases": ["al"], "routing": "2"}
    assert aliases.put_alias_action(["i"], "al", None) == {"indices": ["i"], "aliases": ["al"]}
    with pytest.raises(IllegalArgument, match="as only \\[true\\] or \\[false\\] are allowed"):
        aliases.put_alias_action(["i"], "al", {"is_write_index": 1})


# -- the update -------------------------------------------------------------------------------


def test_all_actions_apply_in_one_update_and_bump_aliases_version():
    content = content_of(an_index("a"), an_index("b"))
    new = update_aliases(content, [add(["a"], "x"), add(["a", "b"], "y", routing="1")])
    a, b = new.metadata.indices["a"], new.metadata.indices["b"]
    assert a.aliases == {"x": {}, "y": {"index_routing": "1", "search_routing": "1"}}
    assert b.aliases == {"y": {"index_routing": "1", "search_routing": "1"}}
    assert (a.aliases_version, b.aliases_version) == (2, 2)
    assert new.metadata.version == content.metadata.version + 1


def test_a_failing_action_leaves_the_state_untouched():
    content = content_of(an_index("a"))
    with pytest.raises(IndexNotFound):
        update_aliases(content, [add(["a"], "x"), add(["missing"], "y")])
    assert content.metadata.indices["a"].aliases == {}


def test_an_update_that_changes_nothing_keeps_the_state():
    content = content_of(an_index("a", x={}))
    assert update_aliases(content, [add(["a"], "x")]) is content


def test_alias_named_as_an_index_is_refused():
    with pytest.raises(InvalidAliasName, match=r"Invalid alias name \[b\]: an index or data stream exists"):
        update_aliases(content_of(an_index("a"), an_index("b")), [add(["a"], "b")])


def test_two_write_indices_for_one_alias_are_an_illegal_state_as_elasticsearch_s_metadata_builder_says():
    content = content_of(an_index("a", w={"is_write_index": True}), an_index("b"))
    with pytest.raises(IllegalState, match=r"alias \[w\] has more than one write index \[a,b\]") as raised:
        update_aliases(content, [add(["b"], "w", is_write_index=True)])
    assert (raised.value.type, raised.value.status) == ("illegal_state_exception", 500)


def test_moving_the_write_index_in_one_request_succeeds():
    content = content_of(an_index("a", w={"is_write_index": True}), an_index("b"))
    new = update_aliases(content, [add(["a"], "w", is_write_index=False),
                                   add(["b"], "w", is_write_index=True)])
    assert AliasLookup.of(new.metadata.indices).write_index("w") == "b"


def test_remove_of_a_missing_alias_is_aliases_not_found():
    with pytest.raises(AliasesNotFound, match=r"aliases \[x\] missing"):
        update_aliases(content_of(an_index("a")), [remove(["a"], "x")])


def test_a_request_whose_every_action_does_nothing_fails_naming_every_alias():
    with pytest.raises(AliasesNotFound, match=r"aliases \[x, y\] missing"):
        update_aliases(content_of(an_index("a")), [remove(["a"], "x"), remove(["a"], "y")])


def test_a_remove_that_matches_nothing_fails_in_its_result_and_the_other_actions_apply():
    content = content_of(an_index("a", x={}), an_index("b"))
    results: list[aliases.ActionResult] = []
    new = update_aliases(content, [remove(["a", "b"], "x"), remove(["a"], "nope"), add(["b"], "y")], results)
    assert new.metadata.indices["a"].aliases == {} and new.metadata.indices["b"].aliases == {"y": {}}
    assert [(r.action.type, r.indices, r.error) for r in results[::2]] == [("remove", ["a", "b"], None),
                                                                           ("add", ["b"], None)]
    assert isinstance(results[1].error, AliasesNotFound)
    assert results[1].error.reason == "aliases [nope] missing"


def test_a_remove_matches_the_aliases_the_request_started_with():
    results: list[aliases.ActionResult] = []
    new = update_aliases(content_of(an_index("a")), [add(["a"], "x"), remove(["a"], "x")], results)
    assert new.metadata.indices["a"].aliases == {"x": {}}
    assert isinstance(results[1].error, AliasesNotFound)


def test_remove_with_must_exist_needs_the_alias_on_every_index():
    content = content_of(an_index("a", x={}), an_index("b"))
    with pytest.raises(RequiredAliasMissing, match=r"^required alias \[x\] does not exist$") as raised:
        update_aliases(content, [remove(["a", "b"], "x", must_exist=True)])
    assert (raised.value.type, raised.value.status) == ("resource_not_found_exception", 404)
    assert update_aliases(content, [remove(["a", "b"], "x")]).metadata.indices["a"].aliases == {}


def test_must_exist_fails_the_request_even_when_other_actions_would_apply():
    content = content_of(an_index("a", x={}), an_index("b"))
    with pytest.raises(RequiredAliasMissing, match=r"required alias \[y\] does not exist"):
        update_aliases(content, [remove(["a"], "x"), remove(["b"], "y", must_exist=True)])


@pytest.mark.parametrize("block", ["index.blocks.read_only", "index.blocks.metadata",
                                   "index.blocks.read_only_allow_delete"])
@pytest.mark.parametrize("action", [add(["g"], "y"), remove(["g"], "x"),
                                    AliasAction("remove_index", ("b*",))])
def test_a_metadata_write_block_on_any_index_an_action_resolves_to_refuses_the_request(block, action):
    content = content_of(an_index("a", x={}, g={}), an_index("b", settings={block: "true"}, x={}, g={}))
    with pytest.raises(IndexBlocked, match=r"index \[b\] blocked by: "):
        update_aliases(content, [add(["a"], "z"), action])
    assert content.metadata.indices["a"].aliases == {"x": {}, "g": {}}


def test_a_write_block_leaves_alias_changes_alone():
    content = content_of(an_index("a", settings={"index.blocks.write": "true"}))
    assert update_aliases(content, [add(["a"], "x")]).metadata.indices["a"].aliases == {"x": {}}


def test_remove_matches_alias_wildcards():
    content = content_of(an_index("a", x1={}, x2={}, y={}))
    assert update_aliases(content, [remove(["a"], "x*")]).metadata.indices["a"].aliases == {"y": {}}


def test_remove_index_then_alias_of_its_name_in_one_request():
    content = content_of(an_index("old"), an_index("new"))
    new = update_aliases(content, [AliasAction("remove_index", ("old",)), add(["new"], "old")])
    assert set(new.metadata.indices) == {"new"}
    assert new.metadata.indices["new"].aliases == {"old": {}}


def test_remove_index_refuses_an_alias():
    with pytest.raises(IllegalArgument, match=r"The provided expression \[x\] matches an alias"):
        update_aliases(content_of(an_index("a", x={})), [AliasAction("remove_index", ("x",))])


def test_add_through_an_alias_expression_reaches_its_indices():
    content = content_of(an_index("a", g={}), an_index("b", g={}), an_index("c"))
    new = update_aliases(content, [add(["g"], "h")])
    assert [n for n, m in new.metadata.indices.items() if "h" in m.aliases] == ["a", "b"]


def test_filter_is_checked_against_the_mapping():
    content = content_of(an_index("a", {"properties": {"n": {"type": "integer"}}}))
    with pytest.raises(IllegalArgument, match=r"failed to parse filter for alias \[f\]") as raised:
        update_aliases(content, [add(["a"], "f", filter={"term": {"n": "not a number"}})])
    assert raised.value.caused_by is not None
    validate_alias_filter("f", {"term": {"n": 5}}, content.metadata.indices["a"])


def test_new_index_may_not_take_an_alias_name():
    content = content_of(an_index("a", x={}))
    with pytest.raises(InvalidIndexName, match=r"Invalid index name \[x\], already exists as alias"):
        create_index(content, an_index("x"))


# -- resolution -------------------------------------------------------------------------------


def lookup_of(*indices: IndexMetadata) -> AliasLookup:
    return AliasLookup.of({m.name: m for m in indices})


def test_an_alias_resolves_to_its_indices_and_wildcards_match_aliases():
    lookup = lookup_of(an_index("a", g={}), an_index("b", g={}), an_index("c"))
    assert aliases.resolve("g", lookup).names == ["a", "b"]
    assert aliases.resolve("g*", lookup).names == ["a", "b"]
    assert aliases.resolve("g,-b", lookup).names == ["a"]


def test_without_allow_no_indices_every_wildcard_must_match_and_nothing_is_not_found():
    lookup = lookup_of(an_index("a", g={}), an_index("b"))
    assert aliases.resolve("a,x*", lookup).names == ["a"]
    with pytest.raises(IndexNotFound, match=r"^no such index \[x\*\]$"):
        aliases.resolve("a,x*", lookup, allow_no_indices=False)
    assert aliases.resolve("a,g*", lookup, allow_no_indices=False).names == ["a"]
    with pytest.raises(IndexNotFound, match=r"^no such index \[_all\] and no indices exist$"):
        aliases.resolve(None, lookup_of(), allow_no_indices=False)
    with pytest.raises(IndexNotFound, match=r"^no such index \[null\]$") as e:
        aliases.resolve("x,y", lookup, ignore_unavailable=True, allow_no_indices=False)
    assert e.value.metadata == {"resource.type": "index_expression", "resource.id": ["x", "y"]}


def test_a_dot_prefixed_index_is_hidden_only_when_index_hidden_says_so():
    hidden = an_index(".secret", settings={"index.hidden": "true"})
    lookup = lookup_of(an_index(".dot"), hidden, an_index("a"))
    assert aliases.resolve("*", lookup).names == [".dot", "a"]
    assert aliases.resolve("_all", lookup).names == [".dot", "a"]
    assert aliases.resolve("*t", lookup).names == [".dot"]
    assert aliases.resolve(".*", lookup).names == [".dot", ".secret"]  # a dot pattern reaches hidden ones


def test_hidden_aliases_are_left_out_of_wildcards_unless_asked_for():
    lookup = lookup_of(an_index("a", h={"is_hidden": True}))
    assert aliases.resolve("h*", lookup).names == []
    assert aliases.resolve("h*", lookup, expand_wildcards="open,hidden").names == ["a"]
    assert aliases.resolve("h", lookup).names == ["a"]


def test_write_index_is_the_marked_one_or_the_only_one():
    lookup = lookup_of(an_index("a", w={}, two={}, off={"is_write_index": False}),
                       an_index("b", two={"is_write_index": True}), an_index("c", none={}),
                       an_index("d", none={}))
    assert lookup.write_index("w") == "a"
    assert lookup.write_index("two") == "b"
    assert lookup.write_index("off") is None
    with pytest.raises(IllegalArgument, match=r"no write index is defined for alias \[none\]"):
        lookup.require_write_index("none")


def test_single_index_operations_refuse_an_alias_of_several_indices():
    lookup = lookup_of(an_index("a", g={}), an_index("b", g={}))
    with pytest.raises(IllegalArgument, match=r"alias \[g\] has more than one index associated with it "
                                              r"\[a, b\]"):
        lookup.single_index("g")


def test_index_routing_may_only_be_repeated_by_the_request():
    lookup = lookup_of(an_index("a", r={"index_routing": "1"}))
    assert lookup.index_routing("r", "a", None) == "1"
    assert lookup.index_routing("r", "a", "1") == "1"
    with pytest.raises(IllegalArgument, match=r"Alias \[r\] has index routing associated with it \[1\], "
                                              r"and was provided with routing value \[2\], rejecting "
                                              r"operation"):
        lookup.index_routing("r", "a", "2")


def test_search_routing_intersects_with_the_request_routing():
    lookup = lookup_of(an_index("a", r={"search_routing": "1,2"}), an_index("b"))
    assert aliases.search_routing(aliases.resolve("r", lookup), lookup, None) == {"a": "1,2"}
    assert aliases.search_routing(aliases.resolve("r", lookup), lookup, "2,3") == {"a": "2"}
    assert aliases.search_routing(aliases.resolve("r,b", lookup), lookup, "3") == {"a": None, "b": "3"}


def test_an_index_named_itself_is_searched_unfiltered():
    f = {"term": {"t": "x"}}
    lookup = lookup_of(an_index("a", f={"filter": f}, g={"filter": {"term": {"t": "y"}}}, plain={}))
    assert aliases.alias_filter(aliases.resolve("f", lookup), lookup, "a") == f
    assert aliases.alias_filter(aliases.resolve("f,a", lookup), lookup, "a") is None
    assert aliases.alias_filter(aliases.resolve("f,plain", lookup), lookup, "a") is None
    assert aliases.alias_filter(aliases.resolve("f,g", lookup), lookup, "a") == {
        "bool": {"should": [f, {"term": {"t": "y"}}]}}


def test_aliases_and_their_version_survive_the_index_metadata_file():
    metadata = an_index("a").with_aliases({"x": {"is_write_index": True}})
    restored = IndexMetadata.from_json(metadata.to_json())
    assert restored.aliases == {"x": {"is_write_index": True}}
    assert (restored.aliases_version, restored.version) == (2, 2)
