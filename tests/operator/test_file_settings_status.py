"""A StrataFileSettings' status: validated before shipping, an invalid document kept back
with the cluster's errors, and what the cluster applied read back (pure read-back functions,
and the reconcile over an in-memory Kube and a fake cluster API)."""

from __future__ import annotations

import json

from strata_operator.reconcile import reconcile_file_settings
from strata_operator.reserved_state import NO_VERSION, read_back, read_validation, version_to_ship

from .conftest import make_cluster
from .fake_cluster import FakeCluster
from .memory_kube import MemoryKube

REFUSED = {
    "error_kind": "validation",
    "errors": [
        "Error processing cluster_settings state change: persistent setting [no.such], not recognized"
    ],
}


def resource(state=None, status=None):
    return {
        "apiVersion": "strata.dev/v1alpha1",
        "kind": "StrataFileSettings",
        "metadata": {"name": "demo-settings", "namespace": "prod", "uid": "uid-fs", "generation": 2},
        "spec": {"clusterRef": {"name": "demo"}, "settings": state or {"cluster_settings": {"a": "1"}}},
        "status": status or {},
    }


def shipped(kube):
    config_map = kube.objects.get(("ConfigMap", "prod", "demo-file-settings"))
    return json.loads(config_map["data"]["settings.json"]) if config_map else None


# -- read back ---------------------------------------------------------------------------


def test_nothing_recorded_yet_is_applying():
    readback = read_back(1, None)
    assert (readback.phase, readback.applied_version, readback.errors) == ("ApplyingChanges", None, ())
    assert "none applied yet" in readback.message


def test_the_expected_version_applied_without_errors_is_ready():
    readback = read_back(3, {"version": 3, "handlers": {}, "errors": None})
    assert (readback.phase, readback.applied_version) == ("Ready", 3)


def test_an_older_version_applied_is_applying():
    readback = read_back(3, {"version": 2, "handlers": {}, "errors": None})
    assert (readback.phase, readback.applied_version) == ("ApplyingChanges", 2)
    assert "(it has 2)" in readback.message


def test_errors_for_the_expected_version_are_the_clusters_errors():
    state = {"version": 2, "errors": {"version": 3, **REFUSED}}
    readback = read_back(3, state)
    assert (readback.phase, readback.applied_version) == ("Error", 2)
    assert readback.errors == tuple(REFUSED["errors"])
    assert "validation error" in readback.message and "keeps version 2" in readback.message


def test_errors_recorded_for_another_version_do_not_count():
    readback = read_back(3, {"version": 3, "errors": {"version": 2, **REFUSED}})
    assert readback.phase == "Ready"


def test_only_an_error_recorded_shows_the_sentinel_as_no_version():
    readback = read_back(
        1, {"version": NO_VERSION, "errors": {"version": 1, "error_kind": "parsing", "errors": ["x"]}}
    )
    assert (readback.phase, readback.applied_version, readback.errors) == ("Error", None, ("x",))
    assert "keeps no file settings" in readback.message


def test_a_later_version_applied_than_shipped_says_so():
    readback = read_back(2, {"version": 5, "errors": None})
    assert (readback.phase, readback.applied_version) == ("ApplyingChanges", 5)


def test_validation_answers_are_read():
    valid = read_validation({"valid": True, "would_apply": True, "current_version": None, "handlers": {}})
    assert (valid.valid, valid.would_apply, valid.current_version, valid.errors) == (True, True, None, ())
    invalid = read_validation({"valid": False, "would_apply": False, "current_version": 4, "errors": REFUSED})
    assert (invalid.valid, invalid.current_version, invalid.error_kind) == (False, 4, "validation")
    assert invalid.errors == tuple(REFUSED["errors"])


def test_a_version_the_cluster_applied_already_goes_one_above():
    assert version_to_ship(1, None) == 1
    assert version_to_ship(3, 2) == 3
    assert version_to_ship(3, 3) == 4
    assert version_to_ship(1, 7) == 8


# -- reconcile ---------------------------------------------------------------------------


def test_a_valid_document_is_validated_then_shipped():
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    outcome = reconcile_file_settings(resource(), kube, cluster.connect)
    posted = [body for method, path, _, body in cluster.requests if path == "/_reserved_state/_validate"]
    assert posted == [shipped(kube)]
    assert outcome.status["expectedVersion"] == 1
    assert outcome.status["phase"] == "ApplyingChanges"
    assert (
        "waiting for the cluster to apply settings.json version 1"
        in outcome.status["conditions"][0]["message"]
    )
    assert ("Normal", "SettingsShipped") in [e[:2] for e in outcome.events]


