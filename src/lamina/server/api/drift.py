"""Drift over the API: the stored result of every cluster, and a check run now.

The scheduled checks (:mod:`lamina.server.scheduler`) keep the stored results fresh; an
editor may run a check at once, the same use case as ``lamina drift``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Response

from lamina.server import api, auth, context
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


@router.post("/run")
def drift_run(shared: context.Shared, _who: auth.Editor) -> list[dict[str, Any]]:
    """Check every cluster now, store the results, and return them."""
    from lamina.clusters import connection
    from lamina.drift import checking

    with shared.repository() as repo:
        kube = connection.KubeSettings.from_environment(
            shared.settings.environ, repo.root, repo.fleet.settings.apply
        )
        now = shared.clock()
        reports = checking.run(repo, shared.database, repo.targets(), kube, now)
    return [report.to_json(now) for report in reports]
