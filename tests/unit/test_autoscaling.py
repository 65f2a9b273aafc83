"""Autoscaling policies, the fixed decider and the capacity answer, as Elasticsearch's
autoscaling plugin gives them (its YAML REST tests' figures where they exist)."""

from __future__ import annotations

import pytest

from strata_node.autoscaling import policy as policies
from strata_node.autoscaling.calculate import capacity, policy_capacity
from strata_node.autoscaling.capacity import Capacity, Resources, current, upper_bound
from strata_node.autoscaling.deciders import FIXED, Context, deciders_of
from strata_node.cluster.coordination.discovery_node import DiscoveryNode
from strata_node.cluster.state import EMPTY_CONTENT
from strata_node.common.errors import ActionRequestValidation, IllegalArgument, XContentParseError
from strata_node.common.machine import available_processors, cpu_quota, memory_limit, total_memory_bytes
from strata_node.reservedstate.autoscaling import AUTOSCALING_HANDLER
from strata_node.reservedstate.metadata import ReservedStateMetadata


def put(content, name, body, **kw):
    request = policies.parse_put(body)
    policies.validate_put(name, request)
    return policies.put(content, name, request, **kw)


def reserving(content, *names):
    import msgspec
    reserved = {"file_settings": ReservedStateMetadata(namespace="file_settings", version=1,
                                                       handlers={"autoscaling": tuple(names)})}
    return msgspec.structs.replace(content, metadata=msgspec.structs.replace(
        content.metadata, reserved_state=reserved))


# -- policies ----------------------------------------------------------------------------------


def test_a_policy_is_stored_in_the_autoscaling_custom_as_es_shapes_it():
    content = put(EMPTY_CONTENT, "p", {"roles": ["data_hot", "data_content"],
                                       "deciders": {"fixed": {"storage": "1gb", "nodes": 3}}})
    assert content.metadata.customs["autoscaling"] == {"policies": {"p": {"policy": {
        "roles": ["data_content", "data_hot"], "deciders": {"fixed": {"nodes": "3", "storage": "1gb"}}}}}}


def test_decider_settings_are_flattened_and_kept_as_text():
    request = policies.parse_put({"roles": [], "deciders": {"fixed": {"processors": 2.5, "a": {"b": True}}}})
    assert request.deciders == {"fixed": {"a.b": "true", "processors": "2.5"}}


def test_a_new_policy_needs_roles_and_an_empty_list_is_a_choice():
    with pytest.raises(IllegalArgument, match=r"new policy p with no roles defined, must provide empty list"):
        put(EMPTY_CONTENT, "p", {"deciders": {"fixed": {}}})
    content = put(EMPTY_CONTENT, "p", {"roles": [], "deciders": {"fixed": {}}})
    assert policies.policies(content)["p"]["roles"] == []


def test_an_update_keeps_what_it_leaves_out_and_replaces_the_deciders_whole():
    content = put(EMPTY_CONTENT, "p", {"roles": ["data_hot"], "deciders": {"fixed": {"storage": "1gb",
                                                                                     "memory": "1gb"}}})
    content = put(content, "p", {"deciders": {"fixed": {"memory": "2gb"}}})
    two_gb = {"fixed": {"memory": "2gb"}}
    assert policies.policies(content)["p"] == {"roles": ["data_hot"], "deciders": two_gb}
    content = put(content, "p", {"roles": ["data_warm"]})
    assert policies.policies(content)["p"] == {"roles": ["data_warm"], "deciders": two_gb}


def test_putting_the_same_policy_again_changes_nothing():
    content = put(EMPTY_CONTENT, "p", {"roles": [], "deciders": {"fixed": {}}})
    assert put(content, "p", {"roles": [], "deciders": {"fixed": {}}}) is content


def test_the_body_is_read_strictly():
    with pytest.raises(XContentParseError,
                       match=r"\[put_autocaling_policy_request\] unknown field \[policy\]"):
        policies.parse_put({"policy": {"roles": []}})
    with pytest.raises(XContentParseError, match="failed to parse field \\[roles\\]"):
        policies.parse_put({"roles": [1]})
    with pytest.raises(XContentParseError, match="roles doesn't support values of type: VALUE_NULL"):
        policies.parse_put({"roles": None})


def test_a_single_role_may_be_given_as_a_string():
    assert policies.parse_put({"roles": "data_hot"}).roles == ("data_hot",)


def test_unknown_roles_and_bad_names_fail_validation_as_es_words_them():
    with pytest.raises(ActionRequestValidation, match=r"Validation Failed: 1: foo;$"):
        policies.validate_put("p", policies.parse_put({"roles": ["foo"]}))
    with pytest.raises(ActionRequestValidation,
                       match=r'name must not contain the following characters '
                             r'\[ , ", \*, \\, <, \|, ,, >, /, \?\]'):
        policies.validate_put("a,b", policies.parse_put({"roles": []}))


