"""The dashboard: server-rendered pages over the library, for people with a browser.

Pages read the same library calls as the API and the CLI; nothing here decides policy. Who
may approve is :func:`lamina.promote.approvals.may_decide`, asked before a button is shown
and again (by :func:`lamina.promote.approvals.decide`) when the form comes back.

Sessions are the bearer token itself, kept in an HttpOnly, SameSite=Strict cookie. Every
form that changes something carries a CSRF token: an HMAC of the session token and the
action (``decide:7`` for the approve and reject buttons of PR-7), so it needs no server-side
state and works across replicas, and a page from another site can neither read it nor forge
it. A POST whose ``Origin`` names another host is refused as well.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from lamina.core.paths import KeyPath, format_path
from lamina.errors import LaminaError, RuleRefused
from lamina.promote import approvals, backfill, history, requests
from lamina.reports import views
from lamina.resolve import values
from lamina.resolve.repository import Repository
from lamina.resolve.resolved import ResolvedConfig
from lamina.server.guards import plain_name, plain_target
from lamina.server.tokens import Identity
from lamina.store import audit as audit_log
from lamina.store import promotions as store
from lamina.store import summary
from lamina.store.promotions import PromotionRecord
from lamina.validate import credentials

if TYPE_CHECKING:
    from lamina.server.app import Context

COOKIE = "lamina_token"
SESSION_SECONDS = 12 * 3600
HERE = Path(__file__).parent
STATIC = {"lamina.css": "text/css", "lamina.js": "text/javascript"}
MAX_ID = requests.MAX_ID
OPEN_STATUSES = (requests.Status.PENDING, requests.Status.TESTING, requests.Status.APPROVED)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# status -> (tone for the colour, label, symbol): the label and symbol carry the meaning, the
# colour only repeats it
DRIFT = {
    "in-sync": ("ok", "In sync", "✓"),
    "out-of-sync": ("warn", "Out of sync", "↻"),
    "drifted": ("bad", "Drifted", "✗"),
    "missing": ("bad", "Missing", "∅"),
    "unreachable": ("alert", "Unreachable", "!"),
    "suspended": ("muted", "Suspended", "‖"),
    "unchecked": ("muted", "Not checked", "?"),
}
PROMOTION = {
    "pending": ("info", "Pending gates", "…"),
    "testing": ("info", "Awaiting approval", "●"),
    "approved": ("ok", "Approved", "✓"),
    "promoted": ("ok", "Promoted", "✓"),
    "rejected": ("bad", "Rejected", "✗"),
    "failed": ("bad", "Gate failed", "✗"),
    "stale": ("warn", "Stale", "↻"),
    "passed": ("ok", "Passed", "✓"),
    "waiting": ("info", "Waiting", "…"),
    "done": ("ok", "Backfill done", "✓"),
    "open": ("warn", "Backfill open", "●"),
    "overdue": ("bad", "Backfill overdue", "!"),
}

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def presented_token(request: Request) -> str:
    """The token of this request: the bearer header (as the API takes it), else the cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        token = request.cookies.get(COOKIE, "")
    return token.strip()


def csrf_token(session_token: str, action: str) -> str:
    """The CSRF token of a form: HMAC-SHA256 keyed by the session token over the action."""
    return hmac.new(session_token.encode(), f"lamina-form:{action}".encode(), hashlib.sha256).hexdigest()


def _context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


def _identify(request: Request) -> Identity | None:
    token = presented_token(request)
    return _context(request).tokens().identify(token) if token else None


def page_reader(request: Request) -> Identity:
    """The signed-in reader; anyone else is sent to /login (and comes back after)."""
    who = _identify(request)
    if who is None or not who.can_read():
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "sign in first", {"Location": f"/login?next={quote(target, safe='')}"})
    return who


Viewer = Annotated[Identity, Depends(page_reader)]


def _safe_next(text: str | None) -> str:
    # only a path on this site: no scheme, no host, no //evil.example
    if not text or not text.startswith("/") or text.startswith(("//", "/\\")):
        return "/"
    return text


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # browsers send Origin on cross-site POSTs; SameSite=Strict covers the rest
    return urlsplit(origin).netloc == request.headers.get("host")


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = int((now - store.utc(moment)).total_seconds())
    if seconds < 10:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _iso(moment: datetime | None) -> str:
    return store.utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _display(value: Any) -> dict[str, Any]:
    """How a config value is shown: a secret reference, a long text, or one line of TOML-ish text."""
    if values.is_secret_ref(value):
        return {"kind": "secret", "text": value[values.SECRET_KEY]}
    if isinstance(value, str):
        first = value.splitlines()[0] if value else ""
        if "\n" in value.rstrip("\n") or len(value) > 120:
            return {"kind": "long", "text": value, "summary": first[:100]}
        return {"kind": "value", "text": json.dumps(value, ensure_ascii=False)}
    return {"kind": "value", "text": json.dumps(value, ensure_ascii=False, default=str)}


