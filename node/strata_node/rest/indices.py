"""Index APIs: create, get, exists, delete, refresh, flush and settings (mappings
are in mapping.py). Reads come from the cluster state's metadata, so any node answers;
refresh and flush are broadcast to every shard copy wherever it lives (action/broadcast.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson

from ..action.broadcast_actions import (
    FLUSH,
    FORCE_MERGE,
    REFRESH,
    BroadcastResponse,
    FlushRequest,
    ForceMergeRequest,
    RefreshRequest,
    validate_force_merge,
)
from ..action.index_admin import (
    CLOSE,
    CREATE,
    DELETE,
    OPEN,
    AppliedVersion,
    CreateIndexRequest,
    CreateIndexResponse,
    DeleteIndicesRequest,
    IndexStateRequest,
    IndexStateResponse,
)
from ..action.index_reads import GET_INDEX, GET_SETTINGS, IndexReadRequest, IndexReadResponse
from ..action.master import DEFAULT_MASTER_TIMEOUT
from ..action.resolve import IndicesOptions
from ..common.cluster_settings import index_defaults
from ..common.errors import IllegalArgument
from ..common.patterns import simple_match_any
from ..index.metadata import IndexMetadata, settings_tree
from ..node_client import observing
from .cluster import parse_active_shard_count
from .controller import RestController, RestResponse
from .request import RestRequest

RESOLVE_PARAMS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards")
CREATE_PARAMS = ("wait_for_active_shards", "timeout", "master_timeout")
GET_PARAMS = (*RESOLVE_PARAMS, "flat_settings", "include_defaults", "local", "master_timeout", "features")
DELETE_PARAMS = (*RESOLVE_PARAMS, "timeout", "master_timeout")
FLUSH_PARAMS = (*RESOLVE_PARAMS, "force", "wait_if_ongoing")
FORCE_MERGE_PARAMS = (*RESOLVE_PARAMS, "max_num_segments", "only_expunge_deletes", "flush",
                      "wait_for_completion")
STATE_PARAMS = (*RESOLVE_PARAMS, "timeout", "master_timeout", "wait_for_active_shards")


class IndexHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("PUT", "/{index}", self.create, CREATE_PARAMS, action=CREATE)
        c.register("GET", "/{index}", self.get, GET_PARAMS, action=GET_INDEX)
        c.register("HEAD", "/{index}", self.exists, GET_PARAMS, action=GET_INDEX)
        c.register("DELETE", "/{index}", self.delete, DELETE_PARAMS, action=DELETE)
        for path in ("/_close", "/{index}/_close"):
            c.register("POST", path, self.close, STATE_PARAMS, action=CLOSE)
        for path in ("/_open", "/{index}/_open"):
            c.register("POST", path, self.open, STATE_PARAMS, action=OPEN)
        for method in ("GET", "POST"):
            for path in ("/_refresh", "/{index}/_refresh"):
                c.register(method, path, self.refresh, RESOLVE_PARAMS, action=REFRESH)
            for path in ("/_flush", "/{index}/_flush"):
                c.register(method, path, self.flush, FLUSH_PARAMS, action=FLUSH)
        for path in ("/_forcemerge", "/{index}/_forcemerge"):
            c.register("POST", path, self.force_merge, FORCE_MERGE_PARAMS, action=FORCE_MERGE)
        for path in ("/_settings", "/_settings/{name}", "/{index}/_settings", "/{index}/_settings/{name}",
                     "/{index}/_setting/{name}"):
            c.register("GET", path, self.get_settings, GET_PARAMS, action=GET_SETTINGS)

    async def _read(self, request: RestRequest, action: str, expand_wildcards: str = "open"
                    ) -> list[IndexMetadata]:
        return await read_metadata(self.node, request, action, expand_wildcards)

    async def create(self, request: RestRequest) -> RestResponse:
        """Created once the master says so; `shards_acknowledged` says whether the copies
        `wait_for_active_shards` asks for were active within `timeout`."""
        name = request.param("index")
        response: CreateIndexResponse = await self.node.client.execute(CREATE, CreateIndexRequest(
            name=name, body=orjson.dumps(request.json_body()),
            wait_for_active_shards=active_shards_param(request), timeout=request.time_param("timeout", 30.0),
            master_timeout=request.time_param("master_timeout", DEFAULT_MASTER_TIMEOUT)))
        return RestResponse(200, {"acknowledged": response.applied.acknowledged,
                                  "shards_acknowledged": response.shards_acknowledged, "index": name})

    async def get(self, request: RestRequest) -> RestResponse:
        """Every section is printed, as GetIndexResponse prints them; those the `features`
        parameter leaves out are empty (and `defaults`, of the settings, only with them)."""
        features = get_index_features(request)
        indices = await self._read(request, GET_INDEX)
        flat = request.bool_param("flat_settings")
        defaults = request.bool_param("include_defaults") and "settings" in features
        body = {}
        for md in indices:
            body[md.name] = {"aliases": dict(md.aliases) if "aliases" in features else {},
                             "mappings": dict(md.mappings) if "mappings" in features else {},
                             "settings": _render(md.settings, flat) if "settings" in features else {}}
            if defaults:
                body[md.name]["defaults"] = _render(index_defaults(md.settings), flat)
        return RestResponse(200, body)

    async def exists(self, request: RestRequest) -> RestResponse:
        """`HEAD /{index}`: 200 when the expression names at least one index; a wildcard
        that matches nothing is 404 here, though `GET` of it is an empty 200. The same
        handler as `GET` in Elasticsearch, so a bad `features` is refused here too."""
        get_index_features(request)
        return RestResponse(200 if await self._read(request, GET_INDEX) else 404)

    async def delete(self, request: RestRequest) -> RestResponse:
        applied: AppliedVersion = await self.node.client.execute(DELETE, DeleteIndicesRequest(
            expression=request.param("index"), options=indices_options(request, "open,closed"),
            ack_timeout=request.time_param("timeout", 30.0),
            master_timeout=request.time_param("master_timeout", DEFAULT_MASTER_TIMEOUT)))
        return RestResponse(200, {"acknowledged": applied.acknowledged})

    async def close(self, request: RestRequest) -> RestResponse:
        """`POST /{index}/_close`: wildcards reach open indices (an index named outright
        that is closed already is left as it is)."""
        response = await self._set_state(request, CLOSE, "open")
        return RestResponse(200, {"acknowledged": response.applied.acknowledged,
                                  "shards_acknowledged": response.shards_acknowledged,
                                  "indices": {name: {"closed": True} for name in response.indices}})

    async def open(self, request: RestRequest) -> RestResponse:
        response = await self._set_state(request, OPEN, "closed")
        return RestResponse(200, {"acknowledged": response.applied.acknowledged,
                                  "shards_acknowledged": response.shards_acknowledged})

    async def _set_state(self, request: RestRequest, action: str,
                         expand_wildcards: str) -> IndexStateResponse:
        timeout = request.time_param("timeout", 30.0)
        return await self.node.client.execute(action, IndexStateRequest(
            expression=request.param("index"), options=indices_options(request, expand_wildcards),
            wait_for_active_shards=active_shards_param(request), timeout=timeout, ack_timeout=timeout,
            master_timeout=request.time_param("master_timeout", DEFAULT_MASTER_TIMEOUT)))

    async def refresh(self, request: RestRequest) -> RestResponse:
        response: BroadcastResponse = await self.node.client.execute(REFRESH, RefreshRequest(
            expression=request.param("index"), options=indices_options(request, forbid_closed=True)))
        return RestResponse(200, {"_shards": response.shards})

    async def flush(self, request: RestRequest) -> RestResponse:
        response: BroadcastResponse = await self.node.client.execute(FLUSH, FlushRequest(
            expression=request.param("index"), options=indices_options(request, forbid_closed=True),
            force=request.bool_param("force"), wait_if_ongoing=request.bool_param("wait_if_ongoing", True)))
        return RestResponse(200, {"_shards": response.shards})

    async def force_merge(self, request: RestRequest) -> RestResponse:
        """Every copy merges what its checkpoints allow into one segment, purging replaced
        versions (engine/merge.py); `wait_for_completion=false` answers with the task, whose
        result is stored when it ends."""
        message = ForceMergeRequest(
            expression=request.param("index"), options=indices_options(request, forbid_closed=True),
            max_num_segments=request.int_param("max_num_segments", -1),
            only_expunge_deletes=request.bool_param("only_expunge_deletes"),
            flush=request.bool_param("flush", True))
        validate_force_merge(message)
        if request.bool_param("wait_for_completion", True):
            response: BroadcastResponse = await self.node.client.execute(FORCE_MERGE, message)
            return RestResponse(200, {"_shards": response.shards})
        started = asyncio.get_running_loop().create_future()

        async def work() -> dict:  # stored as the task's response: what waiting would answer
            response = await self.node.client.execute(FORCE_MERGE, message, on_task=started.set_result)
            return {"_shards": response.shards}

        with observing(None):  # the merge outlives the request that started it
            task_id = await self.node.task_results.run_detached(started, work())
        return RestResponse(200, {"task": str(task_id)})

    async def get_settings(self, request: RestRequest) -> RestResponse:
        """`/{index}/_settings/{name}`: `name` is a comma list of setting names with `*`
        wildcards (`_all` or `*` alone: every setting). Indices left with no setting
        after filtering are left out, as Elasticsearch leaves them out."""
        names = request.list_param("name")
        if names in (["_all"], ["*"]):
            names = []
        flat = request.bool_param("flat_settings")
        include_defaults = request.bool_param("include_defaults")
        _read_master_params(request)
        body = {}
        for md in await self._read(request, GET_SETTINGS, "open,closed"):
            settings = md.settings_matching(names) if names else md.settings
            defaults = {}
            if include_defaults:
                defaults = {k: v for k, v in index_defaults(md.settings).items()
                            if not names or simple_match_any(names, k)}
            if settings or defaults:
                body[md.name] = {"settings": _render(settings, flat)}
                if include_defaults:
                    body[md.name]["defaults"] = _render(defaults, flat)
        return RestResponse(200, body)


GET_INDEX_FEATURES = ("aliases", "mappings", "settings")


def get_index_features(request: RestRequest) -> set[str]:
    """GetIndexRequest.Feature.fromRequest: `features` is a comma list of aliases, mappings
    and settings in any case (absent: all three); any other name, an empty one included, is
    refused, all of them named in one message."""
    text = request.param("features")
    if text is None:
        return set(GET_INDEX_FEATURES)
    names = _java_split(text)
    invalid = [n for n in names if n.lower() not in GET_INDEX_FEATURES]
    if invalid:
        raise IllegalArgument(f"Invalid features specified [{','.join(invalid)}]")
    return {n.lower() for n in names}


def _java_split(text: str) -> list[str]:
    """Java's String.split(","): a text without a comma is itself (an empty one too),
    otherwise its pieces less the trailing empty ones."""
    if "," not in text:
        return [text]
    parts = text.split(",")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def active_shards_param(request: RestRequest) -> int | str | None:
    """`wait_for_active_shards`: `all` or a count (0 waits for nothing); absent, None, for
    the index's own index.write.wait_for_active_shards."""
    text = request.param("wait_for_active_shards")
    if text is None:
        return None
    return parse_active_shard_count(text) or 0


