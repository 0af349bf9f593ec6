"""Where the interesting leaves of a config tree are, remembered per shared table.

Targets of one environment share every table their cluster layer does not touch (merging
and interpolation copy on write), so an index keyed by table identity answers "which strings
hold ``${``" or "which values are file texts" for a thousand targets while looking at each
shared table once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lamina.core.paths import KeyPath


class LeafIndex:
    """Paths of the leaves that satisfy a predicate, memoised by container identity."""

    def __init__(self, wanted: Callable[[Any], bool]) -> None:
        self.wanted = wanted
        # id -> (the container itself, kept alive so its id cannot be reused; its paths)
        self._memo: dict[int, tuple[Any, tuple[KeyPath, ...]]] = {}

    def paths(self, node: Any) -> tuple[KeyPath, ...]:
        """Paths (relative to node) of every wanted leaf under node."""
        if not isinstance(node, dict | list):
            return ((),) if self.wanted(node) else ()
        hit = self._memo.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        items = node.items() if isinstance(node, dict) else enumerate(node)
        found: list[KeyPath] = []
        for key, value in items:
            if isinstance(value, dict | list):
                found.extend((key, *sub) for sub in self.paths(value))
            elif self.wanted(value):
                found.append((key,))
        result = tuple(found)
        self._memo[id(node)] = (node, result)
        return result
