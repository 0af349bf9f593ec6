"""Read-only summaries for the dashboard and /metrics: latest drift, counts, last applies."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from lamina.store.models import Apply, AuditRecord, DriftResult, Measurement, Promotion


@dataclass(frozen=True)
class DriftRow:
    """The latest drift result of one cluster."""

    cluster: str
    environment: str
    status: str
    fields: int
    checked_at: datetime
    since: datetime


@dataclass(frozen=True)
class LastApply:
    """The newest apply of one cluster."""

    cluster: str
    environment: str
    config_hash: str
    revision: str | None
    actor: str
    at: datetime
    result: str


def drift_rows(session: Session) -> list[DriftRow]:
    """Every cluster's latest drift result."""
    rows = session.execute(select(DriftResult).order_by(DriftResult.cluster)).scalars()
    return [
        DriftRow(r.cluster, r.environment, r.status, len(r.fields or []), r.checked_at, r.since) for r in rows
    ]


_STAMP = select(
    select(func.max(AuditRecord.seq)).scalar_subquery(),
    select(func.count()).select_from(DriftResult).scalar_subquery(),
    select(func.max(DriftResult.checked_at)).scalar_subquery(),
    select(func.max(Measurement.id)).scalar_subquery(),
)
# built once: every page asks, and building the statement costs more than running it
_OPEN = (
    select(func.count())
    .select_from(Promotion)
    .where(Promotion.status.in_(bindparam("statuses", expanding=True)))
)


def state_stamp(session: Session) -> tuple[int, int, str, int]:
    """What changes whenever lamina records something, in one query of primary keys and one
    small table: the newest audit row, the number and newest check time of the drift results,
    and the newest rollout measurement (whose rows carry no audit record)."""
    audit, count, checked, measurement = session.execute(_STAMP).one()
    return int(audit or 0), int(count or 0), str(checked), int(measurement or 0)


def open_promotions(session: Session, statuses: Collection[str]) -> int:
    """How many promotion requests are in one of statuses."""
    return int(session.execute(_OPEN, {"statuses": list(statuses)}).scalar() or 0)


def promotion_counts(session: Session) -> dict[str, int]:
    """How many promotion requests are in each status."""
    query = select(Promotion.status, func.count()).group_by(Promotion.status)
    return {status: int(count) for status, count in session.execute(query)}


def apply_counts(session: Session) -> dict[str, int]:
    """How many applies ended with each result."""
    query = select(Apply.result, func.count()).group_by(Apply.result)
    return {result: int(count) for result, count in session.execute(query)}


def last_applies(session: Session) -> dict[str, LastApply]:
    """The newest apply of every cluster, by cluster name."""
    newest = select(Apply.cluster, func.max(Apply.id).label("id")).group_by(Apply.cluster).subquery()
    query = select(Apply).join(newest, Apply.id == newest.c.id)
    out: dict[str, LastApply] = {}
    for row in session.execute(query).scalars():
        out[row.cluster] = LastApply(
            row.cluster, row.environment, row.config_hash, row.revision, row.actor, row.at, row.result
        )
    return out


def as_json(value: Any) -> Any:
    """Dataclass rows as JSON-ready dicts (datetimes in ISO form)."""
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: as_json(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, datetime):
        return value.isoformat()
    return value
