"""Rollouts: the list, one rollout with its clusters and measurements, and pausing one.

Reading is for any role, in the shape of ``lamina rollout status --json``; pausing needs the
editor role (the same check as every other write of the API).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from lamina.rollout import engine
from lamina.server import api, auth, context
from lamina.store import rollouts

router = APIRouter(prefix=api.PREFIX)


@router.get("/rollouts", dependencies=[Depends(auth.reader)])
def list_rollouts(shared: context.Shared, environment: str | None = None) -> list[dict[str, Any]]:
    """The newest rollouts first, without their measurements."""
    return [r.to_json(measurements=False) for r in rollouts.list_rollouts(shared.database, environment)]


@router.get("/rollouts/{rollout_id}", dependencies=[Depends(auth.reader)])
def get_rollout(shared: context.Shared, rollout_id: int) -> dict[str, Any]:
    """One rollout: its steps, clusters and measurements (404 when there is none)."""
    return rollouts.get(shared.database, rollout_id).to_json()


@router.post("/rollouts/{rollout_id}/pause")
def pause(shared: context.Shared, rollout_id: int, who: auth.Editor) -> dict[str, Any]:
    """Pause a running rollout (409 when it is not running)."""
    return engine.pause(shared.database, rollout_id, who.actor().name, shared.clock()).to_json()
