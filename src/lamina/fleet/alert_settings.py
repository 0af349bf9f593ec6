"""``[alerts]`` in lamina.toml: how long a state must hold, and which sinks each environment's
alerts go to. The repository names environment variables, never values::

    [alerts]
    for = "10m"

    [alerts.production]
    sinks = [
        {type = "slack", url_env = "SLACK_PROD_URL"},
        {type = "webhook", url_env = "ALERT_HOOK_URL", secret_env = "ALERT_HOOK_KEY"},
    ]

Looking the variables up is the server's business (:mod:`lamina.notify.settings`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from lamina.errors import FleetError, Place
from lamina.fleet import durations
from lamina.fleet.tables import TableReader
from lamina.source.documents import Document

DEFAULT_HOLD = timedelta(minutes=10)
SINK_TYPES = ("slack", "webhook")


@dataclass(frozen=True)
class SinkSpec:
    """One configured sink, naming the environment variables that hold its URL and key.

    Attributes:
        key: where it is configured (``alerts.production.sinks[0]``), safe to log.
        kind: ``slack`` or ``webhook``.
    """

    key: str
    kind: str
    url_env: str
    secret_env: str | None = None
    place: Place | None = field(default=None, compare=False)
    """Where lamina.toml declares it."""


@dataclass(frozen=True)
class AlertRoutes:
    """``[alerts]``: the hold time (``for``) and the sinks of each environment."""

    hold: timedelta = DEFAULT_HOLD
    routes: Mapping[str, tuple[SinkSpec, ...]] = field(default_factory=dict)

    def variables(self) -> set[str]:
        """Every environment variable a sink names (their values are secrets)."""
        names = {sink.url_env for sinks in self.routes.values() for sink in sinks}
        return names | {s.secret_env for sinks in self.routes.values() for s in sinks if s.secret_env}


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
        allowed = {"type", "url_env"} | ({"secret_env"} if kind == "webhook" else set())
        extra = sorted(set(sink) - allowed)
        if extra:
            raise fail(f"{key}: unknown key {extra[0]!r} for a {kind} sink", env, "sinks")
        url_env = _variable(key, "url_env", sink, fail, env)
        if url_env is None:
            raise fail(f"{key}.url_env is required: the environment variable holding the URL", env, "sinks")
        secret_env = _variable(key, "secret_env", sink, fail, env)
        out.append(SinkSpec(key=key, kind=str(kind), url_env=url_env, secret_env=secret_env, place=place))
    return tuple(out)


def _variable(key: str, name: str, sink: Mapping[str, object], fail: Fail, env: str) -> str | None:
    variable = sink.get(name)
    if variable is None:
        return None
    if not isinstance(variable, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
        raise fail(f'{key}.{name} must name an environment variable, like "ALERT_HOOK_URL"', env, "sinks")
    return variable
