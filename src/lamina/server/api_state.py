"""The API over lamina's state: promotions, history, drift results and drift runs.

Authorization is decided once: token roles here (editor to request or run checks,
approver:<env> or admin to decide and apply), and the promotion rules (no self-approval,
approver lists, emergencies) in lamina.promote.approvals, which the CLI uses too.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from lamina.clusters import secrets
from lamina.errors import InputError
from lamina.promote import applying, approvals, backfill, requests
from lamina.promote import history as promotion_history
from lamina.resolve.repository import Repository
from lamina.server.app import API, Context, Reader, identity
from lamina.server.guards import plain_name
from lamina.server.tokens import Identity
from lamina.store import drift as drift_store
from lamina.store import promotions as store


class PromotionRequest(BaseModel):
    """A request to move target's pin to what source runs."""

    source: str = Field(max_length=63)
    target: str = Field(max_length=63)
    reason: str | None = Field(default=None, max_length=2000)
    emergency: bool = False


class Decision(BaseModel):
    """An approval or rejection, with an optional comment."""

    comment: str | None = Field(default=None, max_length=2000)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


async def editor(who: Annotated[Identity, Depends(identity)]) -> Identity:
    """editor or admin (403 otherwise)."""
    if not who.can_edit():
        raise HTTPException(403, "this needs the editor or admin role")
    return who


Editor = Annotated[Identity, Depends(editor)]


def _id(text: str) -> int:
    try:
        return requests.parse_id(text)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None


@contextmanager
def _secret_lookups(context: Context, repo: Repository) -> Iterator[secrets.Lookups]:
    """Kubernetes and Vault lookups for the secrets gate, from the server's environment."""
    from lamina.clusters import connection, secret_keys

    environ = context.settings.environ
    kube = connection.KubeSettings.from_environment(environ, repo.root, repo.fleet.settings.apply)
    lookup, close = secret_keys.kubernetes_lookup(kube)
    vault = None
    if environ.get("VAULT_ADDR"):
        from lamina.clusters import vault as vault_checks

        vault = vault_checks.vault_lookup(environ["VAULT_ADDR"], environ.get("VAULT_TOKEN"))
    try:
        yield secrets.Lookups(kubernetes=lookup, vault=vault)
    finally:
        close()


