"""The operator's small Kubernetes client: get, list, server-side apply and delete of plain
dicts, through the kubernetes package's dynamic client. Apply never takes over an object the
resource does not own: an object of the same name made by someone else is an error, not a
thing to overwrite. Delete (pods in a rolling restart, a StatefulSet made again for larger
volumes, a dropped node set's objects) names the exact object by its uid: a pod the
StatefulSet controller already replaced is never deleted by mistake. Patch (a merge patch)
is for objects the cluster's resources make but do not own: the claims a StatefulSet makes,
grown in place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .builders.common import MANAGER


class NotOwned(Exception):
    """An object the operator would write exists and belongs to someone else."""


class ApplyError(Exception):
    """The API server refused an object; the message is its reason."""


class ReadError(Exception):
    """The API server refused a read for a reason other than "not found" (access denied, a
    timeout, ...)."""


class DeleteError(Exception):
    """The API server refused a delete (a precondition failed, access denied, ...)."""


class Kube(Protocol):
    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object, None when there is none; `namespace` None for a cluster-scoped kind.
        ReadError when the API server refuses the read."""

    def list(
        self, api_version: str, kind: str, namespace: str, labels: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]: ...

    def apply(self, obj: Mapping[str, Any], owner_uid: str) -> dict[str, Any]: ...

    def patch(
        self, api_version: str, kind: str, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A merge patch; ApplyError when the API server refuses it."""

    def delete(
        self, api_version: str, kind: str, namespace: str, name: str, uid: str, orphan: bool = False
    ) -> None:
        """Delete the object of that name only if its uid is `uid`; one already gone is no
        error (the goal is reached). `orphan`: its dependents stay (propagationPolicy
        Orphan), as `kubectl delete --cascade=orphan` leaves a StatefulSet's pods running."""


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def check_owner(existing: Mapping[str, Any] | None, obj: Mapping[str, Any], owner_uid: str) -> None:
    if existing is not None and controller_uid(existing) != owner_uid:
        meta = obj["metadata"]
        raise NotOwned(
            f"{obj['kind']} {meta.get('namespace')}/{meta['name']} exists and is not owned by "
            "this resource; rename or delete it"
        )


class DynamicKube:
    """Kube over kubernetes.dynamic.DynamicClient (in-cluster config, else the kubeconfig)."""

    def __init__(self, api_client: Any = None, field_manager: str = MANAGER):
        from kubernetes import client, config, dynamic

        if api_client is None:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            api_client = client.ApiClient()
        self._dynamic = dynamic.DynamicClient(api_client)
        self._field_manager = field_manager

    def _resource(self, api_version: str, kind: str) -> Any:
        return self._dynamic.resources.get(api_version=api_version, kind=kind)

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError

        try:
            return self._resource(api_version, kind).get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None
        except DynamicApiError as e:
            raise ReadError(f"{kind} {namespace}/{name}: {e.summary()}") from e

    def list(
        self, api_version: str, kind: str, namespace: str, labels: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        selector = ",".join(f"{k}={v}" for k, v in (labels or {}).items()) or None
        result = self._resource(api_version, kind).get(namespace=namespace, label_selector=selector)
        return list(result.to_dict().get("items") or [])

    def apply(self, obj: Mapping[str, Any], owner_uid: str) -> dict[str, Any]:
        from kubernetes.dynamic.exceptions import DynamicApiError

        meta = obj["metadata"]
        check_owner(self.get(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"]), obj, owner_uid)
        try:
            applied = self._resource(obj["apiVersion"], obj["kind"]).server_side_apply(
                body=dict(obj),
                name=meta["name"],
                namespace=meta["namespace"],
                field_manager=self._field_manager,
                force_conflicts=True,
            )
        except DynamicApiError as e:
            raise ApplyError(f"{obj['kind']} {meta['namespace']}/{meta['name']}: {e.summary()}") from e
        return applied.to_dict()

    def patch(
        self, api_version: str, kind: str, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        from kubernetes.dynamic.exceptions import DynamicApiError

        try:
            patched = self._resource(api_version, kind).patch(
                body=dict(patch),
                name=name,
                namespace=namespace,
                content_type="application/merge-patch+json",
                field_manager=self._field_manager,
            )
        except DynamicApiError as e:
            raise ApplyError(f"{kind} {namespace}/{name}: {e.summary()}") from e
        return patched.to_dict()

    def delete(
        self, api_version: str, kind: str, namespace: str, name: str, uid: str, orphan: bool = False
    ) -> None:
        from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError

        body: dict[str, Any] = {"preconditions": {"uid": uid}}
        if orphan:
            body["propagationPolicy"] = "Orphan"
        try:
            self._resource(api_version, kind).delete(name=name, namespace=namespace, body=body)
        except NotFoundError:
            return
        except DynamicApiError as e:
            raise DeleteError(f"{kind} {namespace}/{name}: {e.summary()}") from e
