"""`PUT /{index}/_settings`: dynamic settings change through the master, static ones are
refused, and index blocks refuse reads, writes and metadata changes as Elasticsearch's do."""

from __future__ import annotations


def put_settings(http, index: str, settings: dict):
    return http.put(f"/{index}/_settings", json=settings)


def test_a_dynamic_setting_changes_and_reads_back(http, index):
    assert put_settings(http, index, {"index": {"refresh_interval": "5s"}}).json() == {"acknowledged": True}
    settings = http.get(f"/{index}/_settings").json()[index]["settings"]["index"]
    assert settings["refresh_interval"] == "5s"
    assert put_settings(http, index, {"index.refresh_interval": None}).status_code == 200
    assert "refresh_interval" not in http.get(f"/{index}/_settings").json()[index]["settings"]["index"]


def test_setting_what_is_already_set_publishes_no_new_cluster_state(http, index):
    put_settings(http, index, {"index": {"refresh_interval": "5s"}})
    version = http.get("/_cluster/state/version").json()["version"]
    again = put_settings(http, index, {"index": {"refresh_interval": "5s"}})
    assert again.json() == {"acknowledged": True}
    assert http.get("/_cluster/state/version").json()["version"] == version


def test_a_static_setting_is_refused_on_an_open_index(http, index):
    refused = put_settings(http, index, {"index": {"number_of_shards": 3}})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["type"] == "illegal_argument_exception"
    assert error["reason"].startswith(
        "Can't update non dynamic settings [[index.number_of_shards]] for open indices")


def test_an_unknown_setting_is_refused_and_nothing_changes(http, index):
    refused = put_settings(http, index, {"index": {"refresh_interval": "7s", "no_such_thing": 1}})
    assert refused.status_code == 400
    assert "unknown setting [index.no_such_thing]" in refused.json()["error"]["reason"]
    assert "refresh_interval" not in http.get(f"/{index}/_settings").json()[index]["settings"]["index"]


def test_a_wildcard_that_matches_nothing_is_not_found_unless_no_indices_are_allowed(http, index_name):
    """UpdateSettingsRequest's indices options are fromOptions(false, false, true, true)."""
    refused = put_settings(http, f"{index_name}-nope*", {"index.refresh_interval": "5s"})
    assert refused.status_code == 404
    error = refused.json()["error"]
    assert error["type"] == "index_not_found_exception"
    assert error["reason"] == f"no such index [{index_name}-nope*]"
    allowed = http.put(f"/{index_name}-nope*/_settings", params={"allow_no_indices": "true"},
                       json={"index.refresh_interval": "5s"})
    assert (allowed.status_code, allowed.json()) == (200, {"acknowledged": True})


def test_each_wildcard_of_the_expression_must_match_an_index(http, index):
    """Even beside an index that exists: WildcardExpressionResolver checks each wildcard."""
    refused = put_settings(http, f"{index},{index}-nope*", {"index.refresh_interval": "5s"})
    assert refused.status_code == 404
    assert refused.json()["error"]["reason"] == f"no such index [{index}-nope*]"
    assert "refresh_interval" not in http.get(f"/{index}/_settings").json()[index]["settings"]["index"]


def test_the_number_of_replicas_changes_the_copies_the_cluster_wants(http, index):
    put_settings(http, index, {"index": {"number_of_replicas": 2}})
    health = http.get(f"/_cluster/health/{index}").json()
    assert health["unassigned_shards"] == 2  # one node: the replicas have nowhere to go
    put_settings(http, index, {"index": {"number_of_replicas": 0}})
    assert http.get(f"/_cluster/health/{index}").json()["status"] == "green"


