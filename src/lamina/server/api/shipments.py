"""Shipping over the API: apply targets' config to their clusters (``lamina apply``).

The same use case as the command line (:func:`lamina.server.actions.ship`): vetting, then the
rules (roles, freezes, protected environments; ``force`` needs admin and a reason), then the
apply, wave by wave, and its record. A refusal leaves only its audit row.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field

from lamina.server import actions, api, auth, context
from lamina.server.guards import plain_target

router = APIRouter(prefix=f"{api.PREFIX}/apply", dependencies=[Depends(auth.identity)])


class Shipment(BaseModel):
    """``ENV`` or ``ENV/CLUSTER`` targets to apply; ``force``: why to ship past a refusal (admin)."""

    targets: list[str] = Field(min_length=1, max_length=500)
    force: str | None = Field(default=None, max_length=2000)


@router.post("")
def apply_targets(
    shared: context.Shared, body: Annotated[Shipment, Body()], who: auth.Shipper
) -> dict[str, Any]:
    """Vet, authorize and apply; each cluster's outcome, in wave order."""
    shipped = actions.ship(shared, who, [plain_target(t) for t in body.targets], force=body.force)
    answer: dict[str, Any] = {
        "outcomes": [outcome.to_json() for outcome in shipped.outcomes],
        "failed": shipped.failed,
    }
    if body.force is not None:
        answer["overridden"] = list(shipped.overridden)
    return answer
