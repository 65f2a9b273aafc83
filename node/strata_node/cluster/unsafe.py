"""Last-resort repairs of a node's persisted coordination state, for the day a majority of
master-eligible nodes is lost for ever (Elasticsearch's `elasticsearch-node
unsafe-bootstrap` and `detach-cluster`).

Both run on a stopped node, against its data path, and both can lose data: the cluster
they produce may not hold the latest committed state, and nothing checks that. They exist
because the alternative, a cluster that can never elect a master again, is worse.

- `unsafe_bootstrap` makes this node's last accepted state the committed state of a new
  cluster (a new cluster uuid) whose voting configuration is this node alone.
- `detach_cluster` makes a node forget its cluster (uuid, term, configuration) so it can
  join the cluster an unsafe bootstrap made; it can never win an election on its own.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

import msgspec
import orjson

from ..common.ids import random_base64_uuid
from .coordination.cluster_state import ClusterState
from .coordination.state import PersistedState
from .coordination.voting import VotingConfiguration
from .persisted import PersistedStateStore
from .state import UNKNOWN_UUID, content_of

# A configuration nobody is in: a detached node waits to join an elected master.
MUST_JOIN_ELECTED_MASTER = VotingConfiguration.of("_must_join_elected_master_")

WARNING = """
    WARNING: Strata MUST be stopped before running this tool.

    You should only run this tool if you have permanently lost half or more of the
    master-eligible nodes in this cluster, and you cannot restore the cluster from a
    snapshot. This tool can cause arbitrary data loss and its use should be your last
    resort. If you have multiple surviving master-eligible nodes, consider running it on
    the node with the highest cluster state (term, version) first.
"""


class UnsafeCommandError(Exception):
    pass


@contextmanager
def _locked_store(data_path: Path):
    """The node's store, with the node's data-path lock held so a running node is refused."""
    lock = data_path / "node.lock"
    if not (data_path / "_state" / "node.json").exists():
        raise UnsafeCommandError(f"no node data found in [{data_path}]")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UnsafeCommandError(f"failed to lock node's directory [{data_path}]: is a node still "
                                     "running on it?") from None
        store = PersistedStateStore(data_path / "_state" / "coordination")
        try:
            yield store
        finally:
            store.close()
    finally:
        os.close(fd)


def node_id_of(data_path: Path) -> str:
    return orjson.loads((data_path / "_state" / "node.json").read_bytes())["node_id"]


def describe(data_path: Path) -> PersistedState:
    with _locked_store(data_path) as store:
        return store.load()


def unsafe_bootstrap(data_path: Path) -> ClusterState:
    node_id = node_id_of(data_path)
    with _locked_store(data_path) as store:
        persisted = store.load()
        state = persisted.last_accepted_state
        if state.last_accepted_configuration.is_empty():
            raise UnsafeCommandError("this node has no cluster state to bootstrap from (it never joined a "
                                     "cluster); start it with cluster.initial_master_nodes instead")
        if not state.is_master_eligible(node_id):
            raise UnsafeCommandError("unsafe-bootstrap may only run on a master-eligible node")
        alone = VotingConfiguration.of(node_id)
        content = content_of(state)
        metadata = msgspec.structs.replace(content.metadata, cluster_uuid=random_base64_uuid(),
                                           voting_config_exclusions=())
        new_state = state.next(version=state.version + 1, master=None, nodes=frozenset({node_id}),
                               node_details={k: v for k, v in state.node_details.items() if k == node_id},
                               last_committed_configuration=alone, last_accepted_configuration=alone,
                               value=msgspec.structs.replace(content, metadata=metadata))
        store.write(PersistedState(current_term=persisted.current_term, last_accepted_state=new_state))
        store.forget_committed_cluster_uuid()
        return new_state


def detach_cluster(data_path: Path) -> ClusterState:
    with _locked_store(data_path) as store:
        persisted = store.load()
        state = persisted.last_accepted_state
        content = content_of(state)
        metadata = msgspec.structs.replace(content.metadata, cluster_uuid=UNKNOWN_UUID)
        new_state = state.next(term=0, master=None, last_committed_configuration=MUST_JOIN_ELECTED_MASTER,
                               last_accepted_configuration=MUST_JOIN_ELECTED_MASTER,
                               value=msgspec.structs.replace(content, metadata=metadata))
        store.write(PersistedState(current_term=0, last_accepted_state=new_state))
        store.forget_committed_cluster_uuid()
        return new_state
