"""A decider's answer, as Elasticsearch's Decision: YES, NO or THROTTLE, the decider's
name and its explanation."""

from __future__ import annotations

from typing import NamedTuple

YES, THROTTLE, NO = "YES", "THROTTLE", "NO"


class Decision(NamedTuple):
    type: str
    decider: str
    explanation: str

    def as_json(self) -> dict[str, str]:
        return {"decider": self.decider, "decision": self.type, "explanation": self.explanation}

