"""A gate's result as a request keeps it: typed in memory, plain JSON in the state database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from lamina.core.states import GateOutcome


class GateResult(msgspec.Struct, frozen=True):
    """The outcome of one gate.

    Attributes:
        name: ``validate``, ``secrets``, ``soak``, or ``check: <command>``.
        status: passed, failed, errored (could not run) or waiting (a soak not yet over).
        detail: one line saying why.
        output: what a check command printed (truncated, masked), else None.
        ready_at: when a waiting soak is over.
    """

    name: str
    status: GateOutcome
    detail: str
    output: str | None = None
    ready_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """As stored with the request and shown by ``promote show``."""
        data: dict[str, Any] = {"name": self.name, "status": self.status.value, "detail": self.detail}
        if self.output is not None:
            data["output"] = self.output
        if self.ready_at is not None:
            data["ready_at"] = self.ready_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GateResult:
        """Read a stored result back (an outcome this lamina does not know counts as errored)."""
        try:
            status = GateOutcome(str(data.get("status")))
        except ValueError:
            status = GateOutcome.ERRORED
        ready = data.get("ready_at")
        return cls(
            name=str(data.get("name", "")),
            status=status,
            detail=str(data.get("detail", "")),
            output=data.get("output") if isinstance(data.get("output"), str) else None,
            ready_at=datetime.fromisoformat(ready) if isinstance(ready, str) else None,
        )


def all_passed(results: Sequence[GateResult]) -> bool:
    """True when no result blocks the request (waiting ones do not)."""
    return not any(result.status.blocks for result in results)
