"""Which layer set a value, on which line, and why: read back from the layers on demand.

Resolution does not record history while it merges (that would slow every target down);
instead, a question about a key walks the layers of that target once more, which is cheap
because every document is already parsed and keeps the line of each key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from lamina.core.paths import KeyPath, get_path
from lamina.errors import Place
from lamina.resolve.values import FileText
from lamina.source.documents import Document


class Layer(msgspec.Struct, frozen=True):
    """One layer of a target: ``base``, ``overlays/<env>`` or ``clusters/<name>``.

    Attributes:
        kind: ``base``, ``overlay`` or ``cluster``.
        documents: its config files in merge order.
        tree: the tree it was read from (``working tree`` or a short revision).
    """

    name: str
    kind: str
    documents: tuple[Document, ...]
    tree: str


class Setting(msgspec.Struct, frozen=True):
    """One layer's say about a key: where, what it wrote, and the reason given."""

    layer: str
    kind: str
    file: str
    line: int | None
    value: Any
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        """The SPEC ``explain`` layer shape."""
        return {
            "layer": self.layer,
            "file": self.file,
            "line": self.line,
            "value": self.value,
            "reason": self.reason,
        }

    @property
    def place(self) -> Place:
        """file:line of this setting."""
        return Place(self.file, self.line)


def find_setting(doc: Document, path: KeyPath, resolved: Any = None) -> tuple[KeyPath, Any] | None:
    """Whether doc writes path (or a whole value that covers it): the path inside the document
    (for its line) and the value written there.

    Items of arrays are followed by index in plain arrays, and by their merge key in a
    ``$merge_by`` directive (which needs the resolved config to know the item's key).
    """
    node: Any = doc.data
    doc_path: KeyPath = ()
    for depth, part in enumerate(path):
        if isinstance(node, dict) and len(node) == 1 and "$replace" in node:
            node = node["$replace"]
            doc_path = (*doc_path, "$replace")
        if isinstance(node, dict):
            if isinstance(part, int) and _is_merge_by(node) and resolved is not None:
                found = _merge_by_item(node, resolved, path[: depth + 1])
                if found is None:
                    return None  # this document did not touch that item
                node = node["$items"][found]
                doc_path = (*doc_path, "$items", found)
                continue
            if any(key.startswith("$") for key in node):
                return doc_path, node  # a directive decides the whole value here
            if not isinstance(part, str) or part not in node:
                return None
            node = node[part]
            doc_path = (*doc_path, part)
            if node is None:
                return doc_path, None
        elif isinstance(node, list):
            if not isinstance(part, int) or not 0 <= part < len(node):
                return None
            node = node[part]
            doc_path = (*doc_path, part)
        else:
            return None
    if isinstance(node, dict) and len(node) == 1 and "$replace" in node:
        node = node["$replace"]
    return doc_path, node


def _is_merge_by(node: dict[str, Any]) -> bool:
    return isinstance(node.get("$merge_by"), str) and isinstance(node.get("$items"), list)


def _merge_by_item(node: dict[str, Any], resolved: Any, item_path: KeyPath) -> int | None:
    key = node["$merge_by"]
    try:
        item = get_path(resolved, item_path)
    except KeyError:
        return None
    if not isinstance(item, dict) or key not in item:
        return None
    for index, candidate in enumerate(node["$items"]):
        if isinstance(candidate, dict) and candidate.get(key) == item[key]:
            return index
    return None


def settings(layers: Sequence[Layer], path: KeyPath, resolved: Any = None) -> list[Setting]:
    """Every layer that set path, lowest first (the last one won)."""
    found: list[Setting] = []
    for layer in layers:
        for doc in layer.documents:
            hit = find_setting(doc, path, resolved)
            if hit is None:
                continue
            written, value = hit
            line = doc.line_of(written)
            reason = doc.reason(line)
            if reason is None and "$items" in written:
                # an item changed through $merge_by: the reason may sit on the directive
                reason = doc.reason(doc.line_of(written[: written.index("$items")]))
            found.append(Setting(layer.name, layer.kind, doc.path, line, _plain(value), reason))
    return found


def place_of(layers: Sequence[Layer], path: KeyPath, resolved: Any = None) -> Place | None:
    """file:line of the layer whose value for path won (or of its nearest written parent)."""
    for end in range(len(path), 0, -1):
        hits = settings(layers, path[:end], resolved)
        if hits:
            return hits[-1].place
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, FileText):
        return {"file": value.source}
    if isinstance(value, str):
        return str(value)
    return value
