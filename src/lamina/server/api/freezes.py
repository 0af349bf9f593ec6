"""Freezes over the API: list them, freeze an environment, lift its freeze.

The same use cases as ``lamina freeze`` and ``lamina unfreeze``
(:func:`lamina.server.actions.freeze`); freezing ENV needs ``approver:ENV`` (or admin). The
recurring windows of ``[[promotion.freeze]]`` live in lamina.toml and are not changed here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field

from lamina.server import actions, api, auth, context
from lamina.server.guards import plain_name
from lamina.store import audit
from lamina.store import promotions as store

router = APIRouter(prefix=f"{api.PREFIX}/freezes", dependencies=[Depends(auth.reader)])


class Freeze(BaseModel):
    """Until when (an ISO time, UTC when it has no zone, or a duration like ``4h``) and why."""

    until: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=2000)


@router.get("")
def list_freezes(shared: context.Shared, _who: auth.Reader) -> list[dict[str, Any]]:
    """The manual freezes in force now."""
    now = shared.clock()
    return [
        {
            "environment": f.environment,
            "until": audit.timestamp(f.until),
            "reason": f.reason,
            "actor": f.actor,
        }
        for f in store.freezes(shared.database)
        if store.utc(f.until) > now
    ]


@router.put("/{environment}")
def freeze(
    shared: context.Shared, environment: str, body: Annotated[Freeze, Body()], who: auth.Authenticated
) -> dict[str, Any]:
    """Freeze environment: no request, apply of a request or shipment until then (but emergencies)."""
    env, end = actions.freeze(shared, who, plain_name(environment), until=body.until, reason=body.reason)
    return {"environment": env, "until": audit.timestamp(end), "reason": body.reason, "actor": who.user}


@router.delete("/{environment}")
def unfreeze(shared: context.Shared, environment: str, who: auth.Authenticated) -> dict[str, Any]:
    """Lift environment's manual freeze (the windows of lamina.toml still apply)."""
    env, lifted = actions.unfreeze(shared, who, plain_name(environment))
    return {"environment": env, "unfrozen": lifted}
