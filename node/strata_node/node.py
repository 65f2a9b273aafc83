"""One node: its settings, its data folder, its services and the HTTP app, wired together
with a start and stop order."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.routing import Route

from .action import (
    analyze_action,
    broadcast,
    broadcast_actions,
    bulk_by_scroll,
    cluster_admin,
    cluster_reroute,
    fault,
    get,
    index_reads,
    index_stats,
    main,
    node_shutdown,
    nodes_info,
    recovery_action,
    reserved_state,
    resolve_index,
    write_actions,
)
from .action.bulk import BulkAction
from .action.cluster_state_action import ClusterStateAction
from .action.health_action import ClusterHealthAction
from .action.index_admin import IndexAdmin
from .action.master import MasterActions
from .action.persistent_tasks import PersistentTasksService
from .action.rollover import RolloverAction
from .action.search_actions import SearchActions
from .action.shard_router import ShardRouter
from .action.templates import TemplateActions
from .allocation.delayed import DelayedAllocationService
from .allocation.info_service import ClusterInfoService
from .autoscaling.service import AutoscalingService
from .cluster.coordination.discovery_node import DiscoveryNode
from .cluster.coordination_service import CoordinationService
from .cluster.state import UNKNOWN_UUID
from .common.errors import ClusterBlockError
from .common.files import write_atomically
from .common.ids import random_base64_uuid
from .index.service import IndicesService
from .node_client import NodeClient
from .replication import replica
from .replication.recovery import PeerRecovery
from .replication.retention_sync import RetentionLeaseSync
from .reservedstate.file_settings import FileSettingsService
from .reservedstate.registry import default_handlers
from .rest.aliases import AliasHandlers
from .rest.allocation import AllocationHandlers
from .rest.analyze import AnalyzeHandlers
from .rest.autoscaling import AutoscalingHandlers
from .rest.bulk import BulkHandlers
from .rest.bulk_by_scroll import BulkByScrollHandlers
from .rest.cat_apis import CatHandlers
from .rest.cluster import ClusterHandlers
from .rest.controller import RestController
from .rest.documents import DocumentHandlers
from .rest.fault import FaultHandlers
from .rest.index_settings import IndexSettingsHandlers
from .rest.index_stats import IndexStatsHandlers
from .rest.indices import IndexHandlers
from .rest.mapping import MappingHandlers
from .rest.node_shutdown import NodeShutdownHandlers
from .rest.nodes import NodesHandlers
from .rest.persistent_tasks import PersistentTaskHandlers
from .rest.recovery import RecoveryHandlers
from .rest.reserved_state import ReservedStateHandlers
from .rest.resolve_index import ResolveIndexHandlers
from .rest.rollover import RolloverHandlers
from .rest.root import RootHandlers
from .rest.search import SearchHandlers
from .rest.snapshots import SnapshotHandlers
from .rest.tasks import TaskHandlers
from .rest.templates import TemplateHandlers
from .search import scroll as search_scroll
from .search import transport_actions as search_transport_actions
from .settings import NodeSettings
from .snapshots import shards as snapshot_shards
from .snapshots.repository import Stores
from .snapshots.s3 import S3Clients
from .snapshots.service import SnapshotsService
from .snapshots.shards import Restores
from .snapshots.throttle import Throttles
from .tasks.actions import TaskActions
from .tasks.api import TaskApiActions
from .tasks.manager import TaskManager
from .tasks.results import TaskResults
from .tasks.task import Task
from .transport.auth import generate_secret
from .transport.service import TransportService

log = logging.getLogger("strata.node")
STATE_WAIT_SECONDS = 30.0


class NodeStartupError(Exception):
    """The node cannot start: the message says why, for a person to act on."""


class Node:
    def __init__(self, settings: NodeSettings):
        self.settings = settings
        self.name: str = settings.get("node.name")
        # Read once: the cgroup may change under a running pod, the node's figure does not.
        self.processors: float = settings.get("node.processors")
        self.cluster_name: str = settings.get("cluster.name")
        self.data_path = Path(settings.get("path.data")).resolve()
        # Where `fs` repositories may live, and the clients `s3` ones use.
        self.repository_stores = Stores(settings.get("path.repo"), S3Clients(settings.s3_clients))
        self.snapshot_throttles = Throttles()  # max_snapshot/restore_bytes_per_sec, per repository
        self.node_id = ""
        self.indices = IndicesService(self.data_path)
        self.bulk = BulkAction(self.indices, settings.get("action.auto_create_index"))
        self.rest = RestController(settings.get("http.max_content_length"))
        for handlers in (RootHandlers, IndexHandlers, DocumentHandlers, BulkHandlers, ClusterHandlers,
                         AnalyzeHandlers, MappingHandlers, SearchHandlers,
                         CatHandlers):
            handlers(self).register(self.rest)
        IndexSettingsHandlers(self).register(self.rest)
        RecoveryHandlers(self).register(self.rest)
        IndexStatsHandlers(self).register(self.rest)
        NodeShutdownHandlers(self).register(self.rest)
        SnapshotHandlers(self).register(self.rest)
        TaskHandlers(self).register(self.rest)
        NodesHandlers(self).register(self.rest)
        FaultHandlers(self).register(self.rest)
        PersistentTaskHandlers(self).register(self.rest)
        self.persistent_tasks = PersistentTasksService(self)
        AllocationHandlers(self).register(self.rest)
        ReservedStateHandlers(self).register(self.rest)
        self.file_settings = FileSettingsService(self, default_handlers(self.settings.values))
        AliasHandlers(self).register(self.rest)
        TemplateHandlers(self).register(self.rest)
        AutoscalingHandlers(self).register(self.rest)
        BulkByScrollHandlers(self).register(self.rest)
        RolloverHandlers(self).register(self.rest)
        ResolveIndexHandlers(self).register(self.rest)
        self.http_address = ""  # set by the launcher once the HTTP socket is bound
        # Set by the launcher: stops the transport server, so stop() shuts it before the services.
        self.stop_transport_server: Callable[[], Awaitable[None]] | None = None
        # Named executors for long work, so the event loop only ever waits on them.
        cpus = os.cpu_count() or 2
        self.executors = {"generic": ThreadPoolExecutor(4 * cpus, "generic"),
                          "search": ThreadPoolExecutor(cpus * 3 // 2 + 1, "search"),
                          "management": ThreadPoolExecutor(2, "management"),
                          "recovery": ThreadPoolExecutor(4, "recovery"),
                          # Shard file copies (which wait out their rates there), and the
                          # repository's roots and metadata apart, so these never queue
                          # behind those (ES's SNAPSHOT and SNAPSHOT_META pools).
                          "snapshot": ThreadPoolExecutor(4, "snapshot"),
                          "snapshot_meta": ThreadPoolExecutor(2, "snapshot_meta")}
        # Made once the node id is known (prepare_data_path).
        self.tasks: TaskManager | None = None
        self.transport: TransportService | None = None
        self.client: NodeClient | None = None
        self.task_actions: TaskActions | None = None
        self.coordination: CoordinationService | None = None  # made at start, once addresses are bound
        self.delayed_allocation: DelayedAllocationService | None = None
        self.task_results = TaskResults(self)
        self.force_merges = asyncio.Lock()  # one force merge at a time on this node (ES's force_merge pool)
        self._lock_fd: int | None = None
        # Set as soon as shutdown begins, before in-flight requests finish, so that
        # requests waiting on a condition (health) give up instead of holding it.
        self.closing = asyncio.Event()

    def app(self) -> Starlette:
        methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
        return Starlette(routes=[Route("/{path:path}", self.rest.handle, methods=methods)],
                         lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    def prepare_data_path(self) -> None:
        """Create and lock the data folder; a second node on the same folder is refused."""
        try:
            self.data_path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.data_path / "node.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise NodeStartupError(f"data path [{self.data_path}] is not usable: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise NodeStartupError(
                f"failed to obtain node locks, tried [{self.data_path}]; maybe these locations are not "
                "writable or multiple nodes were started on the same data path?") from None
        self._lock_fd = fd
        state = self.data_path / "_state" / "node.json"
        try:
            if state.exists():
                meta = orjson.loads(state.read_bytes())
            else:
                meta = {"node_id": random_base64_uuid()}
                write_atomically(state, orjson.dumps(meta))
        except OSError as e:
            raise NodeStartupError(f"data path [{self.data_path}] is not usable: {e}") from None
        self.node_id = meta["node_id"]
        self._start_transport_services(self._transport_secret())

    def _transport_secret(self) -> str:
        configured = self.settings.get("transport.secret")
        if configured:
            return configured
        path = self.data_path / "_state" / "transport.secret"
        try:
            if not path.exists():
                write_atomically(path, generate_secret().encode(), mode=0o600)
            return path.read_text().strip()
        except OSError as e:
            raise NodeStartupError(f"data path [{self.data_path}] is not usable: {e}") from None

    def _start_transport_services(self, secret: str) -> None:
        self.tasks = TaskManager(self.node_id)
        self.transport = TransportService(node_id=self.node_id, node_name=self.name,
                                          cluster_name=self.cluster_name, secret=secret, tasks=self.tasks,
                                          executors=self.executors,
                                          roles=tuple(self.settings.get("node.roles")))
        self.task_actions = TaskActions(self.transport, self.tasks,
                                        test_actions=self.settings.get("strata.test_actions.enabled"))
        self.client = NodeClient(self.transport)
        self.master_actions = MasterActions(self)
        self.shard_router = ShardRouter(self)
        self.bulk.router = self.shard_router
        self.bulk.register(self.transport)
        self.bulk.replicate = functools.partial(replica.replicate, self)
        replica.register(self)
        self.recoveries = PeerRecovery(self)
        self.recoveries.register()
        self.retention_leases = RetentionLeaseSync(self)
        self.retention_leases.register()
        self.indices.recoveries = self.recoveries
        recovery_action.register(self)
        self.index_admin = IndexAdmin(self)
        self.index_admin.register()
        self.indices.admin = self.index_admin
        RolloverAction(self).register()
        self.template_actions = TemplateActions(self)
        self.template_actions.register()
        self.autoscaling = AutoscalingService(self)
        self.autoscaling.register()
        self.info_service = ClusterInfoService(self)
        self.info_service.register()
        self.bulk.index_templates = lambda: self.coordination.content.metadata.index_templates
        self.indices.node_id = self.node_id
        self.rest.wait_for_state = self._wait_for_state
        nodes_info.register(self)
        cluster_admin.register(self)
        node_shutdown.register(self)
        self.persistent_tasks.register()
        self.snapshots = SnapshotsService(self)
        self.snapshots.register()
        snapshot_shards.register(self)
        self.restores = Restores(self)
        self.indices.restores = self.restores
        cluster_reroute.register(self)
        get.register(self)
        get.register_actions(self)
        write_actions.register(self)
        self.search_actions = SearchActions(self)
        self.search_actions.register()
        fault.register(self)
        TaskApiActions(self).register()
        broadcast.register(self)
        broadcast_actions.register(self)
        index_reads.register(self)
        resolve_index.register(self)
        ClusterHealthAction(self).register()
        ClusterStateAction(self).register()
        main.register(self)
        analyze_action.register(self)
        index_stats.register_stats(self)
        search_transport_actions.register(self)
        search_scroll.register(self)
        self.bulk_by_scroll = bulk_by_scroll.register(self)
        reserved_state.register(self)
        self.rest.tasks = self.tasks
        self.rest.cancel = self.cancel_task

    @property
    def cluster_uuid(self) -> str:
        if self.coordination is None:
            return UNKNOWN_UUID
        return self.coordination.content.metadata.cluster_uuid

    def discovery_node(self) -> DiscoveryNode:
        attributes = self.settings.attributes
        return DiscoveryNode(id=self.node_id, name=self.name, transport_address=self.transport.address,
                             http_address=self.http_address, roles=tuple(self.settings.get("node.roles")),
                             attributes=attributes, ephemeral_id=random_base64_uuid())

    def cluster_nodes(self) -> dict[str, str | None]:
        """Every node of the cluster (node id -> transport address; None for this one): the
        nodes of the applied cluster state, or before one is applied, the nodes this node
        has shaken hands with."""
        state = self.coordination.applied_state if self.coordination is not None else None
        if state is None:
            return {self.node_id: None, **self.transport.peers()}
        nodes: dict[str, str | None] = {}
        for node_id in sorted(state.nodes):
            details = state.node_details.get(node_id)
            address = (details.transport_address if details is not None
                       else self.transport.peers().get(node_id))
            nodes[node_id] = None if node_id == self.node_id else address
        nodes.setdefault(self.node_id, None)
        return nodes

    async def _bounded(self, what: str, work: Awaitable[None], seconds: float) -> None:
        """One shutdown step, given up (loudly) after `seconds`: a stuck step must not keep
        the node from stopping and its shards from flushing."""
        try:
            await asyncio.wait_for(work, seconds)
        except TimeoutError:
            log.warning("[%s] stopping %s took more than %.0fs; going on without it", self.name, what,
                        seconds)

    async def _wait_for_state(self) -> None:
        """Until this node has applied a cluster state (ES answers 503 with the
        state-not-recovered block meanwhile; waiting a little first spares clients the
        retry right after a start)."""
        coordination = self.coordination
        if coordination is None or coordination.applied_state is not None:
            return
        if not await coordination.wait_for_state(lambda s: s is not None, STATE_WAIT_SECONDS):
            raise ClusterBlockError("blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];")

    async def cancel_task(self, task: Task, reason: str) -> None:
        await self.task_actions.cancel_local(task, reason)

    async def start(self) -> None:
        if self._lock_fd is None:
            self.prepare_data_path()
        await self.indices.start()
        self.coordination = CoordinationService(settings=self.settings, local_node=self.discovery_node(),
                                                transport=self.transport, data_path=self.data_path)
        self.coordination.add_applier(self.indices.apply_cluster_state)
        self.coordination.add_listener(self.persistent_tasks.apply_cluster_state)
        self.coordination.add_listener(self.task_actions.apply_cluster_state)
        self.coordination.add_listener(self.snapshots.apply_cluster_state)
        self.coordination.add_listener(self.file_settings.apply_cluster_state)
        self.delayed_allocation = DelayedAllocationService(self.coordination, self.coordination.clock)
        self.coordination.add_listener(self.delayed_allocation.apply_cluster_state)
        self.coordination.cluster_info = lambda: self.info_service.info
        self.coordination.add_listener(self.info_service.apply_cluster_state)
        self.coordination.start()
        self.file_settings.start()
        self.retention_leases.start()
        log.info("[%s] started, node id [%s], data path [%s]", self.name, self.node_id, self.data_path)

    async def stop(self) -> None:
        self.closing.set()
        log.info("[%s] stopping: flushing shards", self.name)
        if self.stop_transport_server is not None:
            # No internal action may run past this point.
            await self._bounded("the transport server", self.stop_transport_server(), 15.0)
        await self._bounded("stored task results", self.task_results.close(), 10.0)
        if self.transport is not None:
            await self._bounded("peer recoveries", self.recoveries.close(), 10.0)
            await self._bounded("retention lease syncs", self.retention_leases.close(), 10.0)
            await self._bounded("snapshots", self.snapshots.close(), 10.0)
            await self._bounded("restores", self.restores.close(), 10.0)
        if self.transport is not None:
            await self._bounded("shard state reports", self.index_admin.close(), 10.0)
        await self._bounded("persistent tasks", self.persistent_tasks.close(), 10.0)
        await self._bounded("file settings", self.file_settings.stop(), 5.0)
        if self.delayed_allocation is not None:
            self.delayed_allocation.stop()
        await self._bounded("cluster info", self.info_service.stop(), 5.0)
        if self.coordination is not None:
            await self._bounded("coordination", self.coordination.stop(), 10.0)
        if self.transport is not None:
            await self._bounded("transport connections", self.transport.close(), 10.0)
        await self.indices.stop()  # unbounded: shards flush
        for executor in self.executors.values():
            executor.shutdown(wait=False, cancel_futures=True)
        self.repository_stores.s3_clients.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        log.info("[%s] stopped", self.name)
