"""The CRDs themselves: valid CustomResourceDefinitions, structural, with short names that
clash with nothing built in, and defaults the operator's code agrees with."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

import strata_node
from strata_node.settings import ALL_ROLES as NODE_ROLES
from strata_operator import spec as cluster_spec
from strata_operator.builders.file_settings import COMPATIBILITY

from .schemas import CRDS, apply_defaults, crd_for, crd_schema, crd_validate, k8s_validate, load_documents

KINDS = ["StrataAutoscaler", "StrataCluster", "StrataFileSettings"]

# The short names of the resources every Kubernetes 1.30 API server serves (kubectl
# api-resources), plus the common add-ons' (metrics, snapshots, cert-manager, ECK).
BUILT_IN_SHORT_NAMES = {
    "cs",
    "cm",
    "ep",
    "ev",
    "limits",
    "ns",
    "no",
    "pvc",
    "pv",
    "po",
    "rc",
    "quota",
    "sa",
    "svc",
    "crd",
    "crds",
    "ds",
    "deploy",
    "rs",
    "sts",
    "hpa",
    "cj",
    "csr",
    "ing",
    "netpol",
    "pdb",
    "pc",
    "psp",
    "sc",
    "ingclass",
    "vac",
    "vsclass",
    "vsc",
    "vs",
    "cert",
    "certs",
    "cr",
    "crs",
    "es",
    "kb",
    "ent",
    "apm",
    "ems",
    "beat",
    "agent",
    "lms",
    "sps",
}


def all_crds() -> list[dict[str, Any]]:
    return [doc for path in sorted(CRDS.glob("*.yaml")) for doc in load_documents(path)]


def walk(schema: dict[str, Any], path: str = ""):
    yield path, schema
    for key, sub in (schema.get("properties") or {}).items():
        yield from walk(sub, f"{path}.{key}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}.*")
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], f"{path}[]")


def test_there_is_one_crd_per_kind():
    assert sorted(c["spec"]["names"]["kind"] for c in all_crds()) == sorted(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_crd_is_a_valid_custom_resource_definition(kind):
    k8s_validate(crd_for(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_crd_name_is_plural_dot_group(kind):
    crd = crd_for(kind)
    assert crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.{crd['spec']['group']}"
    assert crd["spec"]["group"] == "strata.dev"
    assert [v["name"] for v in crd["spec"]["versions"]] == ["v1alpha1"]


@pytest.mark.parametrize("kind", KINDS)
def test_crd_schema_is_structural(kind):
    """Every field has a type (or is int-or-string / preserves unknown fields), and the
    logical junctors carry no types or defaults, as apiextensions requires."""
    for path, node in walk(crd_schema(kind)):
        assert "type" in node or node.get("x-kubernetes-int-or-string"), f"{path} has no type"
        for junctor in ("anyOf", "allOf", "oneOf", "not"):
            branches = node.get(junctor)
            for branch in branches if isinstance(branches, list) else [branches] if branches else []:
                assert not ({"default", "description", "nullable"} & set(branch)), f"{path}.{junctor}"
                if not node.get("x-kubernetes-int-or-string"):
                    assert "type" not in branch, f"{path}.{junctor} declares a type"


@pytest.mark.parametrize("kind", KINDS)
def test_crd_defaults_are_valid_values(kind):
    for _path, node in walk(crd_schema(kind)):
        if "default" in node:
            jsonschema.Draft202012Validator(node).validate(apply_defaults(node, node["default"]))


@pytest.mark.parametrize("kind", KINDS)
def test_crd_has_status_subresource(kind):
    version = crd_for(kind)["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}


def test_cluster_printer_columns_show_health_nodes_phase_age():
    columns = {
        c["name"]: c["jsonPath"]
        for c in crd_for("StrataCluster")["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert columns["Health"] == ".status.health"
    assert columns["Nodes"] == ".status.availableNodes"
    assert columns["Phase"] == ".status.phase"
    assert columns["Age"] == ".metadata.creationTimestamp"


@pytest.mark.parametrize("kind", KINDS)
def test_short_names_clash_with_nothing_built_in(kind):
    short_names = crd_for(kind)["spec"]["names"]["shortNames"]
    assert short_names
    assert not set(short_names) & BUILT_IN_SHORT_NAMES


def test_short_names_are_distinct_across_crds():
    names = [n for crd in all_crds() for n in crd["spec"]["names"]["shortNames"]]
    assert len(names) == len(set(names))


def test_cluster_phases_are_the_issues():
    phases = crd_schema("StrataCluster")["properties"]["status"]["properties"]["phase"]["enum"]
    assert phases == ["Ready", "ApplyingChanges", "MigratingData", "Stalled", "Invalid"]


def test_file_settings_phases_are_the_issues():
    phases = crd_schema("StrataFileSettings")["properties"]["status"]["properties"]["phase"]["enum"]
    assert phases == ["Ready", "ApplyingChanges", "Error"]


def test_role_enum_is_the_nodes_roles():
    node_set = crd_schema("StrataCluster")["properties"]["spec"]["properties"]["nodeSets"]["items"]
    assert tuple(node_set["properties"]["roles"]["items"]["enum"]) == NODE_ROLES == cluster_spec.ALL_ROLES


def test_operator_defaults_are_the_crds():
    spec = crd_schema("StrataCluster")["properties"]["spec"]
    defaulted = apply_defaults(spec, {"version": "0.1.0", "nodeSets": [{"name": "a", "count": 1}]})
    assert defaulted["nodeSets"][0]["storage"]["size"] == cluster_spec.DEFAULT_STORAGE_SIZE
    assert defaulted["http"]["service"]["type"] == cluster_spec.DEFAULT_HTTP_SERVICE_TYPE
    assert defaulted["updateStrategy"]["maxUnavailable"] == cluster_spec.DEFAULT_MAX_UNAVAILABLE


def test_settings_json_compatibility_is_the_nodes_version():
    assert COMPATIBILITY == strata_node.ES_COMPAT_VERSION


def test_crd_name_limits_match_the_operators():
    crd = crd_for("StrataCluster")
    rules = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-validations"]
    assert rules[0]["rule"] == f"self.metadata.name.size() <= {cluster_spec.MAX_CLUSTER_NAME}"
    name = crd_schema("StrataCluster")["properties"]["spec"]["properties"]["nodeSets"]["items"]["properties"][
        "name"
    ]
    assert name["maxLength"] == cluster_spec.MAX_NODE_SET_NAME
    assert name["not"]["enum"] == list(cluster_spec.RESERVED_NODE_SET_NAMES)


# -- what the schema refuses -------------------------------------------------------------------


def cluster(**spec):
    return {
        "apiVersion": "strata.dev/v1alpha1",
        "kind": "StrataCluster",
        "metadata": {"name": "c", "namespace": "d"},
        "spec": {"version": "0.1.0", "nodeSets": [{"name": "default", "count": 3}], **spec},
    }


def node_set(**fields):
    return cluster(nodeSets=[{"name": "default", "count": 3, **fields}])


def refused(obj) -> bool:
    try:
        crd_validate(obj)
    except (jsonschema.ValidationError, AssertionError):
        return True
    return False


def test_schema_accepts_a_minimal_cluster():
    assert not refused(cluster())


@pytest.mark.parametrize(
    "obj",
    [
        {**cluster(), "spec": {"nodeSets": [{"name": "a", "count": 1}]}},
        cluster(version="latest"),
        cluster(nodeSets=[]),
        node_set(count=-1),
        node_set(roles=["master", "coordinator"]),
        node_set(name="Default"),
        node_set(name="http"),
        node_set(name="a-very-long-node-set-name"),
        node_set(storage={"size": "ten gigs"}),
        node_set(resources={"limits": {"memory": "lots"}}),
        node_set(colour="blue"),
        cluster(updateStrategy={"maxUnavailable": 0}),
        cluster(http={"service": {"type": "ExternalName"}}),
        cluster(secureSettings=[{"secretName": "s"}]),
    ],
    ids=[
        "no-version",
        "bad-version",
        "no-node-sets",
        "negative-count",
        "unknown-role",
        "uppercase-name",
        "reserved-name",
        "long-name",
        "bad-size",
        "bad-quantity",
        "unknown-field",
        "max-unavailable-0",
        "service-type",
        "secure-without-entries",
    ],
)
def test_schema_refuses(obj):
    assert refused(obj)


def file_settings(**spec):
    return {
        "apiVersion": "strata.dev/v1alpha1",
        "kind": "StrataFileSettings",
        "metadata": {"name": "f", "namespace": "d"},
        "spec": {"settings": {}, **spec},
    }


def test_file_settings_schema_takes_a_cluster_ref():
    assert not refused(file_settings(clusterRef={"name": "demo"}))


def test_file_settings_schema_takes_a_cluster_selector():
    assert not refused(file_settings(clusterSelector={"matchLabels": {"team": "search"}}))


def test_file_settings_schema_refuses_both_ref_and_selector():
    assert refused(file_settings(clusterRef={"name": "demo"}, clusterSelector={"matchLabels": {"a": "b"}}))


def test_file_settings_schema_refuses_no_cluster():
    assert refused(file_settings())


def test_file_settings_schema_refuses_unknown_state_handler():
    assert refused(file_settings(clusterRef={"name": "demo"}, settings={"cluster_setings": {}}))
