"""Field-level differences between two config trees.

Tables are compared key by key. Arrays of tables that each carry a unique string ``name``
(or the key the layers merge that array by, ``$merge_by``: see :data:`Identities`) are
compared item by item, paired by it (``tools[crm].timeout_seconds``; an added tool is one
``tools[crm]`` change); other arrays of the same length element by element;
anything else (and arrays whose length or order changed) as a whole value. Applying the
changes of ``diff(a, b)`` to ``a`` gives ``b``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from lamina.core.paths import IDENTITY, Item, KeyPath, format_path, item_index

_ABSENT: Any = object()


class Change(msgspec.Struct, frozen=True):
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

Identities = Mapping[tuple[str, ...], str]
"""The key that names the items of an array, by the array's table keys (indexes and items left
out: ``("agents", "tools")`` for ``agents[0].tools``); arrays not listed go by ``name``."""


def shape(path: KeyPath) -> tuple[str, ...]:
    """path's table keys alone: the address of an array in :data:`Identities`."""
    return tuple(part for part in path if isinstance(part, str))


def diff(a: Any, b: Any, path: KeyPath = (), identities: Identities | None = None) -> list[Change]:
    """Every differing leaf between a and b, in sorted key order."""
    return list(_walk(a, b, path, identities or {}))


def _walk(a: Any, b: Any, path: KeyPath, identities: Identities) -> Iterator[Change]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            yield from _walk(a.get(key, _ABSENT), b.get(key, _ABSENT), (*path, key), identities)
        return
    if isinstance(a, list) and isinstance(b, list) and a != b:
        keyed = _keyed(a, b, path, identities.get(shape(path), IDENTITY), identities)
        if keyed is not None:
            yield from keyed
            return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (left, right) in enumerate(zip(a, b, strict=True)):
            yield from _walk(left, right, (*path, index), identities)
        return
    if a is _ABSENT and b is _ABSENT:
        return
    if type(a) is not type(b) or a != b:
        if isinstance(a, str) and isinstance(b, str) and a == b:
            return
        yield Change(path, a, b)


def names(items: list[Any], key: str = IDENTITY) -> list[str] | None:
    """The items' key (``name``) values, in order, when every item is a table with a unique
    string value of it."""
    found: list[str] = []
    for item in items:
        name = item.get(key) if isinstance(item, dict) else None
        if not isinstance(name, str) or name in found:
            return None
        found.append(name)
    return found


def _keyed(
    a: list[Any], b: list[Any], path: KeyPath, key: str, identities: Identities
) -> list[Change] | None:
    """The changes between two arrays of named tables paired by key (the whole array when items
    moved, as changes by name would not rebuild b), or None when they are not both such arrays."""
    left, right = names(a, key), names(b, key)
    if not left or not right:
        return None
    kept = [name for name in left if name in right]
    if kept + [name for name in right if name not in left] != right:
        return [Change(path, a, b)]  # reordered or inserted in the middle: one changed value
    by_left, by_right = dict(zip(left, a, strict=True)), dict(zip(right, b, strict=True))
    changes: list[Change] = []
    for name in [*left, *(name for name in right if name not in left)]:
        changes.extend(
            _walk(
                by_left.get(name, _ABSENT),
                by_right.get(name, _ABSENT),
                (*path, Item(key, name)),
                identities,
            )
        )
    return changes


def apply_changes(a: Any, changes: list[Change]) -> Any:
    """Return a copy of a with changes applied (the inverse of :func:`diff`)."""
    result = copy.deepcopy(a)
    for change in changes:
        if not change.path:
            result = copy.deepcopy(change.b)
            continue
        parent = result
        for part in change.path[:-1]:
            parent = parent[item_index(parent, part) if isinstance(part, Item) else part]
        last = change.path[-1]
        if isinstance(last, Item):
            if change.a is _ABSENT:
                parent.append(copy.deepcopy(change.b))
                continue
            index = item_index(parent, last)
            if change.b is _ABSENT:
                del parent[index]
            else:
                parent[index] = copy.deepcopy(change.b)
        elif change.b is _ABSENT:
            del parent[last]
        else:
            parent[last] = copy.deepcopy(change.b)
    return result


def text_diff(a: str, b: str, label_a: str, label_b: str) -> list[str]:
    """A unified diff of two multi-line strings, as lines without newlines."""
    import difflib  # on first use: most commands never diff text

    return list(
        difflib.unified_diff(a.splitlines(), b.splitlines(), fromfile=label_a, tofile=label_b, lineterm="")
    )


def is_multiline(value: Any) -> bool:
    """Strings worth showing as a text diff rather than side by side."""
    return isinstance(value, str) and "\n" in value.rstrip("\n")
