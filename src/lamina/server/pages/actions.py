"""The dashboard's buttons: every action of the hub, from a form, and the live-update stream.

Each form carries a CSRF token made for its action (:func:`lamina.server.pages.rendering.csrf_token`);
a POST without the right one is refused with 403 before anything else happens. Then the same
function the API calls (:mod:`lamina.server.actions`) does the work, so the roles, freezes,
self-approval and protection rules are the command line's; a refusal shows the rule's own
words on the error page, with its status. A success goes back to the page the form was on.

``GET /events`` is a stream of server-sent events: an ``update`` event each time the state
database changes (a new audit record, a stored drift check), whichever replica made the
change, so every open page can refresh what it shows without a reload.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from lamina.errors import LaminaError
from lamina.promote import requests
from lamina.server import actions, auth, context
from lamina.server.guards import plain_name, plain_target
from lamina.server.pages import rendering
from lamina.server.tokens import Identity
from lamina.store import summary

router = APIRouter(include_in_schema=False, dependencies=[Depends(auth.page_viewer)])

Csrf = Annotated[str, Form(max_length=200)]
Text = Annotated[str, Form(max_length=2000)]
Name = Annotated[str, Form(max_length=63)]
Target = Annotated[str, Form(max_length=127)]

STREAM_SECONDS = 25.0
"""How long one event stream stays open; the browser reconnects at once (and a stopping server
never waits long for a stream to end)."""
POLL_SECONDS = 0.5
"""How often a stream looks for a change in the state database."""


def _act(
    request: Request, who: Identity, action: str, csrf: str, work: Callable[[], object], back: str
) -> Response:
    """Check the form's CSRF token for action, do work, and go back (303); the rule's words on refusal."""
    refused = rendering.refuse_forgery(request, who, action, csrf)
    if refused is not None:
        return refused
    try:
        done = work()
    except LaminaError as exc:
        return rendering.failure(request, who, str(exc), exc.http_status)
    if isinstance(done, actions.Shipment) and done.failed:
        failed = [
            f"{o.environment}/{o.cluster}: {o.result.value} ({o.detail})" for o in done.outcomes if o.failed
        ]
        return rendering.failure(
            request, who, "Not every cluster runs what was asked: " + "; ".join(failed), 502
        )
    return RedirectResponse(back, 303)


def _reason(text: str) -> str | None:
    return text.strip() or None


@router.post("/actions/promote")
def request_promotion(
    request: Request, who: auth.Viewer, source: Name, target: Name, csrf: Csrf = "", reason: Text = ""
) -> Response:
    """Request a promotion of target to what source runs (editor)."""
    shared = context.of(request)

    def work() -> None:
        actions.request_promotion(
            shared, who, source=plain_name(source), target=plain_name(target), reason=_reason(reason)
        )

    return _act(request, who, "request", csrf, work, "/promotions")


@router.post("/actions/change")
def request_change(
    request: Request, who: auth.Viewer, environment: Name, csrf: Csrf = "", reason: Text = ""
) -> Response:
    """Request that an environment's configs as committed may ship (editor)."""
    shared = context.of(request)

    def work() -> None:
        actions.request_change(shared, who, environment=plain_name(environment), reason=_reason(reason))

    return _act(request, who, "request", csrf, work, "/promotions")


