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
