"""Key paths: how lamina names a place inside a config (``tools[0].timeout``)."""

from __future__ import annotations

import re
from typing import Any

KeyPath = tuple[str | int, ...]
"""A path into a config tree: table keys are strings, array indexes are ints."""

_BARE = re.compile(r"^[A-Za-z0-9_-]+\Z")
_UNESCAPE = re.compile(r"\\(.)")
_SEGMENT = re.compile(r'\[(\d+)\]|"((?:[^"\\]|\\.)*)"|([^.\[\]"]+)')


def format_path(path: KeyPath) -> str:
    """Render a path as dotted text; keys that need it are quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
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
    parts: list[str | int] = []
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
        index, quoted, bare = match.groups()
        if index is not None:
            parts.append(int(index))
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
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                raise KeyError(part)
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                raise KeyError(part)
            node = node[part]
    return node
