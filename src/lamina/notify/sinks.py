"""Where alerts go: a Slack incoming webhook and a generic, signed JSON webhook.

Every sink is a :class:`Notifier`. The real ones post with httpx, with timeouts, and retry
temporary failures (a transport error, 429, 5xx) with exponential backoff; a 4xx other than
429 is permanent and not retried. :class:`BackgroundSink` wraps a sink in a bounded queue and
a thread of its own, so a failing receiver never holds up a drift check: when its queue is
full, new notices are dropped (and that is logged).

Sink URLs and signing keys are secrets (a Slack webhook URL is a credential). They are never
logged or put in an error: sinks are named by where they are configured
(``alerts.production.sinks[0]``). Requests go through httpx's transport directly, because
httpx's client logs every request's full URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from lamina.errors import OutsideError
from lamina.notify import alerts
from lamina.notify.settings import SinkConfig

log = logging.getLogger("lamina.notify")

SIGNATURE_HEADER = "X-Lamina-Signature"
SLACK_HEADER_LIMIT = 150
SLACK_SECTION_LIMIT = 3000


class Notifier(Protocol):
    """Something that can tell people about a notice."""

    @property
    def name(self) -> str:
        """A name safe to log (never a URL)."""
        ...

    def send(self, notice: alerts.Notice) -> None:
        """Deliver notice.

        Raises:
            DeliveryError: it could not be delivered.
        """
        ...


class DeliveryError(OutsideError):
    """A sink did not accept a notice (after retries, when the failure was temporary)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a temporary failure is retried: ``attempts`` tries, waits doubling from ``backoff``."""

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    timeout: float = 10.0

    def wait(self, attempt: int) -> float:
        """Seconds to wait after the given failed attempt (0-based)."""
        return float(min(self.max_backoff, self.backoff * 2**attempt))


def slack_payload(notice: alerts.Notice) -> dict[str, Any]:
    """Slack's message format: ``text`` (the notification's fallback) and ``blocks``."""
    firing = notice.kind is alerts.NoticeKind.FIRING
    icon = ":red_circle:" if firing else ":large_green_circle:"
    lines = []
    for note in notice.clusters:
        line = f"• *{note.cluster}*"
        if note.detail:
            line += f": {note.detail}"
        if note.fields:
            shown = ", ".join(f"`{path}`" for path in note.fields[:10])
            more = f" and {len(note.fields) - 10} more" if len(note.fields) > 10 else ""
            line += f" ({shown}{more})"
        lines.append(line)
    body = "\n".join(lines)
    if len(body) > SLACK_SECTION_LIMIT:
        body = body[: SLACK_SECTION_LIMIT - 1] + "…"
    header = f"{'Resolved' if not firing else 'Drift alert'}: {notice.environment}"
    return {
        "text": f"{icon} {notice.summary}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header[:SLACK_HEADER_LIMIT]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} {notice.summary}"[:3000]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body or "-"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"lamina · {notice.condition.value} · {notice.kind.value} · "
                        f"{notice.at.isoformat(timespec='seconds')}",
                    }
                ],
            },
        ],
    }


def signature(secret: str, body: bytes) -> str:
    """The ``X-Lamina-Signature`` value of body: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class HttpSink:
    """POST a JSON body to one URL, retrying temporary failures with backoff.

    Args:
        config: the configured sink (its URL and key stay inside this object).
        sleep: how to wait between attempts (a test or a stopping server passes its own).
    """

    def __init__(
        self,
        config: SinkConfig,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._transport = httpx.HTTPTransport(retries=0)

    @property
    def name(self) -> str:
        """``alerts.production.sinks[0] (slack)``."""
        return f"{self._config.key} ({self._config.kind})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"

    def payload(self, notice: alerts.Notice) -> dict[str, Any]:
        """The JSON body for notice."""
        return notice.to_json()

    def headers(self, body: bytes) -> dict[str, str]:
        """Request headers for body."""
        return {"Content-Type": "application/json", "User-Agent": "lamina-alerts/1"}

    def send(self, notice: alerts.Notice) -> None:
        """Post the notice; raise DeliveryError once retries are spent or the receiver refuses."""
        body = json.dumps(self.payload(notice), sort_keys=True, separators=(",", ":")).encode("utf-8")
        headers = self.headers(body)
        problem = ""
        for attempt in range(self.retry.attempts):
            status, problem = self._post(body, headers)
            if status is not None and 200 <= status < 300:
                return
            if status is not None and 400 <= status < 500 and status != 429:
                raise DeliveryError(f"{self.name} refused the alert: {problem}")
            if attempt < self.retry.attempts - 1:
                wait = self.retry.wait(attempt)
                log.warning("alert to %s failed (%s); retrying in %.2fs", self.name, problem, wait)
                self._sleep(wait)
        raise DeliveryError(f"{self.name} failed after {self.retry.attempts} attempts: {problem}")

    def _post(self, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str]:
        request = httpx.Request(
            "POST",
            self._config.url,
            content=body,
            headers=headers,
            extensions={"timeout": httpx.Timeout(self.retry.timeout).as_dict()},
        )
        try:
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.TransportError as exc:
            # the exception's text may quote the URL: name its type only
            return None, type(exc).__name__
        return response.status_code, f"HTTP {response.status_code}"

    def close(self) -> None:
        """Close pooled connections."""
        self._transport.close()


class SlackSink(HttpSink):
    """A Slack incoming webhook."""

    def payload(self, notice: alerts.Notice) -> dict[str, Any]:
        """Slack's ``text`` and ``blocks``."""
        return slack_payload(notice)


class WebhookSink(HttpSink):
    """A generic webhook: the notice as JSON, signed with HMAC-SHA256 when a key is configured."""

    def headers(self, body: bytes) -> dict[str, str]:
        """Adds ``X-Lamina-Signature: sha256=<hex>`` when the sink has a signing key."""
        headers = super().headers(body)
        if self._config.secret:
            headers[SIGNATURE_HEADER] = signature(self._config.secret, body)
        return headers


class BackgroundSink:
    """A sink that never blocks: notices wait in a bounded queue for a thread of their own.

    Args:
        inner: the sink that delivers.
        capacity: notices that may wait; beyond that new ones are dropped and logged.
    """

    def __init__(self, inner: Notifier, capacity: int = 100) -> None:
        self.inner = inner
        self._queue: queue.Queue[alerts.Notice | None] = queue.Queue(maxsize=capacity)
        self._stopping = threading.Event()
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._work, name=f"lamina-alerts-{inner.name}", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        """The inner sink's name."""
        return self.inner.name

    def send(self, notice: alerts.Notice) -> None:
        """Queue notice and return at once."""
        try:
            self._queue.put_nowait(notice)
        except queue.Full:
            self.dropped += 1
            log.error("alert queue of %s is full; dropped: %s", self.name, notice.summary)

    def _work(self) -> None:
        while True:
            notice = self._queue.get()
            try:
                if notice is None:
                    return
                if self._stopping.is_set():
                    continue
                self.inner.send(notice)
                self.delivered += 1
            except DeliveryError as exc:
                self.failed += 1
                log.error("alert not delivered: %s (%s)", exc, notice.summary if notice else "")
            except Exception as exc:  # a bug in a sink must not kill the thread
                self.failed += 1
                log.error("alert to %s failed: %s", self.name, type(exc).__name__)
            finally:
                self._queue.task_done()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued notice was handled; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued within timeout, then stop the thread."""
        if not self.drain(timeout):
            self._stopping.set()  # skip the rest
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)
        closer = getattr(self.inner, "close", None)
        if callable(closer):
            closer()


def build(config: SinkConfig, retry: RetryPolicy | None = None) -> HttpSink:
    """The sink a configured ``type`` names."""
    if config.kind == "slack":
        return SlackSink(config, retry)
    return WebhookSink(config, retry)


def start(
    routes: Mapping[str, tuple[SinkConfig, ...]], retry: RetryPolicy | None = None, capacity: int = 100
) -> dict[str, list[BackgroundSink]]:
    """A running background sink for every configured sink, by environment."""
    return {
        env: [BackgroundSink(build(c, retry), capacity) for c in configs] for env, configs in routes.items()
    }
