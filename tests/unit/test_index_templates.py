"""Composable index templates and component templates as pure functions of the cluster
state content: reading bodies, the checks of a put or delete, which template a new index
gets, how it composes with the request, and what the simulate APIs answer."""

from __future__ import annotations

import msgspec
import pytest

from strata_node.cluster.state import EMPTY_CONTENT, ClusterStateContent
from strata_node.common.errors import ActionRequestValidation, IllegalArgument, IndexNotFound, StrataError
from strata_node.common.patterns import patterns_overlap
from strata_node.index.aliases import InvalidAliasName
from strata_node.index.templates.errors import IndexTemplateMissing, InvalidIndexTemplate, TemplateNotFound
from strata_node.index.templates.metadata import (
    parse_component_template,
    parse_index_template,
    render_component_template,
    render_index_template,
)
from strata_node.index.templates.resolve import (
    compose_create_body,
    find_template,
    merge_mappings,
    template_allows_auto_create,
)
from strata_node.index.templates.simulate import simulate_index, simulate_template
from strata_node.index.templates.updates import (
    delete_component_templates,
    delete_index_templates,
    put_component_template,
    put_index_template,
)


def with_component(content: ClusterStateContent, name: str, body: dict, **kwargs) -> ClusterStateContent:
    return put_component_template(content, name, parse_component_template(body), **kwargs)


def with_index_template(content: ClusterStateContent, name: str, body: dict, **kwargs) -> ClusterStateContent:
    return put_index_template(content, name, parse_index_template(body), **kwargs)


LOGS = {
    "index_patterns": ["logs-*"],
    "composed_of": ["shards", "replicas"],
    "priority": 10,
    "template": {
        "settings": {"refresh_interval": "5s"},
        "aliases": {"recent-logs": {"is_write_index": True}},
    },
}


@pytest.fixture
def logs() -> ClusterStateContent:
    """Two component templates and an index template composed of them, for `logs-*`."""
    content = with_component(
        EMPTY_CONTENT,
        "shards",
        {
            "template": {
                "settings": {"number_of_shards": 3, "index": {"refresh_interval": "1s"}},
                "mappings": {
                    "properties": {
                        "host": {"type": "keyword"},
                        "event": {"properties": {"id": {"type": "long"}}},
                    }
                },
                "aliases": {"all-logs": {}},
            }
        },
    )
    content = with_component(
        content,
        "replicas",
        {
            "template": {
                "settings": {"number_of_replicas": 0},
                "mappings": {
                    "properties": {
                        "host": {"type": "text"},
                        "event": {"properties": {"kind": {"type": "keyword"}}},
                    }
                },
            }
        },
    )
    return with_index_template(content, "logs", LOGS)


# -- reading and rendering --------------------------------------------------------------------


def test_component_template_settings_are_kept_flat_index_prefixed_strings_and_rendered_nested():
    template = parse_component_template(
        {"template": {"settings": {"number_of_shards": 2}}, "version": 3, "_meta": {"owner": "ops"}}
    )
    assert template.template.settings == {"index.number_of_shards": "2"}
    assert render_component_template(template) == {
        "template": {"settings": {"index": {"number_of_shards": "2"}}},
        "version": 3,
        "_meta": {"owner": "ops"},
    }
    assert render_component_template(template, flat=True)["template"]["settings"] == {
        "index.number_of_shards": "2"
    }


def test_template_mappings_wrapped_in_doc_are_unwrapped():
    template = parse_component_template(
        {"template": {"mappings": {"_doc": {"properties": {"a": {"type": "long"}}}}}}
    )
    assert template.template.mappings == {"properties": {"a": {"type": "long"}}}


def test_index_template_renders_composed_of_always_and_optional_fields_only_when_set():
    template = parse_index_template({"index_patterns": "logs-*"})
    assert render_index_template(template) == {"index_patterns": ["logs-*"], "composed_of": []}
    full = parse_index_template(
        {
            "index_patterns": ["a*"],
            "priority": 7,
            "version": 2,
            "_meta": {"k": "v"},
            "allow_auto_create": False,
            "template": {"aliases": {"x": {}}},
        }
    )
    assert render_index_template(full) == {
        "index_patterns": ["a*"],
        "template": {"aliases": {"x": {}}},
        "composed_of": [],
        "priority": 7,
        "version": 2,
        "_meta": {"k": "v"},
        "allow_auto_create": False,
    }


