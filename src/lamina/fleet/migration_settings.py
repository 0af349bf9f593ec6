"""``[[migrations]]``: how an old ``schema_version`` of a config file becomes the newest.

::

    [[migrations]]
    from    = 1
    to      = 2
    rename  = {"agent.llm" = "agent.model"}      # or the dotted-key form {agent.llm = "agent.model"}
    remove  = ["agent.legacy_mode"]
    default = {"guardrails.max_tool_calls" = 12} # set only where the file does not set it

Only the declaration lives here; upgrading a file is :mod:`lamina.resolve.migrations`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lamina.core.paths import KeyPath, format_path, parse_path
from lamina.errors import FleetError
from lamina.source.documents import Document


class Migration(msgspec.Struct, frozen=True):
    """One ``[[migrations]]`` entry: from one schema version to a later one."""

    source: int
    target: int
    rename: tuple[tuple[KeyPath, KeyPath], ...]
    remove: tuple[KeyPath, ...]
    default: tuple[tuple[KeyPath, Any], ...]


def load(doc: Document) -> tuple[Migration, ...]:
    """Read ``[[migrations]]``.

    Raises:
        FleetError: an entry is malformed, or two entries start at the same version.
    """
    raw = doc.data.get("migrations", [])
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise FleetError("migrations must be written as [[migrations]] tables", doc.place(("migrations",)))
    found: dict[int, Migration] = {}
    for index, item in enumerate(raw):
        at: KeyPath = ("migrations", index)
        source, target = item.get("from"), item.get("to")
        if not (_is_int(source) and _is_int(target)) or target <= source:
            raise FleetError("from and to must be integers with to > from", doc.place(at))
        if source in found:
            raise FleetError(f"two migrations start from version {source}", doc.place(at))
        for key in item:
            if key not in ("from", "to", "rename", "remove", "default"):
                raise FleetError(f"unknown key {key!r} in [[migrations]]", doc.place((*at, key)))
        try:
            rename = tuple(
                (old, _path(new)) for old, new in _flatten(item.get("rename", {}), (*at, "rename"))
            )
            remove = tuple(_path(p) for p in _list(item.get("remove", [])))
            default = tuple(_flatten(item.get("default", {}), (*at, "default")))
        except (ValueError, TypeError) as exc:
            raise FleetError(f"bad migration: {exc}", doc.place(at)) from None
        found[source] = Migration(source, target, rename, remove, default)
    return tuple(found.values())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _path(text: Any) -> KeyPath:
    if not isinstance(text, str):
        raise TypeError(f"{text!r} is not a key")
    return parse_path(text)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("remove must be a list of keys")
    return value


def _flatten(table: Any, at: KeyPath, prefix: KeyPath = ()) -> list[tuple[KeyPath, Any]]:
    # {agent.llm = "x"} arrives as nested tables, {"agent.llm" = "x"} as a dotted string key
    if not isinstance(table, dict):
        raise TypeError(f"{format_path(at)} must be a table")
    out: list[tuple[KeyPath, Any]] = []
    for key, value in table.items():
        path = (*prefix, *parse_path(key))
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, at, path))
        else:
            out.append((path, value))
    return out
