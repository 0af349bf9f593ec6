"""What went wrong talking to a cluster, sorted by what the caller should do about it.

A refused connection, an unknown host, a TLS failure or a timeout means the cluster could
not be reached; 401 and 403 are permanent (retrying will not help, the credentials or the
RBAC Role must change); 409 is a conflict with an object that already exists; 429 and 5xx
are temporary and retried with backoff (honouring ``Retry-After``). Every fault carries a
message that names the cluster, so one line per cluster tells the whole story.
"""

from __future__ import annotations

import enum
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lamina.errors import OutsideError

T = TypeVar("T")

MAX_RETRY_AFTER = 30.0
"""Never wait longer than this for one ``Retry-After``, whatever the server asks."""


class FaultKind(enum.Enum):
    """What the caller should do about a fault."""

    UNREACHABLE = "unreachable"
    """Connection refused, unknown host, TLS failure or timeout: report, move on."""
    PERMANENT = "permanent"
    """401/403 and other refusals: retrying cannot help."""
    CONFLICT = "conflict"
    """409: the object exists (or changed under us)."""
    NOT_FOUND = "not-found"
    """404: the object (or the namespace) does not exist."""
    TEMPORARY = "temporary"
    """429 and 5xx: retried with backoff."""


class ClusterFault(OutsideError):
    """A cluster operation failed; ``kind`` says how (exit code 3)."""

    def __init__(
        self, kind: FaultKind, message: str, cluster: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, f"cluster {cluster}" if cluster else None)
        self.kind = kind
        self.cluster = cluster
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return (type(self), (self.kind, self.message, self.cluster, self.retry_after))


def classify(exc: BaseException, cluster: str) -> ClusterFault:
    """Turn an exception of the Kubernetes client (or the network below it) into a fault."""
    if isinstance(exc, ClusterFault):
        return exc
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status > 0:
        return _http_fault(exc, status, cluster)
    if _is_network(exc) or status == 0:  # the client reports TLS failures as status 0
        return ClusterFault(FaultKind.UNREACHABLE, f"unreachable: {_network_reason(exc)}", cluster)
    detail = str(exc).splitlines()[0] if str(exc) else "no detail"
    return ClusterFault(
        FaultKind.PERMANENT, f"unexpected answer from the API server: {type(exc).__name__}: {detail}", cluster
    )


def _is_network(exc: BaseException) -> bool:
    import urllib3.exceptions

    return isinstance(exc, OSError | urllib3.exceptions.HTTPError)


def _http_fault(exc: BaseException, status: int, cluster: str) -> ClusterFault:
    reason = str(getattr(exc, "reason", "") or "").strip()
    text = f"HTTP {status}" + (f" {reason}" if reason else "")
    if status == 401:
        return ClusterFault(
            FaultKind.PERMANENT, f"{text}: the kubeconfig credentials were not accepted", cluster
        )
    if status == 403:
        return ClusterFault(
            FaultKind.PERMANENT,
            f"{text}: lamina's user may not do this here (see deploy/rbac.yaml for the Role it needs)",
            cluster,
        )
    if status == 404:
        return ClusterFault(FaultKind.NOT_FOUND, f"{text}: not found", cluster)
    if status == 409:
        return ClusterFault(FaultKind.CONFLICT, f"{text}: conflict with an existing object", cluster)
    if status == 429 or status >= 500:
        retry_after = _retry_after(getattr(exc, "headers", None))
        return ClusterFault(
            FaultKind.TEMPORARY, f"{text}: the API server is busy or failing", cluster, retry_after
        )
    return ClusterFault(FaultKind.PERMANENT, f"{text}: the API server refused the request", cluster)


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    try:
        value = headers.get("Retry-After")
    except AttributeError:
        return None
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), MAX_RETRY_AFTER))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _network_reason(exc: BaseException) -> str:
    """The most specific cause in the chain: refused, DNS, TLS or timeout."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        nested = getattr(current, "reason", None)
        current = nested if isinstance(nested, BaseException) else (current.__cause__ or current.__context__)
    for item in seen:
        name = type(item).__name__
        if isinstance(item, ssl.SSLError) or "SSL" in name or "SSLError" in str(item):
            return (
                "TLS handshake failed (check the certificate authority: the kubeconfig's, or a pod's ca.crt)"
            )
        if isinstance(item, socket.gaierror) or "NameResolution" in name:
            return "the API server's host name does not resolve"
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
        if isinstance(item, TimeoutError | socket.timeout) or "Timeout" in name:
            return "timed out waiting for the API server"
    for item in seen:
        if "refused" in str(item).lower():
            return "connection refused"
    last = seen[-1]
    return f"{type(last).__name__}: {str(last).splitlines()[0] if str(last) else 'no detail'}"


@dataclass
class RetryPolicy:
    """How temporary faults are retried: exponential backoff, ``Retry-After`` when given."""

    attempts: int = 4
    backoff: float = 0.2
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, fault: ClusterFault) -> float:
        """Seconds to wait before attempt number ``attempt + 1``."""
        if fault.retry_after is not None:
            return fault.retry_after
        return float(self.backoff * 2**attempt)


def call(cluster: str, policy: RetryPolicy, action: Callable[[], T]) -> T:
    """Run one API call; retry temporary faults; raise every other fault classified."""
    for attempt in range(policy.attempts):
        try:
            return action()
        except Exception as exc:
            fault = classify(exc, cluster)
            if fault.kind is not FaultKind.TEMPORARY or attempt == policy.attempts - 1:
                if fault.kind is FaultKind.TEMPORARY:
                    fault = ClusterFault(
                        fault.kind, f"{fault.message} (gave up after {policy.attempts} attempts)", cluster
                    )
                raise fault from None
            policy.sleep(policy.delay(attempt, fault))
    raise AssertionError("unreachable")