def test_index_template_requires_index_patterns():
    with pytest.raises(IllegalArgument, match=r"Required \[index_patterns\]"):
        parse_index_template({"priority": 1})


def test_index_template_refuses_a_negative_priority_and_empty_patterns():
    with pytest.raises(ActionRequestValidation) as refused:
        parse_index_template({"index_patterns": [], "priority": -1})
    assert refused.value.errors == ["index patterns are missing", "index template priority must be >= 0"]


def test_index_template_refuses_data_streams_and_unknown_fields():
    with pytest.raises(IllegalArgument, match="no data streams"):
        parse_index_template({"index_patterns": ["a*"], "data_stream": {}})
    with pytest.raises(StrataError, match=r"\[index_template\] unknown field \[order\]"):
        parse_index_template({"index_patterns": ["a*"], "order": 1})


def test_component_template_requires_template():
    with pytest.raises(IllegalArgument, match=r"Required \[template\]"):
        parse_component_template({"version": 1})


# -- put and delete -----------------------------------------------------------------------------


def test_put_component_template_validates_settings_against_the_index_settings_registry():
    with pytest.raises(InvalidIndexTemplate) as refused:
        with_component(EMPTY_CONTENT, "bad", {"template": {"settings": {"index.nonsense": 1}}})
    assert refused.value.reason.startswith(
        "index_template [bad] invalid, cause [Validation Failed: 1: unknown setting [index.nonsense]"
    )


def test_put_component_template_parses_its_mappings():
    with pytest.raises(StrataError, match=r"No handler for type \[nope\]"):
        with_component(
            EMPTY_CONTENT, "bad", {"template": {"mappings": {"properties": {"a": {"type": "nope"}}}}}
        )


def test_template_names_and_patterns_are_checked_together():
    with pytest.raises(InvalidIndexTemplate) as refused:
        with_index_template(EMPTY_CONTENT, "Bad*", {"index_patterns": ["_x", "a b"]})
    assert refused.value.reason == (
        "index_template [Bad*] invalid, cause [Validation Failed: 1: name must not contain a '*';"
        "2: name must be lower cased;3: index_pattern [_x] must not start with '_';"
        "4: index_patterns [a b] must not contain a space;]"
    )


def test_create_refuses_an_existing_name():
    content = with_component(EMPTY_CONTENT, "c", {"template": {}})
    with pytest.raises(IllegalArgument, match=r"component template \[c\] already exists"):
        with_component(content, "c", {"template": {}}, create=True)
    content = with_index_template(content, "i", {"index_patterns": ["i*"]})
    with pytest.raises(IllegalArgument, match=r"index template \[i\] already exists"):
        with_index_template(content, "i", {"index_patterns": ["i*"]}, create=True)


def test_index_template_must_name_existing_component_templates():
    with pytest.raises(InvalidIndexTemplate) as refused:
        with_index_template(EMPTY_CONTENT, "x", {"index_patterns": ["x*"], "composed_of": ["y", "z"]})
    assert refused.value.reason == (
        "index_template [x] invalid, cause [index template [x] specifies component "
        "templates [y, z] that do not exist]"
    )


def test_missing_component_templates_may_be_ignored_when_listed():
    content = with_index_template(
        EMPTY_CONTENT,
        "x",
        {"index_patterns": ["x*"], "composed_of": ["y"], "ignore_missing_component_templates": ["y"]},
    )
    assert "x" in content.metadata.index_templates


def test_same_priority_overlapping_patterns_are_refused(logs):
    with pytest.raises(IllegalArgument) as refused:
        with_index_template(logs, "app-logs", {"index_patterns": ["logs-app-*", "other"], "priority": 10})
    assert refused.value.reason == (
        "index template [app-logs] has index patterns [logs-app-*, other] matching patterns from existing "
        "templates [logs] with patterns (logs => [logs-*]) that have the same priority [10], multiple index "
        "templates may not match during index creation, please use a different priority"
    )


