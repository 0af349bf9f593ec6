"""``${...}`` in strings: names from the target and other resolved values.

Known names: ``env.name``, ``env.stage``, ``cluster.name``, ``cluster.namespace``,
``cluster.labels.<k>``, ``fleet.name`` and ``config.<dotted.key>``. ``$${`` is a literal
``${``. A string that is exactly one ``${config.x}`` takes x's value with its type; anywhere
else the value is written as text. File texts (``{file = ...}``) are taken literally.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from lamina.core.paths import KeyPath, format_path, get_path, parse_path
from lamina.errors import InterpolationError, Place
from lamina.resolve.values import FileText

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}")
MAX_EXPANDED_CHARS = 1_000_000

PlaceOf = Callable[[KeyPath], Place | None]


class Interpolator:
    """Resolves every ``${...}`` of one target's merged config.

    Args:
        config: the merged config (not modified).
        names: the flat name table (``env.name`` -> value...); ``cluster.*`` names absent
            means an environment-level view, where they are left as written.
        place_of: where the string at a path was written, for error messages.
    """

    def __init__(
        self,
        config: dict[str, Any],
        names: Mapping[str, Any],
        place_of: PlaceOf,
        keep_cluster_refs: bool = False,
    ) -> None:
        self.config = config
        self.names = names
        self.place_of = place_of
        self.keep_cluster_refs = keep_cluster_refs
        self.done: dict[KeyPath, Any] = {}
        self.active: list[KeyPath] = []
        self.shared_at: KeyPath | None = None  # first whole-string reference to a table or array

    def run(self, paths: tuple[KeyPath, ...] | None = None) -> dict[str, Any]:
        """The config with every reference resolved (copy-on-write).

        Args:
            paths: where the strings holding ``$`` are (from a LeafIndex); None walks the tree.
        """
        if paths is None:
            result: dict[str, Any] = self.walk(self.config, ())
        else:
            result = self.config
            copied: set[int] = set()
            for path in paths:
                value = get_path(self.config, path)
                new = self.walk(value, path)
                if new is not value:
                    result = _set_copy_on_write(result, path, new, copied)
        if self.shared_at is not None:
            # References to tables are shared, not copied, so a chain of them can describe an
            # exponentially large config in a few lines; count what it expands to.
            _check_size(result, {}, MAX_EXPANDED_VALUES, self.place_of(self.shared_at))
        return result

    def walk(self, node: Any, path: KeyPath) -> Any:
        if isinstance(node, str):
            if "$" not in node or isinstance(node, FileText):
                return node
            return self.string_at(path, node)
        if isinstance(node, dict):
            changed = None
            for key, value in node.items():
                new = self.walk(value, (*path, key))
                if new is not value:
                    if changed is None:
                        changed = dict(node)
                    changed[key] = new
            return node if changed is None else changed
        if isinstance(node, list):
            items = [self.walk(value, (*path, index)) for index, value in enumerate(node)]
            if all(new is old for new, old in zip(items, node, strict=True)):
                return node
            return items
        return node

    def string_at(self, path: KeyPath, text: str) -> Any:
        if path in self.done:
            return self.done[path]
        if path in self.active:
            loop = " -> ".join(
                "config." + format_path(p) for p in [*self.active[self.active.index(path) :], path]
            )
            raise InterpolationError(f"reference cycle: {loop}", self.place_of(self.active[0]))
        self.active.append(path)
        try:
            value = self.expand(path, text)
        finally:
            self.active.pop()
        self.done[path] = value
        return value

    def expand(self, path: KeyPath, text: str) -> Any:
        whole = _TOKEN.fullmatch(text)
        if whole and whole.group(1) is not None:
            found = self.lookup(path, whole.group(1).strip())
            return found if found is not _KEEP else text
        pieces: list[str] = []
        size = 0
        pos = 0
        for match in _TOKEN.finditer(text):
            pieces.append(text[pos : match.start()])
            if match.group(1) is None:
                pieces.append("${")
            else:
                found = self.lookup(path, match.group(1).strip())
                pieces.append(match.group(0) if found is _KEEP else _as_text(found))
            size += len(pieces[-1]) + len(pieces[-2])
            if size > MAX_EXPANDED_CHARS:
                raise InterpolationError(
                    f"{format_path(path)}: interpolation expands past {MAX_EXPANDED_CHARS} characters",
                    self.place_of(path),
                )
            pos = match.end()
        pieces.append(text[pos:])
        return "".join(pieces)

    def lookup(self, path: KeyPath, name: str) -> Any:
        if name.startswith("config."):
            try:
                target = parse_path(name[len("config.") :])
            except ValueError as exc:
                raise InterpolationError(
                    f"{format_path(path)}: bad reference ${{{name}}}: {exc}", self.place_of(path)
                ) from None
            try:
                node = get_path(self.config, target)
            except KeyError:
                raise InterpolationError(
                    f"{format_path(path)}: ${{{name}}} names no value in the resolved config",
                    self.place_of(path),
                ) from None
            if isinstance(node, dict | list) and self.shared_at is None:
                self.shared_at = path
            return self.walk(node, target)
        if name in self.names:
            return self.names[name]
        if self.keep_cluster_refs and name.startswith("cluster."):
            return _KEEP
        raise InterpolationError(
            f"{format_path(path)}: unknown name ${{{name}}} (known: config.<key>, "
            f"{', '.join(sorted(n for n in self.names if not n.startswith('cluster.labels.')))}"
            f"{', cluster.labels.<key>' if 'cluster.name' in self.names else ''})",
            self.place_of(path),
        )


_KEEP: Any = object()


def _set_copy_on_write(root: Any, path: KeyPath, value: Any, copied: set[int]) -> Any:
    """Set value at path, copying each container on the way that this run has not copied."""
    if id(root) not in copied:
        root = dict(root)
        copied.add(id(root))
    parent = root
    for part in path[:-1]:
        child = parent[part]
        if id(child) not in copied:
            child = dict(child) if isinstance(child, dict) else list(child)
            copied.add(id(child))
            parent[part] = child
        parent = child
    parent[path[-1]] = value
    return root


MAX_EXPANDED_VALUES = 1_000_000


def _check_size(node: Any, memo: dict[int, int], limit: int, place: Place | None) -> int:
    if not isinstance(node, dict | list):
        return 1
    known = memo.get(id(node))
    if known is not None:
        return known
    items = node.values() if isinstance(node, dict) else node
    total = 1
    for item in items:
        total += _check_size(item, memo, limit, place)
        if total > limit:
            raise InterpolationError(
                f"interpolation expands the config past {limit} values (references to tables "
                "that reference each other)",
                place,
            )
    memo[id(node)] = total
    return total


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def target_names(
    env: Mapping[str, str], fleet_name: str, cluster: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The flat name table for a target."""
    names: dict[str, Any] = {
        "env.name": env["name"],
        "env.stage": env["stage"],
        "fleet.name": fleet_name,
    }
    if cluster is not None:
        names["cluster.name"] = cluster["name"]
        names["cluster.namespace"] = cluster["namespace"]
        for key, value in cluster["labels"].items():
            names[f"cluster.labels.{key}"] = value
    return names
