"""An environment's history: pins, promotions and applies, newest first, with its DORA figures.

The same library calls as ``lamina history`` and ``lamina stats``, for one environment at a
time; /history goes to the first environment of the promotion order.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from lamina.errors import LaminaError
from lamina.promote import history
from lamina.server import auth, context
from lamina.server.guards import plain_name
from lamina.server.pages import rendering

SHOWN = 500
"""The newest events the page lists."""

router = APIRouter(prefix="/history", include_in_schema=False, dependencies=[Depends(auth.page_viewer)])


@router.get("")
def history_default(request: Request, shared: context.Shared, who: auth.Viewer) -> Response:
    """The history of the first environment in promotion order."""
    try:
        with shared.repository() as repo:
            first = repo.fleet.ordered_environments()[0]
    except (LaminaError, IndexError) as exc:
        return rendering.failure(request, who, str(exc) or "the fleet has no environments", 404)
    return RedirectResponse(f"/history/{first}", 303)


@router.get("/{environment}")
def environment_history(
    request: Request, environment: str, shared: context.Shared, who: auth.Viewer
) -> Response:
    """The events and figures of one environment, with links to the others."""
    name = plain_name(environment)
    moment = shared.clock()
    try:
        with shared.repository() as repo:
            events = history.events(repo, shared.database, name, moment)
            figures = history.stats(repo, shared.database, moment, [name])
            environments = list(repo.fleet.ordered_environments())
    except LaminaError as exc:
        return rendering.failure(request, who, str(exc), exc.http_status)
    data = {
        "title": f"History of {name}",
        "environment": name,
        "environments": environments,
        "events": events[:SHOWN],
        "stats": figures,
    }
    return rendering.page(request, who, "history.html", data)
