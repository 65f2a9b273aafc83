"""Shard operations: what the translog records, the history keeps and replicas replay.

One msgspec struct serves as the translog payload, the history record (keyed by sequence
number) and the stored document (keyed by id), so an operation is encoded once per write.
"""

from __future__ import annotations

import msgspec

INDEX = 0
DELETE = 1
NO_OP = 2


class Operation(msgspec.Struct, array_like=True, frozen=True):
    op_type: int
    seq_no: int
    primary_term: int
    version: int
    id: str
    source: bytes | None = None  # the original JSON bytes of the document
    routing: str | None = None
    reason: str | None = None  # why a no-op was written

    @property
    def is_delete(self) -> bool:
        return self.op_type == DELETE


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Operation)


def encode(op: Operation) -> bytes:
    return _encoder.encode(op)


def decode(data: bytes) -> Operation:
    return _decoder.decode(data)


class CommitPoint(msgspec.Struct, frozen=True):
    """What a flush made durable in the store: every operation up to `local_checkpoint`,
    and where the translog must be replayed from on the next open."""

    local_checkpoint: int
    max_seq_no: int
    translog_generation: int
    translog_uuid: bytes
    history_uuid: str


def encode_commit(commit: CommitPoint) -> bytes:
    return msgspec.msgpack.encode(commit)


def decode_commit(data: bytes) -> CommitPoint:
    return msgspec.msgpack.decode(data, type=CommitPoint)
