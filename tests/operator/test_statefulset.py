"""The StatefulSet of each node set."""

from __future__ import annotations

import yaml

from strata_node.settings import env_settings
from strata_operator.builders.common import ANNOTATION_CONFIG_HASH, DATA_PATH, FILE_SETTINGS_DIR
from strata_operator.builders.statefulset import setting_env_name

from .conftest import make_cluster
from .helpers import build, by_kind, container, env, one

HOT_WARM = make_cluster(
    {"name": "masters", "count": 3, "roles": ["master"]},
    {
        "name": "hot",
        "count": 2,
        "roles": ["data_hot", "ingest"],
        "storage": {"size": "50Gi", "storageClassName": "fast"},
    },
    {"name": "warm", "count": 1, "roles": ["data_warm"]},
)


def sts_of(resource, name="demo-default", **inputs):
    return one(build(resource, **inputs), "StatefulSet", name)


def test_one_statefulset_per_node_set():
    names = [s["metadata"]["name"] for s in by_kind(build(HOT_WARM), "StatefulSet")]
    assert names == ["demo-masters", "demo-hot", "demo-warm"]


def test_replicas_are_the_node_set_count(cluster):
    assert sts_of(cluster)["spec"]["replicas"] == 3


def test_replicas_input_holds_a_count_other_than_the_spec(cluster):
    assert sts_of(cluster, replicas={"default": 5})["spec"]["replicas"] == 5


def test_pods_are_replaced_only_when_deleted(cluster):
    assert sts_of(cluster)["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_pods_start_in_parallel(cluster):
    assert sts_of(cluster)["spec"]["podManagementPolicy"] == "Parallel"


def test_selector_is_cluster_and_node_set(cluster):
    sts = sts_of(cluster)
    selector = sts["spec"]["selector"]["matchLabels"]
    assert selector == {"strata.dev/cluster": "demo", "strata.dev/node-set": "default"}
    assert selector.items() <= sts["spec"]["template"]["metadata"]["labels"].items()


def test_volume_claim_template_takes_storage_size_and_class():
    claim = sts_of(HOT_WARM, "demo-hot")["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_volume_claim_defaults_to_10gi_and_the_default_storage_class(cluster):
    claim = sts_of(cluster)["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "storageClassName" not in claim["spec"]


def test_volume_claims_are_kept_when_scaled_down_or_deleted(cluster):
    policy = sts_of(cluster)["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_data_volume_is_mounted_at_path_data(cluster):
    mounts = {m["name"]: m["mountPath"] for m in container(sts_of(cluster))["volumeMounts"]}
    assert mounts["data"] == DATA_PATH


def test_file_settings_config_map_is_mounted_optionally_where_the_node_watches(cluster):
    sts = sts_of(cluster)
    mounts = {m["name"]: m["mountPath"] for m in container(sts)["volumeMounts"]}
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert mounts["file-settings"] == FILE_SETTINGS_DIR
    assert volumes["file-settings"]["configMap"] == {"name": "demo-file-settings", "optional": True}


def test_node_config_map_is_the_config_file_the_node_starts_with(cluster):
    sts = sts_of(cluster)
    c = container(sts)
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == "demo-default-config"
    assert c["command"] == ["strata-node", "--config", f"{mounts['config']}/strata.yml"]


def test_readiness_probe_asks_the_nodes_local_health(cluster):
    probe = container(sts_of(cluster))["readinessProbe"]
    assert probe["httpGet"] == {"path": "/_cluster/health?local=true", "port": "http", "scheme": "HTTP"}


def test_container_exposes_http_9200_and_transport_9300(cluster):
    ports = {p["name"]: p["containerPort"] for p in container(sts_of(cluster))["ports"]}
    assert ports == {"http": 9200, "transport": 9300}


def test_image_follows_the_version(cluster):
    assert container(sts_of(cluster))["image"] == "strata/strata-node:0.1.0"


def test_image_override_wins(cluster):
    cluster["spec"]["image"] = "registry.example/strata:dev"
    assert container(sts_of(cluster))["image"] == "registry.example/strata:dev"


def test_pods_prefer_distinct_kubernetes_nodes(cluster):
    anti = sts_of(cluster)["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    term = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term == {
        "labelSelector": {"matchLabels": {"strata.dev/cluster": "demo"}},
        "topologyKey": "kubernetes.io/hostname",
    }


def test_pod_template_affinity_replaces_the_default(cluster):
    mine = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["search"]}]}
                ]
            }
        }
    }
    cluster["spec"]["nodeSets"][0]["podTemplate"] = {"spec": {"affinity": mine}}
    assert sts_of(cluster)["spec"]["template"]["spec"]["affinity"] == mine


def test_node_name_is_the_pod_name(cluster):
    assert env(sts_of(cluster))["STRATA_SETTING_NODE_NAME"]["valueFrom"] == {
        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}
    }


def test_transport_binds_the_pod_ip(cluster):
    """The address a node binds is the one it tells its peers: the pod IP, never 0.0.0.0."""
    assert env(sts_of(cluster))["STRATA_SETTING_TRANSPORT_HOST"]["valueFrom"] == {
        "fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}
    }


