"""A cluster's REST API as the operator's client sees it, served from memory through
httpx.MockTransport: health, master, nodes, node shutdown markers, voting exclusions, the
file settings' reserved state and validation. Its state is plain attributes a test sets;
every request is recorded; `down` makes every request fail to connect, `failing` makes
requests to the paths it names answer 503."""

from __future__ import annotations

import json
from typing import Any

import httpx

from strata_operator.cluster_client import ClusterClient

TIMEOUT_ERROR = {"type": "elasticsearch_timeout_exception", "reason": "timed out waiting for exclusions"}


def node(name: str, node_id: str | None = None, roles: str = "dimr") -> dict[str, str]:
    return {"id": node_id or f"id-{name}", "name": name, "node.role": roles}


class FakeCluster:
    def __init__(self, *nodes: dict[str, str], down: bool = False):
        self.down = down
        self.failing: set[str] = set()
        self.health: dict[str, Any] = {"status": "green", "number_of_nodes": len(nodes) or 3}
        self.master = "demo-default-0"
        self.cluster_uuid: str | None = "uuid-1"
        self.nodes = list(nodes)
        # node id -> {"type", "reason", "status", "shard_migrations_remaining", "explanation"}
        self.shutdowns: dict[str, dict[str, Any]] = {}
        self.exclusions: list[dict[str, str]] = []
        self.voting = [n["id"] for n in nodes if "m" in n["node.role"]]
        self.exclusions_take_effect = True
        self.file_settings: dict[str, Any] | None = None
        self.validation_errors: dict[str, Any] | None = None  # {"error_kind", "errors"}
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        # _cat/shards rows ({"index", "shard", "prirep", "state", "node"}) and the allocation
        # explain answer (None: no copy is unassigned, answered as the API does, with a 400).
        self.shards: list[dict[str, Any]] = []
        self.explain: dict[str, Any] | None = None
        # Autoscaling: the policies put (name -> body) and the capacity answer per policy.
        self.policies: dict[str, Any] = {}
        self.capacity: dict[str, Any] = {}

    # -- what tests use --------------------------------------------------------------------

    def connect(self, name: str = "demo", namespace: str = "prod") -> ClusterClient:
        return ClusterClient("http://cluster", transport=httpx.MockTransport(self.handle))

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _, _ in self.requests if m != "GET"]

    def drain(
        self, node_id: str, status: str = "COMPLETE", remaining: int = 0, explanation: str = ""
    ) -> None:
        self.shutdowns[node_id].update(
            status=status, shard_migrations_remaining=remaining, explanation=explanation
        )

    # -- the API ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, dict(request.url.params)
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, path, params, body))
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if path in self.failing:
            return httpx.Response(503, json={"error": {"type": "master_not_discovered_exception"}})
        route = getattr(self, f"_{request.method.lower()}", None)
        answer = route(path, params, body) if route else None
        if answer is None:
            return httpx.Response(404, json={"error": {"type": "no_handler", "reason": path}})
        return answer

    def _get(self, path: str, params: dict[str, str], body: Any) -> httpx.Response | None:
        if path == "/_cluster/health":
            return httpx.Response(200, json=self.health)
        if path == "/_cat/master":
            return httpx.Response(200, json=[{"node": self.master}] if self.master else [])
        if path == "/_cat/nodes":
            return httpx.Response(200, json=self.nodes)
        if path == "/_cat/shards":
            return httpx.Response(200, json=self.shards)
        if path == "/_cluster/allocation/explain":
            if self.explain is None:
                error = {"type": "illegal_argument_exception", "reason": "there are no unassigned shards"}
                return httpx.Response(400, json={"error": error, "status": 400})
            return httpx.Response(200, json=self.explain)
        if path == "/_nodes/shutdown":
            return httpx.Response(200, json={"nodes": [self._shutdown(i) for i in sorted(self.shutdowns)]})
        if path == "/_cluster/state/metadata":
            return httpx.Response(200, json={"metadata": self._metadata(params.get("filter_path", ""))})
        if path == "/_autoscaling/capacity":
            answer = {n: self.capacity.get(n, {}) for n in self.policies}
            return httpx.Response(200, json={"policies": answer})
        return None

    def _shutdown(self, node_id: str) -> dict[str, Any]:
        marker = self.shutdowns[node_id]
        migration = {
            "status": marker.get("status", "IN_PROGRESS"),
            "shard_migrations_remaining": marker.get("shard_migrations_remaining", 1),
        }
        if marker.get("explanation"):
            migration["explanation"] = marker["explanation"]
        return {
            "node_id": node_id,
            "type": marker["type"].upper(),
            "reason": marker["reason"],
            "shutdown_startedmillis": 1,
            "status": migration["status"],
            "shard_migration": migration,
        }

    def _metadata(self, filter_path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "cluster_uuid" in filter_path:
            out.update(
                cluster_uuid=self.cluster_uuid or "_na_", cluster_uuid_committed=bool(self.cluster_uuid)
            )
        if "cluster_coordination" in filter_path:
            out["cluster_coordination"] = {
                "last_committed_config": list(self.voting),
                "last_accepted_config": list(self.voting),
                "voting_config_exclusions": list(self.exclusions),
            }
        if "autoscaling" in filter_path and self.policies:
            out["autoscaling"] = {"policies": {n: {"policy": p} for n, p in self.policies.items()}}
        if "reserved_state" in filter_path and self.file_settings is not None:
            out["reserved_state"] = {"file_settings": self.file_settings}
        return out

    def _post(self, path: str, params: dict[str, str], body: Any) -> httpx.Response | None:
        if path == "/_reserved_state/_validate":
            version = int(body["metadata"]["version"])
            current = (self.file_settings or {}).get("version")
            answer: dict[str, Any] = {
                "namespace": "file_settings",
                "version": version,
                "current_version": current,
            }
            if self.validation_errors:
                return httpx.Response(
                    200,
                    json={**answer, "valid": False, "would_apply": False, "errors": self.validation_errors},
                )
            keys = sorted(body["state"].get("cluster_settings") or {})
            return httpx.Response(
                200,
                json={
                    **answer,
                    "valid": True,
                    "would_apply": current is None or version > current,
                    "handlers": {"cluster_settings": {"keys": keys}},
                },
            )
        if path == "/_cluster/voting_config_exclusions":
            name = params["node_names"]
            found = next(n for n in self.nodes if n["name"] == name)
            entry = {"node_id": found["id"], "node_name": name}
            if entry not in self.exclusions:
                self.exclusions.append(entry)
            if not self.exclusions_take_effect:
                return httpx.Response(429, json={"error": TIMEOUT_ERROR, "status": 429})
            self.voting = [i for i in self.voting if i != found["id"]]
            return httpx.Response(200)
        return None

    def _put(self, path: str, params: dict[str, str], body: Any) -> httpx.Response | None:
        if path.startswith("/_nodes/") and path.endswith("/shutdown"):
            node_id = path.split("/")[2]
            self.shutdowns[node_id] = {
                "type": body["type"],
                "reason": body["reason"],
                "status": "COMPLETE" if body["type"] == "restart" else "IN_PROGRESS",
                **({"allocation_delay": body["allocation_delay"]} if "allocation_delay" in body else {}),
            }
            return httpx.Response(200, json={"acknowledged": True})
        if path.startswith("/_autoscaling/policy/"):
            self.policies[path.rsplit("/", 1)[1]] = body
            return httpx.Response(200, json={"acknowledged": True})
        return None

    def _delete(self, path: str, params: dict[str, str], body: Any) -> httpx.Response | None:
        if path.startswith("/_nodes/") and path.endswith("/shutdown"):
            node_id = path.split("/")[2]
            if self.shutdowns.pop(node_id, None) is None:
                return httpx.Response(404, json={"error": {"type": "resource_not_found_exception"}})
            return httpx.Response(200, json={"acknowledged": True})
        if path == "/_cluster/voting_config_exclusions":
            self.exclusions = []
            return httpx.Response(200)
        if path.startswith("/_autoscaling/policy/"):
            self.policies.pop(path.rsplit("/", 1)[1], None)
            return httpx.Response(200, json={"acknowledged": True})
        return None
