"""The errors pipelines raise while the coordinator runs them, and the wrapper Elasticsearch
puts around any failure of its final reduce."""

from __future__ import annotations

from typing import Any

from ....common.errors import SearchPhaseExecutionError, StrataError
from ..base import AggregationExecutionError

# The final reduce runs in RankFeaturePhase (ES 8.15+), which reports failures under its name.
REDUCE_PHASE = "rank-feature"


class InvalidPath(AggregationExecutionError):
    """AggregationExecutionException.InvalidPath (ES 8.11+): a path the request got wrong,
    400. ES names an exception by its simple class name, so the type reads invalid_path."""

    type = "invalid_path"
    status = 400


class InvalidAggregationPathError(StrataError):
    """InvalidAggregationPathException where ES lets it escape (500)."""

    type = "invalid_aggregation_path_exception"
    status = 500


class ClassCastError(StrataError):
    """A pipeline on an aggregation whose results it cannot read, which ES finds out by a
    failed cast (500)."""

    type = "class_cast_exception"
    status = 500


class ReducePhaseError(SearchPhaseExecutionError):
    """A failure of the coordinator's final reduce: no shard failed, so ES lists no root
    cause and answers with the cause's status."""

    def __init__(self, cause: StrataError):
        super().__init__(REDUCE_PHASE, "", [], [cause], caused_by=cause)

    def root_causes(self, *, stack_trace: bool = False) -> list[dict[str, Any]]:
        return []
