"""Composable index templates and component templates over HTTP on a real node: the
APIs, their refusals, and the templates applied to indices created explicitly and
auto-created by writes; then the same through the official elasticsearch-py client.
Every test names its templates and index patterns after itself."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, NotFoundError

COMPONENT = {"template": {"settings": {"number_of_shards": 2, "number_of_replicas": 0},
                          "mappings": {"properties": {"host": {"type": "keyword"}}},
                          "aliases": {"from-component": {}}}}


@pytest.fixture
def name(index_name) -> str:
    """A template name and index prefix of the test's own."""
    return index_name[:60]


def put(http, path: str, body: dict, **params):
    response = http.put(path, json=body, params=params)
    assert response.status_code == 200, response.text
    assert response.json() == {"acknowledged": True}


def error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


def logs_template(http, name: str, priority: int = 0) -> None:
    """A component template and an index template composed of it, for `{name}-*`."""
    put(http, f"/_component_template/{name}-base", COMPONENT)
    put(http, f"/_index_template/{name}", {
        "index_patterns": [f"{name}-*"], "composed_of": [f"{name}-base"], "priority": priority,
        "template": {"settings": {"refresh_interval": "5s"},
                     "mappings": {"properties": {"message": {"type": "text"}}}}})


def test_put_and_get_component_template(http, name):
    put(http, f"/_component_template/{name}", {**COMPONENT, "version": 3, "_meta": {"owner": "ops"}})
    got = http.get(f"/_component_template/{name}").json()
    assert got == {"component_templates": [{"name": name, "component_template": {
        "template": {"settings": {"index": {"number_of_shards": "2", "number_of_replicas": "0"}},
                     "mappings": {"properties": {"host": {"type": "keyword"}}},
                     "aliases": {"from-component": {}}},
        "version": 3, "_meta": {"owner": "ops"}}}]}
    assert http.head(f"/_component_template/{name}").status_code == 200
    listed = [t["name"] for t in http.get("/_component_template").json()["component_templates"]]
    assert name in listed


def test_put_and_get_index_template_with_flat_settings(http, name):
    logs_template(http, name, priority=7)
    got = http.get(f"/_index_template/{name}", params={"flat_settings": "true"}).json()
    assert got == {"index_templates": [{"name": name, "index_template": {
        "index_patterns": [f"{name}-*"],
        "template": {"settings": {"index.refresh_interval": "5s"},
                     "mappings": {"properties": {"message": {"type": "text"}}}},
        "composed_of": [f"{name}-base"], "priority": 7}}]}
    wildcard = http.get(f"/_index_template/{name[:10]}*").json()["index_templates"]
    assert name in [t["name"] for t in wildcard]


def test_missing_templates_are_404(http, name):
    assert error(http.get(f"/_index_template/{name}"), 404) == {
        "root_cause": [{"type": "resource_not_found_exception",
                        "reason": f"index template matching [{name}] not found"}],
        "type": "resource_not_found_exception", "reason": f"index template matching [{name}] not found"}
    assert error(http.get(f"/_component_template/{name}"), 404)["reason"] == \
        f"component template matching [{name}] not found"
    assert http.head(f"/_index_template/{name}").status_code == 404
    assert error(http.delete(f"/_index_template/{name}"), 404)["type"] == "index_template_missing_exception"
    assert http.get("/_index_template/no-such-*").json() == {"index_templates": []}


def test_index_template_applies_to_explicit_index_creation(http, name):
    logs_template(http, name)
    created = http.put(f"/{name}-1", json={"settings": {"number_of_shards": 1},
                                           "mappings": {"properties": {"extra": {"type": "long"}}},
                                           "aliases": {"from-request": {}}})
    assert created.status_code == 200, created.text
    index = http.get(f"/{name}-1").json()[f"{name}-1"]
    settings = index["settings"]["index"]
    assert (settings["number_of_shards"], settings["number_of_replicas"], settings["refresh_interval"]) == \
        ("1", "0", "5s")
    assert index["mappings"]["properties"] == {"host": {"type": "keyword"}, "message": {"type": "text"},
                                               "extra": {"type": "long"}}
    assert set(index["aliases"]) == {"from-component", "from-request"}


