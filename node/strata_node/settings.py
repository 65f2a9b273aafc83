"""Typed settings: node settings from the YAML file, the environment and `-E` flags, and
index settings from create-index bodies.

Every setting is registered once with its type, default and scope; anything else is
refused with Elasticsearch's message, so a typo stops start-up instead of being ignored.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .common.machine import available_processors
from .common.units import (
    INT_MAX,
    RelativeByteSize,
    human_bytes,
    java_int,
    java_long,
    parse_bytes,
    parse_relative_bytes,
    parse_time,
)
from .index.analysis import validate_analysis_settings

ALL_ROLES = ("master", "data", "data_content", "data_hot", "data_warm", "data_cold", "data_frozen",
             "ingest", "remote_cluster_client")


class SettingsError(ValueError):
    """A setting that is unknown or whose value does not parse."""


def _int(minimum: int | None = None, maximum: int | None = None) -> Callable[[Any, str], int]:
    def parse(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}]")
        n = java_int(str(value).strip())
        if n is None:
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}]")
        if minimum is not None and n < minimum:
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}] must be >= {minimum}")
        if maximum is not None and n > maximum:
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}] must be <= {maximum}")
        return n

    return parse


def _long(minimum: int) -> Callable[[Any, str], int]:
    """Setting.longSetting: a Java long, at least `minimum`."""
    def parse(value: Any, key: str) -> int:
        n = java_long(str(value).strip()) if isinstance(value, int | str) and not isinstance(value, bool) \
            else None
        if n is None:
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}]")
        if n < minimum:
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}] must be >= {minimum}")
        return n

    return parse


AUTO_EXPAND_REPLICAS = "index.auto_expand_replicas"


def auto_expand_replicas(value: Any) -> tuple[int, int] | None:
    """AutoExpandReplicas.parse: `false` (None), or `min-max` with max a number or `all`
    (Java's Integer.MAX_VALUE)."""
    text = str(value)
    if text == "false":
        return None
    dash = text.find("-")
    failed = SettingsError(f"failed to parse [{AUTO_EXPAND_REPLICAS}] from value: [{text}] at index {dash}")
    if dash < 0:
        raise failed
    low = java_int(text[:dash])
    high = INT_MAX if text[dash + 1:] == "all" else java_int(text[dash + 1:])
    if low is None or high is None:
        raise failed
    if low > high:
        raise SettingsError(f"[{AUTO_EXPAND_REPLICAS}] minReplicas must be =< maxReplicas but wasn't "
                            f"{low} > {high}")
    return low, high


def _auto_expand(value: Any, key: str) -> str:
    auto_expand_replicas(value)
    return str(value)


def _port(value: Any, key: str) -> int:
    return _int(0, 65535)(value, key)


def _str(value: Any, key: str) -> str:
    if isinstance(value, dict | list):
        raise SettingsError(f"Failed to parse value [{value}] for setting [{key}]: expected a string")
    return str(value)


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value)
    if text in ("true", "false"):
        return text == "true"
    raise SettingsError(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


def active_shard_count(value: Any, key: str = "wait_for_active_shards") -> int | str:
    """ActiveShardCount.parseString: `all`, or a count of copies (0: wait for none)."""
    text = str(value).strip()
    if text == "all":
        return "all"
    count = java_int(text) if not isinstance(value, bool) else None
    if count is None:
        raise SettingsError(f"cannot parse ActiveShardCount[{value}]")
    if count < 0:
        raise SettingsError("shard count cannot be a negative value")
    return count


def _list(value: Any, key: str) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [v.strip() for v in text.split(",") if v.strip()]


def _roles(value: Any, key: str) -> list[str]:
    roles = _list(value, key)
    for role in roles:
        if role not in ALL_ROLES:
            raise SettingsError(f"unknown role [{role}] in setting [{key}]; known roles are "
                                f"[{', '.join(ALL_ROLES)}]")
    return roles


def _time(value: Any, key: str) -> float:
    try:
        return parse_time(value, key)
    except ValueError as e:
        raise SettingsError(str(e)) from None


def _bytes(value: Any, key: str) -> int:
    try:
        return parse_bytes(value, key)
    except ValueError as e:
        raise SettingsError(str(e)) from None


def _headroom(value: Any, key: str) -> int:
    """A disk watermark's max headroom: a byte size, or -1 (none)."""
    if str(value).strip() == "-1":
        return -1
    return _bytes(value, key)


_headroom.is_bytes = True  # type: ignore[attr-defined]


def _relative_bytes(value: Any, key: str) -> RelativeByteSize:
    try:
        return parse_relative_bytes(value, key)
    except ValueError as e:
        raise SettingsError(str(e)) from None


def is_byte_size(setting: Setting) -> bool:
    """Whether a setting's values are byte sizes (printed with a unit)."""
    return setting.parse is _bytes or getattr(setting.parse, "is_bytes", False)


def is_time(setting: Setting) -> bool:
    """Whether a setting's values are times (seconds here, printed with a unit)."""
    return setting.parse is _time or getattr(setting.parse, "is_time", False)


def check_soft_deletes(parsed: Mapping[str, Any]) -> None:
    """Soft deletes are how a shard keeps its history (Strata's operation history, which
    replication and recovery read): always on, and refused off where an index is made, as
    Elasticsearch 8's MetadataCreateIndexService refuses it. The setting itself is a plain
    static boolean, so changing it on an index is refused as any static setting is."""
    if parsed.get("index.soft_deletes.enabled") is False:
        raise SettingsError("Creating indices with soft-deletes disabled is no longer supported. Please do "
                            "not specify a value for setting [index.soft_deletes.enabled].")


def _enum(*choices: str) -> Callable[[Any, str], str]:
    def parse(value: Any, key: str) -> str:
        text = str(value).lower()
        if text not in choices:
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}]: must be one of "
                                f"[{', '.join(choices)}]")
        return text

    return parse


