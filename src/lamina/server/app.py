"""The FastAPI application: the REST API under /api/v1, health, metrics and the dashboard."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from lamina.errors import InputError, LaminaError, OutsideError
from lamina.fleet.selectors import Selector
from lamina.reports import views
from lamina.resolve.repository import Repository
from lamina.server import metrics, scheduler
from lamina.server.guards import plain_name, plain_target
from lamina.server.settings import ServerSettings
from lamina.server.tokens import Identity, TokenStore
from lamina.store import audit as audit_log
from lamina.store.database import Database

API = "/api/v1"
LOG = logging.getLogger("lamina.server")


class LimitsAndTiming:
    """Refuse oversized bodies (413) and time every request for /metrics; plain ASGI, because
    Starlette's ``BaseHTTPMiddleware`` costs more than the API's hottest handlers."""

    def __init__(self, app: Any, max_body_bytes: int, metrics: metrics.Metrics) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_body_bytes):
                response = JSONResponse({"detail": "request body too large"}, status_code=413)
                await response(scope, receive, send)
                return
        start = time.perf_counter()
        status = [500]
        received = [0]

        async def receive_within_limit() -> dict[str, Any]:
            # a chunked body declares no length: count it as it comes and stop at the limit
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > self.max_body_bytes:
                    raise HTTPException(413, "request body too large")
            return message

        api = str(scope.get("path", "")).startswith(API)

        async def send_and_note(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                # every answer: never sniffed into HTML; API answers hold config: never cached
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if api and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive_within_limit, send_and_note)
        finally:
            route = scope.get("route")
            self.metrics.observe_request(
                scope.get("method", "GET"),
                getattr(route, "path", "unmatched"),
                status[0],
                time.perf_counter() - start,
            )


class Context:
    """What every request handler shares: settings, the database, the tokens."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.database = Database.for_repository(settings.repo_root, settings.database_url)
        self._tokens: tuple[float, TokenStore] | None = None
        self.cache: dict[str, tuple[Any, Any]] = {}

    def tokens(self) -> TokenStore:
        """The tokens file, re-read when it changes (a new token works without a restart)."""
        path = self.settings.tokens_file
        stamp = path.stat().st_mtime if path is not None and path.exists() else 0.0
        if self._tokens is None or self._tokens[0] != stamp:
            try:
                self._tokens = (stamp, TokenStore.load(path))
            except InputError as exc:
                # nobody signs in; the reason goes to the operator's log, not to whoever asked
                LOG.error("%s", exc)
                raise OutsideError("the server's tokens file cannot be read (see the server's log)") from None
        return self._tokens[1]

    def target_hashes(self, repo: Repository) -> dict[str, tuple[str, str] | str]:
        """Every ENV/CLUSTER's (short hash, hash), or its error text; recomputed only when a file
        of the repository (or HEAD) changed since the last call, like ``render``'s cache."""
        from lamina.render import cache

        stamp = cache.fingerprint(repo.root, {"head": repo.head()}, [])
        hit = self.cache.get("hashes")
        if hit is not None and hit[0] == stamp:
            found: dict[str, tuple[str, str] | str] = hit[1]
            return found
        hashes: dict[str, tuple[str, str] | str] = {}
        for ref in repo.targets():
            try:
                resolved = repo.resolve(ref)
                hashes[str(ref)] = (resolved.short_hash, resolved.config_hash)
            except LaminaError as exc:
                hashes[str(ref)] = str(exc)
        self.cache["hashes"] = (stamp, hashes)
        return hashes

    @contextmanager
    def repository(self) -> Iterator[Repository]:
        """The config repository as it is now, for one request."""
        with Repository(self.settings.repo_root) as repo:
            yield repo


