"""Allocation deciders: may this copy of a shard go to (or stay on) that node? Pure
functions of the cluster state's content, as Elasticsearch's AllocationDecider family,
answering ES-shaped decisions (YES, NO or THROTTLE, the decider's name and ES's text).

`Allocation` is what one reroute (or one explain) knows: the cluster-level allocation
settings, read from the content's metadata (transient over persistent over the default),
the data nodes with their attributes, host and IP, and the recoveries running per node.
The deciders, in ES's order:

- max_retry: a copy that failed `index.allocation.max_retries` (5) times in a row waits
  for `POST /_cluster/reroute?retry_failed`;
- replica_after_primary_active: a replica waits for an active primary;
- enable: `cluster.routing.allocation.enable` or `index.routing.allocation.enable` (all,
  primaries, new_primaries, none);
- filter: `index.` and `cluster.routing.allocation.require|include|exclude.<attribute>`
  over `_name`, `_id`, `_ip`, `_host_ip`, `_publish_ip`, `_host` and custom attributes
  (`node.attr.*`), comma lists with `*` wildcards (DiscoveryNodeFilters);
- same_shard: never two copies of a shard on one node (nor on one host with
  `cluster.routing.allocation.same_shard.host`);
- throttling: at most `node_initial_primaries_recoveries` (4) primaries opening from a
  store and `node_concurrent_incoming_recoveries` / `..._outgoing_recoveries` (both
  `node_concurrent_recoveries`, 2) peer recoveries per node;
- awareness: with `cluster.routing.allocation.awareness.attributes`, at most
  ceil(copies / values) copies of a shard per attribute value (forced values counted).

`decide` runs them for one copy and one node; `force_primary` is ES's
canForceAllocatePrimary (an in-sync primary goes back to its data unless max_retry or
same_shard refuse); `can_remain` runs the deciders that may move a started copy away
(filter, awareness), for relocation to drain nodes.
"""

from __future__ import annotations

import ipaddress
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import msgspec

from ..cluster.coordination.discovery_node import DiscoveryNode
from ..cluster.state import ClusterStateContent, ShardRouting
from ..common.patterns import simple_match
from ..index.metadata import IndexMetadata
from ..settings import (
    CLUSTER_FILTER_PREFIXES,
    FORCED_AWARENESS_PREFIX,
    INDEX_FILTER_PREFIXES,
    INDEX_SETTINGS,
    NODE_SETTINGS,
    TIER_PREFERENCE,
    SettingsError,
    _list,
    tier_list,
)
from .cluster_info import EMPTY, ClusterInfo
from .data_tier import data_tier, in_tier, preferred_tier, present_tiers
from .decision import NO, THROTTLE, YES, Decision
from .disk import DiskThresholds, disk_can_remain, disk_threshold, disk_thresholds

SHUTDOWN_CUSTOM = "node_shutdown"  # the metadata custom holding node shutdown markers


def es_time(millis: int) -> str:
    """Epoch milliseconds as ES's date_optional_time in UTC."""
    seconds, ms = divmod(max(millis, 0), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


# -- node filters (DiscoveryNodeFilters) ------------------------------------------------------


class NodeInfo(NamedTuple):
    """A data node as the deciders see it: ES's host name and host address come from the
    transport address."""

    id: str
    name: str
    attributes: Mapping[str, str]
    host: str
    ip: str | None
    node: DiscoveryNode


def node_info(node: DiscoveryNode) -> NodeInfo:
    address = node.transport_address
    host = (address.rsplit(":", 1)[0] if ":" in address else address).strip("[]")
    try:
        ip: str | None = str(ipaddress.ip_address(host))
    except ValueError:
        ip = None
    return NodeInfo(node.id, node.name, node.attributes, host, ip, node)


class NodeFilters(NamedTuple):
    """One group of filters: `require` (every attribute must match, AND) or `include` /
    `exclude` (any match, OR); each attribute a list of values with `*` wildcards."""

    op: str  # AND | OR
    filters: tuple[tuple[str, tuple[str, ...]], ...]

    def match(self, node: NodeInfo) -> bool:
        conjunction = self.op == "AND"
        for attr, values in self.filters:
            if attr in ("_ip", "_host_ip", "_publish_ip"):
                hit = node.ip is not None and any(simple_match(v, node.ip) for v in values)
                if conjunction and not hit:
                    return False
                if hit and not conjunction:
                    return True
                continue
            if attr == "_host":
                tests: Callable[[str], bool] = lambda v: simple_match(v, node.host) or (  # noqa: E731
                    node.ip is not None and simple_match(v, node.ip))
            elif attr == "_id":
                tests = lambda v: v == node.id  # noqa: E731
            elif attr in ("_name", "name"):
                tests = lambda v: simple_match(v, node.name)  # noqa: E731
            else:
                value = node.attributes.get(attr)
                if value is None:
                    if conjunction:
                        return False
                    continue
                tests = lambda v, value=value: simple_match(v, value)  # noqa: E731
            # ES's loop: under AND every value must match, under OR one is enough.
            for v in values:
                if tests(v):
                    if not conjunction:
                        return True
                elif conjunction:
                    return False
        return conjunction

    def __str__(self) -> str:
        joiner = f" {self.op} "
        return ",".join(f'{attr}:"{joiner.join(values)}"' for attr, values in self.filters)


def build_filters(op: str, raw: Mapping[str, Any]) -> NodeFilters | None:
    """attribute -> comma list (or list) of values; None when nothing is set. Filters on
    `_tier_preference` belong to the data tier decider, left out as ES's trimTier does."""
    filters = []
    for attr, value in raw.items():
        if attr == "_tier_preference":
            continue
        values = tuple(_list(value, attr)) if value is not None else ()
        if values:
            filters.append((attr, values))
    return NodeFilters(op, tuple(filters)) if filters else None


def _groups(settings: Mapping[str, Any], prefixes: tuple[str, str, str]) -> tuple[NodeFilters | None, ...]:
    raw: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] = ({}, {}, {})
    for key, value in settings.items():
        if key.startswith(prefixes):
            for i, prefix in enumerate(prefixes):
                if key.startswith(prefix):
                    raw[i][key[len(prefix):]] = value
    require, include, exclude = raw
    return build_filters("AND", require), build_filters("OR", include), build_filters("OR", exclude)


