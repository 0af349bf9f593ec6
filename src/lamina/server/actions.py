"""Every action the server takes for someone, each the library's own use case.

The API (:mod:`lamina.server.api`) and the dashboard's forms (:mod:`lamina.server.pages`) both
call these functions, so a button and an API call do exactly what the command line does:
requests through :mod:`lamina.promote.requests`, decisions through
:mod:`lamina.promote.approvals`, applies of requests through :mod:`lamina.promote.applying`,
shipments through :func:`lamina.ship.shipping.ship` and :func:`lamina.ship.healing.heal`,
drift checks through :func:`lamina.drift.checking.run`, freezes through
:mod:`lamina.promote.freezes`, a rollout's pause, resume and abort through
:mod:`lamina.rollout.engine`. Each asks :mod:`lamina.server.auth` first (the roles, mapped onto
:func:`lamina.guard.rules.authorize`); the use case then asks the rules again with the fleet and
the state database (freezes, self-approval, protection, vetting).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from lamina.clusters import connection, secrets
from lamina.clusters.outcomes import ApplyOutcome
from lamina.core.targets import TargetRef
from lamina.drift.status import DriftReport
from lamina.errors import InputError
from lamina.promote import applying, approvals, freezes, requests
from lamina.resolve.repository import Repository, iter_targets
from lamina.rollout import engine
from lamina.server import auth, context
from lamina.server.tokens import Identity
from lamina.ship import healing, shipping
from lamina.store import promotions as store
from lamina.store.promotions import PromotionRecord
from lamina.store.rollouts import RolloutRecord


@contextlib.contextmanager
def _reach(
    shared: context.Context, repo: Repository
) -> Iterator[tuple[connection.KubeSettings, secrets.Lookups]]:
    """How the server reaches clusters and looks secrets up (names only), from its environment."""
    environ = shared.settings.environ
    kube = connection.KubeSettings.from_environment(environ, repo.root, repo.fleet.settings.apply)
    with secrets.Lookups.from_environment(environ, kube) as lookups:
        yield kube, lookups


def request_promotion(
    shared: context.Context,
    who: Identity,
    *,
    source: str,
    target: str,
    reason: str | None = None,
    emergency: bool = False,
) -> PromotionRecord:
    """``lamina promote request SOURCE TARGET``: open a request and run its gates."""
    auth.authorize(who, auth.Permission.EDIT)
    with shared.repository() as repo, _reach(shared, repo) as (_kube, lookups):
        return requests.request(
            repo,
            shared.database,
            source=source,
            target=target,
            actor=who.actor(),
            now=shared.clock,
            reason=reason,
            emergency=emergency,
            lookups=lookups,
        )


def request_change(
    shared: context.Context, who: Identity, *, environment: str, reason: str | None = None
) -> PromotionRecord:
    """``lamina change request ENV``: ask that ENV's configs as committed may ship."""
    auth.authorize(who, auth.Permission.EDIT)
    with shared.repository() as repo, _reach(shared, repo) as (_kube, lookups):
        return requests.change(
            repo,
            shared.database,
            target=environment,
            actor=who.actor(),
            now=shared.clock,
            reason=reason,
            lookups=lookups,
        )


def request_rollback(
    shared: context.Context, who: Identity, *, environment: str, to: str, reason: str | None = None
) -> PromotionRecord:
    """``lamina promote rollback ENV --to REV``: ask to move ENV's pin back along history."""
    auth.authorize(who, auth.Permission.EDIT)
    with shared.repository() as repo, _reach(shared, repo) as (_kube, lookups):
        return requests.rollback(
            repo,
            shared.database,
            target=environment,
            to=to,
            actor=who.actor(),
            now=shared.clock,
            reason=reason,
            lookups=lookups,
        )


def decide(
    shared: context.Context, who: Identity, request_id: int, *, approve: bool, comment: str | None = None
) -> PromotionRecord:
    """``lamina promote approve|reject ID``: nobody on their own request, approver:<env> only."""
    record = store.get_request(shared.database, request_id)
    with shared.repository() as repo:
        auth.authorize_decision(who, record, repo.fleet)
        return approvals.decide(
            repo,
            shared.database,
            record.id,
            actor=who.actor(),
            approve=approve,
            now=shared.clock(),
            comment=comment,
        )


def apply_request(shared: context.Context, who: Identity, request_id: int) -> PromotionRecord:
    """``lamina promote apply ID`` (and ``change apply``): commit the approved request's pin."""
    record = store.get_request(shared.database, request_id)
    auth.authorize(who, auth.Permission.APPLY, record.target)
    with shared.repository() as repo:
        return applying.apply(repo, shared.database, record.id, actor=who.actor(), now=shared.clock())