def test_overlapping_patterns_of_another_priority_are_accepted(logs):
    content = with_index_template(logs, "app-logs", {"index_patterns": ["logs-app-*"], "priority": 11})
    assert set(content.metadata.index_templates) == {"logs", "app-logs"}


def test_a_template_does_not_conflict_with_itself(logs):
    updated = with_index_template(logs, "logs", {"index_patterns": ["logs-*"], "priority": 10})
    assert updated.metadata.index_templates["logs"].composed_of == ()


def test_global_templates_may_not_set_index_hidden():
    with pytest.raises(
        InvalidIndexTemplate, match=r"global composable templates may not specify the setting index\.hidden"
    ):
        with_index_template(
            EMPTY_CONTENT, "g", {"index_patterns": ["*"], "template": {"settings": {"index.hidden": True}}}
        )


BAD_ALIASES = [
    ({"_bad": {}}, InvalidAliasName, r"Invalid alias name \[_bad\]: must not start with '_', '-', or '\+'"),
    ({"r": {"routing": "1,2"}}, IllegalArgument, r"alias \[r\] has several index routing values associated"),
    ({"r": {"index_routing": "1,2"}}, IllegalArgument, r"alias \[r\] has several index routing values"),
    ({"u": {"bogus": 1}}, IllegalArgument, r"^Unsupported field \[bogus\]$"),
    ({"w": {"is_write_index": "yes"}}, IllegalArgument, r"Failed to parse value \[yes\]"),
    ({"f": {"filter": "text"}}, IllegalArgument, r"failed to parse filter for alias \[f\]"),
]


@pytest.mark.parametrize(("aliases", "error", "message"), BAD_ALIASES)
def test_a_component_template_with_an_alias_no_index_could_take_is_refused(aliases, error, message):
    with pytest.raises(error, match=message) as refused:
        with_component(EMPTY_CONTENT, "c", {"template": {"aliases": aliases}})
    assert refused.value.status == 400


@pytest.mark.parametrize(("aliases", "error", "message"), BAD_ALIASES)
def test_an_index_template_with_an_alias_no_index_could_take_is_refused(aliases, error, message):
    with pytest.raises(error, match=message) as refused:
        with_index_template(EMPTY_CONTENT, "i", {"index_patterns": ["i*"], "template": {"aliases": aliases}})
    assert refused.value.status == 400


def test_template_aliases_are_kept_as_given_once_valid():
    content = with_component(EMPTY_CONTENT, "c", {"template": {"aliases": {"a": {"routing": 1}}}})
    assert content.metadata.component_templates["c"].template.aliases == {"a": {"routing": 1}}


def test_an_index_template_is_validated_as_composed():
    content = with_component(
        EMPTY_CONTENT,
        "analysis",
        {
            "template": {
                "settings": {"analysis": {"analyzer": {"mine": {"type": "custom", "tokenizer": "standard"}}}}
            }
        },
    )
    uses_mine = {"mappings": {"properties": {"title": {"type": "text", "analyzer": "mine"}}}}
    content = with_index_template(
        content, "ok", {"index_patterns": ["ok*"], "composed_of": ["analysis"], "template": uses_mine}
    )
    assert "ok" in content.metadata.index_templates
    with pytest.raises(IllegalArgument) as refused:
        with_index_template(content, "bad", {"index_patterns": ["b*"], "template": uses_mine})
    assert refused.value.reason == "composable template [bad] template after composition is invalid"
    assert "analyzer [mine] has not been configured" in refused.value.caused_by.reason


def test_updating_a_component_template_revalidates_the_index_templates_using_it():
    content = with_component(
        EMPTY_CONTENT,
        "analysis",
        {
            "template": {
                "settings": {"analysis": {"analyzer": {"mine": {"type": "custom", "tokenizer": "standard"}}}}
            }
        },
    )
    content = with_index_template(
        content,
        "uses",
        {
            "index_patterns": ["u*"],
            "composed_of": ["analysis"],
            "template": {"mappings": {"properties": {"t": {"type": "text", "analyzer": "mine"}}}},
        },
    )
    with pytest.raises(IllegalArgument) as refused:
        with_component(content, "analysis", {"template": {"settings": {"number_of_shards": 1}}})
    assert refused.value.reason == (
        "updating component template [analysis] results in invalid composable "
        "template [uses] after templates are merged"
    )


