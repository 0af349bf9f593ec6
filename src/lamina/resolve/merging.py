"""The merge rules of lamina, applied layer over layer and file over file.

1. tables merge key by key, recursively;
2. any other value in the higher layer replaces the lower one; arrays are replaced whole;
3. ``{"$delete" = true}`` (or YAML ``null``) removes the key;
4. ``{"$replace" = V}`` sets V without merging, and may change V's type;
5. ``{"$append" = [...]}`` / ``{"$prepend" = [...]}`` extend the lower array;
6. ``{"$merge_by" = "name", "$items" = [...]}`` merges items with the same ``name`` into their
   match, removes a match for an item with ``"$delete" = true``, and appends the rest;
7. a value that changes kind (table, array, string, number, boolean) without ``$replace`` is
   an error naming both places; an unknown ``$`` key is an error.

Merging never mutates its inputs: parsed documents are cached and shared between targets,
so every changed table is copied on the way down (copy-on-write).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lamina.core.paths import KeyPath, format_path
from lamina.errors import MergeError, Place
from lamina.resolve import values
from lamina.source.documents import Document


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


MISSING: Any = _Sentinel("MISSING")
DELETED: Any = _Sentinel("DELETED")

DIRECTIVES = {"$delete", "$replace", "$append", "$prepend", "$merge_by", "$items"}


class Merger:
    """Merges one document over the result of the documents below it."""

    def __init__(self, doc: Document, below: Sequence[Document]) -> None:
        self.doc = doc
        self.below = below

    def here(self, path: KeyPath) -> Place:
        return self.doc.place(path)

    def below_place(self, path: KeyPath) -> str:
        for doc in reversed(self.below):
            try:
                _lookup(doc.data, path)
            except KeyError:
                continue
            return str(doc.place(path))
        return "a lower layer"

    def merge(self, lower: Any, higher: Any, path: KeyPath) -> Any:
        """Merge higher (from self.doc) over lower; return the result or DELETED."""
        if higher is None:
            return DELETED
        if isinstance(higher, dict):
            if values.is_secret_ref(higher) or values.is_file_ref(higher):
                return self.leaf(lower, higher, path)
            directive = self.directive(higher, path)
            if directive is not None:
                return self.apply_directive(directive, lower, higher, path)
            was_missing = lower is MISSING
            if was_missing:
                lower = {}
            elif not isinstance(lower, dict) or values.is_secret_ref(lower):
                raise self.conflict(lower, higher, path)
            result = dict(lower)
            for key, value in higher.items():
                merged = self.merge(lower.get(key, MISSING), value, (*path, key))
                if merged is DELETED:
                    result.pop(key, None)
                else:
                    result[key] = merged
            if was_missing and higher and not result and path:
                return DELETED  # only deletions under a table that does not exist: nothing to add
            return result
        if isinstance(higher, list):
            if lower is not MISSING and not isinstance(lower, list):
                raise self.conflict(lower, higher, path)
            return self.fresh_list(higher, path)
        return self.leaf(lower, higher, path)

    def leaf(self, lower: Any, higher: Any, path: KeyPath) -> Any:
        if lower is not MISSING and values.category(lower) != values.category(higher):
            raise self.conflict(lower, higher, path)
        return higher

    def fresh(self, value: Any, path: KeyPath) -> Any:
        """A value merged over nothing: directives checked and applied, tables copied."""
        merged = self.merge(MISSING, value, path)
        return None if merged is DELETED else merged

    def fresh_list(self, items: list[Any], path: KeyPath) -> list[Any]:
        out = []
        for index, item in enumerate(items):
            merged = self.merge(MISSING, item, (*path, index))
            if merged is DELETED:
                raise MergeError(
                    f"{format_path((*path, index))}: an array item cannot be deleted here "
                    "(use $merge_by to delete matching items)",
                    self.here((*path, index)),
                )
            out.append(merged)
        return out

    def directive(self, table: dict[str, Any], path: KeyPath) -> str | None:
        dollar = [key for key in table if key.startswith("$")]
        if not dollar:
            return None
        for key in dollar:
            if key not in DIRECTIVES:
                raise MergeError(
                    f"unknown directive {key!r} at {format_path(path) or 'top level'} "
                    "(known: $append, $delete, $merge_by with $items, $prepend, $replace)",
                    self.here((*path, key)),
                )
        if len(dollar) != len(table):
            raise MergeError(
                f"{format_path(path)}: a directive cannot be mixed with ordinary keys",
                self.here(path),
            )
        keys = set(dollar)
        if keys == {"$merge_by", "$items"}:
            return "$merge_by"
        if len(keys) == 1 and keys != {"$items"}:
            return dollar[0]
        raise MergeError(
            f"{format_path(path)}: directives {', '.join(sorted(keys))} cannot be combined",
            self.here(path),
        )

    def apply_directive(self, name: str, lower: Any, table: dict[str, Any], path: KeyPath) -> Any:
        if not path:
            raise MergeError("directives cannot apply to a whole file", self.here(path))
        if name == "$delete":
            if table["$delete"] is not True:
                raise MergeError(f"{format_path(path)}: $delete must be true", self.here(path))
            return DELETED
        if name == "$replace":
            return self.fresh(table["$replace"], path)
        if lower is not MISSING and not isinstance(lower, list):
            raise MergeError(
                f"{format_path(path)}: {name} needs an array below, but {self.below_place(path)} "
                f"sets {values.with_article(values.category(lower))}",
                self.here(path),
            )
        current: list[Any] = [] if lower is MISSING else lower
        if name in ("$append", "$prepend"):
            items = table[name]
            if not isinstance(items, list):
                raise MergeError(f"{format_path(path)}: {name} takes an array", self.here(path))
            added = self.fresh_list(items, path)
            return [*current, *added] if name == "$append" else [*added, *current]
        return self.merge_by(current, table, path)

    def merge_by(self, current: list[Any], table: dict[str, Any], path: KeyPath) -> list[Any]:
        key = table["$merge_by"]
        items = table["$items"]
        if not isinstance(key, str) or not key:
            raise MergeError(f"{format_path(path)}: $merge_by takes a key name", self.here(path))
        if not isinstance(items, list):
            raise MergeError(f"{format_path(path)}: $items takes an array", self.here(path))
        result = list(current)
        for index, item in enumerate(result):
            if not isinstance(item, dict) or not isinstance(item.get(key), str | int):
                raise MergeError(
                    f"{format_path((*path, index))}: every item merged by {key!r} must be a "
                    f"table carrying {key!r} (set in {self.below_place(path)})",
                    self.here(path),
                )
        for index, item in enumerate(items):
            where = (*path, "$items", index)
            if not isinstance(item, dict) or not isinstance(item.get(key), str | int):
                raise MergeError(
                    f"{format_path(path)}: item {index} of $items must be a table carrying {key!r}",
                    self.here(where),
                )
            match = next((i for i, old in enumerate(result) if old.get(key) == item[key]), None)
            deleting = item.get("$delete") is True
            body = {k: v for k, v in item.items() if k != "$delete"}
            if deleting:
                if match is not None:
                    del result[match]
                continue
            if match is None:
                result.append(self.fresh(body, where))
            else:
                result[match] = self.merge(result[match], body, (*path, match))
        return result

    def conflict(self, lower: Any, higher: Any, path: KeyPath) -> MergeError:
        higher_kind = values.with_article(values.category(higher))
        lower_kind = values.with_article(values.category(lower))
        return MergeError(
            f"type conflict at {format_path(path)}: this sets {higher_kind}, "
            f"{self.below_place(path)} sets {lower_kind} "
            '(use {"$replace" = ...} to change the type)',
            self.here(path),
        )


def merge_documents(
    lower: dict[str, Any], docs: Sequence[Document], below: Sequence[Document]
) -> dict[str, Any]:
    """Merge docs, in order, over lower; below are the documents lower came from."""
    result = lower
    seen = list(below)
    for doc in docs:
        merged = Merger(doc, seen).merge(result, doc.data, ())
        result = {} if merged is DELETED else merged
        seen.append(doc)
    return result


def merge(lower: Any, higher: Any) -> Any:
    """Merge two plain values by lamina's rules (for tests and the library API)."""
    doc = Document(path="<value>", data={}, lines={}, text_lines=[])
    merged = Merger(doc, []).merge(lower if lower is not None else MISSING, higher, ())
    return None if merged is DELETED else merged


def _lookup(data: Any, path: KeyPath) -> Any:
    node = data
    for part in path:
        if isinstance(node, dict) and "$replace" in node and len(node) == 1:
            node = node["$replace"]
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            raise KeyError(part)
    return node


def merge_keys(
    data: Any, path: tuple[str, ...] = (), found: dict[tuple[str, ...], str] | None = None
) -> dict[tuple[str, ...], str]:
    """The key each ``$merge_by`` directive in a layer's data merges its array by, by the array's
    table keys (:data:`lamina.core.diffs.Identities`): diffs pair that array's items by it."""
    found = {} if found is None else found
    if isinstance(data, dict):
        key = data.get("$merge_by")
        if isinstance(key, str) and key and isinstance(data.get("$items"), list):
            found[path] = key
            for item in data["$items"]:
                merge_keys(item, path, found)
            return found
        for name, value in data.items():
            if isinstance(name, str):
                merge_keys(value, (*path, name), found)
    elif isinstance(data, list):
        for item in data:
            merge_keys(item, path, found)
    return found
