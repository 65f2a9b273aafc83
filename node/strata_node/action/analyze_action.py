"""`indices:admin/analyze` (TransportAnalyzeAction): text through an analyzer, a built-in
one or one of an index's. With an index, the cluster state's metadata says how: any node
analyses for any index, copy or not (an alias of one index stands for it). `field`
analyses as the index's mapping says: a text field with its analyzer, a keyword field as
one token (through its normalizer, if it has one), a field that is not mapped with the
index's default analyzer; other field types are refused, as Elasticsearch refuses them.
"""

from __future__ import annotations

from typing import Any

from ..common.errors import IllegalArgument
from ..index.analysis import (
    Analyzer,
    AnalyzeRequest,
    IndexAnalyzers,
    analyze,
    global_analyzer,
    index_analyzers,
)
from ..tasks.task import Task
from ..transport.wire import Message

ANALYZE = "indices:admin/analyze"


class AnalyzeActionRequest(Message):
    spec: AnalyzeRequest
    index: str | None = None


class AnalyzeActionResponse(Message):
    body: dict[str, Any]


def register(node) -> None:
    def on_analyze(request: AnalyzeActionRequest, task: Task) -> AnalyzeActionResponse:
        request.spec.validate(has_index=request.index is not None)
        if request.index is None:
            return AnalyzeActionResponse(body=analyze(request.spec, None))
        metadata, _ = node.indices.single_index_target(request.index, None)
        index = index_analyzers(metadata.settings, metadata.name)
        mapping = node.indices.mapping(metadata.name)
        body = analyze(request.spec, index,
                       field_analyzer=lambda path: _field_analyzer(mapping.field(path), path, index))
        return AnalyzeActionResponse(body=body)

    node.transport.register(ANALYZE, AnalyzeActionRequest, AnalyzeActionResponse, on_analyze)


def _field_analyzer(mapper, path: str, index: IndexAnalyzers) -> Analyzer | None:
    """The analyzer a mapped field indexes with (TransportAnalyzeAction: a StringFieldType's
    index analyzer); None for a field that is not mapped."""
    if mapper is None:
        return None
    if mapper.type_name in ("text", "match_only_text"):
        return index.default if mapper.analyzer == "default" else index.analyzer(mapper.analyzer)
    if mapper.type_name == "keyword":
        return index.normalizer(mapper.normalizer) if mapper.normalizer else global_analyzer("keyword")
    raise IllegalArgument(f"Can't process field [{path}], Analysis requests are only supported on tokenized "
                          "fields")
