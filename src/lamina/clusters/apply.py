"""Ship one target's rendered config to its cluster (or into a directory cluster's folder)."""

from __future__ import annotations

import datetime

from lamina.clusters import connection, destinations
from lamina.clusters.outcomes import ApplyOptions, ApplyOutcome
from lamina.core.states import ApplyResult
from lamina.render.configmaps import RenderedConfig


def apply_config(
    rendered: RenderedConfig,
    settings: connection.KubeSettings,
    options: ApplyOptions,
    now: datetime.datetime,
) -> ApplyOutcome:
    """Apply rendered to its cluster; never raises for a cluster fault."""
    cluster = rendered.config.cluster
    assert cluster is not None
    if cluster.suspended:
        return ApplyOutcome.of(rendered, ApplyResult.SUSPENDED, detail="suspended in lamina.toml")
    destination = destinations.open_destination(cluster, settings)
    try:
        return destination.write(rendered, options, now)
    finally:
        destination.close()
