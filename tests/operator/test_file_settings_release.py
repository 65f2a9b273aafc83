"""Giving back the settings a StrataFileSettings reserved: deleted, or naming another cluster,
it ships an empty state at a higher version to each cluster it shipped settings to and waits
until the cluster applied it (in-memory Kube, fake cluster API)."""

from __future__ import annotations

import json

from strata_operator.file_settings_release import release_version
from strata_operator.reconcile import reconcile_file_settings, release_file_settings
from strata_operator.reserved_state import read_release

from .conftest import make_cluster
from .fake_cluster import FakeCluster
from .memory_kube import MemoryKube


def empty(version: int) -> dict:
    """settings.json with no settings: what gives the reserved ones back."""
    return {"metadata": {"version": str(version), "compatibility": "8.17.0"}, "state": {}}


def resource(cluster="demo", status=None):
    return {
        "apiVersion": "strata.dev/v1alpha1",
        "kind": "StrataFileSettings",
        "metadata": {"name": "demo-settings", "namespace": "prod", "uid": "uid-fs", "generation": 1},
        "spec": {"clusterRef": {"name": cluster}, "settings": {"cluster_settings": {"a": "1"}}},
        "status": status or {},
    }


def shipped(kube, cluster="demo"):
    config_map = kube.objects.get(("ConfigMap", "prod", f"{cluster}-file-settings"))
    return json.loads(config_map["data"]["settings.json"]) if config_map else None


def applied(version: int, keys=("a",)) -> dict:
    """metadata.reserved_state.file_settings once the cluster applied a version."""
    return {"version": version, "handlers": {"cluster_settings": {"keys": list(keys)}}, "errors": None}


def ready(kube, cluster: FakeCluster) -> dict:
    """The resource shipped to `demo` and read back as applied: its status."""
    first = reconcile_file_settings(resource(), kube, cluster.connect).status
    cluster.file_settings = applied(first["expectedVersion"])
    return reconcile_file_settings(resource(status=first), kube, cluster.connect).status


# -- the version and the read-back --------------------------------------------------------


def test_the_empty_state_goes_above_every_version_seen():
    assert release_version(None, floor=3, applied=None) == 4
    assert release_version(None, floor=3, applied=7) == 8


def test_an_empty_state_already_shipped_keeps_its_version():
    config_map = {"data": {"settings.json": json.dumps({"metadata": {"version": "4"}, "state": {}})}}
    assert release_version(config_map, floor=3, applied=4) == 4


def test_the_empty_state_or_a_later_one_applied_is_released():
    assert read_release(4, applied(4, keys=())).phase == "Ready"
    assert read_release(4, applied(6)).phase == "Ready"
    assert read_release(4, applied(3)).phase == "ApplyingChanges"


# -- deleted --------------------------------------------------------------------------------


def test_deleting_ships_an_empty_state_at_a_higher_version_and_waits_until_it_is_applied():
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    status = ready(kube, cluster)
    first = release_file_settings(resource(status=status), kube, cluster.connect)
    assert shipped(kube) == empty(2)
    assert first.waiting and "version 2" in first.waiting
    assert first.status["releasing"] == ["demo"]
    assert [e[:2] for e in first.events] == [("Normal", "SettingsReleasing")]

    waiting = release_file_settings(resource(status=first.status), kube, cluster.connect)
    assert waiting.waiting and waiting.events == []
    assert shipped(kube)["metadata"]["version"] == "2"

    cluster.file_settings = applied(2, keys=())
    done = release_file_settings(resource(status=waiting.status), kube, cluster.connect)
    assert done.waiting == ""
    assert [e[:2] for e in done.events] == [("Normal", "SettingsReleased")]


def test_deleting_when_the_cluster_is_gone_waits_for_nothing():
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    status = ready(kube, cluster)
    del kube.objects[("StrataCluster", "prod", "demo")]
    outcome = release_file_settings(resource(status=status), kube, cluster.connect)
    assert outcome.waiting == ""
    assert shipped(kube)["metadata"]["version"] == "1"


def test_deleting_while_the_cluster_does_not_answer_ships_nothing_and_waits():
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    status = ready(kube, cluster)
    cluster.down = True
    outcome = release_file_settings(resource(status=status), kube, cluster.connect)
    assert "waits" in outcome.waiting
    assert shipped(kube)["metadata"]["version"] == "1"


