"""``[locks]``: keys only ``base/`` may set.

::

    [locks]
    keys = ["guardrails.pii_redaction"]          # for every environment

    [locks.production]
    keys = ["agent.model"]                       # for production's targets only

An overlay or cluster layer that writes a locked key, replaces a table containing it whole
(``guardrails = {"$replace" = {...}}``, ``{"$delete" = true}``, YAML ``null``) or, for a locked
table, writes anything inside it, is a problem placed at the line that writes it. Locks bind
the layers a target is built from: a lock of production-eu also binds ``overlays/production/``,
which production-eu extends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lamina.core.paths import KeyPath, format_path, parse_path
from lamina.errors import FleetError, Place
from lamina.fleet.model import Fleet
from lamina.resolve.provenance import Layer
from lamina.validate.diagnostics import Check, Diagnostic, Severity

SECTION = "locks"


@dataclass(frozen=True)
class Lock:
    """One locked key, for every environment (environment None) or for one."""

    key: str
    path: KeyPath
    environment: str | None
    place: Place


def load_locks(fleet: Fleet) -> tuple[Lock, ...]:
    """The locks lamina.toml declares.

    Raises:
        FleetError: ``keys`` is not a list of keys, or ``[locks.X]`` names an unknown environment.
    """
    section = fleet.section(SECTION)
    locks = list(_keys(fleet, section, (SECTION,), None))
    for name, table in section.items():
        if name == "keys":
            continue
        at = (SECTION, name)
        if not isinstance(table, dict):
            raise FleetError(
                f"[locks] {name}: expected keys = [...] or a [locks.<environment>] table",
                fleet.document.place(at),
            )
        if name not in fleet.environments:
            known = ", ".join(sorted(fleet.environments))
            raise FleetError(
                f"[locks.{name}]: unknown environment {name!r} (known: {known})", fleet.document.place(at)
            )
        unknown = sorted(set(table) - {"keys"})
        if unknown:
            raise FleetError(
                f"[locks.{name}]: unknown setting {unknown[0]!r}", fleet.document.place((*at, unknown[0]))
            )
        locks.extend(_keys(fleet, table, at, name))
    return tuple(locks)


def _keys(fleet: Fleet, table: Any, at: KeyPath, environment: str | None) -> list[Lock]:
    keys = table.get("keys", [])
    where = fleet.document.place((*at, "keys"))
    header = ".".join(str(part) for part in at)
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise FleetError(f"[{header}] keys must be a list of dotted keys", where)
    locks = []
    for index, key in enumerate(keys):
        try:
            path = parse_path(key)
        except ValueError as exc:
            raise FleetError(f"[{header}] keys: {exc}", fleet.document.place((*at, "keys", index))) from None
        locks.append(Lock(format_path(path), path, environment, fleet.document.place((*at, "keys", index))))
    return locks


def check(locks: Sequence[Lock], environment: str, layers: Sequence[Layer]) -> list[Diagnostic]:
    """Every write to a lock of environment by a layer other than ``base/``."""
    found = []
    for lock in locks:
        if lock.environment not in (None, environment):
            continue
        for layer in layers:
            if layer.kind == "base":
                continue
            for doc in layer.documents:
                written = writes(doc.data, lock.path)
                if written is None:
                    continue
                scope = f"for {lock.environment} " if lock.environment else ""
                found.append(
                    Diagnostic(
                        check=Check.LOCKS,
                        severity=Severity.ERROR,
                        target=None,
                        key=lock.key,
                        place=doc.place(written),
                        message=(
                            f"{layer.name} sets {format_path(written)}, but {lock.key} is locked "
                            f"{scope}({lock.place}): only base/ may set it"
                        ),
                        layer=layer.name,
                    )
                )
    return found


def writes(data: Any, path: KeyPath) -> KeyPath | None:
    """Where a document writes path: the key itself (any value, a table included), or a
    parent it replaces whole (a scalar, ``$replace``, ``$delete``, YAML null); None if it does not.
    """
    node = data
    for depth, part in enumerate(path):
        if not isinstance(node, dict) or any(str(key).startswith("$") for key in node):
            return path[:depth]
        if part not in node:
            return None
        node = node[part]
    return path
