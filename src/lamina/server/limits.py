"""The middleware every request passes: body limits, safe headers and request timings.

Plain ASGI, because Starlette's ``BaseHTTPMiddleware`` costs more than the API's hottest
handlers. It knows no route: the application tells it where the API lives.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from lamina.server import metrics


class LimitsAndTiming:
    """Refuse oversized bodies (413), mark every answer nosniff and API answers no-store, and
    time every request for /metrics.

    Args:
        app: the ASGI application it wraps.
        max_body_bytes: the largest request body taken, declared or streamed.
        metrics: where request durations are recorded (by route template, never by URL).
        api_prefix: answers under this path hold config: they are never cached.
    """

    def __init__(self, app: Any, max_body_bytes: int, metrics: metrics.Metrics, api_prefix: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.api_prefix = api_prefix

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

        api = str(scope.get("path", "")).startswith(self.api_prefix)

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
