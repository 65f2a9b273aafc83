"""What the cluster says about the settings.json the operator ships, read into a
StrataFileSettings' status: the validation endpoint's answer before shipping, and
`metadata.reserved_state.file_settings` afterwards. Pure: the answers come in as dicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# metadata.reserved_state.<ns>.version while only an error was recorded (Long.MIN_VALUE).
NO_VERSION = -9223372036854775808

READY, APPLYING, ERROR = "Ready", "ApplyingChanges", "Error"


def _version(value: Any) -> int | None:
    """A version as the cluster reports it; None for "none applied" (absent or the sentinel)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        version = int(value)
    except (TypeError, ValueError):
        return None
    return None if version == NO_VERSION else version


@dataclass(frozen=True)
class Validation:
    """POST /_reserved_state/_validate's answer: whether the document is valid, whether the
    master would apply it (its version is above the one applied), and the errors."""

    valid: bool
    would_apply: bool
    current_version: int | None
    error_kind: str | None = None
    errors: tuple[str, ...] = ()


def read_validation(answer: Mapping[str, Any]) -> Validation:
    errors = answer.get("errors") or {}
    return Validation(
        valid=answer.get("valid") is True,
        would_apply=answer.get("would_apply") is True,
        current_version=_version(answer.get("current_version")),
        error_kind=errors.get("error_kind"),
        errors=tuple(str(e) for e in errors.get("errors") or ()),
    )


def version_to_ship(version: int, current_version: int | None) -> int:
    """The version a changed settings.json goes out with: `version` (from the ConfigMap and
    the status), unless the cluster already applied that version or a later one (a resource
    deleted and made again, a file shipped by someone else): the master ignores a file whose
    version is not above the one it applied, so it goes one above that."""
    if current_version is not None and current_version >= version:
        return current_version + 1
    return version


@dataclass(frozen=True)
class Readback:
    """The status a StrataFileSettings gets from what the cluster recorded."""

    phase: str
    applied_version: int | None
    errors: tuple[str, ...]
    message: str


def read_back(expected: int, file_settings: Mapping[str, Any] | None) -> Readback:
    """Ready when the cluster applied the expected version with no error recorded for it;
    Error with the cluster's own messages when its error metadata is for the expected
    version (the node refused the file as a whole and kept the settings it had);
    ApplyingChanges while it has not caught up (the kubelet refreshes a ConfigMap volume
    within about a minute, and only the elected master applies the file)."""
    file_settings = file_settings or {}
    applied = _version(file_settings.get("version"))
    error = file_settings.get("errors") or {}
    error_version = _version(error.get("version"))
    if error and error_version == expected:
        kind = error.get("error_kind") or "unknown"
        errors = tuple(str(e) for e in error.get("errors") or ())
        return Readback(
            ERROR,
            applied,
            errors,
            f"the cluster refused settings.json version {expected} ({kind} error) and keeps "
            f"{'version ' + str(applied) if applied is not None else 'no file settings'}: "
            + "; ".join(errors),
        )
    if applied == expected:
        return Readback(READY, applied, (), f"the cluster applied settings.json version {expected}")
    if applied is None:
        waiting = f"waiting for the cluster to apply settings.json version {expected} (none applied yet)"
    elif applied > expected:
        waiting = (
            f"the cluster applied settings.json version {applied}, above the {expected} this "
            "resource ships; the next change goes out above it"
        )
    else:
        waiting = f"waiting for the cluster to apply settings.json version {expected} (it has {applied})"
    return Readback(APPLYING, applied, (), waiting)


# -- giving the settings back -------------------------------------------------------------


def applied_version(file_settings: Mapping[str, Any] | None) -> int | None:
    """The version the cluster applied, None when none (metadata.reserved_state.file_settings)."""
    return _version((file_settings or {}).get("version"))


def read_release(expected: int, file_settings: Mapping[str, Any] | None) -> Readback:
    """Ready once the cluster applied the empty settings.json (or a later one: whatever it
    holds now is not this resource's), Error with the cluster's messages when it refused it,
    ApplyingChanges until then."""
    readback = read_back(expected, file_settings)
    applied = readback.applied_version
    if readback.phase == APPLYING and applied is not None and applied > expected:
        return Readback(READY, applied, (), f"the cluster applied settings.json version {applied}")
    if readback.phase == READY:
        return Readback(READY, applied, (), f"the cluster applied the empty settings.json version {expected}")
    return readback
