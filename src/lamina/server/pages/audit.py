"""The audit log as a page: the newest records and whether their hash chain holds.

The same records and check as ``GET /api/v1/audit`` and ``/api/v1/audit/verify``, laid out
for reading, each record's detail shown as JSON text.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from lamina.errors import LaminaError
from lamina.server import auth, context
from lamina.server.pages import rendering
from lamina.store import audit as audit_log

router = APIRouter(include_in_schema=False, dependencies=[Depends(auth.page_viewer)])


@router.get("/audit")
def audit(
    request: Request,
    shared: context.Shared,
    who: auth.Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """The newest limit records, newest first, and the chain check."""
    database = shared.database
    try:
        rows = database.read(lambda s: [audit_log.to_json(r) for r in audit_log.newest(s, limit)])
        verified = database.read(audit_log.verify)
    except LaminaError as exc:
        return rendering.failure(request, who, str(exc), exc.http_status)
    for row in rows:
        row["detail_text"] = (
            json.dumps(row["detail"], sort_keys=True, ensure_ascii=False) if row["detail"] else ""
        )
    data = {"title": "Audit log", "rows": rows, "verified": verified, "limit": limit}
    return rendering.page(request, who, "audit.html", data)
