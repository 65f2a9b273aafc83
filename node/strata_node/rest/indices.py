"""Index APIs: create, get, exists, delete, refresh, flush and settings (mappings
are in mapping.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ..common.errors import ActionRequestValidation, IllegalArgument, StrataError
from ..index.metadata import settings_tree
from ..index.service import IndexService
from ..index.shard import IndexShard
from .controller import RestController, RestResponse
from .request import RestRequest

RESOLVE_PARAMS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards")
CREATE_PARAMS = ("wait_for_active_shards", "timeout", "master_timeout")
GET_PARAMS = (*RESOLVE_PARAMS, "flat_settings", "include_defaults", "local", "master_timeout", "features")
DELETE_PARAMS = (*RESOLVE_PARAMS, "timeout", "master_timeout")
FLUSH_PARAMS = (*RESOLVE_PARAMS, "force", "wait_if_ongoing")


class IndexHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("PUT", "/{index}", self.create, CREATE_PARAMS)
        c.register("GET", "/{index}", self.get, GET_PARAMS)
        c.register("HEAD", "/{index}", self.exists, GET_PARAMS)
        c.register("DELETE", "/{index}", self.delete, DELETE_PARAMS)
        for method in ("GET", "POST"):
            c.register(method, "/_refresh", self.refresh, RESOLVE_PARAMS)
            c.register(method, "/{index}/_refresh", self.refresh, RESOLVE_PARAMS)
            c.register(method, "/_flush", self.flush, FLUSH_PARAMS)
            c.register(method, "/{index}/_flush", self.flush, FLUSH_PARAMS)
        for path in ("/_settings", "/_settings/{name}", "/{index}/_settings", "/{index}/_settings/{name}",
                     "/{index}/_setting/{name}"):
            c.register("GET", path, self.get_settings, GET_PARAMS)

    def _resolve(self, request: RestRequest) -> list[IndexService]:
        return resolve_indices(self.node.indices, request)

    async def create(self, request: RestRequest) -> RestResponse:
        name = request.param("index")
        service = await self.node.indices.create(name, request.json_body())
        return RestResponse(200, {"acknowledged": True, "shards_acknowledged": True, "index": service.name})

    async def get(self, request: RestRequest) -> RestResponse:
        services = self._resolve(request)
        flat = request.bool_param("flat_settings")
        body = {s.name: {"aliases": dict(s.metadata.aliases), "mappings": dict(s.metadata.mappings),
                         "settings": _settings(s, flat)} for s in services}
        return RestResponse(200, body)

    async def exists(self, request: RestRequest) -> RestResponse:
        """`HEAD /{index}`: 200 when the expression names at least one index; a wildcard
        that matches nothing is 404 here, though `GET` of it is an empty 200."""
        services = self._resolve(request)
        return RestResponse(200 if services else 404)

    async def delete(self, request: RestRequest) -> RestResponse:
        expression = request.param("index")
        if self.node.cluster_settings.get("action.destructive_requires_name"):
            for part in expression.split(","):
                if part in ("_all", "*") or ("*" in part and not part.startswith("-")):
                    raise IllegalArgument("Wildcard expressions or all indices are not allowed")
        await self.node.indices.delete(resolve_names(self.node.indices, request))
        return RestResponse(200, {"acknowledged": True})

    async def refresh(self, request: RestRequest) -> RestResponse:
        services = self._resolve(request)
        outcomes = await _per_shard(services, _refresh)
        return RestResponse(200, {"_shards": _broadcast_shards(services, outcomes)})

    async def flush(self, request: RestRequest) -> RestResponse:
        force = request.bool_param("force")
        if force and not request.bool_param("wait_if_ongoing", True):
            # FlushRequest.validate: checked before any index is resolved or flushed.
            raise ActionRequestValidation(["wait_if_ongoing must be true for a force flush"])
        services = self._resolve(request)
        outcomes = await _per_shard(services, lambda engine: engine.flush(force=force))
        return RestResponse(200, {"_shards": _broadcast_shards(services, outcomes)})

    async def get_settings(self, request: RestRequest) -> RestResponse:
        """`/{index}/_settings/{name}`: `name` is a comma list of setting names with `*`
        wildcards (`_all` or `*` alone: every setting). Indices left with no setting
        after filtering are left out, as Elasticsearch leaves them out."""
        names = request.list_param("name")
        if names in (["_all"], ["*"]):
            names = []
        flat = request.bool_param("flat_settings")
        request.bool_param("include_defaults")
        _read_master_params(request)
        body = {}
        for service in self._resolve(request):
            settings = service.metadata.settings_matching(names) if names else service.metadata.settings
            if settings:
                body[service.name] = {"settings": _render(settings, flat)}
        return RestResponse(200, body)


def _read_master_params(request: RestRequest) -> None:
    """`local` and `master_timeout` mean nothing on one node, but a bad value is still
    refused, as Elasticsearch parses them whether or not they matter."""
    request.bool_param("local")
    request.time_param("master_timeout", 30.0)


def _settings(service: IndexService, flat: bool) -> dict[str, Any]:
    return _render(service.metadata.settings, flat)


def _render(settings: Mapping[str, str], flat: bool) -> dict[str, Any]:
    return dict(sorted(settings.items())) if flat else settings_tree(settings)


# -- broadcast to every shard of the resolved indices ------------------------------------

STATUS_NAMES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 409: "CONFLICT", 500: "INTERNAL_SERVER_ERROR",
                503: "SERVICE_UNAVAILABLE"}


async def _refresh(engine) -> None:
    engine.refresh()


async def _per_shard(services: list[IndexService], action) -> list[tuple[IndexShard, Any]]:
    """Run `action` on each shard's engine; a shard that fails gives its error instead of
    failing the request, as Elasticsearch's broadcast actions report per-shard failures."""

    async def one(shard: IndexShard) -> tuple[IndexShard, Any]:
        try:
            return shard, await action(shard.active_engine())
        except StrataError as e:
            return shard, e

    return list(await asyncio.gather(*(one(shard) for s in services for shard in s.shards)))


def _shard_failure(shard: IndexShard, error: StrataError, *, search: bool = False) -> dict[str, Any]:
    failure: dict[str, Any] = {"shard": shard.ref.shard, "index": shard.ref.index}
    if not search:
        failure["status"] = STATUS_NAMES.get(error.status, str(error.status))
    failure["reason"] = error.to_dict()
    return failure


def _broadcast_shards(services: list[IndexService], outcomes: list[tuple[IndexShard, Any]]) -> dict[str, Any]:
    """`_shards` of refresh and flush: every configured copy counts in `total` (replicas
    are unassigned on one node), active primaries are `successful`."""
    failures = [(shard, e) for shard, e in outcomes if isinstance(e, StrataError)]
    total = sum(s.metadata.number_of_shards * (1 + s.metadata.number_of_replicas) for s in services)
    body: dict[str, Any] = {"total": total, "successful": len(outcomes) - len(failures),
                            "failed": len(failures)}
    if failures:
        body["failures"] = [_shard_failure(shard, e) for shard, e in failures]
    return body


def resolve_indices(indices, request: RestRequest) -> list[IndexService]:
    """The indices a request's `{index}` names, with the usual index options."""
    return [indices.get(n) for n in resolve_names(indices, request)]


def resolve_names(indices, request: RestRequest) -> list[str]:
    """The names a request's `{index}` resolves to among the cluster's indices."""
    return indices.resolve(
        request.param("index"),
        ignore_unavailable=request.bool_param("ignore_unavailable"),
        allow_no_indices=request.bool_param("allow_no_indices", True),
        expand_wildcards=request.expand_wildcards_param("open"))
