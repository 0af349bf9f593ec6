"""The open routes for probes and Prometheus: /healthz, /readyz and /metrics.

They need no token and carry no config: a probe cannot sign in, and Prometheus reads state
the database holds, labelled by environment, cluster and status names only.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from lamina.errors import LaminaError
from lamina.server import context

LOG = logging.getLogger("lamina.server")

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(shared: context.Shared) -> JSONResponse:
    """503 until the repository and the database can be used; names the revision served.

    Anyone may ask: the answer names what is not ready, the server's log says why.
    """
    problems = []
    try:
        with shared.repository():
            pass
    except LaminaError as exc:
        LOG.error("not ready: repository: %s", exc)
        problems.append("repository")
    try:
        shared.database.ensure_schema()
    except LaminaError as exc:
        LOG.error("not ready: database: %s", exc)
        problems.append("database")
    status = 200 if not problems else 503
    answer = {"status": "ready" if not problems else "not ready", "problems": problems}
    return JSONResponse({**answer, "revision": shared.served_revision()}, status)


@router.get("/metrics")
def prometheus(shared: context.Shared) -> PlainTextResponse:
    """The Prometheus text format."""
    body, content_type = shared.metrics.exposition()
    return PlainTextResponse(body, media_type=content_type)
