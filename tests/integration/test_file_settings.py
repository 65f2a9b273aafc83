"""File settings on real node processes: `<path.config>/operator/settings.json` written,
rewritten the ways people and Kubernetes rewrite files, broken and fixed; the reserved
state in the cluster state, and the REST refusals it brings."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

from tests.support.cluster import LocalCluster
from tests.support.polling import call, ok, wait_until

SETTING = "indices.recovery.max_bytes_per_sec"
OTHER = "search.default_search_timeout"


def document(version: int, cluster_settings: dict | None = None, **state) -> bytes:
    if cluster_settings is not None:
        state["cluster_settings"] = cluster_settings
    return orjson.dumps({"metadata": {"version": str(version), "compatibility": "8.4.0"}, "state": state})


def settings_file(node) -> Path:
    return node.data / "operator" / "settings.json"  # path.config is the folder of strata.yml


def write_by_rename(path: Path, data: bytes) -> None:
    """As an editor saves: a new file renamed over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".settings.json.swp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_like_a_configmap(operator_dir: Path, data: bytes, generation: int) -> None:
    """As the kubelet updates a ConfigMap volume: the new files in a fresh timestamped
    folder, a `..data` symlink swapped to it atomically, `settings.json` a symlink through
    `..data`."""
    operator_dir.mkdir(parents=True, exist_ok=True)
    folder = operator_dir / f"..2026_11_22_{generation:02d}"
    folder.mkdir()
    (folder / "settings.json").write_bytes(data)
    tmp_link = operator_dir / "..data_tmp"
    tmp_link.symlink_to(folder.name)
    old = os.readlink(operator_dir / "..data") if (operator_dir / "..data").is_symlink() else None
    os.replace(tmp_link, operator_dir / "..data")
    if not (operator_dir / "settings.json").is_symlink():
        (operator_dir / "settings.json").symlink_to("..data/settings.json")
    if old is not None:
        for child in (operator_dir / old).iterdir():
            child.unlink()
        (operator_dir / old).rmdir()


def reserved(node) -> dict:
    return ok(node, "GET", "/_cluster/state/metadata")["metadata"]["reserved_state"].get("file_settings", {})


def persistent(node) -> dict:
    return ok(node, "GET", "/_cluster/settings", params={"flat_settings": "true"})["persistent"]


def wait_for_version(node, version: int) -> dict:
    return wait_until(lambda: (r := reserved(node)) and r["version"] == version and r, timeout=20)


def wait_for_error(node, version: int) -> dict:
    return wait_until(lambda: (r := reserved(node)) and (r["errors"] or {}).get("version") == version and r,
                      timeout=20)


@pytest.fixture
def node(fresh_node):
    return fresh_node().start()


def test_a_file_written_after_start_is_applied_and_reserves_its_keys(node):
    write_by_rename(settings_file(node), document(1, {SETTING: "50mb"}))
    state = wait_for_version(node, 1)
    assert state == {"version": 1, "handlers": {"cluster_settings": {"keys": [SETTING]}}, "errors": None}
    assert persistent(node) == {SETTING: "50mb"}


def test_a_file_present_at_start_is_applied(fresh_node):
    n = fresh_node()
    write_by_rename(settings_file(n), document(3, {SETTING: "20mb"}))
    n.start()
    wait_for_version(n, 3)
    assert persistent(n) == {SETTING: "20mb"}


def test_rest_changes_to_reserved_settings_are_refused_and_others_go_through(node):
    write_by_rename(settings_file(node), document(1, {SETTING: "50mb"}))
    wait_for_version(node, 1)
    for scope in ("persistent", "transient"):
        refused = call(node, "PUT", "/_cluster/settings", json={scope: {SETTING: "10mb"}})
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert error["type"] == "illegal_argument_exception"
        assert f"[[{SETTING}] set as read-only by [file_settings]]" in error["reason"]
    wildcard = call(node, "PUT", "/_cluster/settings", json={"persistent": {"indices.*": None}})
    assert wildcard.status_code == 400, wildcard.text
    ok(node, "PUT", "/_cluster/settings", json={"persistent": {OTHER: "5s"}})
    assert persistent(node) == {SETTING: "50mb", OTHER: "5s"}


def test_a_rewrite_by_rename_is_applied(node):
    path = settings_file(node)
    write_by_rename(path, document(1, {SETTING: "50mb"}))
    wait_for_version(node, 1)
    write_by_rename(path, document(2, {SETTING: "60mb"}))
    wait_for_version(node, 2)
    assert persistent(node) == {SETTING: "60mb"}