def _ip_list(value: Any, key: str) -> list[str]:
    """A node filter's values (DiscoveryNodeFilters): a comma list; under `_ip`, `_host_ip`
    and `_publish_ip` each value without a wildcard must be an IP address."""
    if isinstance(value, dict):
        raise SettingsError(f"Failed to parse value [{value}] for setting [{key}]")
    values = _list(value, key)
    if key.endswith(("._ip", "._host_ip", "_publish_ip")):
        for v in values:
            if "*" not in v:
                try:
                    ipaddress.ip_address(v)
                except ValueError:
                    raise SettingsError(f"invalid IP address [{v}] for [{key}]") from None
    return values


def _float(minimum: float) -> Callable[[Any, str], float]:
    def parse(value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}]")
        try:
            n = float(str(value).strip())
        except ValueError:
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}]") from None
        if n < minimum:
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}] must be >= {minimum}")
        return n

    return parse


def _float_range(minimum: float, maximum: float) -> Callable[[Any, str], float]:
    at_least = _float(minimum)

    def parse(value: Any, key: str) -> float:
        n = at_least(value, key)
        if n > maximum:
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}] must be <= {maximum}")
        return n

    return parse


def _processors(value: Any, key: str) -> float:
    """ES's `node.processors`: more than zero, at most the processors the node may use."""
    n = _float(float("-inf"))(value, key)
    if not math.isfinite(n):
        raise SettingsError(f"Failed to parse value [{value}] for setting [{key}]")
    if n <= 0.0:
        raise SettingsError(f"Failed to parse value [{value}] for setting [{key}] must be > 0")
    available = available_processors()
    if n > available:
        raise SettingsError(f"Failed to parse value [{value}] for setting [{key}] must be <= {available}")
    return round(n, 5)


def _time_min(minimum: float) -> Callable[[Any, str], float]:
    def parse(value: Any, key: str) -> float:
        seconds = _time(value, key)
        if seconds < minimum:
            raise SettingsError(f"failed to parse value [{value}] for setting [{key}], must be >= "
                                f"[{int(minimum * 1000)}ms]")
        return seconds

    parse.is_time = True

    return parse


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    parse: Callable[[Any, str], Any]
    dynamic: bool = False
    private: bool = False  # set by the system, never by a user
    final: bool = False  # fixed at index creation, even on a closed index (Property.Final)

    def get(self, values: Mapping[str, Any]) -> Any:
        raw = values.get(self.key)
        if raw is None:
            return self.default(values) if callable(self.default) else self.default
        return self.parse(raw, self.key)


TIER_PREFERENCE = "index.routing.allocation.include._tier_preference"
DATA_TIERS = ("data_content", "data_hot", "data_warm", "data_cold", "data_frozen")


def tier_list(value: str) -> tuple[str, ...]:
    """DataTier.parseTierList: split on commas, untrimmed, trailing empty parts dropped (as
    Java's split); blank is no preference."""
    if not value or not value.strip():
        return ()
    parts = value.split(",")
    while parts and parts[-1] == "":
        parts.pop()
    return tuple(parts)


