"""What every dashboard page shares: the templates, their filters, the status tables, the
page frame and its headers, and the CSRF tokens of the forms.

Sessions are the bearer token itself, kept in an HttpOnly, SameSite=Strict cookie
(:mod:`lamina.server.auth`). Every form that changes something carries a CSRF token: an HMAC
of the session token and the action (``decide:7`` for the approve and reject buttons of PR-7),
so it needs no server-side state and works across replicas, and a page from another site can
neither read it nor forge it. A POST whose ``Origin`` names another host is refused as well.

The templates are built per application (:func:`templates`), because the times they show
("4 min ago") are read against the application's clock, which a test may fix.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from lamina.promote import requests
from lamina.server import auth, context
from lamina.server.tokens import Identity
from lamina.store import promotions as store
from lamina.store import summary

SERVER = Path(__file__).parent.parent
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
    "verified": ("ok", "Verified", "✓"),
    "verification-failed": ("bad", "Verification failed", "✗"),
    "rejected": ("bad", "Rejected", "✗"),
    "failed": ("bad", "Gate failed", "✗"),
    "stale": ("warn", "Stale", "↻"),
    "passed": ("ok", "Passed", "✓"),
    "waiting": ("info", "Waiting", "…"),
    "done": ("ok", "Backfill done", "✓"),
    "open": ("warn", "Backfill open", "●"),
    "overdue": ("bad", "Backfill overdue", "!"),
}
ROLLOUT = {
    "running": ("info", "Running", "●"),
    "paused": ("warn", "Paused", "‖"),
    "succeeded": ("ok", "Succeeded", "✓"),
    "failed": ("bad", "Failed, rolled back", "✗"),
    "aborted": ("bad", "Aborted, rolled back", "✗"),
}
ROLLOUT_CLUSTER = {
    "pending": ("muted", "Pending", "…"),
    "applying": ("info", "Applying", "↻"),
    "applied": ("ok", "Applied", "✓"),
    "rolled-back": ("warn", "Rolled back", "↺"),
}
MEASUREMENT = {
    "passed": ("ok", "Passed", "✓"),
    "failed": ("bad", "Failed", "✗"),
    "inconclusive": ("warn", "Inconclusive", "?"),
}


def ago(moment: datetime | None, now: datetime) -> str:
    """How long before now moment was, in the largest whole unit ("3 h ago"), or "never"."""
    if moment is None:
        return "never"
    seconds = int((now - store.utc(moment)).total_seconds())
    if seconds < 10:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def ago_changes(moment: datetime, now: datetime) -> datetime:
    """The first moment after now at which :func:`ago` of moment reads differently."""
    at = store.utc(moment)
    seconds = int((now - at).total_seconds())
    if seconds < 10:
        return at + timedelta(seconds=10)
    for size in (86400, 3600, 60, 1):
        if seconds >= size:
            return at + timedelta(seconds=(seconds // size + 1) * size)
    raise AssertionError("unreachable")  # pragma: no cover


_SHOWN_TIMES: ContextVar[list[datetime] | None] = ContextVar("lamina_shown_times", default=None)


@contextmanager
def times_shown(now: datetime) -> Iterator[list[datetime]]:
    """Collects, while templates render in this context, when each relative time they show
    ("4 min ago") next changes; a rendered fragment holds until the earliest of them."""
    changes: list[datetime] = []
    token = _SHOWN_TIMES.set(changes)
    try:
        yield changes
    finally:
        _SHOWN_TIMES.reset(token)


def _ago_filter(clock: context.Clock) -> Callable[[datetime | None], str]:
    def shown(moment: datetime | None) -> str:
        now = clock()
        changes = _SHOWN_TIMES.get()
        if changes is not None and moment is not None:
            changes.append(ago_changes(moment, now))
        return ago(moment, now)

    return shown


def iso(moment: datetime | None) -> str:
    """moment as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC ("" for None)."""
    return store.utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def templates(clock: context.Clock) -> Jinja2Templates:
    """The dashboard's templates, with the filters and tables they use; times read clock."""
    built = Jinja2Templates(directory=SERVER / "templates")
    built.env.auto_reload = False  # they ship with lamina: no stat of each template per page
    built.env.filters["ago"] = _ago_filter(clock)
    built.env.filters["iso"] = iso
    built.env.globals.update(
        drift_tone=DRIFT,
        promotion_tone=PROMOTION,
        rollout_tone=ROLLOUT,
        cluster_tone=ROLLOUT_CLUSTER,
        measurement_tone=MEASUREMENT,
    )
    return built


def open_promotions(session: Session) -> int:
    """How many promotion requests are open (pending, testing or approved)."""
    return summary.open_promotions(session, [status.value for status in OPEN_STATUSES])


def csrf_token(session_token: str, action: str) -> str:
    """The CSRF token of a form: HMAC-SHA256 keyed by the session token over the action."""
    return hmac.new(session_token.encode(), f"lamina-form:{action}".encode(), hashlib.sha256).hexdigest()


def same_origin(request: Request) -> bool:
    """False when the request's ``Origin`` names another host than the one it was sent to."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # browsers send Origin on cross-site POSTs; SameSite=Strict covers the rest
    return urlsplit(origin).netloc == request.headers.get("host")


def page(
    request: Request, who: Identity | None, name: str, data: dict[str, Any], status: int = 200
) -> Response:
    """Template name rendered with data, in the frame every page shares, with its headers.

    Args:
        request: the request being answered.
        who: the signed-in reader (None on the sign-in page): shown in the header, with the
            sign-out form's CSRF token and the number of open promotions.
        name: the template.
        data: what the template shows.
        status: the HTTP status.
    """
    shared = context.of(request)
    data = {**data, "who": who, "now": shared.clock()}
    if who is not None:
        data["logout_csrf"] = csrf_token(auth.presented_token(request), "logout")
        if "open_count" not in data:  # the fleet page counts them with its snapshot
            data["open_count"] = shared.database.read(open_promotions)
    found: Jinja2Templates = request.app.state.templates
    response: Response = found.TemplateResponse(request, name, data, status, SECURITY_HEADERS)
    return response


def failure(request: Request, who: Identity | None, message: str, status: int) -> Response:
    """The error page: what went wrong, with status."""
    return page(request, who, "error.html", {"title": "Something went wrong", "message": message}, status)


def refuse_forgery(request: Request, who: Identity, action: str, sent: str) -> Response | None:
    """The 403 page when a form's CSRF token is not the one for action, or it came from
    another site; None when the form may be acted on."""
    expected = csrf_token(auth.presented_token(request), action)
    if not same_origin(request) or not hmac.compare_digest(expected, sent):
        message = "This form is stale or did not come from this dashboard. Reload the page and try again."
        return failure(request, who, message, 403)
    return None
