"""Promotion requests over the API: list, show, request, approve, reject, apply.

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

from lamina.clusters import connection, secrets
from lamina.errors import InputError
from lamina.promote import applying, approvals, backfill, requests
from lamina.server import api, auth, context
from lamina.server.guards import plain_name
from lamina.server.tokens import Identity
from lamina.store import promotions as store

router = APIRouter(prefix=f"{api.PREFIX}/promotions", dependencies=[Depends(auth.identity)])


class PromotionRequest(BaseModel):
    """A request to move target's pin to what source runs."""

    source: str = Field(max_length=63)
    target: str = Field(max_length=63)
    reason: str | None = Field(default=None, max_length=2000)
    emergency: bool = False


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
    environ = shared.settings.environ
    with shared.repository() as repo:
        kube = connection.KubeSettings.from_environment(environ, repo.root, repo.fleet.settings.apply)
        with secrets.Lookups.from_environment(environ, kube) as lookups:
            record = requests.request(
                repo,
                shared.database,
                source=plain_name(body.source),
                target=plain_name(body.target),
                actor=who.actor(),
                now=shared.clock,
                reason=body.reason,
                emergency=body.emergency,
                lookups=lookups,
            )
    return requests.to_json(record)


def _decide(
    shared: context.Context, request_id: str, who: Identity, approve: bool, comment: str | None
) -> dict[str, Any]:
    record = store.get_request(shared.database, _id(request_id))
    with shared.repository() as repo:
        auth.authorize_decision(who, record, repo.fleet)
        decided = approvals.decide(
            repo,
            shared.database,
            record.id,
            actor=who.actor(),
            approve=approve,
            now=shared.clock(),
            comment=comment,
        )
    return requests.to_json(decided)


@router.post("/{request_id}/approve")
def approve(
    shared: context.Shared, request_id: str, who: auth.Authenticated, body: Decision | None = None
) -> dict[str, Any]:
    """Approve (not your own request; approver:<target> or admin)."""
    return _decide(shared, request_id, who, True, body.comment if body else None)


@router.post("/{request_id}/reject")
def reject(
    shared: context.Shared, request_id: str, who: auth.Authenticated, body: Decision | None = None
) -> dict[str, Any]:
    """Reject (approver:<target> or admin)."""
    return _decide(shared, request_id, who, False, body.comment if body else None)


@router.post("/{request_id}/apply")
def apply(shared: context.Shared, request_id: str, who: auth.Authenticated) -> dict[str, Any]:
    """Commit the approved request's pin (approver:<target> or admin)."""
    record = store.get_request(shared.database, _id(request_id))
    auth.authorize(who, auth.Permission.APPLY, record.target)
    with shared.repository() as repo:
        applied = applying.apply(repo, shared.database, record.id, actor=who.actor(), now=shared.clock())
    return requests.to_json(applied)
