"""What the coordination core reads out of the cluster state's content."""

from __future__ import annotations

from strata_node.cluster.state import ClusterStateContent, Metadata, auto_shrink_voting_configuration

KEY = "cluster.auto_shrink_voting_configuration"


def content(persistent=None, transient=None) -> ClusterStateContent:
    return ClusterStateContent(metadata=Metadata(persistent_settings=persistent or {},
                                                 transient_settings=transient or {}))


def test_auto_shrink_is_left_to_the_node_setting_until_the_cluster_settings_say():
    assert auto_shrink_voting_configuration(None) is None
    assert auto_shrink_voting_configuration(content()) is None


def test_auto_shrink_reads_transient_before_persistent():
    assert auto_shrink_voting_configuration(content({KEY: "false"})) is False
    assert auto_shrink_voting_configuration(content({KEY: "false"}, {KEY: "true"})) is True


def excluding(*exclusions):
    from strata_node.cluster.state import VotingConfigExclusion

    metadata = Metadata(voting_config_exclusions=tuple(VotingConfigExclusion(*e) for e in exclusions))
    return ClusterStateContent(metadata=metadata)


def members(*nodes):
    from strata_node.cluster.coordination.discovery_node import DiscoveryNode

    return {node_id: DiscoveryNode(id=node_id, name=name, roles=roles) for node_id, name, roles in nodes}


def test_an_exclusion_by_name_gets_the_id_of_the_master_eligible_node_that_joins_with_it():
    from strata_node.cluster.state import resolve_absent_exclusions, voting_config_exclusions

    joined = members(("a", "es-a", ("master",)), ("c", "es-c", ("master", "data")))
    content = resolve_absent_exclusions(excluding(("_absent_", "es-c"), ("_absent_", "es-z")), joined)
    assert voting_config_exclusions(content) == {"c", "_absent_"}
    assert [(e.node_id, e.node_name) for e in content.metadata.voting_config_exclusions] == [
        ("c", "es-c"), ("_absent_", "es-z")]


def test_an_exclusion_by_id_gets_the_name_and_a_node_without_the_master_role_matches_nothing():
    from strata_node.cluster.state import resolve_absent_exclusions

    joined = members(("b", "es-b", ("master",)), ("d", "es-d", ("data",)))
    content = resolve_absent_exclusions(excluding(("b", "_absent_"), ("_absent_", "es-d")), joined)
    assert [(e.node_id, e.node_name) for e in content.metadata.voting_config_exclusions] == [
        ("b", "es-b"), ("_absent_", "es-d")]