def _tier_preference(value: Any, key: str) -> str:
    """ES's DataTierSettingValidator. data_frozen is for partial searchable snapshots,
    which Strata does not have, so no index may prefer it."""
    text = _str(value, key)
    tiers = tier_list(text)
    if any(tier not in DATA_TIERS for tier in tiers):
        raise SettingsError(f"invalid tier names found in [{text}] allowed values are "
                            "[data_hot, data_content, data_warm, data_cold, data_frozen]")
    if "data_frozen" in tiers:
        raise SettingsError("[data_frozen] tier can only be used for partial searchable snapshots")
    return text


def _default_node_name(values: Mapping[str, Any]) -> str:
    return socket.gethostname()


DISK_PREFIX = "cluster.routing.allocation.disk."
WATERMARK_LOW = DISK_PREFIX + "watermark.low"
WATERMARK_HIGH = DISK_PREFIX + "watermark.high"
WATERMARK_FLOOD = DISK_PREFIX + "watermark.flood_stage"
WATERMARKS = (WATERMARK_LOW, WATERMARK_HIGH, WATERMARK_FLOOD)


def _default_headroom(values: Mapping[str, Any], gigabytes: int) -> int:
    """ES's max headroom defaults hold only while no watermark is set."""
    return -1 if any(key in values for key in WATERMARKS) else gigabytes << 30


def check_disk_settings(values: Mapping[str, Any]) -> None:
    """ES's watermark and max headroom validators, over the settings as they would stand
    (node, persistent and transient layers merged): the three watermarks all shares or all
    byte sizes, in order, and headrooms only beside shares, each at most the one before."""
    low, high, flood = (NODE_SETTINGS[key].get(values) for key in WATERMARKS)
    if low.absolute != high.absolute or high.absolute != flood.absolute:
        raise SettingsError(f"unable to consistently parse [{WATERMARK_LOW}={low}], "
                            f"[{WATERMARK_HIGH}={high}], and [{WATERMARK_FLOOD}={flood}] as percentage or "
                            "bytes")
    if low.absolute:
        if low.bytes < high.bytes:
            raise SettingsError(f"low disk watermark [{low}] less than high disk watermark [{high}]")
        if high.bytes < flood.bytes:
            raise SettingsError(f"high disk watermark [{high}] less than flood stage disk watermark "
                                f"[{flood}]")
    else:
        if low.percent > high.percent:
            raise SettingsError(f"low disk watermark [{low}] more than high disk watermark [{high}]")
        if high.percent > flood.percent:
            raise SettingsError(f"high disk watermark [{high}] more than flood stage disk watermark "
                                f"[{flood}]")
    keys = [key + ".max_headroom" for key in WATERMARKS]
    low_room, high_room, flood_room = (NODE_SETTINGS[key].get(values) for key in keys)
    if any(values.get(key) is not None and NODE_SETTINGS[key].get(values) < 0 for key in keys):
        raise SettingsError("setting a headroom value to less than 0 is not supported")
    text = lambda n: "-1" if n < 0 else human_bytes(n)  # noqa: E731
    if low.absolute and (low_room, high_room, flood_room) != (-1, -1, -1):
        raise SettingsError(f"At least one of the disk max headroom settings is set [low={text(low_room)}, "
                            f"high={text(high_room)}, flood={text(flood_room)}], while the disk watermark "
                            "values are set to absolute values instead of ratios/percentages, e.g., the low "
                            f"watermark is [{low}]")
    if low_room > 0 and high_room < 0:
        raise SettingsError(f"high disk max headroom [{text(high_room)}] is not set, while the low disk max "
                            f"headroom is set [{text(low_room)}]")
    if high_room > 0 and flood_room < 0:
        raise SettingsError(f"flood disk max headroom [{text(flood_room)}] is not set, while the high disk "
                            f"max headroom is set [{text(high_room)}]")
    if low_room > 0 and high_room > low_room:
        raise SettingsError(f"high disk max headroom [{text(high_room)}] more than low disk max headroom "
                            f"[{text(low_room)}]")
    if high_room > 0 and flood_room > high_room:
        raise SettingsError(f"flood disk max headroom [{text(flood_room)}] more than high disk max headroom "
                            f"[{text(high_room)}]")


