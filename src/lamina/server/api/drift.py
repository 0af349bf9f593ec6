"""Drift over the API: the stored result of every cluster, and a check run now.

The scheduled checks (:mod:`lamina.server.scheduler`) keep the stored results fresh; an
editor may run a check at once, the same use case as ``lamina drift``, or heal what drifted
(``lamina drift --heal``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from lamina.server import actions, api, auth, context
from lamina.server.guards import plain_target
from lamina.store import drift as drift_store

router = APIRouter(prefix=f"{api.PREFIX}/drift", dependencies=[Depends(auth.identity)])


@router.get("", response_model=list[dict[str, Any]])
async def drift_results(shared: context.Shared, _who: auth.Reader) -> Response:
    """The latest stored drift result of every cluster (the scheduled checks keep it fresh)."""
    # the hottest read of the API (dashboards poll it): serve the JSON built for the last
    # stored check until a check stores new results
    stamp = shared.database.read(drift_store.stamp)
    cached = shared.cache.get("drift")
    if cached is None or cached[0] != stamp:
        rows = shared.database.read(drift_store.latest_json)
        cached = (stamp, json.dumps(rows, ensure_ascii=False).encode())
        shared.cache["drift"] = cached
    return Response(cached[1], media_type="application/json")


class Targets(BaseModel):
    """``ENV`` or ``ENV/CLUSTER`` targets; none means every target (for a check)."""

    targets: list[str] = Field(default_factory=list, max_length=500)


def _targets(body: Targets | None) -> list[str]:
    return [plain_target(text) for text in body.targets] if body else []


@router.post("/run")
def drift_run(
    shared: context.Shared, who: auth.DriftRunner, body: Targets | None = None
) -> list[dict[str, Any]]:
    """Check every cluster (or the targets named) now, store the results, and return them."""
    now, reports = actions.run_drift(shared, who, _targets(body))
    return [report.to_json(now) for report in reports]


class Healing(Targets):
    """Targets to heal (every cluster when none); ``force``: why to ship past a refusal (admin)."""

    force: str | None = Field(default=None, max_length=2000)


@router.post("/heal")
def drift_heal(shared: context.Shared, who: auth.Shipper, body: Healing) -> dict[str, Any]:
    """Re-apply git's config to the drifted or out-of-sync clusters of the targets named
    (``lamina drift --heal``): each cluster's status after, and what each heal did."""
    healed = actions.heal(shared, who, _targets(body), force=body.force)
    return {
        "clusters": [
            {"environment": r.environment, "cluster": r.cluster, "status": r.status.value}
            for r in healed.reports
        ],
        "outcomes": [outcome.to_json() for outcome in healed.outcomes],
        "failed": healed.failed,
        **({"overridden": list(healed.overridden)} if body.force is not None else {}),
    }
