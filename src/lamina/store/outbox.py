"""The outbox: every notice is a row written in the transaction of the event it tells of.

An event and its notice commit together or not at all, so a crash can lose neither one
without the other. :func:`add` writes a notice inside the caller's transaction (the audit log
calls :func:`from_audit` for every record it appends, so every audited event worth a notice
gets one); the idempotency key is unique, so the same event written twice is one notice.

A sender (``notify/sending.py``) takes due notices with :func:`claim` (a conditional update:
of several senders, replicas or processes, exactly one holds a notice until its claim runs
out), delivers them, and records the outcome with :func:`settle`: which sinks took the notice
(a retry skips them), and either ``sent``, another attempt later, or ``failed`` once the
attempts are spent. A sender that dies holding a claim only delays its notices: the claim runs
out and another sender takes them. Delivery is at least once: a sender that dies after a sink
took a notice but before :func:`settle` sends it again, with the same idempotency key.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lamina.core import notices
from lamina.core.notices import Draft, Notice, Outcome, Topic
from lamina.core.states import NoticeStatus
from lamina.store.database import Database
from lamina.store.models import AuditRecord, Promotion
from lamina.store.outbox_models import OutboxNotice

ERROR_LIMIT = 255


@dataclass(frozen=True)
class Counts:
    """How many notices are in each status."""

    by_status: Mapping[NoticeStatus, int] = field(default_factory=dict)

    def __getitem__(self, status: NoticeStatus) -> int:
        return self.by_status.get(status, 0)


def add(session: Session, draft: Draft, at: datetime) -> bool:
    """Write draft as a pending notice inside the caller's transaction.

    Returns:
        False when a notice with its key exists already (nothing is written).
    """
    values: dict[str, Any] = {
        "key": draft.key,
        "topic": draft.topic.value,
        "environment": draft.environment,
        "subject": draft.subject,
        "actor": draft.actor,
        "facts": dict(draft.facts),
        "created_at": at,
        "status": NoticeStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": at,
        "delivered": [],
    }
    # one statement, no savepoint: a key written before (by this or another transaction) is skipped
    if session.get_bind().dialect.name == "postgresql":
        statement: Any = (
            postgresql.insert(OutboxNotice).values(**values).on_conflict_do_nothing(index_elements=["key"])
        )
    else:
        statement = (
            sqlite.insert(OutboxNotice).values(**values).on_conflict_do_nothing(index_elements=["key"])
        )
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount == 1


def known(db: Database, key: str) -> bool:
    """True when a notice with this idempotency key was written."""
    return db.read(
        lambda session: (
            session.execute(select(OutboxNotice.id).where(OutboxNotice.key == key)).first() is not None
        )
    )


def from_audit(session: Session, record: AuditRecord) -> bool:
    """Write the notice an audit record calls for, if any (the audit log calls this)."""
    detail = record.detail or {}
    topic = notices.topic_of(record.action, detail)
    if topic is None:
        return False
    facts = {key: detail[key] for key in notices.FACT_KEYS if key in detail}
    facts["action"] = record.action
    request = _request_of(session, record.subject)
    if request is not None:  # what the request moves, whatever step of it this record is
        facts.update(
            kind=request.kind,
            source=request.source,
            target=request.target,
            revision=request.revision,
            emergency=request.emergency,
        )
    draft = Draft(
        key=f"audit-{record.hash}",
        topic=topic,
        environment=record.environment,
        subject=record.subject,
        actor=record.actor,
        facts=facts,
    )
    return add(session, draft, record.at)


def _request_of(session: Session, subject: str | None) -> Promotion | None:
    match = re.fullmatch(r"PR-(\d{1,18})", subject or "")
    return session.get(Promotion, int(match.group(1))) if match else None


def claim(db: Database, holder: str, now: datetime, until: datetime, limit: int = 50) -> list[Notice]:
    """Take up to limit due notices (oldest first) for holder until until."""

    free = or_(OutboxNotice.claimed_until.is_(None), OutboxNotice.claimed_until <= now)
    due = (
        OutboxNotice.status == NoticeStatus.PENDING.value,
        OutboxNotice.next_attempt_at <= now,
        free,
    )
    # a look first, without the write lock: an idle sender polls often
    if db.read(lambda session: session.execute(select(OutboxNotice.id).where(*due).limit(1)).first()) is None:
        return []

    def write(session: Session) -> list[Notice]:
        ids = list(
            session.execute(
                select(OutboxNotice.id).where(*due).order_by(OutboxNotice.id).limit(limit)
            ).scalars()
        )
        if not ids:
            return []
        session.execute(
            update(OutboxNotice)
            .where(OutboxNotice.id.in_(ids), *due)
            .values(claimed_by=holder, claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(
            select(OutboxNotice)
            .where(OutboxNotice.id.in_(ids), OutboxNotice.claimed_by == holder)
            .order_by(OutboxNotice.id)
            .execution_options(populate_existing=True)
        ).scalars()
        return [_record(row) for row in rows]

    return db.run(write)


def settle(db: Database, holder: str, outcomes: Sequence[Outcome], now: datetime) -> int:
    """Record what the deliveries of holder's claimed notices came to, in one transaction.

    Returns:
        How many were recorded (a notice whose claim holder lost to another sender is left alone).
    """

    def write(session: Session) -> int:
        mine = (OutboxNotice.claimed_by == holder, OutboxNotice.status == NoticeStatus.PENDING.value)
        released = {"attempts": OutboxNotice.attempts + 1, "claimed_by": None, "claimed_until": None}
        count = 0
        sent: dict[tuple[str, ...], list[int]] = {}
        for outcome in outcomes:
            if outcome.done:  # the common case: one update for all sent to the same sinks
                sent.setdefault(outcome.delivered, []).append(outcome.id)
                continue
            values: dict[str, Any] = {
                **released,
                "delivered": list(outcome.delivered),
                "last_error": (outcome.error or "")[:ERROR_LIMIT] or None,
            }
            if outcome.give_up:
                values["status"] = NoticeStatus.FAILED.value
            else:
                values["next_attempt_at"] = outcome.retry_at or now
            count += _update(session, (OutboxNotice.id == outcome.id, *mine), values)
        for delivered, ids in sent.items():
            values = {
                **released,
                "delivered": list(delivered),
                "status": NoticeStatus.SENT.value,
                "sent_at": now,
                "last_error": None,
            }
            count += _update(session, (OutboxNotice.id.in_(ids), *mine), values)
        return count

    return db.run(write)


def _update(session: Session, where: tuple[Any, ...], values: dict[str, Any]) -> int:
    statement = update(OutboxNotice).where(*where).values(**values)
    result = cast(CursorResult[Any], session.execute(statement.execution_options(synchronize_session=False)))
    return result.rowcount


def release(db: Database, holder: str, ids: Collection[int]) -> None:
    """Give claimed notices back untouched (a sender stopping before it tried them)."""
    if not ids:
        return
    db.run(
        lambda session: session.execute(
            update(OutboxNotice)
            .where(OutboxNotice.id.in_(list(ids)), OutboxNotice.claimed_by == holder)
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
    )


def notices_in(
    db: Database, statuses: Collection[NoticeStatus] = (), environment: str | None = None, limit: int = 100
) -> list[Notice]:
    """Notices, newest first, optionally only those in statuses or of environment."""

    def query(session: Session) -> list[Notice]:
        stmt = select(OutboxNotice).order_by(OutboxNotice.id.desc()).limit(limit)
        if statuses:
            stmt = stmt.where(OutboxNotice.status.in_([s.value for s in statuses]))
        if environment is not None:
            stmt = stmt.where(OutboxNotice.environment == environment)
        return [_record(row) for row in session.execute(stmt).scalars()]

    return db.read(query)


def counts(db: Database) -> Counts:
    """How many notices are pending, sent and failed."""

    return db.read(lambda session: Counts({NoticeStatus(k): v for k, v in status_counts(session).items()}))


def status_counts(session: Session) -> dict[str, int]:
    """How many notices are in each status (by its name), inside the caller's transaction."""
    rows = session.execute(select(OutboxNotice.status, func.count()).group_by(OutboxNotice.status))
    return {str(status): int(count) for status, count in rows}


