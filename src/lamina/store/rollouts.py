"""Rollouts, their clusters and measurements in the state database.

Every status change — the rollout's status, phase and step, and each cluster's state — is one
conditional update (``UPDATE ... WHERE id = ? AND status = ? AND phase = ? AND step = ?``)
written in one transaction with its audit record, so a crashed driver that comes back, or two
replicas that both try, end with exactly one outcome. Who drives a rollout is a lease
(:mod:`lamina.store.leases`, named ``rollout:ID``): one replica at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lamina.core.states import MeasurementOutcome, RolloutClusterState, RolloutPhase, RolloutStatus
from lamina.errors import UnknownTargetError
from lamina.store import audit, leases
from lamina.store.database import Database
from lamina.store.models import Lease, Measurement, Rollout, RolloutCluster
from lamina.store.promotions import utc


@dataclass(frozen=True)
class ClusterRecord:
    """One cluster of a rollout."""

    cluster: str
    step: int
    state: RolloutClusterState
    previous_configmap: str | None
    previous_revision: str | None
    configmap: str | None
    updated_at: datetime


@dataclass(frozen=True)
class MeasurementRecord:
    """One measurement of one metric on one cluster."""

    step: int
    attempt: int
    round: int
    cluster: str
    metric: str
    value: float | None
    outcome: MeasurementOutcome
    detail: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``rollout status --json`` and the API."""
        return {
            "step": self.step,
            "attempt": self.attempt,
            "round": self.round,
            "cluster": self.cluster,
            "metric": self.metric,
            "value": self.value,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "at": audit.timestamp(self.at),
        }


@dataclass(frozen=True)
class RolloutRecord:
    """A rollout as stored, with its clusters (by step) and measurements (oldest first)."""

    id: int
    environment: str
    revision: str | None
    status: RolloutStatus
    phase: RolloutPhase
    step: int
    attempt: int
    phase_at: datetime
    plan: Mapping[str, Any]
    reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    clusters: tuple[ClusterRecord, ...] = ()
    measurements: tuple[MeasurementRecord, ...] = field(default=(), repr=False)

    @property
    def steps(self) -> int:
        """How many steps the rollout has."""
        return len(self.plan.get("steps", []))

    def step_clusters(self, step: int) -> list[ClusterRecord]:
        """The clusters of one step, in order."""
        return [c for c in self.clusters if c.step == step]

    def to_json(self, measurements: bool = True) -> dict[str, Any]:
        """JSON form for ``rollout status --json`` and the API."""
        body: dict[str, Any] = {
            "id": self.id,
            "environment": self.environment,
            "revision": self.revision,
            "status": self.status.value,
            "phase": self.phase.value,
            "step": self.step,
            "steps": self.plan.get("steps", []),
            "reason": self.reason,
            "created_by": self.created_by,
            "created_at": audit.timestamp(self.created_at),
            "updated_at": audit.timestamp(self.updated_at),
            "clusters": [
                {
                    "cluster": c.cluster,
                    "step": c.step,
                    "state": c.state.value,
                    "previous_configmap": c.previous_configmap,
                    "configmap": c.configmap,
                }
                for c in self.clusters
            ],
        }
        if measurements:
            body["measurements"] = [m.to_json() for m in self.measurements]
        return body


def _record(session: Session, row: Rollout, measurements: bool = True) -> RolloutRecord:
    clusters = session.execute(
        select(RolloutCluster).where(RolloutCluster.rollout_id == row.id).order_by(RolloutCluster.id)
    ).scalars()
    found: Sequence[Measurement] = ()
    if measurements:
        found = list(
            session.execute(
                select(Measurement).where(Measurement.rollout_id == row.id).order_by(Measurement.id)
            ).scalars()
        )
    return RolloutRecord(
        id=row.id,
        environment=row.environment,
        revision=row.revision,
        status=RolloutStatus(row.status),
        phase=RolloutPhase(row.phase),
        step=row.step,
        attempt=row.attempt,
        phase_at=utc(row.phase_at),
        plan=dict(row.plan or {}),
        reason=row.reason,
        created_by=row.created_by,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        clusters=tuple(
            ClusterRecord(
                c.cluster,
                c.step,
                RolloutClusterState(c.state),
                c.previous_configmap,
                c.previous_revision,
                c.configmap,
                utc(c.updated_at),
            )
            for c in clusters
        ),
        measurements=tuple(
            MeasurementRecord(
                m.step,
                m.attempt,
                m.round,
                m.cluster,
                m.metric,
                m.value,
                MeasurementOutcome(m.outcome),
                m.detail,
                utc(m.at),
            )
            for m in found
        ),
    )


