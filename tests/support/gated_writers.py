"""Store writers a test holds: every LevelDB batch an engine lands on a store-writer thread
waits at a gate until the test opens it, so a test can act while a write is in flight."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from strata_node.engine import engine as engine_module


class GatedWriters(ThreadPoolExecutor):
    """Holds every batch until `gate` is set; notes the threads batches were written on."""

    def __init__(self):
        super().__init__(1, "gated-store-write")
        self.gate = threading.Event()
        self.started = threading.Event()
        self.threads: list[str] = []

    def submit(self, fn, *args, **kwargs):
        def gated():
            self.started.set()
            self.threads.append(threading.current_thread().name)
            self.gate.wait(10)
            return fn(*args, **kwargs)

        return super().submit(gated)

    def close_again(self) -> None:
        """Back to holding batches, for the next write."""
        self.gate.clear()
        self.started.clear()

    async def until_started(self) -> None:
        while not self.started.is_set():
            await asyncio.sleep(0.001)


@pytest.fixture
def writers(monkeypatch):
    gated = GatedWriters()
    monkeypatch.setattr(engine_module, "_STORE_WRITERS", gated)
    yield gated
    gated.gate.set()
    gated.shutdown(wait=True)
