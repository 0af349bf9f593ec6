"""Key paths: how lamina names a place inside a config (``tools[0].timeout``)."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec


class Item(msgspec.Struct, frozen=True, order=True):
    """An array item named by its identity: the item of ``tools`` whose ``name`` is ``crm``.

    Diffs pair list items by such a key (``name``, or the ``$merge_by`` key of the layers), so
    one added tool is one ``+ tools[crm]`` change, not a change of every index after it.
    """

    key: str
    value: str

    def __str__(self) -> str:
        if _ITEM_NAME.match(self.value):
            return f"[{self.value}]"
        return "[" + json.dumps(self.value, ensure_ascii=False) + "]"


KeyPath = tuple[str | int | Item, ...]
"""A path into a config tree: table keys are strings, array indexes are ints; in a diff, an
array item may be named by its identity instead (:class:`Item`)."""

_BARE = re.compile(r"^[A-Za-z0-9_-]+\Z")
_ITEM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*\Z")
_UNESCAPE = re.compile(r"\\(.)")
_SEGMENT = re.compile(
    r'\[(\d+)\]|\[([A-Za-z_][A-Za-z0-9_-]*)\]|\["((?:[^"\\]|\\.)*)"\]'
    r'|"((?:[^"\\]|\\.)*)"|([^.\[\]"]+)'
)
IDENTITY = "name"
"""The key that names an array item in a diff (``tools[crm]`` is the tool whose name is crm)."""


def format_path(path: KeyPath) -> str:
    """Render a path as dotted text; keys that need it are quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        if isinstance(part, Item):
            text += str(part)
            continue
        key = part if _BARE.match(part) else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
        text += key if not text else "." + key
    return text


def parse_path(text: str) -> KeyPath:
    """Parse dotted text (``a.b[0]."x.y"``) into a path.

    Raises:
        ValueError: the text is not a well-formed path.
    """
    if not text:
        raise ValueError("empty key")
    parts: list[str | int | Item] = []
    pos = 0
    expect_key = True
    while pos < len(text):
        if not expect_key:
            if text[pos] == ".":
                pos += 1
                expect_key = True
                continue
            if text[pos] != "[":
                raise ValueError(f"unexpected {text[pos]!r} at position {pos + 1} of {text!r}")
        match = _SEGMENT.match(text, pos)
        if match is None:
            raise ValueError(f"cannot read key {text!r} at position {pos + 1}")
        index, item, quoted_item, quoted, bare = match.groups()
        if index is not None:
            parts.append(int(index))
        elif item is not None:
            parts.append(Item(IDENTITY, item))
        elif quoted_item is not None:
            parts.append(Item(IDENTITY, _UNESCAPE.sub(r"\1", quoted_item)))
        elif quoted is not None:
            parts.append(_UNESCAPE.sub(r"\1", quoted))
        else:
            parts.append(bare)
        pos = match.end()
        expect_key = False
    if expect_key:
        raise ValueError(f"key {text!r} ends with a dot")
    return tuple(parts)


def get_path(data: Any, path: KeyPath) -> Any:
    """Return the value at path; raise KeyError when it is absent."""
    node = data
    for part in path:
        if isinstance(part, Item):
            node = node[item_index(node, part)]
        elif isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                raise KeyError(part)
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                raise KeyError(part)
            node = node[part]
    return node


def item_index(node: Any, item: Item) -> int:
    """The index of the array item item names; KeyError when node holds no such item."""
    if isinstance(node, list):
        for index, candidate in enumerate(node):
            if isinstance(candidate, dict) and candidate.get(item.key) == item.value:
                return index
    raise KeyError(item)


def concrete(data: Any, path: KeyPath) -> KeyPath:
    """path with each :class:`Item` replaced by its index in data; KeyError when one is absent."""
    if not any(isinstance(part, Item) for part in path):
        return path
    node = data
    parts: list[str | int | Item] = []
    for part in path:
        step = item_index(node, part) if isinstance(part, Item) else part
        parts.append(step)
        node = get_path(node, (step,))
    return tuple(parts)