@dataclass(frozen=True)
class Shipment:
    """What an apply or a heal did, per cluster, and what a force overrode."""

    outcomes: tuple[ApplyOutcome, ...]
    overridden: tuple[str, ...]
    reports: tuple[DriftReport, ...] = ()

    @property
    def failed(self) -> bool:
        """True when a cluster does not run what was asked."""
        return any(outcome.failed for outcome in self.outcomes)


def _refs(repo: Repository, targets: Sequence[str]) -> list[TargetRef]:
    if not targets:
        raise InputError("nothing to apply: no target given")
    return iter_targets(repo, targets)


def ship(
    shared: context.Context, who: Identity, targets: Sequence[str], *, force: str | None = None
) -> Shipment:
    """``lamina apply TARGET...``: vet, authorize, apply and record (``force``: the reason)."""
    auth.authorize(who, auth.Permission.SHIP)
    with shared.repository() as repo, _reach(shared, repo) as (kube, lookups):
        shipped = shipping.ship(
            repo,
            shared.database,
            _refs(repo, targets),
            actor=who.actor(),
            kube=kube,
            lookups=lookups,
            now=shared.clock(),
            force=force,
        )
    return Shipment(shipped.outcomes, shipped.overridden)


def heal(
    shared: context.Context, who: Identity, targets: Sequence[str], *, force: str | None = None
) -> Shipment:
    """``lamina drift --heal``: re-apply git's config where a cluster of targets (every one when
    none is named) drifted or is out of sync."""
    auth.authorize(who, auth.Permission.SHIP)
    with shared.repository() as repo, _reach(shared, repo) as (kube, lookups):
        healed = healing.heal(
            repo,
            shared.database,
            iter_targets(repo, targets) if targets else repo.targets(),
            actor=who.actor(),
            kube=kube,
            lookups=lookups,
            now=shared.clock(),
            force=force,
        )
    return Shipment(healed.outcomes, healed.overridden, healed.reports)


def run_drift(
    shared: context.Context, who: Identity, targets: Sequence[str] = ()
) -> tuple[datetime, list[DriftReport]]:
    """``lamina drift``: check targets (every one when none is named) now, and store the results."""
    auth.authorize(who, auth.Permission.RUN_DRIFT)
    from lamina.drift import checking

    with shared.repository() as repo:
        kube = connection.KubeSettings.from_environment(
            shared.settings.environ, repo.root, repo.fleet.settings.apply
        )
        refs = iter_targets(repo, targets) if targets else repo.targets()
        now = shared.clock()
        return now, checking.run(repo, shared.database, refs, kube, now)


def _environment(who: Identity, repo: Repository, environment: str) -> str:
    """The environment's name, once who's roles let them freeze or unfreeze it (the library
    asks the rules again, with the fleet and the state database)."""
    env = repo.fleet.environment(environment).name
    auth.authorize(who, auth.Permission.FREEZE, env)
    return env


def freeze(
    shared: context.Context, who: Identity, environment: str, *, until: str, reason: str
) -> tuple[str, datetime]:
    """``lamina freeze ENV --until T --reason R``: the environment's name and the freeze's end."""
    with shared.repository() as repo:
        env = _environment(who, repo, environment)
        moment = shared.clock()
        end = freezes.parse_until(until, moment)
        freezes.freeze(repo, shared.database, env, until=end, reason=reason, actor=who.actor(), now=moment)
    return env, end


def unfreeze(shared: context.Context, who: Identity, environment: str) -> tuple[str, bool]:
    """``lamina unfreeze ENV``: the environment's name, and whether it had a manual freeze."""
    with shared.repository() as repo:
        env = _environment(who, repo, environment)
        return env, freezes.unfreeze(repo, shared.database, env, actor=who.actor(), now=shared.clock())


def move_rollout(shared: context.Context, who: Identity, rollout_id: int, verb: str) -> RolloutRecord:
    """``lamina rollout pause|resume|abort ID``: the library's function, which asks the rules
    (the editor role; a freeze stops a resume) and audits the move or the refusal. The server's
    scheduler drives a resumed or aborting rollout on."""
    move = {"pause": engine.pause, "resume": engine.resume, "abort": engine.abort}[verb]
    with shared.repository() as repo:
        return move(repo.fleet, shared.database, rollout_id, who.actor(), shared.clock())