def test_a_component_template_in_use_cannot_be_deleted(logs):
    with pytest.raises(IllegalArgument) as refused:
        delete_component_templates(logs, ["shards"])
    assert refused.value.reason == (
        "component templates [shards] cannot be removed as they are still in use by index templates [logs]"
    )
    with pytest.raises(IllegalArgument, match=r"\[replicas, shards\] cannot be removed"):
        delete_component_templates(logs, ["*"])


def test_deleting_by_wildcard_and_by_names(logs):
    content = delete_index_templates(logs, ["lo*"])
    assert content.metadata.index_templates == {}
    content = delete_component_templates(content, ["shards", "replicas"])
    assert content.metadata.component_templates == {}
    assert delete_component_templates(content, ["*"]) is content  # match-all matching nothing is fine


def test_deleting_what_does_not_exist_is_not_found(logs):
    with pytest.raises(IndexTemplateMissing, match=r"index_template \[nope\] missing"):
        delete_index_templates(logs, ["nope"])
    with pytest.raises(IndexTemplateMissing, match=r"index_template \[nope,gone\] missing"):
        delete_index_templates(logs, ["logs", "nope", "gone"])
    with pytest.raises(TemplateNotFound, match=r"^nope$"):
        delete_component_templates(logs, ["nope"])


def test_a_change_bumps_the_metadata_version_and_an_identical_put_changes_nothing(logs):
    same = with_index_template(logs, "logs", LOGS)
    assert same is logs
    changed = with_index_template(logs, "logs", {"index_patterns": ["logs-*"], "priority": 10})
    assert changed.metadata.version == logs.metadata.version + 1


# -- which template, composed how ------------------------------------------------------------


def test_the_matching_template_of_highest_priority_wins(logs):
    content = with_index_template(logs, "app", {"index_patterns": ["logs-app-*"], "priority": 20})
    content = with_index_template(content, "low", {"index_patterns": ["logs-app-*"], "priority": 1})
    templates = content.metadata.index_templates
    assert find_template(templates, "logs-app-1") == "app"
    assert find_template(templates, "logs-db-1") == "logs"
    assert find_template(templates, "metrics") is None


def test_hidden_indices_skip_match_all_templates():
    content = with_index_template(EMPTY_CONTENT, "all", {"index_patterns": ["*"]})
    content = with_index_template(content, "dot", {"index_patterns": [".internal*"], "priority": 1})
    templates = content.metadata.index_templates
    assert find_template(templates, "anything", hidden=True) is None
    assert find_template(templates, ".internal-1", hidden=True) == "dot"
    assert compose_create_body(content.metadata, "x", {"settings": {"index.hidden": True}}) == {
        "settings": {"index.hidden": True}
    }


def test_components_then_template_then_request_compose_the_create_body(logs):
    body = compose_create_body(
        logs.metadata,
        "logs-1",
        {
            "settings": {"index": {"number_of_shards": 1}},
            "mappings": {"properties": {"message": {"type": "text"}}},
            "aliases": {"all-logs": {"filter": {"term": {"host": "a"}}}},
        },
    )
    assert body["settings"] == {
        "index.number_of_shards": 1,
        "index.refresh_interval": "5s",
        "index.number_of_replicas": "0",
    }
    assert body["mappings"] == {
        "properties": {
            "host": {"type": "text"},
            "event": {"properties": {"id": {"type": "long"}, "kind": {"type": "keyword"}}},
            "message": {"type": "text"},
        }
    }
    assert body["aliases"] == {
        "all-logs": {"filter": {"term": {"host": "a"}}},
        "recent-logs": {"is_write_index": True},
    }


def test_an_index_no_template_matches_keeps_its_body(logs):
    body = {"settings": {"number_of_shards": 2}}
    assert compose_create_body(logs.metadata, "metrics-1", body) == body


