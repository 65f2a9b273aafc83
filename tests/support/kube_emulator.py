"""A small Kubernetes API server emulator for end-to-end tests of the operator process.

It serves exactly the API surface the operator (kopf, and the kubernetes package's dynamic
client in strata_operator.kube) uses, over plain HTTP on loopback:

- discovery: /version, /api, /api/v1, /apis, /apis/<group>/<version> (resources with their
  `status` subresources);
- per resource: list (labelSelector `k=v,...`), watch (resourceVersion, timeoutSeconds,
  every event after the given version, then live ones), get, create, delete (uid
  preconditions; a pod is first marked terminating, as the kubelet then removes it, unless
  gracePeriodSeconds=0; an object with finalizers is marked terminating and goes with its
  last finalizer), and patch as merge patch, JSON patch (with kopf's resourceVersion
  `test` op) and server-side apply (create or replace the applied fields);
- the status subresource: a patch of /status changes only the status, a patch of the object
  never does; metadata.generation moves when anything but metadata and status changes;
- the garbage collector: an object gone takes its dependents (those whose ownerReferences
  name its uid and no other owner still there) with it, unless it was deleted with
  propagationPolicy Orphan, which leaves them with that ownerReference removed;
- the two validations the operator must live with: a StatefulSet's spec may change only in
  replicas, ordinals, template, updateStrategy, persistentVolumeClaimRetentionPolicy and
  minReadySeconds (its volumeClaimTemplates are immutable), and a PersistentVolumeClaim's
  storage request may only grow, and only when its StorageClass has allowVolumeExpansion.

Objects get a uid, a creationTimestamp and a resourceVersion from one counter. No
controller runs here: a test plays the StatefulSet controller, the volume resizer and the
kubelet itself, through this same API.

Why not kmock (kopf's author's mock server, 0.8 on PyPI): its stateful emulator has no label
selectors, no resourceVersion, uid or generation, no server-side apply (a PATCH of a missing
object is a 404), no JSON patch and no status subresource split, all of which the operator
uses; extending it would mean replacing most of it."""

from __future__ import annotations

import asyncio
import copy
import datetime
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import jsonpatch
import yaml
from aiohttp import web


