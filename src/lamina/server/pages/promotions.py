"""The promotion queue: every request with its gates and decisions, and approve and reject
buttons for those who may decide.

Whether someone may decide is asked before the buttons are shown
(:func:`decision_rights`, which asks :func:`lamina.server.auth.authorize_decision`) and
again when the form comes back: the CSRF token first, then the same question, then the
library's own checks inside the transaction that records the decision.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response

from lamina.errors import LaminaError, RuleRefused
from lamina.fleet.model import Fleet
from lamina.promote import approvals, backfill, requests
from lamina.server import auth, context
from lamina.server.pages import actions as page_actions
from lamina.server.pages import rendering
from lamina.server.tokens import Identity
from lamina.store import promotions as store
from lamina.store.promotions import PromotionRecord

MAX_ID = requests.MAX_ID
SHOWN = 100
"""The newest requests the page lists."""

router = APIRouter(include_in_schema=False, dependencies=[Depends(auth.page_viewer)])


def decision_rights(who: Identity, record: PromotionRecord, fleet: Fleet) -> tuple[bool, str | None]:
    """Whether who may approve or reject record now, and if not, why (None: nothing to decide)."""
    if record.status != requests.Status.TESTING:
        return False, None
    if any(d.actor == who.user for d in record.decisions):
        return False, f"You already decided on {requests.format_id(record.id)}."
    try:
        auth.authorize_decision(who, record, fleet)
    except RuleRefused as exc:
        return False, str(exc)
    return True, None


def plan_summary(record: PromotionRecord) -> list[dict[str, Any]]:
    """The stored plan of a request, per target: the keys it changes and the flags it raised
    (paths and names only: values stay on the target's page, masked)."""
    stored = record.plan or {}
    found = []
    for item in stored.get("targets", []):
        keys = [change.get("path", "") for change in item.get("changes", [])]
        found.append(
            {
                "target": item.get("target", ""),
                "status": item.get("status", ""),
                "paths": keys,
                "flags": list(item.get("flags", [])),
            }
        )
    return found


def _queue_page(
    request: Request, who: Identity, message: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    """The promotions page, with a notice (message) or what went wrong (error)."""
    shared = context.of(request)
    token = auth.presented_token(request)
    moment = shared.clock()
    cards: list[dict[str, Any]] = []
    try:
        with shared.repository() as repo:
            for record in store.list_requests(shared.database)[:SHOWN]:
                allowed, why = decision_rights(who, record, repo.fleet)
                state = backfill.status(repo, record, moment) if repo.git is not None else None
                lagging = backfill.lagging(repo, record) if state in (backfill.OPEN, backfill.OVERDUE) else []
                may_apply = record.status == requests.Status.APPROVED and auth.allows(
                    who, auth.Permission.APPLY, record.target
                )
                cards.append(
                    {
                        "record": record,
                        "plan": plan_summary(record),
                        "may_apply": may_apply,
                        "apply_csrf": rendering.csrf_token(token, f"apply:{record.id}")
                        if may_apply
                        else None,
                        "name": requests.format_id(record.id),
                        "required": approvals.required_approvals(record, repo.fleet),
                        "allowed": allowed,
                        "why": why,
                        "backfill": state,
                        "lagging": lagging,
                        "csrf": rendering.csrf_token(token, f"decide:{record.id}") if allowed else None,
                    }
                )
            environments = list(repo.fleet.ordered_environments())
    except LaminaError as exc:
        return rendering.failure(request, who, str(exc), exc.http_status)
    is_open = {str(s) for s in rendering.OPEN_STATUSES}
    data = {
        "title": "Promotions",
        "open": [c for c in cards if c["record"].status in is_open],
        "closed": [c for c in cards if c["record"].status not in is_open],
        "message": message,
        "error": error,
        "environments": environments,
        "freezes": [f for f in store.freezes(shared.database) if store.utc(f.until) > moment],
        "can": page_actions.rights(who, environments),
        "forms": page_actions.csrf_tokens(request),
    }
    return rendering.page(request, who, "promotions.html", data, status)


@router.get("/promotions")
def promotions(
    request: Request,
    shared: context.Shared,
    who: auth.Viewer,
    decided: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The queue; after a decision (decided=ID), a notice of what the reader's decision did."""
    message = None
    if decided is not None:
        try:
            record = store.get_request(shared.database, decided)
        except LaminaError:
            record = None
        mine = [d for d in record.decisions if d.actor == who.user] if record else []
        if record is not None and mine:
            verb = "approval" if mine[-1].decision == "approve" else "rejection"
            message = (
                f"Your {verb} of {requests.format_id(record.id)} is recorded; it is now {record.status}."
            )
    return _queue_page(request, who, message)


def _decide(
    request: Request, who: Identity, request_id: int, approve: bool, csrf: str, comment: str
) -> Response:
    """Record an approval or a rejection from the page's form, then show the queue again."""
    refused = rendering.refuse_forgery(request, who, f"decide:{request_id}", csrf)
    if refused is not None:
        return refused
    shared = context.of(request)
    try:
        record = store.get_request(shared.database, request_id)
        with shared.repository() as repo:
            auth.authorize_decision(who, record, repo.fleet)
            approvals.decide(
                repo,
                shared.database,
                request_id,
                actor=who.actor(),
                approve=approve,
                now=shared.clock(),
                comment=comment.strip() or None,
            )
    except LaminaError as exc:
        return _queue_page(request, who, error=str(exc), status=exc.http_status)
    return RedirectResponse(f"/promotions?decided={request_id}#PR-{request_id}", 303)


@router.post("/promotions/{request_id}/approve")
def approve(
    request: Request,
    request_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    who: auth.Viewer,
    csrf: Annotated[str, Form(max_length=200)] = "",
    comment: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Approve from the queue's form (CSRF token required)."""
    return _decide(request, who, request_id, True, csrf, comment)


@router.post("/promotions/{request_id}/reject")
def reject(
    request: Request,
    request_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    who: auth.Viewer,
    csrf: Annotated[str, Form(max_length=200)] = "",
    comment: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Reject from the queue's form (CSRF token required)."""
    return _decide(request, who, request_id, False, csrf, comment)