# -- settings -----------------------------------------------------------------------------------


def _setting(layers: Sequence[Mapping[str, Any]], key: str, default: Any = None) -> Any:
    setting = NODE_SETTINGS[key]
    for layer in layers:
        if key in layer:
            try:
                return setting.parse(layer[key], key)
            except SettingsError:
                continue  # validated on the way in; a reroute never fails on it
    return setting.default if default is None else default


class AllocationSettings(NamedTuple):
    enable: str
    rebalance_enable: str
    allow_rebalance: str
    concurrent_rebalance: int
    shard_balance: float  # theta0 and theta1 of the weight function, normalized to sum to 1
    index_balance: float
    threshold: float
    incoming: int
    outgoing: int
    initial_primaries: int
    awareness: tuple[str, ...]
    forced_awareness: Mapping[str, tuple[str, ...]]
    same_host: bool
    require: NodeFilters | None
    include: NodeFilters | None
    exclude: NodeFilters | None


def allocation_settings(transient: Mapping[str, Any], persistent: Mapping[str, Any]) -> AllocationSettings:
    """The cluster-level allocation settings of a metadata: transient over persistent over
    the default (a node's own file may not set them, see settings.py)."""
    layers = (transient, persistent)
    merged = {**persistent, **transient}
    concurrent = _setting(layers, "cluster.routing.allocation.node_concurrent_recoveries")
    forced: dict[str, tuple[str, ...]] = {}
    for key, value in merged.items():
        if key.startswith(FORCED_AWARENESS_PREFIX) and key.endswith(".values"):
            values = tuple(_list(value, key))
            if values:
                forced[key[len(FORCED_AWARENESS_PREFIX):-len(".values")]] = values
    require, include, exclude = _groups(merged, CLUSTER_FILTER_PREFIXES)
    prefix = "cluster.routing.allocation."
    shard_balance = _setting(layers, prefix + "balance.shard")
    index_balance = _setting(layers, prefix + "balance.index")
    total = shard_balance + index_balance
    if total <= 0:  # ES refuses both at 0; a reroute never fails, so both count alike
        shard_balance = index_balance = total = 1.0
    return AllocationSettings(
        enable=_setting(layers, prefix + "enable"),
        rebalance_enable=_setting(layers, "cluster.routing.rebalance.enable"),
        allow_rebalance=_setting(layers, prefix + "allow_rebalance"),
        concurrent_rebalance=_setting(layers, prefix + "cluster_concurrent_rebalance"),
        shard_balance=shard_balance / total, index_balance=index_balance / total,
        threshold=_setting(layers, prefix + "balance.threshold"),
        incoming=_setting(layers, prefix + "node_concurrent_incoming_recoveries", concurrent),
        outgoing=_setting(layers, prefix + "node_concurrent_outgoing_recoveries", concurrent),
        initial_primaries=_setting(layers, prefix + "node_initial_primaries_recoveries"),
        awareness=tuple(_setting(layers, prefix + "awareness.attributes")),
        forced_awareness=forced,
        same_host=_setting(layers, prefix + "same_shard.host"),
        require=require, include=include, exclude=exclude)


class IndexAllocation(NamedTuple):
    """An index's allocation settings, parsed once per reroute."""

    enable: str | None  # None: the cluster's applies
    rebalance_enable: str | None
    max_retries: int
    delayed_timeout_ms: int  # index.unassigned.node_left.delayed_timeout
    tier_preference: tuple[str, ...]
    require: NodeFilters | None
    include: NodeFilters | None
    exclude: NodeFilters | None


# IndexMetadata is immutable, and most of it outlives many reroutes: its allocation
# settings are parsed once per metadata value (weakly held, dropped with it).
_INDEX_ALLOCATION: dict[int, tuple[weakref.ref, IndexAllocation]] = {}


