"""Where a target's config goes, behind one interface: a cluster's API or a folder.

Every stage that ships, reads back or checks a cluster (apply, heal, drift, health, the
secrets check, rollouts) asks :func:`open_destination` and talks to the :class:`Destination`
it gets, so "is this a directory cluster?" is decided here and nowhere else.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Protocol

from lamina.clusters import connection
from lamina.clusters.directory import DirectoryDestination
from lamina.clusters.health import Health
from lamina.clusters.kubernetes import KubernetesDestination
from lamina.clusters.live import LiveConfig, Rollout
from lamina.clusters.outcomes import ApplyOptions, ApplyOutcome
from lamina.fleet.model import Cluster
from lamina.render.configmaps import RenderedConfig


class Destination(Protocol):
    """One cluster as lamina ships to it and reads it back."""

    cluster: Cluster

    @property
    def requests(self) -> int:
        """API requests made so far (0 for a folder)."""

    def read(self, rendered: RenderedConfig, workload: str | None) -> LiveConfig | None:
        """What runs of rendered's target (None: nothing); raises ClusterFault when it cannot ask."""

    def desired_layout(self, rendered: RenderedConfig, options: ApplyOptions) -> str | None:
        """For a folder, the kustomization.yaml it should hold; None where the object says it all."""

    def write(self, rendered: RenderedConfig, options: ApplyOptions, now: datetime.datetime) -> ApplyOutcome:
        """Ship rendered; never raises for a cluster fault (the outcome says)."""

    def workload_rollout(self, workload: str) -> Rollout | None:
        """How far workload has rolled out; None where lamina cannot see workloads (a folder:
        its GitOps controller rolls it); raises ClusterFault when it cannot ask."""

    def health(self, clock: Callable[[], float] = ...) -> Health:
        """Whether the destination is usable, and how long asking took."""

    def secret_keys(self, name: str) -> set[str] | None:
        """The key names of a Secret (never values), or None; raises ClusterFault when it cannot ask."""

    def close(self) -> None:
        """Release connections."""


def open_destination(cluster: Cluster, settings: connection.KubeSettings) -> Destination:
    """The destination of cluster (a folder for ``directory`` clusters, else its API)."""
    if cluster.directory is not None:
        return DirectoryDestination(cluster, settings.repo_root)
    return KubernetesDestination(cluster, settings)


def check_health(
    cluster: Cluster, settings: connection.KubeSettings, clock: Callable[[], float] | None = None
) -> Health:
    """Check one cluster (a directory cluster: its folder exists)."""
    destination = open_destination(cluster, settings)
    try:
        return destination.health() if clock is None else destination.health(clock)
    finally:
        destination.close()
