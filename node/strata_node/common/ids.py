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

    def next_ids(self, count: int) -> list[str]:
        """`count` ids under one lock and one clock reading; 15 bytes encode to exactly
        20 base64 characters, so one encoding of all of them is sliced into ids."""
        raw = []
        with self._lock:
            timestamp = max(self._last_timestamp, int(time.time() * 1000))
            prefix = timestamp.to_bytes(6, "big") + self._node_bytes
            sequence = self._sequence
            for _ in range(count):
                sequence = (sequence + 1) & 0xFFFFFF
                if sequence == 0:
                    timestamp += 1  # sequence wrapped: move the clock on so ids stay unique
                    prefix = timestamp.to_bytes(6, "big") + self._node_bytes
                raw.append(prefix + sequence.to_bytes(3, "big"))
            self._sequence = sequence
            self._last_timestamp = timestamp
        encoded = base64.urlsafe_b64encode(b"".join(raw)).decode()
        return [encoded[i:i + 20] for i in range(0, 20 * count, 20)]

    def next_id(self) -> str:
        return self.next_ids(1)[0]


_generator = TimeBasedIdGenerator()


def time_based_id() -> str:
    return _generator.next_id()


def time_based_ids(count: int) -> list[str]:
    return _generator.next_ids(count)