def _read_master_params(request: RestRequest) -> None:
    """`local` and `master_timeout` mean nothing on one node, but a bad value is still
    refused, as Elasticsearch parses them whether or not they matter."""
    request.bool_param("local")
    request.time_param("master_timeout", 30.0)


def _render(settings: Mapping[str, str], flat: bool) -> dict[str, Any]:
    return dict(sorted(settings.items())) if flat else settings_tree(settings)


def indices_options(request: RestRequest, expand_wildcards: str = "open", *,
                    forbid_closed: bool = False, allow_no_indices: bool = True) -> IndicesOptions:
    """The request's options over the action's defaults: which indices wildcards expand to,
    whether an expression may name no index at all (not for the changes of settings and
    mappings, whose requests default allow_no_indices to false), and whether a closed
    index fails the action (those acting on an index's data)."""
    return IndicesOptions(ignore_unavailable=request.bool_param("ignore_unavailable"),
                          allow_no_indices=request.bool_param("allow_no_indices", allow_no_indices),
                          expand_wildcards=request.expand_wildcards_param(expand_wildcards),
                          forbid_closed=forbid_closed)


async def read_metadata(node, request: RestRequest, action: str, expand_wildcards: str = "open"
                        ) -> list[IndexMetadata]:
    """The metadata of the indices a request's `{index}` names (one of the index read
    actions of action/index_reads.py)."""
    response: IndexReadResponse = await node.client.execute(action, IndexReadRequest(
        expression=request.param("index"), options=indices_options(request, expand_wildcards)))
    return response.indices
