"""Promotion requests, decisions and freezes in the state database.

Each function is one transaction (:meth:`Database.run`), and every status change in it is a
conditional update (``UPDATE ... WHERE id = ? AND status IN (...)``) written together with its
audit record, so two processes racing on one request end with exactly one outcome, and an
action whose audit record cannot be written does not happen. Callers get immutable records,
never ORM objects, so nothing outside the store touches SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lamina.core.gates import GateResult
from lamina.core.states import Decision, PromotionStatus, RequestKind
from lamina.errors import RuleRefused, UnknownTargetError
from lamina.store import audit
from lamina.store.database import Database
from lamina.store.models import Approval, Freeze, Promotion


@dataclass(frozen=True)
class DecisionRecord:
    """One person's approval or rejection of a request."""

    actor: str
    decision: Decision
    at: datetime
    comment: str | None = None


@dataclass(frozen=True)
class PromotionRecord:
    """A promotion request as stored, with its decisions (oldest first)."""

    id: int
    kind: RequestKind
    source: str | None
    target: str
    revision: str
    status: PromotionStatus
    emergency: bool
    reason: str | None
    requested_by: str
    requested_at: datetime
    updated_at: datetime
    config_hashes: Mapping[str, str]
    gates: tuple[GateResult, ...]
    commit: str | None
    backfill_due: datetime | None
    backfill_done_at: datetime | None
    decisions: tuple[DecisionRecord, ...] = ()
    plan: Mapping[str, Any] | None = None
    """The plan of the move, in the ``plan`` JSON shape, as it was when requested."""
    head: str | None = None
    """The commit the config hashes were computed at."""

    @property
    def approvers(self) -> tuple[str, ...]:
        """Everyone who approved, in order."""
        return tuple(d.actor for d in self.decisions if d.decision is Decision.APPROVE)


@dataclass(frozen=True)
class FreezeRecord:
    """A manual freeze of an environment."""

    environment: str
    until: datetime
    reason: str
    actor: str
    at: datetime


