"""The audit log: its newest records and a check of its hash chain, for any role.

Every change lamina makes (a request, a decision, a pin, an apply) writes one record in the
same transaction, each chained to the one before; this is where a reader sees them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from lamina.server import api, auth, context
from lamina.store import audit as audit_log

router = APIRouter(prefix=f"{api.PREFIX}/audit", dependencies=[Depends(auth.reader)])


@router.get("")
def audit(shared: context.Shared, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """The newest audit records, newest first."""
    return shared.database.read(lambda s: [audit_log.to_json(r) for r in audit_log.newest(s, limit)])


@router.get("/verify")
def audit_verify(shared: context.Shared) -> dict[str, Any]:
    """Check the audit log's hash chain."""
    result = shared.database.read(audit_log.verify)
    return {
        "ok": result.ok,
        "rows": result.rows,
        "first_broken": result.first_broken,
        "problem": result.problem,
    }
