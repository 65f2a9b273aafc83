"""Talks to a cluster's REST API (httpx): what the operator reads back from a running cluster.
Every failure is ClusterUnavailable, and callers read it as "not known", never as a yes."""

from __future__ import annotations

from typing import Any

import httpx

from .builders.common import HTTP_PORT, http_service_name
from .spec import ClusterSpec


class ClusterUnavailable(Exception):
    """The cluster did not answer, or answered with an error."""


def cluster_url(spec: ClusterSpec) -> str:
    return f"http://{http_service_name(spec.name)}.{spec.namespace}.svc:{HTTP_PORT}"


class ClusterClient:
    def __init__(self, base_url: str, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None):
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ClusterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as e:
            raise ClusterUnavailable(f"GET {path}: {e}") from e
        if response.status_code != 200:
            raise ClusterUnavailable(f"GET {path}: HTTP {response.status_code}: {response.text[:500]}")
        try:
            return response.json()
        except ValueError as e:
            raise ClusterUnavailable(f"GET {path}: not JSON") from e

    def health(self) -> dict[str, Any]:
        """The cluster health body (status, number_of_nodes, ...)."""
        return self._get("/_cluster/health")

    def master_node(self) -> str | None:
        """The elected master's node name, None while there is none."""
        rows = self._get("/_cat/master", {"format": "json"})
        return rows[0].get("node") if rows else None

    def formed_cluster_uuid(self) -> str | None:
        """The uuid of the cluster once it has formed (committed), None before."""
        body = self._get(
            "/_cluster/state/metadata",
            {"filter_path": "metadata.cluster_uuid,metadata.cluster_uuid_committed"},
        )
        metadata = body.get("metadata") or {}
        if metadata.get("cluster_uuid_committed") and metadata.get("cluster_uuid") not in (None, "_na_"):
            return metadata["cluster_uuid"]
        return None