async def identity(request: Request) -> Identity:
    """The caller, from ``Authorization: Bearer <token>``: 401 if none.

    The dashboard's cookie is taken for reads only: a browser sends cookies with requests
    other sites make it send, so anything that changes state needs the header (or, on the
    dashboard's own forms, the cookie and a CSRF token).
    """
    context: Context = request.app.state.context
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        token = request.cookies.get("lamina_token", "") if request.method in ("GET", "HEAD") else ""
    found = context.tokens().identify(token.strip()) if token else None
    if found is None:
        raise HTTPException(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    return found


async def reader(who: Annotated[Identity, Depends(identity)]) -> Identity:
    """Any role may read; a token without roles may not (403)."""
    if not who.can_read():
        raise HTTPException(403, "this token has no role")
    return who


Reader = Annotated[Identity, Depends(reader)]


def create_app(settings: ServerSettings) -> FastAPI:
    """The application for one repository."""
    context = Context(settings)
    app = FastAPI(
        title="lamina",
        version="1",
        description="Layered configuration for AI agents on many Kubernetes clusters.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    registry = metrics.Metrics(context.database)
    # scheduled drift checks and alerts; bad [drift]/[alerts] settings stop the start (exit 2)
    drift_schedule = scheduler.Scheduler.for_server(context, registry)
    app.router.lifespan_context = drift_schedule.lifespan

    app.add_middleware(LimitsAndTiming, max_body_bytes=settings.max_body_bytes, metrics=registry)

    @app.exception_handler(LaminaError)
    async def lamina_error(_request: Request, exc: LaminaError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.http_status)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        # anyone may ask: the answer names what is not ready, the server's log says why
        problems = []
        try:
            with context.repository():
                pass
        except LaminaError as exc:
            LOG.error("not ready: repository: %s", exc)
            problems.append("repository")
        try:
            context.database.ensure_schema()
        except LaminaError as exc:
            LOG.error("not ready: database: %s", exc)
            problems.append("database")
        status = 200 if not problems else 503
        return JSONResponse(
            {"status": "ready" if not problems else "not ready", "problems": problems}, status
        )

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> PlainTextResponse:
        body, content_type = registry.exposition()
        return PlainTextResponse(body, media_type=content_type)

    @app.get(f"{API}/environments")
    def list_environments(_who: Reader) -> list[dict[str, Any]]:
        """Environments: stage, extends, upstream, pin, clusters."""
        with context.repository() as repo:
            return views.environments(repo)

    @app.get(f"{API}/clusters")
    def list_clusters(_who: Reader, selector: str | None = None) -> list[dict[str, Any]]:
        """Clusters, optionally filtered by a label selector."""
        with context.repository() as repo:
            return views.clusters(repo, Selector.parse(selector))

    @app.get(f"{API}/targets/{{environment}}/config")
    def environment_config(environment: str, _who: Reader) -> dict[str, Any]:
        """The environment-level config (base and overlays)."""
        with context.repository() as repo:
            return views.config(repo.resolve(plain_name(environment)))

    @app.get(f"{API}/targets/{{environment}}/{{cluster}}/config")
    def target_config(environment: str, cluster: str, _who: Reader) -> dict[str, Any]:
        """A target's resolved config (secret references only)."""
        with context.repository() as repo:
            return views.config(repo.resolve(f"{plain_name(environment)}/{plain_name(cluster)}"))

    @app.get(f"{API}/targets/{{environment}}/{{cluster}}/explain")
    def explain(
        environment: str, cluster: str, _who: Reader, key: Annotated[str, Query(max_length=500)]
    ) -> dict[str, Any]:
        """Every layer that set key: file, line, value, reason; the winner last."""
        from lamina.validate import credentials

        with context.repository() as repo:
            result = repo.resolve(f"{plain_name(environment)}/{plain_name(cluster)}").explain(key).to_json()
        leaf = result["key"].rsplit(".", 1)[-1]
        result["value"] = credentials.mask_tree(result["value"], leaf)
        for layer in result["layers"]:
            layer["value"] = credentials.mask_tree(layer["value"], leaf)
        return result

    @app.get(f"{API}/diff")
    def diff(
        _who: Reader,
        a: Annotated[str, Query(max_length=200)],
        b: Annotated[str, Query(max_length=200)],
    ) -> dict[str, Any]:
        """Field-level differences between two targets (ENV or ENV/CLUSTER)."""
        with context.repository() as repo:
            return views.diff(repo.resolve(plain_target(a)), repo.resolve(plain_target(b)), a, b)

    @app.get(f"{API}/validate")
    def validate(_who: Reader, environment: list[str] | None = Query(None)) -> dict[str, Any]:
        """Every problem `lamina validate` finds."""
        from lamina.validate import runner

        names = [plain_name(e) for e in environment or []]
        with context.repository() as repo:
            report = runner.run(repo, names)
        return {
            "ok": report.ok,
            "targets": len(report.targets),
            "problems": [d.to_json() for d in report.diagnostics],
        }

    @app.get(f"{API}/plan")
    def plan(
        _who: Reader,
        from_rev: Annotated[str | None, Query(alias="from", max_length=200)] = None,
        to_rev: Annotated[str | None, Query(alias="to", max_length=200)] = None,
    ) -> dict[str, Any]:
        """What a change does to every target (default: HEAD to the working tree)."""
        from lamina.plan import planning

        for rev in (from_rev, to_rev):
            if rev is not None and rev.startswith("-"):
                raise HTTPException(400, "a revision cannot start with '-'")
        result: dict[str, Any] = planning.plan_revisions(
            settings.repo_root, from_rev or "HEAD", to_rev
        ).to_json()
        return result

    @app.get(f"{API}/audit")
    def audit(_who: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        """The newest audit records, newest first."""
        return context.database.read(lambda s: [audit_log.to_json(r) for r in audit_log.newest(s, limit)])

    @app.get(f"{API}/audit/verify")
    def audit_verify(_who: Reader) -> dict[str, Any]:
        """Check the audit log's hash chain."""
        result = context.database.read(audit_log.verify)
        return {
            "ok": result.ok,
            "rows": result.rows,
            "first_broken": result.first_broken,
            "problem": result.problem,
        }

    from lamina.server import api_state, dashboard

    app.include_router(api_state.build_router())
    app.include_router(dashboard.build_router())
    return app


def repo_root(app: FastAPI) -> Path:
    """The repository the application serves."""
    context: Context = app.state.context
    return context.settings.repo_root
