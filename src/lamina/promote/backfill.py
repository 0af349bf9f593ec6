"""The backfill obligation an emergency promotion opens.

An emergency may skip the promotion path; the environments it skipped must catch up. The
obligation is ``done`` once every upstream environment of the target (its upstream, that one's
upstream, ...) runs the emergency's revision or a newer one (``git merge-base --is-ancestor``),
``open`` until then, and ``overdue`` after ``[promotion] backfill_deadline`` (default 24 h).
"""

from __future__ import annotations

from datetime import datetime

from lamina.core.notices import Draft, Topic
from lamina.core.states import PromotionStatus
from lamina.errors import LaminaError
from lamina.fleet.model import Fleet
from lamina.promote import commits, requests
from lamina.resolve.repository import Repository
from lamina.store import outbox
from lamina.store import promotions as store
from lamina.store.database import Database
from lamina.store.promotions import PromotionRecord

DONE = "done"
OPEN = "open"
OVERDUE = "overdue"


def upstreams(fleet: Fleet, environment: str) -> list[str]:
    """Every environment a change passes before environment, nearest first."""
    chain: list[str] = []
    current = fleet.environment(environment).upstream
    while current is not None and current not in chain:
        chain.append(current)
        current = fleet.environment(current).upstream
    return chain


def lagging(repo: Repository, record: PromotionRecord) -> list[str]:
    """The upstream environments that do not yet run record's revision or a newer one."""
    git = requests.require_git(repo)
    behind = []
    for env in upstreams(repo.fleet, record.target):
        runs = requests.source_revision(repo, env)
        if not commits.is_ancestor(git, record.revision, runs):
            behind.append(env)
    return behind


def status(repo: Repository, record: PromotionRecord, now: datetime) -> str | None:
    """``done``, ``open`` or ``overdue`` for a promoted emergency; None for anything else."""
    if not record.emergency or not record.status.landed:
        return None
    if record.backfill_done_at is not None or not lagging(repo, record):
        return DONE
    if record.backfill_due is not None and now > record.backfill_due:
        return OVERDUE
    return OPEN


def refresh(repo: Repository, db: Database, records: list[PromotionRecord], now: datetime) -> dict[int, str]:
    """The backfill status of each promoted emergency in records; records a newly met one (audited)."""
    found: dict[int, str] = {}
    for record in records:
        state = status(repo, record, now)
        if state is None:
            continue
        if state == DONE and record.backfill_done_at is None:
            store.mark_backfill_done(db, record.id, at=now, actor="lamina")
        found[record.id] = state
    return found


def notify_overdue(repo: Repository, db: Database, now: datetime) -> list[int]:
    """Write a ``backfill-overdue`` notice (once each) for every promoted emergency whose
    backfill is overdue; returns their ids. The server's scheduler calls this on every check."""
    told = []
    for record in store.list_requests(db, PromotionStatus.landed_statuses()):
        if not record.emergency or record.backfill_done_at is not None or record.backfill_due is None:
            continue
        key = f"backfill-overdue/PR-{record.id}"
        if now <= record.backfill_due or outbox.known(db, key):
            continue
        try:
            behind = lagging(repo, record)
        except LaminaError:
            continue  # git could not say; the next check asks again
        if not behind:
            continue
        draft = Draft(
            key=key,
            topic=Topic.BACKFILL_OVERDUE,
            environment=record.target,
            subject=requests.format_id(record.id),
            facts={"revision": record.revision, "due": record.backfill_due.isoformat(), "behind": behind},
        )
        if db.run(lambda session, d=draft: outbox.add(session, d, now)):  # type: ignore[misc]
            told.append(record.id)
    return told
