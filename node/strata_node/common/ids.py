"""Identifiers as Elasticsearch makes them.

Auto-generated document ids are time-based, 15 bytes in URL-safe base64 (20 characters),
ordered so ids generated close together share prefixes, which keeps LevelDB's key blocks
compact. Index and node ids are random 16-byte base64 strings (22 characters).
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
import time


def random_base64_uuid() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


class TimeBasedIdGenerator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sequence = int.from_bytes(os.urandom(3), "big")
        self._last_timestamp = 0
        self._node_bytes = os.urandom(6)

    def next_id(self) -> str:
        with self._lock:
            self._sequence = (self._sequence + 1) & 0xFFFFFF
            timestamp = max(self._last_timestamp, int(time.time() * 1000))
            if self._sequence == 0:
                timestamp += 1  # sequence wrapped: move the clock on so ids stay unique
            self._last_timestamp = timestamp
            sequence = self._sequence
        raw = (
            timestamp.to_bytes(6, "big")
            + self._node_bytes
            + sequence.to_bytes(3, "big")
        )
        return base64.urlsafe_b64encode(raw).decode()


_generator = TimeBasedIdGenerator()


def time_based_id() -> str:
    return _generator.next_id()
