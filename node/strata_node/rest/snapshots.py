"""`/_snapshot`: repositories, snapshots, their status and restores (the work is in
snapshots/); `_cat/repositories` and `_cat/snapshots`."""

from __future__ import annotations

import time

import orjson

from ..action.index_admin import AppliedVersion
from ..common.errors import ActionRequestValidation, ParseError, StrataError
from ..snapshots import repository
from ..snapshots import service as snapshots
from ..transport.service import RemoteTransportError
from .cat import CAT_PARAMS, CatTable, Millis, col
from .controller import RestController, RestResponse
from .request import RestRequest

MASTER = ("master_timeout",)
SORTS = {"start_time": lambda s: (s["start_time_in_millis"], s["snapshot"]),
         "name": lambda s: s["snapshot"],
         "duration": lambda s: (s.get("duration_in_millis", 0), s["snapshot"]),
         "index_count": lambda s: (len(s["indices"]), s["snapshot"]),
         "shard_count": lambda s: (s["shards"]["total"], s["snapshot"]),
         "failed_shard_count": lambda s: (s["shards"]["failed"], s["snapshot"]),
         "repository": lambda s: (s["repository"], s["snapshot"])}

# RestRepositoriesAction's and RestSnapshotAction's columns.
REPOSITORY_COLUMNS = [col("id", "repoId", "unique repository id"), col("type", "t", "repository type")]
SNAPSHOT_COLUMNS = [
    col("id", "snapshot", "unique snapshot"),
    col("repository", "re,repo", "repository name"),
    col("status", "s", "snapshot name"),
    col("start_epoch", "ste,startEpoch", "start time in seconds since 1970-01-01 00:00:00", right=True),
    col("start_time", "sti,startTime", "start time in HH:MM:SS"),
    col("end_epoch", "ete,endEpoch", "end time in seconds since 1970-01-01 00:00:00", right=True),
    col("end_time", "eti,endTime", "end time in HH:MM:SS"),
    col("duration", "dur", "duration", right=True),
    col("indices", "i", "number of indices", right=True),
    col("successful_shards", "ss", "number of successful shards", right=True),
    col("failed_shards", "fs", "number of failed shards", right=True),
    col("total_shards", "ts", "number of total shards", right=True),
    col("reason", "r", "reason for failures", default=False),
]


class RepositoriesFailed(StrataError):
    """`_cat/snapshots` when some repository could not be read: a table cannot say which
    rows are missing, so the request fails (RestSnapshotAction), caused by the first failure."""

    wraps_root_cause = True

    def __init__(self, failures: dict[str, dict]):
        names = sorted(failures)
        super().__init__(f"Repositories [{','.join(names)}] failed to retrieve snapshots",
                         caused_by=RemoteTransportError(failures[names[0]]))