@pytest.mark.parametrize(("deciders", "message"), [
    ({"bogus": {}}, r"unknown decider \[bogus\]"),
    ({"fixed": {"zzz": "1"}}, r"unknown setting \[zzz\] for decider \[fixed\]"),
    ({"fixed": {"storage": "bad"}},
     r"failed to parse setting \[storage\] with value \[bad\] as a size in bytes: unit is missing"),
    ({"fixed": {"nodes": "-1"}}, r"Failed to parse value \[-1\] for setting \[nodes\] must be >= 0"),
    ({}, r"no default nor user configured deciders for policy \[p\] with roles \[\[\]\]"),
])
def test_a_policy_the_deciders_cannot_run_is_refused(deciders, message):
    with pytest.raises(IllegalArgument, match=message):
        put(EMPTY_CONTENT, "p", {"roles": [], "deciders": deciders})


def test_a_role_without_default_deciders_needs_a_configured_one():
    with pytest.raises(IllegalArgument, match=r"with roles \[\[master\]\]"):
        put(EMPTY_CONTENT, "p", {"roles": ["master"]})
    assert deciders_of("p", ("master",), {"fixed": {"nodes": "2"}}) == {"fixed": {"nodes": 2}}


def test_a_data_tier_runs_reactive_storage_by_default():
    assert deciders_of("p", ("data_hot",), {}) == {"reactive_storage": {}}
    assert deciders_of("p", ("data_hot",), {"fixed": {"nodes": "2"}}) == {"fixed": {"nodes": 2},
                                                                          "reactive_storage": {}}
    assert deciders_of("p", ("data_frozen", "master"), {"fixed": {}}) == {"fixed": {}}
    with pytest.raises(IllegalArgument, match=r"decider \[reactive_storage\] not applicable to policy"):
        deciders_of("p", ("ml",), {"reactive_storage": {}})


def test_delete_takes_wildcards_and_a_plain_name_must_exist():
    content = EMPTY_CONTENT
    for name in ("a1", "a2", "b"):
        content = put(content, name, {"roles": [], "deciders": {"fixed": {}}})
    assert list(policies.policies(policies.delete(content, "a*"))) == ["b"]
    assert policies.delete(content, "zz*") is content
    with pytest.raises(policies.PolicyNotFound, match=r"autoscaling policy with name \[zz\] does not exist"):
        policies.delete(content, "zz")
    assert policies.delete(content, "*").metadata.customs["autoscaling"] == {"policies": {}}


def test_the_api_may_not_change_or_delete_a_policy_file_settings_own():
    content = reserving(put(EMPTY_CONTENT, "p", {"roles": [], "deciders": {"fixed": {}}}), "p")
    with pytest.raises(IllegalArgument, match=r"\[p\] set as read-only by \[file_settings\]"):
        put(content, "p", {"roles": ["data_hot"], "deciders": {"fixed": {}}})
    with pytest.raises(IllegalArgument, match=r"\[p\] set as read-only by \[file_settings\]"):
        policies.delete(content, "p")
    put(content, "other", {"roles": [], "deciders": {"fixed": {}}})  # other names stay free


def test_a_wildcard_delete_is_checked_as_written_and_removes_reserved_policies_too():
    # ES checks the request's name, not what it matches: ECK resets its policies this way.
    content = reserving(put(EMPTY_CONTENT, "p", {"roles": [], "deciders": {"fixed": {}}}), "p")
    assert policies.policies(policies.delete(content, "*")) == {}


def test_the_reserved_state_handler_puts_what_the_file_names_and_deletes_what_it_dropped():
    first = AUTOSCALING_HANDLER.transform(
        {"a": {"roles": [], "deciders": {"fixed": {"storage": "1gb"}}},
         "b": {"roles": ["data_hot"], "deciders": {"fixed": {}}}}, EMPTY_CONTENT, frozenset())
    assert first.keys == {"a", "b"}
    assert set(policies.policies(first.content)) == {"a", "b"}
    second = AUTOSCALING_HANDLER.transform({"a": {"roles": []}}, first.content, first.keys)
    assert second.keys == {"a"}
    assert policies.policies(second.content) == {"a": {"roles": [],
                                                       "deciders": {"fixed": {"storage": "1gb"}}}}


def test_the_reserved_state_handler_refuses_a_bad_policy():
    with pytest.raises(IllegalArgument, match=r"unknown decider \[undecided\]"):
        AUTOSCALING_HANDLER.transform({"a": {"roles": [], "deciders": {"undecided": {}}}},
                                      EMPTY_CONTENT, frozenset())


# -- the fixed decider -------------------------------------------------------------------------