NODE_SETTINGS: dict[str, Setting] = {s.key: s for s in [
    Setting("cluster.name", "strata", _str),
    Setting("node.name", _default_node_name, _str),
    Setting("node.roles", list(ALL_ROLES), _roles),
    # What the node counts as its processors (autoscaling's current capacity).
    Setting("node.processors", lambda v: float(available_processors()), _processors),
    Setting("path.data", "data", _str),
    Setting("path.logs", "logs", _str),
    Setting("path.config", "config", _str),
    Setting("path.repo", [], _list),  # the folders `fs` snapshot repositories may use
    Setting("network.host", "127.0.0.1", _str),
    Setting("http.host", lambda v: v.get("network.host", "127.0.0.1"), _str),
    Setting("http.port", 9200, _port),
    Setting("http.max_content_length", 100 * 1024 * 1024, _bytes),
    Setting("transport.host", lambda v: v.get("network.host", "127.0.0.1"), _str),
    Setting("transport.port", 9300, _port),
    # The shared cluster secret every transport request proves it holds. When unset, a
    # node generates one at first start and keeps it in its data path (a one-node
    # cluster); nodes of one cluster must be given the same value.
    Setting("transport.secret", None, _str),
    Setting("discovery.seed_hosts", [], _list),
    Setting("discovery.type", "multi-node", _enum("multi-node", "single-node")),
    Setting("cluster.initial_master_nodes", [], _list),
    # Coordination timings (ES's names; the node turns them into ticks of
    # cluster.coordination.tick_interval). Checks time out after 1s rather than ES's 10s,
    # so a lost master is replaced in a few seconds.
    Setting("cluster.coordination.tick_interval", 0.1, _time_min(0.01)),
    Setting("discovery.find_peers_interval", 1.0, _time_min(0.1)),
    Setting("cluster.election.initial_timeout", 0.1, _time_min(0.01)),
    Setting("cluster.election.back_off_time", 0.1, _time_min(0.01)),
    Setting("cluster.election.max_timeout", 10.0, _time_min(0.2)),
    Setting("cluster.election.duration", 0.5, _time_min(0.01)),
    Setting("cluster.fault_detection.leader_check.interval", 1.0, _time_min(0.1)),
    Setting("cluster.fault_detection.leader_check.timeout", 1.0, _time_min(0.01)),
    Setting("cluster.fault_detection.leader_check.retry_count", 3, _int(1)),
    Setting("cluster.fault_detection.follower_check.interval", 1.0, _time_min(0.1)),
    Setting("cluster.fault_detection.follower_check.timeout", 1.0, _time_min(0.01)),
    Setting("cluster.fault_detection.follower_check.retry_count", 3, _int(1)),
    Setting("cluster.publish.timeout", 30.0, _time_min(0.01)),
    Setting("cluster.follower_lag.timeout", 90.0, _time_min(0.01)),
    Setting("cluster.auto_shrink_voting_configuration", True, _bool, dynamic=True),
    Setting("indices.recovery.max_bytes_per_sec", 40 * 1024 * 1024, _bytes, dynamic=True),
    # How many voting configuration exclusions may exist at once (POST
    # /_cluster/voting_config_exclusions), as in Elasticsearch.
    Setting("cluster.max_voting_config_exclusions", 10, _int(1), dynamic=True),
    # How often the master places persistent tasks no node could take (ES's name and
    # default; the minimum is 1s where ES's is 10s, so tests need not wait).
    Setting("cluster.persistent_tasks.allocation.recheck_interval", 30.0, _time_min(1.0), dynamic=True),
    # Lets tests cut this node off from others (POST /_strata/fault/disconnect): the
    # transport-level fault switch the partition tests use. Never on in production.
    Setting("strata.fault_injection", False, _bool),
    # The test and demo actions (POST /_strata/sleep with its transport actions, PUT|DELETE
    # /_strata/persistent and the strata/test/counter persistent task): off in production,
    # where they would let any REST client park work on every node.
    Setting("strata.test_actions.enabled", False, _bool),
    Setting("action.auto_create_index", "true", _str, dynamic=True),
    Setting("action.destructive_requires_name", True, _bool, dynamic=True),
    # The timeout of a search that sets none (-1: none), as in Elasticsearch.
    Setting("search.default_search_timeout", -1.0, _time, dynamic=True),
    # The longest a scroll context may be kept between pages (the bulk-by-scroll actions').
    Setting("search.max_keep_alive", 86400.0, _time_min(0.001), dynamic=True),
    # Shard allocation (allocation/deciders.py), read from the cluster state's metadata.
    Setting("cluster.routing.allocation.enable", "all", _enum("all", "primaries", "new_primaries", "none"),
            dynamic=True),
    Setting("cluster.routing.allocation.node_concurrent_recoveries", 2, _int(0), dynamic=True),
    # Unset, these two follow node_concurrent_recoveries (allocation/deciders.py).
    Setting("cluster.routing.allocation.node_concurrent_incoming_recoveries", 2, _int(0), dynamic=True),
    Setting("cluster.routing.allocation.node_concurrent_outgoing_recoveries", 2, _int(0), dynamic=True),
    Setting("cluster.routing.allocation.node_initial_primaries_recoveries", 4, _int(0), dynamic=True),
    Setting("cluster.routing.allocation.awareness.attributes", [], _list, dynamic=True),
    Setting("cluster.routing.allocation.same_shard.host", False, _bool, dynamic=True),
    # The balancer (allocation/balancer.py): the weight factors of the shards per node and of
    # an index's shards per node, and the weight gain below which no shard moves (at least 1,
    # as in Elasticsearch 8: one move changes two nodes' weights by 1 each, so a smaller
    # threshold would swap shards between equally loaded nodes forever).
    Setting("cluster.routing.allocation.balance.shard", 0.45, _float(0.0), dynamic=True),
    Setting("cluster.routing.allocation.balance.index", 0.55, _float(0.0), dynamic=True),
    Setting("cluster.routing.allocation.balance.threshold", 1.0, _float(1.0), dynamic=True),
    # The rebalance deciders (allocation/deciders.py): what may move, when, and how many at once.
    Setting("cluster.routing.rebalance.enable", "all", _enum("all", "primaries", "replicas", "none"),
            dynamic=True),
    Setting("cluster.routing.allocation.allow_rebalance", "indices_all_active",
            _enum("always", "indices_primaries_active", "indices_all_active"), dynamic=True),
    Setting("cluster.routing.allocation.cluster_concurrent_rebalance", 2, _int(-1), dynamic=True),
    # The disk threshold decider and monitor (allocation/disk.py), fed by the master's
    # cluster info (cluster/info_service.py). A watermark is a share of the disk in use or
    # the free space that must remain; the headrooms cap the free space a share asks for
    # on large disks, unless a watermark is set (then they default to -1, none).
    Setting("cluster.routing.allocation.disk.threshold_enabled", True, _bool, dynamic=True),
    Setting(WATERMARK_LOW, parse_relative_bytes("85%", WATERMARK_LOW), _relative_bytes, dynamic=True),
    Setting(WATERMARK_HIGH, parse_relative_bytes("90%", WATERMARK_HIGH), _relative_bytes, dynamic=True),
    Setting(WATERMARK_FLOOD, parse_relative_bytes("95%", WATERMARK_FLOOD), _relative_bytes, dynamic=True),
    Setting(WATERMARK_LOW + ".max_headroom", lambda v: _default_headroom(v, 200), _headroom, dynamic=True),
    Setting(WATERMARK_HIGH + ".max_headroom", lambda v: _default_headroom(v, 150), _headroom, dynamic=True),
    Setting(WATERMARK_FLOOD + ".max_headroom", lambda v: _default_headroom(v, 100), _headroom, dynamic=True),
    Setting("cluster.routing.allocation.disk.reroute_interval", 60.0, _time_min(0.0), dynamic=True),
    # How often the master gathers disk usage and shard sizes, and how long it waits for a node.
    Setting("cluster.info.update.interval", 30.0, _time_min(10.0), dynamic=True),
    Setting("cluster.info.update.timeout", 15.0, _time_min(0.001), dynamic=True),
]}
# Affix settings: any key under these prefixes is allowed (custom node attributes).
NODE_SETTING_PREFIXES = ("node.attr.",)

