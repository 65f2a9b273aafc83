"""Dynamic cluster settings: what `PUT /_cluster/settings` may change, and the value a
node should use now (Elasticsearch's ClusterSettings and SettingsUpdater).

Persistent and transient settings live in the cluster state's metadata, flat and as
strings, the way Elasticsearch stores them. Only settings registered as dynamic in
settings.py NODE_SETTINGS, or in one of its affix groups, are accepted. The effective
value of a setting is the transient one, else the persistent one, else the node's own
(file, environment, `-E`), else its default, so a change made through the API takes
effect on every node as soon as it applies the cluster state.

`apply_update` is pure: it validates a whole request before anything changes, so one
bad key rejects the request (the master runs it inside a cluster state update).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..settings import (
    DISK_PREFIX,
    INDEX_SETTINGS,
    NODE_SETTINGS,
    NodeSettings,
    SettingsError,
    check_disk_settings,
    flatten,
    is_byte_size,
    is_time,
    node_setting,
)
from .errors import IllegalArgument
from .patterns import simple_match

# Node settings never listed by `include_defaults` (ES filters secure settings the same way).
HIDDEN_SETTINGS = frozenset({"transport.secret", "strata.fault_injection", "strata.test_actions.enabled"})


def setting_text(value: Any) -> Any:
    """A value as Elasticsearch stores settings: strings, or lists of strings."""
    if isinstance(value, list | tuple):
        return [setting_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


ARCHIVED_PREFIX = "archived."


def archive_unknown_or_invalid(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Persistent settings from elsewhere (a snapshot's global state) with every key this
    node does not know as dynamic, or whose value it cannot read, renamed `archived.<key>`
    (ES's archiveUnknownOrInvalidSettings): kept for the record, never in effect, and
    removable with a null reset of `archived.*`."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if key.startswith(ARCHIVED_PREFIX):
            out[key] = value
            continue
        try:
            setting = node_setting(key)
            if setting is not None and setting.dynamic and not setting.private:
                setting.parse(value, key)
                out[key] = value
                continue
        except (SettingsError, IllegalArgument):
            pass
        out[ARCHIVED_PREFIX + key] = value
    return out


def apply_update(
    current: Mapping[str, Any], update: Mapping[str, Any], scope: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply one scope (`persistent` or `transient`) of an update request to the current
    settings of that scope. Returns (new settings, settings this request set). A `null`
    value removes a key, or every key matching it when it ends in `*`; of unknown keys,
    only archived ones (`archived.*`) may be removed, as in Elasticsearch."""
    flat = flatten(update)
    to_set: dict[str, Any] = {}
    to_remove: list[str] = []
    for key, value in flat.items():
        try:
            setting = node_setting(key)  # affix groups (allocation filters) included
        except SettingsError as e:
            raise IllegalArgument(f"{scope} setting [{key}], {e}") from None
        if value is None:  # AbstractScopedSettings.isValidDelete
            if (setting is not None and setting.dynamic) or key.endswith("*") or (
                    setting is None and key.startswith(ARCHIVED_PREFIX)):
                to_remove.append(key)
                continue
            if setting is None:
                raise IllegalArgument(f"{scope} setting [{key}], not recognized")
            raise IllegalArgument(f"{scope} setting [{key}], not dynamically updateable")
        if setting is None:
            raise IllegalArgument(f"{scope} setting [{key}], not recognized")
        if not setting.dynamic or setting.private:
            raise IllegalArgument(f"{scope} setting [{key}], not dynamically updateable")
        if isinstance(value, dict):
            raise IllegalArgument(f"Failed to parse value [{value}] for setting [{key}]")
        try:
            setting.parse(value, key)
        except SettingsError as e:
            raise IllegalArgument(str(e)) from None
        to_set[key] = setting_text(value)
    new = {
        k: v
        for k, v in current.items()
        if not any(
            k == pattern or (pattern.endswith("*") and simple_match(pattern, k)) for pattern in to_remove
        )
    }
    new.update(to_set)
    return new, to_set


def check_consistent(changed: Iterable[str], *layers: Mapping[str, Any]) -> None:
    """The checks that span settings (the disk watermarks and their headrooms), over the
    layers as they would stand, lowest first (node, persistent, transient); run when an
    update changes one of them, as ES runs a setting's validator only for its updates."""
    if not any(key.startswith(DISK_PREFIX) for key in changed):
        return
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    try:
        check_disk_settings(merged)
    except SettingsError as e:
        raise IllegalArgument(str(e)) from None


def nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"a.b": "1"} -> {"a": {"b": "1"}}, as Settings.toXContent writes settings without
    flat_settings. A key that is both a value and a prefix keeps its flat form."""
    tree: dict[str, Any] = {}
    for key in sorted(flat):
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                if child is not None:
                    break
                child = node[part] = {}
            node = child
        else:
            node[parts[-1]] = flat[key]
            continue
        tree[key] = flat[key]
    return tree


def render(flat: Mapping[str, Any], flat_settings: bool) -> dict[str, Any]:
    return dict(sorted(flat.items())) if flat_settings else nested(flat)


_TIME_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def time_text(seconds: float) -> str:
    """A time in the largest unit that divides it, as Elasticsearch's defaults are written
    (`1m`, `12h`, `100ms`); a negative one is `-1` (disabled)."""
    if seconds < 0:
        return "-1"
    if not float(seconds).is_integer():
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    for unit, size in _TIME_UNITS:
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return "0s"


# Settings Elasticsearch declares as lists (Setting.listSetting: the data paths and the
# hosts to bind and publish) that Strata reads as one value.
LIST_SETTINGS = frozenset({"path.data", "network.host", "http.host", "transport.host"})


def defaults(node_settings: NodeSettings, *, exclude: Mapping[str, Any] = {}) -> dict[str, Any]:
    """Every registered node setting not set in the cluster state, with the node's value
    (`include_defaults`); a list setting as a list, however the node was given it."""
    out: dict[str, Any] = {}
    for key in NODE_SETTINGS:
        if key in HIDDEN_SETTINGS or key in exclude:
            continue
        raw = node_settings.values.get(key)
        parsed = node_settings.get(key)
        if key in LIST_SETTINGS or isinstance(parsed, list | tuple):
            value = setting_text(as_list(parsed))
        elif raw is not None:
            value = setting_text(raw)
        else:
            value = default_text(NODE_SETTINGS[key], parsed)
        if value is not None and value != "None":
            out[key] = value
    return out


def as_list(value: Any) -> list[Any]:
    """A list setting's value as ListSetting.diff puts it in the defaults
    (Settings.getAsList): a list as it is, a string split at its commas, each part trimmed
    and empty parts dropped."""
    if isinstance(value, list | tuple):
        return list(value)
    if value is None:
        return []
    return [part.strip() for part in str(value).split(",") if part.strip()]


_BYTE_UNITS = (("pb", 1 << 50), ("tb", 1 << 40), ("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10))


def byte_size_text(value: int) -> str:
    """A byte count in the largest unit that divides it, as ByteSizeValue prints one."""
    for unit, size in _BYTE_UNITS:
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return f"{value}b"


def default_text(setting, value: Any) -> Any:
    """A setting's default as Elasticsearch prints it: byte sizes and times with units,
    other numbers as they are (`0.45`, `1.0`)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and is_byte_size(setting):
        return byte_size_text(int(value))
    if number and is_time(setting):
        return time_text(value)
    if isinstance(value, float):
        return str(value)
    return setting_text(value)


def index_defaults(explicit: Mapping[str, Any]) -> dict[str, Any]:
    """Every index setting an index does not set, with its default as Elasticsearch prints
    it (`include_defaults`); settings the system sets and those without a default (the
    number of routing shards follows the number of shards) are left out."""
    out: dict[str, Any] = {}
    for key, setting in INDEX_SETTINGS.items():
        default = setting.default
        if setting.private or key in explicit or default is None or callable(default):
            continue
        out[key] = default_text(setting, default)
    return out


class ClusterSettings:
    """The effective value of dynamic settings on this node: transient > persistent >
    node setting > default."""

    def __init__(self, node_settings: NodeSettings, metadata: Callable[[], Any]):
        self.node_settings = node_settings
        self._metadata = metadata
        self._cache: dict[str, Any] = {}
        self._cache_of: tuple[Any, Any] = (None, None)  # the layers the cache was filled from

    def get(self, key: str) -> Any:
        setting = NODE_SETTINGS[key]
        metadata = self._metadata()
        if metadata is None:
            return self.node_settings.get(key)
        layers = (metadata.transient_settings, metadata.persistent_settings)
        if layers[0] is not self._cache_of[0] or layers[1] is not self._cache_of[1]:
            self._cache, self._cache_of = {}, layers
        if key not in self._cache:
            value = self.node_settings.get(key)
            for layer in layers:
                if key in layer:
                    try:
                        value = setting.parse(layer[key], key)
                    except SettingsError:
                        continue  # validated on the way in; never fail a reader
                    break
            self._cache[key] = value
        return self._cache[key]