def test_a_write_block_refuses_writes_but_not_reads(http, index):
    http.put(f"/{index}/_doc/1", json={"a": 1}, params={"refresh": "true"}).raise_for_status()
    put_settings(http, index, {"index.blocks.write": True}).raise_for_status()
    refused = http.put(f"/{index}/_doc/2", json={"a": 2})
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "cluster_block_exception"
    reason = refused.json()["error"]["reason"]
    assert reason == f"index [{index}] blocked by: [FORBIDDEN/8/index write (api)];"
    assert http.get(f"/{index}/_doc/1").json()["found"] is True
    assert http.post(f"/{index}/_search").json()["hits"]["total"]["value"] == 1
    put_settings(http, index, {"index.blocks.write": False}).raise_for_status()
    assert http.put(f"/{index}/_doc/2", json={"a": 2}).status_code == 201


def test_a_read_block_refuses_gets_and_searches(http, index):
    http.put(f"/{index}/_doc/1", json={"a": 1}).raise_for_status()
    put_settings(http, index, {"index.blocks.read": True}).raise_for_status()
    for response in (http.get(f"/{index}/_doc/1"), http.post(f"/{index}/_search")):
        assert response.status_code == 403
        assert "FORBIDDEN/7/index read (api)" in response.json()["error"]["reason"]
    put_settings(http, index, {"index.blocks.read": False}).raise_for_status()


def test_read_only_refuses_writes_mappings_settings_and_deletion_until_lifted(http, index):
    put_settings(http, index, {"index.blocks.read_only": True}).raise_for_status()
    assert http.put(f"/{index}/_doc/1", json={"a": 1}).status_code == 403
    assert http.put(f"/{index}/_mapping", json={"properties": {"b": {"type": "long"}}}).status_code == 403
    assert put_settings(http, index, {"index.refresh_interval": "3s"}).status_code == 403
    assert http.delete(f"/{index}").status_code == 403
    put_settings(http, index, {"index.blocks.read_only": False}).raise_for_status()  # lifting is allowed
    assert http.put(f"/{index}/_doc/1", json={"a": 1}).status_code == 201


def test_read_only_allow_delete_refuses_writes_with_429_but_allows_deleting_the_index(http, index):
    put_settings(http, index, {"index.blocks.read_only_allow_delete": True}).raise_for_status()
    refused = http.put(f"/{index}/_doc/1", json={"a": 1})
    assert refused.status_code == 429
    reason = refused.json()["error"]["reason"]
    assert "TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark" in reason
    assert http.delete(f"/{index}").json() == {"acknowledged": True}


def test_a_read_only_index_takes_an_update_that_lifts_read_only_whatever_else_it_holds(http, index):
    put_settings(http, index, {"index.blocks.read_only": True}).raise_for_status()
    assert put_settings(http, index, {"index.blocks.write": False}).status_code == 403
    lifted = put_settings(http, index, {"index.blocks.read_only": False, "index.refresh_interval": "2s"})
    assert lifted.status_code == 200, lifted.text
    flat = http.get(f"/{index}/_settings", params={"flat_settings": "true"}).json()[index]["settings"]
    assert (flat["index.blocks.read_only"], flat["index.refresh_interval"]) == ("false", "2s")


def test_the_metadata_block_is_lifted_only_by_an_update_of_it_alone(http, index):
    put_settings(http, index, {"index.blocks.metadata": True}).raise_for_status()
    try:
        refused = put_settings(http, index, {"index.blocks.metadata": False, "index.refresh_interval": "2s"})
        assert refused.status_code == 403
        assert refused.json()["error"]["reason"] == \
            f"index [{index}] blocked by: [FORBIDDEN/9/index metadata (api)];"
    finally:
        assert put_settings(http, index, {"index.blocks.metadata": False}).status_code == 200


def test_a_metadata_block_refuses_reads_of_the_index_metadata(http, index):
    put_settings(http, index, {"index.blocks.metadata": True}).raise_for_status()
    try:
        blocked = {"type": "cluster_block_exception",
                   "reason": f"index [{index}] blocked by: [FORBIDDEN/9/index metadata (api)];"}
        for path in (f"/{index}", f"/{index}/_settings", f"/{index}/_settings/index.blocks*",
                     f"/{index}/_mapping", f"/{index}/_mapping/field/f", f"/{index}/_alias"):
            refused = http.get(path)
            assert refused.status_code == 403, path
            assert refused.json()["error"] == {"root_cause": [blocked], **blocked}, path
        assert http.head(f"/{index}").status_code == 403
    finally:
        put_settings(http, index, {"index.blocks.metadata": False}).raise_for_status()
    assert http.get(f"/{index}/_mapping").status_code == 200


