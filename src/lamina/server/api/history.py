"""What happened to the fleet over time: an environment's history and the DORA figures.

Read-only, for any role; the same library calls as ``lamina history`` and ``lamina stats``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from lamina.promote import history as promotion_history
from lamina.server import api, auth, context
from lamina.server.guards import plain_name

router = APIRouter(prefix=api.PREFIX, dependencies=[Depends(auth.reader)])


@router.get("/history/{environment}")
def history(shared: context.Shared, environment: str) -> list[dict[str, Any]]:
    """Pins, promotions and applies of an environment, newest first."""
    with shared.repository() as repo:
        events = promotion_history.events(repo, shared.database, plain_name(environment), shared.clock())
    return [event.to_json() for event in events]


@router.get("/stats")
def stats(shared: context.Shared) -> dict[str, Any]:
    """The four DORA figures from lamina's records."""
    with shared.repository() as repo:
        figures: dict[str, Any] = promotion_history.stats(repo, shared.database, shared.clock())
    return figures
