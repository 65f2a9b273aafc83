"""The file settings service (Elasticsearch's FileSettingsService): watches
`<path.config>/operator/settings.json` and, on the elected master only, turns each new
document into one reserved state update of the `file_settings` namespace.

Every node watches (any of them may become master), but only the master reads and applies.
A node that becomes master applies the file it finds, so a change that landed during a
failover is not lost; the version check in the update makes re-applying harmless.

watchfiles (inotify) reports changes under `path.config`: a Kubernetes ConfigMap volume
swapping its `..data` symlink, an editor's write-then-rename and an in-place write all
touch the `operator` folder. A change only wakes the processing loop, which reads the file
until two reads agree (an in-place write may still be under way) and skips a document it
already processed. A missing file changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping
from pathlib import Path

from watchfiles import awatch

from ..cluster.state import content_of
from ..common.errors import StrataError
from .handler import ReservedStateHandler
from .metadata import RESTORED_VERSION
from .service import FILE_SETTINGS, ChunkParseError, Outcome, apply, parse_chunk

log = logging.getLogger("strata.file_settings")

SETTLE_SECONDS = 0.05  # between the two reads that must agree
SETTLE_READS = 40
RETRY_SECONDS = 1.0  # after an update the master could not publish
MISSING_DIR_POLL_SECONDS = 1.0
PARSE_GRACE_SECONDS = 0.5  # an unparsable document is read again this long after...
PARSE_GRACE_ROUNDS = 4  # ...this many times before its parse error is recorded


def settings_file(config_path: str | Path) -> Path:
    return Path(config_path) / "operator" / "settings.json"


def read_settled(path: Path) -> bytes | None:
    """The file's bytes once two reads in a row agree; None when it does not exist."""
    previous: bytes | None = None
    for _ in range(SETTLE_READS):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if data == previous:
            return data
        previous = data
        time.sleep(SETTLE_SECONDS)
    log.warning("[%s] kept changing while being read; processing the last read", path)
    return previous


def parses(data: bytes) -> bool:
    try:
        parse_chunk(data)
    except ChunkParseError:
        return False
    return True


class FileSettingsService:
    def __init__(self, node, handlers: Mapping[str, ReservedStateHandler]):
        self.node = node
        self.handlers = handlers
        self.path = settings_file(node.settings.get("path.config"))
        self._wake = asyncio.Event()
        self._processed: str | None = None  # digest of the last document this master applied
        self._master_term: int | None = None  # the term this node last led in
        self._tasks: list[asyncio.Task] = []
        self.last_outcome: Outcome | None = None

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._watch(), name="file-settings-watch"),
                       asyncio.create_task(self._process_loop(), name="file-settings-process")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def apply_cluster_state(self, old, new) -> None:
        """A cluster state listener: a node that has just become master processes the file,
        also when it leads again in a later term with no state applied in between (a change
        the file saw meanwhile was dropped while it did not lead), and the master processes
        it again once a snapshot restore replaced the global state (the namespace's version
        is then RESTORED_VERSION, as ES's shouldRefreshFileState checks)."""
        coordination = self.node.coordination
        term = coordination.current_term if coordination.is_master else None
        restored = self._restored(new) and not self._restored(old)  # once, when the restore lands
        if term is not None and (term != self._master_term or restored):
            self._processed = None
            self._wake.set()
        self._master_term = term

    @staticmethod
    def _restored(state) -> bool:
        entry = content_of(state).metadata.reserved_state.get(FILE_SETTINGS) if state is not None else None
        return entry is not None and entry.version == RESTORED_VERSION

    # -- watching ----------------------------------------------------------------------

    def _relevant(self, changed: str) -> bool:
        operator_dir = self.path.parent
        return Path(changed) == operator_dir or operator_dir in Path(changed).parents

    async def _watch(self) -> None:
        # Non-recursive watches of the config folder (to see `operator` come and go) and of
        # `operator` itself: path.config may hold busy folders (the data path, in tests).
        operator_dir = self.path.parent
        config_dir = operator_dir.parent
        while True:
            if not config_dir.is_dir():
                await asyncio.sleep(MISSING_DIR_POLL_SECONDS)
                continue
            watched = [config_dir] + ([operator_dir] if operator_dir.is_dir() else [])
            self._wake.set()  # the file may have changed before this watch began
            try:
                async for changes in awatch(*watched, recursive=False, watch_filter=None,
                                            debounce=400, step=30):
                    paths = {Path(p) for _, p in changes}
                    if any(self._relevant(p) for p in paths):
                        self._wake.set()
                    if operator_dir in paths:
                        break  # `operator` appeared, went or was replaced: watch it anew
            except Exception:
                log.exception("watching [%s] failed; watching again", config_dir)
                await asyncio.sleep(MISSING_DIR_POLL_SECONDS)

    # -- processing --------------------------------------------------------------------

    async def _process_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.node.coordination is None or not self.node.coordination.is_master:
                continue
            try:
                await self._process_file()
            except Exception as e:
                if not isinstance(e, StrataError):
                    log.exception("processing [%s] failed", self.path)
                else:
                    log.warning("processing [%s] failed: %s; retrying", self.path, e)
                self._retry_later()

    def _retry_later(self) -> None:
        asyncio.get_running_loop().call_later(RETRY_SECONDS, self._wake.set)

    async def _process_file(self) -> None:
        data = await asyncio.to_thread(read_settled, self.path)
        for _ in range(PARSE_GRACE_ROUNDS):
            if data is None or parses(data):
                break
            # Likely a slow in-place write read halfway: give the writer time before the
            # parse error is recorded.
            await asyncio.sleep(PARSE_GRACE_SECONDS)
            data = await asyncio.to_thread(read_settled, self.path)
        if data is None:
            return  # a deleted file leaves the reserved state as it is
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._processed:
            return
        self.last_outcome = await self.process(data)
        self._processed = digest

    async def process(self, data: bytes) -> Outcome:
        """One master update for one document; its outcome is logged as well as recorded."""
        outcome: dict[str, Outcome] = {}

        def update(content):
            new, outcome["result"] = apply(FILE_SETTINGS, data, content, self.handlers)
            return new

        await self.node.coordination.submit(f"reserved cluster state update [{FILE_SETTINGS}]", update)
        result = outcome["result"]
        if result.skipped and result.version <= 0:
            log.warning("not updating reserved cluster state for namespace [%s], because version [%d] is "
                        "less or equal to 0", FILE_SETTINGS, result.version)
        elif result.skipped:
            log.info("not updating reserved cluster state for namespace [%s], because version [%d] is less "
                     "or equal to the current metadata version [%d]", FILE_SETTINGS, result.version,
                     result.current_version)
        elif result.error_kind is not None:
            log.warning("reserved cluster state for namespace [%s] version [%d] failed (%s): %s",
                        FILE_SETTINGS, result.version, result.error_kind, "; ".join(result.errors))
        else:
            log.info("applied reserved cluster state for namespace [%s] version [%d]", FILE_SETTINGS,
                     result.version)
        return result
