"""Nodes info (`cluster:monitor/nodes/info`, `GET /_nodes`): what each selected node says
about itself, gathered over the transport with one `cluster:monitor/nodes/info[n]`
request per node."""

from __future__ import annotations

import asyncio
import gc
import math
import os
import platform
import sys
from collections.abc import Iterable
from typing import Any

from .. import ES_COMPAT_VERSION, __version__
from ..common.cluster_settings import HIDDEN_SETTINGS, setting_text
from ..common.errors import StrataError, error_to_dict
from ..common.machine import STARTED_AT, available_processors, meminfo, operating_system
from ..settings import is_secure
from ..tasks.task import Task
from ..transport.wire import Message
from .node_selection import select_nodes

NODES_INFO = "cluster:monitor/nodes/info"
NODES_INFO_NODE = "cluster:monitor/nodes/info[n]"


class NodesInfoRequest(Message):
    metrics: list[str] = []


class NodeInfo(Message):
    node_id: str
    info: dict[str, Any]


class NodesRequest(Message):
    """A nodes-level action's request: the nodes it asks (selectors; empty: every node)."""

    node_ids: list[str] = []
    metrics: list[str] = []  # empty: every metric


class NodesResponse(Message):
    total: int  # the nodes asked
    nodes: dict[str, dict[str, Any]]  # node id -> what it answered
    failures: list[dict[str, Any]] = []  # ES-shaped errors of those that did not


# Every metric of ES's NodesInfoRequest.Metric; a request names some of them or none (all).
METRICS = ("settings", "os", "process", "jvm", "thread_pool", "transport", "http", "remote_cluster_server",
           "plugins", "ingest", "aggregations", "indices")
# Aggregation field kinds (search/aggregations/values.kind_of) -> ES's ValuesSourceType names
_VALUES_SOURCE = {"long": "numeric", "double": "numeric", "unsigned_long": "numeric", "date": "date",
                  "boolean": "boolean", "keyword": "keyword", "ip": "ip", "geo_point": "geopoint"}


def local_info(node, metrics: Iterable[str] = ()) -> dict[str, Any]:
    """This node's identity, and the sections `metrics` names (every one when empty), in
    NodeInfo's order. Settings are flat; the REST layer nests them."""
    wanted = set(metrics) or set(METRICS)
    transport = node.transport.address
    host = transport.rsplit(":", 1)[0] if transport else "127.0.0.1"
    info: dict[str, Any] = {
        "name": node.name,
        "transport_address": transport,
        "host": host,
        "ip": host,
        "version": ES_COMPAT_VERSION,
        "build_flavor": "default",
        "build_type": "tar",
        "build_hash": f"strata-{__version__}",
        "roles": sorted(node.settings.get("node.roles")),
    }
    if node.settings.attributes:  # left out when there are none, as ES writes it
        info["attributes"] = node.settings.attributes
    sections = {
        "settings": lambda: _settings(node),
        "os": lambda: _os(node),
        "process": lambda: {"refresh_interval_in_millis": 1000, "id": os.getpid(), "mlockall": False},
        "jvm": _runtime,
        "thread_pool": lambda: _thread_pools(node),
        "transport": lambda: {"bound_address": [transport], "publish_address": transport},
        "http": lambda: {"bound_address": [node.http_address], "publish_address": node.http_address,
                         "max_content_length_in_bytes": node.settings.get("http.max_content_length")},
        "plugins": list,
        "ingest": lambda: {"processors": []},  # Strata runs no ingest pipelines
        "aggregations": _aggregations,
    }
    for name, section in sections.items():
        if name in wanted:
            info[name] = section()
            if name == "plugins":
                info["modules"] = []
    return info


def _settings(node) -> dict[str, Any]:
    """The settings the node was started with (file, environment, flags) and the ones ES
    always shows, as text; credentials and Strata's internal switches left out."""
    values = {k: v for k, v in node.settings.values.items() if k not in HIDDEN_SETTINGS and not is_secure(k)}
    values.update({"cluster.name": node.settings.get("cluster.name"), "node.name": node.name,
                   "path.data": node.settings.get("path.data")})
    return {k: None if v is None else setting_text(v) for k, v in values.items()}


def _os(node) -> dict[str, Any]:
    system = operating_system()
    return {"refresh_interval_in_millis": 1000, "name": system.name, "pretty_name": system.pretty_name,
            "arch": system.arch, "version": system.version, "available_processors": available_processors(),
            "allocated_processors": math.ceil(node.processors)}


def _runtime() -> dict[str, Any]:
    """The `jvm` section, of the Python runtime the node runs on: nodes stats reports its
    memory there too (the machine's memory as the heap's maximum)."""
    return {
        "pid": os.getpid(),
        "version": platform.python_version(),
        "vm_name": platform.python_implementation(),
        "vm_version": sys.version,
        "vm_vendor": "Python Software Foundation",
        "using_bundled_jdk": None,
        "start_time_in_millis": int(STARTED_AT * 1000),
        "mem": {"heap_init_in_bytes": 0, "heap_max_in_bytes": meminfo().get("MemTotal", 0),
                "non_heap_init_in_bytes": 0, "non_heap_max_in_bytes": 0, "direct_max_in_bytes": 0},
        "gc_collectors": [f"gen{i}" for i in range(len(gc.get_count()))],
        "memory_pools": [],
        "using_compressed_ordinary_object_pointers": "unknown",
        "input_arguments": [f"-X{k}" if v is True else f"-X{k}={v}" for k, v in sys._xoptions.items()]
        + [f"-W{w}" for w in sys.warnoptions],
    }


def _thread_pools(node) -> dict[str, Any]:
    """The node's executors: a fixed number of threads each (started as work comes, never
    stopped) behind an unbounded queue."""
    return {name: {"type": "fixed", "size": getattr(executor, "_max_workers", 0), "queue_size": -1}
            for name, executor in sorted(node.executors.items())}


def _aggregations() -> dict[str, Any]:
    """Each aggregation Strata runs and the field types it reads (`other` for those that
    read no field), as ES's AggregationInfo lists them."""
    from ..search.aggregations import AGGREGATIONS  # the search package is heavy; most requests never need it

    out = {}
    for name, cls in sorted(AGGREGATIONS.items()):
        if cls.kinds is None:
            types = sorted(set(_VALUES_SOURCE.values()))
        elif cls.kinds:
            types = sorted({_VALUES_SOURCE[k] for k in cls.kinds})
        else:
            types = ["other"]
        out[name] = {"types": types}
    return out


def register(node) -> None:
    async def handle(request: NodesInfoRequest, task: Task) -> NodeInfo:
        return NodeInfo(node_id=node.node_id, info=local_info(node, request.metrics))

    async def nodes_info(request: NodesRequest, task: Task) -> NodesResponse:
        targets = select_nodes(node, request.node_ids, node.cluster_nodes())

        async def one(address: str | None) -> NodeInfo | dict[str, Any]:
            try:
                asked = NodesInfoRequest(metrics=request.metrics)
                return await node.transport.execute(NODES_INFO_NODE, asked, NodeInfo, address=address,
                                                    timeout=30.0)
            except StrataError as e:
                return error_to_dict(e)

        answers = await asyncio.gather(*(one(a) for a in targets.values()))
        return NodesResponse(total=len(targets),
                             nodes={a.node_id: a.info for a in answers if isinstance(a, NodeInfo)},
                             failures=[a for a in answers if not isinstance(a, NodeInfo)])

    node.transport.register(NODES_INFO_NODE, NodesInfoRequest, NodeInfo, handle)
    node.transport.register(NODES_INFO, NodesRequest, NodesResponse, nodes_info)
