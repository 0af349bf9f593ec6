"""``[alerts]`` in lamina.toml: how long a state must hold, and which sinks each environment's
alerts go to. The repository names environment variables, never values::

    [alerts]
    for = "10m"

    [alerts.production]
    sinks = [
        {type = "slack", url_env = "SLACK_PROD_URL"},
        {type = "msteams", url_env = "TEAMS_PROD_URL"},
        {type = "discord", url_env = "DISCORD_PROD_URL", events = ["apply-failed", "drift"]},
        {type = "pagerduty", routing_key_env = "PD_PROD_KEY"},
        {type = "webhook", url_env = "ALERT_HOOK_URL", secret_env = "ALERT_HOOK_KEY"},
    ]

A sink hears every topic (``lamina.core.notices.Topic``) unless ``events`` lists some; PagerDuty
hears only problems unless ``events`` says otherwise. A secret written into lamina.toml itself
(``url = "https://hooks.slack.com/..."``, ``routing_key = "..."``) is refused at its file:line.
Looking the variables up is the business of whoever sends (:mod:`lamina.notify.settings`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import msgspec

from lamina.core.notices import Topic
from lamina.errors import FleetError, Place
from lamina.fleet import durations
from lamina.fleet.tables import TableReader
from lamina.source.documents import Document

DEFAULT_HOLD = timedelta(minutes=10)
SINK_TYPES = ("slack", "msteams", "discord", "pagerduty", "webhook")
_VARIABLES = {
    "slack": ("url_env",),
    "msteams": ("url_env",),
    "discord": ("url_env",),
    "pagerduty": ("routing_key_env", "url_env"),
    "webhook": ("url_env", "secret_env"),
}
_REQUIRED = {"pagerduty": "routing_key_env"}
_LITERALS = {
    "url": "url_env",
    "webhook_url": "url_env",
    "secret": "secret_env",
    "routing_key": "routing_key_env",
    "integration_key": "routing_key_env",
    "key": "secret_env",
    "token": "secret_env",
}
"""Keys that would hold a secret in lamina.toml itself, and the key that names a variable instead."""


@dataclass(frozen=True)
class SinkSpec:
    """One configured sink, naming the environment variables that hold its URL and key.

    Attributes:
        key: where it is configured (``alerts.production.sinks[0]``), safe to log.
        kind: ``slack`` or ``webhook``.
    """

    key: str
    kind: str
    url_env: str | None
    secret_env: str | None = None
    routing_key_env: str | None = None
    """PagerDuty: the variable holding the integration's routing key."""
    events: tuple[Topic, ...] = ()
    """The topics it hears; empty: every topic (PagerDuty: every problem)."""
    place: Place | None = field(default=None, compare=False)
    """Where lamina.toml declares it."""


class AlertRoutes(msgspec.Struct, frozen=True):
    """``[alerts]``: the hold time (``for``) and the sinks of each environment."""

    hold: timedelta = DEFAULT_HOLD
    routes: Mapping[str, tuple[SinkSpec, ...]] = msgspec.field(default_factory=dict)

    def variables(self) -> set[str]:
        """Every environment variable a sink names (their values are secrets)."""
        every = (sink for sinks in self.routes.values() for sink in sinks)
        return {name for s in every for name in (s.url_env, s.secret_env, s.routing_key_env) if name}


def load(doc: Document, environments: Collection[str]) -> AlertRoutes:
    """Read ``[alerts]``.

    Raises:
        FleetError: a malformed table, an unknown environment or sink type.
    """
    section = TableReader(doc, ("alerts",))

    def fail(message: str, *path: str | int) -> FleetError:
        return section.fail(message, path)

    hold = DEFAULT_HOLD
    routes: dict[str, tuple[SinkSpec, ...]] = {}
    for name, value in section.table.items():
        if name == "for":
            if not isinstance(value, str):
                raise fail("alerts.for must be a duration like '10m'", "for")
            try:
                hold = durations.parse_duration(value)
            except ValueError as exc:
                raise fail(f"alerts.for: {exc}", "for") from None
            continue
        if not isinstance(value, Mapping):
            raise fail(f"alerts.{name} must be a table of an environment's sinks", name)
        if name not in environments:
            known = ", ".join(sorted(environments))
            raise fail(f"alerts.{name}: unknown environment {name!r} (known: {known})", name)
        routes[name] = _sinks(name, value, fail, section.doc.place(("alerts", name, "sinks")))
    return AlertRoutes(hold=hold, routes=routes)


Fail = Callable[..., FleetError]


def _sinks(env: str, table: Mapping[str, object], fail: Fail, place: Place) -> tuple[SinkSpec, ...]:
    unknown = sorted(set(table) - {"sinks"})
    if unknown:
        raise fail(f"alerts.{env}: unknown key {unknown[0]!r} (known: sinks)", env, unknown[0])
    sinks = table.get("sinks", [])
    if not isinstance(sinks, list):
        raise fail(f"alerts.{env}.sinks must be a list of sink tables", env, "sinks")
    out = []
    for index, sink in enumerate(sinks):
        key = f"alerts.{env}.sinks[{index}]"
        if not isinstance(sink, Mapping):
            raise fail(f'{key} must be a table like {{type = "slack", url_env = "..."}}', env, "sinks")
        kind = sink.get("type")
        if kind not in SINK_TYPES:
            raise fail(f"{key}.type must be one of {', '.join(SINK_TYPES)}, not {kind!r}", env, "sinks")
        kind = str(kind)
        for name in sorted(set(sink) & set(_LITERALS)):
            raise fail(
                f"{key}.{name}: lamina.toml holds no secrets; put the value in an environment "
                f"variable and name it with {_LITERALS[name]}",
                env,
                "sinks",
                index,
                name,
            )
        allowed = {"type", "events", *_VARIABLES[kind]}
        extra = sorted(set(sink) - allowed)
        if extra:
            raise fail(f"{key}: unknown key {extra[0]!r} for a {kind} sink", env, "sinks")
        found = {name: _variable(key, name, sink, fail, env) for name in _VARIABLES[kind]}
        required = _REQUIRED.get(kind, "url_env")
        if found[required] is None:
            what = "routing key" if required == "routing_key_env" else "URL"
            raise fail(
                f"{key}.{required} is required: the environment variable holding the {what}", env, "sinks"
            )
        out.append(
            SinkSpec(
                key=key,
                kind=kind,
                url_env=found.get("url_env"),
                secret_env=found.get("secret_env"),
                routing_key_env=found.get("routing_key_env"),
                events=_events(key, sink.get("events"), fail, env),
                place=place,
            )
        )
    return tuple(out)


def _variable(key: str, name: str, sink: Mapping[str, object], fail: Fail, env: str) -> str | None:
    variable = sink.get(name)
    if variable is None:
        return None
    if not isinstance(variable, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
        raise fail(f'{key}.{name} must name an environment variable, like "ALERT_HOOK_URL"', env, "sinks")
    return variable


def _events(key: str, value: object, fail: Fail, env: str) -> tuple[Topic, ...]:
    if value is None:
        return ()
    known = ", ".join(topic.value for topic in Topic)
    if not isinstance(value, list) or not value:
        raise fail(f"{key}.events must be a list of topics ({known})", env, "sinks")
    out = []
    for item in value:
        try:
            out.append(Topic(item))
        except ValueError:
            raise fail(f"{key}.events: unknown topic {item!r} (known: {known})", env, "sinks") from None
    return tuple(out)
