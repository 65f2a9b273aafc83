"""A bulk writer for tests that disturb a cluster while it is written to."""

from __future__ import annotations

import json
import random
import threading
import time

import httpx

from tests.support.cluster import LocalCluster


class Writer:
    """Bulk-indexes and deletes documents of a small id space through whichever node
    answers, without client retries; remembers what each acknowledged item left, and which
    ids had a request in flight when a node died (either outcome is then fine)."""

    def __init__(self, cluster: LocalCluster, index: str, seed: int):
        self.cluster, self.index, self.rng = cluster, index, random.Random(seed)
        self.acked: dict[str, tuple[str, int]] = {}  # id -> (result, version)
        self.uncertain: set[str] = set()
        self.stop = threading.Event()
        self.requests = 0

    def run(self) -> None:
        while not self.stop.is_set():
            nodes = self.cluster.running()
            if not nodes:
                time.sleep(0.05)
                continue
            node = self.rng.choice(nodes)
            ops, ids = [], []
            for _ in range(50):
                doc = f"w{self.rng.randrange(300)}"
                ids.append(doc)
                if self.rng.random() < 0.15:
                    ops.append({"delete": {"_index": self.index, "_id": doc}})
                else:
                    ops += [{"index": {"_index": self.index, "_id": doc}}, {"at": time.time()}]
            body = "".join(json.dumps(op) + "\n" for op in ops)
            try:
                with httpx.Client(base_url=node.url, timeout=60) as c:
                    response = c.post("/_bulk", content=body, params={"timeout": "30s"},
                                      headers={"content-type": "application/x-ndjson"})
                items = response.json()["items"]
            except (httpx.HTTPError, ValueError, KeyError):
                self.uncertain.update(ids)
                continue
            self.requests += 1
            for item in items:
                [(_, r)] = item.items()
                if "error" in r:
                    self.uncertain.add(r["_id"])  # it may or may not have reached the primary
                    continue
                self.acked[r["_id"]] = (r["result"], r["_version"])
                self.uncertain.discard(r["_id"])
