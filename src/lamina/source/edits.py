"""Edit config files in place, keeping their comments, key order and formatting.

TOML goes through tomlkit and YAML through ruamel.yaml's round-trip mode, so a person's
file still reads as they wrote it after lamina renamed, removed or set a key. JSON has no
comments; it keeps its key order and is written with two-space indentation.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from lamina.core.paths import KeyPath
from lamina.errors import InputError


class EditableFile:
    """One config file, parsed for editing; ``text()`` gives the edited file."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.kind = Path(path).suffix.lower().lstrip(".")
        if self.kind == "toml":
            import tomlkit

            self.doc: Any = tomlkit.parse(text)
        elif self.kind in ("yaml", "yml"):
            from ruamel.yaml import YAML

            self._yaml = YAML(typ="rt")
            self._yaml.preserve_quotes = True
            self._yaml.width = 4096
            self.doc = self._yaml.load(text)
        elif self.kind == "json":
            self.doc = json.loads(text)
        else:
            raise InputError(f"{path}: cannot edit this kind of file")

    def text(self) -> str:
        """The file as text, after the edits."""
        if self.kind == "toml":
            import tomlkit

            return tomlkit.dumps(self.doc)
        if self.kind == "json":
            return json.dumps(self.doc, indent=2, ensure_ascii=False) + "\n"
        stream = io.StringIO()
        self._yaml.dump(self.doc, stream)
        return stream.getvalue()

    def _parent(self, path: KeyPath, create: bool) -> Any:
        node = self.doc
        for part in path[:-1]:
            if part not in node:
                if not create:
                    raise KeyError(part)
                node[part] = self._new_table()
            node = node[part]
        return node

    def _new_table(self) -> Any:
        if self.kind == "toml":
            import tomlkit

            return tomlkit.table()
        if self.kind in ("yaml", "yml"):
            from ruamel.yaml.comments import CommentedMap

            return CommentedMap()
        return {}

    def set(self, path: KeyPath, value: Any) -> None:
        """Set path to value, creating tables on the way."""
        parent = self._parent(path, create=True)
        parent[path[-1]] = value

    def remove(self, path: KeyPath) -> None:
        """Remove path (its own line comment goes with it)."""
        parent = self._parent(path, create=False)
        if self.kind == "toml":
            parent.remove(path[-1])
        else:
            del parent[path[-1]]

    def rename(self, old: KeyPath, new: KeyPath) -> None:
        """Move old to new; within one table the key keeps its place and its comments."""
        parent = self._parent(old, create=False)
        value = parent[old[-1]]
        if old[:-1] == new[:-1]:
            if self.kind == "toml":
                container = parent.value if hasattr(parent, "value") else parent
                container._replace(old[-1], new[-1], value)  # keeps position and trivia
                return
            if self.kind in ("yaml", "yml"):
                position = list(parent.keys()).index(old[-1])
                comment = parent.ca.items.pop(old[-1], None)
                del parent[old[-1]]
                parent.insert(position, new[-1], value)
                if comment is not None:
                    parent.ca.items[new[-1]] = comment
                return
            items = list(parent.items())
            parent.clear()
            for key, item in items:
                parent[new[-1] if key == old[-1] else key] = item
            return
        self.remove(old)
        self.set(new, value)


def write_atomic(path: Path, text: str) -> None:
    """Replace path's content in one rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
