"""``lamina apply TARGET...``: ship what git records to the clusters, wave by wave."""

from __future__ import annotations

import datetime
import os
from typing import TYPE_CHECKING, Any

import click

from lamina.cli import commands, completing, lazy, output, remote
from lamina.cli.session import session
from lamina.clusters import connection, secrets
from lamina.clusters.outcomes import ApplyOutcome
from lamina.core.states import ApplyResult
from lamina.errors import InputError
from lamina.fleet.selectors import Selector
from lamina.resolve.repository import Repository, iter_targets

if TYPE_CHECKING:
    from lamina.ship import shipping
else:
    shipping = lazy.module("lamina.ship.shipping")


def kube_settings(repo: Repository) -> connection.KubeSettings:
    """How this command reaches clusters: $KUBECONFIG and lamina.toml's ``[apply]``."""
    return connection.KubeSettings.from_environment(os.environ, repo.root, repo.fleet.settings.apply)


@click.command()
@click.argument(
    "targets",
    nargs=-1,
    callback=commands.listed_all,
    required=True,
    help="ENV or ENV/CLUSTER (several allowed).",
    shell_complete=completing.targets,
)
@click.option("--selector", "-l", "selector", help="Only clusters whose labels match k=v,...")
@click.option("--dry-run", "dry_run", is_flag=True, help="Show what would change; write nothing.")
@click.option(
    "--allow-dirty", "allow_dirty", is_flag=True, help="Apply although config files have uncommitted changes."
)
@click.option(
    "--force",
    "force",
    is_flag=True,
    help="Ship although validation, a freeze or protection refuses (needs --reason).",
)
@click.option("--reason", "reason", help="Why --force is needed (recorded).")
@commands.json_option
@click.option(
    "--rollout", "rollout", is_flag=True, help="Move the environment step by step as [rollout] says."
)
@click.pass_context
def apply(
    ctx: click.Context,
    targets: list[str],
    selector: str | None,
    dry_run: bool,
    allow_dirty: bool,
    force: bool,
    reason: str | None,
    as_json: bool,
    rollout: bool,
) -> None:
    """Vet, then apply targets' ConfigMaps (and roll the workload).

    Exit 1 when vetting refuses, 2 when a rule does (freeze, protected environment), 3 when a
    cluster could not be reached.
    """
    if remote.server() is not None:
        if dry_run or allow_dirty or rollout or selector:
            raise InputError(
                "through the server (LAMINA_SERVER), apply takes targets, --force --reason and --json only"
            )
        apply_remotely(targets, forced(force, reason), as_json)
        return
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
    force_reason = forced(force, reason)
    if rollout:
        if dry_run or force_reason:
            raise InputError("--rollout ships for real and by the rules: leave --dry-run and --force out")
        from lamina.cli import rollout as rollouts

        rollouts.run(state, refs, allow_dirty=allow_dirty, as_json=as_json)
        return
    actor = state.actor_identity()
    kube = kube_settings(repo)
    with (
        secrets.Lookups.from_environment(os.environ, kube) as lookups,
        output.progress("applying", len(refs), quiet=as_json) as progress,
    ):
        shipped = shipping.ship(
            repo,
            state.database(),
            refs,
            actor=actor,
            kube=kube,
            lookups=lookups,
            now=datetime.datetime.now(datetime.UTC),
            dry_run=dry_run,
            allow_dirty=allow_dirty,
            force=force_reason,
            done=lambda outcome: progress.item(
                f"{outcome.environment}/{outcome.cluster}",
                outcome.result.value,
                style=_STYLES.get(outcome.result, ""),
                section=f"wave {repo.fleet.cluster(outcome.cluster).wave}",
            ),
        )
    if as_json:
        forced_json = {"forced": True, "overridden": list(shipped.overridden)} if force_reason else {}
        output.print_json([{**o.to_json(), "dirty": shipped.dirty, **forced_json} for o in shipped.outcomes])
    else:
        print_outcomes(list(shipped.outcomes), shipped.dirty)
        print_overridden(shipped.overridden, force_reason)
    if shipped.failed:
        raise click.exceptions.Exit(3)


def apply_remotely(targets: list[str], force_reason: str | None, as_json: bool) -> None:
    """``lamina apply`` by the server (``POST /api/v1/apply``): its rules, its clusters, its record."""
    answer = remote.call("POST", "/apply", {"targets": targets, "force": force_reason})
    outcomes = answer.get("outcomes", [])
    if as_json:
        forced_json = {"forced": True, "overridden": answer.get("overridden", [])} if force_reason else {}
        output.print_json([{**o, **forced_json} for o in outcomes])
    else:
        print_outcome_rows(outcomes)
        print_overridden(tuple(answer.get("overridden", ())), force_reason)
    if answer.get("failed"):
        raise click.exceptions.Exit(3)


def print_outcome_rows(outcomes: list[dict[str, Any]]) -> None:
    """The table of :func:`print_outcomes`, from outcomes as JSON (the server's answer)."""
    output.print_table(
        ["CLUSTER", "ENVIRONMENT", "RESULT", "CONFIGMAP", "DETAIL"],
        [
            [
                output.styled(o["cluster"], "bold"),
                o["environment"],
                output.styled(o["result"], _STYLES.get(ApplyResult(o["result"]), "")),
                o.get("configmap") or "-",
                o.get("detail") or "; ".join(o.get("actions", [])) or "-",
            ]
            for o in outcomes
        ],
    )


def forced(force: bool, reason: str | None) -> str | None:
    """The reason of ``--force --reason T``, or None without --force.

    Raises:
        InputError: --force without a reason, or a reason without --force.
    """
    if force and not (reason or "").strip():
        raise InputError("--force needs --reason: why this ships although lamina would refuse it")
    if not force:
        return None
    assert reason is not None
    return reason.strip()


def print_overridden(overridden: tuple[str, ...], reason: str | None) -> None:
    """What --force shipped past, so nobody forces without seeing it."""
    if reason is None:
        return
    output.out.print(output.styled(f"forced ({reason}); recorded with what it overrode:", "yellow bold"))
    for line in overridden or ("nothing: no check or rule refused",):
        output.out.print(output.styled(f"  {line}", "yellow"))


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
