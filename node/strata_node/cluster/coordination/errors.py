"""The one error of the coordination core."""

from __future__ import annotations

from strata_node.common.errors import StrataError


class CoordinationStateRejectedError(StrataError):
    """A message that the coordination rules forbid acting on (stale term, old version,
    election not won, ...). Elasticsearch's CoordinationStateRejectedException: receivers
    drop the message, or answer with a rejection; it never changes any state."""

    type = "coordination_state_rejected_exception"
    status = 500
