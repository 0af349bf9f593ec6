"""Recorded applies: who shipped which config to which cluster, when, and how it went.

Every apply row is written in the same transaction as its audit record, so an apply that
cannot be audited is not recorded either (and the caller treats that as a failure).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lamina.store import audit
from lamina.store.database import Database
from lamina.store.models import Apply
from lamina.store.promotions import utc


@dataclass(frozen=True)
class ApplyRecord:
    """What the store keeps of one apply (no config content, no secret values)."""

    environment: str
    cluster: str
    revision: str | None
    base_revision: str | None
    config_hash: str
    result: str
    detail: str | None
    dirty: bool
    forced: bool = False
    reason: str | None = None
    overridden: tuple[str, ...] = ()
    """With ``forced``: the problems the force overrode (kept in the audit record)."""
    identity: Mapping[str, Any] | None = None
    """What is known of who applied besides the name (audit record only)."""

    def to_json(self) -> dict[str, Any]:
        """The audit detail of this apply."""
        data: dict[str, Any] = {
            "cluster": self.cluster,
            "revision": self.revision,
            "base_revision": self.base_revision,
            "config_hash": self.config_hash,
            "result": self.result,
            "detail": self.detail,
            "dirty": self.dirty,
        }
        if self.forced:
            data.update(forced=True, reason=self.reason, overridden=list(self.overridden))
        if self.identity:
            data["identity"] = dict(self.identity)
        return data


@dataclass(frozen=True)
class RecordedApply:
    """One apply as it was recorded: the record, and who made it when."""

    environment: str
    cluster: str
    revision: str | None
    base_revision: str | None
    config_hash: str
    actor: str
    at: datetime
    result: str
    forced: bool = False
    reason: str | None = None


def record(session: Session, item: ApplyRecord, actor: str, at: datetime) -> Apply:
    """Add one apply and its audit record, inside the caller's transaction."""
    row = Apply(
        environment=item.environment,
        cluster=item.cluster,
        revision=item.revision,
        base_revision=item.base_revision,
        config_hash=item.config_hash,
        actor=actor,
        at=at,
        result=item.result,
        detail=item.detail,
        dirty=item.dirty,
        forced=item.forced,
        reason=item.reason,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="apply",
        at=at,
        environment=item.environment,
        subject=f"{item.environment}/{item.cluster}",
        detail={**item.to_json(), "apply_id": row.id},
    )
    return row


def save(db: Database, item: ApplyRecord, actor: str, at: datetime) -> None:
    """Record one apply and its audit record in a transaction of its own."""
    db.run(lambda session: record(session, item, actor, at))


def applies_of(db: Database, environment: str, limit: int = 1000) -> list[RecordedApply]:
    """The applies recorded for an environment's clusters, newest first."""

    def query(session: Session) -> list[RecordedApply]:
        rows = session.execute(
            select(Apply)
            .where(Apply.environment == environment)
            .order_by(Apply.at.desc(), Apply.id.desc())
            .limit(limit)
        ).scalars()
        return [
            RecordedApply(
                r.environment,
                r.cluster,
                r.revision,
                r.base_revision,
                r.config_hash,
                r.actor,
                utc(r.at),
                r.result,
                bool(r.forced),
                r.reason,
            )
            for r in rows
        ]

    return db.read(query)