def index_allocation(metadata: IndexMetadata) -> IndexAllocation:
    key = id(metadata)
    hit = _INDEX_ALLOCATION.get(key)
    if hit is not None and hit[0]() is metadata:
        return hit[1]
    value = _parse_index_allocation(metadata)
    forget = lambda _, key=key: _INDEX_ALLOCATION.pop(key, None)  # noqa: E731
    _INDEX_ALLOCATION[key] = (weakref.ref(metadata, forget), value)
    return value


def _parse_index_allocation(metadata: IndexMetadata) -> IndexAllocation:
    settings = metadata.settings
    enable = settings.get("index.routing.allocation.enable")
    rebalance = settings.get("index.routing.rebalance.enable")
    require, include, exclude = _groups(settings, INDEX_FILTER_PREFIXES)
    return IndexAllocation(str(enable).lower() if enable is not None else None,
                           str(rebalance).lower() if rebalance is not None else None,
                           _index_setting(metadata, "index.allocation.max_retries"),
                           round(_index_setting(metadata, _DELAYED_TIMEOUT) * 1000),
                           tier_list(_index_setting(metadata, TIER_PREFERENCE)), require, include, exclude)


_DELAYED_TIMEOUT = "index.unassigned.node_left.delayed_timeout"


def _index_setting(metadata: IndexMetadata, key: str) -> Any:
    try:
        return metadata.setting(key)
    except SettingsError:
        return INDEX_SETTINGS[key].default  # validated on the way in; a reroute never fails on it


# -- what one reroute knows ---------------------------------------------------------------------


