"""``lamina apply TARGET...``: ship what git records to the clusters, wave by wave."""

from __future__ import annotations

import datetime
import os
from typing import Annotated, Any

import typer

from lamina.cli import lazy, output
from lamina.cli.session import session
from lamina.clusters import apply as applying
from lamina.clusters import connection, waves
from lamina.errors import InputError, Refused
from lamina.fleet.model import Cluster
from lamina.fleet.selectors import Selector
from lamina.render import configmaps
from lamina.resolve.repository import Repository, iter_targets
from lamina.source.trees import run_git

applies = lazy.module("lamina.store.applies")

CONFIG_PATHS = ("base", "overlays", "clusters", "lamina.toml", "lamina.lock")


def kube_settings(repo: Repository) -> connection.KubeSettings:
    """How this command reaches clusters: $KUBECONFIG and lamina.toml's ``[apply]``."""
    return connection.KubeSettings.from_environment(os.environ, repo.root, repo.fleet.settings.apply)


def dirty_config_files(repo: Repository) -> list[str]:
    """Config files with uncommitted changes (empty outside git)."""
    if repo.git is None:
        return []
    text = run_git(repo.root, "status", "--porcelain", "--untracked-files=all", "--", *CONFIG_PATHS)
    return [line[3:] for line in text.decode("utf-8", "replace").splitlines() if line.strip()]


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
    dirty = dirty_config_files(repo) if all(ref.revision is None for ref in refs) else []
    if dirty and not allow_dirty and not dry_run:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise Refused(
            f"config files have uncommitted changes ({shown}); commit them, or pass --allow-dirty "
            "(recorded as such)"
        )
    settings = kube_settings(repo)
    render = repo.fleet.settings.render
    options = applying.ApplyOptions(
        workload=render.workload, keep=render.keep, resources=render.resources, dry_run=dry_run
    )
    rendered: dict[str, configmaps.RenderedConfig] = {}
    for ref in refs:
        config = repo.resolve(ref)
        assert config.cluster is not None
        rendered[config.cluster.name] = configmaps.render_config(config, repo.source_revision(config))
    actor = state.user()
    db = state.database()
    if not dry_run:
        db.ensure_schema()  # fail closed: no apply happens that could not be recorded
    now = datetime.datetime.now(datetime.UTC)
    clusters = [repo.fleet.cluster(name) for name in rendered]

    def work(cluster: Cluster) -> applying.ApplyOutcome:
        return applying.apply_config(rendered[cluster.name], settings, options, now)

    def skipped(cluster: Cluster) -> applying.ApplyOutcome:
        item = rendered[cluster.name]
        return applying.ApplyOutcome(
            environment=cluster.environment,
            cluster=cluster.name,
            result=applying.SKIPPED,
            config_hash=item.config.config_hash,
            revision=item.annotations.get(configmaps.ANNOTATION_REVISION),
            base_revision=item.annotations.get(configmaps.ANNOTATION_BASE),
            configmap=item.name,
            detail="an earlier wave failed ([apply] halt_on_failure)",
        )

    with output.progress("applying", len(clusters)) as advance:
        outcomes = waves.run(
            clusters,
            work,
            failed=lambda o: o.failed,
            skipped=skipped,
            parallelism=settings.parallelism,
            halt_on_failure=repo.fleet.settings.apply.halt_on_failure,
            done=lambda o: advance(),
        )
    if not dry_run:
        record(db, outcomes, actor, now, bool(dirty))
    if as_json:
        output.print_json([{**o.to_json(), "dirty": bool(dirty)} for o in outcomes])
    else:
        print_outcomes(outcomes, bool(dirty))
    if any(o.failed for o in outcomes):
        raise typer.Exit(3)


def record(
    db: Any, outcomes: list[applying.ApplyOutcome], actor: str, now: datetime.datetime, dirty: bool
) -> None:
    """Record each apply with its audit record (one transaction each)."""
    for outcome in outcomes:
        if outcome.result in (applying.SKIPPED, applying.SUSPENDED, applying.DRY_RUN):
            continue
        item = applies.ApplyRecord(
            environment=outcome.environment,
            cluster=outcome.cluster,
            revision=outcome.revision,
            base_revision=outcome.base_revision,
            config_hash=outcome.config_hash,
            result=outcome.result,
            detail=outcome.detail or None,
            dirty=dirty,
        )
        db.run(lambda s, item=item: applies.record(s, item, actor, now))


_STYLES = {
    applying.APPLIED: "green",
    applying.UNCHANGED: "dim",
    applying.DRY_RUN: "cyan",
    applying.FAILED: "red",
    applying.UNREACHABLE: "red",
    applying.SKIPPED: "yellow",
    applying.SUSPENDED: "yellow",
}


def print_outcomes(outcomes: list[applying.ApplyOutcome], dirty: bool) -> None:
    """One row per cluster, then what was done."""
    output.print_table(
        ["CLUSTER", "ENVIRONMENT", "RESULT", "CONFIGMAP", "DETAIL"],
        [
            [
                output.styled(o.cluster, "bold"),
                o.environment,
                output.styled(o.result, _STYLES.get(o.result, "")),
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
