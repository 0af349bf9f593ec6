"""Leases: which server replica runs a scheduled job, and until when nobody else may.

A lease is one row (``leases``: name, holder, expires_at), taken with one conditional update
— ``UPDATE leases SET holder=?, expires_at=? WHERE name=? AND (expires_at < now OR holder=?)``
— so of several replicas asking at once exactly one gets it; the first ever taker inserts
the row, and a second inserter loses on the primary key. The expiry is the only clock: a
replica that dies lets its lease run out and another takes over.

Times are the callers' (UTC); replicas are expected to keep their clocks in sync (NTP), to
well within a job's interval.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lamina.store.models import Lease


def acquire(session: Session, name: str, holder: str, now: datetime, until: datetime) -> bool:
    """Take (or renew) the lease name for holder until until; False when someone else holds it."""
    statement = (
        update(Lease)
        .where(Lease.name == name, or_(Lease.expires_at < now, Lease.holder == holder))
        .values(holder=holder, expires_at=until)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], session.execute(statement))
    if result.rowcount == 1:
        return True
    if session.get(Lease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Lease(name=name, holder=holder, expires_at=until))
    except IntegrityError:
        return False  # another replica inserted it first
    return True


def holder(session: Session, name: str, now: datetime) -> str | None:
    """Who holds the lease name now, or None."""
    row = session.get(Lease, name)
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    return row.holder if expires >= now else None
