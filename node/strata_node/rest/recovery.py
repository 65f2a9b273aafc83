"""`GET /_recovery`, `/{index}/_recovery` and `_cat/recovery`: how each copy came to be
where it is, gathered from every node (`indices:monitor/recovery[n]`), in Elasticsearch's
shapes. A file-based recovery's LevelDB files show in the `index` section's files and
bytes."""

from __future__ import annotations

from typing import Any

from ..action.recovery_action import RECOVERY, RecoveryRequest, RecoveryResponse
from .cat import CAT_PARAMS, ByteSize, CatTable, Millis, col
from .controller import RestController, RestResponse
from .indices import indices_options
from .request import RestRequest

RESOLVE_PARAMS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards")
PARAMS = (*RESOLVE_PARAMS, "active_only", "detailed")
CAT_RECOVERY_PARAMS = (*CAT_PARAMS, "active_only", "detailed", "bytes", "time", "index")

COLUMNS = [
    col("index", "i,idx", "index name"),
    col("shard", "s,sh", "shard name", right=True),
    col("start_time", "start", "recovery start time", default=False),
    col("start_time_millis", "start_millis", "recovery start time in epoch milliseconds", default=False),
    col("stop_time", "stop", "recovery stop time", default=False),
    col("stop_time_millis", "stop_millis", "recovery stop time in epoch milliseconds", default=False),
    col("time", "t,ti", "recovery time", right=True),
    col("type", "ty", "recovery type"),
    col("stage", "st", "recovery stage"),
    col("source_host", "shost", "source host"),
    col("source_node", "snode", "source node name"),
    col("target_host", "thost", "target host"),
    col("target_node", "tnode", "target node name"),
    col("repository", "rep", "repository"),
    col("snapshot", "snap", "snapshot"),
    col("files", "f", "number of files to recover", right=True),
    col("files_recovered", "fr", "files recovered", right=True),
    col("files_percent", "fp", "percent of files recovered", right=True),
    col("files_total", "tf", "total number of files", right=True),
    col("bytes", "b", "number of bytes to recover", right=True),
    col("bytes_recovered", "br", "bytes recovered", right=True),
    col("bytes_percent", "bp", "percent of bytes recovered", right=True),
    col("bytes_total", "tb", "total number of bytes", right=True),
    col("translog_ops", "to", "number of translog ops to recover", right=True),
    col("translog_ops_recovered", "tor", "translog ops recovered", right=True),
    col("translog_ops_percent", "top", "percent of translog ops recovered", right=True),
]


class RecoveryHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("GET", "/_recovery", self.recovery, PARAMS, action=RECOVERY)
        c.register("GET", "/{index}/_recovery", self.recovery, PARAMS, action=RECOVERY)
        c.register("GET", "/_cat/recovery", self.cat, CAT_RECOVERY_PARAMS,
                   action=RECOVERY)
        c.register("GET", "/_cat/recovery/{index}", self.cat, CAT_RECOVERY_PARAMS,
                   action=RECOVERY)

    async def _gather(self, request: RestRequest) -> RecoveryResponse:
        request.bool_param("detailed")
        return await self.node.client.execute(RECOVERY, RecoveryRequest(
            expression=request.param("index"), options=indices_options(request),
            active_only=request.bool_param("active_only")))

    async def recovery(self, request: RestRequest) -> RestResponse:
        body: dict[str, Any] = {}
        response = await self._gather(request)
        for entry in response.recoveries:
            shard = {"id": entry["id"], "type": entry["type"], "stage": entry["stage"],
                     "primary": entry["primary"], "start_time_in_millis": entry["start_time_in_millis"],
                     "stop_time_in_millis": entry["stop_time_in_millis"],
                     "total_time_in_millis": entry["total_time_in_millis"]}
            if entry["type"] == "PEER":
                shard["source"] = response.nodes.get(entry["source_node"], {"id": entry["source_node"]})
            elif entry["type"] == "SNAPSHOT":
                shard["source"] = entry["source"]
            shard["target"] = response.nodes.get(entry["target_node"], {"id": entry["target_node"]})
            store = entry.get("store", {})
            total, recovered = store.get("total_in_bytes", 0), store.get("recovered_in_bytes", 0)
            reused = store.get("reused_in_bytes", 0)
            size = {"total_in_bytes": total + reused, "reused_in_bytes": reused,
                    "recovered_in_bytes": recovered, "percent": _percent(recovered, total)}
            files = entry.get("files", {})
            files_total, files_recovered = files.get("total", 0), files.get("recovered", 0)
            shard["index"] = {"size": size,
                              "files": {"total": files_total, "reused": files.get("reused", 0),
                                        "recovered": files_recovered,
                                        "percent": _percent(files_recovered, files_total)},
                              "total_time_in_millis": entry.get("index_time_in_millis", 0),
                              "source_throttle_time_in_millis":
                                  entry.get("source_throttle_time_in_millis", 0),
                              "target_throttle_time_in_millis":
                                  entry.get("target_throttle_time_in_millis", 0)}
            shard["translog"] = entry["translog"]
            shard["verify_index"] = {"check_index_time_in_millis": 0, "total_time_in_millis": 0}
            body.setdefault(entry["index"], {"shards": []})["shards"].append(shard)
        return RestResponse(200, body)

    async def cat(self, request: RestRequest) -> RestResponse:
        table = CatTable(COLUMNS)
        response = await self._gather(request)
        for entry in response.recoveries:
            source = response.nodes.get(entry["source_node"], {}) if entry["type"] == "PEER" else {}
            target = response.nodes.get(entry["target_node"], {})
            translog = entry["translog"]
            store = entry.get("store", {})
            store_total, store_recovered = store.get("total_in_bytes", 0), store.get("recovered_in_bytes", 0)
            files = entry.get("files", {})
            files_total, files_recovered = files.get("total", 0), files.get("recovered", 0)
            table.add({
                "index": entry["index"], "shard": entry["id"],
                "start_time": entry["start_time_in_millis"],
                "start_time_millis": entry["start_time_in_millis"],
                "stop_time": entry["stop_time_in_millis"], "stop_time_millis": entry["stop_time_in_millis"],
                "time": Millis(entry["total_time_in_millis"]), "type": entry["type"].lower(),
                "stage": entry["stage"].lower(), "source_host": source.get("host", "n/a"),
                "source_node": source.get("name", "n/a"), "target_host": target.get("host"),
                "target_node": target.get("name"),
                "repository": entry.get("source", {}).get("repository", "n/a"),
                "snapshot": entry.get("source", {}).get("snapshot", "n/a"),
                "files": files_total, "files_recovered": files_recovered,
                "files_percent": _percent(files_recovered, files_total), "files_total": files_total,
                "bytes": ByteSize(store_total), "bytes_recovered": ByteSize(store_recovered),
                "bytes_percent": _percent(store_recovered, store_total),
                "bytes_total": ByteSize(store_total), "translog_ops": translog["total"],
                "translog_ops_recovered": translog["recovered"], "translog_ops_percent": translog["percent"],
            })
        return table.response(request)


def _percent(done: int, total: int) -> str:
    return f"{100.0 * done / total:.1f}%" if total else "0.0%"
