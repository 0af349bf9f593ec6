"""The sinks of ``[alerts]`` with their URLs and keys, looked up in the server's environment.

lamina.toml names environment variables (:mod:`lamina.fleet.alert_settings`); their values are
looked up once, when the server starts, in the environment passed in. A variable that is not
set is an :class:`~lamina.errors.InputError` naming the key and the variable, never its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from lamina.core.notices import Topic
from lamina.errors import InputError, Place
from lamina.fleet.alert_settings import DEFAULT_HOLD, AlertRoutes, SinkSpec

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
"""PagerDuty's Events API v2 (``url_env`` points a pagerduty sink elsewhere)."""


@dataclass(frozen=True)
class SinkConfig:
    """One configured sink, with its secret values resolved (never shown in ``repr``).

    Attributes:
        key: where it is configured (``alerts.production.sinks[0]``), safe to log.
        kind: ``slack``, ``msteams``, ``discord``, ``pagerduty`` or ``webhook``.
        url: the URL from the environment variable ``url_env`` names.
        secret: the signing key from ``secret_env`` (webhooks), or the routing key from
            ``routing_key_env`` (PagerDuty), or None.
        events: the topics it hears (empty: every topic; PagerDuty: every problem).
    """

    key: str
    kind: str
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    events: tuple[Topic, ...] = ()

    def hears(self, topic: Topic) -> bool:
        """True when a notice on topic goes to this sink."""
        if self.events:
            return topic in self.events
        return topic.problem or self.kind != "pagerduty"


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]`` with values: the hold time (``for``) and the sinks of each environment."""

    hold: timedelta = DEFAULT_HOLD
    routes: Mapping[str, tuple[SinkConfig, ...]] = field(default_factory=dict)


def load(declared: AlertRoutes, environ: Mapping[str, str]) -> AlertSettings:
    """Resolve every sink's URL and key from environ.

    Raises:
        InputError: an environment variable is not set, or its URL is not http(s).
    """
    routes = {env: tuple(_resolve(sink, environ) for sink in sinks) for env, sinks in declared.routes.items()}
    return AlertSettings(hold=declared.hold, routes=routes)


def _resolve(sink: SinkSpec, environ: Mapping[str, str]) -> SinkConfig:
    place = sink.place
    url = _value(sink, "url_env", sink.url_env, environ, place)
    if url is None:
        url = PAGERDUTY_URL
    if not url.startswith(("https://", "http://")):
        raise InputError(f"{sink.key}.url_env: ${sink.url_env} does not hold an http(s) URL", place)
    if sink.routing_key_env is not None:
        secret = _value(sink, "routing_key_env", sink.routing_key_env, environ, place)
    else:
        secret = _value(sink, "secret_env", sink.secret_env, environ, place)
    return SinkConfig(key=sink.key, kind=sink.kind, url=url, secret=secret, events=sink.events)


def _value(
    sink: SinkSpec, name: str, variable: str | None, environ: Mapping[str, str], place: Place | None
) -> str | None:
    if variable is None:
        return None
    value = environ.get(variable)
    if not value:
        raise InputError(f"{sink.key}.{name}: environment variable {variable} is not set", place)
    return value
