"""Asking Prometheus: its HTTP API (``/api/v1/query``) through httpx; PromQL is evaluated by
Prometheus, never here."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from lamina.errors import OutsideError


class ProviderDown(OutsideError):
    """Prometheus could not be asked, or did not answer a query."""


class Prometheus:
    """One Prometheus server; counts the queries it sends. Close it when done."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.shown = shown(self.url)
        """The URL as messages name it: without a user, password or query, which may hold a token."""
        self.queries = 0
        self._client = httpx.Client(timeout=timeout)

    def query(self, promql: str) -> list[tuple[Mapping[str, str], float]]:
        """The instant vector (or scalar) promql evaluates to now: (labels, value) per series.

        Raises:
            ProviderDown: unreachable, an error status, or an answer that is not a result.
        """
        self.queries += 1
        try:
            response = self._client.get(f"{self.url}/api/v1/query", params={"query": promql})
        except httpx.HTTPError as exc:
            raise ProviderDown(f"prometheus at {self.shown} unreachable: {type(exc).__name__}") from None
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise ProviderDown(
                f"prometheus at {self.shown} answered {response.status_code}"
                + (f": {str(error).splitlines()[0]}" if error else "")
            )
        data = body.get("data") or {}
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar" and isinstance(result, list) and len(result) == 2:
            return [({}, _number(result[1]))]
        if kind != "vector" or not isinstance(result, list):
            raise ProviderDown(f"prometheus at {self.shown} answered a {kind}, not an instant vector")
        return [
            (dict(item.get("metric") or {}), _number(item.get("value", [0, "NaN"])[1])) for item in result
        ]

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()


def shown(url: str) -> str:
    """url without what may be a credential: its user, password, query and fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return (
        f"{parts.scheme}://{host}{port}{parts.path}"
        if parts.scheme and host
        else "(a URL lamina cannot read)"
    )


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan
