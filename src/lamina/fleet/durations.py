"""Durations as lamina.toml and the command line write them: ``"90s"``, ``"10m"``, ``"1h30m"``,
``"1d12h"``, ``"250ms"``, ``"0.5s"`` or ``"0"``. One grammar for every setting and option."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s)?\s*(?:(\d+)ms)?\s*$"
)


def parse_duration(text: str) -> timedelta:
    """``"10m"``, ``"1h30m"``, ``"1d12h"``, ``"30s"``, ``"0.3s"``, ``"250ms"`` or ``"0"`` as a timedelta.

    Raises:
        ValueError: text is not such a duration.
    """
    if text.strip() == "0":
        return timedelta(0)
    match = _DURATION.match(text)
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like '10m', '1h30m', '1d12h', '30s' or '0'")
    days, hours, minutes, seconds, millis = match.groups()
    return timedelta(
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=float(seconds or 0),
        milliseconds=int(millis or 0),
    )


def format_duration(delta: timedelta) -> str:
    """A duration as ``1d2h3m`` (seconds shown only under a minute)."""
    total = int(delta.total_seconds())
    if total < 60:
        return f"{max(total, 0)}s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return "".join(parts) or "0m"
