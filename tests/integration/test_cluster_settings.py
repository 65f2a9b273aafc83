"""`GET|PUT /_cluster/settings` and the voting configuration exclusions API on a real
node: settings take effect at once, bad requests change nothing."""

from __future__ import annotations

import elasticsearch
import pytest


@pytest.fixture(autouse=True)
def reset(http):
    yield
    http.put("/_cluster/settings", json={"persistent": {"*": None}, "transient": {"*": None}})
    http.delete("/_cluster/voting_config_exclusions", params={"wait_for_removal": "false"})


def test_put_and_get_in_both_forms(http):
    put = http.put(
        "/_cluster/settings",
        json={
            "persistent": {"action": {"auto_create_index": "+logs-*"}},
            "transient": {"search.default_search_timeout": "30s"},
        },
    )
    assert put.status_code == 200, put.text
    assert put.json() == {
        "acknowledged": True,
        "persistent": {"action": {"auto_create_index": "+logs-*"}},
        "transient": {"search": {"default_search_timeout": "30s"}},
    }
    assert http.get("/_cluster/settings", params={"flat_settings": "true"}).json() == {
        "persistent": {"action.auto_create_index": "+logs-*"},
        "transient": {"search.default_search_timeout": "30s"},
    }
    assert http.get("/_cluster/state/metadata", params={"local": "true"}).status_code == 200


def test_null_and_wildcard_reset(http):
    http.put(
        "/_cluster/settings",
        json={
            "persistent": {"action.auto_create_index": "false", "action.destructive_requires_name": "true"}
        },
    )
    http.put("/_cluster/settings", json={"persistent": {"action.auto_create_index": None}})
    assert http.get("/_cluster/settings").json()["persistent"] == {
        "action": {"destructive_requires_name": "true"}
    }
    http.put("/_cluster/settings", json={"persistent": {"action.*": None}})
    assert http.get("/_cluster/settings").json()["persistent"] == {}


def test_a_bad_key_rejects_the_whole_request(http):
    for body, reason in (
        (
            {"persistent": {"action.auto_create_index": "false", "no.such.setting": 1}},
            "persistent setting [no.such.setting], not recognized",
        ),
        (
            {"transient": {"cluster.name": "other"}},
            "transient setting [cluster.name], not dynamically updateable",
        ),
        ({"persistent": {"action.destructive_requires_name": "maybe"}}, None),
    ):
        refused = http.put("/_cluster/settings", json=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["type"] == "illegal_argument_exception"
        if reason:
            assert refused.json()["error"]["reason"] == reason
    assert http.get("/_cluster/settings").json() == {"persistent": {}, "transient": {}}
    empty = http.put("/_cluster/settings", json={})
    assert empty.status_code == 400
    assert empty.json()["error"]["reason"] == "Validation Failed: 1: no settings to update;"
    unknown_field = http.put("/_cluster/settings", json={"persistent": {}, "other": {}})
    assert unknown_field.json()["error"]["type"] == "x_content_parse_exception"


def test_include_defaults(http, node):
    http.put("/_cluster/settings", json={"persistent": {"action.auto_create_index": "false"}})
    body = http.get("/_cluster/settings", params={"include_defaults": "true", "flat_settings": "true"}).json()
    assert body["defaults"]["action.destructive_requires_name"] == "false"  # the node's own -E value
    assert "action.auto_create_index" not in body["defaults"]
    assert "transport.secret" not in body["defaults"]
    assert body["defaults"]["cluster.max_voting_config_exclusions"] == "10"
    # List settings print as JSON arrays, flat and nested, as ES's ListSetting does.
    assert body["defaults"]["path.data"] == [str(node.data)]
    assert body["defaults"]["discovery.seed_hosts"] == []
    nested = http.get("/_cluster/settings", params={"include_defaults": "true"}).json()["defaults"]
    assert nested["path"]["data"] == [str(node.data)]
    assert nested["network"]["host"] == ["127.0.0.1"]


def test_settings_change_what_the_node_does(http, index_name):
    http.put("/_cluster/settings", json={"persistent": {"action.auto_create_index": "false"}})
    refused = http.post(f"/{index_name}/_doc", json={"a": 1})
    assert refused.status_code == 404 and refused.json()["error"]["type"] == "index_not_found_exception"
    http.put("/_cluster/settings", json={"transient": {"action.auto_create_index": "true"}})
    assert http.post(f"/{index_name}/_doc", json={"a": 1}).status_code == 201
    http.put("/_cluster/settings", json={"persistent": {"action.destructive_requires_name": True}})
    wildcard = http.delete(f"/{index_name[:5]}*")
    assert wildcard.status_code == 400
    assert wildcard.json()["error"]["reason"] == "Wildcard expressions or all indices are not allowed"
    http.put("/_cluster/settings", json={"persistent": {"action.destructive_requires_name": None}})
    assert http.delete(f"/{index_name}*").status_code == 200


def test_the_official_client(es):
    answer = es.cluster.put_settings(persistent={"search.default_search_timeout": "1m"})
    assert answer["acknowledged"] is True
    assert es.cluster.get_settings(flat_settings=True)["persistent"] == {
        "search.default_search_timeout": "1m"
    }
    with pytest.raises(elasticsearch.BadRequestError) as e:
        es.cluster.put_settings(transient={"nope": 1})
    assert e.value.error == "illegal_argument_exception"


def test_voting_config_exclusions(http, node):
    for params in ({}, {"node_names": "a", "node_ids": "b"}):
        refused = http.post("/_cluster/voting_config_exclusions", params=params)
        assert refused.status_code == 400
        assert refused.json()["error"]["reason"].startswith("Please set node identifiers correctly")
    added = http.post("/_cluster/voting_config_exclusions", params={"node_names": "gone-1,gone-2"})
    assert added.status_code == 200, added.text
    exclusions = http.get("/_cluster/state/metadata").json()["metadata"]["cluster_coordination"][
        "voting_config_exclusions"
    ]
    assert exclusions == [
        {"node_id": "_absent_", "node_name": "gone-1"},
        {"node_id": "_absent_", "node_name": "gone-2"},
    ]
    http.put("/_cluster/settings", json={"persistent": {"cluster.max_voting_config_exclusions": 3}})
    too_many = http.post("/_cluster/voting_config_exclusions", params={"node_ids": "x,y"})
    assert too_many.status_code == 400
    assert (
        "exceed the maximum of [3] set by [cluster.max_voting_config_exclusions]"
        in too_many.json()["error"]["reason"]
    )
    # The only master cannot leave the voting configuration: the wait times out.
    stuck = http.post(
        "/_cluster/voting_config_exclusions", params={"node_names": node.name, "timeout": "300ms"}
    )
    assert stuck.status_code == 429
    assert stuck.json()["error"]["type"] == "elasticsearch_timeout_exception"
    # Clearing waits for the excluded nodes to leave; this one never will.
    waiting = http.delete("/_cluster/voting_config_exclusions", params={"master_timeout": "300ms"})
    assert waiting.status_code == 429
    cleared = http.delete("/_cluster/voting_config_exclusions", params={"wait_for_removal": "false"})
    assert cleared.status_code == 200
    assert (
        http.get("/_cluster/state/metadata").json()["metadata"]["cluster_coordination"][
            "voting_config_exclusions"
        ]
        == []
    )