def test_transport_secret_comes_from_the_clusters_secret(cluster):
    assert env(sts_of(cluster))["STRATA_SETTING_TRANSPORT_SECRET"]["valueFrom"] == {
        "secretKeyRef": {"name": "demo-secrets", "key": "transport-secret"}
    }


def test_secure_settings_become_environment_from_their_secret(cluster):
    cluster["spec"]["secureSettings"] = [
        {"secretName": "s3", "entries": [{"key": "secret", "setting": "s3.client.default.secret_key"}]}
    ]
    variable = env(sts_of(cluster))["STRATA_SETTING_S3_CLIENT_DEFAULT_SECRET__KEY"]
    assert variable["valueFrom"] == {"secretKeyRef": {"name": "s3", "key": "secret"}}


def test_setting_env_names_are_the_ones_the_node_reads():
    for setting in ("node.name", "transport.secret", "s3.client.default.secret_key", "a_b.c__d"):
        assert env_settings({setting_env_name(setting): "x"}) == {setting: "x"}


def test_service_links_are_off(cluster):
    """Kubernetes' Service variables could be read as STRATA_SETTING_* and stop the node."""
    assert sts_of(cluster)["spec"]["template"]["spec"]["enableServiceLinks"] is False


def test_pods_get_no_api_token(cluster):
    assert sts_of(cluster)["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_pods_run_as_the_images_user_and_own_the_data_volume(cluster):
    context = sts_of(cluster)["spec"]["template"]["spec"]["securityContext"]
    assert context == {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "runAsNonRoot": True}


def test_default_resources_when_none_are_given(cluster):
    assert container(sts_of(cluster))["resources"] == {
        "requests": {"memory": "1Gi", "cpu": "500m"},
        "limits": {"memory": "2Gi"},
    }


def test_resources_are_the_node_sets(cluster):
    resources = {"requests": {"memory": "4Gi"}, "limits": {"memory": "4Gi", "cpu": 2}}
    cluster["spec"]["nodeSets"][0]["resources"] = resources
    assert container(sts_of(cluster))["resources"] == resources


def test_pod_labels_name_the_roles():
    labels = sts_of(HOT_WARM, "demo-hot")["spec"]["template"]["metadata"]["labels"]
    assert labels["strata.dev/role-data-hot"] == labels["strata.dev/role-ingest"] == "true"
    assert labels["strata.dev/master-eligible"] == "false"


def test_node_set_without_roles_is_master_eligible(cluster):
    labels = sts_of(cluster)["spec"]["template"]["metadata"]["labels"]
    assert labels["strata.dev/master-eligible"] == "true"


def test_pod_template_merges_the_node_container_by_name(cluster):
    cluster["spec"]["nodeSets"][0]["podTemplate"] = {
        "spec": {"containers": [{"name": "strata", "env": [{"name": "EXTRA", "value": "1"}]}]}
    }
    c = container(sts_of(cluster))
    assert env(sts_of(cluster))["EXTRA"] == {"name": "EXTRA", "value": "1"}
    assert "STRATA_SETTING_NODE_NAME" in env(sts_of(cluster))
    assert c["image"] == "strata/strata-node:0.1.0"


def test_pod_template_adds_sidecars_and_volumes(cluster):
    cluster["spec"]["nodeSets"][0]["podTemplate"] = {
        "spec": {
            "containers": [{"name": "exporter", "image": "exporter:1"}],
            "volumes": [{"name": "extra", "emptyDir": {}}],
        }
    }
    spec = sts_of(cluster)["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["strata", "exporter"]
    assert [v["name"] for v in spec["volumes"]] == ["config", "file-settings", "extra"]


def test_operator_labels_win_over_pod_template_labels(cluster):
    cluster["spec"]["nodeSets"][0]["podTemplate"] = {
        "metadata": {"labels": {"strata.dev/cluster": "other", "team": "search"}}
    }
    labels = sts_of(cluster)["spec"]["template"]["metadata"]["labels"]
    assert labels["strata.dev/cluster"] == "demo"
    assert labels["team"] == "search"


def test_config_change_changes_the_pod_template(cluster):
    before = sts_of(cluster)["spec"]["template"]["metadata"]["annotations"][ANNOTATION_CONFIG_HASH]
    cluster["spec"]["nodeSets"][0]["config"] = {"action.auto_create_index": "false"}
    after = sts_of(cluster)["spec"]["template"]["metadata"]["annotations"][ANNOTATION_CONFIG_HASH]
    assert before != after


def test_dropping_the_bootstrap_list_restarts_nothing(cluster):
    """Once the cluster has formed, cluster.initial_master_nodes leaves strata.yml, and the pod
    template stays the same: no rolling restart for it."""
    before = sts_of(cluster, bootstrapped=False)["spec"]["template"]
    after = sts_of(cluster, bootstrapped=True)["spec"]["template"]
    assert before == after


def test_config_map_follows_the_bootstrap_state(cluster):
    def text(bootstrapped):
        objects = build(cluster, bootstrapped=bootstrapped)
        return yaml.safe_load(one(objects, "ConfigMap", "demo-default-config")["data"]["strata.yml"])

    assert "cluster.initial_master_nodes" in text(False)
    assert "cluster.initial_master_nodes" not in text(True)
