"""Alias APIs: `POST /_aliases`, `PUT|POST|DELETE /{index}/_alias/{name}`, `GET|HEAD` of
aliases and `_cat/aliases`, as Elasticsearch 8 shapes them.

Every change is one `POST /_aliases` underneath (RestIndexPutAliasAction and
RestIndexDeleteAliasesAction build the same request), sent to the master, which resolves
and applies all its actions in one cluster state update (action/index_admin.py, the
logic in index/aliases.py). Reads come from the applied cluster state: any node answers.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..action.index_admin import UPDATE_ALIASES, UpdateAliasesRequest, UpdateAliasesResponse
from ..action.index_reads import GET_ALIASES, IndexReadRequest, IndexReadResponse
from ..action.master import DEFAULT_MASTER_TIMEOUT
from ..action.resolve import IndicesOptions
from ..common.errors import IllegalArgument
from ..common.patterns import simple_match
from ..common.xcontent import loads
from ..index.aliases import parse_actions, put_alias_action
from .cat import CAT_PARAMS, CatTable, col
from .controller import RestController, RestResponse
from .indices import read_metadata
from .request import RestRequest

CHANGE_PARAMS = ("timeout", "master_timeout")
GET_PARAMS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards", "local", "master_timeout")
CAT_ALIAS_PARAMS = (*CAT_PARAMS, "expand_wildcards", "local", "master_timeout")

ALIAS_COLUMNS = [
    col("alias", "a", "alias name"),
    col("index", "i,idx", "index alias points to"),
    col("filter", "f,fi", "filter"),
    col("routing.index", "ri,routingIndex", "index routing"),
    col("routing.search", "rs,routingSearch", "search routing"),
    col("is_write_index", "w,isWriteIndex", "write index"),
]


class AliasHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("POST", "/_aliases", self.update_aliases, CHANGE_PARAMS, action=UPDATE_ALIASES)
        for segment in ("_alias", "_aliases"):
            for method in ("PUT", "POST"):
                c.register(method, f"/{{index}}/{segment}/{{name}}", self.put_alias, CHANGE_PARAMS,
                           action=UPDATE_ALIASES)
            c.register("DELETE", f"/{{index}}/{segment}/{{name}}", self.delete_alias, CHANGE_PARAMS,
                       action=UPDATE_ALIASES)
        for path in ("/_alias", "/_aliases", "/_alias/{name}", "/{index}/_alias", "/{index}/_alias/{name}",
                     "/{index}/_aliases"):
            c.register("GET", path, self.get_aliases, GET_PARAMS, action=GET_ALIASES)
            c.register("HEAD", path, self.exists_alias, GET_PARAMS, action=GET_ALIASES)
        for path in ("/_cat/aliases", "/_cat/aliases/{name}"):
            c.register("GET", path, self.cat_aliases, CAT_ALIAS_PARAMS, action=GET_ALIASES)

    # -- changes ---------------------------------------------------------------------------

    async def _update(self, request: RestRequest, body: dict[str, Any]) -> RestResponse:
        response: UpdateAliasesResponse = await self.node.client.execute(UPDATE_ALIASES, UpdateAliasesRequest(
            actions=orjson.dumps(body), ack_timeout=request.time_param("timeout", 30.0),
            master_timeout=request.time_param("master_timeout", DEFAULT_MASTER_TIMEOUT)))
        return RestResponse(200, render_update(response))

    async def update_aliases(self, request: RestRequest) -> RestResponse:
        """A body that parses to no action at all (`{"actions": []}`, `{}`) is refused here,
        before the request is validated, as RestIndicesAliasesAction refuses it."""
        body = request.json_body(required=True)
        if not parse_actions(body, validate=False):
            raise IllegalArgument("No action specified")
        return await self._update(request, body)

    async def put_alias(self, request: RestRequest) -> RestResponse:
        """The body, when there is one, is read as RestIndexPutAliasAction reads it
        (put_alias_action: known keys only, unknown ones ignored); `{name}` is one alias
        name, commas and all, as ES takes it (DELETE splits its `{name}`, PUT does not)."""
        if request.body and not request.has_body:
            raise IllegalArgument("No index alias is specified")  # content, but no token in it
        body = loads(request.body) if request.has_body else None
        action = put_alias_action(request.list_param("index"), request.param("name"), body)
        return await self._update(request, {"actions": [{"add": action}]})

    async def delete_alias(self, request: RestRequest) -> RestResponse:
        action = {"indices": request.list_param("index"), "aliases": request.list_param("name")}
        return await self._update(request, {"actions": [{"remove": action}]})

    # -- reads -----------------------------------------------------------------------------

    async def _matching(self, request: RestRequest) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Per index of `{index}` (default: all, hidden too), its aliases matching `{name}`
        (names, wildcards, `_all`, `-exclusions`), and the names asked for outright that
        no index has."""
        indices = await read_metadata(self.node, request, GET_ALIASES, "all")
        patterns = request.list_param("name") if request.has_param("name") else []
        if patterns in (["_all"], ["*"]):
            patterns = []
        included = [p for p in patterns if not p.startswith("-")]
        excluded = [p[1:] for p in patterns if p.startswith("-")]

        def wanted(alias: str) -> bool:
            return ((not included or any(simple_match(p, alias) for p in included))
                    and not any(simple_match(p, alias) for p in excluded))

        out: dict[str, dict[str, Any]] = {}
        for md in indices:
            aliases = {a: d for a, d in md.aliases.items() if wanted(a)}
            if aliases or not patterns:
                out[md.name] = {"aliases": aliases}
        found = {a for entry in out.values() for a in entry["aliases"]}
        missing = [p for p in included if "*" not in p and p not in found]
        return out, missing

    async def get_aliases(self, request: RestRequest) -> RestResponse:
        """Aliases named outright that no index has make a 404 whose body is the aliases
        found plus Elasticsearch's flat `error` string and `status` (RestGetAliasesAction)."""
        request.bool_param("local")
        body, missing = await self._matching(request)
        if not missing:
            return RestResponse(200, body)
        noun = "alias" if len(missing) == 1 else "aliases"
        return RestResponse(404, {**body, "error": f"{noun} [{','.join(missing)}] missing", "status": 404})

    async def exists_alias(self, request: RestRequest) -> RestResponse:
        body, missing = await self._matching(request)
        found = any(entry["aliases"] for entry in body.values())
        return RestResponse(200 if found and not missing else 404)

    async def cat_aliases(self, request: RestRequest) -> RestResponse:
        request.bool_param("local")
        table = CatTable(ALIAS_COLUMNS)
        patterns = [p for p in request.list_param("name") if p not in ("_all", "*")]
        response: IndexReadResponse = await self.node.client.execute(GET_ALIASES, IndexReadRequest(
            options=IndicesOptions(expand_wildcards=request.expand_wildcards_param("all"))))
        for md in response.indices:
            name = md.name
            for alias, definition in md.aliases.items():
                if patterns and not any(simple_match(p, alias) for p in patterns):
                    continue
                write = definition.get("is_write_index")
                table.add({"alias": alias, "index": name, "filter": "*" if "filter" in definition else "-",
                           "routing.index": definition.get("index_routing", "-"),
                           "routing.search": definition.get("search_routing", "-"),
                           "is_write_index": "-" if write is None else write})
        return table.response(request)


def render_update(response: UpdateAliasesResponse) -> dict[str, Any]:
    """IndicesAliasesResponse: `action_results`, one per action, only when one failed."""
    body: dict[str, Any] = {"acknowledged": response.applied.acknowledged, "errors": response.errors}
    if response.errors:
        body["action_results"] = [
            {"action": {"type": r.type, "indices": r.indices, "aliases": r.aliases}, "status": r.status,
             **({} if r.error is None else {"error": r.error})}
            for r in response.results]
    return body
