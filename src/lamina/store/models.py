"""The tables, as SQLAlchemy 2 declarative models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import Float as sa_Float
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Base of every lamina table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Promotion(Base):
    """A request: to move an environment's pin (a promotion, a rollback or an emergency), or to
    let edits outside base/ ship into a protected environment (a change)."""

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # promotion, rollback, change
    source: Mapped[str | None] = mapped_column(String(63))
    target: Mapped[str] = mapped_column(String(63), index=True)
    revision: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), index=True)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    config_hashes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gates: Mapped[list[Any]] = mapped_column(JSON, default=list)
    commit: Mapped[str | None] = mapped_column(String(64))
    backfill_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    backfill_done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    head: Mapped[str | None] = mapped_column(String(64))


class Approval(Base):
    """One person's decision on a request; one row per request and person."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("promotion_id", "actor", name="one_decision_per_person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    promotion_id: Mapped[int] = mapped_column(ForeignKey("promotions.id"), index=True)
    actor: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str] = mapped_column(String(16))  # approve, reject
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)


class Apply(Base):
    """One apply of one target to one cluster (or a directory cluster's folder)."""

    __tablename__ = "applies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(63), index=True)
    cluster: Mapped[str] = mapped_column(String(63), index=True)
    revision: Mapped[str | None] = mapped_column(String(64))
    base_revision: Mapped[str | None] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    result: Mapped[str] = mapped_column(String(16))  # applied, unchanged, failed, unreachable, dry-run
    detail: Mapped[str | None] = mapped_column(Text)
    dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    """Shipped with ``--force`` although a rule or a check refused it."""
    reason: Mapped[str | None] = mapped_column(Text)
    """Why it was forced."""


class DriftResult(Base):
    """The latest drift status of a cluster, and since when it has held."""

    __tablename__ = "drift_results"

    cluster: Mapped[str] = mapped_column(String(63), primary_key=True)
    environment: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16))
    expected_hash: Mapped[str | None] = mapped_column(String(64))
    actual_hash: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str | None] = mapped_column(Text)


class Freeze(Base):
    """A manual freeze of an environment (``lamina freeze``)."""

    __tablename__ = "freezes"

    environment: Mapped[str] = mapped_column(String(63), primary_key=True)
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRecord(Base):
    """One row of the append-only, hash-chained audit log."""

    __tablename__ = "audit"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str | None] = mapped_column(String(63))
    subject: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Lease(Base):
    """Who runs a scheduled job now (several servers may share one database)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Rollout(Base):
    """A rollout: one environment moved step by step (``apply --rollout``)."""

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(63), index=True)
    revision: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    phase: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    """Measurements count from the newest attempt (a resume measures the step again)."""
    phase_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RolloutCluster(Base):
    """One cluster of a rollout: its step, what it ran before, and where it stands."""

    __tablename__ = "rollout_clusters"
    __table_args__ = (UniqueConstraint("rollout_id", "cluster", name="one_row_per_rollout_cluster"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    cluster: Mapped[str] = mapped_column(String(63))
    state: Mapped[str] = mapped_column(String(16))
    previous_configmap: Mapped[str | None] = mapped_column(String(253))
    previous_revision: Mapped[str | None] = mapped_column(String(64))
    configmap: Mapped[str | None] = mapped_column(String(253))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Measurement(Base):
    """One measurement of one metric on one cluster during a rollout step."""

    __tablename__ = "rollout_measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)
    cluster: Mapped[str] = mapped_column(String(63))
    metric: Mapped[str] = mapped_column(String(63))
    value: Mapped[float | None] = mapped_column(sa_Float, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
