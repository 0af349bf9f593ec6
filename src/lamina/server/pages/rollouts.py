"""Rollouts on the dashboard: the list, and one rollout's steps, clusters and measurements, with
a chart per metric and step (:mod:`lamina.server.pages.charts`) and the pause, resume and abort
buttons for those the rules allow (asked with :func:`lamina.rollout.engine.moves` before they
are shown; the forms post to :mod:`lamina.server.pages.actions`, which asks again).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from lamina.errors import LaminaError
from lamina.promote import requests
from lamina.rollout import engine
from lamina.server import auth, context
from lamina.server.pages import charts, rendering
from lamina.store import rollouts
from lamina.store.rollouts import RolloutRecord

SHOWN = 100
"""The newest rollouts the list shows."""

router = APIRouter(prefix="/rollouts", include_in_schema=False, dependencies=[Depends(auth.page_viewer)])


@router.get("")
def rollout_list(request: Request, shared: context.Shared, who: auth.Viewer) -> Response:
    """The newest rollouts first: environment, status, step, when and why."""
    found = rollouts.list_rollouts(shared.database, limit=SHOWN)
    return rendering.page(request, who, "rollouts.html", {"title": "Rollouts", "rollouts": found})


def steps(record: RolloutRecord) -> list[dict[str, Any]]:
    """Each step: where it stands, its clusters, and a chart per metric of its measurements."""
    metrics = [m for m in record.plan.get("metrics", []) if isinstance(m, dict)]
    shown = []
    for index in range(record.steps):
        if index < record.step or record.status.value == "succeeded":
            where = "passed"
        elif index == record.step:
            where = "current"
        else:
            where = "waiting"
        measured = [m for m in record.measurements if m.step == index]
        shown.append(
            {
                "number": index + 1,
                "where": where,
                "clusters": record.step_clusters(index),
                "charts": [
                    charts.chart(
                        str(m.get("name")),
                        m.get("min"),
                        m.get("max"),
                        [x for x in measured if x.metric == m.get("name")],
                    )
                    for m in metrics
                ]
                if measured
                else [],
            }
        )
    return shown


@router.get("/{rollout_id}")
def rollout_page(
    request: Request,
    shared: context.Shared,
    who: auth.Viewer,
    rollout_id: Annotated[int, PathParam(ge=1, le=requests.MAX_ID)],
) -> Response:
    """One rollout: its steps, clusters, measurements and charts, and the buttons who may press."""
    try:
        record = rollouts.get(shared.database, rollout_id)
        with shared.repository() as repo:
            moves = engine.moves(repo.fleet, shared.database, record, who.actor(), shared.clock())
    except LaminaError as exc:
        return rendering.failure(request, who, str(exc), exc.http_status)
    token = auth.presented_token(request)
    data = {
        "title": f"Rollout {record.id}",
        "r": record,
        "steps": steps(record),
        "moves": {verb: rendering.csrf_token(token, f"rollout-{verb}:{record.id}") for verb in moves},
        "bounds": {
            str(m.get("name")): charts.bound_text(m.get("min"), m.get("max"))
            for m in record.plan.get("metrics", [])
            if isinstance(m, dict)
        },
    }
    return rendering.page(request, who, "rollout.html", data)
