"""The audit log: append-only and hash-chained.

Each row carries the hash of the row before it and a hash over its own fields and that
previous hash, so editing, removing or reordering any row breaks the chain from there on,
and ``lamina audit --verify`` names the first row that no longer fits. A record worth a notice
writes it to the outbox (``store/outbox.py``) in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, select, text
from sqlalchemy.orm import Session

from lamina.store import outbox
from lamina.store.database import Database
from lamina.store.models import AuditRecord

GENESIS = "0" * 64


def timestamp(moment: datetime) -> str:
    """UTC, microseconds, ``Z``: the same text whether the database kept the zone or not."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    environment: str | None,
    subject: str | None,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    """The hash of one row's content and the previous row's hash."""
    body = {
        "seq": seq,
        "at": timestamp(at),
        "actor": actor,
        "action": action,
        "environment": environment,
        "subject": subject,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    at: datetime,
    environment: str | None = None,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Add a row at the end of the chain, inside the caller's transaction.

    The caller's action and this record commit together or not at all: an action whose
    audit record cannot be written does not happen.
    """
    if session.get_bind().dialect.name == "postgresql":
        # serialise appends across connections; SQLite's BEGIN IMMEDIATE already does
        session.execute(text("SELECT pg_advisory_xact_lock(7412032)"))
    # the chain's end by number and hash alone: a row tampered with elsewhere cannot stop an append
    last = session.execute(
        select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
    ).first()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    body = dict(detail or {})
    row = AuditRecord(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        environment=environment,
        subject=subject,
        detail=body,
        prev_hash=prev,
        hash=record_hash(seq, at, actor, action, environment, subject, body, prev),
    )
    session.add(row)
    session.flush()
    outbox.from_audit(session, row)  # the event's notice commits with it, or neither does
    return row


def record(
    db: Database,
    *,
    actor: str,
    action: str,
    at: datetime,
    environment: str | None = None,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one row in a transaction of its own (a refused action leaves only this behind)."""
    db.run(
        lambda session: append(
            session,
            actor=actor,
            action=action,
            at=at,
            environment=environment,
            subject=subject,
            detail=detail,
        )
    )


@dataclass(frozen=True)
class Verification:
    """The outcome of checking the chain."""

    ok: bool
    rows: int
    first_broken: int | None = None
    problem: str | None = None


def verify(session: Session) -> Verification:
    """Check every row: sequence without gaps, each prev_hash, each row's own hash."""
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    # detail comes back as the stored text: a row whose JSON was overwritten is a finding, not a crash
    query = select(
        AuditRecord.seq,
        AuditRecord.at,
        AuditRecord.actor,
        AuditRecord.action,
        AuditRecord.environment,
        AuditRecord.subject,
        cast(AuditRecord.detail, Text).label("detail"),
        AuditRecord.prev_hash,
        AuditRecord.hash,
    ).order_by(AuditRecord.seq)
    for row in session.execute(query):
        count += 1
        if row.seq != expected_seq:
            return Verification(False, count, row.seq, f"row {expected_seq} is missing")
        if row.prev_hash != expected_prev:
            return Verification(False, count, row.seq, "does not follow the row before it")
        try:
            detail: Any = json.loads(row.detail) if row.detail is not None else None
        except ValueError:
            return Verification(False, count, row.seq, "its detail is not JSON (the row was overwritten)")
        again = record_hash(
            row.seq, row.at, row.actor, row.action, row.environment, row.subject, detail, row.prev_hash
        )
        if again != row.hash:
            return Verification(False, count, row.seq, "its content was changed")
        expected_prev = row.hash
        expected_seq += 1
    return Verification(True, count)


def to_json(row: AuditRecord) -> dict[str, Any]:
    """An audit row as ``lamina audit --json`` prints it."""
    return {
        "seq": row.seq,
        "time": timestamp(row.at),
        "actor": row.actor,
        "action": row.action,
        "environment": row.environment,
        "subject": row.subject,
        "detail": row.detail,
        "hash": row.hash,
    }


def newest(
    session: Session,
    limit: int,
    *,
    environment: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
) -> list[AuditRecord]:
    """The last rows of the log, newest first, optionally only those of environment, by actor,
    of action (``freeze`` also matches ``freeze.lifted``-style sub-actions) or at since or later."""
    query = select(AuditRecord)
    if environment is not None:
        query = query.where(AuditRecord.environment == environment)
    if actor is not None:
        query = query.where(AuditRecord.actor == actor)
    if action is not None:
        pattern = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            (AuditRecord.action == action) | AuditRecord.action.like(pattern + ".%", escape="\\")
        )
    if since is not None:
        query = query.where(AuditRecord.at >= since.astimezone(UTC))
    return list(session.execute(query.order_by(AuditRecord.seq.desc()).limit(limit)).scalars())
