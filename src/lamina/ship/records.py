"""Recording what shipping did: one apply row and its audit record per cluster attempted."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from lamina.clusters.outcomes import ApplyOutcome
from lamina.guard.actors import Actor
from lamina.store import applies
from lamina.store.database import Database


def record(
    db: Database,
    outcomes: Sequence[ApplyOutcome],
    actor: Actor,
    now: datetime.datetime,
    dirty: bool,
    *,
    force: str | None = None,
    overridden: Sequence[str] = (),
) -> None:
    """Record each attempted apply with its audit record (one transaction each).

    Args:
        force: the reason a ``--force`` gave; the applies are flagged forced, and their audit
            records keep what the force overrode.
    """
    for outcome in outcomes:
        if not outcome.result.recorded:
            continue
        item = applies.ApplyRecord(
            environment=outcome.environment,
            cluster=outcome.cluster,
            revision=outcome.revision,
            base_revision=outcome.base_revision,
            config_hash=outcome.config_hash,
            result=outcome.result.value,
            detail=outcome.detail or None,
            dirty=dirty,
            forced=force is not None,
            reason=force,
            overridden=tuple(overridden),
            identity=actor.audit_detail(),
        )
        applies.save(db, item, actor.name, now)
