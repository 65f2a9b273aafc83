"""`_cat/nodes`, `_cat/master`, `_cat/health`, `_cat/indices`, `_cat/count`, `_cat/shards`
and `_cat/allocation`, as Elasticsearch 8 renders them (rest/cat.py does the table).

Node rows come from the applied cluster state and each node's own stats (fanned out over
the transport); master and health from this node's view of the cluster; index and shard
rows from the cluster state's metadata and routing table, with the figures of each copy
from the node holding it (action/index_stats.py), so any node answers the same; the
count from a search, as `_count` counts.
"""

from __future__ import annotations

import time
from typing import Any

from ..action.cluster_health import Status
from ..action.cluster_state_action import STATE, ClusterStateRequest, ClusterStateResponse
from ..action.health_action import HEALTH, HealthRequest, HealthResponse
from ..action.index_stats import (
    INDICES_STATS,
    IndexStats,
    IndicesStatsRequest,
    IndicesStatsResponse,
    ShardCopyStats,
)
from ..action.nodes_info import NodesRequest, NodesResponse
from ..action.nodes_stats import NODES_STATS, role_letters
from ..action.resolve import IndicesOptions
from ..action.search_actions import (
    SEARCH,
    CountOptions,
    SearchActionRequest,
    SearchActionResponse,
    body_object,
)
from ..common.errors import IllegalArgument
from ..search.request import QUERY_STRING_PARAMS, parse_count_query
from .cat import CAT_PARAMS, ByteSize, CatTable, Millis, col
from .controller import RestController, RestResponse
from .request import RestRequest

UNIT_PARAMS = ("bytes", "time")
NODE_PARAMS = (*CAT_PARAMS, *UNIT_PARAMS, "full_id", "include_unloaded_segments", "local", "master_timeout")
MASTER_PARAMS = (*CAT_PARAMS, "local", "master_timeout")
HEALTH_PARAMS = (*CAT_PARAMS, "time", "ts", "local", "master_timeout")
COUNT_PARAMS = (*CAT_PARAMS, "ts", *QUERY_STRING_PARAMS)
INDICES_PARAMS = (
    *CAT_PARAMS,
    *UNIT_PARAMS,
    "health",
    "pri",
    "include_unloaded_segments",
    "expand_wildcards",
    "local",
    "master_timeout",
)
SHARDS_PARAMS = (*CAT_PARAMS, *UNIT_PARAMS, "local", "master_timeout")
ALLOCATION_PARAMS = (*CAT_PARAMS, "bytes", "local", "master_timeout")

CAT_ENDPOINTS = (
    "/_cat/aliases",
    "/_cat/aliases/{alias}",
    "/_cat/allocation",
    "/_cat/shards",
    "/_cat/shards/{index}",
    "/_cat/master",
    "/_cat/nodes",
    "/_cat/pending_tasks",
    "/_cat/tasks",
    "/_cat/indices",
    "/_cat/indices/{index}",
    "/_cat/count",
    "/_cat/count/{index}",
    "/_cat/health",
)

