"""``[locks]``: keys only ``base/`` may set, for every environment or for one.

::

    [locks]
    keys = ["guardrails.pii_redaction"]          # for every environment

    [locks.production]
    keys = ["agent.model"]                       # for production's targets only

Only the declaration lives here; checking the layers is :mod:`lamina.validate.locks`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from lamina.core.paths import KeyPath, format_path, parse_path
from lamina.errors import Place
from lamina.fleet.tables import TableReader
from lamina.source.documents import Document


@dataclass(frozen=True)
class Lock:
    """One locked key, for every environment (environment None) or for one."""

    key: str
    path: KeyPath
    environment: str | None
    doc: Document = field(repr=False, compare=False)
    at: KeyPath = ()

    @property
    def place(self) -> Place:
        # looked up when a lock is broken: finding key lines costs a scan of lamina.toml
        return self.doc.place(self.at)


def load(doc: Document, environments: Collection[str]) -> tuple[Lock, ...]:
    """The locks lamina.toml declares.

    Raises:
        FleetError: ``keys`` is not a list of keys, or ``[locks.X]`` names an unknown environment.
    """
    section = TableReader(doc, ("locks",))
    locks = list(_keys(section, None))
    for name, table in section.table.items():
        if name == "keys":
            continue
        if not isinstance(table, dict):
            raise section.fail(
                f"[locks] {name}: expected keys = [...] or a [locks.<environment>] table", (name,)
            )
        if name not in environments:
            known = ", ".join(sorted(environments))
            raise section.fail(f"[locks.{name}]: unknown environment {name!r} (known: {known})", (name,))
        locks.extend(_keys(section.sub(name, ("keys",)), name))
    return tuple(locks)


def _keys(table: TableReader, environment: str | None) -> list[Lock]:
    locks = []
    for index, key in enumerate(table.strings("keys", what="dotted keys")):
        try:
            path = parse_path(key)
        except ValueError as exc:
            raise table.fail(f"{table.name('keys')}: {exc}", ("keys", index)) from None
        locks.append(Lock(format_path(path), path, environment, table.doc, (*table.path, "keys", index)))
    return locks
