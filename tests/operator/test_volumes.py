"""Volume expansion, planner and reconcile: a larger storage.size grows every claim of the node
set in place and then makes its StatefulSet again (deleted with its pods orphaned, created
with the larger claim template), only where the StorageClass allows expansion; a smaller
size, or a class that does not allow it, is refused with the reason in the status and a
Warning while every other change goes on; nothing grows while a scale-down drains."""

from __future__ import annotations

import pytest

from strata_operator.kube import ReadError
from strata_operator.reconcile import reconcile_cluster
from strata_operator.spec import parse_cluster
from strata_operator.volumes import VolumeAction, claimed_size, classes_to_read, plan_volumes

from .conftest import make_cluster
from .fake_cluster import FakeCluster, node
from .helpers import build, one
from .memory_kube import MemoryKube

EXPANDABLE = {"metadata": {"name": "standard"}, "allowVolumeExpansion": True}
FIXED = {"metadata": {"name": "standard"}}


def sized(size: str, count: int = 3, config: dict | None = None, storage_class: str | None = None) -> dict:
    storage = {"size": size, **({"storageClassName": storage_class} if storage_class else {})}
    return make_cluster({"name": "default", "count": count, "storage": storage, "config": config or {}})


def statefulset(size: str = "10Gi", terminating: bool = False) -> dict:
    sts = one(build(sized(size)), "StatefulSet", "demo-default")
    sts["metadata"]["uid"] = "uid-sts"
    if terminating:
        sts["metadata"]["deletionTimestamp"] = "2026-11-22T12:00:00Z"
    return sts


def claim(ordinal: int, size: str = "10Gi", storage_class: str | None = "standard") -> dict:
    spec = {"resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "metadata": {
            "name": f"data-demo-default-{ordinal}",
            "labels": {"strata.dev/cluster": "demo", "strata.dev/node-set": "default"},
        },
        "spec": spec,
    }


def plan(size: str, sts=None, claims=None, classes=None, **kw):
    return plan_volumes(
        parse_cluster(sized(size, storage_class=kw.pop("storage_class", None))),
        {"default": statefulset() if sts is None else sts},
        [claim(i) for i in range(3)] if claims is None else claims,
        {"standard": EXPANDABLE} if classes is None else classes,
        **kw,
    )


# -- the planner ------------------------------------------------------------------------------


def test_the_same_size_in_other_units_is_no_step():
    p = plan("10240Mi")
    assert (p.actions, p.events, p.problems, p.claim_sizes, p.held, p.pending) == (
        [],
        [],
        [],
        {},
        set(),
        False,
    )


def test_a_larger_size_grows_every_claim_then_deletes_the_statefulset_orphaning_its_pods():
    p = plan("20Gi")
    assert p.actions == [
        VolumeAction("resize_claim", "data-demo-default-0", "20Gi"),
        VolumeAction("resize_claim", "data-demo-default-1", "20Gi"),
        VolumeAction("resize_claim", "data-demo-default-2", "20Gi"),
        VolumeAction("orphan_statefulset", "demo-default", uid="uid-sts"),
    ]
    assert p.held == {"default"} and p.pending and not p.stalled
    assert [e[:2] for e in p.events] == [("Normal", "VolumeExpansion")]
    assert "orphaned" in p.events[0][2]


def test_claims_grown_by_an_earlier_step_are_not_patched_again():
    p = plan("20Gi", claims=[claim(i, "20Gi") for i in range(3)])
    assert p.actions == [VolumeAction("orphan_statefulset", "demo-default", uid="uid-sts")]


def test_a_claim_left_smaller_under_the_current_template_is_grown_without_making_the_statefulset_again():
    p = plan("20Gi", sts=statefulset("20Gi"), claims=[claim(0, "20Gi"), claim(1, "10Gi")])
    assert p.actions == [VolumeAction("resize_claim", "data-demo-default-1", "20Gi")]
    assert p.held == set()


def test_a_smaller_size_is_refused_and_the_claim_template_kept():
    p = plan("5Gi")
    assert p.actions == [] and p.stalled
    assert [e[:2] for e in p.events] == [("Warning", "VolumeShrinkRefused")]
    assert "put back 10Gi" in p.problems[0] and "never shrinks" in p.problems[0]
    assert p.claim_sizes == {"default": "10Gi"}


def test_a_size_below_a_claim_already_grown_is_refused_though_the_template_is_smaller():
    p = plan("6Gi", sts=statefulset("5Gi"), claims=[claim(0, "5Gi"), claim(1, "8Gi")])
    assert p.actions == [] and p.stalled
    assert "put back 8Gi" in p.problems[0]
    assert p.claim_sizes == {"default": "5Gi"}


@pytest.mark.parametrize(
    "classes, why",
    [
        ({"standard": FIXED}, "does not allow volume expansion"),
        ({"standard": None}, "StorageClass standard does not exist"),
    ],
)
def test_a_larger_size_on_a_class_that_cannot_grow_is_refused(classes, why):
    p = plan("20Gi", classes=classes)
    assert p.actions == [] and p.stalled
    assert [e[:2] for e in p.events] == [("Warning", "VolumeExpansionRefused")]
    assert why in p.problems[0] and "put back 10Gi" in p.problems[0]
    assert p.claim_sizes == {"default": "10Gi"}