class Allocation:
    """The context of one reroute or explain. `debug` keeps every decider's answer (the
    explain API; YES ones only with `include_yes`), else deciding stops at the first NO.
    `ignore_disable` is set while reroute commands run (ES ignores `enable` for them).
    `info` is the master's last cluster info (disk usages and shard sizes) and
    `node_settings` the master's own settings, the layer under the cluster state's for
    the disk threshold settings."""

    def __init__(self, content: ClusterStateContent, nodes: Mapping[str, DiscoveryNode], *,
                 info: ClusterInfo = EMPTY, node_settings: Mapping[str, Any] = {},
                 debug: bool = False, include_yes: bool = False):
        self.content = content
        self.indices = content.metadata.indices
        metadata = content.metadata
        self.settings = allocation_settings(metadata.transient_settings, metadata.persistent_settings)
        self.info = info
        self.disk: DiskThresholds = disk_thresholds(
            (metadata.transient_settings, metadata.persistent_settings, node_settings))
        self.nodes = nodes
        self.data_nodes = {n: node_info(d) for n, d in sorted(nodes.items()) if d.is_data_node}
        self.debug = debug
        self.include_yes = include_yes
        self.ignore_disable = False
        self._index: dict[str, IndexAllocation] = {}
        self._attribute_values: dict[str, set[str]] = {}
        # Per data node: copies held, primaries initializing from a store, and incoming and
        # outgoing peer recoveries (a replica initializing, and its primary's node).
        # Node shutdown markers (`PUT /_nodes/{id}/shutdown`): node id -> type, reason, ...
        self.shutdowns: Mapping[str, Mapping[str, Any]] = metadata.customs.get(SHUTDOWN_CUSTOM) or {}
        self.load = dict.fromkeys(self.data_nodes, 0)
        # Bytes of relocations under way per node, moving in and moving out (the disk
        # decider charges them); counted only when there are disk usages to charge.
        self.incoming_bytes: dict[str, int] = {}
        self.leaving_bytes: dict[str, int] = {}
        self._tiers: frozenset[str] | None = None
        self._pressed: frozenset[str] | None = None
        self._out_of_tier: dict[tuple[str, ...], frozenset[str]] = {}
        self._preferred: dict[tuple[str, ...], str | None] = {}
        self.initializing_primaries = dict.fromkeys(self.data_nodes, 0)
        self.incoming = dict.fromkeys(self.data_nodes, 0)
        self.outgoing = dict.fromkeys(self.data_nodes, 0)
        # The cluster-wide activity the rebalance deciders read (ES's RoutingNodes counts):
        # filled by `count_activity` just before rebalancing, kept up by `relocated`.
        self.unassigned = self.unassigned_primaries = 0
        self.inactive = self.inactive_primaries = 0
        self.relocating = 0

    def count_activity(self, routing: Mapping[str, Sequence[ShardRouting]]) -> None:
        """Unassigned and inactive copies (initializing, not as a relocation's target),
        primaries apart, and relocations under way, over the whole routing table."""
        self.unassigned = self.unassigned_primaries = self.inactive = self.inactive_primaries = 0
        self.relocating = 0
        for copies in routing.values():
            for c in copies:
                if c.state == "UNASSIGNED":
                    self.unassigned += 1
                    self.unassigned_primaries += c.primary
                elif c.state == "INITIALIZING" and c.relocating_node is None:
                    self.inactive += 1
                    self.inactive_primaries += c.primary
                elif c.state == "RELOCATING":
                    self.relocating += 1

    def count(self, routing: Mapping[str, Sequence[ShardRouting]]) -> None:
        """Fill the per-node counters from a routing table (once, before any placement)."""
        load = self.load
        sizes = bool(self.info.usages)
        for copies in routing.values():
            for copy in copies:
                node = copy.node
                if sizes and node is not None:
                    self._count_relocation(copy)
                if node in load:
                    if copy.state != "RELOCATING":  # counted at its target, as ES's model does
                        load[node] += 1
                    if copy.state == "INITIALIZING":
                        if copy.primary:
                            self.initializing_primaries[node] += 1
                        else:
                            self.incoming[node] += 1
                            source = active_primary_node(copies, copy.shard)
                            if source in self.outgoing:
                                self.outgoing[source] += 1

    def _count_relocation(self, copy: ShardRouting) -> None:
        """A copy recovering from a peer (a replica or a move's target) is charged to its
        node at the shard's size until it starts (ES counts moves here and the rest as
        reserved space); a moving source is credited to its node for `can_remain`."""
        if copy.state == "INITIALIZING" and not copy.primary:
            self.incoming_bytes[copy.node] = (  # type: ignore[index]
                self.incoming_bytes.get(copy.node, 0) + self.info.expected_size(copy))  # type: ignore[arg-type]
        elif copy.state == "RELOCATING":
            self.leaving_bytes[copy.node] = (  # type: ignore[index]
                self.leaving_bytes.get(copy.node, 0) + self.info.expected_size(copy))  # type: ignore[arg-type]

    def relocated(self, source: ShardRouting, target: ShardRouting, primary_node: str | None) -> None:
        """A started copy just began moving to `target.node`: the source's node holds one
        copy fewer in the balance (ES's model counts a move at its target)."""
        if self.info.usages:
            self._count_relocation(msgspec.structs.replace(source, state="RELOCATING"))
        self.placed(target, target.node, primary_node)  # type: ignore[arg-type]
        if source.node in self.load:
            self.load[source.node] -= 1
        self.relocating += 1

    def placed(self, copy: ShardRouting, node: str, source: str | None) -> None:
        """A copy was just initialized on `node` (recovering from `source`, a replica)."""
        self.load[node] += 1
        if copy.primary:
            self.initializing_primaries[node] += 1
        else:
            self.incoming[node] += 1
            if source in self.outgoing:
                self.outgoing[source] += 1
            if self.info.usages:  # the next copy placed in this reroute sees it coming
                self.incoming_bytes[node] = self.incoming_bytes.get(node, 0) + self.info.expected_size(copy)

    def may_drain(self, name: str) -> bool:
        """Whether a started copy of the index could be asked to move (a filter, awareness
        or a node leaving): when none could, a settled index needs no look at all."""
        s, index = self.settings, self.index(name)
        if (self.shutdowns or s.awareness or s.require or s.include or s.exclude
                or index.require or index.include or index.exclude):
            return True
        outside = self.pressed_nodes()
        if index.tier_preference:
            outside = outside | self.out_of_tier(index.tier_preference)
        copies = self.content.routing_table.indices.get(name, ())
        return bool(outside) and any(c.node in outside for c in copies)

    def pressed_nodes(self) -> frozenset[str]:
        """The nodes past the high watermark (their copies may have to move); read after
        `count`, which charges the recoveries under way."""
        if self._pressed is None:
            high, incoming, leaving = self.disk.high, self.incoming_bytes, self.leaving_bytes
            self._pressed = frozenset(
                n for n, u in self.info.usages.items() if n in self.data_nodes
                and u.free - incoming.get(n, 0) + leaving.get(n, 0) < high.free_threshold(u.total)
            ) if self.disk.enabled else frozenset()
        return self._pressed

    def preferred_tier(self, preference: tuple[str, ...]) -> str | None:
        """The tier an index of this preference goes to: the first with a node that stays."""
        if preference not in self._preferred:
            if self._tiers is None:
                staying = (n.node for i, n in self.data_nodes.items() if not self.removing(i))
                self._tiers = present_tiers(staying)
            self._preferred[preference] = preferred_tier(preference, self._tiers)
        return self._preferred[preference]

    def out_of_tier(self, preference: tuple[str, ...]) -> frozenset[str]:
        """The data nodes an index of this preference may not be on (none, usually)."""
        found = self._out_of_tier.get(preference)
        if found is None:
            tier = self.preferred_tier(preference)
            found = self._out_of_tier[preference] = frozenset(
                i for i, n in self.data_nodes.items() if tier is None or not in_tier(tier, n.node))
        return found

    def removing(self, node_id: str) -> bool:
        marker = self.shutdowns.get(node_id)
        return marker is not None and marker.get("type") in ("remove", "replace")

    def index(self, name: str) -> IndexAllocation:
        found = self._index.get(name)
        if found is None:
            found = self._index[name] = index_allocation(self.indices[name])
        return found

    def attribute_values(self, attribute: str) -> set[str]:
        values = self._attribute_values.get(attribute)
        if values is None:
            values = self._attribute_values[attribute] = {
                n.attributes[attribute] for n in self.data_nodes.values() if attribute in n.attributes}
        return values


