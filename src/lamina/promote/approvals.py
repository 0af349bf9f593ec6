"""Approving and rejecting a request: the use case behind ``promote approve|reject``, the API
and the dashboard.

Who may decide is :func:`lamina.guard.rules.authorize` (roles, a proven identity on protected
environments, no self-approval, ``[promotion.approvers]``), asked before the decision and again
inside its transaction. A request needs ``[promotion] required_approvals`` approvals (default
1); an emergency needs at least two, and since the requester cannot approve, those are two
people other than the requester.
"""

from __future__ import annotations

from datetime import datetime

from lamina.core.states import Decision, PromotionStatus
from lamina.fleet.model import Fleet
from lamina.guard import rules
from lamina.guard.actors import Actor
from lamina.promote import requests
from lamina.resolve.repository import Repository
from lamina.store import promotions as store
from lamina.store.database import Database
from lamina.store.promotions import PromotionRecord


def _checked(permit: rules.Permit) -> None:
    del permit  # the decision is allowed; the transaction goes on


def required_approvals(request: PromotionRecord, fleet: Fleet) -> int:
    """How many approvals request needs."""
    return fleet.settings.promotion.required(request.target, request.emergency)


def decide(
    repo: Repository,
    db: Database,
    request_id: int,
    *,
    actor: Actor,
    approve: bool,
    now: datetime,
    comment: str | None = None,
) -> PromotionRecord:
    """Approve or reject a request; the request becomes approved or rejected when this decides it.

    An approval binds to the recorded hashes, so a request whose target changed since it was
    made becomes stale instead of collecting the approval.

    Raises:
        RuleRefused: a rule of :func:`lamina.guard.rules.authorize`, a request in the wrong
            status, a second decision by the same person, or a stale request.
    """
    record = store.get_request(db, request_id)
    fleet = repo.fleet

    def allowed(fresh: PromotionRecord, who: Actor = actor) -> rules.Permit:
        intent = rules.Intent(rules.Action.DECIDE, (fresh.target,), request=fresh, approve=approve)
        return rules.authorize(who, intent, fleet=fleet, db=None, now=now, root=repo.root)

    actor = allowed(record).actor  # proven by a signature, if the decision needed one
    if approve and record.status == PromotionStatus.TESTING:
        requests.refuse_if_stale(repo, db, record, actor, now)
    return store.decide(
        db,
        request_id,
        actor=actor.name,
        decision=Decision.APPROVE if approve else Decision.REJECT,
        at=now,
        comment=comment,
        allowed=lambda fresh: _checked(allowed(fresh, actor)),
        required=lambda fresh: required_approvals(fresh, fleet),
        action_prefix=requests.action_prefix(record),
        identity=actor.audit_detail(),
    )
