"""The coordination state a node keeps across restarts, in a LevelDB of its own.

Elasticsearch's PersistedClusterStateService in miniature: the current term and the last
accepted cluster state, each written with a synced write before the node sends the vote or
acceptance that depends on it (the core's contract: persist, then send). Beside them, the
uuid of the cluster this node last applied a committed state of, which is what makes a
node refuse to join a different cluster later.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import msgspec
import plyvel

from .coordination.cluster_state import ClusterState
from .coordination.state import PersistedState
from .state import decode_state, encode_state

TERM = b"current_term"
STATE = b"last_accepted_state"
COMMITTED_UUID = b"committed_cluster_uuid"

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


class PersistedStateStore:
    def __init__(self, path: Path):
        path.mkdir(parents=True, exist_ok=True)
        self._db = plyvel.DB(str(path), create_if_missing=True)
        self._written_state: ClusterState | None = None
        # Writes run on worker threads; closing the DB under a write in flight is undefined
        # behaviour in LevelDB, so close waits for it.
        self._lock = threading.Lock()
        self._closed = False
        raw = self._db.get(COMMITTED_UUID)
        self._committed_uuid: str | None = raw.decode() if raw is not None else None

    def load(self) -> PersistedState:
        term = self._db.get(TERM)
        raw = self._db.get(STATE)
        state = decode_state(_decode(raw)) if raw is not None else ClusterState()
        self._written_state = state
        return PersistedState(current_term=int(term) if term is not None else 0, last_accepted_state=state)

    def write(self, persisted: PersistedState, encoded: Any = None) -> None:
        """Synced: when this returns the term and state survive a crash. The state is
        rewritten only when it changed (a term bump alone is a few bytes); `encoded` is the
        state as plain data when the caller has it already."""
        with self._lock:
            self._check_open()
            with self._db.write_batch(sync=True) as batch:
                batch.put(TERM, str(persisted.current_term).encode())
                if persisted.last_accepted_state is not self._written_state:
                    data = encoded if encoded is not None else encode_state(persisted.last_accepted_state)
                    batch.put(STATE, _encode(data))
            self._written_state = persisted.last_accepted_state

    def _check_open(self) -> None:
        if self._closed:
            raise OSError("the coordination state store is closed")

    @property
    def committed_cluster_uuid(self) -> str | None:
        return self._committed_uuid

    def record_committed_cluster_uuid(self, uuid: str) -> None:
        with self._lock:
            self._check_open()
            self._db.put(COMMITTED_UUID, uuid.encode(), sync=True)
            self._committed_uuid = uuid

    def forget_committed_cluster_uuid(self) -> None:
        """Only for the unsafe repair commands: the node may join another cluster."""
        with self._lock:
            self._db.delete(COMMITTED_UUID, sync=True)
            self._committed_uuid = None

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