def utc(moment: datetime) -> datetime:
    """A timezone-aware UTC datetime (SQLite hands back naive ones)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _record(session: Session, row: Promotion) -> PromotionRecord:
    decisions = session.execute(
        select(Approval).where(Approval.promotion_id == row.id).order_by(Approval.at, Approval.id)
    ).scalars()
    return PromotionRecord(
        id=row.id,
        kind=RequestKind(row.kind),
        source=row.source,
        target=row.target,
        revision=row.revision,
        status=PromotionStatus(row.status),
        emergency=bool(row.emergency),
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=utc(row.requested_at),
        updated_at=utc(row.updated_at),
        config_hashes=dict(row.config_hashes or {}),
        gates=tuple(GateResult.from_json(g) for g in row.gates or [] if isinstance(g, Mapping)),
        commit=row.commit,
        backfill_due=utc(row.backfill_due) if row.backfill_due else None,
        backfill_done_at=utc(row.backfill_done_at) if row.backfill_done_at else None,
        decisions=tuple(
            DecisionRecord(d.actor, Decision(d.decision), utc(d.at), d.comment) for d in decisions
        ),
        plan=row.plan if isinstance(row.plan, dict) else None,
        head=row.head,
    )


def _load(session: Session, request_id: int) -> PromotionRecord:
    row = session.get(Promotion, request_id, populate_existing=True)
    if row is None:
        raise UnknownTargetError(f"no promotion request PR-{request_id}")
    return _record(session, row)


def create_request(
    db: Database,
    *,
    kind: RequestKind,
    source: str | None,
    target: str,
    revision: str,
    emergency: bool,
    reason: str | None,
    requested_by: str,
    at: datetime,
    config_hashes: Mapping[str, str],
    action: str,
    detail: Mapping[str, Any],
    plan: Mapping[str, Any] | None = None,
    head: str | None = None,
) -> PromotionRecord:
    """Record a new request in status ``pending``, with its plan and its audit record."""

    def write(session: Session) -> PromotionRecord:
        row = Promotion(
            kind=kind.value,
            source=source,
            target=target,
            revision=revision,
            status=PromotionStatus.PENDING.value,
            emergency=emergency,
            reason=reason,
            requested_by=requested_by,
            requested_at=at,
            updated_at=at,
            config_hashes=dict(config_hashes),
            gates=[],
            plan=dict(plan) if plan is not None else None,
            head=head,
        )
        session.add(row)
        session.flush()
        audit.append(
            session,
            actor=requested_by,
            action=action,
            at=at,
            environment=target,
            subject=f"PR-{row.id}",
            detail=dict(detail),
        )
        return _record(session, row)

    return db.run(write)


def get_request(db: Database, request_id: int) -> PromotionRecord:
    """The request with this id.

    Raises:
        UnknownTargetError: there is none.
    """
    return db.read(lambda session: _load(session, request_id))


def list_requests(
    db: Database, statuses: Collection[PromotionStatus] = (), target: str | None = None
) -> list[PromotionRecord]:
    """Requests, newest first, optionally only those in statuses or into target."""

    def query(session: Session) -> list[PromotionRecord]:
        stmt = select(Promotion).order_by(Promotion.id.desc())
        if statuses:
            stmt = stmt.where(Promotion.status.in_([status.value for status in statuses]))
        if target is not None:
            stmt = stmt.where(Promotion.target == target)
        return [_record(session, row) for row in session.execute(stmt).scalars()]

    return db.read(query)


def _conditional(
    session: Session,
    request_id: int,
    from_statuses: Collection[PromotionStatus],
    to: PromotionStatus,
    at: datetime,
    values: Mapping[str, Any],
) -> bool:
    result = session.execute(
        update(Promotion)
        .where(Promotion.id == request_id, Promotion.status.in_([status.value for status in from_statuses]))
        .values(status=to.value, updated_at=at, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def transition(
    db: Database,
    request_id: int,
    *,
    from_statuses: Collection[PromotionStatus],
    to: PromotionStatus,
    actor: str,
    action: str,
    at: datetime,
    detail: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    gates: Sequence[GateResult] | None = None,
) -> bool:
    """Move a request to status ``to`` if it is in one of from_statuses, with its audit record.

    Args:
        values: other columns to set in the same update (``commit``, ``backfill_due``).
        gates: the request's gate results, stored with the change.

    Returns:
        True when this call made the change; False when the request was not in from_statuses
        (someone else got there first).
    """

    columns = dict(values or {})
    if gates is not None:
        columns["gates"] = [gate.to_json() for gate in gates]

    def write(session: Session) -> bool:
        request = _load(session, request_id)
        if not _conditional(session, request_id, from_statuses, to, at, columns):
            return False
        audit.append(
            session,
            actor=actor,
            action=action,
            at=at,
            environment=request.target,
            subject=f"PR-{request_id}",
            detail={"from": request.status.value, "to": to.value, **detail},
        )
        return True

    return db.run(write)


def decide(
    db: Database,
    request_id: int,
    *,
    actor: str,
    decision: Decision,
    at: datetime,
    comment: str | None,
    allowed: Callable[[PromotionRecord], None],
    required: Callable[[PromotionRecord], int],
    action_prefix: str = "promotion",
    identity: Mapping[str, Any] | None = None,
) -> PromotionRecord:
    """Record actor's approval or rejection, and approve or reject the request when it decides it.

    Args:
        allowed: raises when actor may not decide on this request (called with the fresh record,
            inside the transaction).
        required: how many approvals the request needs.

    Raises:
        Refused: the request takes no decisions in its status, actor already decided, or
            allowed refused.
    """

    def write(session: Session) -> PromotionRecord:
        request = _load(session, request_id)
        if request.status is not PromotionStatus.TESTING:
            raise RuleRefused(
                f"PR-{request_id} is {request.status}; only a request whose gates passed "
                "(status testing) takes approvals"
            )
        if any(d.actor == actor for d in request.decisions):
            raise RuleRefused(f"{actor} already decided on PR-{request_id}")
        allowed(request)
        try:
            with session.begin_nested():
                session.add(
                    Approval(
                        promotion_id=request_id, actor=actor, decision=decision.value, at=at, comment=comment
                    )
                )
        except IntegrityError:
            raise RuleRefused(f"{actor} already decided on PR-{request_id}") from None
        base = {"revision": request.revision, "emergency": request.emergency}
        audit.append(
            session,
            actor=actor,
            action=f"{action_prefix}.{decision.value}",
            at=at,
            environment=request.target,
            subject=f"PR-{request_id}",
            detail={
                **base,
                "config_hashes": dict(request.config_hashes),
                "comment": comment,
                "identity": dict(identity or {}),
            },
        )
        approvals = session.execute(
            select(func.count())
            .select_from(Approval)
            .where(Approval.promotion_id == request_id, Approval.decision == Decision.APPROVE.value)
        ).scalar_one()
        to = None
        if decision is Decision.REJECT:
            to = PromotionStatus.REJECTED
        elif approvals >= required(request):
            to = PromotionStatus.APPROVED
        if to is not None and _conditional(session, request_id, (PromotionStatus.TESTING,), to, at, {}):
            audit.append(
                session,
                actor=actor,
                action=f"{action_prefix}.{to}",
                at=at,
                environment=request.target,
                subject=f"PR-{request_id}",
                detail={
                    **base,
                    "from": PromotionStatus.TESTING.value,
                    "to": to.value,
                    "approvals": approvals,
                },
            )
        return _load(session, request_id)

    return db.run(write)


def mark_backfill_done(db: Database, request_id: int, *, at: datetime, actor: str) -> bool:
    """Record that an emergency's backfill obligation is met (once)."""

    def write(session: Session) -> bool:
        result = session.execute(
            update(Promotion)
            .where(Promotion.id == request_id, Promotion.backfill_done_at.is_(None))
            .values(backfill_done_at=at)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        request = _load(session, request_id)
        audit.append(
            session,
            actor=actor,
            action="emergency.backfill-done",
            at=at,
            environment=request.target,
            subject=f"PR-{request_id}",
            detail={"revision": request.revision},
        )
        return True

    return db.run(write)


def set_freeze(
    db: Database,
    *,
    environment: str,
    until: datetime,
    reason: str,
    actor: str,
    at: datetime,
    identity: Mapping[str, Any] | None = None,
) -> None:
    """Freeze an environment until a moment (replacing an earlier freeze of it)."""

    def write(session: Session) -> None:
        session.execute(delete(Freeze).where(Freeze.environment == environment))
        session.add(Freeze(environment=environment, until=until, reason=reason, actor=actor, at=at))
        audit.append(
            session,
            actor=actor,
            action="freeze",
            at=at,
            environment=environment,
            subject=environment,
            detail={"until": audit.timestamp(until), "reason": reason, "identity": dict(identity or {})},
        )

    db.run(write)


def clear_freeze(
    db: Database,
    *,
    environment: str,
    actor: str,
    at: datetime,
    identity: Mapping[str, Any] | None = None,
) -> bool:
    """Lift the manual freeze of an environment; False when there was none."""

    def write(session: Session) -> bool:
        result = session.execute(
            delete(Freeze)
            .where(Freeze.environment == environment)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 0:
            return False
        audit.append(
            session,
            actor=actor,
            action="unfreeze",
            at=at,
            environment=environment,
            subject=environment,
            detail={"identity": dict(identity or {})},
        )
        return True

    return db.run(write)


def freezes(db: Database) -> list[FreezeRecord]:
    """Every manual freeze (expired ones included; the caller compares with its clock)."""

    def query(session: Session) -> list[FreezeRecord]:
        rows = session.execute(select(Freeze).order_by(Freeze.environment)).scalars()
        return [FreezeRecord(r.environment, utc(r.until), r.reason, r.actor, utc(r.at)) for r in rows]

    return db.read(query)
