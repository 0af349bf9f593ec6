"""Stored alert state: what each cluster's alerts last said, shared by every server replica.

Read and written inside the transaction that decides the next notices, so two replicas can
never both tell the same change (PostgreSQL's SERIALIZABLE isolation or SQLite's write lock
makes the second one see the first one's decision).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lamina.store.alert_models import AlertState


@dataclass(frozen=True)
class AlertRecord:
    """One cluster's alert state as the store keeps it (condition names as text)."""

    cluster: str
    environment: str
    notified: str | None = None
    pending: str | None = None
    pending_since: datetime | None = None


def load(session: Session) -> dict[str, AlertRecord]:
    """Every cluster's alert state, by cluster."""
    return {
        row.cluster: AlertRecord(
            cluster=row.cluster,
            environment=row.environment,
            notified=row.notified,
            pending=row.pending,
            pending_since=_utc(row.pending_since),
        )
        for row in session.execute(select(AlertState)).scalars()
    }


def save(session: Session, records: Iterable[AlertRecord], at: datetime) -> None:
    """Insert or update the given clusters' alert states."""
    wanted = {record.cluster: record for record in records}
    if not wanted:
        return
    existing = {
        row.cluster: row
        for row in session.execute(select(AlertState).where(AlertState.cluster.in_(wanted))).scalars()
    }
    for name, record in wanted.items():
        row = existing.get(name)
        if row is None:
            row = AlertState(cluster=name)
            session.add(row)
        row.environment = record.environment
        row.notified = record.notified
        row.pending = record.pending
        row.pending_since = record.pending_since
        row.updated_at = at
    session.flush()


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; lamina stores UTC
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
