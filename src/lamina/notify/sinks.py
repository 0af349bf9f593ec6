"""Where notices go: Slack, Microsoft Teams, Discord, PagerDuty (Events API v2), a signed webhook.

Every sink is a :class:`Sink`: it lays a :class:`~lamina.notify.messages.Message` out in its
receiver's format and posts it with httpx, with a timeout, sending the notice's idempotency
key as ``Idempotency-Key`` (PagerDuty's ``dedup_key``). A temporary failure (a transport error,
408, 429, 5xx) is retried at once with exponential backoff and jitter (stamina); what is still
failing after that is left to the sender, which tries the notice again later
(``notify/sending.py``). Another 4xx is permanent for this attempt.

Sink URLs, signing keys and routing keys are secrets (a Slack webhook URL is a credential).
They are never logged or put in an error: sinks are named by where they are configured
(``alerts.production.sinks[0]``). Requests go through httpx's transport directly, because
httpx's client logs every request's full URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from lamina.core.notices import Topic
from lamina.errors import OutsideError
from lamina.notify.messages import Message
from lamina.notify.settings import SinkConfig

log = logging.getLogger("lamina.notify")

SIGNATURE_HEADER = "X-Lamina-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SLACK_HEADER_LIMIT = 150
SLACK_SECTION_LIMIT = 3000
DISCORD_CONTENT_LIMIT = 2000
DISCORD_TITLE_LIMIT = 256
DISCORD_DESCRIPTION_LIMIT = 4096
PAGERDUTY_SUMMARY_LIMIT = 1024
_COLOURS = {"info": 0x2E7D32, "warning": 0xF9A825, "error": 0xC62828}
_TEMPORARY = (408, 425, 429)


class DeliveryError(OutsideError):
    """A sink did not take a notice (after the immediate retries, when the failure was temporary)."""


class _Temporary(Exception):
    """A failure worth retrying at once (a transport error, 408, 429, 5xx)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class RetryPolicy:
    """The immediate retries of one delivery: ``attempts`` tries, waits growing from ``backoff``.

    Attributes:
        attempts: tries of one delivery before the sender leaves it for later.
        backoff: the first wait, in seconds (then doubling, with up to ``backoff`` of jitter).
        max_backoff: the longest wait.
        timeout: seconds each request may take.
    """

    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 5.0
    timeout: float = 10.0


def signature(secret: str, body: bytes) -> str:
    """The ``X-Lamina-Signature`` value of body: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _mrkdwn(message: Message) -> str:
    body = "\n".join(f"• {line}" for line in message.lines)
    if len(body) > SLACK_SECTION_LIMIT:
        body = body[: SLACK_SECTION_LIMIT - 1] + "…"
    return body


def slack_payload(message: Message) -> dict[str, Any]:
    """Slack's message format: ``text`` (the notification's fallback) and ``blocks``."""
    icon = ":large_green_circle:" if message.resolved else _SLACK_ICONS[message.severity]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:SLACK_HEADER_LIMIT]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} {message.summary}"[:3000]}},
    ]
    if message.lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(message)}})
    if message.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in lamina"},
                        "url": message.link,
                    }
                ],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"lamina · {message.topic.value} · {message.at.isoformat(timespec='seconds')}",
                }
            ],
        }
    )
    return {"text": f"{icon} {message.summary}", "blocks": blocks}


_SLACK_ICONS = {"info": ":large_blue_circle:", "warning": ":large_orange_circle:", "error": ":red_circle:"}


def teams_payload(message: Message) -> dict[str, Any]:
    """A Microsoft Teams incoming webhook (Workflows) message: one Adaptive Card."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": message.title, "wrap": True},
        {"type": "TextBlock", "text": message.summary, "wrap": True},
    ]
    if message.lines:
        body.append(
            {"type": "TextBlock", "text": "\n".join(f"- {line}" for line in message.lines), "wrap": True}
        )
    body.append(
        {
            "type": "TextBlock",
            "text": f"lamina · {message.topic.value} · {message.at.isoformat(timespec='seconds')}",
            "isSubtle": True,
            "size": "Small",
            "wrap": True,
        }
    )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in lamina", "url": message.link}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def discord_payload(message: Message) -> dict[str, Any]:
    """A Discord webhook message: the summary and one embed (nobody is mentioned)."""
    embed: dict[str, Any] = {
        "title": message.title[:DISCORD_TITLE_LIMIT],
        "description": "\n".join([message.summary, *message.lines])[:DISCORD_DESCRIPTION_LIMIT],
        "color": _COLOURS["info" if message.resolved else message.severity],
        "timestamp": message.at.isoformat(),
        "footer": {"text": f"lamina · {message.topic.value}"},
    }
    if message.link:
        embed["url"] = message.link
    return {
        "content": message.summary[:DISCORD_CONTENT_LIMIT],
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }


