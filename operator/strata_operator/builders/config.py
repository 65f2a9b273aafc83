"""Each node set's strata.yml, in a ConfigMap mounted at config/node/.

The rendered settings must be ones the node accepts: it refuses unknown settings at start-up
(tests/operator load every rendered file with strata_node.settings.load_node_settings).
node.name (the pod's name), transport.host (the pod's IP) and transport.secret come from the
environment, not this file (statefulset.py)."""

from __future__ import annotations

from typing import Any

import yaml

from ..spec import ClusterSpec, NodeSet
from .common import (
    CONFIG_PATH,
    DATA_PATH,
    HTTP_PORT,
    NODE_CONFIG_FILE,
    TRANSPORT_PORT,
    config_map_name,
    content_hash,
    labels,
    metadata,
    pod_names,
    seed_host,
)

BOOTSTRAP_SETTING = "cluster.initial_master_nodes"


def initial_master_nodes(spec: ClusterSpec) -> list[str]:
    """The names of every master-eligible pod the spec asks for: the first voting configuration."""
    return [name for ns in spec.node_sets if ns.master_eligible for name in pod_names(spec.name, ns)]


def setting_text(value: Any) -> Any:
    """A setting's value as Elasticsearch holds every setting, a string (or a list of them):
    a YAML `false` in a node set's config is "false", 12 is "12". Written as YAML scalars the
    node would read them back as Python values, and a string-valued setting would then hold
    Python's "False" (action.auto_create_index: "False" is an index pattern, not false).
    null stays null (the setting's default). The node's own
    strata_node.common.cluster_settings.setting_text does the same for REST and file
    settings; the operator does not import the node, and a test keeps the two equal."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [setting_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def node_settings(spec: ClusterSpec, node_set: NodeSet, *, bootstrapped: bool) -> dict[str, Any]:
    """The node set's settings, flat: the user's config as setting strings, then what the
    operator sets. `bootstrapped`: the cluster has formed once (its uuid is recorded on the
    resource), so cluster.initial_master_nodes is never set again."""
    settings: dict[str, Any] = {key: setting_text(value) for key, value in node_set.config.items()}
    settings.update(
        {
            "cluster.name": spec.name,
            "path.data": DATA_PATH,
            "path.config": CONFIG_PATH,
            # HTTP on every interface (probes, Services, port-forward). The transport binds the pod
            # IP from the environment: the address a node binds is the one it tells its peers.
            "http.host": "0.0.0.0",
            "http.port": HTTP_PORT,
            "transport.port": TRANSPORT_PORT,
            "discovery.seed_hosts": [seed_host(spec)],
        }
    )
    if node_set.roles is not None:
        settings["node.roles"] = list(node_set.roles)
    if not bootstrapped and node_set.master_eligible:
        settings[BOOTSTRAP_SETTING] = initial_master_nodes(spec)
    return settings


def render_strata_yml(spec: ClusterSpec, node_set: NodeSet, settings: dict[str, Any]) -> str:
    header = (
        f"# strata.yml of node set [{node_set.name}] of StrataCluster {spec.namespace}/{spec.name},\n"
        "# rendered by strata-operator: change the StrataCluster, not this file.\n"
    )
    return header + yaml.safe_dump(settings, sort_keys=True, default_flow_style=False)


def config_hash(settings: dict[str, Any]) -> str:
    """What a pod must restart for: the settings less the bootstrap list, which the node reads
    only before the cluster has formed (dropping it after bootstrap restarts nothing)."""
    return content_hash({k: v for k, v in settings.items() if k != BOOTSTRAP_SETTING})


def build_config_map(spec: ClusterSpec, node_set: NodeSet, settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, config_map_name(spec.name, node_set.name), labels(spec, node_set)),
        "data": {NODE_CONFIG_FILE: render_strata_yml(spec, node_set, settings)},
    }