def test_preserve_existing_keeps_what_each_index_sets_already(http, index_name):
    for suffix, settings in (("unset", {}), ("set", {"refresh_interval": "5s"})):
        body = {"settings": {"number_of_replicas": 0, **settings}}
        assert http.put(f"/{index_name}-{suffix}", json=body).status_code == 200
    response = http.put(f"/{index_name}-unset,{index_name}-set/_settings",
                        params={"preserve_existing": "true"}, json={"index.refresh_interval": "10s"})
    assert response.json() == {"acknowledged": True}
    got = http.get(f"/{index_name}-*/_settings/index.refresh_interval", params={"flat_settings": "true"})
    assert got.json() == {f"{index_name}-set": {"settings": {"index.refresh_interval": "5s"}},
                          f"{index_name}-unset": {"settings": {"index.refresh_interval": "10s"}}}


def test_index_blocks_are_listed_in_the_cluster_state(http, index):
    put_settings(http, index, {"index.blocks.read_only": True}).raise_for_status()
    try:
        blocks = http.get("/_cluster/state/blocks").json()["blocks"]
        assert blocks["indices"][index] == {"5": {"description": "index read-only (api)", "retryable": False,
                                                  "levels": ["write", "metadata_write"]}}
    finally:
        put_settings(http, index, {"index.blocks.read_only": False}).raise_for_status()
    assert index not in http.get("/_cluster/state/blocks").json()["blocks"].get("indices", {})


def test_soft_deletes_are_always_on_and_refused_off_as_elasticsearch_8_refuses(http, index_name):
    on = http.put(f"/{index_name}", json={"settings": {"soft_deletes.enabled": True}})
    assert on.status_code == 200, on.text
    assert http.get(f"/{index_name}/_settings").json()[index_name]["settings"]["index"]["soft_deletes"] == \
        {"enabled": "true"}
    off = http.put(f"/{index_name}-off", json={"settings": {"index.soft_deletes.enabled": "false"}})
    assert off.status_code == 400
    assert off.json()["error"]["type"] == "illegal_argument_exception"
    assert off.json()["error"]["reason"].startswith(
        "Creating indices with soft-deletes disabled is no longer supported")
    assert http.head(f"/{index_name}-off").status_code == 404


def test_soft_deletes_cannot_be_changed_on_an_index_as_any_static_setting(http, index):
    response = put_settings(http, index, {"index.soft_deletes.enabled": False})
    assert response.status_code == 400
    uuid = http.get(f"/{index}/_settings").json()[index]["settings"]["index"]["uuid"]
    reason = response.json()["error"]["reason"]
    assert reason == ("Can't update non dynamic settings [[index.soft_deletes.enabled]] for open indices "
                      f"[[{index}/{uuid}]]")


def test_auto_expand_replicas_follows_the_nodes_so_a_lone_node_stays_green(http, index_name):
    created = http.put(f"/{index_name}", json={"settings": {"number_of_replicas": 2,
                                                            "auto_expand_replicas": "0-all"}})
    assert created.status_code == 200, created.text
    health = http.get(f"/_cluster/health/{index_name}", params={"wait_for_status": "green", "timeout": "10s"})
    assert health.json()["status"] == "green", health.text
    settings = http.get(f"/{index_name}/_settings").json()[index_name]["settings"]["index"]
    assert settings["number_of_replicas"] == "0" and settings["auto_expand_replicas"] == "0-all"


def test_a_malformed_auto_expand_replicas_is_refused_as_elasticsearch_words_it(http, index):
    refused = put_settings(http, index, {"index.auto_expand_replicas": "bad"})
    assert refused.status_code == 400
    assert refused.json()["error"]["reason"] == ("failed to parse [index.auto_expand_replicas] from value: "
                                                 "[bad] at index -1")
