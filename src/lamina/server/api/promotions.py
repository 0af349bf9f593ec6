"""Promotion requests over the API: list, show, request (a promotion, a change, a rollback),
approve, reject, apply.

The same use cases as ``lamina promote``: this module parses, asks
:mod:`lamina.server.auth` whether the caller may, calls the library and returns its JSON.
Reading needs any role, requesting the editor role, deciding and applying the role
``approver:<target>``; which environment that is, only the stored request knows, so those
routes look the request up first and then ask :func:`lamina.server.auth.authorize`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from lamina.errors import InputError
from lamina.promote import backfill, requests
from lamina.server import actions, api, auth, context
from lamina.server.guards import plain_name
from lamina.store import promotions as store

router = APIRouter(prefix=f"{api.PREFIX}/promotions", dependencies=[Depends(auth.identity)])


class PromotionRequest(BaseModel):
    """A request to move target's pin to what source runs."""

    source: str = Field(max_length=63)
    target: str = Field(max_length=63)
    reason: str | None = Field(default=None, max_length=2000)
    emergency: bool = False


class ChangeRequest(BaseModel):
    """A request that environment's configs as committed (HEAD) may ship."""

    environment: str = Field(max_length=63)
    reason: str | None = Field(default=None, max_length=2000)


class RollbackRequest(BaseModel):
    """A request to move environment's pin back to an older revision."""

    environment: str = Field(max_length=63)
    to: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._/~^-]+$")
    reason: str | None = Field(default=None, max_length=2000)


class Decision(BaseModel):
    """An approval or rejection, with an optional comment."""

    comment: str | None = Field(default=None, max_length=2000)


def _id(text: str) -> int:
    """The request number of ``7`` or ``PR-7``; 400 otherwise."""
    try:
        return requests.parse_id(text)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("")
def list_promotions(
    shared: context.Shared, _who: auth.Reader, status: Annotated[list[str] | None, Query()] = None
) -> list[dict[str, Any]]:
    """Promotion requests, newest first (``lamina promote list --json``)."""
    known = {s.value for s in requests.Status}
    for value in status or []:
        if value not in known:
            raise HTTPException(400, f"unknown status {value!r}")
    records = store.list_requests(shared.database, statuses=[requests.Status(s) for s in status or ()])
    with shared.repository() as repo:
        states = backfill.refresh(repo, shared.database, records, shared.clock()) if records else {}
    return [requests.to_json(r, states.get(r.id)) for r in records]


@router.get("/{request_id}")
def show_promotion(shared: context.Shared, request_id: str, _who: auth.Reader) -> dict[str, Any]:
    """One request (``lamina promote show --json``)."""
    record = store.get_request(shared.database, _id(request_id))
    with shared.repository() as repo:
        states = backfill.refresh(repo, shared.database, [record], shared.clock()) if record.emergency else {}
    return requests.to_json(record, states.get(record.id))


@router.post("", status_code=201)
def request_promotion(
    shared: context.Shared, body: Annotated[PromotionRequest, Body()], who: auth.Editor
) -> dict[str, Any]:
    """Request a promotion and run its gates; a failed gate shows as status ``failed``."""
    record = actions.request_promotion(
        shared,
        who,
        source=plain_name(body.source),
        target=plain_name(body.target),
        reason=body.reason,
        emergency=body.emergency,
    )
    return requests.to_json(record)


@router.post("/changes", status_code=201)
def request_change(
    shared: context.Shared, body: Annotated[ChangeRequest, Body()], who: auth.Editor
) -> dict[str, Any]:
    """Request that an environment's configs as committed may ship (``lamina change request``)."""
    record = actions.request_change(shared, who, environment=plain_name(body.environment), reason=body.reason)
    return requests.to_json(record)


@router.post("/rollbacks", status_code=201)
def request_rollback(
    shared: context.Shared, body: Annotated[RollbackRequest, Body()], who: auth.Editor
) -> dict[str, Any]:
    """Request moving an environment's pin back to an older revision (``lamina promote rollback``)."""
    record = actions.request_rollback(
        shared, who, environment=plain_name(body.environment), to=body.to, reason=body.reason
    )
    return requests.to_json(record)


@router.post("/{request_id}/approve")
def approve(
    shared: context.Shared, request_id: str, who: auth.Authenticated, body: Decision | None = None
) -> dict[str, Any]:
    """Approve (not your own request; approver:<target> or admin)."""
    comment = body.comment if body else None
    return requests.to_json(actions.decide(shared, who, _id(request_id), approve=True, comment=comment))


@router.post("/{request_id}/reject")
def reject(
    shared: context.Shared, request_id: str, who: auth.Authenticated, body: Decision | None = None
) -> dict[str, Any]:
    """Reject (approver:<target> or admin)."""
    comment = body.comment if body else None
    return requests.to_json(actions.decide(shared, who, _id(request_id), approve=False, comment=comment))


@router.post("/{request_id}/apply")
def apply(shared: context.Shared, request_id: str, who: auth.Authenticated) -> dict[str, Any]:
    """Commit the approved request's pin, or let a change request's configs ship
    (approver:<target> or admin)."""
    return requests.to_json(actions.apply_request(shared, who, _id(request_id)))
