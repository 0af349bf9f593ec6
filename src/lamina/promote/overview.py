"""``lamina status``: one look at the fleet: the promotion path with pins and how far each
environment is behind its upstream, drift per environment, requests awaiting the person asking,
open backfills and active freezes."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from lamina.core.states import PromotionStatus
from lamina.errors import LaminaError
from lamina.guard import freezes, rules
from lamina.guard.actors import Actor
from lamina.promote import backfill, requests
from lamina.resolve.repository import Repository
from lamina.source.trees import run_git
from lamina.store import drift as drift_store
from lamina.store import promotions as store
from lamina.store import rollouts as rollout_store
from lamina.store.database import Database

AWAITING = (PromotionStatus.PENDING, PromotionStatus.TESTING)
"""The statuses in which a request waits for approvals."""


def status(repo: Repository, db: Database, actor: Actor, now: datetime) -> dict[str, Any]:
    """Everything ``lamina status --json`` prints (times as ISO 8601 UTC)."""
    fleet = repo.fleet
    drifted: dict[str, Counter[str]] = {}
    for row in db.read(lambda s: list(drift_store.latest(s).values())):
        drifted.setdefault(row.environment, Counter())[row.status] += 1
    environments = []
    for name in fleet.ordered_environments():
        env = fleet.environments[name]
        frozen = freezes.active_freeze(fleet.settings.promotion.freezes, db, name, now)
        environments.append(
            {
                "name": name,
                "upstream": env.upstream,
                "pin": repo.pins[name].revision if name in repo.pins else None,
                "behind": _behind(repo, name, env.upstream),
                "drift": dict(sorted(drifted.get(name, Counter()).items())),
                "frozen": None
                if frozen is None
                else {"until": _iso(frozen.until), "reason": frozen.reason, "by": frozen.by},
            }
        )
    records = store.list_requests(db, [status for status in PromotionStatus if status.is_open])
    promoted = store.list_requests(db, [PromotionStatus.PROMOTED])
    backfills = []
    for record in promoted:
        state = backfill.status(repo, record, now)
        if state in (backfill.OPEN, backfill.OVERDUE):
            backfills.append(
                {
                    "id": requests.format_id(record.id),
                    "target": record.target,
                    "state": state,
                    "lagging": backfill.lagging(repo, record),
                    "due": _iso(record.backfill_due) if record.backfill_due else None,
                }
            )
    return {
        "user": actor.name,
        "environments": environments,
        "awaiting_you": [_request(r) for r in records if _awaits(repo, r, actor, now)],
        "open_requests": len(records),
        "open_backfills": backfills,
        "rollouts": [
            {
                "id": record.id,
                "environment": record.environment,
                "status": record.status.value,
                "step": min(record.step + 1, record.steps),
                "steps": record.steps,
                "phase": record.phase.value,
                "reason": record.reason,
                "since": _iso(record.updated_at),
            }
            for record in rollout_store.list_rollouts(db)
            if not record.status.is_terminal
        ],
    }


def _behind(repo: Repository, environment: str, upstream: str | None) -> int | None:
    """Commits the upstream runs that environment does not (None: no upstream or no git)."""
    if upstream is None or repo.git is None:
        return None
    try:
        mine = requests.source_revision(repo, environment)
        theirs = requests.source_revision(repo, upstream)
    except (AssertionError, LaminaError):
        return None
    done = run_git(repo.git.toplevel, "rev-list", "--count", f"{mine}..{theirs}")
    return int(done.strip())


def _awaits(repo: Repository, record: store.PromotionRecord, actor: Actor, now: datetime) -> bool:
    """The request waits for approvals and actor may give one and has not decided it yet."""
    if record.status not in AWAITING or any(d.actor == actor.name for d in record.decisions):
        return False
    intent = rules.Intent(rules.Action.DECIDE, (record.target,), request=record, approve=True)
    try:
        rules.authorize(actor, intent, fleet=repo.fleet, db=None, now=now, root=repo.root)
    except LaminaError:
        return False
    return True


def _request(record: store.PromotionRecord) -> dict[str, Any]:
    return {
        "id": requests.format_id(record.id),
        "kind": record.kind.value,
        "source": record.source,
        "target": record.target,
        "status": record.status.value,
        "emergency": record.emergency,
        "requested_by": record.requested_by,
        "requested_at": _iso(record.requested_at),
        "reason": record.reason,
    }


def _iso(moment: datetime) -> str:
    return store.utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
