"""`cluster:admin/reserved_state/validate`: the trial run of a settings document against
the master's current cluster state, answered without applying anything. Elasticsearch has
no way to test a settings file before it lands; this is Strata's."""

from __future__ import annotations

import orjson

from ..reservedstate import service
from ..tasks.task import Task
from ..transport.wire import Message
from .master import MasterNodeRequest

VALIDATE = "cluster:admin/reserved_state/validate"


class ValidateRequest(MasterNodeRequest):
    namespace: str
    document: bytes  # the settings document as posted


class ValidateResponse(Message):
    report: bytes  # JSON, as service.describe shapes it


def validate(namespace: str, document: bytes, content, handlers) -> dict:
    try:
        chunk = service.parse_chunk(document)
    except service.ChunkParseError as e:
        outcome = service.Outcome(namespace, e.version, error_kind="parsing", errors=(str(e),))
        return service.describe(outcome)
    _, outcome = service.trial(namespace, chunk, content, handlers)
    return service.describe(outcome)


def register(node) -> None:
    async def on_validate(request: ValidateRequest, task: Task) -> ValidateResponse:
        report = validate(request.namespace, request.document, node.coordination.content,
                          node.file_settings.handlers)
        return ValidateResponse(report=orjson.dumps(report))

    node.master_actions.register(VALIDATE, ValidateRequest, ValidateResponse, on_validate)
