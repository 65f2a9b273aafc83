"""`cluster:monitor/main` (Elasticsearch's TransportMainAction): who this node is and
which cluster it belongs to, what `GET /` shows."""

from __future__ import annotations

from ..tasks.task import Task
from ..transport.wire import Empty, Message

MAIN = "cluster:monitor/main"


class MainResponse(Message):
    node_name: str
    cluster_name: str
    cluster_uuid: str


def register(node) -> None:
    def main(request: Empty, task: Task) -> MainResponse:
        return MainResponse(node_name=node.name, cluster_name=node.cluster_name,
                            cluster_uuid=node.cluster_uuid)

    node.transport.register(MAIN, Empty, MainResponse, main)