def _load(session: Session, rollout_id: int) -> Rollout:
    row = session.get(Rollout, rollout_id, populate_existing=True)
    if row is None:
        raise UnknownTargetError(f"no rollout {rollout_id}")
    return row


def create(
    db: Database,
    *,
    environment: str,
    revision: str | None,
    steps: Sequence[Sequence[str]],
    plan: Mapping[str, Any],
    actor: str,
    at: datetime,
) -> RolloutRecord:
    """Record a new running rollout (its clusters pending, step by step) with its audit record."""

    def write(session: Session) -> RolloutRecord:
        row = Rollout(
            environment=environment,
            revision=revision,
            status=RolloutStatus.RUNNING.value,
            phase=RolloutPhase.APPLY.value,
            step=0,
            attempt=0,
            phase_at=at,
            plan={**plan, "steps": [list(names) for names in steps]},
            created_by=actor,
            created_at=at,
            updated_at=at,
        )
        session.add(row)
        session.flush()
        for index, names in enumerate(steps):
            for name in names:
                session.add(
                    RolloutCluster(
                        rollout_id=row.id,
                        step=index,
                        cluster=name,
                        state=RolloutClusterState.PENDING.value,
                        updated_at=at,
                    )
                )
        audit.append(
            session,
            actor=actor,
            action="rollout.started",
            at=at,
            environment=environment,
            subject=f"rollout {row.id}",
            detail={"revision": revision, "steps": [list(names) for names in steps]},
        )
        session.flush()
        return _record(session, row)

    return db.run(write)


def get(db: Database, rollout_id: int) -> RolloutRecord:
    """One rollout with its clusters and measurements.

    Raises:
        UnknownTargetError: no such rollout.
    """
    return db.read(lambda session: _record(session, _load(session, rollout_id)))


def list_rollouts(db: Database, environment: str | None = None, limit: int = 50) -> list[RolloutRecord]:
    """The newest rollouts first (without their measurements)."""

    def query(session: Session) -> list[RolloutRecord]:
        stmt = select(Rollout).order_by(Rollout.id.desc()).limit(limit)
        if environment is not None:
            stmt = stmt.where(Rollout.environment == environment)
        return [_record(session, row, measurements=False) for row in session.execute(stmt).scalars()]

    return db.read(query)


def active(db: Database) -> list[int]:
    """The ids of running rollouts, oldest first."""

    def query(session: Session) -> list[int]:
        stmt = select(Rollout.id).where(Rollout.status == RolloutStatus.RUNNING.value).order_by(Rollout.id)
        return list(session.execute(stmt).scalars())

    return db.read(query)


def transition(
    db: Database,
    rollout_id: int,
    *,
    from_statuses: Collection[RolloutStatus],
    to: RolloutStatus,
    actor: str,
    action: str,
    at: datetime,
    phase: RolloutPhase | None = None,
    step: int | None = None,
    expect_phase: RolloutPhase | None = None,
    expect_step: int | None = None,
    reason: str | None = None,
    next_attempt: bool = False,
    detail: Mapping[str, Any] | None = None,
) -> bool:
    """Change a rollout's status (and phase or step) if it is where the caller saw it, with its
    audit record. False: it was not (someone else moved it first)."""

    def write(session: Session) -> bool:
        row = _load(session, rollout_id)
        before = (row.status, row.phase, row.step)
        stmt = update(Rollout).where(
            Rollout.id == rollout_id, Rollout.status.in_([s.value for s in from_statuses])
        )
        if expect_phase is not None:
            stmt = stmt.where(Rollout.phase == expect_phase.value)
        if expect_step is not None:
            stmt = stmt.where(Rollout.step == expect_step)
        values: dict[str, Any] = {"status": to.value, "updated_at": at}
        if phase is not None:
            values["phase"] = phase.value
            values["phase_at"] = at
        if step is not None:
            values["step"] = step
        if reason is not None:
            values["reason"] = reason
        if next_attempt:
            values["attempt"] = Rollout.attempt + 1
        result = session.execute(stmt.values(**values).execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 0) != 1:
            return False
        audit.append(
            session,
            actor=actor,
            action=action,
            at=at,
            environment=row.environment,
            subject=f"rollout {rollout_id}",
            detail={
                "from": {"status": before[0], "phase": before[1], "step": before[2]},
                "to": {
                    "status": to.value,
                    "phase": phase.value if phase else before[1],
                    "step": before[2] if step is None else step,
                },
                **({"reason": reason} if reason else {}),
                **dict(detail or {}),
            },
        )
        return True

    return db.run(write)