def active_primary_node(copies: Iterable[ShardRouting], shard: int) -> str | None:
    for c in copies:
        if c.shard == shard and c.primary and c.state in ("STARTED", "RELOCATING"):
            return c.node
    return None


def existing_store(copy: ShardRouting, metadata: IndexMetadata) -> bool:
    """A primary whose shard has been active (in-sync copies exist) opens from a store
    (ES's EXISTING_STORE recovery source); a new one starts empty."""
    return copy.primary and bool(metadata.in_sync(copy.shard))


def shard_summary(copy: ShardRouting, metadata: IndexMetadata | None = None) -> str:
    """ShardRouting.shortSummary, as ES's explanations quote a copy."""
    out = f"[{copy.index}][{copy.shard}], node[{copy.node}], [{'P' if copy.primary else 'R'}]"
    if copy.state == "INITIALIZING":
        if not copy.primary:
            source = "peer recovery"
        elif metadata is not None and existing_store(copy, metadata):
            source = "existing store recovery; bootstrap_history_uuid=false"
        else:
            source = "new shard recovery"
        out += f", recovery_source[{source}]"
    out += f", s[{copy.state}]"
    if copy.allocation_id:
        out += f", a[id={copy.allocation_id}]"
    return out


def unassigned_summary(copy: ShardRouting) -> str:
    """UnassignedInfo.toString, as max_retry quotes it."""
    out = f"[reason={copy.unassigned_reason or 'INDEX_CREATED'}], at[{es_time(copy.unassigned_at)}]"
    if copy.failed_attempts:
        out += f", failed_attempts[{copy.failed_attempts}]"
    out += ", delayed=false"
    if copy.last_node:
        out += f", last_node[{copy.last_node}]"
    if copy.unassigned_details:
        out += f", details[{copy.unassigned_details}]"
    return f"unassigned_info[{out}, allocation_status[no_attempt]]"


# -- the deciders -------------------------------------------------------------------------------

Copies = Sequence[ShardRouting]  # the copies of one shard, as they stand
Decider = Callable[[ShardRouting, NodeInfo, Copies, Allocation], Decision]
_ALLOCATION = "cluster.routing.allocation."


def max_retry(copy: ShardRouting, node: NodeInfo, shard: Copies, alloc: Allocation) -> Decision:
    failures = copy.failed_attempts
    if failures <= 0:
        return Decision(YES, "max_retry", "shard has no previous failures")
    limit = alloc.index(copy.index).max_retries
    if failures >= limit:
        return Decision(NO, "max_retry",
                        f"shard has exceeded the maximum number of retries [{limit}] on failed "
                        "allocation attempts - manually call "
                        "[POST /_cluster/reroute?retry_failed&metric=none] to retry, "
                        f"[{unassigned_summary(copy)}]")
    return Decision(YES, "max_retry",
                    f"shard has failed allocating [{failures}] times but [{limit}] retries are allowed")


def replica_after_primary_active(copy: ShardRouting, node: NodeInfo, shard: Copies,
                                 alloc: Allocation) -> Decision:
    name = "replica_after_primary_active"
    if copy.primary:
        return Decision(YES, name, "shard is primary and can be allocated")
    if active_primary_node(shard, copy.shard) is None:
        return Decision(NO, name, "primary shard for this replica is not yet active")
    return Decision(YES, name, "primary shard for this replica is already active")


def enable(copy: ShardRouting, node: NodeInfo, shard: Copies, alloc: Allocation) -> Decision:
    if alloc.ignore_disable:
        return Decision(YES, "enable", "explicitly ignoring any disabling of allocation due to manual "
                        "allocation commands via the reroute API")
    index_value = alloc.index(copy.index).enable
    if index_value is not None:
        value, where = index_value, f"index setting [index.routing.allocation.enable={index_value}]"
    else:
        value = alloc.settings.enable
        where = f"cluster setting [{_ALLOCATION}enable={value}]"
    if value == "all":
        return Decision(YES, "enable", "all allocations are allowed")
    if value == "none":
        return Decision(NO, "enable", f"no allocations are allowed due to {where}")
    if value == "new_primaries":
        if (copy.primary and copy.state not in ("STARTED", "RELOCATING")
                and not existing_store(copy, alloc.indices[copy.index])):
            return Decision(YES, "enable", "new primary allocations are allowed")
        return Decision(NO, "enable", f"non-new primary allocations are forbidden due to {where}")
    if copy.primary:  # primaries
        return Decision(YES, "enable", "primary allocations are allowed")
    return Decision(NO, "enable", f"replica allocations are forbidden due to {where}")