# Dynamic affix groups (ES's prefixKeySetting/groupSetting): `<prefix><name>` with a value
# parsed by the group's parser. The filter groups name node attributes (or _name, _ip,
# _host, _id); forced awareness is `...awareness.force.<attribute>.values`.
CLUSTER_FILTER_PREFIXES = ("cluster.routing.allocation.require.", "cluster.routing.allocation.include.",
                           "cluster.routing.allocation.exclude.")
INDEX_FILTER_PREFIXES = ("index.routing.allocation.require.", "index.routing.allocation.include.",
                         "index.routing.allocation.exclude.")
FORCED_AWARENESS_PREFIX = "cluster.routing.allocation.awareness.force."
_FORCED_AWARENESS = re.compile(r"cluster\.routing\.allocation\.awareness\.force\.[^.]+\.values")
# Read from the cluster state only (the master's reroute is a function of the state), so a
# node's own file may not set them: a value there would silently do nothing. The disk
# threshold settings are the exception: the master's own values are the layer under the
# cluster state's, as in ES (where `threshold_enabled: false` in a node's file is common).
CLUSTER_STATE_ONLY_PREFIX = "cluster.routing."


# The S3 clients of `s3` snapshot repositories (ES's repository-s3 client settings):
# `s3.client.<client name>.<key>`. The credentials are secure settings in ES's keystore;
# here they come from the environment (a StrataCluster's secureSettings), and a client
# without them uses boto3's default chain (AWS_* variables, web identity token, instance
# metadata).
S3_CLIENT_SETTINGS: dict[str, Callable[[Any, str], Any]] = {
    "endpoint": _str, "protocol": _enum("http", "https"), "region": _str, "path_style_access": _bool,
    "max_retries": _int(0), "read_timeout": _time_min(0.001),
    "access_key": _str, "secret_key": _str, "session_token": _str,
}
_S3_CLIENT = re.compile(r"s3\.client\.([^.]+)\.(.+)")
_S3_CREDENTIALS = ("access_key", "secret_key", "session_token")