def test_index_template_applies_to_indices_auto_created_by_bulk(http, name):
    logs_template(http, name)
    bulk = http.post("/_bulk", params={"refresh": "true"}, content=(
        f'{{"index": {{"_index": "{name}-auto"}}}}\n{{"host": "a", "message": "hello"}}\n'),
        headers={"content-type": "application/x-ndjson"})
    assert bulk.status_code == 200 and not bulk.json()["errors"], bulk.text
    index = http.get(f"/{name}-auto").json()[f"{name}-auto"]
    assert index["settings"]["index"]["number_of_shards"] == "2"
    assert index["mappings"]["properties"]["host"] == {"type": "keyword"}
    assert set(index["aliases"]) == {"from-component"}


def test_allow_auto_create_of_the_template_overrides_the_cluster_setting(http, name):
    for allowed in ("no", "yes"):
        put(http, f"/_index_template/{name}-{allowed}",
            {"index_patterns": [f"{name}-{allowed}-*"], "allow_auto_create": allowed == "yes"})
    refused = error(http.post(f"/{name}-no-1/_doc", json={"a": 1}), 404)
    assert refused["reason"] == (f"no such index [composable template [{name}-no-*] forbids index auto "
                                 "creation]")
    put_setting = http.put("/_cluster/settings", json={"persistent": {"action.auto_create_index": "false"}})
    assert put_setting.status_code == 200, put_setting.text
    try:
        assert http.post(f"/{name}-yes-1/_doc", json={"a": 1}).status_code == 201
        assert http.post(f"/{name}-other/_doc", json={"a": 1}).status_code == 404
    finally:
        http.put("/_cluster/settings", json={"persistent": {"action.auto_create_index": None}})


def test_higher_priority_template_wins(http, name):
    logs_template(http, name)
    put(http, f"/_index_template/{name}-special", {
        "index_patterns": [f"{name}-special-*"], "priority": 1,
        "template": {"settings": {"number_of_shards": 3, "number_of_replicas": 0}}})
    http.put(f"/{name}-special-1")
    assert http.get(f"/{name}-special-1/_settings").json()[f"{name}-special-1"]["settings"]["index"][
        "number_of_shards"] == "3"


def test_simulate_index_shows_what_an_index_would_get(http, name):
    logs_template(http, name)
    put(http, f"/_index_template/{name}-other", {"index_patterns": [f"{name}-*-x"], "priority": 2})
    answer = http.post(f"/_index_template/_simulate_index/{name}-1").json()
    assert answer == {
        "template": {
            "settings": {"index": {"number_of_shards": "2", "number_of_replicas": "0",
                                   "refresh_interval": "5s"}},
            "mappings": {"properties": {"host": {"type": "keyword"}, "message": {"type": "text"}}},
            "aliases": {"from-component": {}}},
        "overlapping": [{"name": f"{name}-other", "index_patterns": [f"{name}-*-x"]}]}
    assert http.post(f"/_index_template/_simulate_index/unmatched-{name}").json() == {}
    assert http.get(f"/{name}-1").status_code == 404


def test_same_priority_overlapping_templates_are_refused(http, name):
    logs_template(http, name, priority=5)
    refused = http.put(f"/_index_template/{name}-app",
                       json={"index_patterns": [f"{name}-app-*"], "priority": 5})
    assert error(refused, 400)["reason"] == (
        f"index template [{name}-app] has index patterns [{name}-app-*] matching patterns from existing "
        f"templates [{name}] with patterns ({name} => [{name}-*]) that have the same priority [5], multiple "
        "index templates may not match during index creation, please use a different priority")


def test_component_template_in_use_cannot_be_deleted(http, name):
    logs_template(http, name)
    refused = error(http.delete(f"/_component_template/{name}-base"), 400)
    assert refused["reason"] == (f"component templates [{name}-base] cannot be removed as they are still in "
                                 f"use by index templates [{name}]")
    assert http.delete(f"/_index_template/{name}").json() == {"acknowledged": True}
    assert http.delete(f"/_component_template/{name}-base").json() == {"acknowledged": True}


