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
from typing import Any

from lamina.core.paths import KeyPath, format_path
from lamina.fleet.lock_settings import Lock
from lamina.resolve.provenance import Layer
from lamina.validate.diagnostics import Check, Diagnostic, Severity


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