def is_secure(key: str) -> bool:
    """A credential: what ES keeps in its keystore (the S3 clients' keys, and here the
    transport secret), never shown by any API."""
    m = _S3_CLIENT.fullmatch(key)
    return key == "transport.secret" or (m is not None and m.group(2) in _S3_CREDENTIALS)


def node_setting(key: str) -> Setting | None:
    """The registered node setting of a key, an affix group's included."""
    setting = NODE_SETTINGS.get(key)
    if setting is not None:
        return setting
    if (m := _S3_CLIENT.fullmatch(key)) and m.group(2) in S3_CLIENT_SETTINGS:
        return Setting(key, None, S3_CLIENT_SETTINGS[m.group(2)])
    if key.startswith(CLUSTER_FILTER_PREFIXES) and key.rsplit(".", 1)[-1]:
        return Setting(key, [], _ip_list, dynamic=True)
    if key.startswith(FORCED_AWARENESS_PREFIX):
        if not _FORCED_AWARENESS.fullmatch(key):
            raise SettingsError(f"invalid forced awareness setting [{key}]")
        return Setting(key, [], _list, dynamic=True)
    return None

INDEX_SETTINGS: dict[str, Setting] = {s.key: s for s in [
    Setting("index.number_of_shards", 1, _int(1, 1024), final=True),
    Setting("index.number_of_replicas", 1, _int(0), dynamic=True),
    Setting("index.number_of_routing_shards", None, _int(1, 1024), final=True),
    Setting("index.routing_partition_size", 1, _int(1), final=True),
    Setting("index.refresh_interval", 1.0, _time, dynamic=True),
    Setting("index.translog.durability", "request", _enum("request", "async"), dynamic=True),
    Setting("index.translog.sync_interval", 5.0, _time_min(0.1)),
    Setting("index.translog.flush_threshold_size", 512 * 1024 * 1024, _bytes, dynamic=True),
    Setting("index.translog.generation_threshold_size", 64 * 1024 * 1024, _bytes, dynamic=True),
    Setting("index.max_result_window", 10000, _int(1), dynamic=True),
    # The size limits of the mapping (index/mapping/limits.py). Nested mappings are refused,
    # so the nested limits always hold; they are accepted as Elasticsearch accepts them.
    Setting("index.mapping.total_fields.limit", 1000, _long(0), dynamic=True),
    Setting("index.mapping.total_fields.ignore_dynamic_beyond_limit", False, _bool, dynamic=True),
    Setting("index.mapping.depth.limit", 20, _long(1), dynamic=True),
    Setting("index.mapping.field_name_length.limit", (1 << 63) - 1, _long(1), dynamic=True),
    Setting("index.mapping.nested_fields.limit", 50, _long(0), dynamic=True),
    Setting("index.mapping.nested_objects.limit", 10000, _long(0), dynamic=True),
    # The replicas follow the data nodes the index may be on (allocation/allocator.py).
    Setting(AUTO_EXPAND_REPLICAS, "false", _auto_expand, dynamic=True),
    Setting("index.hidden", False, _bool, dynamic=True),
    # The copies of each shard that must be active: what create, open and close wait for
    # when the request does not say.
    Setting("index.write.wait_for_active_shards", 1, active_shard_count, dynamic=True),
    Setting("index.blocks.read_only", False, _bool, dynamic=True),
    Setting("index.blocks.read_only_allow_delete", False, _bool, dynamic=True),
    Setting("index.blocks.read", False, _bool, dynamic=True),
    Setting("index.blocks.write", False, _bool, dynamic=True),
    Setting("index.blocks.metadata", False, _bool, dynamic=True),
    Setting("index.routing.allocation.enable", "all", _enum("all", "primaries", "new_primaries", "none"),
            dynamic=True),
    Setting("index.routing.rebalance.enable", "all", _enum("all", "primaries", "replicas", "none"),
            dynamic=True),
    Setting("index.allocation.max_retries", 5, _int(0), dynamic=True),
    # The data tiers an index's shards go to, in order of preference (allocation/data_tier.py);
    # a new index gets data_content.
    Setting(TIER_PREFERENCE, "", _tier_preference, dynamic=True),
    # How long a replica whose node left waits for it to come back before it is rebuilt
    # elsewhere (ES's delayed allocation); the master reroutes when the wait ends.
    Setting("index.unassigned.node_left.delayed_timeout", 60.0, _time_min(0.0), dynamic=True),
    # Retention leases (ES's names and defaults): how long a lease not renewed lives, and
    # how often a primary renews, persists and sends its leases (and copies prune).
    Setting("index.soft_deletes.enabled", True, _bool, final=True),
    Setting("index.soft_deletes.retention_lease.period", 12 * 3600.0, _time_min(0.0), dynamic=True),
    Setting("index.soft_deletes.retention_lease.sync_interval", 30.0, _time_min(0.1), dynamic=True),
    # The share of a copy's indexed versions that may be replaced ones before a background
    # merge purges them (TieredMergePolicy's deletesPctAllowed: ES's name, default and range).
    Setting("index.merge.policy.deletes_pct_allowed", 20.0, _float_range(5.0, 50.0), dynamic=True),
    Setting("index.uuid", None, _str, private=True),
    Setting("index.creation_date", None, _str, private=True),
    Setting("index.version.created", None, _str, private=True),
    Setting("index.provided_name", None, _str, private=True),
    Setting("index.verified_before_close", False, _bool, private=True),
]}