def _filter(node: NodeInfo, alloc: Allocation, index: str) -> Decision:
    for scope, prefix, groups in (("cluster", "cluster.routing.allocation", alloc.settings),
                                  ("index", "index.routing.allocation", alloc.index(index))):
        if groups.require is not None and not groups.require.match(node):
            return Decision(NO, "filter", f"node does not match {scope} setting [{prefix}.require] "
                            f"filters [{groups.require}]")
        if groups.include is not None and not groups.include.match(node):
            return Decision(NO, "filter", f"node does not match {scope} setting [{prefix}.include] "
                            f"filters [{groups.include}]")
        if groups.exclude is not None and groups.exclude.match(node):
            # ES names the index group by its affix key, trailing dot included.
            key = f"{prefix}.exclude" + ("." if scope == "index" else "")
            return Decision(NO, "filter", f"node matches {scope} setting [{key}] filters [{groups.exclude}]")
    return Decision(YES, "filter", "node passes include/exclude/require filters")


def may_hold(alloc: Allocation, index: str, node: str) -> bool:
    """ES's canAllocate(index, node) and shouldAutoExpandToNode: the index-level deciders
    (filters, a node leaving, the data tier)."""
    preference = alloc.index(index).tier_preference
    return (not alloc.removing(node) and _filter(alloc.data_nodes[node], alloc, index).type != NO
            and not (preference and node in alloc.out_of_tier(preference)))


def filter_(copy: ShardRouting, node: NodeInfo, shard: Copies, alloc: Allocation) -> Decision:
    return _filter(node, alloc, copy.index)


def same_shard(copy: ShardRouting, node: NodeInfo, shard: Copies, alloc: Allocation) -> Decision:
    for other in shard:
        if other.node == node.id:
            if other.allocation_id is not None and other.allocation_id == copy.allocation_id:
                return Decision(NO, "same_shard", f"this shard is already allocated to this node "
                                f"[{shard_summary(copy)}]")
            return Decision(NO, "same_shard", f"a copy of this shard is already allocated to this node "
                            f"[{shard_summary(other, alloc.indices.get(other.index))}]")
    if not alloc.settings.same_host:
        return Decision(YES, "same_shard", "this node does not hold a copy of this shard")
    for other_id, other in alloc.data_nodes.items():
        if other_id == node.id:
            continue
        if node.ip is not None and other.ip is not None:
            same, kind, host = other.ip == node.ip, "address", node.ip
        else:
            same, kind, host = bool(node.host) and other.host == node.host, "name", node.host
        if same and any(c.node == other_id for c in shard):
            return Decision(NO, "same_shard",
                            f"a copy of this shard is already allocated to host {kind} [{host}], on node "
                            f"[{node.id}], and [{_ALLOCATION}same_shard.host] is [true] which forbids more "
                            "than one node on this host from holding a copy of this shard")
    return Decision(YES, "same_shard", "none of the nodes on this host hold a copy of this shard")


def throttling(copy: ShardRouting, node: NodeInfo, shard: Copies, alloc: Allocation) -> Decision:
    s = alloc.settings
    also = f"(can also be set via [{_ALLOCATION}node_concurrent_recoveries])"
    if copy.primary and copy.state == "UNASSIGNED":  # opening from a store, not recovering from a peer
        recovering = alloc.initializing_primaries.get(node.id, 0)
        if recovering >= s.initial_primaries:
            return Decision(THROTTLE, "throttling",
                            "reached the limit of ongoing initial primary recoveries "
                            f"[{recovering}], cluster setting "
                            f"[{_ALLOCATION}node_initial_primaries_recoveries={s.initial_primaries}]")
        return Decision(YES, "throttling", f"below primary recovery limit of [{s.initial_primaries}]")
    incoming = alloc.incoming.get(node.id, 0)
    if incoming >= s.incoming:
        return Decision(THROTTLE, "throttling",
                        f"reached the limit of incoming shard recoveries [{incoming}], cluster setting "
                        f"[{_ALLOCATION}node_concurrent_incoming_recoveries={s.incoming}] {also}")
    source = active_primary_node(shard, copy.shard)
    if source is None:
        return Decision(NO, "throttling", "primary shard for this replica is not yet active")
    outgoing = alloc.outgoing.get(source, 0)
    if outgoing >= s.outgoing:
        return Decision(THROTTLE, "throttling",
                        f"reached the limit of outgoing shard recoveries [{outgoing}] on the node [{source}] "
                        f"which holds the primary, cluster setting "
                        f"[{_ALLOCATION}node_concurrent_outgoing_recoveries={s.outgoing}] {also}")
    return Decision(YES, "throttling", f"below shard recovery limit of outgoing: [{outgoing} < {s.outgoing}] "
                    f"incoming: [{incoming} < {s.incoming}]")


