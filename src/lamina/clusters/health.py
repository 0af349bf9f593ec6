"""Is a cluster usable: reachable, which Kubernetes version, does its namespace exist, how long it took."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina.clusters import connection, faults
from lamina.fleet.model import Cluster


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


def check(
    cluster: Cluster, settings: connection.KubeSettings, clock: Callable[[], float] = time.perf_counter
) -> Health:
    """Check one cluster (a directory cluster: its folder's parent can be written)."""
    started = clock()
    if cluster.directory is not None:
        folder = settings.repo_root / cluster.directory
        exists = folder.is_dir()
        return Health(
            cluster.name,
            True,
            "directory",
            exists,
            clock() - started,
            None if exists else "folder not rendered yet",
        )
    present: bool | None = None
    problem: str | None = None
    try:
        with connection.connect(cluster, settings) as conn:
            version = conn.call(conn.version_api.get_code).git_version
            try:
                conn.call(conn.core.read_namespace, cluster.namespace)
                present = True
            except faults.ClusterFault as exc:
                if exc.kind is faults.FaultKind.NOT_FOUND:
                    present = False
                elif exc.kind is faults.FaultKind.PERMANENT:
                    problem = "may not read the namespace"
                else:
                    raise
    except faults.ClusterFault as exc:
        return Health(cluster.name, False, None, None, clock() - started, exc.message)
    return Health(cluster.name, True, str(version), present, clock() - started, problem)


def folder_of(root: Path, cluster: Cluster) -> Path:
    """Where a directory cluster lives."""
    assert cluster.directory is not None
    return root / cluster.directory