# Analysis components (`index.analysis.analyzer.<name>.*`, ...), validated by index/analysis.
INDEX_ANALYSIS_PREFIX = "index.analysis."


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    out: dict[str, Any] = {}
    for key, child in value.items():
        full = f"{prefix}{key}"
        if isinstance(child, Mapping):
            out.update(flatten(child, full + "."))
        else:
            out[full] = child
    return out


def _suggest(key: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.8)
    return f" did you mean [{close[0]}]?" if close else ""


@dataclass(frozen=True)
class NodeSettings:
    """The validated settings of one node."""

    values: Mapping[str, Any]

    def get(self, key: str) -> Any:
        if key in NODE_SETTINGS:
            return NODE_SETTINGS[key].get(self.values)
        return self.values.get(key)

    @property
    def s3_clients(self) -> dict[str, Any]:
        """Every `s3.client.*` setting, parsed."""
        return {k: node_setting(k).get(self.values) for k in self.values if _S3_CLIENT.fullmatch(k)}

    @property
    def attributes(self) -> dict[str, str]:
        return {k[len("node.attr."):]: str(v) for k, v in self.values.items() if k.startswith("node.attr.")}


ENV_PREFIX = "STRATA_SETTING_"


def env_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """STRATA_SETTING_CLUSTER_NAME=x -> cluster.name=x ('_' is '.', '__' is '_'), as
    Elasticsearch's Docker image reads ES_SETTING_*."""
    out = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            key = name[len(ENV_PREFIX):].lower().replace("__", "\0").replace("_", ".").replace("\0", "_")
            out[key] = value
    return out


