"""`GET /_resolve/index/{name}` as a pure function of the indices: names and wildcards
resolve to indices and aliases (an alias is not replaced by its indices), as
ResolveIndexAction resolves them with IndexNameExpressionResolver.resolveExpressions."""

from __future__ import annotations

import pytest

from strata_node.action.resolve import IndicesOptions
from strata_node.action.resolve_index import resolve_abstractions, resolve_index
from strata_node.common.errors import IndexNotFound, InvalidIndexName
from strata_node.index.aliases import AliasLookup
from strata_node.index.metadata import IndexMetadata


def an_index(name: str, state: str = "open", hidden: bool = False, **aliases) -> IndexMetadata:
    settings = {"index.number_of_shards": "1", **({"index.hidden": "true"} if hidden else {})}
    return IndexMetadata(name, f"uuid-{name}", settings, {}, aliases, state=state)


@pytest.fixture
def lookup() -> AliasLookup:
    """The setup of Elasticsearch's 10_basic_resolve_index.yml, plus hidden ones."""
    indices = [an_index("test_index1", test_alias={}, test_blias={}, test_clias={}),
               an_index("test_index2", state="close", test_alias={}),
               an_index("test_index3", test_blias={}),
               an_index(".hidden_index", hidden=True, hidden_alias={"is_hidden": True})]
    return AliasLookup.of({m.name: m for m in indices})


def options(expand_wildcards: str = "open", **kwargs) -> IndicesOptions:
    return IndicesOptions(expand_wildcards=expand_wildcards, **kwargs)


def as_dict(response) -> dict:
    return {"indices": [(i.name, i.aliases, i.attributes) for i in response.indices],
            "aliases": [(a.name, a.indices) for a in response.aliases]}


def test_a_wildcard_lists_open_indices_and_every_matching_alias(lookup):
    assert as_dict(resolve_index(["*"], lookup, options())) == {
        "indices": [("test_index1", ["test_alias", "test_blias", "test_clias"], ["open"]),
                    ("test_index3", ["test_blias"], ["open"])],
        "aliases": [("test_alias", ["test_index1", "test_index2"]),
                    ("test_blias", ["test_index1", "test_index3"]), ("test_clias", ["test_index1"])]}


def test_expand_wildcards_all_adds_closed_and_hidden_ones(lookup):
    response = as_dict(resolve_index(["*", "-test_c*"], lookup, options("all")))
    assert response["indices"] == [(".hidden_index", ["hidden_alias"], ["hidden", "open"]),
                                   ("test_index1", ["test_alias", "test_blias", "test_clias"], ["open"]),
                                   ("test_index2", ["test_alias"], ["closed"]),
                                   ("test_index3", ["test_blias"], ["open"])]
    assert [a for a, _ in response["aliases"]] == ["hidden_alias", "test_alias", "test_blias"]


def test_a_dot_pattern_reaches_dot_hidden_names(lookup):
    assert resolve_abstractions([".h*"], lookup, options()) == [".hidden_index"]
    assert resolve_abstractions(["hidden*"], lookup, options()) == []
    assert resolve_abstractions(["hidden*"], lookup, options("open,hidden")) == ["hidden_alias"]


def test_names_outright_must_exist_unless_ignore_unavailable(lookup):
    named = ["test_alias", "test_index2"]  # a closed index named outright is resolved
    assert resolve_abstractions(named, lookup, options()) == named
    with pytest.raises(IndexNotFound, match=r"no such index \[nope\]"):
        resolve_abstractions(["test_alias", "nope"], lookup, options())
    assert resolve_abstractions(["nope", "test_index3"], lookup, options(ignore_unavailable=True)) == [
        "test_index3"]


def test_allow_no_indices_false_refuses_a_wildcard_matching_nothing(lookup):
    assert resolve_abstractions(["nope*"], lookup, options()) == []
    with pytest.raises(IndexNotFound, match=r"no such index \[nope\*\]"):
        resolve_abstractions(["test*", "nope*"], lookup, options(allow_no_indices=False))


def test_exclusions_count_only_after_a_wildcard(lookup):
    assert resolve_abstractions(["test_*", "-test_index1", "-test_?lias"], lookup, options()) == [
        "test_index3", "test_alias", "test_blias", "test_clias"]
    with pytest.raises(IndexNotFound, match=r"no such index \[-test_index1\]"):
        resolve_abstractions(["-test_index1", "test_*"], lookup, options())


def test_underscore_names_and_wildcards_without_expansion(lookup):
    with pytest.raises(InvalidIndexName, match=r"Invalid index name \[_all\], must not start with '_'."):
        resolve_abstractions(["test_index1", "_all"], lookup, options())
    assert resolve_abstractions(["_all"], lookup, options()) == resolve_abstractions(["*"], lookup, options())
    with pytest.raises(IndexNotFound, match=r"no such index \[test\*\]"):
        resolve_abstractions(["test*"], lookup, options("none"))