NODE_COLUMNS = [
    col("id", "id,nodeId", "unique node id", default=False),
    col("pid", "p", "process id", default=False),
    col("ip", "i", "ip address"),
    col("port", "po", "bound transport port", default=False),
    col("http_address", "http", "bound http address", default=False),
    col("version", "v", "es version", default=False),
    col("disk.total", "dt,diskTotal", "total disk space", default=False, right=True),
    col("disk.used", "du,diskUsed", "used disk space", default=False, right=True),
    col("disk.avail", "d,da,disk,diskAvail", "available disk space", default=False, right=True),
    col("disk.used_percent", "dup,diskUsedPercent", "used disk space percentage", default=False, right=True),
    col("heap.current", "hc,heapCurrent", "used heap", default=False, right=True),
    col("heap.percent", "hp,heapPercent", "used heap ratio", right=True),
    col("heap.max", "hm,heapMax", "max configured heap", default=False, right=True),
    col("ram.current", "rc,ramCurrent", "used machine memory", default=False, right=True),
    col("ram.percent", "rp,ramPercent", "used machine memory ratio", right=True),
    col("ram.max", "rm,ramMax", "total machine memory", default=False, right=True),
    col("file_desc.current", "fdc,fileDescriptorCurrent", "used file descriptors", default=False, right=True),
    col(
        "file_desc.percent",
        "fdp,fileDescriptorPercent",
        "used file descriptor ratio",
        default=False,
        right=True,
    ),
    col("file_desc.max", "fdm,fileDescriptorMax", "max file descriptors", default=False, right=True),
    col("cpu", "", "recent cpu usage", right=True),
    col("load_1m", "", "1m load avg", right=True),
    col("load_5m", "", "5m load avg", right=True),
    col("load_15m", "", "15m load avg", right=True),
    col("uptime", "u", "node uptime", default=False, right=True),
    col(
        "node.role",
        "r,role,nodeRole",
        "m:master eligible node, d:data node, i:ingest node, -:coordinating node only",
    ),
    col("master", "m", "*:current master"),
    col("name", "n", "node name"),
    col(
        "indexing.index_total", "iito,indexingIndexTotal", "number of indexing ops", default=False, right=True
    ),
    col("refresh.total", "rto,refreshTotal", "total refreshes", default=False, right=True),
    col("flush.total", "ft,flushTotal", "number of flushes", default=False, right=True),
    col("search.query_total", "sqto,searchQueryTotal", "total query phase ops", default=False, right=True),
]

MASTER_COLUMNS = [
    col("id", "", "node id"),
    col("host", "h", "host name"),
    col("ip", "", "ip address"),
    col("node", "n", "node name"),
]

HEALTH_COLUMNS = [
    col("epoch", "t,time", "seconds since 1970-01-01 00:00:00"),
    col("timestamp", "ts,hms,hhmmss", "time in HH:MM:SS"),
    col("cluster", "cl", "cluster name"),
    col("status", "st", "health status"),
    col("node.total", "nt,nodeTotal", "total number of nodes", right=True),
    col("node.data", "nd,nodeData", "number of nodes that can store data", right=True),
    col("shards", "t,sh,shards.total,shardsTotal", "total number of shards", right=True),
    col("pri", "p,shards.primary,shardsPrimary", "number of primary shards", right=True),
    col("relo", "r,shards.relocating,shardsRelocating", "number of relocating nodes", right=True),
    col("init", "i,shards.initializing,shardsInitializing", "number of initializing nodes", right=True),
    col("unassign", "u,shards.unassigned,shardsUnassigned", "number of unassigned shards", right=True),
    col(
        "unassign.pri",
        "up,shards.unassigned.primary,shardsUnassignedPrimary",
        "number of unassigned primary shards",
        right=True,
    ),
    col("pending_tasks", "pt,pendingTasks", "number of pending tasks", right=True),
    col("max_task_wait_time", "mtwt,maxTaskWaitTime", "wait time of longest task pending", right=True),
    col("active_shards_percent", "asp,activeShardsPercent", "active number of shards in percent", right=True),
]

COUNT_COLUMNS = [
    col("epoch", "t,time", "seconds since 1970-01-01 00:00:00"),
    col("timestamp", "ts,hms,hhmmss", "time in HH:MM:SS"),
    col("count", "dc,docs.count,docsCount", "the document count"),
]

