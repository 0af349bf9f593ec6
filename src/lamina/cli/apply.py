"""``lamina apply TARGET...``: ship what git records to the clusters, wave by wave."""

from __future__ import annotations

import datetime
import os
from typing import TYPE_CHECKING, Annotated

import typer

from lamina.cli import lazy, output
from lamina.cli.session import session
from lamina.clusters import connection
from lamina.clusters.outcomes import ApplyOutcome
from lamina.core.states import ApplyResult
from lamina.errors import InputError
from lamina.fleet.selectors import Selector
from lamina.resolve.resolver import Repository, iter_targets

if TYPE_CHECKING:
    from lamina.ship import shipping
else:
    shipping = lazy.module("lamina.ship.shipping")


def kube_settings(repo: Repository) -> connection.KubeSettings:
    """How this command reaches clusters: $KUBECONFIG and lamina.toml's ``[apply]``."""
    return connection.KubeSettings.from_environment(os.environ, repo.root, repo.fleet.settings.apply)


def apply(
    ctx: typer.Context,
    targets: Annotated[list[str], typer.Argument(help="ENV or ENV/CLUSTER (several allowed).")],
    selector: Annotated[
        str | None, typer.Option("--selector", "-l", help="Only clusters whose labels match k=v,...")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    allow_dirty: Annotated[
        bool, typer.Option("--allow-dirty", help="Apply although config files have uncommitted changes.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Apply targets' ConfigMaps (and roll the workload); exit 3 when a cluster could not be reached."""
    state = session(ctx)
    repo = state.repository()
    chosen = Selector.parse(selector)
    refs = [
        ref
        for ref in iter_targets(repo, targets)
        if chosen.matches(repo.fleet.cluster(ref.cluster or "").labels)
    ]
    if not refs:
        raise InputError(f"no cluster of {', '.join(targets)} matches the selector {selector!r}")
    actor = state.user()
    with output.progress("applying", len(refs)) as advance:
        shipped = shipping.ship(
            repo,
            state.database(),
            refs,
            actor=actor,
            kube=kube_settings(repo),
            now=datetime.datetime.now(datetime.UTC),
            dry_run=dry_run,
            allow_dirty=allow_dirty,
            done=lambda outcome: advance(),
        )
    if as_json:
        output.print_json([{**o.to_json(), "dirty": shipped.dirty} for o in shipped.outcomes])
    else:
        print_outcomes(list(shipped.outcomes), shipped.dirty)
    if shipped.failed:
        raise typer.Exit(3)


_STYLES = {
    ApplyResult.APPLIED: "green",
    ApplyResult.UNCHANGED: "dim",
    ApplyResult.DRY_RUN: "cyan",
    ApplyResult.FAILED: "red",
    ApplyResult.UNREACHABLE: "red",
    ApplyResult.SKIPPED: "yellow",
    ApplyResult.SUSPENDED: "yellow",
}


def print_outcomes(outcomes: list[ApplyOutcome], dirty: bool) -> None:
    """One row per cluster, then what was done."""
    output.print_table(
        ["CLUSTER", "ENVIRONMENT", "RESULT", "CONFIGMAP", "DETAIL"],
        [
            [
                output.styled(o.cluster, "bold"),
                o.environment,
                output.styled(o.result.value, _STYLES.get(o.result, "")),
                o.configmap,
                o.detail or "; ".join(o.actions) or "-",
            ]
            for o in outcomes
        ],
    )
    if dirty:
        output.out.print(
            output.styled("applied with uncommitted config changes (--allow-dirty, recorded)", "yellow")
        )
