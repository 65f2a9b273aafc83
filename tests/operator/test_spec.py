"""What the operator refuses before building anything (phase Invalid)."""

from __future__ import annotations

import pytest

from strata_operator.spec import (
    InvalidSpec,
    parse_cluster,
    parse_file_settings,
    resolve_cluster,
    storage_bytes,
)

from .conftest import make_cluster


def invalid(resource) -> str:
    with pytest.raises(InvalidSpec) as e:
        parse_cluster(resource)
    return str(e.value)


def test_a_cluster_needs_a_master_eligible_node():
    assert "master-eligible" in invalid(make_cluster({"name": "data", "count": 3, "roles": ["data"]}))


def test_a_master_set_scaled_to_zero_is_no_master():
    assert "master-eligible" in invalid(make_cluster({"name": "m", "count": 0}))


@pytest.mark.parametrize(
    "setting",
    [
        "node.name",
        "cluster.initial_master_nodes",
        "discovery.seed_hosts",
        "transport.secret",
        "path.data",
        "http.port",
    ],
)
def test_settings_the_operator_manages_are_refused_in_config(setting):
    message = invalid(make_cluster({"name": "default", "count": 1, "config": {setting: "x"}}))
    assert setting in message


def test_managed_settings_are_found_in_nested_config():
    assert "node.name" in invalid(
        make_cluster({"name": "default", "count": 1, "config": {"node": {"name": "x"}}})
    )


def test_a_long_cluster_name_is_refused():
    assert "30 characters" in invalid(make_cluster(name="a" * 31))


@pytest.mark.parametrize("name", ["http", "transport"])
def test_node_set_names_of_the_clusters_services_are_refused(name):
    assert "reserved" in invalid(make_cluster({"name": name, "count": 1}))


def test_duplicate_node_set_names_are_refused():
    assert "unique" in invalid(make_cluster({"name": "a", "count": 1}, {"name": "a", "count": 1}))


def test_a_secure_setting_also_in_config_is_refused():
    resource = make_cluster(
        {"name": "a", "count": 1, "config": {"node.attr.zone": "x"}},
        secureSettings=[{"secretName": "s", "entries": [{"key": "k", "setting": "node.attr.zone"}]}],
    )
    assert "both in config and in secureSettings" in invalid(resource)


def test_a_managed_secure_setting_is_refused():
    resource = make_cluster(
        secureSettings=[{"secretName": "s", "entries": [{"key": "k", "setting": "transport.secret"}]}]
    )
    assert "managed" in invalid(resource)


def fs(**spec):
    return {"metadata": {"name": "f", "namespace": "d", "uid": "u"}, "spec": {"settings": {}, **spec}}


def clusters(*names, labels=None):
    return [{"metadata": {"name": n, "labels": (labels or {}).get(n, {})}} for n in names]


def test_file_settings_resolve_a_cluster_ref():
    assert resolve_cluster(parse_file_settings(fs(clusterRef={"name": "b"})), clusters("a", "b")) == "b"


def test_file_settings_refuse_a_missing_cluster():
    with pytest.raises(InvalidSpec, match="not found"):
        resolve_cluster(parse_file_settings(fs(clusterRef={"name": "c"})), clusters("a", "b"))


def test_file_settings_resolve_a_selector_matching_one_cluster():
    spec = parse_file_settings(fs(clusterSelector={"matchLabels": {"team": "x"}}))
    assert resolve_cluster(spec, clusters("a", "b", labels={"b": {"team": "x"}})) == "b"


def test_file_settings_refuse_a_selector_matching_two_clusters():
    spec = parse_file_settings(fs(clusterSelector={"matchLabels": {"team": "x"}}))
    with pytest.raises(InvalidSpec, match="exactly one"):
        resolve_cluster(spec, clusters("a", "b", labels={"a": {"team": "x"}, "b": {"team": "x"}}))


def test_file_settings_need_exactly_one_way_to_name_the_cluster():
    with pytest.raises(InvalidSpec):
        parse_file_settings(fs())


@pytest.mark.parametrize(
    "size, expected", [("10Gi", 10 * 2**30), ("500M", 500e6), ("1.5Ti", 1.5 * 2**40), ("1024", 1024)]
)
def test_storage_sizes_are_read_as_kubernetes_quantities(size, expected):
    assert storage_bytes(size) == expected


def test_a_storage_size_that_is_no_quantity_is_invalid():
    with pytest.raises(InvalidSpec, match="not a quantity"):
        parse_cluster(make_cluster({"name": "default", "count": 3, "storage": {"size": "ten gigs"}}))
