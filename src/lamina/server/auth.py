"""Who is calling, and what they may do: the one place the server decides it.

**The token.** A caller presents a bearer token, in ``Authorization: Bearer <token>`` (the
API's way) or, for a person with a browser, in the dashboard's session cookie: the token
itself, kept HttpOnly and SameSite=Strict. A browser sends cookies with requests that other
sites make it send, so the API takes the cookie for ``GET`` and ``HEAD`` only; anything that
changes state needs the header, or, on the dashboard's own forms, the cookie and the form's
CSRF token (:mod:`lamina.server.pages.rendering`). :func:`presented_token` reads the token for
both.

**The roles.** ``viewer``, ``editor``, ``approver:<env>`` and ``admin`` (who holds every
role); a token without roles may do nothing. :func:`authorize` says which roles grant each
:class:`Permission`, for every API route, every dashboard page and every dashboard button.
Both, and every rule that is not about roles (nobody decides on their own request,
``[promotion.approvers]`` lists, proven identities on protected environments), are decided by
the library's one enforcement point, :func:`lamina.guard.rules.authorize`, which the command
line obeys too; this module only maps a route's :class:`Permission` onto it.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request

from lamina.errors import RuleRefused
from lamina.fleet.model import Fleet
from lamina.guard import rules
from lamina.server import context
from lamina.server.tokens import Identity
from lamina.store.promotions import PromotionRecord

COOKIE = "lamina_token"
"""The dashboard's session cookie: the bearer token itself."""

READ_METHODS = ("GET", "HEAD")
"""The methods for which the API accepts the session cookie instead of the header."""


class Permission(enum.Enum):
    """What a caller wants to do; :func:`authorize` says which roles may."""

    READ = "read"
    """See anything: configs, plans, promotions, history, drift, the audit log (any role)."""
    EDIT = "edit"
    """Request a promotion or run a drift check now (editor)."""
    DECIDE = "decide"
    """Approve or reject a promotion into an environment (approver:<env>)."""
    APPLY = "apply"
    """Commit an approved promotion's pin into an environment (approver:<env>)."""
    SHIP = "ship"
    """Apply or heal targets: write config to their clusters (editor)."""
    RUN_DRIFT = "run-drift"
    """Check drift now (editor)."""
    FREEZE = "freeze"
    """Freeze or unfreeze an environment (approver:<env>)."""


_ACTIONS = {
    Permission.READ: rules.Action.READ,
    Permission.EDIT: rules.Action.REQUEST,
    Permission.DECIDE: rules.Action.DECIDE,
    Permission.APPLY: rules.Action.APPLY_REQUEST,
    Permission.SHIP: rules.Action.SHIP,
    Permission.RUN_DRIFT: rules.Action.RUN_DRIFT,
    Permission.FREEZE: rules.Action.FREEZE,
}
_PER_ENVIRONMENT = (Permission.DECIDE, Permission.APPLY, Permission.FREEZE)


def authorize(who: Identity, permission: Permission, environment: str | None = None) -> None:
    """Return when who's roles grant permission (in environment); raise otherwise.

    ``admin`` holds every role; any role reads; a token without roles may not even read.

    Args:
        who: the caller.
        permission: what the caller wants to do.
        environment: the environment a promotion goes into (or that is frozen); needed for
            DECIDE, APPLY and FREEZE.

    Raises:
        RuleRefused: the roles do not grant it (403), saying which role would.
        ValueError: DECIDE, APPLY or FREEZE without an environment.
    """
    if permission in _PER_ENVIRONMENT and environment is None:
        raise ValueError(f"{permission.value} is granted per environment; name one")
    intent = rules.Intent(_ACTIONS[permission], (environment,) if environment else ())
    rules.authorize(who.actor(), intent, fleet=None, db=None, now=datetime.now(UTC))


def allows(who: Identity | None, permission: Permission, environment: str | None = None) -> bool:
    """True when who is someone and :func:`authorize` lets them do it."""
    if who is None:
        return False
    try:
        authorize(who, permission, environment)
    except RuleRefused:
        return False
    return True


def authorize_decision(who: Identity, record: PromotionRecord, fleet: Fleet) -> None:
    """Return when who may approve or reject record: the promotion rules, then the roles.

    Raises:
        RuleRefused: who requested it, is not in ``[promotion.approvers]``, or lacks the role.
    """
    intent = rules.Intent(rules.Action.DECIDE, (record.target,), request=record)
    rules.authorize(who.actor(), intent, fleet=fleet, db=None, now=datetime.now(UTC))


def _read_token(request: Request) -> tuple[str, bool]:
    """(token, whether it came from the cookie): the bearer header, else the session cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip(), False
    return request.cookies.get(COOKIE, "").strip(), True


def presented_token(request: Request) -> str:
    """The token of this request: the bearer header, else the session cookie ("" if neither).

    The cookie counts whatever the method here: the dashboard's forms check a CSRF token made
    from it. :func:`identity` drops it for changes to the API.
    """
    return _read_token(request)[0]


def signed_in(request: Request) -> Identity | None:
    """Whose token the request carries (header or cookie), or None."""
    token = presented_token(request)
    return context.of(request).tokens().identify(token) if token else None


async def identity(request: Request) -> Identity:
    """The API's caller: 401 without a valid token.

    The cookie counts for ``GET`` and ``HEAD`` only (see the module's docstring).
    """
    token, from_cookie = _read_token(request)
    if from_cookie and request.method not in READ_METHODS:
        token = ""
    found = context.of(request).tokens().identify(token) if token else None
    if found is None:
        raise HTTPException(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    return found


Authenticated = Annotated[Identity, Depends(identity)]
"""An API caller with a valid token, whatever its roles."""


async def reader(who: Authenticated) -> Identity:
    """An API caller who may read (403 for a token without roles)."""
    authorize(who, Permission.READ)
    return who


Reader = Annotated[Identity, Depends(reader)]
"""An API caller who may read."""


async def editor(who: Authenticated) -> Identity:
    """An API caller with the editor (or admin) role; 403 otherwise."""
    authorize(who, Permission.EDIT)
    return who


Editor = Annotated[Identity, Depends(editor)]
"""An API caller who may request promotions, rollbacks and changes."""


async def shipper(who: Authenticated) -> Identity:
    """An API caller who may apply or heal targets (editor or admin); 403 otherwise."""
    authorize(who, Permission.SHIP)
    return who


Shipper = Annotated[Identity, Depends(shipper)]
"""An API caller who may write config to clusters (the rules decide per target after)."""


async def drift_runner(who: Authenticated) -> Identity:
    """An API caller who may check drift now (editor or admin); 403 otherwise."""
    authorize(who, Permission.RUN_DRIFT)
    return who


DriftRunner = Annotated[Identity, Depends(drift_runner)]
"""An API caller who may run a drift check now."""


async def page_viewer(request: Request) -> Identity:
    """The dashboard's signed-in reader; anyone else is sent to /login (and comes back after).

    Asynchronous like the API's checks (a stat of the tokens file and a hash, no waiting), so
    it runs without a trip through the thread pool."""
    who = signed_in(request)
    if who is not None and allows(who, Permission.READ):
        return who
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise HTTPException(303, "sign in first", {"Location": f"/login?next={quote(target, safe='')}"})


Viewer = Annotated[Identity, Depends(page_viewer)]
"""A dashboard reader, signed in with the session cookie (or a bearer header)."""