INDEX_COLUMNS = [
    col("health", "h", "current health status"),
    col("status", "s", "open/close status"),
    col("index", "i,idx", "index name"),
    col("uuid", "id,uuid", "index uuid"),
    col("pri", "p,shards.primary,shardsPrimary", "number of primary shards", right=True),
    col("rep", "r,shards.replica,shardsReplica", "number of replica shards", right=True),
    col("docs.count", "dc,docsCount", "available docs", right=True),
    col("docs.deleted", "dd,docsDeleted", "deleted docs", right=True),
    col("creation.date", "cd", "index creation date (millisecond value)", default=False),
    col("creation.date.string", "cds", "index creation date (as string)", default=False),
    col("store.size", "ss,storeSize", "store size of primaries & replicas", right=True),
    col("pri.store.size", "", "store size of primaries", right=True),
    col("dataset.size", "", "total size of dataset", right=True),
    col(
        "indexing.index_total", "iito,indexingIndexTotal", "number of indexing ops", default=False, right=True
    ),
    col("pri.indexing.index_total", "", "number of indexing ops", default=False, right=True),
    col("refresh.total", "rto,refreshTotal", "total refreshes", default=False, right=True),
    col("pri.refresh.total", "", "total refreshes", default=False, right=True),
    col("flush.total", "ft,flushTotal", "number of flushes", default=False, right=True),
    col("pri.flush.total", "", "number of flushes", default=False, right=True),
    col("search.query_total", "sqto,searchQueryTotal", "total query phase ops", default=False, right=True),
    col("pri.search.query_total", "", "total query phase ops", default=False, right=True),
]

SHARD_COLUMNS = [
    col("index", "i,idx", "index name"),
    col("shard", "s,sh", "shard name"),
    col("prirep", "p,pr,primaryOrReplica", "primary or replica"),
    col("state", "st", "shard state"),
    col("docs", "d,dc", "number of docs in shard", right=True),
    col("store", "sto", "store size of shard (how much disk it uses)", right=True),
    col("dataset", "", "total size of dataset", right=True),
    col("ip", "", "ip of node where it lives"),
    col("id", "", "unique id of node where it lives", default=False),
    col("node", "n", "name of node where it lives"),
    col("sync_id", "", "sync id", default=False),
    col("unassigned.reason", "ur", "reason shard became unassigned", default=False),
    col("unassigned.at", "ua", "time shard became unassigned (UTC)", default=False),
    col("unassigned.for", "uf", "time has been unassigned", default=False),
    col(
        "unassigned.details", "ud", "additional details as to why the shard became unassigned", default=False
    ),
    col("recoverysource.type", "rs", "recovery source type", default=False),
    col(
        "indexing.index_total", "iito,indexingIndexTotal", "number of indexing ops", default=False, right=True
    ),
    col("refresh.total", "rto,refreshTotal", "total refreshes", default=False, right=True),
    col("flush.total", "ft,flushTotal", "number of flushes", default=False, right=True),
    col("search.query_total", "sqto,searchQueryTotal", "total query phase ops", default=False, right=True),
    col("seq_no.max", "sqm,maxSeqNo", "max sequence number", default=False, right=True),
    col("seq_no.local_checkpoint", "sql,localCheckpoint", "local checkpoint", default=False, right=True),
    col("seq_no.global_checkpoint", "sqg,globalCheckpoint", "global checkpoint", default=False, right=True),
    col("path.data", "pd,dataPath", "shard data path", default=False),
    col("path.state", "ps,statsPath", "shard state path", default=False),
]

ALLOCATION_COLUMNS = [
    col("shards", "s", "number of shards on node", right=True),
    col(
        "shards.undesired",
        "",
        "number of shards that are scheduled to be moved elsewhere in the cluster",
        right=True,
    ),
    col("write_load.forecast", "wlf,writeLoadForecast", "sum of index write load forecasts", right=True),
    col("disk.indices.forecast", "dif,diskIndicesForecast", "sum of shard size forecasts", right=True),
    col("disk.indices", "di,diskIndices", "disk used by ES indices", right=True),
    col("disk.used", "du,diskUsed", "disk used (total, not just ES)", right=True),
    col("disk.avail", "da,diskAvail", "disk available", right=True),
    col("disk.total", "dt,diskTotal", "total capacity of all volumes", right=True),
    col("disk.percent", "dp,diskPercent", "percent disk used", right=True),
    col("host", "h", "host of node"),
    col("ip", "", "ip of node"),
    col("node", "n", "name of node"),
    col("node.role", "r,role,nodeRole", "node roles"),
]


