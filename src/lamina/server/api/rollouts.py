"""Rollouts: the list, one rollout with its clusters and measurements, and pausing, resuming or
aborting one.

Reading is for any role, in the shape of ``lamina rollout status --json``. Pausing, resuming
and aborting are the library's own functions (:func:`lamina.rollout.engine.pause` and its
siblings), which ask :func:`lamina.guard.rules.authorize` (the editor role; a freeze stops a
resume) and record the move, or the refusal, in the audit log; the command line calls the same
functions. A resumed or aborting rollout is driven on by the server's scheduler (or
``lamina rollout resume ID``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from lamina.promote import requests
from lamina.server import actions, api, auth, context
from lamina.server.guards import plain_name
from lamina.store import rollouts

router = APIRouter(prefix=api.PREFIX)

RolloutId = Annotated[int, Path(ge=1, le=requests.MAX_ID)]
"""What a database id column holds: a larger number is a 422, never an overflow (500)."""


@router.get("/rollouts", dependencies=[Depends(auth.reader)])
def list_rollouts(shared: context.Shared, environment: str | None = None) -> list[dict[str, Any]]:
    """The newest rollouts first, without their measurements."""
    wanted = plain_name(environment) if environment is not None else None
    return [r.to_json(measurements=False) for r in rollouts.list_rollouts(shared.database, wanted)]


@router.get("/rollouts/{rollout_id}", dependencies=[Depends(auth.reader)])
def get_rollout(shared: context.Shared, rollout_id: RolloutId) -> dict[str, Any]:
    """One rollout: its steps, clusters and measurements (404 when there is none)."""
    return rollouts.get(shared.database, rollout_id).to_json()


@router.post("/rollouts/{rollout_id}/pause")
def pause(shared: context.Shared, rollout_id: RolloutId, who: auth.Authenticated) -> dict[str, Any]:
    """Pause a running rollout (editor; 409 when it is not running)."""
    return actions.move_rollout(shared, who, rollout_id, "pause").to_json()


@router.post("/rollouts/{rollout_id}/resume")
def resume(shared: context.Shared, rollout_id: RolloutId, who: auth.Authenticated) -> dict[str, Any]:
    """Resume a paused rollout (editor; 403 while its environment is frozen, 409 once it ended)."""
    return actions.move_rollout(shared, who, rollout_id, "resume").to_json()


@router.post("/rollouts/{rollout_id}/abort")
def abort(shared: context.Shared, rollout_id: RolloutId, who: auth.Authenticated) -> dict[str, Any]:
    """Abort a running or paused rollout: every cluster it moved goes back (editor; 409 once it ended)."""
    return actions.move_rollout(shared, who, rollout_id, "abort").to_json()