def _awareness(copy: ShardRouting, node: NodeInfo, shard: Copies, alloc: Allocation,
               moving_here: bool) -> Decision:
    attributes = alloc.settings.awareness
    if not attributes:
        return Decision(YES, "awareness", "allocation awareness is not enabled, set cluster setting "
                        f"[{_ALLOCATION}awareness.attributes] to enable it")
    metadata = alloc.indices[copy.index]
    copies = metadata.number_of_replicas + 1
    for attribute in attributes:
        target = node.attributes.get(attribute)
        if target is None:
            return Decision(NO, "awareness",
                            f"node does not contain the awareness attribute [{attribute}]; required "
                            f"attributes cluster setting "
                            f"[{_ALLOCATION}awareness.attributes={','.join(attributes)}]")
        here = 0
        for other in shard:
            if other.state in ("STARTED", "INITIALIZING") and other.node is not None:
                other_node = alloc.data_nodes.get(other.node)
                if other_node is not None and other_node.attributes.get(attribute) == target:
                    here += 1
        if moving_here:
            if copy.node is None:
                here += 1
            elif copy.node != node.id:
                current = alloc.data_nodes.get(copy.node)
                if current is None or current.attributes.get(attribute) != target:
                    here += 1
        actual = alloc.attribute_values(attribute)
        forced = alloc.settings.forced_awareness.get(attribute)
        values = len(actual | set(forced)) if forced else len(actual)
        most = -(-copies // values)
        if here > most:
            forced_text = f"{_java_list(forced)} from forced awareness" if forced else "no forced awareness"
            return Decision(NO, "awareness",
                            f"there are [{copies}] copies of this shard and [{values}] values for "
                            f"attribute [{attribute}] ({_java_list(actual)} from nodes in the cluster and "
                            f"{forced_text}) so there may be at most [{most}] copies of this shard "
                            "allocated to nodes with each value, but (including this copy) there would be "
                            f"[{here}] copies allocated to nodes with [node.attr.{attribute}: {target}]")
    return Decision(YES, "awareness", "node meets all awareness attribute requirements")


def _java_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(sorted(values)) + "]"


def awareness(copy: ShardRouting, node: NodeInfo, shard: Copies, alloc: Allocation) -> Decision:
    return _awareness(copy, node, shard, alloc, True)


def node_shutdown(copy: ShardRouting, node: NodeInfo, shard: Copies, alloc: Allocation) -> Decision:
    """ES's NodeShutdownAllocationDecider: nothing new on a node being removed or replaced."""
    marker = alloc.shutdowns.get(node.id)
    if marker is None:
        return Decision(YES, "node_shutdown", "this node is not currently shutting down")
    kind = marker.get("type", "").upper()
    if alloc.removing(node.id):
        return Decision(NO, "node_shutdown", f"node [{node.id}] is preparing to be removed from the cluster")
    return Decision(YES, "node_shutdown", f"node [{node.id}] is preparing to restart, but will remain in the "
                    f"cluster ({kind})")


# -- rebalancing (ES's canRebalance) -----------------------------------------------------------


def rebalance_only_when_active(copy: ShardRouting, shard: Copies, alloc: Allocation) -> Decision:
    name = "rebalance_only_when_active"
    if any(c.state != "STARTED" for c in shard if c is not copy):
        return Decision(NO, name, "rebalancing is not allowed until all replicas in the cluster are active")
    return Decision(YES, name, "rebalancing is allowed as all replicas are active in the cluster")


def cluster_rebalance(alloc: Allocation) -> Decision:
    """ClusterRebalanceAllocationDecider: `cluster.routing.allocation.allow_rebalance`."""
    allow, name = alloc.settings.allow_rebalance, "cluster_rebalance"
    setting = f"cluster setting [{_ALLOCATION}allow_rebalance] is set to [{allow}]"
    if allow == "indices_primaries_active":
        if alloc.unassigned_primaries:
            return Decision(NO, name, f"the cluster has unassigned primary shards and {setting}")
        if alloc.inactive_primaries:
            return Decision(NO, name, f"the cluster has inactive primary shards and {setting}")
        return Decision(YES, name, "all primary shards are active")
    if allow == "indices_all_active":
        if alloc.unassigned:
            return Decision(NO, name, f"the cluster has unassigned shards and {setting}")
        if alloc.inactive:
            return Decision(NO, name, f"the cluster has inactive shards and {setting}")
    return Decision(YES, name, "all shards are active")


def concurrent_rebalance(alloc: Allocation) -> Decision:
    """ConcurrentRebalanceAllocationDecider: every relocation under way counts, a drain's too."""
    limit = alloc.settings.concurrent_rebalance
    if limit == -1:
        return Decision(YES, "concurrent_rebalance", "unlimited concurrent rebalances are allowed")
    if alloc.relocating >= limit:
        return Decision(THROTTLE, "concurrent_rebalance",
                        f"reached the limit of concurrently rebalancing shards [{alloc.relocating}], cluster "
                        f"setting [{_ALLOCATION}cluster_concurrent_rebalance={limit}]")
    return Decision(YES, "concurrent_rebalance", f"below threshold [{limit}] for concurrent rebalances, "
                    f"current rebalance shard count [{alloc.relocating}]")


def enable_rebalance(copy: ShardRouting | None, alloc: Allocation) -> Decision:
    """EnableAllocationDecider's rebalance half: `cluster.routing.rebalance.enable`, or the
    index's `index.routing.rebalance.enable`; with no copy, the cluster-wide question."""
    if alloc.ignore_disable:
        return Decision(YES, "enable", "allocation is explicitly ignoring any disabling of rebalancing")
    cluster_value = alloc.settings.rebalance_enable
    if copy is None:
        if cluster_value != "none":
            return Decision(YES, "enable", "rebalancing is not globally disabled")
        if any(alloc.index(name).rebalance_enable not in (None, "none") for name in alloc.indices):
            return Decision(YES, "enable", "rebalancing is permitted on one or more indices")
        return Decision(NO, "enable", "no rebalancing is allowed due to cluster setting "
                        "[cluster.routing.rebalance.enable=none]")
    index_value = alloc.index(copy.index).rebalance_enable
    if index_value is not None:
        value, where = index_value, f"index setting [index.routing.rebalance.enable={index_value}]"
    else:
        value, where = cluster_value, f"cluster setting [cluster.routing.rebalance.enable={cluster_value}]"
    if value == "all":
        return Decision(YES, "enable", "all rebalancing is allowed")
    if value == "none":
        return Decision(NO, "enable", f"no rebalancing is allowed due to {where}")
    if value == "primaries":
        if copy.primary:
            return Decision(YES, "enable", "primary rebalancing is allowed")
        return Decision(NO, "enable", f"replica rebalancing is forbidden due to {where}")
    if copy.primary:  # replicas
        return Decision(NO, "enable", f"primary rebalancing is forbidden due to {where}")
    return Decision(YES, "enable", "replica rebalancing is allowed")


def can_rebalance_cluster(alloc: Allocation) -> tuple[str, list[Decision]]:
    """ES's canRebalance(allocation): may the balancer move anything at all now?"""
    return _combine((cluster_rebalance(alloc), concurrent_rebalance(alloc), enable_rebalance(None, alloc)),
                    alloc)


def can_rebalance(copy: ShardRouting, shard: Copies, alloc: Allocation) -> tuple[str, list[Decision]]:
    """ES's canRebalance(shard, allocation), in ES's decider order: may this started copy
    be moved to balance the cluster (where to is `decide`'s question)?"""
    return _combine((rebalance_only_when_active(copy, shard, alloc), cluster_rebalance(alloc),
                     concurrent_rebalance(alloc), enable_rebalance(copy, alloc)), alloc)


DECIDERS: tuple[Decider, ...] = (max_retry, replica_after_primary_active, enable, node_shutdown, filter_,
                                 same_shard, disk_threshold, throttling, awareness, data_tier)
# The deciders whose NO still holds when an in-sync primary is forced back to its data.
_FORCE_KEEPS_NO = frozenset({"max_retry", "same_shard"})


def _combine(decisions: Iterable[Decision], alloc: Allocation) -> tuple[str, list[Decision]]:
    """The combined type of a run of decisions and the ones kept: all of them in debug
    mode (YES ones only with include_yes), else the run stops at the first NO."""
    kept: list[Decision] = []
    result = YES
    for d in decisions:
        if d.type == NO:
            result = NO
            if not alloc.debug:
                return NO, [d]
        elif d.type == THROTTLE and result == YES:
            result = THROTTLE
        if d.type != YES or alloc.include_yes:
            kept.append(d)
    return result, kept


def decide(copy: ShardRouting, node: NodeInfo, shard: Copies,
           alloc: Allocation) -> tuple[str, list[Decision]]:
    """ES's AllocationDeciders.canAllocate."""
    return _combine((decider(copy, node, shard, alloc) for decider in DECIDERS), alloc)


def force_primary(copy: ShardRouting, node: NodeInfo, shard: Copies,
                  alloc: Allocation) -> tuple[str, list[Decision]]:
    """ES's canForceAllocatePrimary: every decider's NO becomes YES ("allowed to force
    allocate") except max_retry's and same_shard's."""
    def forced(d: Decision) -> Decision:
        if d.type == NO and d.decider not in _FORCE_KEEPS_NO:
            return Decision(YES, d.decider, f"primary shard [[{copy.index}][{copy.shard}]] allowed to force "
                            f"allocate on node [{node.id}]")
        return d

    return _combine((forced(decider(copy, node, shard, alloc)) for decider in DECIDERS), alloc)


def can_remain(copy: ShardRouting, node: NodeInfo, shard: Copies,
               alloc: Allocation) -> tuple[str, list[Decision]]:
    """May a started copy stay where it is? Not on a node being removed, nor where a filter
    now excludes it, nor on a disk past the high watermark, nor where awareness wants it
    elsewhere, nor outside its preferred tier; the reroute moves it on a NO."""
    return _combine((node_shutdown(copy, node, shard, alloc), _filter(node, alloc, copy.index),
                     disk_can_remain(copy, node, shard, alloc), _awareness(copy, node, shard, alloc, False),
                     data_tier(copy, node, shard, alloc)), alloc)
