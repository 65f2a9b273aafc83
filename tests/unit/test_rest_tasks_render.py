"""How `_tasks` and `_tasks/_cancel` render the nodes' answers (ES's ListTasksResponse
groupedByNode, groupedByParent and groupedByNone) and refuse an unknown grouping
(RestListTasksAction.listTasksResponseListener)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.common.errors import IllegalArgument
from strata_node.rest.request import RestRequest
from strata_node.rest.tasks import TaskHandlers, _group_by
from strata_node.tasks.actions import NodeTasks


def handlers(details: dict[str, DiscoveryNode] | None = None) -> TaskHandlers:
    state = SimpleNamespace(node_details=details or {})
    return TaskHandlers(SimpleNamespace(coordination=SimpleNamespace(applied_state=state)))


def task(node_id: str, task_id: int, parent: str | None = None) -> dict:
    info = {"node": node_id, "id": task_id, "action": "cluster:admin/strata/sleep"}
    if parent is not None:
        info["parent_task_id"] = parent
    return info


def answer(node_id: str, *tasks: dict) -> NodeTasks:
    return NodeTasks(node_id=node_id, node_name=f"name-{node_id}", transport_address="127.0.0.1:9300",
                     tasks=list(tasks), roles=["master"])


def test_a_listing_grouped_by_node_leaves_out_the_nodes_without_a_matching_task():
    answers = [answer("n1", task("n1", 7)), answer("n2")]
    assert list(handlers()._render(answers, [], "nodes")["nodes"]) == ["n1"]
    assert handlers()._render([answer("n1"), answer("n2")], [], "nodes") == {"nodes": {}}


@pytest.mark.parametrize("group_by, empty", [("parents", {}), ("none", [])])
def test_a_listing_grouped_by_parents_or_not_at_all_is_empty_when_nothing_matched(group_by, empty):
    assert handlers()._render([answer("n1"), answer("n2")], [], group_by) == {"tasks": empty}


def test_a_node_entry_has_attributes_only_when_the_node_has_some():
    details = {"n1": DiscoveryNode(id="n1", attributes={"zone": "a"}), "n2": DiscoveryNode(id="n2")}
    rendered = handlers(details)._render([answer("n1", task("n1", 1)), answer("n2", task("n2", 2))],
                                         [], "nodes")["nodes"]
    assert rendered["n1"]["attributes"] == {"zone": "a"}
    assert "attributes" not in rendered["n2"]
    assert list(rendered["n1"]) == ["name", "transport_address", "host", "ip", "roles", "attributes", "tasks"]


def test_an_unknown_grouping_is_refused_with_elasticsearchs_message():
    request = RestRequest("GET", "/_tasks", {"group_by": "foo"}, {}, b"")
    with pytest.raises(IllegalArgument) as refused:
        _group_by(request)
    assert str(refused.value) == "[group_by] must be one of [nodes], [parents] or [none] but was [foo]"
    assert refused.value.status == 400