@dataclass(frozen=True)
class Kind:
    group: str  # "" for core
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status: bool = False  # has the status subresource

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KINDS = [
    Kind("", "v1", "pods", "Pod", status=True),
    Kind("", "v1", "configmaps", "ConfigMap"),
    Kind("", "v1", "secrets", "Secret"),
    Kind("", "v1", "services", "Service", status=True),
    Kind("", "v1", "events", "Event"),
    Kind("", "v1", "namespaces", "Namespace", namespaced=False, status=True),
    Kind("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", status=True),
    Kind("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False),
    Kind("apps", "v1", "statefulsets", "StatefulSet", status=True),
    Kind("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", status=True),
    Kind("events.k8s.io", "v1", "events", "Event"),
    Kind(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
        namespaced=False, status=True,
    ),
    Kind("strata.dev", "v1alpha1", "strataclusters", "StrataCluster", status=True),
    Kind("strata.dev", "v1alpha1", "stratafilesettings", "StrataFileSettings", status=True),
    Kind("strata.dev", "v1alpha1", "strataautoscalers", "StrataAutoscaler", status=True),
]

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status_error(code: int, reason: str, message: str) -> web.Response:
    return web.json_response(
        {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
         "code": code, "reason": reason, "message": message},
        status=code,
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def matches(labels: dict[str, str], selector: str | None) -> bool:
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term.strip() not in labels:
            return False
    return True


# The fields of a StatefulSet's spec an update may change (apps/v1 validation).
STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy",
                       "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
UNITS = {"": 1, **{u: 1000 ** (i + 1) for i, u in enumerate("kMGTPE")},
         **{f"{u}i": 1024 ** (i + 1) for i, u in enumerate("KMGTPE")}}


def quantity(text: str) -> float:
    number = text.rstrip("KMGTPEki")
    return float(number) * UNITS[text[len(number):]]


def _storage(claim: dict[str, Any]) -> str:
    return ((claim.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage", "0")


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """What metadata.generation follows: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class KubeEmulator:
    """The store and the aiohttp application; `start()` serves it on a loopback port from a
    thread of its own, `stop()` ends it. `objects(kind)` reads the store (a copy)."""

    def __init__(self) -> None:
        self._kinds = {(k.group, k.version, k.plural): k for k in KINDS}
        self._store: dict[tuple[str, str, str | None, str], dict[str, Any]] = {}
        self._events: list[tuple[int, Kind, dict[str, Any]]] = []  # (rv, kind, event)
        self._rv = 0
        self._changed: asyncio.Event | None = None  # set and replaced on every change
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.requests: list[tuple[str, str, int]] = []  # the last ones: (method, path, status)
        self._orphaning: set[str] = set()  # uids of terminating objects deleted with Orphan

    # -- serving ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            response = await handler(request)
            self.requests.append((request.method, request.path_qs, response.status))
            del self.requests[:-500]
            return response

        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[record])
        r = app.router
        r.add_get("/version", self._version)
        r.add_get("/api", self._api)
        r.add_get("/apis", self._apis)
        r.add_get("/api/{version}", self._resource_list)
        r.add_get("/apis/{group}/{version}", self._resource_list)
        r.add_get("/apis/{group}", self._group)
        for prefix in ("/api/{version}", "/apis/{group}/{version}"):
            for scope in ("/namespaces/{namespace}", ""):  # the namespaced routes first
                r.add_route("*", f"{prefix}{scope}/{{plural}}", self._collection)
                r.add_route("*", f"{prefix}{scope}/{{plural}}/{{name}}", self._object)
                r.add_route("*", f"{prefix}{scope}/{{plural}}/{{name}}/{{sub}}", self._object)
        return app

    def start(self) -> KubeEmulator:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def serve() -> None:
                self._changed = asyncio.Event()
                self._runner = web.AppRunner(self.app(), shutdown_timeout=0.5)
                await self._runner.setup()
                site = web.TCPSite(self._runner, "127.0.0.1", 0)
                await site.start()
                port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
                self.url = f"http://127.0.0.1:{port}"
                ready.set()

            loop.run_until_complete(serve())
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="kube-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the Kubernetes API emulator did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._runner is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            except Exception:  # stopping anyway
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "emulator"}}],
            "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "tester"}}],
            "current-context": "emulator",
        }

    # -- discovery ----------------------------------------------------------------------------

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"major": "1", "minor": "30", "gitVersion": "v1.30.0-strata-emulator",
                                  "platform": "linux/amd64"})

    async def _api(self, request: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"],
                                  "serverAddressByClientCIDRs": []})

    def _group_body(self, group: str) -> dict[str, Any]:
        versions = sorted({k.version for k in KINDS if k.group == group})
        items = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": items,
                "preferredVersion": items[0]}

    async def _apis(self, request: web.Request) -> web.Response:
        groups = sorted({k.group for k in KINDS if k.group})
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1",
                                  "groups": [self._group_body(g) for g in groups]})

    async def _group(self, request: web.Request) -> web.Response:
        group = request.match_info["group"]
        if not any(k.group == group for k in KINDS):
            return _status_error(404, "NotFound", f"group {group} not served")
        return web.json_response(self._group_body(group))

    async def _resource_list(self, request: web.Request) -> web.Response:
        group, version = request.match_info.get("group", ""), request.match_info["version"]
        kinds = [k for k in KINDS if (k.group, k.version) == (group, version)]
        if not kinds:
            return _status_error(404, "NotFound", f"{group}/{version} not served")
        resources = []
        for k in kinds:
            resources.append({"name": k.plural, "singularName": k.kind.lower(), "namespaced": k.namespaced,
                              "kind": k.kind, "verbs": VERBS, "shortNames": []})
            if k.status:
                resources.append({"name": f"{k.plural}/status", "singularName": "",
                                  "namespaced": k.namespaced, "kind": k.kind,
                                  "verbs": ["get", "patch", "update"]})
        return web.json_response({"kind": "APIResourceList", "apiVersion": "v1",
                                  "groupVersion": f"{group}/{version}" if group else version,
                                  "resources": resources})

    # -- the store ----------------------------------------------------------------------------

    def _kind(self, request: web.Request) -> Kind | None:
        m = request.match_info
        return self._kinds.get((m.get("group", ""), m["version"], m["plural"]))

    def _key(self, kind: Kind, namespace: str | None, name: str) -> tuple[str, str, str | None, str]:
        return (kind.group, kind.plural, namespace if kind.namespaced else None, name)

    async def _record(self, kind: Kind, kind_type: str, obj: dict[str, Any]) -> None:
        """Give obj the next resourceVersion (unless it is a deletion) and tell the watchers."""
        self._rv += 1
        if kind_type != "DELETED":
            obj["metadata"]["resourceVersion"] = str(self._rv)
        self._events.append((self._rv, kind, {"type": kind_type, "object": copy.deepcopy(obj)}))
        assert self._changed is not None
        self._changed.set()
        self._changed = asyncio.Event()

    def objects(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """A copy of the stored objects of a resource (by plural; events of core v1)."""
        return [copy.deepcopy(o) for (g, p, ns, _), o in list(self._store.items())
                if p == plural and (namespace is None or ns == namespace)
                and (p != "events" or g == "")]

    # -- collections: list, watch, create -----------------------------------------------------

    async def _collection(self, request: web.Request) -> web.StreamResponse:
        kind = self._kind(request)
        if kind is None:
            return _status_error(404, "NotFound", f"{request.path}: no such resource")
        namespace = request.match_info.get("namespace")
        if request.method == "GET" and request.query.get("watch") in ("true", "1"):
            return await self._watch(request, kind, namespace)
        if request.method == "GET":
            selector = request.query.get("labelSelector")
            stored = sorted(self._store.items(), key=lambda i: i[0][3])
            items = [copy.deepcopy(o) for (g, p, ns, _), o in stored
                     if (g, p) == (kind.group, kind.plural) and (namespace is None or ns == namespace)
                     and matches(o["metadata"].get("labels") or {}, selector)]
            return web.json_response({"kind": f"{kind.kind}List", "apiVersion": kind.api_version,
                                      "metadata": {"resourceVersion": str(self._rv)}, "items": items})
        if request.method == "POST":
            body = await request.json()
            name = (body.get("metadata") or {}).get("name")
            if not name and (body.get("metadata") or {}).get("generateName"):
                name = body["metadata"]["generateName"] + uuid.uuid4().hex[:5]
                body["metadata"]["name"] = name
            if not name:
                return _status_error(422, "Invalid", "metadata.name is required")
            key = self._key(kind, namespace or body["metadata"].get("namespace"), name)
            if key in self._store:
                return _status_error(409, "AlreadyExists", f"{kind.plural} {name} already exists")
            obj = await self._create(kind, key, body)
            return web.json_response(obj, status=201)
        return _status_error(405, "MethodNotAllowed", request.method)

    async def _create(self, kind: Kind, key: tuple[str, str, str | None, str], body: dict[str, Any]) -> dict:
        obj = copy.deepcopy(body)
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        meta = obj.setdefault("metadata", {})
        meta.update({"name": key[3], "uid": str(uuid.uuid4()), "creationTimestamp": _now(), "generation": 1})
        if kind.namespaced:
            meta["namespace"] = key[2]
        meta.pop("deletionTimestamp", None)
        self._store[key] = obj
        await self._record(kind, "ADDED", obj)
        return copy.deepcopy(obj)

    async def _watch(self, request: web.Request, kind: Kind, namespace: str | None) -> web.StreamResponse:
        since = int(request.query.get("resourceVersion") or 0)
        timeout = float(request.query.get("timeoutSeconds") or 3600)
        selector = request.query.get("labelSelector")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if since == 0:  # no version: the current objects as ADDED first, then what follows
            for (g, p, ns, _), obj in list(self._store.items()):
                if (g, p) == (kind.group, kind.plural) and (namespace is None or ns == namespace):
                    line = json.dumps({"type": "ADDED", "object": obj}) + "\n"
                    await response.write(line.encode())
            since = self._rv
        assert self._changed is not None
        try:
            while True:
                for rv, event_kind, event in list(self._events):
                    if rv <= since:
                        continue
                    since = rv
                    obj = event["object"]
                    if event_kind != kind:
                        continue
                    if namespace is not None and obj["metadata"].get("namespace") != namespace:
                        continue
                    if not matches(obj["metadata"].get("labels") or {}, selector):
                        continue
                    await response.write((json.dumps(event) + "\n").encode())
                left = deadline - loop.time()
                if left <= 0:
                    break
                if self._rv > since:
                    continue
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout=min(left, 5))
                except TimeoutError:
                    pass
        except (ConnectionResetError, asyncio.CancelledError):
            return response
        return response

    # -- objects: get, patch, put, delete ------------------------------------------------------

    async def _object(self, request: web.Request) -> web.StreamResponse:
        kind = self._kind(request)
        if kind is None:
            return _status_error(404, "NotFound", f"{request.path}: no such resource")
        sub = request.match_info.get("sub")
        if sub not in (None, "status"):
            return _status_error(404, "NotFound", f"subresource {sub} is not served")
        key = self._key(kind, request.match_info.get("namespace"), request.match_info["name"])
        existing = self._store.get(key)
        if request.method == "GET":
            if existing is None:
                return self._not_found(kind, key)
            return web.json_response(existing)
        if request.method == "DELETE":
            return await self._delete(request, kind, key)
        if request.method == "PATCH":
            return await self._patch(request, kind, key, status=sub == "status")
        if request.method == "PUT":
            if existing is None:
                return self._not_found(kind, key)
            body = await request.json()
            return await self._update(kind, key, body, status=sub == "status")
        return _status_error(405, "MethodNotAllowed", request.method)

    def _not_found(self, kind: Kind, key: tuple) -> web.Response:
        return _status_error(404, "NotFound", f'{kind.plural} "{key[3]}" not found')

    async def _patch(self, request: web.Request, kind: Kind, key: tuple, *, status: bool) -> web.Response:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        raw = await request.text()
        existing = self._store.get(key)
        if content_type == "application/apply-patch+yaml":
            body = yaml.safe_load(raw)
            if existing is None:
                if status:
                    return self._not_found(kind, key)
                return web.json_response(await self._create(kind, key, body), status=201)
            return await self._update(kind, key, self._applied(existing, body), status=status)
        if existing is None:
            return self._not_found(kind, key)
        patch = json.loads(raw)
        if content_type == "application/json-patch+json":
            try:
                patched = jsonpatch.apply_patch(existing, patch)
            except (jsonpatch.JsonPatchTestFailed, jsonpatch.JsonPatchConflict) as e:
                return _status_error(422, "Invalid", f"the JSON patch failed: {e}")
        else:  # merge patch; a strategic merge patch is read as one too
            patched = merge_patch(existing, patch)
        return await self._update(kind, key, patched, status=status)

    @staticmethod
    def _applied(existing: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply by the one manager that writes these objects: the applied object
        replaces everything but the metadata other writers own (labels and annotations are
        merged) and the status."""
        out = copy.deepcopy(body)
        meta = out.setdefault("metadata", {})
        old = existing.get("metadata") or {}
        for field in ("labels", "annotations"):
            merged = {**(old.get(field) or {}), **(meta.get(field) or {})}
            if merged:
                meta[field] = merged
        if "status" in existing:
            out["status"] = copy.deepcopy(existing["status"])
        return out

    def _invalid(self, kind: Kind, existing: dict[str, Any], new: dict[str, Any]) -> str | None:
        """Why the API server's validation refuses an update, or None."""
        if kind.plural == "statefulsets":
            old_spec, new_spec = existing.get("spec") or {}, new.get("spec") or {}
            fields = set(old_spec) | set(new_spec)
            if any(old_spec.get(f) != new_spec.get(f) for f in fields if f not in STATEFULSET_MUTABLE):
                return ("spec: Forbidden: updates to statefulset spec for fields other than "
                        f"{', '.join(STATEFULSET_MUTABLE)} are forbidden")
        if kind.plural == "persistentvolumeclaims":
            before, after = quantity(_storage(existing)), quantity(_storage(new))
            if after < before:
                return "spec.resources.requests.storage: Forbidden: field can not be less than previous value"
            if after > before:
                name = (existing.get("spec") or {}).get("storageClassName")
                storage_class = self._store.get(("storage.k8s.io", "storageclasses", None, name or ""))
                if not (storage_class or {}).get("allowVolumeExpansion"):
                    return ("spec: Forbidden: only dynamically provisioned pvc can be resized and the "
                            "storageclass that provisions the pvc must support resize")
        return None

    async def _update(self, kind: Kind, key: tuple, new: dict[str, Any], *, status: bool) -> web.Response:
        existing = self._store[key]
        if not status and (why := self._invalid(kind, existing, new)) is not None:
            return _status_error(422, "Invalid", f"{kind.kind} \"{key[3]}\" is invalid: {why}")
        if status:  # only the status moves
            obj = copy.deepcopy(existing)
            obj["status"] = copy.deepcopy(new.get("status") or {})
        else:
            obj = copy.deepcopy(new)
            if kind.status:
                if "status" in existing:
                    obj["status"] = copy.deepcopy(existing["status"])
                else:
                    obj.pop("status", None)
            meta = obj.setdefault("metadata", {})
            for field in ("uid", "creationTimestamp", "generation", "deletionTimestamp", "name", "namespace"):
                if field in existing["metadata"]:
                    meta[field] = existing["metadata"][field]
                else:
                    meta.pop(field, None)
            if _spec_part(obj) != _spec_part(existing):
                meta["generation"] = int(existing["metadata"].get("generation") or 1) + 1
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        if obj == existing:
            return web.json_response(existing)
        self._store[key] = obj
        # A terminating object whose last finalizer went is gone.
        if obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers"):
            await self._remove(kind, key, obj)
            return web.json_response(obj)
        await self._record(kind, "MODIFIED", obj)
        return web.json_response(obj)

    async def _delete(self, request: web.Request, kind: Kind, key: tuple) -> web.Response:
        existing = self._store.get(key)
        if existing is None:
            return self._not_found(kind, key)
        raw = await request.text()
        body = json.loads(raw) if raw.strip() else {}
        grace = request.query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
        want_uid = (body.get("preconditions") or {}).get("uid")
        if want_uid is not None and want_uid != existing["metadata"].get("uid"):
            return _status_error(
                409, "Conflict",
                f"Precondition failed: UID in precondition: {want_uid}, "
                f"UID in object meta: {existing['metadata'].get('uid')}",
            )
        meta = existing["metadata"]
        policy = request.query.get("propagationPolicy", body.get("propagationPolicy"))
        if policy == "Orphan":
            self._orphaning.add(meta["uid"])
        graceful = kind.plural == "pods" and str(grace) != "0"
        if meta.get("finalizers") or graceful:
            if not meta.get("deletionTimestamp"):
                obj = copy.deepcopy(existing)
                obj["metadata"]["deletionTimestamp"] = _now()
                self._store[key] = obj
                await self._record(kind, "MODIFIED", obj)
            return web.json_response(self._store[key])
        await self._remove(kind, key, existing)
        return web.json_response(existing)

    async def _remove(self, kind: Kind, key: tuple, obj: dict[str, Any]) -> None:
        """The object goes; the garbage collector deletes its dependents, or orphans them."""
        del self._store[key]
        await self._record(kind, "DELETED", obj)
        uid = obj["metadata"]["uid"]
        orphan = uid in self._orphaning
        self._orphaning.discard(uid)
        live = {o["metadata"]["uid"] for o in self._store.values()}
        for dep_key, dep in list(self._store.items()):
            if dep_key not in self._store:  # gone with an earlier dependent
                continue
            refs = dep["metadata"].get("ownerReferences") or []
            if not any(r.get("uid") == uid for r in refs):
                continue
            dep_kind = next(k for k in KINDS if (k.group, k.plural) == dep_key[:2])
            rest = [r for r in refs if r.get("uid") != uid]
            if orphan or any(r.get("uid") in live for r in rest):
                changed = copy.deepcopy(dep)
                changed["metadata"]["ownerReferences"] = rest
                self._store[dep_key] = changed
                await self._record(dep_kind, "MODIFIED", changed)
            elif dep_kind.plural == "pods" or dep["metadata"].get("finalizers"):
                if not dep["metadata"].get("deletionTimestamp"):
                    changed = copy.deepcopy(dep)
                    changed["metadata"]["deletionTimestamp"] = _now()
                    self._store[dep_key] = changed
                    await self._record(dep_kind, "MODIFIED", changed)
            else:
                await self._remove(dep_kind, dep_key, dep)
