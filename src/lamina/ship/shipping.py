"""Ship what git records to clusters, wave by wave: the use case behind ``lamina apply`` and the
server's apply.

In a git repository the config files must be committed (``allow_dirty`` overrides, and is
recorded as such). Every target is resolved and rendered, then *vetted* (the checks of
``validate`` and ``secrets check`` on exactly these targets) and authorized (freezes,
protected environments, roles: :func:`lamina.guard.rules.authorize`) before anything is
written; a refusal writes only its audit row. ``force`` (a reason) ships anyway and records
what it overrode. The state database is made ready before the first cluster is touched (an
apply that could not be recorded does not happen), then clusters are applied in order of their
``wave`` label and every attempt is recorded and audited.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lamina.clusters import apply, connection, secrets, waves
from lamina.clusters.outcomes import ApplyOptions, ApplyOutcome
from lamina.core.states import ApplyResult
from lamina.core.targets import TargetRef
from lamina.errors import InputError, Refused, RuleRefused
from lamina.fleet.model import Cluster
from lamina.guard import rules, vetting
from lamina.guard.actors import Actor
from lamina.render import configmaps, flagger, sops_secrets
from lamina.resolve.repository import Repository
from lamina.ship import records
from lamina.source.trees import run_git
from lamina.store import audit
from lamina.store.database import Database

CONFIG_PATHS = ("base", "overlays", "clusters", "lamina.toml", "lamina.lock")
"""What a shipped config is built from: these must be committed before an apply."""


@dataclass(frozen=True)
class Shipped:
    """What a shipment did: one outcome per cluster, in wave order."""

    outcomes: tuple[ApplyOutcome, ...]
    dirty: bool
    """Shipped with uncommitted config changes (``allow_dirty``)."""
    overridden: tuple[str, ...] = ()
    """With ``force``: the problems and rules the force overrode."""

    @property
    def failed(self) -> bool:
        """True when a cluster does not run what was asked."""
        return any(outcome.failed for outcome in self.outcomes)


def dirty_config_files(repo: Repository) -> list[str]:
    """Config files with uncommitted changes (empty outside git)."""
    if repo.git is None:
        return []
    text = run_git(repo.root, "status", "--porcelain", "--untracked-files=all", "--", *CONFIG_PATHS)
    return [line[3:] for line in text.decode("utf-8", "replace").splitlines() if line.strip()]


def ship(
    repo: Repository,
    db: Database,
    refs: Sequence[TargetRef],
    *,
    actor: Actor,
    kube: connection.KubeSettings,
    lookups: secrets.Lookups,
    now: datetime.datetime,
    dry_run: bool = False,
    allow_dirty: bool = False,
    force: str | None = None,
    done: Callable[[ApplyOutcome], None] = lambda outcome: None,
) -> Shipped:
    """Vet, authorize, then apply each ``ENV/CLUSTER`` target's config to its cluster, wave by
    wave, and record it.

    Args:
        lookups: how the secrets check looks references up (names only).
        force: ship although vetting, a freeze or protection refuses: the reason (recorded).
        done: called with each outcome as it arrives (progress display).

    Raises:
        InputError: no target given, or a target does not resolve or render.
        Refused: vetting found problems, or config files have uncommitted changes and
            ``allow_dirty`` is not set (exit 1).
        RuleRefused: a freeze, a protected environment or a role refused (exit 2).
        OutsideError: the state database cannot record the applies.
    """
    if not refs:
        raise InputError("nothing to apply: no target given")
    dirty = dirty_config_files(repo) if all(ref.revision is None for ref in refs) else []
    if dirty and not allow_dirty and not dry_run:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise Refused(
            f"config files have uncommitted changes ({shown}); commit them, or pass --allow-dirty "
            "(recorded as such)"
        )
    render = repo.fleet.settings.render
    options = ApplyOptions(
        workload=render.workload,
        keep=render.keep,
        resources=render.resources,
        dry_run=dry_run,
        container=render.container,
        env=render.env,
        folder_extra=flagger.folder_extra(repo.fleet.settings),
    )
    rendered: dict[str, configmaps.RenderedConfig] = {}
    for ref in refs:
        config = repo.resolve(ref)
        assert config.cluster is not None
        rendered[config.cluster.name] = configmaps.render_target(
            repo.fleet.settings, config, repo.source_revision(config)
        )
    if not dry_run:
        # a SOPS file that does not decrypt stops the shipment before anything is written
        sops_secrets.preflight(list(rendered.values()), repo.root)
        db.ensure_schema()  # fail closed: no apply happens that could not be recorded
    permit = authorize(
        repo, db, rendered, actor=actor, lookups=lookups, now=now, force=force, dry_run=dry_run
    )
    clusters = [repo.fleet.cluster(name) for name in rendered]

    def work(cluster: Cluster) -> ApplyOutcome:
        return apply.apply_config(rendered[cluster.name], kube, options, now)

    def skipped(cluster: Cluster) -> ApplyOutcome:
        return ApplyOutcome.of(
            rendered[cluster.name],
            ApplyResult.SKIPPED,
            detail="an earlier wave failed ([apply] halt_on_failure)",
        )

    outcomes = waves.run(
        clusters,
        work,
        failed=lambda o: o.failed,
        skipped=skipped,
        parallelism=kube.parallelism,
        halt_on_failure=repo.fleet.settings.apply.halt_on_failure,
        done=done,
    )
    if not dry_run:
        records.record(
            db, outcomes, permit.actor, now, bool(dirty), force=force, overridden=permit.overridden
        )
    return Shipped(tuple(outcomes), bool(dirty), permit.overridden)


def authorize(
    repo: Repository,
    db: Database,
    rendered: Mapping[str, configmaps.RenderedConfig],
    *,
    actor: Actor,
    lookups: secrets.Lookups,
    now: datetime.datetime,
    force: str | None,
    dry_run: bool = False,
) -> rules.Permit:
    """Vet the rendered targets and ask the rules whether they may ship; a refusal is audited.

    Raises:
        Refused: vetting found problems (and no force).
        RuleRefused: a freeze, protection or role refused.
    """
    hashes = {str(item.config.target): item.config.config_hash for item in rendered.values()}
    found = vetting.vet(repo, [item.config for item in rendered.values()], lookups)
    intent = rules.Intent(
        rules.Action.SHIP,
        rules.environments_of(list(hashes)),
        hashes=hashes,
        vetting=found,
        force=force,
    )
    try:
        return rules.authorize(actor, intent, fleet=repo.fleet, db=db, now=now, root=repo.root)
    except (Refused, RuleRefused) as exc:
        if not dry_run:
            audit.record(
                db,
                actor=actor.name,
                action="apply.refused",
                at=now,
                environment=intent.environments[0] if len(intent.environments) == 1 else None,
                subject=", ".join(sorted(hashes)) if len(hashes) <= 5 else f"{len(hashes)} targets",
                detail={"refusal": exc.message, "config_hashes": hashes, "identity": actor.audit_detail()},
            )
        raise
