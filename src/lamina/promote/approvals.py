"""Who may approve or reject a request, decided in one place for the CLI and the server.

Rules: nobody decides on their own request; ``[promotion.approvers] <env> = [...]`` limits who
may decide on requests into that environment; a server caller also needs the role
``approver:<env>`` or ``admin``. A request needs ``[promotion] required_approvals`` approvals
(default 1); an emergency needs at least two, and since the requester cannot approve, those
are two people other than the requester.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from lamina.errors import RuleRefused
from lamina.fleet.model import Fleet
from lamina.promote import requests
from lamina.resolve.repository import Repository
from lamina.store import promotions as store
from lamina.store.database import Database
from lamina.store.promotions import PromotionRecord


def may_decide(
    user: str, request: PromotionRecord, fleet: Fleet, roles: Collection[str] | None = None
) -> None:
    """Return when user may approve or reject request; raise otherwise.

    Args:
        roles: the caller's server roles; None on the command line (no roles apply there).

    Raises:
        Refused: self-approval, not a listed approver, or missing role.
    """
    name = requests.format_id(request.id)
    if user == request.requested_by:
        raise RuleRefused(f"{user} requested {name} and cannot decide on it; someone else must")
    conf = fleet.settings.promotion
    allowed = conf.approvers.get(request.target)
    if allowed is not None and user not in allowed:
        raise RuleRefused(
            f"{user} may not decide on promotions into {request.target} "
            f"([promotion.approvers] {request.target} = {', '.join(allowed) or 'nobody'})",
            fleet.document.place(("promotion", "approvers", request.target)),
        )
    if roles is not None and not ({"admin", f"approver:{request.target}"} & set(roles)):
        raise RuleRefused(f"{user} lacks the role approver:{request.target} (or admin) to decide on {name}")


def required_approvals(request: PromotionRecord, fleet: Fleet) -> int:
    """How many approvals request needs."""
    return fleet.settings.promotion.required(request.target, request.emergency)


def decide(
    repo: Repository,
    db: Database,
    request_id: int,
    *,
    actor: str,
    approve: bool,
    now: datetime,
    comment: str | None = None,
    roles: Collection[str] | None = None,
) -> PromotionRecord:
    """Approve or reject a request; the request becomes approved or rejected when this decides it.

    An approval binds to the recorded hashes, so a request whose target changed since it was
    made becomes stale instead of collecting the approval.

    Raises:
        Refused: the rules above, a request in the wrong status, a second decision by the same
            person, or a stale request.
    """
    record = store.get_request(db, request_id)
    fleet = repo.fleet
    may_decide(actor, record, fleet, roles)
    if approve and record.status == requests.Status.TESTING:
        requests.refuse_if_stale(repo, db, record, actor, now)
    return store.decide(
        db,
        request_id,
        actor=actor,
        decision="approve" if approve else "reject",
        at=now,
        comment=comment,
        allowed=lambda fresh: may_decide(actor, fresh, fleet, roles),
        required=lambda fresh: required_approvals(fresh, fleet),
        action_prefix=requests.action_prefix(record),
    )
