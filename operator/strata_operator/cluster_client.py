"""Talks to a cluster's REST API (httpx): what the operator reads back from a running cluster
and the few requests it makes of it (settings validation, node shutdown, voting
exclusions). Every failure is ClusterUnavailable, and callers read it as "not known", never
as a yes: a node whose drain could not be checked is a node that still holds data."""

from __future__ import annotations

from typing import Any

import httpx

from .builders.common import HTTP_PORT, http_service_name
from .spec import ClusterSpec

# The namespace of the settings.json the nodes watch, in metadata.reserved_state.
FILE_SETTINGS_NAMESPACE = "file_settings"


class ClusterUnavailable(Exception):
    """The cluster did not answer, or answered with an error."""


def cluster_url(spec: ClusterSpec) -> str:
    return f"http://{http_service_name(spec.name)}.{spec.namespace}.svc:{HTTP_PORT}"


def _error_type(response: httpx.Response) -> str | None:
    try:
        error = response.json().get("error")
    except ValueError:
        return None
    return error.get("type") if isinstance(error, dict) else None


class ClusterClient:
    def __init__(self, base_url: str, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None):
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ClusterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: Any = None,
        accept: tuple[str, ...] = (),
    ) -> httpx.Response:
        """The response of a 200 answer, or of an error answer whose `error.type` is one of
        `accept` (the caller reads it); anything else raises ClusterUnavailable."""
        try:
            response = self._http.request(method, path, params=params, json=body)
        except httpx.HTTPError as e:
            raise ClusterUnavailable(f"{method} {path}: {e!r}") from e
        if response.status_code != 200 and not (accept and _error_type(response) in accept):
            raise ClusterUnavailable(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        return response

    def _json(self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None) -> Any:
        response = self._send(method, path, params, body)
        try:
            return response.json()
        except ValueError as e:
            raise ClusterUnavailable(f"{method} {path}: not JSON") from e

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self._json("GET", path, params)

    def _metadata(self, filter_path: str) -> dict[str, Any]:
        body = self._get("/_cluster/state/metadata", {"filter_path": filter_path})
        metadata = body.get("metadata") if isinstance(body, dict) else None
        return metadata if isinstance(metadata, dict) else {}

    # -- status ----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The cluster health body (status, number_of_nodes, ...)."""
        return self._get("/_cluster/health")

    def master_node(self) -> str | None:
        """The elected master's node name, None while there is none."""
        rows = self._get("/_cat/master", {"format": "json"})
        return rows[0].get("node") if rows else None

    def formed_cluster_uuid(self) -> str | None:
        """The uuid of the cluster once it has formed (committed), None before."""
        metadata = self._metadata("metadata.cluster_uuid,metadata.cluster_uuid_committed")
        if metadata.get("cluster_uuid_committed") and metadata.get("cluster_uuid") not in (None, "_na_"):
            return metadata["cluster_uuid"]
        return None

    def nodes(self) -> list[dict[str, str]]:
        """Every node of the cluster as `{"id", "name", "node.role"}` (role letters, `m` for
        master-eligible, as _cat/nodes abbreviates them)."""
        rows = self._get("/_cat/nodes", {"format": "json", "h": "id,name,node.role", "full_id": "true"})
        if not isinstance(rows, list):
            raise ClusterUnavailable(f"GET /_cat/nodes: not a list: {str(rows)[:200]}")
        return rows

    def shards(self) -> list[dict[str, Any]]:
        """Every shard copy as `{"index", "shard", "prirep", "state", "node"}` (`node` is a
        node name, None for an unassigned copy)."""
        rows = self._get("/_cat/shards", {"format": "json", "h": "index,shard,prirep,state,node"})
        if not isinstance(rows, list):
            raise ClusterUnavailable(f"GET /_cat/shards: not a list: {str(rows)[:200]}")
        return rows

    def allocation_explain(self) -> dict[str, Any] | None:
        """Why the first unassigned shard copy (a primary before any replica) is unassigned,
        as `GET /_cluster/allocation/explain` says; None when no copy is unassigned (the API
        answers that with an illegal_argument_exception)."""
        response = self._send("GET", "/_cluster/allocation/explain", accept=("illegal_argument_exception",))
        if response.status_code != 200:
            return None
        try:
            return response.json()
        except ValueError as e:
            raise ClusterUnavailable("GET /_cluster/allocation/explain: not JSON") from e

    # -- file settings ---------------------------------------------------------------------

    def validate_settings(self, document: dict[str, Any]) -> dict[str, Any]:
        """What the elected master would do with a whole settings.json document (`valid`,
        `would_apply`, `current_version`, and `errors` when it is not valid); applies nothing."""
        return self._json("POST", "/_reserved_state/_validate", body=document)

    def file_settings_state(self) -> dict[str, Any] | None:
        """`metadata.reserved_state.file_settings` (version, handlers, errors), None before
        the cluster recorded anything for the file."""
        path = f"metadata.reserved_state.{FILE_SETTINGS_NAMESPACE}"
        reserved = self._metadata(path).get("reserved_state") or {}
        return reserved.get(FILE_SETTINGS_NAMESPACE)

    # -- autoscaling -----------------------------------------------------------------------

    def autoscaling_policy_names(self) -> list[str]:
        """The names of the policies the cluster holds (the `autoscaling` metadata custom)."""
        custom = self._metadata("metadata.autoscaling").get("autoscaling") or {}
        return sorted(custom.get("policies") or {})

    def put_autoscaling_policy(self, name: str, body: dict[str, Any]) -> str | None:
        """None once stored; the cluster's reason when it refuses the policy."""
        refused = ("illegal_argument_exception", "action_request_validation_exception",
                   "x_content_parse_exception")
        response = self._send("PUT", f"/_autoscaling/policy/{name}", body=body, accept=refused)
        if response.status_code == 200:
            return None
        return str(response.json()["error"].get("reason"))

    def delete_autoscaling_policy(self, name: str) -> None:
        self._send("DELETE", f"/_autoscaling/policy/{name}")

    def autoscaling_capacity(self) -> dict[str, Any]:
        """`GET /_autoscaling/capacity` `policies`: policy name -> required and current capacity."""
        body = self._get("/_autoscaling/capacity")
        policies = body.get("policies") if isinstance(body, dict) else None
        if not isinstance(policies, dict):
            raise ClusterUnavailable(f"GET /_autoscaling/capacity: no policies: {str(body)[:200]}")
        return policies

    # -- node shutdown and voting exclusions -----------------------------------------------

    def shutdowns(self) -> list[dict[str, Any]]:
        """Every node shutdown marker with its status (GET /_nodes/shutdown `nodes`)."""
        body = self._get("/_nodes/shutdown")
        nodes = body.get("nodes") if isinstance(body, dict) else None
        if not isinstance(nodes, list):
            raise ClusterUnavailable(f"GET /_nodes/shutdown: no nodes list: {str(body)[:200]}")
        return nodes

    def put_shutdown(self, node_id: str, kind: str, reason: str, allocation_delay: str | None = None) -> None:
        """`allocation_delay` (restart only): how long the node's replicas wait for it to come
        back before they are copied to other nodes."""
        body = {"type": kind, "reason": reason}
        if allocation_delay is not None:
            body["allocation_delay"] = allocation_delay
        self._send("PUT", f"/_nodes/{node_id}/shutdown", body=body)

    def delete_shutdown(self, node_id: str) -> None:
        self._send("DELETE", f"/_nodes/{node_id}/shutdown")

    def voting_configuration(self) -> dict[str, Any]:
        """`metadata.cluster_coordination`: `last_committed_config`, `last_accepted_config`
        (node ids) and `voting_config_exclusions` (`node_id`, `node_name`)."""
        coordination = self._metadata("metadata.cluster_coordination").get("cluster_coordination")
        if not isinstance(coordination, dict):
            raise ClusterUnavailable("GET /_cluster/state/metadata: no cluster_coordination")
        return coordination

    def add_voting_exclusion(self, node_name: str, timeout: str = "2s") -> bool:
        """Exclude a node from the voting configuration. True when it took effect within
        `timeout`; False when the master recorded it but the configuration has not moved yet
        (Elasticsearch answers that with a timeout error; the exclusion stays)."""
        response = self._send(
            "POST",
            "/_cluster/voting_config_exclusions",
            params={"node_names": node_name, "timeout": timeout},
            accept=("elasticsearch_timeout_exception",),
        )
        return response.status_code == 200

    def clear_voting_exclusions(self) -> None:
        self._send("DELETE", "/_cluster/voting_config_exclusions", params={"wait_for_removal": "false"})