def test_a_configmap_symlink_swap_is_applied(node):
    operator_dir = settings_file(node).parent
    write_like_a_configmap(operator_dir, document(1, {SETTING: "50mb"}), 1)
    wait_for_version(node, 1)
    for generation in (2, 3):
        write_like_a_configmap(operator_dir, document(generation, {SETTING: f"{generation}0mb"}), generation)
        wait_for_version(node, generation)
        assert persistent(node) == {SETTING: f"{generation}0mb"}


def test_a_slow_in_place_write_is_applied_once_complete_and_never_half_read(node):
    path = settings_file(node)
    write_by_rename(path, document(1, {SETTING: "50mb"}))
    wait_for_version(node, 1)
    data = document(2, {SETTING: "70mb"})
    with open(path, "r+b") as f:  # the same inode, truncated and written in two halves
        f.truncate(0)
        f.write(data[: len(data) // 2])
        f.flush()
        time.sleep(0.4)
        f.write(data[len(data) // 2:])
    wait_for_version(node, 2)
    assert persistent(node) == {SETTING: "70mb"}
    assert reserved(node)["errors"] is None
    assert not [line for line in node.log if "failed (parsing)" in line]


def test_a_broken_file_records_a_parse_error_and_a_fix_clears_it(node):
    path = settings_file(node)
    write_by_rename(path, document(1, {SETTING: "50mb"}))
    wait_for_version(node, 1)
    write_by_rename(path, b'{"metadata": {"version": "2"}, "state": {"cluster_settings": {')
    state = wait_for_error(node, -1)
    assert state["errors"]["error_kind"] == "parsing"
    assert state["version"] == 1 and persistent(node) == {SETTING: "50mb"}
    write_by_rename(path, document(2, {SETTING: "80mb"}))
    state = wait_for_version(node, 2)
    assert state["errors"] is None and persistent(node) == {SETTING: "80mb"}


def test_an_invalid_setting_applies_nothing_of_the_file_and_records_a_validation_error(node):
    path = settings_file(node)
    write_by_rename(path, document(1, {SETTING: "50mb"}))
    wait_for_version(node, 1)
    write_by_rename(path, document(2, {SETTING: "90mb", "no.such.setting": "1"}))
    state = wait_for_error(node, 2)
    assert state["errors"]["error_kind"] == "validation"
    assert "persistent setting [no.such.setting], not recognized" in state["errors"]["errors"][0]
    assert state["version"] == 1 and persistent(node) == {SETTING: "50mb"}  # 90mb did not land either


def test_an_unknown_handler_is_a_parsing_error_as_in_elasticsearch(node):
    write_by_rename(settings_file(node), document(1, {SETTING: "50mb"}, no_such_handler={}))
    state = wait_for_error(node, 1)
    assert state["errors"]["error_kind"] == "parsing"
    assert state["errors"]["errors"] == ["Unknown handler type: no_such_handler"]
    assert persistent(node) == {}


def test_an_old_version_is_ignored_and_a_higher_version_of_the_same_content_is_recorded(node):
    path = settings_file(node)
    write_by_rename(path, document(5, {SETTING: "50mb"}))
    wait_for_version(node, 5)
    write_by_rename(path, document(4, {SETTING: "10mb"}))
    wait_until(lambda: any("version [4] is less or equal to the current metadata version [5]" in line
                           for line in node.log), timeout=20)
    assert persistent(node) == {SETTING: "50mb"} and reserved(node)["version"] == 5
    write_by_rename(path, document(6, {SETTING: "50mb"}))
    wait_for_version(node, 6)


def test_settings_dropped_from_the_file_are_removed_from_the_cluster(node):
    path = settings_file(node)
    write_by_rename(path, document(1, {SETTING: "50mb", OTHER: "7s"}))
    wait_for_version(node, 1)
    write_by_rename(path, document(2, {OTHER: "7s"}))
    state = wait_for_version(node, 2)
    assert state["handlers"] == {"cluster_settings": {"keys": [OTHER]}}
    assert persistent(node) == {OTHER: "7s"}
    ok(node, "PUT", "/_cluster/settings", json={"persistent": {SETTING: "10mb"}})  # no longer reserved


def test_a_deleted_file_leaves_the_reserved_state_as_it_is(node):
    path = settings_file(node)
    write_by_rename(path, document(1, {SETTING: "50mb"}))
    wait_for_version(node, 1)
    path.unlink()
    write_by_rename(path.with_name("unrelated.json"), b"{}")  # more activity in the folder
    time.sleep(1.0)
    assert reserved(node)["version"] == 1 and persistent(node) == {SETTING: "50mb"}


def validate(node, data: bytes | None = None):
    return call(node, "POST", "/_reserved_state/_validate", content=data,
                headers={"content-type": "application/json"})


def test_the_validation_api_reports_without_applying(node):
    write_by_rename(settings_file(node), document(1, {SETTING: "50mb"}))
    wait_for_version(node, 1)
    good = validate(node, document(2, {SETTING: "60mb", OTHER: "1s"})).json()
    assert good == {"namespace": "file_settings", "version": 2, "current_version": 1, "valid": True,
                    "would_apply": True, "handlers": {"cluster_settings": {"keys": [SETTING, OTHER]}}}
    bad = validate(node, document(2, {"no.such.setting": "1"})).json()
    assert bad["valid"] is False and bad["errors"]["error_kind"] == "validation"
    old = validate(node, document(1, {})).json()
    assert old["valid"] is True and old["would_apply"] is False
    unparsable = validate(node, b"{nope").json()
    assert unparsable["errors"]["error_kind"] == "parsing"
    assert reserved(node)["version"] == 1 and persistent(node) == {SETTING: "50mb"}
    assert validate(node).status_code == 400


def test_only_the_master_applies_and_a_new_master_applies_the_file_it_finds(tmp_path):
    cluster = LocalCluster(tmp_path, ["n0", "n1", "n2"]).start()
    try:
        for n in cluster.nodes:
            write_by_rename(settings_file(n), document(1, {SETTING: "50mb"}))
        wait_for_version(cluster.nodes[0], 1)
        master_name = cluster.master_name(cluster.nodes[0])
        master = cluster.node(master_name)
        others = [n for n in cluster.nodes if n is not master]
        for n in others:  # the change reaches every node but the master
            write_by_rename(settings_file(n), document(2, {SETTING: "99mb"}))
        time.sleep(1.5)
        assert reserved(others[0])["version"] == 1
        master.kill()
        wait_until(lambda: cluster.master_name(others[0]) not in (None, master_name), timeout=30,
                   ignore=(Exception,))
        wait_for_version(others[0], 2)
        assert persistent(others[1]) == {SETTING: "99mb"} or wait_until(
            lambda: persistent(others[1]) == {SETTING: "99mb"})
    finally:
        cluster.stop()


def test_the_reserved_state_survives_a_restart(fresh_node):
    n = fresh_node()
    write_by_rename(settings_file(n), document(1, {SETTING: "50mb"}))
    n.start()
    wait_for_version(n, 1)
    n.stop()
    settings_file(n).unlink()  # nothing to apply again: what holds comes from the persisted state
    n.start()
    assert wait_for_version(n, 1)["handlers"] == {"cluster_settings": {"keys": [SETTING]}}
    assert call(n, "PUT", "/_cluster/settings", json={"persistent": {SETTING: "1mb"}}).status_code == 400


def test_index_templates_from_the_file_apply_to_new_indices_and_refuse_api_changes(node):
    path = settings_file(node)
    templates = {
        "component_templates": {"shards": {"template": {"settings": {"index.number_of_shards": 2}}}},
        "composable_index_templates": {"logs": {"index_patterns": ["logs-*"], "composed_of": ["shards"],
                                                "priority": 10}},
    }
    write_by_rename(path, document(1, {SETTING: "50mb"}, index_templates=templates))
    state = wait_for_version(node, 1)
    assert state["handlers"]["index_templates"] == {
        "keys": ["component_template:shards", "composable_index_template:logs"]}
    ok(node, "PUT", "/logs-1")
    settings = ok(node, "GET", "/logs-1/_settings")["logs-1"]["settings"]["index"]
    assert settings["number_of_shards"] == "2"
    for method, path_, body in (("PUT", "/_index_template/logs", {"index_patterns": ["x-*"]}),
                                ("DELETE", "/_index_template/logs", None),
                                ("PUT", "/_component_template/shards", {"template": {}}),
                                ("DELETE", "/_component_template/shards", None)):
        refused = call(node, method, path_, json=body)
        assert refused.status_code == 400, refused.text
        assert "set as read-only by [file_settings]" in refused.json()["error"]["reason"]
    ok(node, "PUT", "/_index_template/other", json={"index_patterns": ["other-*"]})  # not reserved
    write_by_rename(settings_file(node), document(2, {SETTING: "50mb"}))  # the templates dropped
    wait_for_version(node, 2)
    assert call(node, "GET", "/_index_template/logs").status_code == 404
    assert call(node, "GET", "/_component_template/shards").status_code == 404
    assert call(node, "GET", "/_index_template/other").status_code == 200


def test_a_template_the_file_cannot_compose_applies_nothing_of_the_file(node):
    templates = {"composable_index_templates": {"logs": {"index_patterns": ["logs-*"],
                                                         "composed_of": ["missing"]}}}
    write_by_rename(settings_file(node), document(1, {SETTING: "50mb"}, index_templates=templates))
    state = wait_for_error(node, 1)
    assert "specifies component templates [missing] that do not exist" in state["errors"]["errors"][0]
    assert persistent(node) == {}  # the valid cluster setting did not land either
