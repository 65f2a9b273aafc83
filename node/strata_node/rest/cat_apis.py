"""`_cat/nodes`, `_cat/master`, `_cat/health`, `_cat/indices`, `_cat/shards` and
`_cat/allocation`, as Elasticsearch 8 renders them (rest/cat.py does the table).

Node rows come from the applied cluster state and each node's own stats (fanned out over
the transport); master and health from this node's view of the cluster; index and shard
rows from the cluster state's metadata and routing table, with the figures of each copy
from the node holding it (action/index_stats.py), so any node answers the same.
"""

from __future__ import annotations

import time
from typing import Any

from ..action.cluster_health import ClusterHealth, Status, index_health, index_views
from ..action.health_action import node_counts
from ..action.index_stats import ShardCopyStats, gather_copies
from ..action.nodes_stats import gather, role_letters
from ..common.errors import IllegalArgument
from .cat import CAT_PARAMS, ByteSize, CatTable, Millis, col
from .controller import RestController, RestResponse
from .request import RestRequest

UNIT_PARAMS = ("bytes", "time")
NODE_PARAMS = (*CAT_PARAMS, *UNIT_PARAMS, "full_id", "include_unloaded_segments", "local", "master_timeout")
MASTER_PARAMS = (*CAT_PARAMS, "local", "master_timeout")
HEALTH_PARAMS = (*CAT_PARAMS, "time", "ts", "local", "master_timeout")
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
    "/_cat/tasks",
    "/_cat/indices",
    "/_cat/indices/{index}",
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
        c.register("GET", "/_cat", self.cat, (), rest_task="rest:GET /_cat")
        c.register("GET", "/_cat/nodes", self.nodes, NODE_PARAMS, rest_task="cluster:monitor/nodes/stats")
        c.register("GET", "/_cat/master", self.master, MASTER_PARAMS, rest_task="cluster:monitor/state")
        c.register("GET", "/_cat/health", self.health, HEALTH_PARAMS, rest_task="cluster:monitor/health")
        for path in ("/_cat/indices", "/_cat/indices/{index}"):
            c.register("GET", path, self.indices, INDICES_PARAMS, rest_task="indices:monitor/stats")
        for path in ("/_cat/shards", "/_cat/shards/{index}"):
            c.register("GET", path, self.shards, SHARDS_PARAMS, rest_task="indices:monitor/stats")
        for path in ("/_cat/allocation", "/_cat/allocation/{node_id}"):
            c.register("GET", path, self.allocation, ALLOCATION_PARAMS,
                       rest_task="cluster:monitor/nodes/stats")

    async def cat(self, request: RestRequest) -> RestResponse:
        return RestResponse(
            200,
            "=^.^=\n" + "".join(f"{p}\n" for p in CAT_ENDPOINTS),
            content_type="text/plain; charset=UTF-8",
        )

    # -- nodes ------------------------------------------------------------------------------

    def _details(self) -> dict[str, Any]:
        coordination = self.node.coordination
        state = coordination.applied_state if coordination is not None else None
        return dict(state.node_details) if state is not None else {}

    async def nodes(self, request: RestRequest) -> RestResponse:
        full_id = request.bool_param("full_id")
        request.bool_param("local")
        request.time_param("master_timeout", 30.0)
        stats, _ = await gather(
            self.node, self.node.cluster_nodes(), ["os", "process", "jvm", "fs", "indices"]
        )
        master = self.node.coordination.master_node if self.node.coordination is not None else None
        details = self._details()
        table = CatTable(NODE_COLUMNS)
        for node_id, s in stats.items():
            extra = s.get("strata", {})
            jvm, os_, process = s["jvm"]["mem"], s["os"], s["process"]
            fs = s["fs"]["total"]
            indices = s["indices"]
            transport = s.get("transport_address") or (
                details[node_id].transport_address if node_id in details else ""
            )
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
                    "master": "*" if master is not None and master.id == node_id else "-",
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
        master = self.node.coordination.master_node if self.node.coordination is not None else None
        table = CatTable(MASTER_COLUMNS)
        if master is None:
            table.add({"id": "-", "host": "-", "ip": "-", "node": "-"})
        else:
            host = _host(master.transport_address)
            table.add({"id": master.id, "host": host, "ip": host, "node": master.name})
        return table.response(request)

    # -- health -----------------------------------------------------------------------------

    async def health(self, request: RestRequest) -> RestResponse:
        with_timestamps = request.bool_param("ts", True)
        request.bool_param("local")
        request.time_param("master_timeout", 30.0)
        views = index_views(self.node)
        health = ClusterHealth.of(views, views)
        counts = health.counts
        nodes, data_nodes = node_counts(self.node)
        now = time.time()
        table = CatTable(HEALTH_COLUMNS)
        table.add(
            {
                "epoch": int(now),
                "timestamp": time.strftime("%H:%M:%S", time.gmtime(now)),
                "cluster": self.node.cluster_name,
                "status": counts.status.text,
                "node.total": nodes,
                "node.data": data_nodes,
                "shards": counts.active,
                "pri": counts.active_primary,
                "relo": 0,
                "init": counts.initializing,
                "unassign": counts.unassigned,
                "unassign.pri": counts.unassigned_primary,
                "pending_tasks": 0,
                "max_task_wait_time": "-",
                "active_shards_percent": f"{health.active_shards_percent:.1f}%",
            }
        )
        return table.response(request, with_timestamps=with_timestamps)

    # -- indices and shards -------------------------------------------------------------------

    def _resolve(self, request: RestRequest, default_expand: str) -> list[str]:
        return self.node.indices.resolve(
            request.param("index"),
            ignore_unavailable=False,
            allow_no_indices=True,
            expand_wildcards=request.expand_wildcards_param(default_expand),
        )

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
        names = self._resolve(request, "open,closed")  # IndicesOptions.strictExpand: no hidden ones
        content = self.node.coordination.content
        figures = await gather_copies(self.node, names)
        table = CatTable(INDEX_COLUMNS)
        views = {v.name: v for v in index_views(self.node, names)}
        for name in names:
            view = views.get(name)
            if view is None:  # deleted while the figures were gathered
                continue
            health = index_health(view)
            if wanted_health is not None and health.counts.status.text != wanted_health.lower():
                continue
            md = view.metadata
            answered = [(copy, figures.of(md.uuid, copy.shard, copy.node))
                        for copy in content.routing_table.indices.get(name, ())]
            answered = [(copy, f) for copy, f in answered if f is not None]
            primaries = [f for copy, f in answered if copy.primary]
            every = [f for _, f in answered]
            created = md.settings.get("index.creation_date")
            created_ms = int(created) if created and str(created).isdigit() else None
            row = {
                "health": health.counts.status.text,
                "status": md.state,
                "index": name,
                "uuid": md.uuid,
                "pri": md.number_of_shards,
                "rep": md.number_of_replicas,
                "creation.date": created_ms,
                "creation.date.string": _iso(created_ms),
            }
            if every:
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
        names = self._resolve(request, "all")
        figures = await gather_copies(self.node, names)
        content = self.node.coordination.content
        details = self._details()
        table = CatTable(SHARD_COLUMNS)
        for name in names:
            md = content.metadata.indices.get(name)
            if md is None:
                continue
            created = md.settings.get("index.creation_date")
            created_at = _iso(int(created)) if created and str(created).isdigit() else None
            for copy in sorted(content.routing_table.indices.get(name, ()),
                               key=lambda c: (c.shard, not c.primary)):
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
                holder = details.get(copy.node)
                host = _host(holder.transport_address if holder is not None else None)
                row.update({"ip": host, "id": copy.node, "node": holder.name if holder is not None else None})
                f = figures.of(md.uuid, copy.shard, copy.node)
                if f is not None:
                    size = ByteSize(f.store_bytes)
                    row.update({
                        "docs": f.docs,
                        "store": size,
                        "dataset": size,
                        "indexing.index_total": f.index_total,
                        "refresh.total": f.refresh_total,
                        "flush.total": f.flush_total,
                        "search.query_total": 0,
                        "seq_no.max": f.max_seq_no,
                        "seq_no.local_checkpoint": f.local_checkpoint,
                        "seq_no.global_checkpoint": f.local_checkpoint,
                        "path.data": f.path,
                        "path.state": f.path,
                    })
                table.add(row)
        return table.response(request)

    # -- allocation -----------------------------------------------------------------------------

    async def allocation(self, request: RestRequest) -> RestResponse:
        request.bool_param("local")
        request.time_param("master_timeout", 30.0)
        targets = self.node.cluster_nodes()
        wanted = request.list_param("node_id")
        if wanted and "_all" not in wanted:
            details = self._details()
            targets = {
                n: a
                for n, a in targets.items()
                if n in wanted
                or (details[n].name if n in details else (self.node.name if n == self.node.node_id else None))
                in wanted
                or ("_local" in wanted and a is None)
            }
        stats, _ = await gather(self.node, targets, ["fs", "indices"])
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
        unassigned = sum(index_health(v).counts.unassigned for v in index_views(self.node))
        if unassigned and not wanted:
            table.add({"shards": unassigned, "node": "UNASSIGNED"})
        return table.response(request)


def _load(value: float | None) -> str | None:
    if value is None or value < 0:
        return None
    return f"{value:.2f}"


def _sum(figures: list[ShardCopyStats], name: str) -> int:
    return sum(getattr(f, name) for f in figures)


def _iso(millis: int | None) -> str | None:
    if millis is None:
        return None
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"