def build_router() -> APIRouter:
    """Routes under /api/v1 for promotions, history and drift."""
    router = APIRouter(prefix=API)

    @router.get("/promotions")
    def list_promotions(
        request: Request, _who: Reader, status: Annotated[list[str] | None, Query()] = None
    ) -> list[dict[str, Any]]:
        """Promotion requests, newest first (``lamina promote list --json``)."""
        context = _context(request)
        known = {s.value for s in requests.Status}
        for value in status or []:
            if value not in known:
                raise HTTPException(400, f"unknown status {value!r}")
        records = store.list_requests(context.database, statuses=status or ())
        with context.repository() as repo:
            states = backfill.refresh(repo, context.database, records, _now()) if records else {}
        return [requests.to_json(r, states.get(r.id)) for r in records]

    @router.get("/promotions/{request_id}")
    def show_promotion(request: Request, request_id: str, _who: Reader) -> dict[str, Any]:
        """One request (``lamina promote show --json``)."""
        context = _context(request)
        record = store.get_request(context.database, _id(request_id))
        with context.repository() as repo:
            states = backfill.refresh(repo, context.database, [record], _now()) if record.emergency else {}
        return requests.to_json(record, states.get(record.id))

    @router.post("/promotions", status_code=201)
    def request_promotion(
        request: Request, body: Annotated[PromotionRequest, Body()], who: Editor
    ) -> dict[str, Any]:
        """Request a promotion and run its gates; a failed gate shows as status ``failed``."""
        context = _context(request)
        with context.repository() as repo, _secret_lookups(context, repo) as lookups:
            record = requests.request(
                repo,
                context.database,
                source=plain_name(body.source),
                target=plain_name(body.target),
                actor=who.user,
                now=_now,
                reason=body.reason,
                emergency=body.emergency,
                lookups=lookups,
            )
        return requests.to_json(record)

    def _decide(
        request: Request, request_id: str, who: Identity, approve: bool, comment: str | None
    ) -> dict[str, Any]:
        context = _context(request)
        record = store.get_request(context.database, _id(request_id))
        with context.repository() as repo:
            approvals.may_decide(who.user, record, repo.fleet, roles=who.roles)
            decided = approvals.decide(
                repo,
                context.database,
                record.id,
                actor=who.user,
                approve=approve,
                now=_now(),
                comment=comment,
            )
        return requests.to_json(decided)

    @router.post("/promotions/{request_id}/approve")
    def approve(
        request: Request,
        request_id: str,
        who: Annotated[Identity, Depends(identity)],
        body: Decision | None = None,
    ) -> dict[str, Any]:
        """Approve (not your own request; approver:<target> or admin)."""
        return _decide(request, request_id, who, True, body.comment if body else None)

    @router.post("/promotions/{request_id}/reject")
    def reject(
        request: Request,
        request_id: str,
        who: Annotated[Identity, Depends(identity)],
        body: Decision | None = None,
    ) -> dict[str, Any]:
        """Reject (approver:<target> or admin)."""
        return _decide(request, request_id, who, False, body.comment if body else None)

    @router.post("/promotions/{request_id}/apply")
    def apply(
        request: Request, request_id: str, who: Annotated[Identity, Depends(identity)]
    ) -> dict[str, Any]:
        """Commit the approved request's pin (approver:<target> or admin)."""
        context = _context(request)
        record = store.get_request(context.database, _id(request_id))
        if not who.approver_for(record.target):
            raise HTTPException(403, f"applying into {record.target} needs approver:{record.target} or admin")
        with context.repository() as repo:
            applied = applying.apply(repo, context.database, record.id, actor=who.user, now=_now())
        return requests.to_json(applied)

    @router.get("/history/{environment}")
    def history(request: Request, environment: str, _who: Reader) -> list[dict[str, Any]]:
        """Pins, promotions and applies of an environment, newest first."""
        context = _context(request)
        with context.repository() as repo:
            events = promotion_history.events(repo, context.database, plain_name(environment), _now())
        return [event.to_json() for event in events]

    @router.get("/stats")
    def stats(request: Request, _who: Reader) -> dict[str, Any]:
        """The four DORA figures from lamina's records."""
        context = _context(request)
        with context.repository() as repo:
            figures: dict[str, Any] = promotion_history.stats(repo, context.database, _now())
        return figures

    @router.get("/drift", response_model=list[dict[str, Any]])
    async def drift_results(request: Request, _who: Reader) -> Response:
        """The latest stored drift result of every cluster (the scheduled checks keep it fresh)."""
        context = _context(request)
        # the hottest read of the API (dashboards poll it): serve the JSON built for the last
        # stored check until a check stores new results
        stamp = context.database.read(drift_store.stamp)
        cached = context.cache.get("drift")
        if cached is None or cached[0] != stamp:
            rows = context.database.read(drift_store.latest_json)
            cached = (stamp, json.dumps(rows, ensure_ascii=False).encode())
            context.cache["drift"] = cached
        return Response(cached[1], media_type="application/json")

    @router.post("/drift/run")
    def drift_run(request: Request, who: Editor) -> list[dict[str, Any]]:
        """Check every cluster now, store the results, and return them."""
        from lamina.clusters import connection
        from lamina.drift import checking

        context = _context(request)
        settings = context.settings
        with context.repository() as repo:
            kube = connection.KubeSettings.from_environment(
                settings.environ, repo.root, repo.fleet.settings.apply
            )
            options = checking.DriftOptions.from_fleet(repo.fleet.settings)
            result = checking.check(repo, repo.targets(), kube, options)
            now = _now()
            reports = checking.remember(context.database, result.reports, now)
        del who
        return [report.to_json(now) for report in reports]

    return router
