"""``POST /api/v1/hooks/git``: a push webhook that makes the server fetch now.

Signed as GitHub signs (``X-Hub-Signature-256``) or GitLab (``X-Gitlab-Token``) with the secret
in the environment variable ``[git] webhook_secret_env`` names. A bad or missing signature is
401; without a configured secret the route answers 404. Nothing in the payload is used: the
only thing a valid call does is the fetch the server would do at its next interval anyway.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from lamina.server import context, revisions

LOG = logging.getLogger("lamina.server.git")

router = APIRouter(prefix="/api/v1/hooks", tags=["hooks"])


@router.post("/git", responses={401: {"description": "bad signature"}, 404: {"description": "no secret"}})
async def git_pushed(request: Request, shared: context.Shared) -> JSONResponse:
    """Fetch the remote branch now and serve it; answers the revision served."""
    secret = await run_in_threadpool(shared.git.webhook_secret)
    if secret is None:
        return JSONResponse({"detail": "no push webhook is configured ([git] webhook_secret_env)"}, 404)
    body = await request.body()
    if not revisions.signed(body, secret, request.headers):
        LOG.warning(
            "push webhook refused: bad signature from %s", request.client.host if request.client else "?"
        )
        return JSONResponse({"detail": "bad signature"}, 401)
    synced = await run_in_threadpool(shared.git.sync)
    return JSONResponse({"revision": synced.after, "moved": synced.moved, "fetched": synced.fetched})
