"""`GET /_resolve/index/{name}` (Elasticsearch's RestResolveIndexAction): the indices and
aliases a comma list of names and wildcards names, by `indices:admin/resolve/index`
(action/resolve_index.py)."""

from __future__ import annotations

from ..action.resolve_index import RESOLVE_INDEX, ResolveIndexRequest, ResolveIndexResponse
from .controller import RestController, RestResponse
from .indices import indices_options
from .request import RestRequest

RESOLVE_INDEX_PARAMS = ("expand_wildcards", "ignore_unavailable", "allow_no_indices")


class ResolveIndexHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("GET", "/_resolve/index/{name}", self.resolve_index, RESOLVE_INDEX_PARAMS,
                   action=RESOLVE_INDEX)

    async def resolve_index(self, request: RestRequest) -> RestResponse:
        """IndicesOptions.strictExpandOpen under the request's options; every name split
        at commas, as Strings.splitStringByCommaToArray splits it."""
        response: ResolveIndexResponse = await self.node.client.execute(RESOLVE_INDEX, ResolveIndexRequest(
            names=request.list_param("name"), options=indices_options(request)))
        return RestResponse(200, {
            "indices": [{"name": i.name, **({"aliases": i.aliases} if i.aliases else {}),
                         "attributes": i.attributes} for i in response.indices],
            "aliases": [{"name": a.name, **({"indices": a.indices} if a.indices else {})}
                        for a in response.aliases],
            "data_streams": []})
