"""Index APIs over raw HTTP, where elasticsearch-py would hide the detail: get-settings
filtered by name, get index's features, and flush's parameter validation."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def indices(node):
    """Two indices, created once for the module, that no test changes."""
    with node.client() as http:
        for name, shards, replicas in (("settings-a", 5, 1), ("settings-b", 3, 0)):
            body = {"settings": {"number_of_shards": shards, "number_of_replicas": replicas}}
            assert http.put(f"/{name}", json=body).status_code == 200
    return ["settings-a", "settings-b"]


def settings(http, path: str, **params) -> dict:
    response = http.get(path, params=params)
    assert response.status_code == 200, response.text
    return {name: body["settings"] for name, body in response.json().items() if name.startswith("settings-")}


# -- get settings by name -------------------------------------------------------------------------


def test_a_setting_name_keeps_only_that_setting(http, indices):
    assert settings(http, "/settings-a/_settings/index.number_of_shards") == {
        "settings-a": {"index": {"number_of_shards": "5"}}}


def test_names_may_be_a_comma_list_and_use_wildcards(http, indices):
    both = settings(http, "/settings-a/_settings/index.number_of_shards,index.number_of_replicas")
    assert both == {"settings-a": {"index": {"number_of_shards": "5", "number_of_replicas": "1"}}}
    assert settings(http, "/settings-a/_settings/index.number_of_s*") == {
        "settings-a": {"index": {"number_of_shards": "5"}}}


@pytest.mark.parametrize("name", ["_all", "*"])
def test_all_or_a_lone_wildcard_keeps_every_setting(http, indices, name):
    every = settings(http, "/settings-a/_settings")
    assert settings(http, f"/settings-a/_settings/{name}") == every
    assert "uuid" in every["settings-a"]["index"]


@pytest.mark.parametrize("path", ["/_settings/index.number_of_replicas",
                                  "/_all/_settings/index.number_of_replicas",
                                  "/settings-*/_settings/index.number_of_replicas",
                                  "/settings-a,settings-b/_setting/index.number_of_replicas"])
def test_every_index_path_form_filters_by_name(http, indices, path):
    assert settings(http, path) == {"settings-a": {"index": {"number_of_replicas": "1"}},
                                    "settings-b": {"index": {"number_of_replicas": "0"}}}


def test_an_index_with_no_setting_matching_the_name_is_left_out(http, indices):
    response = http.get("/settings-a,settings-b/_settings/index.no_such_setting")
    assert response.status_code == 200
    assert response.json() == {}


def test_a_name_matches_flat_keys_whatever_the_rendering(http, indices):
    assert settings(http, "/settings-b/_settings/index.number_of_shards", flat_settings="true") == {
        "settings-b": {"index.number_of_shards": "3"}}


def test_setting_names_match_only_star_wildcards_not_shell_globs(http, indices):
    assert settings(http, "/settings-b/_settings/index.number_of_shard?") == {}


def test_include_defaults_lists_every_setting_the_index_leaves_at_its_default(http, indices):
    """As Elasticsearch prints them: times and sizes with their units; what the index sets
    is under settings only."""
    params = {"include_defaults": "true", "flat_settings": "true"}
    body = http.get("/settings-b/_settings", params=params).json()
    defaults = body["settings-b"]["defaults"]
    assert defaults["index.refresh_interval"] == "1s"
    assert defaults["index.translog.flush_threshold_size"] == "512mb"
    assert defaults["index.soft_deletes.retention_lease.period"] == "12h"
    assert defaults["index.unassigned.node_left.delayed_timeout"] == "1m"
    assert defaults["index.soft_deletes.enabled"] == "true"
    assert "index.number_of_shards" not in defaults and "index.uuid" not in defaults
    assert body["settings-b"]["settings"]["index.number_of_shards"] == "3"
    assert "defaults" not in http.get("/settings-b/_settings").json()["settings-b"]


def test_include_defaults_follows_the_setting_names_asked_for(http, indices):
    body = http.get("/settings-b/_settings/*.refresh_interval,index.number_of_shards",
                    params={"include_defaults": "true"}).json()
    assert body["settings-b"] == {"settings": {"index": {"number_of_shards": "3"}},
                                  "defaults": {"index": {"refresh_interval": "1s"}}}
    only_default = http.get("/settings-b/_settings/index.hidden", params={"include_defaults": "true"}).json()
    assert only_default["settings-b"] == {"settings": {}, "defaults": {"index": {"hidden": "false"}}}


def test_get_index_with_include_defaults_adds_the_defaults_beside_the_settings(http, indices):
    body = http.get("/settings-a", params={"include_defaults": "true"}).json()["settings-a"]
    assert body["defaults"]["index"]["translog"]["durability"] == "request"
    assert "defaults" not in http.get("/settings-a").json()["settings-a"]


def test_get_index_features_leave_the_other_sections_empty(http, indices):
    """GetIndexResponse prints every section; those `features` leaves out are empty, and
    the defaults only come with the settings."""
    body = http.get("/settings-a", params={"features": "aliases,settings"}).json()["settings-a"]
    assert body["mappings"] == {} and body["aliases"] == {}
    assert body["settings"]["index"]["number_of_shards"] == "5"
    only_mappings = http.get("/settings-a", params={"features": "MAPPINGS", "include_defaults": "true"})
    assert only_mappings.json() == {"settings-a": {"aliases": {}, "mappings": {}, "settings": {}}}


@pytest.mark.parametrize(("features", "reason"), [
    ("bogus", "Invalid features specified [bogus]"),
    ("bogus,aliases,x", "Invalid features specified [bogus,x]"),
    ("", "Invalid features specified []"),
])
def test_get_index_refuses_unknown_features_naming_them_all(http, indices, features, reason):
    response = http.get("/settings-a", params={"features": features})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["reason"]) == ("illegal_argument_exception", reason)
    assert http.head("/settings-a", params={"features": features}).status_code == 400


@pytest.mark.parametrize(("params", "reason"), [
    ({"local": "perhaps"}, "Failed to parse value [perhaps] as only [true] or [false] are allowed."),
    ({"master_timeout": "later"},
     "failed to parse setting [master_timeout] with value [later] as a time value: unit is missing or "
     "unrecognized"),
])
def test_get_settings_refuses_values_it_cannot_read(http, indices, params, reason):
    response = http.get("/settings-a/_settings", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == reason


# -- flush ----------------------------------------------------------------------------------------


def test_a_forced_flush_that_would_not_wait_is_refused_before_anything_is_resolved(http):
    response = http.post("/no-such-index/_flush", params={"force": "true", "wait_if_ongoing": "false"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "action_request_validation_exception"
    assert error["reason"] == "Validation Failed: 1: wait_if_ongoing must be true for a force flush;"


def test_a_forced_flush_that_waits_and_an_unforced_one_that_does_not_are_fine(http, indices):
    for params in ({"force": "true", "wait_if_ongoing": "true"}, {"wait_if_ongoing": "false"}):
        response = http.post("/settings-b/_flush", params=params)
        assert response.status_code == 200, response.text
        assert response.json()["_shards"] == {"total": 3, "successful": 3, "failed": 0}


# -- index options --------------------------------------------------------------------------------


def test_an_unknown_expand_wildcards_value_is_refused_before_anything_is_resolved(http):
    assert http.put("/kept-idx").status_code == 200
    response = http.delete("/kept-*", params={"expand_wildcards": "open,everything"})
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "No valid expand wildcard value [everything]"
    assert http.head("/kept-idx").status_code == 200


# -- waiting for the new index's shards ---------------------------------------------------------------


UNASSIGNABLE = {"settings": {"number_of_replicas": 0, "index.routing.allocation.require._name": "absent"}}


def test_a_create_whose_primaries_cannot_start_answers_unacknowledged_shards_at_its_timeout(http):
    response = http.put("/never-allocated", params={"timeout": "300ms"}, json=UNASSIGNABLE)
    assert response.status_code == 200, response.text
    assert response.json() == {"acknowledged": True, "shards_acknowledged": False, "index": "never-allocated"}
    assert response.elapsed.total_seconds() < 10  # its own timeout, not the default 30s
    assert http.delete("/never-allocated").status_code == 200


def test_a_create_waiting_for_no_active_shard_answers_at_once(http):
    response = http.put("/not-waited-for", params={"wait_for_active_shards": "0", "timeout": "60s"},
                        json=UNASSIGNABLE)
    assert response.status_code == 200, response.text
    assert response.json() == {"acknowledged": True, "shards_acknowledged": True, "index": "not-waited-for"}
    assert response.elapsed.total_seconds() < 30
    assert http.delete("/not-waited-for").status_code == 200


def test_a_create_waiting_for_all_copies_answers_unacknowledged_shards_while_a_replica_has_no_node(http):
    response = http.put("/waits-for-all", params={"wait_for_active_shards": "all", "timeout": "300ms"},
                        json={"settings": {"number_of_replicas": 1}})
    assert response.status_code == 200, response.text
    assert response.json() == {"acknowledged": True, "shards_acknowledged": False, "index": "waits-for-all"}
    assert http.delete("/waits-for-all").status_code == 200


def test_a_create_waits_for_the_copies_its_index_write_wait_for_active_shards_asks_for(http):
    response = http.put("/waits-by-setting", params={"timeout": "300ms"}, json={"settings": {
        "number_of_replicas": 1, "index.write.wait_for_active_shards": 2}})
    assert response.json()["shards_acknowledged"] is False
    assert http.delete("/waits-by-setting").status_code == 200


def test_a_create_waiting_for_one_copy_answers_once_the_primaries_started(http):
    response = http.put("/waits-for-one", params={"wait_for_active_shards": "1"},
                        json={"settings": {"number_of_replicas": 1}})
    assert response.json() == {"acknowledged": True, "shards_acknowledged": True, "index": "waits-for-one"}
    assert http.delete("/waits-for-one").status_code == 200


def test_a_create_may_not_wait_for_more_copies_than_the_index_has(http):
    response = http.put("/waits-for-too-many", params={"wait_for_active_shards": "3"},
                        json={"settings": {"number_of_replicas": 1}})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["reason"]) == (
        "illegal_argument_exception",
        "invalid wait_for_active_shards[3]: cannot be greater than number of shard copies [2]")
    assert http.head("/waits-for-too-many").status_code == 404


# -- dot-prefixed indices ---------------------------------------------------------------------------------


def test_a_dot_prefixed_index_is_hidden_only_when_index_hidden_says_so(http):
    for name, hidden in ((".dotted", False), (".dotted-hidden", True)):
        body = {"settings": {"number_of_replicas": 0, "index.hidden": hidden}}
        assert http.put(f"/{name}", json=body).status_code == 200
        written = http.put(f"/{name}/_doc/1", params={"refresh": "true"}, json={"dotted": 1})
        assert written.status_code == 201
    try:
        assert http.get("/*dotted*/_count").json()["count"] == 1
        hits = http.get("/_all/_search", params={"q": "dotted:1"}).json()["hits"]["hits"]
        assert [h["_index"] for h in hits] == [".dotted"]
        assert http.get("/.dotted*/_count").json()["count"] == 2  # a dot pattern reaches hidden indices
    finally:
        assert http.delete("/.dotted,.dotted-hidden").status_code == 200