def _host(address: str | None) -> str | None:
    return address.rsplit(":", 1)[0].strip("[]") if address else None


def _percent(part: int, whole: int) -> int:
    return round(part * 100 / whole) if whole else 0


class CatHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("GET", "/_cat", self.cat, (), static=True)
        c.register("GET", "/_cat/nodes", self.nodes, NODE_PARAMS, action=NODES_STATS)
        c.register("GET", "/_cat/master", self.master, MASTER_PARAMS, action=STATE)
        c.register("GET", "/_cat/health", self.health, HEALTH_PARAMS, action=HEALTH)
        for path in ("/_cat/indices", "/_cat/indices/{index}"):
            c.register("GET", path, self.indices, INDICES_PARAMS, action=INDICES_STATS)
        for path in ("/_cat/count", "/_cat/count/{index}"):
            c.register("GET", path, self.count, COUNT_PARAMS, action=SEARCH)
        for path in ("/_cat/shards", "/_cat/shards/{index}"):
            c.register("GET", path, self.shards, SHARDS_PARAMS, action=INDICES_STATS)
        for path in ("/_cat/allocation", "/_cat/allocation/{node_id}"):
            c.register("GET", path, self.allocation, ALLOCATION_PARAMS, action=NODES_STATS)

    async def cat(self, request: RestRequest) -> RestResponse:
        return RestResponse(
            200,
            "=^.^=\n" + "".join(f"{p}\n" for p in CAT_ENDPOINTS),
            content_type="text/plain; charset=UTF-8",
        )

    # -- nodes ------------------------------------------------------------------------------

    async def _local_state(self) -> dict[str, Any]:
        """This node's view of the master and the nodes, without waiting for a master."""
        response: ClusterStateResponse = await self.node.client.execute(
            STATE, ClusterStateRequest(metrics=("master_node", "nodes"), local=True))
        return response.body

    async def _nodes_stats(self, metrics: list[str], node_ids: list[str] | None = None) -> dict[str, Any]:
        response: NodesResponse = await self.node.client.execute(
            NODES_STATS, NodesRequest(node_ids=node_ids or [], metrics=metrics))
        return response.nodes

    async def nodes(self, request: RestRequest) -> RestResponse:
        full_id = request.bool_param("full_id")
        request.bool_param("local")
        request.time_param("master_timeout", 30.0)
        stats = await self._nodes_stats(["os", "process", "jvm", "fs", "indices"])
        state = await self._local_state()
        master, details = state["master_node"], state["nodes"]
        table = CatTable(NODE_COLUMNS)
        for node_id, s in stats.items():
            extra = s.get("strata", {})
            jvm, os_, process = s["jvm"]["mem"], s["os"], s["process"]
            fs = s["fs"]["total"]
            indices = s["indices"]
            transport = s.get("transport_address") or details.get(node_id, {}).get("transport_address", "")
            used_disk = fs["total_in_bytes"] - fs["available_in_bytes"]
            fds, max_fds = process["open_file_descriptors"], process["max_file_descriptors"]
            load = os_["cpu"]["load_average"]
            table.add(
                {
                    "id": node_id if full_id else node_id[:4],
                    "pid": extra.get("pid"),
                    "ip": _host(transport),
                    "port": transport.rsplit(":", 1)[1] if ":" in transport else None,
                    "http_address": extra.get("http_address") or None,
                    "version": extra.get("version"),
                    "disk.total": ByteSize(fs["total_in_bytes"]),
                    "disk.used": ByteSize(used_disk),
                    "disk.avail": ByteSize(fs["available_in_bytes"]),
                    "disk.used_percent": f"{used_disk * 100 / fs['total_in_bytes']:.2f}"
                    if fs["total_in_bytes"]
                    else None,
                    "heap.current": ByteSize(jvm["heap_used_in_bytes"]),
                    "heap.percent": jvm["heap_used_percent"],
                    "heap.max": ByteSize(jvm["heap_max_in_bytes"]),
                    "ram.current": ByteSize(os_["mem"]["used_in_bytes"]),
                    "ram.percent": os_["mem"]["used_percent"],
                    "ram.max": ByteSize(os_["mem"]["total_in_bytes"]),
                    "file_desc.current": fds,
                    "file_desc.percent": _percent(fds, max_fds),
                    "file_desc.max": max_fds,
                    "cpu": process["cpu"]["percent"],
                    "load_1m": _load(load.get("1m")),
                    "load_5m": _load(load.get("5m")),
                    "load_15m": _load(load.get("15m")),
                    "uptime": Millis(extra.get("uptime_in_millis", 0)),
                    "node.role": role_letters(s.get("roles", ())),
                    "master": "*" if master == node_id else "-",
                    "name": s.get("name"),
                    "indexing.index_total": indices["indexing"]["index_total"],
                    "refresh.total": indices["refresh"]["total"],
                    "flush.total": indices["flush"]["total"],
                    "search.query_total": indices["search"]["query_total"],
                }
            )
        return table.response(request)

    async def master(self, request: RestRequest) -> RestResponse:
        """This node's view of the elected master (`-` in every column while it knows
        none), without waiting for one."""
        request.bool_param("local")
        request.time_param("master_timeout", 30.0)
        state = await self._local_state()
        master = state["nodes"].get(state["master_node"]) if state["master_node"] is not None else None
        table = CatTable(MASTER_COLUMNS)
        if master is None:
            table.add({"id": "-", "host": "-", "ip": "-", "node": "-"})
        else:
            host = _host(master["transport_address"])
            table.add({"id": state["master_node"], "host": host, "ip": host, "node": master["name"]})
        return table.response(request)

    # -- health -----------------------------------------------------------------------------

    async def health(self, request: RestRequest) -> RestResponse:
        with_timestamps = request.bool_param("ts", True)
        health = await self._health(request.bool_param("local"), request.time_param("master_timeout", 30.0))
        now = time.time()
        table = CatTable(HEALTH_COLUMNS)
        table.add(
            {
                "epoch": int(now),
                "timestamp": time.strftime("%H:%M:%S", time.gmtime(now)),
                "cluster": self.node.cluster_name,
                "status": health["status"],
                "node.total": health["number_of_nodes"],
                "node.data": health["number_of_data_nodes"],
                "shards": health["active_shards"],
                "pri": health["active_primary_shards"],
                "relo": health["relocating_shards"],
                "init": health["initializing_shards"],
                "unassign": health["unassigned_shards"],
                "unassign.pri": health["unassigned_primary_shards"],
                "pending_tasks": health["number_of_pending_tasks"],
                # RestHealthAction: a dash while nothing waits
                "max_task_wait_time": Millis(health["task_max_waiting_in_queue_millis"])
                if health["task_max_waiting_in_queue_millis"] else "-",
                "active_shards_percent": f"{health['active_shards_percent_as_number']:.1f}%",
            }
        )
        return table.response(request, with_timestamps=with_timestamps)

    async def _health(self, local: bool, master_timeout: float) -> dict[str, Any]:
        """The cluster's health, every index counted, without waiting for any condition: as
        the master has it (with its pending tasks) unless `local`."""
        request = HealthRequest(local=local, timeout=0.0, master_timeout=master_timeout)
        response: HealthResponse = await self.node.client.execute(HEALTH, request)
        return response.body

    # -- count ------------------------------------------------------------------------------

    async def count(self, request: RestRequest) -> RestResponse:
        """One row: how many documents a search of `{index}` (every index when absent) finds,
        counted exactly, as RestCountAction counts them with a size-0 search tracking total
        hits; the query is the body's or `q`'s, read as `_count` reads it, and the index
        options are a search's defaults. The time is taken once the count is known."""
        with_timestamps = request.bool_param("ts", True)
        query = parse_count_query(body_object(request.body), request.params)
        response: SearchActionResponse = await self.node.client.execute(SEARCH, SearchActionRequest(
            index=request.param("index"), options={}, body=request.body, params=dict(request.params),
            local_parsed=query, count=CountOptions()))
        now = time.time()
        table = CatTable(COUNT_COLUMNS)
        table.add({"epoch": int(now), "timestamp": time.strftime("%H:%M:%S", time.gmtime(now)),
                   "count": response.body["count"]})
        return table.response(request, with_timestamps=with_timestamps)

    # -- indices and shards -------------------------------------------------------------------

    async def _stats(self, request: RestRequest, default_expand: str) -> list[IndexStats]:
        options = IndicesOptions(expand_wildcards=request.expand_wildcards_param(default_expand))
        stats = IndicesStatsRequest(expression=request.param("index"), options=options)
        response: IndicesStatsResponse = await self.node.client.execute(INDICES_STATS, stats)
        return response.indices

    async def indices(self, request: RestRequest) -> RestResponse:
        """One row per index: health from the routing table, figures summed over the copies
        that answered (docs from primaries, as Elasticsearch counts them); an index none of
        whose copies answered shows no figures."""
        wanted_health = request.param("health")
        if wanted_health is not None and wanted_health.upper() not in Status.__members__:
            raise IllegalArgument(f"unknown health status [{wanted_health}]")
        request.bool_param("pri")
        request.bool_param("local")
        request.time_param("master_timeout", 30.0)
        table = CatTable(INDEX_COLUMNS)
        for index in await self._stats(request, "open,closed"):  # IndicesOptions.strictExpand: no hidden
            if wanted_health is not None and index.health != wanted_health.lower():
                continue
            md, name = index.metadata, index.metadata.name
            answered = [(copy.routing, copy.figures) for copy in index.copies if copy.figures is not None]
            primaries = [f for copy, f in answered if copy.primary]
            every = [f for _, f in answered]
            created = md.settings.get("index.creation_date")
            created_ms = int(created) if created and str(created).isdigit() else None
            row = {
                "health": index.health,
                "status": md.state,
                "index": name,
                "uuid": md.uuid,
                "pri": md.number_of_shards,
                "rep": md.number_of_replicas,
                "creation.date": created_ms,
                "creation.date.string": _iso(created_ms),
            }
            if every and not md.closed:  # a closed index shows no figures, as in ES
                size = ByteSize(_sum(every, "store_bytes"))
                pri_size = ByteSize(_sum(primaries, "store_bytes"))
                row.update({
                    "docs.count": sum(f.docs or 0 for f in primaries),
                    "docs.deleted": 0,
                    "store.size": size,
                    "pri.store.size": pri_size,
                    "dataset.size": size,
                    "indexing.index_total": _sum(every, "index_total"),
                    "pri.indexing.index_total": _sum(primaries, "index_total"),
                    "refresh.total": _sum(every, "refresh_total"),
                    "pri.refresh.total": _sum(primaries, "refresh_total"),
                    "flush.total": _sum(every, "flush_total"),
                    "pri.flush.total": _sum(primaries, "flush_total"),
                    "search.query_total": 0,
                    "pri.search.query_total": 0,
                })
            table.add(row)
        return table.response(request)

    async def shards(self, request: RestRequest) -> RestResponse:
        """Every copy of the routing table, unassigned ones too; the figures of an assigned
        copy come from its node (none when that node did not answer)."""
        request.bool_param("local")
        request.time_param("master_timeout", 30.0)
        table = CatTable(SHARD_COLUMNS)
        for index in await self._stats(request, "all"):
            md, name = index.metadata, index.metadata.name
            created = md.settings.get("index.creation_date")
            created_at = _iso(int(created)) if created and str(created).isdigit() else None
            for entry in sorted(index.copies, key=lambda c: (c.routing.shard, not c.routing.primary)):
                copy = entry.routing
                row: dict[str, Any] = {
                    "index": name,
                    "shard": copy.shard,
                    "prirep": "p" if copy.primary else "r",
                    "state": copy.state,
                }
                if copy.state != "STARTED":
                    existing = copy.primary and (md.in_sync(copy.shard) or copy.last_allocation_id)
                    row["recoverysource.type"] = ("PEER" if not copy.primary
                                                  else "EXISTING_STORE" if existing else "EMPTY_STORE")
                if copy.node is None:
                    row.update({
                        "unassigned.reason": copy.unassigned_reason,
                        "unassigned.at": created_at if copy.unassigned_reason == "INDEX_CREATED" else None,
                        "unassigned.details": copy.unassigned_details,
                    })
                    table.add(row)
                    continue
                row.update({"ip": _host(entry.node_address), "id": copy.node, "node": entry.node_name})
                f = entry.figures
                if f is not None:
                    size = ByteSize(f.store_bytes)
                    row.update({
                        "docs": f.docs,
                        "store": size,
                        "dataset": size,
                        "indexing.index_total": f.figures.get("index_total"),
                        "refresh.total": f.figures.get("refresh_total"),
                        "flush.total": f.figures.get("flush_total"),
                        "search.query_total": f.figures.get("query_total"),
                        "seq_no.max": f.max_seq_no,
                        "seq_no.local_checkpoint": f.local_checkpoint,
                        "seq_no.global_checkpoint": f.global_checkpoint,
                        "path.data": f.path,
                        "path.state": f.path,
                    })
                table.add(row)
        return table.response(request)

    # -- allocation -----------------------------------------------------------------------------

    async def allocation(self, request: RestRequest) -> RestResponse:
        request.bool_param("local")
        request.time_param("master_timeout", 30.0)
        wanted = request.list_param("node_id")
        stats = await self._nodes_stats(["fs", "indices"], wanted)
        table = CatTable(ALLOCATION_COLUMNS)
        for _node_id, s in stats.items():
            roles = s.get("roles", ())
            if not any(r.startswith("data") for r in roles):
                continue
            fs = s["fs"]["total"]
            indices = s["indices"]
            used = fs["total_in_bytes"] - fs["available_in_bytes"]
            host = _host(s.get("transport_address"))
            table.add(
                {
                    "shards": indices["shard_stats"]["total_count"],
                    "shards.undesired": 0,
                    "write_load.forecast": 0.0,
                    "disk.indices.forecast": ByteSize(indices["store"]["size_in_bytes"]),
                    "disk.indices": ByteSize(indices["store"]["size_in_bytes"]),
                    "disk.used": ByteSize(used),
                    "disk.avail": ByteSize(fs["available_in_bytes"]),
                    "disk.total": ByteSize(fs["total_in_bytes"]),
                    "disk.percent": _percent(used, fs["total_in_bytes"]),
                    "host": host,
                    "ip": host,
                    "node": s.get("name"),
                    "node.role": role_letters(roles),
                }
            )
        unassigned = (await self._health(True, 30.0))["unassigned_shards"]
        if unassigned and not wanted:
            table.add({"shards": unassigned, "node": "UNASSIGNED"})
        return table.response(request)


def _load(value: float | None) -> str | None:
    if value is None or value < 0:
        return None
    return f"{value:.2f}"


def _sum(figures: list[ShardCopyStats], name: str) -> int:
    return sum(f.figures.get(name) or 0 for f in figures)


def _iso(millis: int | None) -> str | None:
    if millis is None:
        return None
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"
