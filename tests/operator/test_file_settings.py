"""The settings.json ConfigMap and its version."""

from __future__ import annotations

import json

from strata_operator.builders.file_settings import build_file_settings_config_map, next_version
from strata_operator.spec import parse_file_settings

STATE = {"cluster_settings": {"action.auto_create_index": "false"}}


def resource(state=STATE):
    return {
        "metadata": {"name": "demo-settings", "namespace": "prod", "uid": "uid-fs"},
        "spec": {"clusterRef": {"name": "demo"}, "settings": state},
    }


def config_map(state=STATE, version=1):
    return build_file_settings_config_map(parse_file_settings(resource(state)), "demo", version)


def test_settings_json_has_elasticsearchs_shape():
    document = json.loads(config_map(version=3)["data"]["settings.json"])
    assert document == {"metadata": {"version": "3", "compatibility": "8.17.0"}, "state": STATE}


def test_config_map_is_named_for_the_cluster_and_owned_by_the_file_settings():
    meta = config_map()["metadata"]
    assert meta["name"] == "demo-file-settings"
    assert meta["ownerReferences"][0]["kind"] == "StrataFileSettings"
    assert meta["ownerReferences"][0]["uid"] == "uid-fs"
    assert meta["labels"]["strata.dev/cluster"] == "demo"


def test_first_version_is_one():
    assert next_version(None, STATE) == 1


def test_version_stays_when_the_content_is_the_same():
    assert next_version(config_map(version=4), dict(STATE)) == 4


def test_version_increases_when_the_content_changes():
    assert (
        next_version(config_map(version=4), {"cluster_settings": {"action.auto_create_index": "true"}}) == 5
    )


def test_key_order_is_not_a_change():
    state = {"b": {"y": 1, "x": 2}, "a": 1}
    assert next_version(config_map(state, 2), {"a": 1, "b": {"x": 2, "y": 1}}) == 2


def test_version_never_goes_below_what_the_status_has_seen():
    """A ConfigMap deleted by hand must not restart at 1: the cluster ignores old versions."""
    assert next_version(None, STATE, floor=7) == 8


def test_a_config_map_behind_the_status_gets_a_new_version():
    assert next_version(config_map(version=2), STATE, floor=5) == 6


def test_json_booleans_and_numbers_stay_json_in_settings_json():
    """Elasticsearch's settings.json has them as JSON values (the node stores "false", "12");
    the operator must not turn them into Python's "False" on the way."""
    state = {
        "cluster_settings": {"action.auto_create_index": False, "cluster.max_voting_config_exclusions": 12}
    }
    text = config_map(state)["data"]["settings.json"]
    assert '"action.auto_create_index": false' in text
    assert json.loads(text)["state"] == state
