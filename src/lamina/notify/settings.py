"""``[alerts]`` in lamina.toml: how long a state must hold, and where each environment's alerts go.

The repository names environment variables, never values::

    [alerts]
    for = "10m"

    [alerts.production]
    sinks = [
        {type = "slack", url_env = "SLACK_PROD_URL"},
        {type = "webhook", url_env = "ALERT_HOOK_URL", secret_env = "ALERT_HOOK_KEY"},
    ]

The values are looked up once, when the server starts, in the environment passed in; a
variable that is not set is an :class:`~lamina.errors.InputError` naming the key and the
variable, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from lamina.errors import InputError
from lamina.fleet.model import Fleet

DEFAULT_HOLD = timedelta(minutes=10)
SINK_TYPES = ("slack", "webhook")

_DURATION = re.compile(
    r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s)?\s*(?:(\d+)ms)?\s*$"
)


def parse_duration(text: str) -> timedelta:
    """``"10m"``, ``"1h30m"``, ``"30s"``, ``"0.3s"``, ``"250ms"`` or ``"0"`` as a timedelta.

    Raises:
        ValueError: text is not such a duration.
    """
    if text.strip() == "0":
        return timedelta(0)
    match = _DURATION.match(text)
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like '10m', '1h30m', '30s' or '0'")
    days, hours, minutes, seconds, millis = match.groups()
    return timedelta(
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=float(seconds or 0),
        milliseconds=int(millis or 0),
    )


@dataclass(frozen=True)
class SinkConfig:
    """One configured sink, with its secret values resolved (never shown in ``repr``).

    Attributes:
        key: where it is configured (``alerts.production.sinks[0]``), safe to log.
        kind: ``slack`` or ``webhook``.
        url: the URL from the environment variable ``url_env`` names.
        secret: the signing key from ``secret_env`` (webhooks only), or None.
    """

    key: str
    kind: str
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]``: the hold time (``for``) and the sinks of each environment."""

    hold: timedelta = DEFAULT_HOLD
    routes: Mapping[str, tuple[SinkConfig, ...]] = field(default_factory=dict)


def load(fleet: Fleet, environ: Mapping[str, str]) -> AlertSettings:
    """Read ``[alerts]`` and resolve every sink's URL and key from environ.

    Raises:
        InputError: a malformed table, an unknown environment or sink type, or an
            environment variable that is not set.
    """
    section = fleet.section("alerts")
    document = fleet.document

    def fail(message: str, *path: str | int) -> InputError:
        return InputError(message, document.place(("alerts", *path)))

    hold = DEFAULT_HOLD
    routes: dict[str, tuple[SinkConfig, ...]] = {}
    for name, value in section.items():
        if name == "for":
            if not isinstance(value, str):
                raise fail("alerts.for must be a duration like '10m'", "for")
            try:
                hold = parse_duration(value)
            except ValueError as exc:
                raise fail(f"alerts.for: {exc}", "for") from None
            continue
        if not isinstance(value, Mapping):
            raise fail(f"alerts.{name} must be a table of an environment's sinks", name)
        if name not in fleet.environments:
            known = ", ".join(sorted(fleet.environments))
            raise fail(f"alerts.{name}: unknown environment {name!r} (known: {known})", name)
        routes[name] = _sinks(name, value, environ, fail)
    return AlertSettings(hold=hold, routes=routes)


def _sinks(
    env: str, table: Mapping[str, Any], environ: Mapping[str, str], fail: Any
) -> tuple[SinkConfig, ...]:
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
        url = _variable(key, "url_env", sink, environ, fail, env)
        if url is None:
            raise fail(f"{key}.url_env is required: the environment variable holding the URL", env, "sinks")
        if not url.startswith(("https://", "http://")):
            raise fail(f"{key}.url_env: ${sink['url_env']} does not hold an http(s) URL", env, "sinks")
        secret = _variable(key, "secret_env", sink, environ, fail, env)
        out.append(SinkConfig(key=key, kind=str(kind), url=url, secret=secret))
    return tuple(out)


def _variable(
    key: str, name: str, sink: Mapping[str, Any], environ: Mapping[str, str], fail: Any, env: str
) -> str | None:
    variable = sink.get(name)
    if variable is None:
        return None
    if not isinstance(variable, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
        raise fail(f'{key}.{name} must name an environment variable, like "ALERT_HOOK_URL"', env, "sinks")
    value = environ.get(variable)
    if not value:
        raise fail(f"{key}.{name}: environment variable {variable} is not set", env, "sinks")
    return value
