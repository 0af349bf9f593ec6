"""Reading one table of lamina.toml into typed values, every mistake an error at its file:line.

Each settings module describes its table with a :class:`TableReader`: the known keys, and one
typed getter per key. Unknown keys are refused, so a typo never silently means "default".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

from lamina.core.paths import KeyPath
from lamina.errors import FleetError
from lamina.fleet import durations
from lamina.source.documents import Document

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def header(path: KeyPath) -> str:
    """``[render.argocd]`` for ("render", "argocd")."""
    return "[" + ".".join(str(part) for part in path) + "]"


class TableReader:
    """One table of lamina.toml at path (absent: an empty table).

    Args:
        doc: the parsed lamina.toml.
        path: where the table is (``("render",)``, ``("environments", "production", "isolation")``).
        known: the keys it may hold; others are refused. None: any key (the caller checks).
    """

    def __init__(self, doc: Document, path: KeyPath, known: Collection[str] | None = None) -> None:
        self.doc = doc
        self.path = path
        node: Any = doc.data
        for part in path:
            if isinstance(part, int):  # an entry of an array of tables, [[promotion.freeze]]
                node = node[part] if isinstance(node, list) and part < len(node) else None
            else:
                node = node.get(part, {}) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise self.fail(f"{header(path)} must be a table", ())
        self.table: Mapping[str, Any] = node
        if known is not None:
            for key in self.table:
                if key not in known:
                    raise self.fail(
                        f"unknown key {key!r} in {header(path)} (known: {', '.join(sorted(known))})", (key,)
                    )

    def fail(self, message: str, at: KeyPath = ()) -> FleetError:
        """An error placed at a key of this table (or the table itself)."""
        return FleetError(message, self.doc.place((*self.path, *at)))

    def name(self, key: str) -> str:
        """How a key is named in messages: ``[render] keep``."""
        return f"{header(self.path)} {key}"

    def has(self, key: str) -> bool:
        """True when the table sets key."""
        return key in self.table

    def string(self, key: str, default: str | None = None) -> str | None:
        """A non-empty string."""
        value = self.table.get(key, default)
        if value is not None and (not isinstance(value, str) or not value):
            raise self.fail(f"{self.name(key)} must be a non-empty string", (key,))
        return value

    def text(self, key: str, default: str) -> str:
        """A non-empty string with a default."""
        value = self.string(key, default)
        assert value is not None
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """true or false."""
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{self.name(key)} must be true or false", (key,))
        return value

    def integer(self, key: str, default: int, minimum: int | None = None) -> int:
        """An integer, at least minimum."""
        value = self.table.get(key, default)
        wanted = "a positive integer" if minimum == 1 else "an integer"
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{self.name(key)} must be {wanted}", (key,))
        if minimum is not None and value < minimum:
            bound = wanted if minimum == 1 else f"at least {minimum}"
            raise self.fail(f"{self.name(key)} must be {bound}", (key,))
        return value

    def number(self, key: str, default: float, low: float | None = None, high: float | None = None) -> float:
        """A number (integer or float) within [low, high]."""
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{self.name(key)} must be a number", (key,))
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else ""
            bounds = bounds or (f"at least {low:g}" if low is not None else f"at most {high:g}")
            raise self.fail(f"{self.name(key)} must be {bounds}", (key,))
        return float(value)

    def duration(self, key: str, default: timedelta | None) -> timedelta | None:
        """A duration like ``"10m"``."""
        value = self.table.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.fail(f"{self.name(key)} must be a duration like '10m'", (key,))
        try:
            return durations.parse_duration(value)
        except ValueError as exc:
            raise self.fail(f"{self.name(key)}: {exc}", (key,)) from None

    def strings(self, key: str, default: tuple[str, ...] = (), what: str = "strings") -> tuple[str, ...]:
        """A list of non-empty strings (``what`` names them in the error: "key globs")."""
        value = self.table.get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise self.fail(f"{self.name(key)} must be a list of {what}", (key,))
        return tuple(value)

    def variable(self, key: str) -> str | None:
        """The name of an environment variable (never its value)."""
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not _VARIABLE.match(value):
            raise self.fail(f'{self.name(key)} must name an environment variable, like "API_URL"', (key,))
        return value

    def sub(self, key: str, known: Collection[str] | None = None) -> TableReader:
        """The sub-table at key."""
        return TableReader(self.doc, (*self.path, key), known)

    def environments(self, key: str, names: Collection[str]) -> dict[str, Any]:
        """A table keyed by environment name; an unknown environment is an error."""
        table = self.table.get(key, {})
        if not isinstance(table, Mapping):
            raise self.fail(f"{self.name(key)} must be a table by environment", (key,))
        for env in table:
            if env not in names:
                known = ", ".join(sorted(names)) or "none"
                raise self.fail(
                    f"{self.name(key)} names unknown environment {env!r} (known: {known})", (key, env)
                )
        return dict(table)