def test_index_template_naming_missing_component_templates_is_refused(http, name):
    refused = error(http.put(f"/_index_template/{name}", json={"index_patterns": [f"{name}-*"],
                                                              "composed_of": ["absent"]}), 400)
    assert refused["type"] == "invalid_index_template_exception"
    assert refused["reason"] == (f"index_template [{name}] invalid, cause [index template [{name}] specifies "
                                 "component templates [absent] that do not exist]")


def test_create_refuses_an_existing_template(http, name):
    put(http, f"/_component_template/{name}", COMPONENT)
    refused = http.put(f"/_component_template/{name}", json=COMPONENT, params={"create": "true"})
    assert error(refused, 400)["reason"] == f"component template [{name}] already exists"


def test_invalid_template_settings_are_refused(http, name):
    refused = http.put(f"/_component_template/{name}", json={"template": {"settings": {"index.nope": 1}}})
    assert error(refused, 400)["type"] == "invalid_index_template_exception"


def test_a_component_template_with_an_alias_no_index_could_take_is_refused_and_not_stored(http, name):
    body = {"template": {"aliases": {"fine": {}, "routed": {"index_routing": "1,2"}}}}
    refused = error(http.put(f"/_component_template/{name}", json=body), 400)
    assert (refused["type"], refused["reason"]) == (
        "illegal_argument_exception", "alias [routed] has several index routing values associated with it")
    assert http.head(f"/_component_template/{name}").status_code == 404


def test_an_index_template_with_an_alias_no_index_could_take_is_refused_and_not_stored(http, name):
    for aliases, kind, reason in (
            ({"_bad": {}}, "invalid_alias_name_exception",
             "Invalid alias name [_bad]: must not start with '_', '-', or '+'"),
            ({"al": {"bogus": 1}}, "illegal_argument_exception", "Unsupported field [bogus]")):
        body = {"index_patterns": [f"{name}-*"], "template": {"aliases": aliases}}
        refused = error(http.put(f"/_index_template/{name}", json=body), 400)
        assert (refused["type"], refused["reason"]) == (kind, reason)
        assert http.head(f"/_index_template/{name}").status_code == 404
    assert http.put(f"/{name}-1").status_code == 200  # no template of it is in the way


def test_cluster_state_shows_templates(http, name):
    logs_template(http, name)
    metadata = http.get("/_cluster/state/metadata").json()["metadata"]
    assert metadata["component_template"]["component_template"][f"{name}-base"] == {
        "template": {"settings": {"index": {"number_of_shards": "2", "number_of_replicas": "0"}},
                     "mappings": {"properties": {"host": {"type": "keyword"}}},
                     "aliases": {"from-component": {}}}}
    assert metadata["index_template"]["index_template"][name]["composed_of"] == [f"{name}-base"]


# -- through elasticsearch-py ----------------------------------------------------------------


def test_templates_through_elasticsearch_py(es, name):
    es.cluster.put_component_template(name=f"{name}-base", template=COMPONENT["template"])
    es.indices.put_index_template(name=name, index_patterns=[f"{name}-*"], composed_of=[f"{name}-base"],
                                  priority=3, template={"settings": {"refresh_interval": "2s"}})
    assert es.indices.exists_index_template(name=name)
    got = es.indices.get_index_template(name=name)["index_templates"][0]["index_template"]
    assert got["composed_of"] == [f"{name}-base"] and got["priority"] == 3
    simulated = es.indices.simulate_index_template(name=f"{name}-1")["template"]["settings"]["index"]
    assert simulated["refresh_interval"] == "2s"
    es.index(index=f"{name}-1", document={"host": "a"}, refresh=True)
    settings = es.indices.get_settings(index=f"{name}-1")[f"{name}-1"]["settings"]["index"]
    assert (settings["number_of_shards"], settings["refresh_interval"]) == ("2", "2s")
    with pytest.raises(BadRequestError):
        es.cluster.delete_component_template(name=f"{name}-base")
    es.indices.delete_index_template(name=name)
    es.cluster.delete_component_template(name=f"{name}-base")
    assert not es.cluster.exists_component_template(name=f"{name}-base")
    with pytest.raises(NotFoundError):
        es.indices.get_index_template(name=name)
