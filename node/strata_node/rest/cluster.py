"""`GET /_cluster/health` and `GET /_cluster/health/{index}`
(RestClusterHealthAction and TransportClusterHealthAction in Elasticsearch).

The health itself comes from the routing table of the applied cluster state, with this
node's own copies checked against their engines (action/cluster_health.py). Each
`wait_for_*` parameter is one condition; the answer comes as soon as all of them hold,
or when `timeout` (30s by default) passes, and then it is a 408 with `timed_out: true`
and the health as it stood. Naming an index that does not exist is a condition too: the
health waits for it to appear and is red meanwhile. The conditions are re-evaluated on
every cluster state change, and every 50ms for a local engine that fails between states.

Parameters are read in Elasticsearch's order, and every one is checked before any
waiting starts, so a bad value is a 400 at once, never a 408 later.
"""

from __future__ import annotations

from ..action.cluster_health import Status
from ..action.health_action import HEALTH, HealthRequest, HealthResponse, java_int, parse_wait_for_nodes
from ..cluster.master_service import PRIORITIES
from ..common.errors import IllegalArgument, NumberFormatError
from .cluster_state import ClusterStateHandlers
from .controller import RestController, RestResponse
from .pending_tasks import PendingTasksHandlers
from .request import RestRequest

HEALTH_PARAMS = ("expand_wildcards", "ignore_unavailable", "allow_no_indices", "level", "local",
                 "master_timeout", "timeout", "wait_for_status", "wait_for_nodes", "wait_for_events",
                 "wait_for_active_shards", "wait_for_no_relocating_shards", "wait_for_no_initializing_shards",
                 "wait_for_relocating_shards")
LEVELS = ("cluster", "indices", "shards")
def parse_active_shard_count(text: str) -> int | str | None:
    """ActiveShardCount.parseString: `all` or a non-negative count; 0 waits for nothing."""
    if text == "all":
        return "all"
    try:
        count = java_int(text)
    except NumberFormatError as e:
        raise IllegalArgument(f"cannot parse ActiveShardCount[{text}]", caused_by=e) from None
    if count < 0:
        raise IllegalArgument("shard count cannot be a negative value")
    return count or None


def _enum(value: str, choices: tuple[str, ...], java_class: str) -> str:
    """Enum.valueOf of the upper-cased value, failing as Java words it."""
    name = value.upper()
    if name not in choices:
        raise IllegalArgument(f"No enum constant {java_class}.{name}")
    return name


def parse_health_request(request: RestRequest) -> HealthRequest:
    indices = request.list_param("index")
    # IndicesOptions.lenientExpandHidden: missing names and empty wildcards are fine.
    ignore_unavailable = request.bool_param("ignore_unavailable", True)
    allow_no_indices = request.bool_param("allow_no_indices", True)
    expand_wildcards = request.expand_wildcards_param("all")
    request.bool_param("local")
    request.time_param("master_timeout", 30.0)
    timeout = request.time_param("timeout", 30.0)
    status = request.param("wait_for_status")
    wait_for_status = Status[_enum(status, tuple(s.name for s in Status),
                                   "org.elasticsearch.cluster.health.ClusterHealthStatus")] \
        if status is not None else None
    no_relocating = request.bool_param("wait_for_no_relocating_shards")
    no_initializing = request.bool_param("wait_for_no_initializing_shards")
    if request.has_param("wait_for_relocating_shards"):
        raise IllegalArgument("wait_for_relocating_shards has been removed, use "
                              "wait_for_no_relocating_shards [true/false] instead")
    active = request.param("wait_for_active_shards")
    active_shards = parse_active_shard_count(active) if active is not None else None
    nodes = request.param("wait_for_nodes", "")
    events = request.param("wait_for_events")
    if events is not None:
        events = _enum(events, PRIORITIES, "org.elasticsearch.common.Priority")
    level = request.param("level", "cluster")
    if level.lower() not in LEVELS:
        raise IllegalArgument("level parameter must be one of [cluster] or [indices] or [shards] but "
                              f"was [{level}]")
    if nodes:
        parse_wait_for_nodes(nodes)  # a bad value is a 400 before any waiting
    return HealthRequest(indices=indices, ignore_unavailable=ignore_unavailable,
                         allow_no_indices=allow_no_indices, expand_wildcards=expand_wildcards,
                         timeout=timeout, level=level.lower(), wait_for_status=wait_for_status,
                         wait_for_no_initializing_shards=no_initializing,
                         wait_for_active_shards=active_shards, wait_for_nodes=nodes or None,
                         wait_for_no_relocating_shards=no_relocating, wait_for_events=events,
                         local=request.bool_param("local"),
                         master_timeout=request.time_param("master_timeout", 30.0),
                         human=request.bool_param("human"))


class ClusterHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("GET", "/_cluster/health", self.health, HEALTH_PARAMS, action=HEALTH)
        c.register("GET", "/_cluster/health/{index}", self.health, HEALTH_PARAMS,
                   action=HEALTH)
        ClusterStateHandlers(self.node).register(c)
        PendingTasksHandlers(self.node).register(c)

    async def health(self, request: RestRequest) -> RestResponse:
        response: HealthResponse = await self.node.client.execute(HEALTH, parse_health_request(request))
        return RestResponse(200 if response.ready else 408, response.body)
