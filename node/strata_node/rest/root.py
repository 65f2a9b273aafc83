"""`GET /` and `HEAD /`: who this node is, in the shape the official clients expect."""

from __future__ import annotations

from .. import ES_COMPAT_VERSION, LUCENE_COMPAT_VERSION, __version__
from ..action.main import MAIN, MainResponse
from ..transport.wire import Empty
from .controller import RestController, RestResponse
from .request import RestRequest


class RootHandlers:
    def __init__(self, node):
        self.node = node

    def register(self, c: RestController) -> None:
        c.register("GET", "/", self.info, action=MAIN)

    async def info(self, request: RestRequest) -> RestResponse:
        main: MainResponse = await self.node.client.execute(MAIN, Empty())
        return RestResponse(200, {
            "name": main.node_name,
            "cluster_name": main.cluster_name,
            "cluster_uuid": main.cluster_uuid,
            "version": {
                "number": ES_COMPAT_VERSION,
                "build_flavor": "default",
                "build_type": "strata",
                "build_hash": f"strata-{__version__}",
                "build_date": "2026-11-01T00:00:00.000Z",
                "build_snapshot": False,
                "lucene_version": LUCENE_COMPAT_VERSION,
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "You Know, for Search",
        })
