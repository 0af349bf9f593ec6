"""The FastAPI application of one repository, composed from the server's parts.

Nothing is decided here: the routes live in :mod:`lamina.server.api` and
:mod:`lamina.server.pages`, who may call them in :mod:`lamina.server.auth`, what they share in
:mod:`lamina.server.context`. This module puts them together: the middleware, the one
mapping of lamina's errors to HTTP answers, every router, and the scheduled drift checks and
rollout drivers that run while the application does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from lamina.errors import LaminaError
from lamina.server import api, context, driving, limits, scheduler
from lamina.server.api import audit as audit_api
from lamina.server.api import drift as drift_api
from lamina.server.api import fleet as fleet_api
from lamina.server.api import freezes as freezes_api
from lamina.server.api import health, webhooks
from lamina.server.api import history as history_api
from lamina.server.api import promotions as promotions_api
from lamina.server.api import rollouts as rollouts_api
from lamina.server.api import shipments as shipments_api
from lamina.server.pages import actions as action_pages
from lamina.server.pages import audit as audit_pages
from lamina.server.pages import fleet as fleet_pages
from lamina.server.pages import history as history_pages
from lamina.server.pages import promotions as promotion_pages
from lamina.server.pages import rendering, sessions
from lamina.server.pages import rollouts as rollout_pages
from lamina.server.settings import ServerSettings

ROUTERS = (
    health.router,
    fleet_api.router,
    audit_api.router,
    promotions_api.router,
    history_api.router,
    drift_api.router,
    shipments_api.router,
    freezes_api.router,
    webhooks.router,
    rollouts_api.router,
    sessions.router,
    fleet_pages.router,
    promotion_pages.router,
    history_pages.router,
    rollout_pages.router,
    audit_pages.router,
    action_pages.router,
)
"""Every router, in the order their routes are matched and listed in /openapi.json."""


async def lamina_error(_request: Request, exc: LaminaError) -> JSONResponse:
    """Any of lamina's errors as ``{"detail": ...}`` with the status its kind carries."""
    return JSONResponse({"detail": _printable(str(exc))}, status_code=exc.http_status)


async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming where each problem is and what it is, never echoing the input.

    A body may hold what JSON allows Python to read but not to write back (``NaN``,
    ``Infinity``, a lone surrogate): echoing it would fail and turn a refusal into a 500.
    """
    problems = [
        {
            "loc": [_printable(part) for part in error.get("loc", ())],
            "msg": _printable(error.get("msg", "")),
            "type": _printable(error.get("type", "")),
        }
        for error in exc.errors()
    ]
    return JSONResponse({"detail": problems}, status_code=422)


def _printable(value: Any) -> str | int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return str(value).encode("utf-8", "replace").decode("utf-8")


def create_app(settings: ServerSettings, clock: context.Clock = context.utc_now) -> FastAPI:
    """The application for one repository.

    Args:
        settings: the server's settings.
        clock: the current time (UTC) for the pages, the API and the scheduled checks; tests
            pass a fixed one.

    Raises:
        InputError: ``[drift]`` or ``[alerts]`` of lamina.toml is malformed, or an alert sink's
            environment variable is not set (``lamina serve`` exits 2).
    """
    shared = context.Context(settings, clock)
    app = FastAPI(
        title="lamina",
        version="1",
        description="Layered configuration for AI agents on many Kubernetes clusters.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = shared
    app.state.templates = rendering.templates(clock)
    checks = scheduler.Scheduler.for_server(shared, shared.metrics)
    shared.validity.on_written = checks.sender.wake
    drivers = driving.RolloutRunner(shared, settings.rollout_interval)
    app.state.rollouts = drivers

    @contextlib.asynccontextmanager
    async def lifespan(running: object) -> AsyncIterator[None]:
        """The scheduled drift checks, the rollout drivers, git fetches and the checks of the
        revisions fetched run while the application does."""
        shared.validity.start()
        shared.git.start()
        drivers.start()
        try:
            async with checks.lifespan(running):
                yield
        finally:
            await asyncio.to_thread(drivers.stop)
            await asyncio.to_thread(shared.git.stop)
            await asyncio.to_thread(shared.validity.stop)

    app.router.lifespan_context = lifespan
    app.state.templates.env.globals["served_revision"] = shared.served_revision
    app.add_middleware(
        limits.LimitsAndTiming,
        max_body_bytes=settings.max_body_bytes,
        metrics=shared.metrics,
        api_prefix=api.PREFIX,
    )
    app.exception_handler(LaminaError)(lamina_error)
    app.exception_handler(RequestValidationError)(invalid_request)
    for router in ROUTERS:
        app.include_router(router)
    return app