def _leaves(node: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    # a secret reference, a scalar, an empty table or a list of scalars is one row
    if isinstance(node, dict) and node and not values.is_secret_ref(node):
        for key, item in node.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(node, list) and any(isinstance(item, dict | list) for item in node):
        for index, item in enumerate(node):
            yield from _leaves(item, (*path, index))
    else:
        yield path, node


def config_rows(resolved: ResolvedConfig) -> list[dict[str, Any]]:
    """Every value of a target with the layer that set it, its file:line and reason (masked)."""
    rows = []
    for path, value in _leaves(credentials.mask_tree(resolved.plain())):
        leaf = next((p for p in reversed(path) if isinstance(p, str)), None)
        settings = [
            {
                "layer": s.layer,
                "kind": s.kind,
                "place": f"{s.file}:{s.line}" if s.line else s.file,
                "value": _display(credentials.mask_tree(s.value, leaf)),
                "reason": s.reason,
            }
            for s in resolved.settings(path)
        ]
        rows.append(
            {
                "key": format_path(path),
                "value": _display(value),
                "winner": settings[-1] if settings else None,
                "overridden": list(reversed(settings[:-1])),
            }
        )
    return rows


def matrix(repo: Repository, context: Context, now: datetime) -> list[dict[str, Any]]:
    """One row per environment (promotion order), one cell per cluster."""
    drift = {row.cluster: row for row in context.database.read(summary.drift_rows)}
    applies = context.database.read(summary.last_applies)
    hashes = context.target_hashes(repo)
    rows = []
    for name in repo.fleet.ordered_environments():
        env = repo.fleet.environments[name]
        pin = repo.pins.get(name)
        cells = []
        for cluster in repo.fleet.clusters_of(name):
            cell: dict[str, Any] = {"name": cluster.name, "labels": dict(cluster.labels)}
            found_hash = hashes.get(f"{name}/{cluster.name}", "not resolved")
            if isinstance(found_hash, str):
                cell["error"] = found_hash
            else:
                cell["hash"], cell["full_hash"] = found_hash
            found = drift.get(cluster.name)
            status = found.status if found else ("suspended" if cluster.suspended else "unchecked")
            cell["status"] = status
            if found is not None:
                cell["fields"], cell["checked"] = found.fields, found.checked_at
                cell["since"] = found.since
            last = applies.get(cluster.name)
            if last is not None:
                cell["apply"] = last
                cell["applied_other"] = last.config_hash != cell.get("full_hash")
            cells.append(cell)
        rows.append({"env": env, "pin": pin.revision if pin else None, "cells": cells})
    return rows


def decision_rights(who: Identity, record: PromotionRecord, repo: Repository) -> tuple[bool, str | None]:
    """Whether who may approve or reject record now, and if not, why (None: nothing to decide)."""
    if record.status != requests.Status.TESTING:
        return False, None
    if any(d.actor == who.user for d in record.decisions):
        return False, f"You already decided on {requests.format_id(record.id)}."
    try:
        approvals.may_decide(who.user, record, repo.fleet, who.roles)
    except RuleRefused as exc:
        return False, str(exc)
    if not who.approver_for(record.target):  # may_decide checks the roles too; never show more than it allows
        return False, f"Deciding needs the role approver:{record.target} (or admin)."
    return True, None


def build_router(now: Clock = _now) -> APIRouter:
    """The dashboard's pages, its forms and its two static files."""
    router = APIRouter(include_in_schema=False)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["ago"] = lambda moment: _ago(moment, now())
    templates.env.filters["iso"] = _iso
    templates.env.globals.update(drift_tone=DRIFT, promotion_tone=PROMOTION)

    def page(
        request: Request, who: Identity | None, name: str, data: dict[str, Any], status: int = 200
    ) -> Response:
        data = {**data, "who": who, "now": now()}
        if who is not None:
            token = presented_token(request)
            data["logout_csrf"] = csrf_token(token, "logout")
            data["open_count"] = len(store.list_requests(_context(request).database, OPEN_STATUSES))
        response: Response = templates.TemplateResponse(request, name, data, status, SECURITY_HEADERS)
        return response

    def failure(request: Request, who: Identity | None, message: str, status: int) -> Response:
        return page(request, who, "error.html", {"title": "Something went wrong", "message": message}, status)

    def refuse_forgery(request: Request, who: Identity, action: str, sent: str) -> Response | None:
        expected = csrf_token(presented_token(request), action)
        if not _same_origin(request) or not hmac.compare_digest(expected, sent):
            message = "This form is stale or did not come from this dashboard. Reload the page and try again."
            return failure(request, who, message, 403)
        return None

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        return FileResponse(
            HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "max-age=300"}
        )

    @router.get("/login")
    def login_form(request: Request, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
        who = _identify(request)
        if who is not None and who.can_read():
            return RedirectResponse(_safe_next(next), 303)
        return page(
            request, None, "login.html", {"title": "Sign in", "next": _safe_next(next), "error": None}
        )

    @router.post("/login")
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=500)] = "",
        next: Annotated[str, Form(max_length=500)] = "/",
    ) -> Response:
        who = _context(request).tokens().identify(token.strip()) if token.strip() else None
        error = None
        if not _same_origin(request):
            error = "This sign-in form did not come from this dashboard."
        elif who is None:
            error = "That token is not valid. Tokens start with lam_; ask an admin for one."
        elif not who.can_read():
            error = "That token has no role, so it cannot see anything. Ask an admin for a role."
        if error is not None:
            data = {"title": "Sign in", "next": _safe_next(next), "error": error}
            return page(request, None, "login.html", data, 401)
        response = RedirectResponse(_safe_next(next), 303)
        response.set_cookie(
            COOKIE,
            token.strip(),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.get("/logout")
    def logout_form(request: Request, who: Viewer) -> Response:
        return page(request, who, "logout.html", {"title": "Sign out"})

    @router.post("/logout")
    def logout(request: Request, who: Viewer, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
        refused = refuse_forgery(request, who, "logout", csrf)
        if refused is not None:
            return refused
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @router.get("/")
    def overview(request: Request, who: Viewer) -> Response:
        context = _context(request)
        try:
            with context.repository() as repo:
                rows = matrix(repo, context, now())
                fleet_name = repo.fleet.name
        except LaminaError as exc:
            return failure(request, who, str(exc), exc.http_status)
        counts: dict[str, int] = {}
        for row in rows:
            for cell in row["cells"]:
                counts[cell["status"]] = counts.get(cell["status"], 0) + 1
        data = {"title": "Fleet", "rows": rows, "counts": counts, "fleet_name": fleet_name}
        return page(request, who, "matrix.html", data)

    @router.get("/targets/{environment}/{cluster}")
    def target(
        request: Request,
        environment: str,
        cluster: str,
        who: Viewer,
        against: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        name = f"{plain_name(environment)}/{plain_name(cluster)}"
        other = plain_target(against) if against else None
        try:
            with _context(request).repository() as repo:
                resolved = repo.resolve(name)
                rows = config_rows(resolved)
                choices = [
                    t
                    for env in repo.fleet.ordered_environments()
                    for t in (env, *(f"{env}/{c.name}" for c in repo.fleet.clusters_of(env)))
                    if t != name
                ]
                changes = None
                if other is not None:
                    changes = views.diff(resolved, repo.resolve(other), name, other)["changes"]
                    for change in changes:
                        for side in ("a", "b"):
                            if side in change:
                                change[side] = _display(change[side])
                data = {
                    "title": name,
                    "name": name,
                    "environment": resolved.environment,
                    "resolved": resolved,
                    "pin": repo.pins.get(environment),
                    "rows": rows,
                    "choices": choices,
                    "against": other,
                    "changes": changes,
                }
        except LaminaError as exc:
            return failure(request, who, str(exc), exc.http_status)
        return page(request, who, "target.html", data)

    def promotions_page(
        request: Request,
        who: Identity,
        message: str | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        context = _context(request)
        token = presented_token(request)
        moment = now()
        cards: list[dict[str, Any]] = []
        try:
            with context.repository() as repo:
                for record in store.list_requests(context.database)[:100]:
                    allowed, why = decision_rights(who, record, repo)
                    state = backfill.status(repo, record, moment) if repo.git is not None else None
                    lagging = (
                        backfill.lagging(repo, record) if state in (backfill.OPEN, backfill.OVERDUE) else []
                    )
                    cards.append(
                        {
                            "record": record,
                            "name": requests.format_id(record.id),
                            "required": approvals.required_approvals(record, repo.fleet),
                            "allowed": allowed,
                            "why": why,
                            "backfill": state,
                            "lagging": lagging,
                            "csrf": csrf_token(token, f"decide:{record.id}") if allowed else None,
                        }
                    )
        except LaminaError as exc:
            return failure(request, who, str(exc), exc.http_status)
        is_open = {str(s) for s in OPEN_STATUSES}
        data = {
            "title": "Promotions",
            "open": [c for c in cards if c["record"].status in is_open],
            "closed": [c for c in cards if c["record"].status not in is_open],
            "message": message,
            "error": error,
        }
        return page(request, who, "promotions.html", data, status)

    @router.get("/promotions")
    def promotions(
        request: Request, who: Viewer, decided: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
    ) -> Response:
        message = None
        if decided is not None:
            try:
                record = store.get_request(_context(request).database, decided)
            except LaminaError:
                record = None
            mine = [d for d in record.decisions if d.actor == who.user] if record else []
            if record is not None and mine:
                verb = "approval" if mine[-1].decision == "approve" else "rejection"
                message = (
                    f"Your {verb} of {requests.format_id(record.id)} is recorded; it is now {record.status}."
                )
        return promotions_page(request, who, message)

    def decide(
        request: Request, who: Identity, request_id: int, approve: bool, csrf: str, comment: str
    ) -> Response:
        refused = refuse_forgery(request, who, f"decide:{request_id}", csrf)
        if refused is not None:
            return refused
        context = _context(request)
        try:
            with context.repository() as repo:
                approvals.decide(
                    repo,
                    context.database,
                    request_id,
                    actor=who.user,
                    approve=approve,
                    now=now(),
                    comment=comment.strip() or None,
                    roles=who.roles,
                )
        except LaminaError as exc:
            return promotions_page(request, who, error=str(exc), status=exc.http_status)
        return RedirectResponse(f"/promotions?decided={request_id}#PR-{request_id}", 303)

    @router.post("/promotions/{request_id}/approve")
    def approve(
        request: Request,
        request_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
        who: Viewer,
        csrf: Annotated[str, Form(max_length=200)] = "",
        comment: Annotated[str, Form(max_length=1000)] = "",
    ) -> Response:
        return decide(request, who, request_id, True, csrf, comment)

    @router.post("/promotions/{request_id}/reject")
    def reject(
        request: Request,
        request_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
        who: Viewer,
        csrf: Annotated[str, Form(max_length=200)] = "",
        comment: Annotated[str, Form(max_length=1000)] = "",
    ) -> Response:
        return decide(request, who, request_id, False, csrf, comment)

    @router.get("/history")
    def history_default(request: Request, who: Viewer) -> Response:
        try:
            with _context(request).repository() as repo:
                first = repo.fleet.ordered_environments()[0]
        except (LaminaError, IndexError) as exc:
            return failure(request, who, str(exc) or "the fleet has no environments", 404)
        return RedirectResponse(f"/history/{first}", 303)

    @router.get("/history/{environment}")
    def environment_history(request: Request, environment: str, who: Viewer) -> Response:
        context = _context(request)
        name = plain_name(environment)
        moment = now()
        try:
            with context.repository() as repo:
                events = history.events(repo, context.database, name, moment)
                figures = history.stats(repo, context.database, moment, [name])
                environments = list(repo.fleet.ordered_environments())
        except LaminaError as exc:
            return failure(request, who, str(exc), exc.http_status)
        data = {
            "title": f"History of {name}",
            "environment": name,
            "environments": environments,
            "events": events[:500],
            "stats": figures,
        }
        return page(request, who, "history.html", data)

    @router.get("/audit")
    def audit(request: Request, who: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> Response:
        database = _context(request).database
        try:
            rows = database.read(lambda s: [audit_log.to_json(r) for r in audit_log.newest(s, limit)])
            verified = database.read(audit_log.verify)
        except LaminaError as exc:
            return failure(request, who, str(exc), exc.http_status)
        for row in rows:
            row["detail_text"] = (
                json.dumps(row["detail"], sort_keys=True, ensure_ascii=False) if row["detail"] else ""
            )
        data = {"title": "Audit log", "rows": rows, "verified": verified, "limit": limit}
        return page(request, who, "audit.html", data)

    return router