def test_claims_that_name_no_class_are_not_grown():
    p = plan("20Gi", claims=[claim(0, storage_class=None)], classes={})
    assert p.actions == [] and p.stalled
    assert "name no StorageClass" in p.problems[0]


def test_the_class_the_spec_names_is_the_one_asked():
    p = plan("20Gi", storage_class="fast", classes={"fast": {**EXPANDABLE, "metadata": {"name": "fast"}}})
    assert [a.kind for a in p.actions][-1] == "orphan_statefulset"


def test_a_statefulset_being_deleted_is_held_until_it_is_gone():
    p = plan("20Gi", sts=statefulset(terminating=True))
    assert p.actions == [] and p.held == {"default"} and p.pending
    assert "being deleted" in p.problems[0]


def test_nothing_grows_while_a_scale_down_drains():
    p = plan("20Gi", hold="a scale-down is in progress")
    assert p.actions == [] and p.pending and not p.stalled
    assert p.claim_sizes == {"default": "10Gi"}
    assert "a scale-down is in progress" in p.problems[0]


def test_only_the_classes_of_growing_node_sets_are_read():
    live = {"default": statefulset()}
    claims = [claim(i) for i in range(3)]
    assert classes_to_read(parse_cluster(sized("10Gi")), live, claims) == set()
    assert classes_to_read(parse_cluster(sized("20Gi")), live, claims) == {"standard"}


# -- the reconcile ----------------------------------------------------------------------------


def green():
    cluster = FakeCluster(*(node(f"demo-default-{i}") for i in range(3)))
    cluster.master = "demo-default-1"
    return cluster


def running(storage_class: dict | None = EXPANDABLE) -> MemoryKube:
    kube = MemoryKube(*([{"kind": "StorageClass", **storage_class}] if storage_class else []))
    reconcile_cluster(sized("10Gi"), kube, green().connect)
    kube.run_statefulsets()
    return kube


def test_growing_the_volumes_patches_the_claims_and_makes_the_statefulset_again_without_a_restart():
    kube = running()
    cluster = green()
    first = reconcile_cluster(sized("20Gi"), kube, cluster.connect)
    assert [k for k, _, _ in kube.patched] == ["PersistentVolumeClaim"] * 3
    assert [kube.claim_size(f"demo-default-{i}") for i in range(3)] == ["20Gi"] * 3
    assert kube.orphaned == ["demo-default"]
    assert ("StatefulSet", "prod", "demo-default") not in kube.objects
    assert first.status["phase"] == "ApplyingChanges"
    assert ("Normal", "VolumeExpansion") in [e[:2] for e in first.events]

    second = reconcile_cluster(sized("20Gi"), kube, cluster.connect)
    assert claimed_size(kube.objects[("StatefulSet", "prod", "demo-default")]) == "20Gi"
    assert kube.deleted == [] and cluster.shutdowns == {}  # the running pods stay
    assert second.status["phase"] == "Ready"


def test_a_refused_size_change_leaves_every_other_change_going_out():
    kube = running(storage_class=FIXED | {"kind": "StorageClass"})
    outcome = reconcile_cluster(
        sized("20Gi", config={"indices.memory.index_buffer_size": "20%"}), kube, green().connect
    )
    assert outcome.status["phase"] == "Stalled"
    assert "does not allow volume expansion" in outcome.status["message"]
    assert ("Warning", "VolumeExpansionRefused") in [e[:2] for e in outcome.events]
    sts = kube.objects[("StatefulSet", "prod", "demo-default")]
    assert claimed_size(sts) == "10Gi"
    assert (
        "index_buffer_size"
        in kube.objects[("ConfigMap", "prod", "demo-default-config")]["data"]["strata.yml"]
    )
    assert kube.patched == [] and kube.orphaned == []
    # The same Warning is not posted again on the next check.
    again = reconcile_cluster({**sized("20Gi"), "status": outcome.status}, kube, green().connect)
    assert ("Warning", "VolumeExpansionRefused") not in [e[:2] for e in again.events]


def test_a_failed_expansion_step_warns_once():
    kube = running()
    kube.undeletable.add("StatefulSet")
    first = reconcile_cluster(sized("20Gi"), kube, green().connect)
    again = reconcile_cluster({**sized("20Gi"), "status": first.status}, kube, green().connect)
    assert ("Warning", "VolumeExpansionFailed") in [e[:2] for e in first.events]
    assert ("Warning", "VolumeExpansionFailed") not in [e[:2] for e in again.events]


def test_a_storage_class_that_cannot_be_read_grows_nothing():
    kube = running()
    kube.failing_kinds.add("StorageClass")
    with pytest.raises(ReadError):
        reconcile_cluster(sized("20Gi"), kube, green().connect)
    assert kube.patched == [] and kube.orphaned == []


def test_a_scale_down_asked_while_the_statefulset_is_made_again_still_drains_first():
    kube = running()
    reconcile_cluster(sized("20Gi"), kube, green().connect)
    assert kube.orphaned == ["demo-default"]
    cluster = green()
    outcome = reconcile_cluster(sized("20Gi", count=2), kube, cluster.connect)
    assert kube.objects[("StatefulSet", "prod", "demo-default")]["spec"]["replicas"] == 3
    assert outcome.status["phase"] == "MigratingData"
    assert cluster.shutdowns["id-demo-default-2"]["type"] == "remove"
