"""Is a cluster usable: reachable, which Kubernetes version, does its namespace exist, how long it took.

Each destination answers it (:meth:`lamina.clusters.destinations.Destination.health`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DIRECTORY = "directory"
"""The version a directory cluster reports: it has no API server."""


@dataclass(frozen=True)
class Health:
    """The outcome of one health check."""

    cluster: str
    reachable: bool
    version: str | None
    namespace_present: bool | None
    seconds: float
    problem: str | None = None

    @property
    def summary(self) -> str:
        """One line for a table cell."""
        if not self.reachable:
            return self.problem or "unreachable"
        if self.version == DIRECTORY:
            return "ok (directory)" if self.namespace_present else "ok (directory, not rendered yet)"
        parts = [f"ok {self.version}" if self.version else "ok"]
        if self.namespace_present is False:
            parts = [f"namespace missing ({self.version})"]
        parts.append(f"{self.seconds * 1000:.0f} ms")
        if self.problem and self.namespace_present is not False:
            parts.append(self.problem)
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "reachable": self.reachable,
            "version": self.version,
            "namespace_present": self.namespace_present,
            "seconds": round(self.seconds, 4),
            "problem": self.problem,
        }
