"""``lamina.lock``: which revision of ``base/`` each environment runs.

Written only by lamina (promotion); read by resolution. The format::

    [environments.staging]
    revision = "3f2c..."          # full commit id of the pinned base
    set_at   = "2026-11-28T10:00:00+00:00"
    request  = "PR-7"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lamina.errors import FleetError
from lamina.source import documents
from lamina.source.trees import Tree

LOCK_FILE = "lamina.lock"
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True)
class Pin:
    """An environment's pinned base revision."""

    environment: str
    revision: str
    set_at: str | None = None
    request: str | None = None
    line: int | None = None


def read_pins(tree: Tree, environments: Mapping[str, object]) -> dict[str, Pin]:
    """The pins recorded in lamina.lock (none when the file is absent).

    Raises:
        FleetError: the lock file is malformed or pins an unknown environment.
    """
    if not tree.is_file(LOCK_FILE):
        return {}
    doc = documents.parse_document(LOCK_FILE, tree.read_bytes(LOCK_FILE), syntax="toml")
    table = doc.data.get("environments", {})
    if not isinstance(table, dict):
        raise FleetError("[environments] must be a table", doc.place(("environments",)))
    pins: dict[str, Pin] = {}
    for env, entry in table.items():
        place = doc.place(("environments", env))
        if env not in environments:
            raise FleetError(f"pin for unknown environment {env!r}", place)
        if not isinstance(entry, dict):
            raise FleetError(f"[environments.{env}] must be a table", place)
        revision = entry.get("revision")
        if not isinstance(revision, str) or not _COMMIT.match(revision):
            raise FleetError(
                f"revision of {env!r} must be a full commit id",
                doc.place(("environments", env, "revision")),
            )
        set_at = entry.get("set_at")
        request = entry.get("request")
        pins[env] = Pin(
            env,
            revision,
            set_at if isinstance(set_at, str) else None,
            request if isinstance(request, str) else None,
            doc.line_of(("environments", env, "revision")),
        )
    return pins