def load_node_settings(config_path: Path | None, overrides: Iterable[str] = (),
                       environ: Mapping[str, str] | None = None) -> NodeSettings:
    """File, then environment, then `-E name=value` flags; every key validated."""
    values: dict[str, Any] = {}
    if config_path is not None and config_path.exists():
        try:
            loaded = yaml.safe_load(config_path.read_text()) or {}
        except yaml.YAMLError as e:
            raise SettingsError(f"failed to parse settings file [{config_path}]: {e}") from None
        if not isinstance(loaded, dict):
            raise SettingsError(f"settings file [{config_path}] must hold a mapping of settings")
        values.update(flatten(loaded))
    values.update(env_settings(os.environ if environ is None else environ))
    for flag in overrides:
        key, sep, value = flag.partition("=")
        if not sep or not key:
            raise SettingsError(f"setting [{flag}] must be of the form name=value")
        values[key.strip()] = value
    for key in values:
        if key.startswith(CLUSTER_STATE_ONLY_PREFIX) and not key.startswith(DISK_PREFIX):
            raise SettingsError(f"setting [{key}] is read from the cluster state only: set it with "
                                "PUT /_cluster/settings")
        if (m := _S3_CLIENT.fullmatch(key)) and m.group(2) not in S3_CLIENT_SETTINGS:
            raise SettingsError(f"unknown setting [{key}]: an S3 client takes "
                                f"[{', '.join(S3_CLIENT_SETTINGS)}]")
        if key not in NODE_SETTINGS and not key.startswith(NODE_SETTING_PREFIXES) and m is None:
            raise SettingsError(f"unknown setting [{key}]{_suggest(key, NODE_SETTINGS)} please check "
                                "that any required plugins are installed, or check the breaking "
                                "changes documentation for removed settings")
    if config_path is not None and "path.config" not in values:
        values["path.config"] = str(config_path.parent)
    settings = NodeSettings(values)
    for key in NODE_SETTINGS:
        settings.get(key)  # parse every value now, so a bad one stops start-up
    check_disk_settings(values)
    _check_s3_credentials(settings.s3_clients)
    return settings


def _check_s3_credentials(clients: Mapping[str, Any]) -> None:
    for key in clients:
        prefix, _, name = key.rpartition(".")
        if name == "access_key" and f"{prefix}.secret_key" not in clients:
            raise SettingsError(f"Missing secret key for s3 client [{prefix.split('.')[2]}]")
        if name in ("secret_key", "session_token") and f"{prefix}.access_key" not in clients:
            raise SettingsError(f"Missing access key for s3 client [{prefix.split('.')[2]}]")


def normalize_index_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten and prefix with `index.` as Elasticsearch does for create-index bodies."""
    out = {}
    for key, value in flatten(raw).items():
        full = key if key.startswith("index.") else f"index.{key}"
        out[full] = value
    return out


def validate_index_settings(values: Mapping[str, Any], *, allow_private: bool = False) -> dict[str, Any]:
    """Parse every value; unknown or private keys are refused. Returns the parsed values.
    Keys under `index.analysis.` are a group that the analysis package checks as a whole
    (a custom analyzer names tokenizers and filters defined beside it)."""
    parsed = {}
    for key, value in values.items():
        if key.startswith(INDEX_ANALYSIS_PREFIX):
            continue
        setting = INDEX_SETTINGS.get(key)
        if setting is None and key.startswith(INDEX_FILTER_PREFIXES) and key.rsplit(".", 1)[-1]:
            if value is not None:
                parsed[key] = _ip_list(value, key)
            continue
        if setting is None:
            raise SettingsError(f"unknown setting [{key}]{_suggest(key, INDEX_SETTINGS)} please check "
                                "that any required plugins are installed, or check the breaking "
                                "changes documentation for removed settings")
        if setting.private and not allow_private:
            raise SettingsError(f"private index setting [{key}] can not be set explicitly")
        if value is None:
            continue
        if isinstance(value, list | dict):
            raise SettingsError(f"Failed to parse value [{value}] for setting [{key}]")
        parsed[key] = setting.parse(value, key)
    if any(key.startswith(INDEX_ANALYSIS_PREFIX) for key in values):
        validate_analysis_settings(values)
    return parsed


def validate_settings_update(values: Mapping[str, Any]) -> None:
    """The keys of a settings update: each must name a known setting, a null (a reset)
    too, as in ES; only a wildcard reset (`prefix.*: null`) names none. Analysis keys are
    checked whole where the index's own analysis is known (an update may name components
    the index already defines)."""
    validate_index_settings({k: v for k, v in values.items()
                             if not is_wildcard_reset(k, v) and not k.startswith(INDEX_ANALYSIS_PREFIX)})


def is_wildcard_reset(key: str, value: Any) -> bool:
    """`prefix.*: null`, ES's wildcard delete: resets every setting it matches."""
    return value is None and "*" in key


def index_setting(values: Mapping[str, Any], key: str) -> Any:
    return INDEX_SETTINGS[key].get(values)