def test_an_invalid_document_is_not_shipped_and_the_errors_are_the_clusters():
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    first = reconcile_file_settings(resource(), kube, cluster.connect).status
    cluster.validation_errors = REFUSED
    outcome = reconcile_file_settings(
        resource({"cluster_settings": {"no.such": "x"}}, first), kube, cluster.connect
    )
    assert shipped(kube)["metadata"]["version"] == "1"
    assert shipped(kube)["state"] == {"cluster_settings": {"a": "1"}}
    status = outcome.status
    assert (status["phase"], status["expectedVersion"], status["errors"]) == ("Error", 1, REFUSED["errors"])
    assert "refused settings.json version 2 (validation error)" in status["conditions"][0]["message"]
    assert [e[:2] for e in outcome.events] == [("Warning", "ValidationFailed")]


def test_an_invalid_document_warns_once_not_on_every_recheck():
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    cluster.validation_errors = REFUSED
    first = reconcile_file_settings(resource(), kube, cluster.connect)
    again = reconcile_file_settings(resource(status=first.status), kube, cluster.connect)
    assert shipped(kube) is None
    assert len(first.events) == 1 and again.events == []
    assert "expectedVersion" not in again.status


def test_an_unreachable_cluster_gets_the_file_unvalidated_and_the_status_says_so():
    cluster, kube = FakeCluster(down=True), MemoryKube(make_cluster())
    outcome = reconcile_file_settings(resource(), kube, cluster.connect)
    assert shipped(kube)["metadata"]["version"] == "1"
    assert outcome.status["phase"] == "ApplyingChanges"
    message = outcome.status["conditions"][0]["message"]
    assert "shipped without validation" in message and "could not be read" in message
    assert ("Warning", "ValidationSkipped") in [e[:2] for e in outcome.events]


def test_the_applied_version_is_read_back_as_ready():
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    first = reconcile_file_settings(resource(), kube, cluster.connect).status
    cluster.file_settings = {"version": 1, "handlers": {"cluster_settings": {"keys": ["a"]}}, "errors": None}
    outcome = reconcile_file_settings(resource(status=first), kube, cluster.connect)
    assert (outcome.status["phase"], outcome.status["appliedVersion"]) == ("Ready", 1)
    assert outcome.status["conditions"][0]["status"] == "True"
    assert [e[:2] for e in outcome.events] == [("Normal", "SettingsApplied")]
    # nothing changed: no new validation, no new version, no event
    validations = sum(path == "/_reserved_state/_validate" for _, path, _, _ in cluster.requests)
    again = reconcile_file_settings(resource(status=outcome.status), kube, cluster.connect)
    assert sum(path == "/_reserved_state/_validate" for _, path, _, _ in cluster.requests) == validations
    assert (again.status["expectedVersion"], again.events) == (1, [])


def test_a_file_the_node_refused_is_an_error_with_its_errors():
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    first = reconcile_file_settings(resource(), kube, cluster.connect).status
    cluster.file_settings = {"version": NO_VERSION, "handlers": {}, "errors": {"version": 1, **REFUSED}}
    outcome = reconcile_file_settings(resource(status=first), kube, cluster.connect)
    assert (outcome.status["phase"], outcome.status["errors"]) == ("Error", REFUSED["errors"])
    assert "appliedVersion" not in outcome.status
    assert [e[:2] for e in outcome.events] == [("Warning", "SettingsRefused")]


def test_a_version_the_cluster_has_applied_already_is_shipped_one_above():
    """A resource made again after its ConfigMap went: the cluster still has version 4 of
    the earlier one and would ignore a new version 1."""
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    cluster.file_settings = {"version": 4, "handlers": {}, "errors": None}
    outcome = reconcile_file_settings(resource(), kube, cluster.connect)
    assert shipped(kube)["metadata"]["version"] == "5"
    assert outcome.status["expectedVersion"] == 5


def test_a_failed_read_back_keeps_the_applied_version_it_had():
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    first = reconcile_file_settings(resource(), kube, cluster.connect).status
    cluster.file_settings = {"version": 1, "errors": None}
    ready = reconcile_file_settings(resource(status=first), kube, cluster.connect).status
    cluster.failing.add("/_cluster/state/metadata")
    outcome = reconcile_file_settings(resource(status=ready), kube, cluster.connect)
    assert (outcome.status["phase"], outcome.status["appliedVersion"]) == ("ApplyingChanges", 1)
    assert "could not be read" in outcome.status["conditions"][0]["message"]
