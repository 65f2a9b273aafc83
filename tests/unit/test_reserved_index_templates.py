"""The `index_templates` reserved state handler: a pure transform of the cluster state
content that reconciles the templates to what the settings file declares, returning the
keys it reserves; and the API refusing changes to those keys."""

from __future__ import annotations

import msgspec
import pytest

from strata_node.cluster.state import EMPTY_CONTENT, ClusterStateContent
from strata_node.common.errors import IllegalArgument, StrataError
from strata_node.index.templates.metadata import parse_component_template, parse_index_template
from strata_node.index.templates.updates import (
    delete_component_templates,
    delete_index_templates,
    put_component_template,
    put_index_template,
)
from strata_node.reservedstate.index_templates import INDEX_TEMPLATES_HANDLER, IndexTemplatesHandler
from strata_node.reservedstate.metadata import ReservedStateMetadata

HANDLER = INDEX_TEMPLATES_HANDLER
COMPONENT = {
    "template": {"settings": {"number_of_shards": 2}, "mappings": {"properties": {"a": {"type": "long"}}}}
}
INDEX_TEMPLATE = {"index_patterns": ["logs-*"], "composed_of": ["base"], "priority": 100}
SOURCE = {"component_templates": {"base": COMPONENT}, "composable_index_templates": {"logs": INDEX_TEMPLATE}}
KEYS = frozenset({"component_template:base", "composable_index_template:logs"})


def reserved(content: ClusterStateContent, keys: frozenset[str]) -> ClusterStateContent:
    """The content as the service leaves it after applying the handler's result."""
    state = ReservedStateMetadata("file_settings", 1, {HANDLER.name: tuple(sorted(keys))})
    metadata = msgspec.structs.replace(content.metadata, reserved_state={"file_settings": state})
    return msgspec.structs.replace(content, metadata=metadata)


def test_handler_contract():
    assert isinstance(HANDLER, IndexTemplatesHandler)
    assert HANDLER.name == "index_templates"
    assert HANDLER.dependencies() == ()
    assert HANDLER.optional_dependencies() == ()


def test_adds_component_templates_before_the_index_templates_composed_of_them():
    result = HANDLER.transform(SOURCE, EMPTY_CONTENT, frozenset())
    assert result.keys == KEYS
    metadata = result.content.metadata
    assert metadata.component_templates == {"base": parse_component_template(COMPONENT)}
    assert metadata.index_templates == {"logs": parse_index_template(INDEX_TEMPLATE)}


def test_updates_a_template_in_place():
    first = HANDLER.transform(SOURCE, EMPTY_CONTENT, frozenset())
    changed = {**SOURCE, "component_templates": {"base": {"template": {"settings": {"number_of_shards": 5}}}}}
    second = HANDLER.transform(changed, reserved(first.content, first.keys), first.keys)
    assert second.keys == KEYS
    assert second.content.metadata.component_templates["base"].template.settings == {
        "index.number_of_shards": "5"
    }


def test_the_same_file_again_changes_nothing():
    first = HANDLER.transform(SOURCE, EMPTY_CONTENT, frozenset())
    again = HANDLER.transform(SOURCE, first.content, first.keys)
    assert again.content is first.content


def test_drops_what_the_file_no_longer_names_index_templates_first():
    first = HANDLER.transform(SOURCE, EMPTY_CONTENT, frozenset())
    result = HANDLER.transform({}, reserved(first.content, first.keys), first.keys)
    assert result.keys == frozenset()
    assert result.content.metadata.component_templates == {}
    assert result.content.metadata.index_templates == {}


def test_drops_one_template_and_keeps_the_rest():
    source = {
        "component_templates": {"base": COMPONENT, "extra": {"template": {}}},
        "composable_index_templates": {"logs": INDEX_TEMPLATE},
    }
    first = HANDLER.transform(source, EMPTY_CONTENT, frozenset())
    result = HANDLER.transform(SOURCE, reserved(first.content, first.keys), first.keys)
    assert result.keys == KEYS
    assert set(result.content.metadata.component_templates) == {"base"}


def test_leaves_templates_it_never_reserved_alone():
    content = put_component_template(EMPTY_CONTENT, "api-made", parse_component_template({"template": {}}))
    result = HANDLER.transform(SOURCE, content, frozenset())
    assert set(result.content.metadata.component_templates) == {"api-made", "base"}
    emptied = HANDLER.transform({}, result.content, result.keys)
    assert set(emptied.content.metadata.component_templates) == {"api-made"}


def test_an_invalid_template_raises():
    broken = {"component_templates": {"base": {"template": {"settings": {"index.nonsense": 1}}}}}
    with pytest.raises(StrataError, match=r"unknown setting \[index.nonsense\]"):
        HANDLER.transform(broken, EMPTY_CONTENT, frozenset())


def test_an_index_template_naming_a_missing_component_raises():
    with pytest.raises(StrataError, match=r"specifies component templates \[base\] that do not exist"):
        HANDLER.transform(
            {"composable_index_templates": {"logs": INDEX_TEMPLATE}}, EMPTY_CONTENT, frozenset()
        )


def test_a_component_an_api_made_index_template_uses_cannot_be_dropped():
    first = HANDLER.transform({"component_templates": {"base": COMPONENT}}, EMPTY_CONTENT, frozenset())
    content = put_index_template(
        reserved(first.content, first.keys),
        "api-made",
        parse_index_template({"index_patterns": ["a*"], "composed_of": ["base"]}),
    )
    with pytest.raises(IllegalArgument, match=r"component templates \[base\] cannot be removed"):
        HANDLER.transform({}, content, first.keys)


def test_unknown_sections_raise():
    with pytest.raises(IllegalArgument, match="unknown keys"):
        HANDLER.transform({"templates": {}}, EMPTY_CONTENT, frozenset())


def test_the_api_refuses_reserved_templates_and_lets_others_through():
    first = HANDLER.transform(SOURCE, EMPTY_CONTENT, frozenset())
    content = reserved(first.content, first.keys)
    with pytest.raises(IllegalArgument) as refused:
        put_component_template(content, "base", parse_component_template({"template": {}}))
    assert refused.value.reason == (
        "Failed to process request [put component template [base]] with errors: "
        "[[component_template:base] set as read-only by [file_settings]]"
    )
    with pytest.raises(IllegalArgument, match=r"\[composable_index_template:logs\] set as read-only"):
        put_index_template(content, "logs", parse_index_template({"index_patterns": ["x*"]}))
    with pytest.raises(IllegalArgument, match=r"\[composable_index_template:logs\] set as read-only"):
        delete_index_templates(content, ["l*"])
    with pytest.raises(IllegalArgument, match=r"\[component_template:base\] set as read-only"):
        delete_component_templates(content, ["base"])
    other = put_component_template(content, "other", parse_component_template({"template": {}}))
    assert set(other.metadata.component_templates) == {"base", "other"}
