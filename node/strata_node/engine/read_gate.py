"""Reads of a shard's store on other threads, and the close that waits them out.

plyvel checks that its database is open, then lets go of the GIL for the LevelDB call: a
close on another thread in between frees what the read is using, and the process dies.
So every read that runs off the event loop passes through the engine's gate, and the
engine's close shuts the gate (no new read gets in) and waits for the reads inside
before it closes the store, as Elasticsearch's Store is reference counted. A search
inside when the close begins stops at its next check between steps (`check`), as a
cancelled one does, so a close waits for a step rather than a whole search."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

WARN_EVERY = 10.0  # seconds a close waits before it says what it waits for


class ReadGate:
    def __init__(self, name: str, closed_error: Callable[[], Exception]):
        self.name = name
        self._closed_error = closed_error
        self._lock = threading.Lock()
        self._inside = 0
        self._shut = False
        self._empty = threading.Event()
        self._empty.set()

    @property
    def inside(self) -> int:
        return self._inside

    @property
    def is_shut(self) -> bool:
        return self._shut

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Hold the store open for the read in the block; raises the closed error once a
        close has begun."""
        with self._lock:
            if self._shut:
                raise self._closed_error()
            self._inside += 1
            self._empty.clear()
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
                if self._inside == 0:
                    self._empty.set()

    def check(self) -> None:
        """The closed error once a close has begun: a long read inside looks between steps."""
        if self._shut:
            raise self._closed_error()

    def shut(self) -> None:
        """No read gets in from now on. Runs on the event loop, never blocks."""
        with self._lock:
            self._shut = True

    def wait_until_empty(self) -> None:
        """Until the reads inside have left (the gate is shut, so no new one comes).
        Blocking: the close runs it on an executor thread."""
        while not self._empty.wait(WARN_EVERY):
            log.warning("%s close waits for %d reads still running", self.name, self._inside)
