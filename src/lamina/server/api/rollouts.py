"""Rollouts: the list, one rollout with its clusters and measurements, and pausing one.

Reading is for any role, in the shape of ``lamina rollout status --json``; pausing needs the
editor role (the same check as every other write of the API).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from lamina.promote import requests
from lamina.rollout import engine
from lamina.server import api, auth, context
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
def pause(shared: context.Shared, rollout_id: RolloutId, who: auth.Editor) -> dict[str, Any]:
    """Pause a running rollout (409 when it is not running)."""
    return engine.pause(shared.database, rollout_id, who.actor().name, shared.clock()).to_json()
