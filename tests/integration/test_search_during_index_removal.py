"""A search caught running while its index is deleted: the shard's part fails with
Elasticsearch's `already_closed_exception`, and the node goes on (the store is never read
after its close, which in plyvel would be a use of freed memory)."""

import threading
import time

from tests.support.polling import wait_until

FAULTS = "strata.fault_injection=true"
QUERY_PHASE = "indices:data/read/search[phase/query]"


def test_a_search_running_when_its_index_is_deleted_fails_with_already_closed(fresh_node):
    node = fresh_node(FAULTS, "action.destructive_requires_name=false").start()
    with node.client() as http:
        settings = {"number_of_shards": 1, "number_of_replicas": 0}
        http.put("/logs", json={"settings": settings}).raise_for_status()
        lines = "".join(f'{{"index":{{}}}}\n{{"message":"line {i}"}}\n' for i in range(50))
        http.post("/logs/_bulk", params={"refresh": "true"}, content=lines,
                  headers={"content-type": "application/x-ndjson"}).raise_for_status()
        http.post("/_strata/fault/search_delay", json={"millis": 1500}).raise_for_status()
        answers = []
        search = threading.Thread(target=lambda: answers.append(
            http.post("/logs/_search", json={"query": {"match": {"message": "line"}}})))
        search.start()
        wait_until(lambda: http.get("/_tasks", params={"actions": QUERY_PHASE}).json()["nodes"])
        time.sleep(0.2)  # the phase's task is listed as its thread starts: it takes the reader at once
        assert http.delete("/logs").status_code == 200
        search.join(30)
        (answer,) = answers
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["type"] == "search_phase_execution_exception"
        assert [cause["type"] for cause in error["root_cause"]] == ["already_closed_exception"]
        http.post("/_strata/fault/search_delay", json={"millis": 0}).raise_for_status()
        assert http.get("/_cluster/health").json()["status"] == "green"
        assert "Traceback" not in node.output()
