"""``lamina history``: what an environment ran and how it got there, and the DORA figures.

History merges three records, newest first: pin changes (git's history of lamina.lock),
promotion requests (the state database) and applies (the state database). ``--stats`` derives
the four DORA figures from lamina's own records only:

- deployment frequency: promotions (any kind) that reached ``promoted``, per environment,
  and per week over the last ``window`` days;
- lead time for changes: for promotions into a production-stage environment, from the
  commit time of the promoted revision to the promotion (median and samples);
- change failure rate: (rollbacks + emergencies + promotions whose verification failed) / all
  promotions that reached ``promoted`` (verified or not);
- time to restore: for promoted rollbacks, from the rollback request to its promotion (median).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lamina.core.states import PromotionStatus
from lamina.fleet import lockfile
from lamina.promote import backfill, commits, requests
from lamina.resolve.repository import Repository
from lamina.store import applies
from lamina.store import promotions as store
from lamina.store.database import Database


@dataclass(frozen=True)
class Event:
    """One row of ``lamina history`` (the SPEC ``history`` JSON shape)."""

    time: datetime
    kind: str  # pin, promotion, apply, rollback, emergency
    environment: str
    revision: str | None
    actor: str | None
    request: str | None
    detail: str
    forced: bool = False
    """An apply shipped with ``--force`` past a refusal (its detail says what it overrode)."""

    def to_json(self) -> dict[str, Any]:
        """``{"time", "kind", "environment", "revision", "actor", "request", "detail"}``."""
        return {
            "time": _iso(self.time),
            "kind": self.kind,
            "environment": self.environment,
            "revision": self.revision,
            "actor": self.actor,
            "request": self.request,
            "detail": self.detail,
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def events(repo: Repository, db: Database, environment: str, now: datetime) -> list[Event]:
    """Pins, promotions and applies of environment, newest first."""
    environment = repo.fleet.environment(environment).name
    found = [*_pin_events(repo, environment), *_request_events(repo, db, environment, now)]
    for row in applies.applies_of(db, environment):
        found.append(
            Event(
                row.at,
                "apply",
                environment,
                row.base_revision or row.revision,
                row.actor,
                None,
                f"{row.cluster}: {row.result} {row.config_hash[:12]}"
                + (f" FORCED ({row.reason})" if row.forced else ""),
                forced=bool(row.forced),
            )
        )
    return sorted(found, key=lambda e: e.time, reverse=True)


def _pin_events(repo: Repository, environment: str) -> list[Event]:
    if repo.git is None:
        return []
    history = commits.lock_history(repo.git)
    found = []
    # walk oldest first so each change is compared with the state before it
    previous: str | None = None
    for commit, time, author, subject in reversed(history):
        raw = commits.lock_at(repo.git, commit)
        pins = lockfile.parse_pins(raw, None) if raw is not None else {}
        pin = pins.get(environment)
        revision = pin.revision if pin else None
        if revision != previous and revision is not None:
            found.append(
                Event(time, "pin", environment, revision, author, pin.request if pin else None, subject)
            )
        previous = revision
    return found


def _request_events(repo: Repository, db: Database, environment: str, now: datetime) -> list[Event]:
    records = store.list_requests(db, target=environment)
    states = backfill.refresh(repo, db, records, now)
    found = []
    for record in records:
        kind = "emergency" if record.emergency else record.kind
        origin = f"from {record.source} " if record.source else ""
        detail = f"{record.status}: {origin}to {record.revision[:12]}"
        if record.reason:
            detail += f" - {record.reason}"
        if record.id in states:
            detail += f" (backfill {states[record.id]})"
        found.append(
            Event(
                record.updated_at,
                kind,
                environment,
                record.revision,
                record.requested_by,
                requests.format_id(record.id),
                detail,
            )
        )
    return found


def stats(
    repo: Repository, db: Database, now: datetime, environments: Sequence[str] = (), window_days: int = 30
) -> dict[str, Any]:
    """The four DORA figures from lamina's records (see the module docstring)."""
    fleet = repo.fleet
    wanted = [fleet.environment(e).name for e in environments] or list(fleet.ordered_environments())
    promoted = [
        r for r in store.list_requests(db, statuses=PromotionStatus.landed_statuses()) if r.target in wanted
    ]
    since = now - timedelta(days=window_days)
    frequency = {}
    for env in wanted:
        mine = [r for r in promoted if r.target == env]
        recent = [r for r in mine if r.updated_at >= since]
        frequency[env] = {
            "promotions": len(mine),
            "last_window": len(recent),
            "per_week": round(len(recent) / (window_days / 7), 2),
        }
    production = [e for e in wanted if fleet.environment(e).stage == "production"] or wanted[-1:]
    leads = []
    if repo.git is not None:
        for record in promoted:
            if record.target in production and record.kind == "promotion":
                start = commits.commit_time(repo.git, record.revision)
                leads.append((record.updated_at - start).total_seconds() / 3600)
    failures = [
        r
        for r in promoted
        if r.kind == "rollback" or r.emergency or r.status is PromotionStatus.VERIFICATION_FAILED
    ]
    restores = [
        (r.updated_at - r.requested_at).total_seconds() / 3600 for r in promoted if r.kind == "rollback"
    ]
    return {
        "window_days": window_days,
        "deployment_frequency": frequency,
        "lead_time_hours": _summary(leads),
        "change_failure_rate": {
            "failures": len(failures),
            "promotions": len(promoted),
            "rate": round(len(failures) / len(promoted), 4) if promoted else None,
        },
        "time_to_restore_hours": _summary(restores),
    }


def _summary(samples: list[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(samples), 3) if samples else None,
        "samples": len(samples),
    }