def test_deleting_what_never_shipped_waits_for_nothing():
    outcome = release_file_settings(resource(), MemoryKube(make_cluster()), FakeCluster().connect)
    assert (outcome.waiting, outcome.status, outcome.events) == ("", {}, [])


def test_deleting_what_the_cluster_never_applied_ships_nothing():
    """The cluster refused the very first version before it was shipped: no ConfigMap."""
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    outcome = release_file_settings(resource(status={"cluster": "demo"}), kube, cluster.connect)
    assert (outcome.waiting, shipped(kube)) == ("", None)


def test_a_cluster_that_refuses_the_empty_state_lets_the_deletion_go_with_a_warning():
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    status = ready(kube, cluster)
    first = release_file_settings(resource(status=status), kube, cluster.connect)
    refused = {"version": 1, "errors": {"version": 2, "error_kind": "validation", "errors": ["no"]}}
    cluster.file_settings = refused
    outcome = release_file_settings(resource(status=first.status), kube, cluster.connect)
    assert outcome.waiting == ""
    assert [e[:2] for e in outcome.events] == [("Warning", "SettingsReleaseRefused")]


# -- naming another cluster -----------------------------------------------------------------


def test_naming_another_cluster_gives_the_first_its_settings_back_then_deletes_its_config_map():
    clusters = {"demo": FakeCluster(), "other": FakeCluster()}

    def connect(name, namespace):
        return clusters[name].connect(name, namespace)

    kube = MemoryKube(make_cluster(), make_cluster(name="other"))
    status = ready(kube, clusters["demo"])
    moved = reconcile_file_settings(resource("other", status), kube, connect)
    assert shipped(kube, "other")["state"] == {"cluster_settings": {"a": "1"}}
    assert shipped(kube, "demo") == empty(2)
    assert (moved.status["cluster"], moved.status["releasing"]) == ("other", ["demo"])

    clusters["other"].file_settings = applied(moved.status["expectedVersion"])
    clusters["demo"].file_settings = applied(2, keys=())
    done = reconcile_file_settings(resource("other", moved.status), kube, connect)
    assert shipped(kube, "demo") is None
    assert (done.status["phase"], done.status["releasing"]) == ("Ready", [])
    assert ("Normal", "SettingsReleased") in [e[:2] for e in done.events]


def test_the_first_cluster_still_giving_its_settings_back_keeps_the_status_from_ready():
    clusters = {"demo": FakeCluster(), "other": FakeCluster()}

    def connect(name, namespace):
        return clusters[name].connect(name, namespace)

    kube = MemoryKube(make_cluster(), make_cluster(name="other"))
    moved = reconcile_file_settings(resource("other", ready(kube, clusters["demo"])), kube, connect)
    clusters["other"].file_settings = applied(moved.status["expectedVersion"])
    outcome = reconcile_file_settings(resource("other", moved.status), kube, connect)
    assert (outcome.status["phase"], outcome.status["releasing"]) == ("ApplyingChanges", ["demo"])
    assert "giving the settings back to cluster [demo]" in outcome.status["conditions"][0]["message"]


# -- a resource made again under the same name ----------------------------------------------


def test_a_resource_made_again_under_the_same_name_leaves_the_first_ones_config_map_alone():
    """Ownership is the ConfigMap's controller uid, not the name its annotation gives: the
    ConfigMap of a deleted resource, waiting for the garbage collector, is not the one made
    again under the same name to write, empty or delete, even though it names it."""
    cluster, kube = FakeCluster(), MemoryKube(make_cluster())
    status = ready(kube, cluster)
    before = shipped(kube)
    again = resource(status={})
    again["metadata"]["uid"] = "uid-fs-again"
    cluster.requests.clear()

    outcome = reconcile_file_settings(again, kube, cluster.connect)
    assert outcome.status["phase"] == "Error"
    assert "earlier StrataFileSettings [demo-settings]" in outcome.status["errors"][0]
    assert cluster.writes() == []  # not even asked to validate
    assert shipped(kube) == before

    again["status"] = {**status, "cluster": "demo"}
    released = release_file_settings(again, kube, cluster.connect)
    assert released.waiting == "" and shipped(kube) == before
