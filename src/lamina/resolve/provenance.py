"""Which layer set a value, on which line, and why: read back from the layers on demand.

Resolution does not record history while it merges (that would slow every target down);
instead, a question about a key walks the layers of that target once more, which is cheap
because every document is already parsed and keeps the line of each key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lamina.core.paths import KeyPath
from lamina.errors import Place
from lamina.resolve.values import FileText
from lamina.source.documents import Document


@dataclass(frozen=True)
class Layer:
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


@dataclass(frozen=True)
class Setting:
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


def find_setting(doc: Document, path: KeyPath) -> tuple[KeyPath, Any] | None:
    """Whether doc writes path (or a whole value that covers it): the written path and value."""
    node: Any = doc.data
    walked: KeyPath = ()
    for part in path:
        if isinstance(node, dict) and len(node) == 1 and "$replace" in node:
            node = node["$replace"]
        if isinstance(node, dict):
            if any(key.startswith("$") for key in node):
                return walked, node  # a directive decides the whole value here
            if part not in node:
                return None
            node = node[part]
            walked = (*walked, part)
            if node is None:
                return walked, None
        elif isinstance(node, list):
            return walked, node  # arrays are written whole
        else:
            return None
    if isinstance(node, dict) and len(node) == 1 and "$replace" in node:
        node = node["$replace"]
    return walked, node


def settings(layers: Sequence[Layer], path: KeyPath) -> list[Setting]:
    """Every layer that set path, lowest first (the last one won)."""
    found: list[Setting] = []
    for layer in layers:
        for doc in layer.documents:
            hit = find_setting(doc, path)
            if hit is None:
                continue
            written, value = hit
            line = doc.line_of(written)
            found.append(Setting(layer.name, layer.kind, doc.path, line, _plain(value), doc.reason(line)))
    return found


def place_of(layers: Sequence[Layer], path: KeyPath) -> Place | None:
    """file:line of the layer whose value for path won (or of its nearest written parent)."""
    for end in range(len(path), -1, -1):
        hits = settings(layers, path[:end]) if end else []
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
