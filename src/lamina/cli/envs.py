"""``lamina envs`` and ``lamina clusters``: what the fleet is made of."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lamina.cli import commands, output
from lamina.cli.session import session
from lamina.reports import views

if TYPE_CHECKING:  # the cluster clients load for ``clusters`` only
    from lamina.clusters.health import Health
    from lamina.fleet.model import Cluster


@click.command()
@commands.json_option
@click.pass_context
def envs(ctx: click.Context, as_json: bool) -> None:
    """List environments: stage, extends, upstream, pinned base revision, clusters."""
    rows = views.environments(session(ctx).repository())
    if as_json:
        output.print_json(rows)
        return
    output.print_table(
        ["ENVIRONMENT", "STAGE", "EXTENDS", "UPSTREAM", "PIN", "CLUSTERS"],
        [
            [
                output.cell(row["name"], "bold"),
                row["stage"],
                row["extends"] or "-",
                row["upstream"] or "-",
                row["pin"][:12] if row["pin"] else output.cell("working tree", "yellow"),
                ", ".join(row["clusters"]) or "-",
            ]
            for row in rows
        ],
    )


@click.command()
@click.option("--selector", "-l", "selector", help="Label selector: k=v,k2!=v2,k3")
@commands.json_option
@click.pass_context
def clusters(ctx: click.Context, selector: str | None, as_json: bool) -> None:
    """List clusters: environment, namespace, where they live, labels, health."""
    from lamina.cli.apply import kube_settings
    from lamina.fleet.selectors import Selector

    repo = session(ctx).repository()
    rows = views.clusters(repo, Selector.parse(selector))
    healths = _health_checks([repo.fleet.clusters[row["name"]] for row in rows], kube_settings(repo))
    for row in rows:
        found = healths.get(row["name"])
        row["health"] = "suspended" if row["suspended"] or found is None else found.summary
        if found is not None:
            row["checks"] = found.to_json()
    if as_json:
        output.print_json(rows)
        return
    output.print_table(
        ["CLUSTER", "ENVIRONMENT", "NAMESPACE", "WHERE", "LABELS", "HEALTH"],
        [
            [
                output.styled(row["name"], "bold"),
                row["environment"],
                row["namespace"],
                f"dir:{row['directory']}" if row["directory"] else f"context:{row['context']}",
                ",".join(f"{k}={v}" for k, v in sorted(row["labels"].items())),
                row["health"],
            ]
            for row in rows
        ],
    )


def _health_checks(clusters: list[Cluster], settings: Any) -> dict[str, Health]:
    """Health of every cluster that is not suspended, checked in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    from lamina.clusters import destinations

    wanted = [c for c in clusters if not c.suspended]
    if not wanted:
        return {}
    with ThreadPoolExecutor(max_workers=settings.parallelism) as pool:
        return {h.cluster: h for h in pool.map(lambda c: destinations.check_health(c, settings), wanted)}