NO_NODES = Context(roles=(), current_capacity=None)


def test_fixed_asks_for_its_settings_per_node_and_times_nodes_in_total():
    # ES's autoscaling YAML test: storage 1337b, memory 7331b, nodes 10.
    configuration = FIXED.configuration({"storage": "1337b", "memory": "7331b", "nodes": "10"})
    result = FIXED.scale(configuration, NO_NODES)
    assert result.to_json() == {
        "required_capacity": {"node": {"storage": 1337, "memory": 7331},
                              "total": {"storage": 13370, "memory": 73310}},
        "reason_summary": "fixed storage [1.3kb] memory [7.1kb] processors [null] nodes [10]",
        "reason_details": {"storage": "1.3kb", "memory": "7.1kb", "nodes": 10}}


def test_fixed_processors_are_shown_only_when_set():
    result = FIXED.scale(FIXED.configuration({"processors": "2.5", "nodes": "2"}), NO_NODES)
    assert result.required_capacity == Capacity(total=Resources(None, None, 5.0),
                                                node=Resources(None, None, 2.5))
    assert result.reason_details == {"storage": None, "memory": None, "nodes": 2, "processors": 2.5}


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf"])
def test_fixed_processors_must_be_a_finite_positive_count(text):
    with pytest.raises(IllegalArgument, match=r"processors must be a positive number; provided \["):
        FIXED.configuration({"processors": text})


def test_processors_are_kept_to_five_decimals_as_es_keeps_them():
    result = FIXED.scale(FIXED.configuration({"processors": "0.1", "nodes": "3"}), NO_NODES)
    assert result.required_capacity.total.processors == 0.3
    assert current([Resources(0, 0, 0.1)] * 3).total.processors == 0.3


def test_fixed_with_nothing_set_leaves_the_capacity_undetermined():
    result = FIXED.scale({}, NO_NODES)
    assert result.required_capacity is None
    assert "required_capacity" not in result.to_json()


# -- capacity ----------------------------------------------------------------------------------


def test_current_capacity_is_the_sum_and_the_largest_node():
    have = current([Resources(100, 10, 2.0), Resources(300, 5, None)])
    assert have == Capacity(total=Resources(400, 15, 2.0), node=Resources(300, 10, 2.0))
    assert current([]).to_json() == {"node": {"storage": 0, "memory": 0, "processors": 0.0},
                                     "total": {"storage": 0, "memory": 0, "processors": 0.0}}


def test_the_upper_bound_takes_each_fields_largest_and_keeps_known_ones():
    bound = upper_bound([Capacity(total=Resources(10, None, None), node=Resources(5, None, None)),
                         Capacity(total=Resources(None, 20, None))])
    assert bound == Capacity(total=Resources(10, 20, None), node=Resources(5, None, None))


def node(node_id, roles, name=None):
    return DiscoveryNode(id=node_id, name=name or node_id, roles=tuple(roles))


HOT = ("data_hot", "ingest")
NODES = [node("h1", HOT), node("h2", HOT), node("m", ("master",)), node("hm", (*HOT, "master"))]


def test_a_node_counts_for_a_policy_only_with_exactly_its_roles():
    answer = policy_capacity("hot", {"roles": list(HOT), "deciders": {"fixed": {"storage": "1kb"}}}, NODES,
                             {"h1": Resources(1000, 10, 2.0), "h2": Resources(3000, 20, 4.0)})
    assert answer["current_nodes"] == [{"name": "h1"}, {"name": "h2"}]
    assert answer["current_capacity"] == {"node": {"storage": 3000, "memory": 20, "processors": 4.0},
                                          "total": {"storage": 4000, "memory": 30, "processors": 6.0}}


def test_a_node_without_data_roles_brings_no_storage():
    answer = policy_capacity("m", {"roles": ["master"], "deciders": {"fixed": {"memory": "1kb"}}}, NODES,
                             {"m": Resources(5000, 64, 1.0)})
    assert answer["current_capacity"]["total"] == {"storage": 0, "memory": 64, "processors": 1.0}


def test_an_unreported_node_counts_as_zero_and_the_deciders_see_no_current_capacity():
    seen = []

    def scale(configuration, context):
        seen.append(context.current_capacity)
        return FIXED.scale(configuration, context)

    known = {"fixed": FIXED.__class__(**{**FIXED.__dict__, "scale": scale})}
    answer = policy_capacity("hot", {"roles": list(HOT), "deciders": {"fixed": {"storage": "1kb"}}}, NODES,
                             {"h1": Resources(1000, 10, 2.0), "h2": None}, known)
    assert answer["current_capacity"]["total"] == {"storage": 1000, "memory": 10, "processors": 2.0}
    assert seen == [None]


