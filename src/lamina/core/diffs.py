"""Field-level differences between two config trees.

Tables are compared key by key; arrays of the same length element by element; anything
else (and arrays whose length changed) as a whole value. Applying the changes of
``diff(a, b)`` to ``a`` gives ``b``.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lamina.core.paths import KeyPath, format_path

_ABSENT: Any = object()


@dataclass(frozen=True)
class Change:
    """One differing leaf: a missing side is ``ABSENT``."""

    path: KeyPath
    a: Any
    b: Any

    @property
    def kind(self) -> str:
        """``added``, ``removed`` or ``changed``."""
        if self.a is _ABSENT:
            return "added"
        if self.b is _ABSENT:
            return "removed"
        return "changed"

    def to_json(self) -> dict[str, Any]:
        """The SPEC shape: ``{"path", "a", "b"}`` with a missing side left out."""
        out: dict[str, Any] = {"path": format_path(self.path)}
        if self.a is not _ABSENT:
            out["a"] = self.a
        if self.b is not _ABSENT:
            out["b"] = self.b
        return out


ABSENT = _ABSENT


def diff(a: Any, b: Any, path: KeyPath = ()) -> list[Change]:
    """Every differing leaf between a and b, in sorted key order."""
    return list(_walk(a, b, path))


def _walk(a: Any, b: Any, path: KeyPath) -> Iterator[Change]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            yield from _walk(a.get(key, _ABSENT), b.get(key, _ABSENT), (*path, key))
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (left, right) in enumerate(zip(a, b, strict=True)):
            yield from _walk(left, right, (*path, index))
        return
    if a is _ABSENT and b is _ABSENT:
        return
    if type(a) is not type(b) or a != b:
        if isinstance(a, str) and isinstance(b, str) and a == b:
            return
        yield Change(path, a, b)


def apply_changes(a: Any, changes: list[Change]) -> Any:
    """Return a copy of a with changes applied (the inverse of :func:`diff`)."""
    result = copy.deepcopy(a)
    for change in changes:
        if not change.path:
            result = copy.deepcopy(change.b)
            continue
        parent = result
        for part in change.path[:-1]:
            parent = parent[part]
        last = change.path[-1]
        if change.b is _ABSENT:
            del parent[last]
        else:
            parent[last] = copy.deepcopy(change.b)
    return result


def text_diff(a: str, b: str, label_a: str, label_b: str) -> list[str]:
    """A unified diff of two multi-line strings, as lines without newlines."""
    return list(
        difflib.unified_diff(a.splitlines(), b.splitlines(), fromfile=label_a, tofile=label_b, lineterm="")
    )


def is_multiline(value: Any) -> bool:
    """Strings worth showing as a text diff rather than side by side."""
    return isinstance(value, str) and "\n" in value.rstrip("\n")