def pagerduty_events(message: Message, routing_key: str) -> list[dict[str, Any]]:
    """PagerDuty Events API v2 events: one per cluster of a drift notice (so each cluster's
    incident resolves on its own), else one per notice, deduplicated by the idempotency key."""
    keys: list[tuple[str, str | None]]
    if message.topic is Topic.DRIFT and message.clusters:
        condition = str(message.facts.get("condition", "drift"))
        keys = [
            (f"lamina/{message.environment}/{cluster}/{condition}", cluster) for cluster in message.clusters
        ]
    else:
        keys = [(message.key, None)]
    events = []
    for dedup, cluster in keys:
        summary = (
            message.summary if cluster is None else f"{message.environment}/{cluster}: {message.summary}"
        )
        event: dict[str, Any] = {
            "routing_key": routing_key,
            "event_action": "resolve" if message.resolved else "trigger",
            "dedup_key": dedup[:255],
            "client": "lamina",
        }
        if not message.resolved:
            event["payload"] = {
                "summary": summary[:PAGERDUTY_SUMMARY_LIMIT],
                "source": f"lamina/{message.environment}" + (f"/{cluster}" if cluster else ""),
                "severity": message.severity,
                "timestamp": message.at.isoformat(),
                "component": cluster or message.environment or "lamina",
                "group": message.environment or "lamina",
                "class": message.topic.value,
                "custom_details": {"subject": message.subject, "details": list(message.lines)},
            }
            if message.link:
                event["links"] = [{"href": message.link, "text": "Open in lamina"}]
        events.append(event)
    return events


class Sink:
    """POST a message to one receiver, retrying temporary failures at once with backoff.

    Args:
        config: the configured sink (its URL and keys stay inside this object).
        retry: how one delivery is retried.
    """

    def __init__(self, config: SinkConfig, retry: RetryPolicy | None = None) -> None:
        self._config = config
        self.retry = retry or RetryPolicy()
        self._transport = httpx.HTTPTransport(retries=0)

    @property
    def key(self) -> str:
        """Where it is configured (``alerts.production.sinks[0]``): what the outbox records."""
        return self._config.key

    @property
    def name(self) -> str:
        """``alerts.production.sinks[0] (slack)``: safe to log."""
        return f"{self._config.key} ({self._config.kind})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"

    def hears(self, topic: Topic) -> bool:
        """True when notices on topic go to this sink."""
        return self._config.hears(topic)

    def payloads(self, message: Message) -> list[dict[str, Any]]:
        """The JSON bodies that carry message (most sinks: one)."""
        return [message.to_json()]

    def headers(self, message: Message, body: bytes) -> dict[str, str]:
        """Request headers for body."""
        return {
            "Content-Type": "application/json",
            "User-Agent": "lamina-notify/2",
            IDEMPOTENCY_HEADER: message.key,
        }

    def deliver(self, message: Message) -> None:
        """Post every body of message.

        Raises:
            DeliveryError: the receiver refused, or kept failing through the retries.
        """
        import stamina
        import stamina.instrumentation

        # each failed try is logged here, naming the sink; stamina's own log line says less
        stamina.instrumentation.set_on_retry_hooks(())
        for payload in self.payloads(message):
            body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
            headers = self.headers(message, body)
            try:
                for attempt in stamina.retry_context(
                    on=_Temporary,
                    attempts=self.retry.attempts,
                    timeout=None,
                    wait_initial=self.retry.backoff,
                    wait_max=self.retry.max_backoff,
                    wait_jitter=self.retry.backoff,
                ):
                    with attempt:
                        self._post(body, headers)
            except _Temporary as exc:
                raise DeliveryError(
                    f"{self.name} failed after {self.retry.attempts} attempts: {exc.problem}"
                ) from None

    def _post(self, body: bytes, headers: Mapping[str, str]) -> None:
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
            raise _Temporary(type(exc).__name__) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if status >= 500 or status in _TEMPORARY:
            log.warning("notice to %s failed (HTTP %d); retrying", self.name, status)
            raise _Temporary(f"HTTP {status}")
        raise DeliveryError(f"{self.name} refused the notice: HTTP {status}")

    def close(self) -> None:
        """Close pooled connections."""
        self._transport.close()


class SlackSink(Sink):
    """A Slack incoming webhook."""

    def payloads(self, message: Message) -> list[dict[str, Any]]:
        """Slack's ``text`` and ``blocks``."""
        return [slack_payload(message)]


class TeamsSink(Sink):
    """A Microsoft Teams incoming webhook (a Workflows "post to a channel" URL)."""

    def payloads(self, message: Message) -> list[dict[str, Any]]:
        """An Adaptive Card message."""
        return [teams_payload(message)]


class DiscordSink(Sink):
    """A Discord channel webhook."""

    def payloads(self, message: Message) -> list[dict[str, Any]]:
        """``content`` and one embed."""
        return [discord_payload(message)]


class PagerDutySink(Sink):
    """PagerDuty's Events API v2, with the integration's routing key."""

    def payloads(self, message: Message) -> list[dict[str, Any]]:
        """One event per incident (see :func:`pagerduty_events`)."""
        assert self._config.secret is not None  # settings require routing_key_env
        return pagerduty_events(message, self._config.secret)


class WebhookSink(Sink):
    """A generic webhook: the message as JSON, signed with HMAC-SHA256 when a key is configured."""

    def headers(self, message: Message, body: bytes) -> dict[str, str]:
        """Adds ``X-Lamina-Signature: sha256=<hex>`` when the sink has a signing key."""
        headers = super().headers(message, body)
        if self._config.secret:
            headers[SIGNATURE_HEADER] = signature(self._config.secret, body)
        return headers


_KINDS: dict[str, type[Sink]] = {
    "slack": SlackSink,
    "msteams": TeamsSink,
    "discord": DiscordSink,
    "pagerduty": PagerDutySink,
    "webhook": WebhookSink,
}


def build(config: SinkConfig, retry: RetryPolicy | None = None) -> Sink:
    """The sink a configured ``type`` names."""
    return _KINDS[config.kind](config, retry)


def build_routes(
    routes: Mapping[str, tuple[SinkConfig, ...]], retry: RetryPolicy | None = None
) -> dict[str, list[Sink]]:
    """A sink for every configured sink, by environment."""
    return {env: [build(config, retry) for config in configs] for env, configs in routes.items()}