class SnapshotHandlers:
    def __init__(self, node):
        self.node = node

    @property
    def service(self) -> snapshots.SnapshotsService:
        return self.node.snapshots

    def register(self, c: RestController) -> None:
        for method in ("PUT", "POST"):
            c.register(method, "/_snapshot/{repository}", self.put_repository, (*MASTER, "timeout", "verify"),
                       action=snapshots.PUT_REPOSITORY)
            c.register(method, "/_snapshot/{repository}/{snapshot}", self.create,
                       (*MASTER, "wait_for_completion"), action=snapshots.CREATE)
        for path in ("/_snapshot", "/_snapshot/{repository}"):
            c.register("GET", path, self.get_repositories, (*MASTER, "local"),
                       action=snapshots.GET_REPOSITORIES)
        c.register("DELETE", "/_snapshot/{repository}", self.delete_repository, (*MASTER, "timeout"),
                   action=snapshots.DELETE_REPOSITORY)
        c.register("POST", "/_snapshot/{repository}/_verify", self.verify, (*MASTER, "timeout"),
                   action=snapshots.VERIFY_REPOSITORY)
        c.register("POST", "/_snapshot/{repository}/_cleanup", self.cleanup, (*MASTER, "timeout"),
                   action=snapshots.CLEANUP_REPOSITORY)
        c.register("GET", "/_snapshot/{repository}/{snapshot}", self.get_snapshots,
                   (*MASTER, "ignore_unavailable", "verbose", "sort", "order", "size", "offset",
                    "index_details", "include_repository"), action=snapshots.GET)
        c.register("DELETE", "/_snapshot/{repository}/{snapshot}", self.delete,
                   (*MASTER, "wait_for_completion"), action=snapshots.DELETE)
        c.register("POST", "/_snapshot/{repository}/{snapshot}/_restore", self.restore,
                   (*MASTER, "wait_for_completion"), action=snapshots.RESTORE)
        for path in ("/_snapshot/_status", "/_snapshot/{repository}/_status",
                     "/_snapshot/{repository}/{snapshot}/_status"):
            c.register("GET", path, self.status, (*MASTER, "ignore_unavailable"), action=snapshots.STATUS)
        c.register("GET", "/_cat/repositories", self.cat_repositories, (*CAT_PARAMS, *MASTER, "local"),
                   action=snapshots.GET_REPOSITORIES)
        for path in ("/_cat/snapshots", "/_cat/snapshots/{repository}"):
            c.register("GET", path, self.cat_snapshots, (*CAT_PARAMS, *MASTER, "ignore_unavailable", "time"),
                       action=snapshots.GET)

    # -- repositories -----------------------------------------------------------------------------

    async def put_repository(self, request: RestRequest) -> RestResponse:
        name = request.param("repository")
        body = request.json_body(required=True)  # parsed on the REST layer, before the master sees the name
        repository.validate_name(name)
        definition = repository.parse_definition(name, body)
        applied: AppliedVersion = await self.node.client.execute(
            snapshots.PUT_REPOSITORY, snapshots.PutRepositoryRequest(
                name=name, definition=orjson.dumps(definition), verify=request.bool_param("verify", True),
                master_timeout=request.time_param("master_timeout", 30.0),
                ack_timeout=request.time_param("timeout", 30.0)))
        return RestResponse(200, {"acknowledged": applied.acknowledged})

    async def get_repositories(self, request: RestRequest) -> RestResponse:
        request.bool_param("local")
        response: snapshots.ReadResponse = await self.node.client.execute(
            snapshots.GET_REPOSITORIES, snapshots.GetRepositoriesRequest(
                names=request.param("repository"), master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, orjson.loads(response.body))

    async def delete_repository(self, request: RestRequest) -> RestResponse:
        names = request.list_param("repository")
        applied: AppliedVersion = await self.node.client.execute(
            snapshots.DELETE_REPOSITORY, snapshots.DeleteRepositoryRequest(
                names=names, master_timeout=request.time_param("master_timeout", 30.0),
                ack_timeout=request.time_param("timeout", 30.0)))
        return RestResponse(200, {"acknowledged": applied.acknowledged})

    async def verify(self, request: RestRequest) -> RestResponse:
        response: snapshots.VerifyResponse = await self.node.client.execute(
            snapshots.VERIFY_REPOSITORY, snapshots.VerifyRepositoryRequest(
                name=request.param("repository"), master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, {"nodes": {nid: {"name": name}
                                            for nid, name in sorted(response.nodes.items())}})

    async def cleanup(self, request: RestRequest) -> RestResponse:
        response: snapshots.CleanupResponse = await self.node.client.execute(
            snapshots.CLEANUP_REPOSITORY, snapshots.CleanupRepositoryRequest(
                name=request.param("repository"), master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, {"results": {"deleted_bytes": response.deleted_bytes,
                                              "deleted_blobs": response.deleted_blobs}})

    # -- snapshots ---------------------------------------------------------------------------------

    async def create(self, request: RestRequest) -> RestResponse:
        body = request.json_body() if request.has_body else {}
        snapshots.check_keys(body, snapshots.CREATE_KEYS)
        response: snapshots.SnapshotResponse = await self.node.client.execute(
            snapshots.CREATE, snapshots.CreateSnapshotRequest(
                repository=request.param("repository"), snapshot=request.param("snapshot"),
                body=orjson.dumps(body), wait_for_completion=request.bool_param("wait_for_completion", False),
                master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, orjson.loads(response.body))

    async def get_snapshots(self, request: RestRequest) -> RestResponse:
        sort = request.param("sort", "start_time")
        if sort not in SORTS:
            raise ParseError(f"unknown sort key [{sort}]")
        order = request.param("order", "asc")
        if order not in ("asc", "desc"):
            raise ParseError(f"unknown order [{order}]")
        size = request.int_param("size", -1)
        offset = request.int_param("offset", 0)
        errors = []
        if size < -1 or size == 0:
            errors.append("size must be -1 or greater than 0")
        if offset < 0:
            errors.append("offset must be >= 0")
        if errors:
            raise ActionRequestValidation(errors)
        request.bool_param("index_details")
        request.bool_param("include_repository", True)
        response: snapshots.ReadResponse = await self.node.client.execute(
            snapshots.GET, snapshots.GetSnapshotsRequest(
                repositories=request.param("repository"), snapshots=request.param("snapshot"),
                ignore_unavailable=request.bool_param("ignore_unavailable"),
                master_timeout=request.time_param("master_timeout", 30.0)))
        answer = orjson.loads(response.body)
        found = sorted(answer["snapshots"], key=SORTS[sort], reverse=order == "desc")
        page = found[offset:] if size == -1 else found[offset:offset + size]
        if not request.bool_param("verbose", True):
            page = [snapshots.brief(s) for s in page]
        body = {"snapshots": page}
        if answer["failures"]:
            body["failures"] = answer["failures"]
        return RestResponse(200, {**body, "total": len(found), "remaining": len(found) - offset - len(page)})

    async def delete(self, request: RestRequest) -> RestResponse:
        request.bool_param("wait_for_completion", True)
        await self.node.client.execute(snapshots.DELETE, snapshots.DeleteSnapshotRequest(
            repository=request.param("repository"), snapshots=request.list_param("snapshot"),
            master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, {"acknowledged": True})

    async def restore(self, request: RestRequest) -> RestResponse:
        body = request.json_body() if request.has_body else {}
        snapshots.check_keys(body, snapshots.RESTORE_KEYS)
        snapshots.check_restore_types(body)
        wait = request.bool_param("wait_for_completion", False)
        response: snapshots.RestoreResponse = await self.node.client.execute(
            snapshots.RESTORE, snapshots.RestoreRequest(
                repository=request.param("repository"), snapshot=request.param("snapshot"),
                body=orjson.dumps(body), master_timeout=request.time_param("master_timeout", 30.0)))
        # This node applies the state carrying the indices first: a request that follows here sees them.
        await self.node.index_admin.wait_for_version(response.term, response.version)
        if not wait:
            return RestResponse(200, {"accepted": True})
        return RestResponse(200, await self.service.wait_for_restore(response))

    async def status(self, request: RestRequest) -> RestResponse:
        response: snapshots.ReadResponse = await self.node.client.execute(
            snapshots.STATUS, snapshots.StatusRequest(
                repositories=request.param("repository"), snapshots=request.param("snapshot"),
                ignore_unavailable=request.bool_param("ignore_unavailable"),
                master_timeout=request.time_param("master_timeout", 30.0)))
        return RestResponse(200, orjson.loads(response.body))

    # -- _cat ------------------------------------------------------------------------------------

    async def cat_repositories(self, request: RestRequest) -> RestResponse:
        request.bool_param("local")
        response: snapshots.ReadResponse = await self.node.client.execute(
            snapshots.GET_REPOSITORIES, snapshots.GetRepositoriesRequest(
                master_timeout=request.time_param("master_timeout", 30.0)))
        table = CatTable(REPOSITORY_COLUMNS)
        for name, definition in orjson.loads(response.body).items():
            table.add({"id": name, "type": definition["type"]})
        return table.response(request, with_timestamps=False)

    async def cat_snapshots(self, request: RestRequest) -> RestResponse:
        """Every snapshot of the repositories named (all of them by default), in start order."""
        response: snapshots.ReadResponse = await self.node.client.execute(
            snapshots.GET, snapshots.GetSnapshotsRequest(
                repositories=request.param("repository", "_all"), snapshots="_all",
                ignore_unavailable=request.bool_param("ignore_unavailable"),
                master_timeout=request.time_param("master_timeout", 30.0)))
        answer = orjson.loads(response.body)
        if answer["failures"]:
            raise RepositoriesFailed(answer["failures"])
        table = CatTable(SNAPSHOT_COLUMNS)
        for s in sorted(answer["snapshots"], key=SORTS["start_time"]):
            start, end = s["start_time_in_millis"], s.get("end_time_in_millis", 0)
            table.add({
                "id": s["snapshot"], "repository": s["repository"], "status": s["state"],
                "start_epoch": start // 1000, "start_time": _clock(start),
                "end_epoch": end // 1000, "end_time": _clock(end),
                "duration": Millis(duration_millis(s, int(time.time() * 1000))), "indices": len(s["indices"]),
                "successful_shards": s["shards"]["successful"], "failed_shards": s["shards"]["failed"],
                "total_shards": s["shards"]["total"],
                "reason": "; ".join(f.get("reason", "") for f in s.get("failures", [])) or None})
        return table.response(request, with_timestamps=False)


def duration_millis(snapshot: dict, now_ms: int) -> int:
    """RestSnapshotAction's duration: a snapshot still running has run since it started
    (now - start); a finished one, from its start to its end."""
    start = snapshot["start_time_in_millis"]
    if snapshot["state"] == "IN_PROGRESS":
        return now_ms - start
    return snapshot.get("end_time_in_millis", 0) - start


def _clock(millis: int) -> str:
    """HH:MM:SS of an epoch time, in UTC, as ES prints it."""
    return time.strftime("%H:%M:%S", time.gmtime(millis // 1000))
