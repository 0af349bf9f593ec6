"""``[promotion] verify``: once a promoted config runs on the target environment, its analysis
runs there, and the request ends ``verified`` or ``verification-failed``.

A failed verification opens a rollback request to the revision the target ran before (a
request, with its gates and approvals: not an automatic rollback). An inconclusive one (no
data, Prometheus unreachable) leaves the request ``promoted``: verify it again. Each outcome is
one conditional status change with its audit record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lamina.clusters import secrets
from lamina.core.states import MeasurementOutcome, PromotionStatus
from lamina.errors import InputError, OutsideError, Refused
from lamina.guard.actors import Actor
from lamina.promote import requests
from lamina.resolve.repository import Repository
from lamina.rollout import clocks, engine
from lamina.store import promotions as store
from lamina.store.database import Database
from lamina.store.promotions import PromotionRecord
from lamina.store.rollouts import MeasurementRecord


@dataclass(frozen=True)
class Verified:
    """What verifying a request did."""

    request: PromotionRecord
    measurements: tuple[MeasurementRecord, ...]
    rollback: PromotionRecord | None = None
    """The rollback request a failed verification opened."""


def verify(
    repo: Repository,
    db: Database,
    request_id: int,
    *,
    actor: Actor,
    environ: Mapping[str, str],
    lookups: secrets.Lookups | None = None,
    clock: clocks.Clock | None = None,
) -> Verified:
    """Run ``[promotion] verify``'s analysis on the request's target environment and record the outcome.

    Raises:
        InputError: ``[promotion] verify`` names no analysis.
        Refused: the request is not promoted (already verified: returned as it is).
        OutsideError: a measurement was inconclusive; the request stays promoted.
    """
    clock = clock or clocks.SystemClock()
    name = requests.format_id(request_id)
    record = store.get_request(db, request_id)
    if record.status in (PromotionStatus.VERIFIED, PromotionStatus.VERIFICATION_FAILED):
        return Verified(record, ())
    if record.status is not PromotionStatus.PROMOTED:
        raise Refused(f"{name} is {record.status}; only a promoted request is verified")
    analysis_name = repo.fleet.settings.promotion.verify
    if analysis_name is None:
        raise InputError("[promotion] verify names no analysis: nothing to verify with")
    analysis = repo.fleet.settings.analysis(analysis_name)
    clusters = [c for c in repo.fleet.clusters_of(record.target) if not c.suspended]
    url = environ.get(analysis.provider.url_env, "")
    taken: list[MeasurementRecord] = []
    failures: dict[tuple[str, str], int] = {}
    failed: str | None = None
    for round_ in range(analysis.count):
        if round_:
            clock.sleep(analysis.interval.total_seconds())
        found, _sent = engine.measure(analysis, record.target, clusters, url, clock.now(), round_=round_)
        taken.extend(found)
        unclear = [m for m in found if m.outcome is MeasurementOutcome.INCONCLUSIVE]
        if unclear:
            first = unclear[0]
            raise OutsideError(
                f"{name} not verified: {first.metric} on {first.cluster} inconclusive ({first.detail}); "
                "it stays promoted: verify it again"
            )
        for item in found:
            if item.outcome is MeasurementOutcome.FAILED:
                key = (item.cluster, item.metric)
                failures[key] = failures.get(key, 0) + 1
                if failures[key] > analysis.failure_limit and failed is None:
                    failed = f"{item.metric} on {item.cluster}: {item.detail}"
        if failed is not None:
            break
    to = PromotionStatus.VERIFIED if failed is None else PromotionStatus.VERIFICATION_FAILED
    detail: dict[str, object] = {"analysis": analysis_name, "measurements": len(taken)}
    if failed is not None:
        detail["failure"] = failed
    store.transition(
        db,
        request_id,
        from_statuses=(PromotionStatus.PROMOTED,),
        to=to,
        actor=actor.name,
        action=f"promotion.{to.value}",
        at=clock.now(),
        detail=detail,
    )
    record = store.get_request(db, request_id)
    rollback = None
    if failed is not None:
        previous = _previous_revision(repo, record)
        if previous is not None:
            rollback = requests.rollback(
                repo,
                db,
                target=record.target,
                to=previous,
                actor=actor,
                now=clock.now,
                reason=f"verification of {name} failed: {failed}",
                lookups=lookups,
            )
    return Verified(record, tuple(taken), rollback)


def _previous_revision(repo: Repository, record: PromotionRecord) -> str | None:
    """The revision the target ran before the request's pin commit (None: unknown)."""
    if record.commit is None:
        return None
    before = repo.at(f"{record.commit}^")
    revision = requests.source_revision(before, record.target)
    return None if revision == record.revision else revision
