"""The CLI as a client of ``lamina serve``: with ``LAMINA_SERVER`` and ``LAMINA_TOKEN`` set,
``promote request|approve|reject|apply``, ``apply`` and ``drift --heal`` call the server's API
instead of acting on the local clone, so the token's user decides (proven, not typed) and the
server's rules apply.

The server's answer keeps lamina's exit codes: 400/401/422 exit 2 (bad input or no valid
token), 403 exit 2 (a rule refused), 404 exit 2 (no such request), 409 exit 1 (refused),
5xx or no answer exit 3. The token is sent as a bearer token and never printed.
"""

from __future__ import annotations

import os
from typing import Any

from lamina.errors import InputError, OutsideError, Refused, RuleRefused, UnknownTargetError

SERVER = "LAMINA_SERVER"
TOKEN = "LAMINA_TOKEN"
TIMEOUT = 120.0  # applying a request runs git and pushes; gates may take a while


def server() -> tuple[str, str] | None:
    """(base URL, token) when the CLI is a server client, else None.

    Raises:
        InputError: one of the two variables is set without the other.
    """
    url, token = os.environ.get(SERVER, "").strip(), os.environ.get(TOKEN, "").strip()
    if not url and not token:
        return None
    if not url or not token:
        have, lack = (SERVER, TOKEN) if url else (TOKEN, SERVER)
        raise InputError(f"{have} is set but {lack} is not: set both to act through the server, or neither")
    return url.rstrip("/"), token


def refuse_without_endpoint(command: str) -> None:
    """Refuse a state-changing command the server's API cannot run yet, rather than act locally
    while ``LAMINA_SERVER`` says the server decides.

    Raises:
        InputError: ``LAMINA_SERVER`` is set.
    """
    if server() is not None:
        raise InputError(
            f"{command} cannot go through the server yet (its API has no endpoint for it); "
            f"unset {SERVER} and {TOKEN} to run it from this clone"
        )


def call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One API call; the answer's JSON, or lamina's error for its status.

    Raises:
        InputError, RuleRefused, UnknownTargetError, Refused, OutsideError: by the status.
    """
    import httpx

    found = server()
    assert found is not None
    url, token = found
    try:
        response = httpx.request(
            method,
            f"{url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise OutsideError(f"cannot reach the lamina server at {url}: {exc}") from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.is_success and isinstance(answer, dict):
        return answer
    detail = answer.get("detail") if isinstance(answer, dict) else None
    text = detail if isinstance(detail, str) else f"HTTP {response.status_code}"
    said = f"the server at {url} refused: {text}"
    status = response.status_code
    if status == 401:
        raise InputError(f"the server at {url} does not accept the token in {TOKEN} (401)")
    if status == 403:
        raise RuleRefused(said)
    if status == 404:
        raise UnknownTargetError(said)
    if status == 409:
        raise Refused(said)
    if 400 <= status < 500:
        raise InputError(said)
    raise OutsideError(f"the server at {url} failed: {text} (HTTP {status})")


def request_id(text: str) -> str:
    """``PR-7`` or ``7`` as the number the API takes."""
    number = text.strip().upper().removeprefix("PR-")
    if not number.isdigit():
        raise InputError(f"{text!r} is not a request ID like PR-7")
    return number
