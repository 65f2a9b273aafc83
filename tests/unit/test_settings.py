"""Node and index settings: sources in order, typed parsing, unknown keys refused."""

import pytest

from strata_node.settings import (
    SettingsError,
    env_settings,
    load_node_settings,
    normalize_index_settings,
    validate_index_settings,
)


def test_flags_override_environment_override_file(tmp_path):
    config = tmp_path / "strata.yml"
    config.write_text("cluster.name: file\nhttp:\n  port: 9201\nnode.name: file-node\n")
    settings = load_node_settings(config, ["node.name=flag-node"],
                                  {"STRATA_SETTING_CLUSTER_NAME": "env", "STRATA_SETTING_HTTP_PORT": "9202"})
    assert settings.get("cluster.name") == "env"
    assert settings.get("http.port") == 9202
    assert settings.get("node.name") == "flag-node"
    assert settings.get("path.config") == str(tmp_path)


def test_environment_names_map_underscores_to_dots_and_doubled_to_underscores():
    assert env_settings({"STRATA_SETTING_CLUSTER_INITIAL__MASTER__NODES": "a,b", "OTHER": "x"}) == {
        "cluster.initial_master_nodes": "a,b"}


def test_unknown_node_setting_is_refused_with_a_suggestion():
    with pytest.raises(SettingsError, match=r"unknown setting \[http.prot\] did you mean \[http.port\]\?"):
        load_node_settings(None, ["http.prot=1"], {})


def test_custom_node_attributes_are_allowed():
    settings = load_node_settings(None, ["node.attr.zone=eu-1"], {})
    assert settings.attributes == {"zone": "eu-1"}


@pytest.mark.parametrize("flag, message", [
    ("http.port=70000", r"must be <= 65535"),
    ("http.port=x", r"Failed to parse value \[x\] for setting \[http.port\]"),
    ("node.roles=master,chef", r"unknown role \[chef\]"),
    ("http.max_content_length=lots", r"as a size in bytes"),
    ("action.destructive_requires_name=yes", r"only \[true\] or \[false\]"),
    ("noequals", r"must be of the form name=value"),
])
def test_bad_node_setting_values_stop_startup(flag, message):
    with pytest.raises(SettingsError, match=message):
        load_node_settings(None, [flag], {})


def test_lists_accept_yaml_lists_and_comma_strings(tmp_path):
    config = tmp_path / "strata.yml"
    config.write_text("discovery.seed_hosts: [a:9300, b:9300]\n")
    assert load_node_settings(config, [], {}).get("discovery.seed_hosts") == ["a:9300", "b:9300"]
    flags = load_node_settings(None, ["discovery.seed_hosts=a,b"], {})
    assert flags.get("discovery.seed_hosts") == ["a", "b"]


def test_index_settings_are_flattened_and_prefixed():
    flat = normalize_index_settings({"number_of_shards": 3, "index": {"translog": {"durability": "async"}}})
    assert flat == {"index.number_of_shards": 3, "index.translog.durability": "async"}


@pytest.mark.parametrize("key, value, message", [
    ("index.number_of_shards", "0", r"must be >= 1"),
    ("index.number_of_shards", "abc", r"Failed to parse value \[abc\]"),
    ("index.refresh_interval", "soon", r"as a time value"),
    ("index.translog.durability", "never", r"must be one of \[request, async\]"),
    ("index.translog.sync_interval", "10ms", r"must be >= \[100ms\]"),
    ("index.shards", "1", r"unknown setting \[index.shards\]"),
    ("index.uuid", "x", r"private index setting \[index.uuid\] can not be set explicitly"),
])
def test_bad_index_settings_are_refused(key, value, message):
    with pytest.raises(SettingsError, match=message):
        validate_index_settings({key: value})


def test_refresh_interval_minus_one_disables_refresh():
    assert validate_index_settings({"index.refresh_interval": "-1"}) == {"index.refresh_interval": -1.0}
