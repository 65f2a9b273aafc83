"""What Kubernetes does besides the API server, for end-to-end tests of the operator against
tests/support/kube_emulator.py, with real node processes on loopback standing in for pods.

`PodRunner` plays, through the emulator's HTTP API as the real ones would:
- the StatefulSet controller: pods 0..replicas-1 created (all at once, parallel pod
  management) with the template's labels and `controller-revision-hash` (a hash of the
  template), and each pod's claims from the volumeClaimTemplates (of the default
  StorageClass when the template names none), kept when the pod goes; pods past `replicas`
  deleted; never a pod replaced by itself (OnDelete); orphaned pods of its name adopted
  (their controller ownerReference set to it, once a fresh read shows it is still the one
  listed and not going); the StatefulSet's status (readyReplicas, updatedReplicas,
  updateRevision, observedGeneration, and currentRevision, which under OnDelete stays the
  first revision, as the real controller leaves it);
- the volume resizer: a claim whose storage request grew gets that capacity in its status;
- the kubelet: a node process per pod, started from the node set's ConfigMap (strata.yml) and
  the cluster's Secret (transport.secret), with the pod's name as node.name; its readiness
  probe (the node's local health) in the pod's Ready condition; a terminating pod's process
  stopped (SIGTERM, as the kubelet does) before the pod is removed; the file settings
  ConfigMap's settings.json copied into every running node's config folder.

Kubernetes DNS is replaced by fixed loopback ports per pod name: a pod always gets the same
HTTP and transport ports, and `discovery.seed_hosts` lists the transport ports of every pod
of every StatefulSet. A pod's data folder outlives the pod, as its PersistentVolumeClaim does.

`ServiceProxy` stands in for the cluster's HTTP Service: it forwards each request to a ready
pod's node (the Service's endpoints), trying the next on a connection error."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import yaml
from aiohttp import web

from strata_node.common.net import free_ports
from tests.support.cluster import TEST_ACTIONS
from tests.support.node_process import NodeProcess

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
MERGE = {"Content-Type": "application/merge-patch+json"}
TRANSPORT_SECRET_KEY = "transport-secret"
# Settings the rendered strata.yml sets for a pod that the runner sets for loopback instead.
LOCAL_SETTINGS = ("path.data", "path.config", "http.host", "http.port", "transport.port",
                  "discovery.seed_hosts")


def template_revision(sts: dict[str, Any]) -> str:
    text = json.dumps(sts["spec"]["template"], sort_keys=True, separators=(",", ":"))
    return f"{sts['metadata']['name']}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _ordinal(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


class PodRunner:
    """Run in a thread: `start()`, `stop()` (stops every node process too)."""

    def __init__(self, api_url: str, root: Path, namespace: str, *, max_pods: int = 6,
                 interval: float = 0.25):
        self.api = httpx.Client(base_url=api_url, timeout=10)
        self.root = Path(root)
        self.namespace = namespace
        self.interval = interval
        ports = free_ports(2 * max_pods)
        self._free = [(ports[2 * i], ports[2 * i + 1]) for i in range(max_pods)]
        self.ports: dict[str, tuple[int, int]] = {}  # pod name -> (http, transport)
        self.nodes: dict[str, NodeProcess] = {}  # pod name -> its running node
        self.node_uid: dict[str, str] = {}  # pod name -> uid of the pod the node runs for
        self.starts: dict[str, int] = {}  # pod name -> how many times its node was started
        self.deleted: list[str] = []  # pod names, in the order their pods went
        self._starting: dict[str, Future] = {}
        self._stopping: dict[str, Future] = {}
        self._settings_text: dict[str, str] = {}
        self._pool = ThreadPoolExecutor(max_workers=max_pods * 2)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []
        self._ready: set[str] = set()
        self.lock = threading.RLock()

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> PodRunner:
        self._thread = threading.Thread(target=self._run, name="pod-runner", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        for node in list(self.nodes.values()):
            node.stop()
        self._pool.shutdown(wait=True)
        self.api.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as e:  # the API or a node hiccuped: next round
                self.errors.append(repr(e))
                del self.errors[:-20]
            self._stop.wait(self.interval)

    def ready_urls(self) -> list[str]:
        """The Service's endpoints: the nodes of ready pods."""
        with self.lock:
            return [n.url for name, n in sorted(self.nodes.items()) if n.url and name in self._ready]

    # -- one round ----------------------------------------------------------------------------

    def _get(self, path: str, **params: str) -> Any:
        response = self.api.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def step(self) -> None:
        ns = self.namespace
        statefulsets = self._get(f"/apis/apps/v1/namespaces/{ns}/statefulsets")["items"]
        pods = {p["metadata"]["name"]: p for p in self._get(f"/api/v1/namespaces/{ns}/pods")["items"]}
        self._ready = {n for n, p in pods.items() if self._pod_ready(p)}
        seeds = sorted(self._port(f"{s['metadata']['name']}-{i}")[1]
                       for s in statefulsets for i in range(s["spec"].get("replicas", 0)))
        claims = {c["metadata"]["name"]: c
                  for c in self._get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims")["items"]}
        for sts in statefulsets:
            self._control(sts, pods, claims)
        self._resize(claims)
        for name, pod in pods.items():
            self._kubelet(name, pod, statefulsets, seeds)
        self._sync_file_settings(statefulsets)

    @staticmethod
    def _pod_ready(pod: dict[str, Any]) -> bool:
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (pod.get("status") or {}).get("conditions") or [])

    def _port(self, pod: str) -> tuple[int, int]:
        if pod not in self.ports:
            self.ports[pod] = self._free.pop(0)
        return self.ports[pod]

    # -- the StatefulSet controller ------------------------------------------------------------

    def _control(self, sts: dict[str, Any], pods: dict[str, dict[str, Any]],
                 claims: dict[str, dict[str, Any]]) -> None:
        ns, name = self.namespace, sts["metadata"]["name"]
        replicas = sts["spec"].get("replicas", 0)
        revision = template_revision(sts)
        own = {n: p for n, p in pods.items() if n.rsplit("-", 1)[0] == name and _ordinal(n) >= 0}
        for ordinal in range(replicas):
            pod_name = f"{name}-{ordinal}"
            self._create_claims(sts, pod_name, claims)
            if pod_name not in own:
                self._create_pod(sts, pod_name, revision)
        for pod_name, pod in own.items():
            adopted = any(r.get("controller") for r in pod["metadata"].get("ownerReferences") or [])
            if not adopted and not pod["metadata"].get("deletionTimestamp") and self._still_there(sts):
                refs = [*(pod["metadata"].get("ownerReferences") or []), self._owner(sts)]
                self.api.patch(f"/api/v1/namespaces/{ns}/pods/{pod_name}",
                               json={"metadata": {"ownerReferences": refs}}, headers=MERGE).raise_for_status()
        for pod_name, pod in own.items():
            if _ordinal(pod_name) >= replicas and not pod["metadata"].get("deletionTimestamp"):
                self.api.delete(f"/api/v1/namespaces/{ns}/pods/{pod_name}")
        current = [p for n, p in own.items() if _ordinal(n) < replicas]
        revisions = {(p["metadata"].get("labels") or {}).get(REVISION_LABEL) for p in current}
        # The real controller moves currentRevision on only under RollingUpdate, once every
        # replica is on the update revision; under OnDelete never (kubernetes/kubernetes#73492).
        strategy = (sts["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
        promoted = strategy == "RollingUpdate" and revisions <= {revision} and len(current) == replicas
        old_status = sts.get("status") or {}
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(current),
            "readyReplicas": sum(1 for p in current if self._pod_ready(p)
                                 and not p["metadata"].get("deletionTimestamp")),
            "updatedReplicas": sum(1 for p in current
                                   if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision),
            "updateRevision": revision,
            "currentRevision": revision if promoted else old_status.get("currentRevision", revision),
        }
        if any(old_status.get(k) != v for k, v in status.items()):
            response = self.api.patch(f"/apis/apps/v1/namespaces/{ns}/statefulsets/{name}/status",
                                      json={"status": status}, headers=MERGE)
            if response.status_code != 404:  # deleted since the listing: nothing to report on
                response.raise_for_status()

    def _still_there(self, sts: dict[str, Any]) -> bool:
        """The StatefulSet, read again, is the one listed and not going: the listing this round
        works from may predate its deletion with orphaned pods, and adopting them for it would
        leave them owned by a uid that no longer exists (the real controller rechecks so too)."""
        name = sts["metadata"]["name"]
        response = self.api.get(f"/apis/apps/v1/namespaces/{self.namespace}/statefulsets/{name}")
        if response.status_code == 404:
            return False
        response.raise_for_status()
        fresh = response.json()["metadata"]
        return fresh["uid"] == sts["metadata"]["uid"] and not fresh.get("deletionTimestamp")

    @staticmethod
    def _owner(sts: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts["metadata"]["name"],
                "uid": sts["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}

    def _create_claims(self, sts: dict[str, Any], pod_name: str, claims: dict[str, dict[str, Any]]) -> None:
        for template in sts["spec"].get("volumeClaimTemplates") or []:
            name = f"{template['metadata']['name']}-{pod_name}"
            if name in claims:
                continue
            spec = json.loads(json.dumps(template["spec"]))
            if not spec.get("storageClassName"):
                classes = self._get("/apis/storage.k8s.io/v1/storageclasses")["items"]
                default = [c["metadata"]["name"] for c in classes
                           if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION)
                           == "true"]
                if default:
                    spec["storageClassName"] = default[0]
            body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": name, "namespace": self.namespace,
                                 "labels": dict(template["metadata"].get("labels") or {})},
                    "spec": spec}
            response = self.api.post(f"/api/v1/namespaces/{self.namespace}/persistentvolumeclaims", json=body)
            if response.status_code not in (201, 409):
                response.raise_for_status()
            claims[name] = response.json()

    def _resize(self, claims: dict[str, dict[str, Any]]) -> None:
        """The provisioner and the resizer: a claim is bound with the capacity it requests."""
        for name, claim in claims.items():
            requested = claim["spec"]["resources"]["requests"]["storage"]
            if ((claim.get("status") or {}).get("capacity") or {}).get("storage") != requested:
                status = {"phase": "Bound", "capacity": {"storage": requested}}
                self.api.patch(f"/api/v1/namespaces/{self.namespace}/persistentvolumeclaims/{name}/status",
                               json={"status": status}, headers=MERGE).raise_for_status()

    def _create_pod(self, sts: dict[str, Any], pod_name: str, revision: str) -> None:
        template = sts["spec"]["template"]
        labels = {**(template["metadata"].get("labels") or {}), REVISION_LABEL: revision,
                  POD_NAME_LABEL: pod_name}
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "namespace": self.namespace,
                "labels": labels,
                "annotations": dict(template["metadata"].get("annotations") or {}),
                "ownerReferences": [self._owner(sts)],
            },
            "spec": template["spec"],
            "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]},
        }
        response = self.api.post(f"/api/v1/namespaces/{self.namespace}/pods", json=body)
        if response.status_code not in (201, 409):
            response.raise_for_status()

    # -- the kubelet ---------------------------------------------------------------------------

    def _kubelet(self, name: str, pod: dict[str, Any], statefulsets: list[dict], seeds: list[int]) -> None:
        uid = pod["metadata"]["uid"]
        path = f"/api/v1/namespaces/{self.namespace}/pods/{name}"
        if pod["metadata"].get("deletionTimestamp"):
            if name in self._starting:
                return  # let it finish starting, then stop it
            if name in self.nodes and name not in self._stopping:
                node = self.nodes[name]
                self._stopping[name] = self._pool.submit(node.stop)
                return
            if name in self._stopping and not self._stopping[name].done():
                return
            with self.lock:
                self._stopping.pop(name, None)
                self.nodes.pop(name, None)
                self.node_uid.pop(name, None)
            self.api.delete(path, params={"gracePeriodSeconds": "0"})
            self.deleted.append(name)
            return
        starting = self._starting.get(name)
        if starting is not None:
            if not starting.done():
                return
            del self._starting[name]
            try:
                node = starting.result()
            except Exception as e:
                self.errors.append(f"{name} did not start: {e}")
                return
            with self.lock:
                self.nodes[name] = node
                self.node_uid[name] = uid
                self.starts[name] = self.starts.get(name, 0) + 1
        if self.node_uid.get(name) != uid or name not in self.nodes:
            owner = next((s for s in statefulsets if name.rsplit("-", 1)[0] == s["metadata"]["name"]), None)
            if owner is not None:
                self._starting[name] = self._pool.submit(self._start_node, name, owner, seeds)
            return
        ready = self._probe(self.nodes[name])
        if ready != self._pod_ready(pod):
            status = {"phase": "Running", "podIP": "127.0.0.1",
                      "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
            self.api.patch(f"{path}/status", json={"status": status}, headers=MERGE).raise_for_status()

    @staticmethod
    def _probe(node: NodeProcess) -> bool:
        if node.proc is None or node.proc.poll() is not None:
            return False
        try:
            return httpx.get(f"{node.url}/_cluster/health", params={"local": "true"}, timeout=2).is_success
        except httpx.HTTPError:
            return False

    def _config_map(self, name: str) -> dict[str, Any] | None:
        response = self.api.get(f"/api/v1/namespaces/{self.namespace}/configmaps/{name}")
        return response.json() if response.status_code == 200 else None

    def _start_node(self, name: str, sts: dict[str, Any], seeds: list[int]) -> NodeProcess:
        spec = sts["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        config = self._config_map(volumes["config"]["configMap"]["name"])
        assert config is not None, f"no ConfigMap for {name}"
        settings = yaml.safe_load(config["data"]["strata.yml"]) or {}
        for key in LOCAL_SETTINGS:
            settings.pop(key, None)
        secret_name = next(
            ref["name"] for e in spec["containers"][0]["env"]
            if (ref := (e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("key")
            == TRANSPORT_SECRET_KEY
        )
        secret = self._get(f"/api/v1/namespaces/{self.namespace}/secrets/{secret_name}")
        transport_secret = base64.b64decode(secret["data"][TRANSPORT_SECRET_KEY]).decode()
        data = self.root / name
        data.mkdir(parents=True, exist_ok=True)
        (data / "strata.yml").write_text(yaml.safe_dump(settings))
        http_port, transport_port = self._port(name)
        node = NodeProcess(
            data,
            f"transport.port={transport_port}",
            "transport.host=127.0.0.1",
            f"transport.secret={transport_secret}",
            f"discovery.seed_hosts={','.join(f'127.0.0.1:{p}' for p in seeds)}",
            TEST_ACTIONS,
            name=name,
            port=http_port,
        )
        text = self._file_settings_text(sts)
        self._write_settings(data, text)
        self._settings_text[name] = text or ""
        return node.start(timeout=60)

    # -- file settings, as the kubelet refreshes a ConfigMap volume ----------------------------

    def _file_settings_text(self, sts: dict[str, Any]) -> str | None:
        volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"].get("volumes") or []}
        source = (volumes.get("file-settings") or {}).get("configMap") or {}
        config_map = self._config_map(source["name"]) if source.get("name") else None
        return ((config_map or {}).get("data") or {}).get("settings.json")

    @staticmethod
    def _write_settings(data: Path, text: str | None) -> None:
        path = data / "operator" / "settings.json"
        if text is None:
            if path.exists():
                path.unlink()
            return
        path.parent.mkdir(exist_ok=True)
        if path.exists() and path.read_text() == text:
            return
        tmp = path.with_name(".settings.json.tmp")
        tmp.write_text(text)
        tmp.replace(path)

    def _sync_file_settings(self, statefulsets: list[dict[str, Any]]) -> None:
        for sts in statefulsets:
            text = self._file_settings_text(sts)
            prefix = sts["metadata"]["name"]
            for name, node in list(self.nodes.items()):
                if name.rsplit("-", 1)[0] == prefix and self._settings_text.get(name) != text:
                    self._write_settings(node.data, text)
                    self._settings_text[name] = text or ""


class ServiceProxy:
    """The cluster's HTTP Service on a loopback port: each request goes to a ready pod's node."""

    def __init__(self, endpoints: Callable[[], list[str]]):
        self.endpoints = endpoints
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept")}
        last = "no ready endpoints"
        for base in self.endpoints():
            try:
                async with (
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
                    session.request(request.method, base + request.path_qs, data=body,
                                    headers=headers) as response,
                ):
                    payload = await response.read()
                    return web.Response(status=response.status, body=payload,
                                        content_type=response.content_type)
            except aiohttp.ClientConnectionError as e:
                last = repr(e)
        return web.Response(status=503, text=f"service unavailable: {last}")

    def start(self) -> ServiceProxy:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._forward)
            runner = web.AppRunner(app, shutdown_timeout=0.5)

            async def serve() -> None:
                await runner.setup()
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
                ready.set()

            loop.run_until_complete(serve())
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="service-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the Service proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as e:  # not there yet
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")