@router.post("/actions/rollback")
def request_rollback(
    request: Request,
    who: auth.Viewer,
    environment: Name,
    to: Annotated[str, Form(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._/~^-]+$")],
    csrf: Csrf = "",
    reason: Text = "",
) -> Response:
    """Request moving an environment's pin back to an older revision (editor)."""
    shared = context.of(request)

    def work() -> None:
        actions.request_rollback(
            shared, who, environment=plain_name(environment), to=to, reason=_reason(reason)
        )

    return _act(request, who, "request", csrf, work, "/promotions")


@router.post("/promotions/{request_id}/apply")
def apply_request(
    request: Request,
    request_id: Annotated[int, PathParam(ge=1, le=requests.MAX_ID)],
    who: auth.Viewer,
    csrf: Csrf = "",
) -> Response:
    """Apply an approved request (approver of its environment)."""
    shared = context.of(request)
    back = f"/promotions#{requests.format_id(request_id)}"
    return _act(
        request,
        who,
        f"apply:{request_id}",
        csrf,
        lambda: actions.apply_request(shared, who, request_id),
        back,
    )


@router.post("/actions/apply")
def apply_target(request: Request, who: auth.Viewer, target: Target, csrf: Csrf = "") -> Response:
    """Apply an environment's or a cluster's config (editor; the rules decide per target)."""
    shared = context.of(request)
    return _act(request, who, "ship", csrf, lambda: actions.ship(shared, who, [plain_target(target)]), "/")


@router.post("/actions/heal")
def heal_target(request: Request, who: auth.Viewer, target: Target, csrf: Csrf = "") -> Response:
    """Re-apply git's config where an environment's clusters drifted (editor)."""
    shared = context.of(request)
    return _act(request, who, "ship", csrf, lambda: actions.heal(shared, who, [plain_target(target)]), "/")


@router.post("/actions/drift")
def run_drift(request: Request, who: auth.Viewer, csrf: Csrf = "", target: Target = "") -> Response:
    """Check drift now: every cluster, or one environment's (editor)."""
    shared = context.of(request)
    named = [plain_target(target)] if target else []
    return _act(request, who, "drift", csrf, lambda: actions.run_drift(shared, who, named), "/")


@router.post("/actions/freeze")
def freeze(
    request: Request,
    who: auth.Viewer,
    environment: Name,
    until: Annotated[str, Form(min_length=1, max_length=40)],
    reason: Text,
    csrf: Csrf = "",
) -> Response:
    """Freeze an environment (approver of it)."""
    shared = context.of(request)

    def work() -> None:
        actions.freeze(shared, who, plain_name(environment), until=until, reason=reason)

    return _act(request, who, "freeze", csrf, work, "/promotions#freezes")


@router.post("/actions/unfreeze")
def unfreeze(request: Request, who: auth.Viewer, environment: Name, csrf: Csrf = "") -> Response:
    """Lift an environment's manual freeze (approver of it)."""
    shared = context.of(request)
    work = lambda: actions.unfreeze(shared, who, plain_name(environment))  # noqa: E731
    return _act(request, who, "freeze", csrf, work, "/promotions#freezes")


RolloutId = Annotated[int, PathParam(ge=1, le=requests.MAX_ID)]


def _move_rollout(request: Request, who: Identity, rollout_id: int, verb: str, csrf: str) -> Response:
    shared = context.of(request)
    return _act(
        request,
        who,
        f"rollout-{verb}:{rollout_id}",
        csrf,
        lambda: actions.move_rollout(shared, who, rollout_id, verb),
        f"/rollouts/{rollout_id}",
    )


@router.post("/rollouts/{rollout_id}/pause")
def pause_rollout(request: Request, rollout_id: RolloutId, who: auth.Viewer, csrf: Csrf = "") -> Response:
    """Pause a running rollout (editor)."""
    return _move_rollout(request, who, rollout_id, "pause", csrf)


@router.post("/rollouts/{rollout_id}/resume")
def resume_rollout(request: Request, rollout_id: RolloutId, who: auth.Viewer, csrf: Csrf = "") -> Response:
    """Resume a paused rollout (editor; not while its environment is frozen)."""
    return _move_rollout(request, who, rollout_id, "resume", csrf)


@router.post("/rollouts/{rollout_id}/abort")
def abort_rollout(request: Request, rollout_id: RolloutId, who: auth.Viewer, csrf: Csrf = "") -> Response:
    """Abort a rollout: every cluster it moved goes back (editor)."""
    return _move_rollout(request, who, rollout_id, "abort", csrf)


def state_stamp(session: Session) -> str:
    """What changes whenever lamina records something: the newest audit row, drift result and
    rollout measurement."""
    return json.dumps(summary.state_stamp(session))


@router.get("/events")
async def events(request: Request, _who: auth.Viewer) -> StreamingResponse:
    """Server-sent events: ``update`` whenever the state database changes."""
    shared = context.of(request)

    async def stream() -> AsyncIterator[str]:
        last = await asyncio.to_thread(shared.database.read, state_stamp)
        yield f"retry: 1000\nevent: hello\ndata: {last}\n\n"
        ends = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < ends and not await request.is_disconnected():
            await asyncio.sleep(POLL_SECONDS)
            now = await asyncio.to_thread(shared.database.read, state_stamp)
            if now != last:
                last = now
                yield f"event: update\ndata: {now}\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def rights(who: Identity, environments: list[str]) -> dict[str, Any]:
    """Which of the hub's buttons who sees: the answers of the rules, asked before showing them."""
    return {
        "request": auth.allows(who, auth.Permission.EDIT),
        "ship": auth.allows(who, auth.Permission.SHIP),
        "drift": auth.allows(who, auth.Permission.RUN_DRIFT),
        "freeze": [env for env in environments if auth.allows(who, auth.Permission.FREEZE, env)],
    }


FORMS = ("request", "ship", "drift", "freeze")
"""The hub's forms whose CSRF tokens :func:`csrf_tokens` makes."""


def csrf_tokens(request: Request) -> dict[str, str]:
    """The CSRF tokens of the hub's forms, for the signed-in session."""
    token = auth.presented_token(request)
    return {action: rendering.csrf_token(token, action) for action in FORMS}
