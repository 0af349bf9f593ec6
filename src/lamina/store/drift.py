"""Stored drift results: the latest status of every cluster and since when it has held.

``since`` is when the current status was first seen; it survives re-checks that find the
same status, so "drifted for 3 days" is a fact the server can alert on and show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lamina.store.models import DriftResult


@dataclass(frozen=True)
class DriftRecord:
    """One cluster's drift status as the store keeps it (paths and values of the config only)."""

    cluster: str
    environment: str
    status: str
    expected_hash: str | None
    actual_hash: str | None
    fields: list[dict[str, Any]]
    detail: str | None = None


@dataclass(frozen=True)
class Saved:
    """What :func:`save` knows after writing: since when, and what the status was before."""

    since: datetime
    previous: str | None


def save(session: Session, items: list[DriftRecord], at: datetime) -> dict[str, Saved]:
    """Store each cluster's status; keep ``since`` while the status and the drift are unchanged."""
    names = [item.cluster for item in items]
    existing = {
        row.cluster: row
        for row in session.execute(select(DriftResult).where(DriftResult.cluster.in_(names))).scalars()
    }
    out: dict[str, Saved] = {}
    for item in items:
        row = existing.get(item.cluster)
        if row is None:
            row = DriftResult(cluster=item.cluster, since=at)
            session.add(row)
            previous = None
        else:
            previous = row.status
            if row.status != item.status or row.actual_hash != item.actual_hash:
                row.since = at
        row.environment = item.environment
        row.status = item.status
        row.expected_hash = item.expected_hash
        row.actual_hash = item.actual_hash
        row.fields = item.fields
        row.detail = item.detail
        row.checked_at = at
        since = row.since if row.since.tzinfo is not None else row.since.replace(tzinfo=UTC)
        out[item.cluster] = Saved(since, previous)
    session.flush()
    return out


def latest_json(session: Session) -> list[dict[str, Any]]:
    """The stored status of every cluster in the SPEC ``drift`` shape, plus since and detail."""
    rows = session.execute(select(DriftResult).order_by(DriftResult.environment, DriftResult.cluster))
    out = []
    for row in rows.scalars():
        since = row.since if row.since.tzinfo is not None else row.since.replace(tzinfo=UTC)
        checked = row.checked_at if row.checked_at.tzinfo is not None else row.checked_at.replace(tzinfo=UTC)
        out.append(
            {
                "environment": row.environment,
                "cluster": row.cluster,
                "status": row.status,
                "expected_hash": row.expected_hash,
                "actual_hash": row.actual_hash,
                "fields": list(row.fields or []),
                "since": since.isoformat(),
                "checked_at": checked.isoformat(),
                "detail": row.detail,
            }
        )
    return out


def stamp(session: Session) -> tuple[int, str]:
    """A cheap fingerprint of the stored results: it changes whenever a check stores any."""
    count, newest = session.execute(select(func.count(), func.max(DriftResult.checked_at))).one()
    return int(count), str(newest)