def oldest_pending(session: Session) -> datetime | None:
    """When the oldest notice not yet delivered (pending) was written, or None when none is."""
    oldest = session.execute(
        select(func.min(OutboxNotice.created_at)).where(OutboxNotice.status == NoticeStatus.PENDING.value)
    ).scalar()
    return _utc(oldest) if oldest is not None else None


def _record(row: OutboxNotice) -> Notice:
    return Notice(
        id=row.id,
        key=row.key,
        topic=Topic(row.topic),
        environment=row.environment,
        subject=row.subject,
        actor=row.actor,
        facts=dict(row.facts or {}),
        created_at=_utc(row.created_at),
        status=NoticeStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=_utc(row.next_attempt_at),
        delivered=tuple(str(name) for name in row.delivered or ()),
        last_error=row.last_error,
        sent_at=_utc(row.sent_at) if row.sent_at else None,
    )


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; lamina stores UTC
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Mailbox:
    """The outbox of one database, as a sender sees it (``notify.sending.Mailbox``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, holder: str, now: datetime, until: datetime, limit: int) -> list[Notice]:
        """Take up to limit due notices for holder until until."""
        return claim(self.db, holder, now, until, limit)

    def settle(self, holder: str, outcomes: Sequence[Outcome], now: datetime) -> int:
        """Record what holder's deliveries came to."""
        return settle(self.db, holder, outcomes, now)

    def release(self, holder: str, ids: Collection[int]) -> None:
        """Give claimed notices back untouched."""
        release(self.db, holder, ids)
