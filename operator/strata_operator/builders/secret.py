"""The cluster's Secret: the transport secret every node proves on node-to-node requests, and
the operator's credentials for the cluster's REST API (for when the node authenticates HTTP
requests; nothing reads them yet). The values are inputs: the handler generates them once
and reuses what the Secret holds from then on, since a new transport secret would split the
cluster."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from ..spec import ClusterSpec
from .common import labels, metadata, secret_name

TRANSPORT_SECRET_KEY = "transport-secret"
USERNAME_KEY = "operator-username"
PASSWORD_KEY = "operator-password"
OPERATOR_USERNAME = "strata-operator"


@dataclass(frozen=True)
class ClusterSecrets:
    transport_secret: str
    operator_password: str
    operator_username: str = OPERATOR_USERNAME

    @classmethod
    def generate(cls) -> ClusterSecrets:
        return cls(transport_secret=secrets.token_urlsafe(32), operator_password=secrets.token_urlsafe(24))

    @classmethod
    def from_secret(cls, secret: dict[str, Any] | None) -> ClusterSecrets | None:
        """The values an existing Secret holds; None when it is absent or incomplete."""
        data = (secret or {}).get("data") or {}
        try:
            values = {k: base64.b64decode(data[k]).decode() for k in (TRANSPORT_SECRET_KEY, PASSWORD_KEY)}
        except (KeyError, ValueError):
            return None
        if not all(values.values()):
            return None
        username = base64.b64decode(data.get(USERNAME_KEY, "")).decode() or OPERATOR_USERNAME
        return cls(values[TRANSPORT_SECRET_KEY], values[PASSWORD_KEY], username)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def build_secret(spec: ClusterSpec, values: ClusterSecrets) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(spec, secret_name(spec.name), labels(spec, component="secrets")),
        "type": "Opaque",
        "data": {
            TRANSPORT_SECRET_KEY: _b64(values.transport_secret),
            USERNAME_KEY: _b64(values.operator_username),
            PASSWORD_KEY: _b64(values.operator_password),
        },
    }