def mark_cluster(
    db: Database,
    rollout_id: int,
    cluster: str,
    *,
    from_states: Collection[RolloutClusterState],
    to: RolloutClusterState,
    actor: str,
    at: datetime,
    previous: tuple[str | None, str | None] | None = None,
    configmap: str | None = None,
) -> bool:
    """Move one cluster of a rollout to state ``to`` if it is in from_states, with its audit
    record; previous (ConfigMap, revision) is what it ran before, recorded before it moves."""

    def write(session: Session) -> bool:
        row = _load(session, rollout_id)
        values: dict[str, Any] = {"state": to.value, "updated_at": at}
        if previous is not None:
            values["previous_configmap"], values["previous_revision"] = previous
        if configmap is not None:
            values["configmap"] = configmap
        result = session.execute(
            update(RolloutCluster)
            .where(
                RolloutCluster.rollout_id == rollout_id,
                RolloutCluster.cluster == cluster,
                RolloutCluster.state.in_([s.value for s in from_states]),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        audit.append(
            session,
            actor=actor,
            action=f"rollout.cluster-{to.value}",
            at=at,
            environment=row.environment,
            subject=f"rollout {rollout_id}: {cluster}",
            detail={
                "to": to.value,
                **({"previous_configmap": previous[0]} if previous else {}),
                **({"configmap": configmap} if configmap else {}),
            },
        )
        return True

    return db.run(write)


def add_measurements(db: Database, rollout_id: int, rows: Sequence[MeasurementRecord]) -> None:
    """Keep one round of measurements (one transaction)."""

    def write(session: Session) -> None:
        for item in rows:
            session.add(
                Measurement(
                    rollout_id=rollout_id,
                    step=item.step,
                    attempt=item.attempt,
                    round=item.round,
                    cluster=item.cluster,
                    metric=item.metric,
                    value=item.value,
                    outcome=item.outcome.value,
                    detail=item.detail,
                    at=item.at,
                )
            )

    db.run(write)


def rounds_done(db: Database, rollout_id: int, step: int, attempt: int) -> int:
    """How many measurement rounds of this step and attempt are kept."""

    def query(session: Session) -> int:
        stmt = select(func.count(func.distinct(Measurement.round))).where(
            Measurement.rollout_id == rollout_id, Measurement.step == step, Measurement.attempt == attempt
        )
        return int(session.execute(stmt).scalar() or 0)

    return db.read(query)


def take_lease(db: Database, rollout_id: int, holder: str, now: datetime, until: datetime) -> bool:
    """Take (or renew) the right to drive a rollout; False while another driver holds it."""
    return db.run(lambda session: leases.acquire(session, f"rollout:{rollout_id}", holder, now, until))


def lease_holder(db: Database, rollout_id: int, now: datetime) -> str | None:
    """Who drives the rollout now, or None."""
    return db.read(lambda session: leases.holder(session, f"rollout:{rollout_id}", now))


def release_lease(db: Database, rollout_id: int, holder: str, now: datetime) -> None:
    """Give the lease up (it expires now) if holder has it."""
    db.run(lambda session: leases.acquire(session, f"rollout:{rollout_id}", holder, now, now))


def take_over(db: Database, rollout_id: int, dead: str, holder: str, until: datetime) -> bool:
    """Take the lease from a driver known to be dead (its process is gone); one conditional update."""

    def write(session: Session) -> bool:
        result = session.execute(
            update(Lease)
            .where(Lease.name == f"rollout:{rollout_id}", Lease.holder == dead)
            .values(holder=holder, expires_at=until)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    return db.run(write)


def stamp(session: Session) -> int:
    """What changes whenever a measurement is kept (its rows carry no audit record): the newest id."""
    return int(session.execute(select(func.max(Measurement.id))).scalar() or 0)
