"""Each node set's strata.yml: what it says, and that the node accepts it (the node refuses
unknown settings at start-up, so a wrong key would stop every pod)."""

from __future__ import annotations

import pytest
import yaml

from strata_node.common.cluster_settings import setting_text as node_setting_text
from strata_node.settings import load_node_settings
from strata_operator.builders.common import CONFIG_PATH, DATA_PATH
from strata_operator.builders.config import setting_text

from .conftest import make_cluster
from .helpers import build, by_kind, env, one
from .schemas import SAMPLES, load_documents

# The node image's own environment (Dockerfile) and values Kubernetes fills in for fieldRefs.
IMAGE_ENV = {"STRATA_SETTING_PATH_DATA": "/usr/share/strata/data", "STRATA_SETTING_NETWORK_HOST": "0.0.0.0"}
FIELD_VALUES = {"metadata.name": "demo-default-0", "status.podIP": "10.1.2.3"}


def settings_of(resource, node_set="default", **inputs):
    objects = build(resource, **inputs)
    text = one(objects, "ConfigMap", f"{resource['metadata']['name']}-{node_set}-config")["data"][
        "strata.yml"
    ]
    return yaml.safe_load(text)


def pod_environment(sts):
    """The container's environment as the kubelet would fill it in."""
    out = dict(IMAGE_ENV)
    for name, var in env(sts).items():
        source = var.get("valueFrom") or {}
        if "fieldRef" in source:
            out[name] = FIELD_VALUES[source["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in source:
            out[name] = f"secret:{source['secretKeyRef']['key']}"
        else:
            out[name] = var["value"]
    return out


def cluster_resources():
    samples = [
        d for p in sorted(SAMPLES.glob("*.yaml")) for d in load_documents(p) if d["kind"] == "StrataCluster"
    ]
    for sample in samples:
        sample["metadata"]["uid"] = "uid"
    secure = make_cluster(
        secureSettings=[{"secretName": "s", "entries": [{"key": "k", "setting": "node.attr.zone"}]}]
    )
    tuned = make_cluster(
        {
            "name": "default",
            "count": 1,
            "config": {
                "cluster": {"fault_detection": {"leader_check": {"timeout": "2s"}}},
                "action.auto_create_index": "false",
            },
        }
    )
    return [*samples, secure, tuned]


@pytest.mark.parametrize("bootstrapped", [False, True], ids=["bootstrapping", "bootstrapped"])
@pytest.mark.parametrize(
    "resource",
    cluster_resources(),
    ids=lambda r: r["metadata"]["name"] + "-" + str(len(r["spec"]["nodeSets"])),
)
def test_every_rendered_strata_yml_is_accepted_by_the_node(tmp_path, resource, bootstrapped):
    objects = build(resource, bootstrapped=bootstrapped)
    statefulsets = {s["metadata"]["name"]: s for s in by_kind(objects, "StatefulSet")}
    for node_set in resource["spec"]["nodeSets"]:
        name = f"{resource['metadata']['name']}-{node_set['name']}"
        path = tmp_path / name / "strata.yml"
        path.parent.mkdir()
        path.write_text(one(objects, "ConfigMap", f"{name}-config")["data"]["strata.yml"])
        settings = load_node_settings(path, environ=pod_environment(statefulsets[name]))
        assert settings.get("node.name") == "demo-default-0"
        assert settings.get("transport.host") == "10.1.2.3"
        assert settings.get("transport.secret") == "secret:transport-secret"
        assert settings.get("path.data") == DATA_PATH
        assert settings.get("path.config") == CONFIG_PATH
        assert settings.get("http.host") == "0.0.0.0"
        assert (settings.get("http.port"), settings.get("transport.port")) == (9200, 9300)
        expected_roles = node_set.get("roles")
        if expected_roles is not None:
            assert settings.get("node.roles") == expected_roles


def test_cluster_name_is_the_resource_name(cluster):
    assert settings_of(cluster)["cluster.name"] == "demo"


def test_seed_hosts_are_the_transport_service_dns_name(cluster):
    assert settings_of(cluster)["discovery.seed_hosts"] == ["demo-transport.prod.svc:9300"]


def test_initial_master_nodes_are_the_master_pods_before_the_cluster_formed():
    resource = make_cluster(
        {"name": "masters", "count": 3, "roles": ["master"]}, {"name": "data", "count": 2, "roles": ["data"]}
    )
    assert settings_of(resource, "masters")["cluster.initial_master_nodes"] == [
        "demo-masters-0",
        "demo-masters-1",
        "demo-masters-2",
    ]


def test_initial_master_nodes_are_not_set_on_nodes_that_cannot_be_master():
    resource = make_cluster(
        {"name": "masters", "count": 3, "roles": ["master"]}, {"name": "data", "count": 2, "roles": ["data"]}
    )
    assert "cluster.initial_master_nodes" not in settings_of(resource, "data")


def test_initial_master_nodes_are_never_set_once_the_cluster_formed(cluster):
    assert "cluster.initial_master_nodes" not in settings_of(cluster, bootstrapped=True)


def test_node_roles_are_the_node_sets():
    resource = make_cluster({"name": "hot", "count": 1, "roles": ["master", "data_hot"]})
    assert settings_of(resource, "hot")["node.roles"] == ["master", "data_hot"]


def test_node_set_without_roles_leaves_the_nodes_default(cluster):
    assert "node.roles" not in settings_of(cluster)


def test_empty_roles_make_a_coordinating_only_node():
    resource = make_cluster(
        {"name": "m", "count": 1, "roles": ["master"]}, {"name": "coord", "count": 1, "roles": []}
    )
    assert settings_of(resource, "coord")["node.roles"] == []


def test_user_config_is_flattened_into_the_file(cluster):
    cluster["spec"]["nodeSets"][0]["config"] = {
        "node": {"attr": {"zone": "a"}},
        "action.auto_create_index": False,
    }
    settings = settings_of(cluster)
    assert settings["node.attr.zone"] == "a"
    assert settings["action.auto_create_index"] == "false"


def test_node_name_and_transport_secret_are_not_in_the_file(cluster):
    settings = settings_of(cluster)
    assert "node.name" not in settings
    assert "transport.secret" not in settings


@pytest.mark.parametrize(
    ("value", "text"),
    [(False, "false"), (True, "true"), (12, "12"), (1.5, "1.5"), (2.0, "2"), ("all", "all")],
)
def test_config_values_reach_the_node_as_elasticsearch_setting_strings(tmp_path, value, text):
    """Regression: a YAML boolean or number in a string-valued setting reached the node as
    a YAML scalar, which it read back as Python's bool, and the setting held "False"."""
    resource = make_cluster(
        {
            "name": "default",
            "count": 1,
            "config": {"action.auto_create_index": value, "node.attr.zone": value},
        }
    )
    settings = settings_of(resource)
    assert settings["action.auto_create_index"] == text
    path = tmp_path / "strata.yml"
    path.write_text(one(build(resource), "ConfigMap", "demo-default-config")["data"]["strata.yml"])
    loaded = load_node_settings(path, environ={})
    assert (loaded.get("action.auto_create_index"), loaded.get("node.attr.zone")) == (text, text)


def test_typed_settings_given_as_yaml_scalars_still_parse_on_the_node(tmp_path):
    resource = make_cluster(
        {
            "name": "default",
            "count": 1,
            "config": {
                "action.destructive_requires_name": False,
                "cluster.max_voting_config_exclusions": 4,
            },
        }
    )
    path = tmp_path / "strata.yml"
    path.write_text(one(build(resource), "ConfigMap", "demo-default-config")["data"]["strata.yml"])
    loaded = load_node_settings(path, environ={})
    assert loaded.get("action.destructive_requires_name") is False
    assert loaded.get("cluster.max_voting_config_exclusions") == 4


def test_lists_are_lists_of_setting_strings():
    resource = make_cluster({"name": "default", "count": 1, "config": {"node.attr.flags": [True, 3]}})
    assert settings_of(resource)["node.attr.flags"] == ["true", "3"]


def test_operator_settings_keep_their_types():
    settings = settings_of(make_cluster())
    assert settings["http.port"] == 9200 and settings["transport.port"] == 9300


@pytest.mark.parametrize("value", [False, True, 0, 12, 1.5, 2.0, "x", ["a", True, 3]])
def test_setting_text_is_the_nodes(value):
    assert setting_text(value) == node_setting_text(value)


def test_an_s3_client_configured_through_the_resource_reaches_the_node(tmp_path):
    resource = make_cluster(
        {"name": "default", "count": 1, "config": {"s3.client.default.endpoint": "https://minio.backup:9000"}},
        secureSettings=[{"secretName": "s3-keys", "entries": [
            {"key": "access", "setting": "s3.client.default.access_key"},
            {"key": "secret", "setting": "s3.client.default.secret_key"}]}],
    )
    objects = build(resource)
    path = tmp_path / "strata.yml"
    path.write_text(one(objects, "ConfigMap", "demo-default-config")["data"]["strata.yml"])
    statefulset = one(objects, "StatefulSet", "demo-default")
    settings = load_node_settings(path, environ=pod_environment(statefulset))
    assert settings.s3_clients == {"s3.client.default.endpoint": "https://minio.backup:9000",
                                   "s3.client.default.access_key": "secret:access",
                                   "s3.client.default.secret_key": "secret:secret"}
    assert "access_key" not in path.read_text()  # the keys travel as environment variables only