def test_an_undetermined_decider_leaves_out_the_policys_required_capacity():
    answer = policy_capacity("p", {"roles": [], "deciders": {"fixed": {}}}, NODES, {})
    assert "required_capacity" not in answer
    assert answer["deciders"]["fixed"]["reason_summary"].startswith("fixed storage [null]")


def test_no_policies_is_an_empty_answer():
    assert capacity({}, NODES, {}) == {"policies": {}}


# -- what the machine gives ----------------------------------------------------------------------


@pytest.fixture
def eight_cpus(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)))


@pytest.fixture
def in_root_cgroup(tmp_path):
    proc = tmp_path / "proc-cgroup"
    proc.write_text("0::/\n")
    return proc


def test_a_cgroup_v2_memory_limit_and_cpu_quota_bound_the_host(tmp_path, in_root_cgroup, eight_cpus):
    (tmp_path / "memory.max").write_text("1073741824\n")
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert memory_limit(tmp_path, in_root_cgroup) == 1 << 30
    assert total_memory_bytes(tmp_path, in_root_cgroup) == 1 << 30
    assert cpu_quota(tmp_path, in_root_cgroup) == 1.5
    assert available_processors(tmp_path, in_root_cgroup) == 2  # the quota rounded up
    assert available_processors(tmp_path / "none", in_root_cgroup) == 8


def test_a_limit_on_a_parent_cgroup_binds_a_service_below_it(tmp_path, eight_cpus):
    proc = tmp_path / "proc-cgroup"
    proc.write_text("0::/system.slice/strata.service\n")
    service = tmp_path / "system.slice" / "strata.service"
    service.mkdir(parents=True)
    (service / "memory.max").write_text("max\n")
    (service / "cpu.max").write_text("300000 100000\n")
    (tmp_path / "system.slice" / "memory.max").write_text("2147483648\n")
    (tmp_path / "memory.max").write_text("4294967296\n")
    assert memory_limit(tmp_path, proc) == 2 << 30
    assert available_processors(tmp_path, proc) == 3


def test_no_cgroup_limit_leaves_the_host_figures(tmp_path, in_root_cgroup, eight_cpus):
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert memory_limit(tmp_path, in_root_cgroup) is None
    assert cpu_quota(tmp_path, in_root_cgroup) is None
    assert total_memory_bytes(tmp_path, in_root_cgroup) > 0
    assert available_processors(tmp_path, in_root_cgroup) == 8


def test_a_cgroup_v1_quota_and_limit_are_read_at_the_process_cgroup(tmp_path, eight_cpus):
    proc = tmp_path / "proc-cgroup"
    proc.write_text("4:memory:/pod/abc\n2:cpu,cpuacct:/pod/abc\n0::/\n")
    quota = tmp_path / "cpu,cpuacct" / "pod" / "abc"
    quota.mkdir(parents=True)
    (quota / "cpu.cfs_quota_us").write_text("50000")
    (quota / "cpu.cfs_period_us").write_text("100000")
    memory = tmp_path / "memory" / "pod" / "abc"
    memory.mkdir(parents=True)
    (memory / "memory.limit_in_bytes").write_text("536870912")
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text(str(2**63 - 4096))  # v1's "no limit"
    assert cpu_quota(tmp_path, proc) == 0.5
    assert available_processors(tmp_path, proc) == 1
    assert memory_limit(tmp_path, proc) == 512 << 20


# -- asking the nodes ----------------------------------------------------------------------------


class _Transport:
    """Answers per address as the test says: resources, an error, or never."""

    def __init__(self, behaviour):
        self.behaviour = behaviour

    async def execute(self, action, request, response_type, *, address=None, timeout=None):
        import asyncio
        what = self.behaviour[address]
        if what == "hang":
            await asyncio.Event().wait()
        if isinstance(what, BaseException):
            raise what
        return what


def test_a_node_that_fails_or_does_not_answer_counts_as_not_reported(monkeypatch):
    import asyncio
    from types import SimpleNamespace

    from strata_node.autoscaling import service
    from strata_node.transport.service import ConnectTransportError

    monkeypatch.setattr(service, "NODE_INFO_TIMEOUT", 0.05)
    answer = service.NodeResources(storage=100, memory=10, processors=2.0)
    node = SimpleNamespace(node_id="m", transport=_Transport({
        None: OSError("statvfs failed"),  # the master asking itself
        "a:1": answer, "b:1": ConnectTransportError("[b:1] connect refused"), "c:1": "hang"}))
    gathered = asyncio.run(service.AutoscalingService(node)._gather(
        {"m": "m:1", "a": "a:1", "b": "b:1", "c": "c:1"}))
    assert gathered == {"m": None, "a": Resources(100, 10, 2.0), "b": None, "c": None}