def test_mappings_merge_objects_recursively_and_replace_other_fields():
    merged = merge_mappings(
        {
            "dynamic": "strict",
            "properties": {
                "o": {"properties": {"a": {"type": "long"}}},
                "f": {"type": "long"},
                "n": {"type": "nested", "properties": {"x": {"type": "long"}}},
            },
        },
        {
            "dynamic": "true",
            "properties": {
                "o": {"properties": {"b": {"type": "text"}}},
                "f": {"properties": {"c": {"type": "long"}}},
                "n": {"properties": {"y": {"type": "long"}}},
            },
        },
    )
    assert merged == {
        "dynamic": "true",
        "properties": {
            "o": {"properties": {"a": {"type": "long"}, "b": {"type": "text"}}},
            "f": {"properties": {"c": {"type": "long"}}},
            "n": {"properties": {"y": {"type": "long"}}},
        },
    }


def test_pattern_overlap_is_decided_on_every_name_both_match():
    assert patterns_overlap("logs-*", "*-prod")
    assert patterns_overlap("a*c", "ab*")
    assert not patterns_overlap("logs-*", "metrics-*")
    assert not patterns_overlap("a*c", "b*")
    assert patterns_overlap("exact", "ex*")


# -- simulation -------------------------------------------------------------------------------


def test_simulate_index_answers_composed_settings_mappings_aliases_and_overlaps(logs):
    content = with_index_template(logs, "app", {"index_patterns": ["logs-app-*"], "priority": 20})
    answer = simulate_index(content, "logs-1")
    assert answer["template"]["settings"] == {
        "index": {"number_of_shards": "3", "number_of_replicas": "0", "refresh_interval": "5s"}
    }
    assert answer["template"]["mappings"]["properties"]["host"] == {"type": "text"}
    assert answer["template"]["aliases"] == {"all-logs": {}, "recent-logs": {"is_write_index": True}}
    assert answer["overlapping"] == [{"name": "app", "index_patterns": ["logs-app-*"]}]


def test_simulate_index_with_no_matching_template_is_empty(logs):
    assert simulate_index(logs, "metrics-1") == {}


def test_simulate_index_with_a_body_simulates_that_template_as_if_put(logs):
    template = parse_index_template(
        {"index_patterns": ["logs-*"], "priority": 99, "template": {"settings": {"number_of_shards": 7}}}
    )
    answer = simulate_index(logs, "logs-1", template)
    assert answer["template"]["settings"] == {"index": {"number_of_shards": "7"}}
    assert answer["overlapping"] == [{"name": "logs", "index_patterns": ["logs-*"]}]
    assert set(logs.metadata.index_templates) == {"logs"}


def test_simulate_template_by_name_and_unknown_name(logs):
    assert simulate_template(logs, "logs", None)["template"]["aliases"] == {
        "all-logs": {},
        "recent-logs": {"is_write_index": True},
    }
    with pytest.raises(IllegalArgument, match=r"unable to simulate template \[nope\] that does not exist"):
        simulate_template(logs, "nope", None)


def test_allow_auto_create_of_the_matching_template_overrides_the_setting():
    content = with_index_template(
        EMPTY_CONTENT, "yes", {"index_patterns": ["yes-*"], "allow_auto_create": True}
    )
    content = with_index_template(content, "no", {"index_patterns": ["no-*"], "allow_auto_create": False})
    content = with_index_template(content, "unsaid", {"index_patterns": ["unsaid-*"]})
    templates = content.metadata.index_templates
    assert template_allows_auto_create(templates, "yes-1") is True
    assert template_allows_auto_create(templates, "unsaid-1") is None
    assert template_allows_auto_create(templates, "other") is None
    with pytest.raises(IndexNotFound) as refused:
        template_allows_auto_create(templates, "no-1")
    assert refused.value.reason == "no such index [composable template [no-*] forbids index auto creation]"


def test_templates_survive_the_cluster_state_round_trip_to_plain_data(logs):
    """As publication and the persisted state carry them."""
    data = msgspec.json.decode(msgspec.json.encode(msgspec.to_builtins(logs)))
    assert msgspec.convert(data, ClusterStateContent) == logs
