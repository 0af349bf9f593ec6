"""``{file = "prompts/system_prompt.txt"}``: a value that is the text of another file.

The path is relative to the folder of the layer that wrote it and must stay inside the
repository. The text is read from the same tree as the layer (the working tree or a git
revision), so a pinned base reads its prompts as of its pin.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from lamina.core.paths import KeyPath, format_path
from lamina.errors import InputError, ReferenceError_
from lamina.resolve import values
from lamina.source.documents import Document
from lamina.source.trees import Tree, normalize


def repository_path(folder: str, ref: str) -> str:
    """The repository path that ref, written in a layer whose folder is folder, names.

    Raises:
        ReferenceError_: ref is absolute or leaves the repository.
    """
    if ref.startswith("/"):
        normalize(ref)
    return normalize(posixpath.join(folder, ref))


def references(node: Any) -> Iterator[str]:
    """Every ``{file = ...}`` path written anywhere under node, as written."""
    return (found[values.FILE_KEY] for found in values.walk(node) if values.is_file_ref(found))


class FileRefs:
    """Replaces ``{file = ...}`` with the file's text, read from the same tree as the layer;
    checks the shape of each ``{secret = ...}`` on the way."""

    def __init__(self, tree: Tree, folder: str, doc: Document) -> None:
        self.tree = tree
        self.folder = folder
        self.doc = doc

    def resolve(self, node: Any, path: KeyPath) -> Any:
        """node with every file reference under it replaced by a :class:`values.FileText`."""
        if values.is_file_ref(node):
            return self.read(node[values.FILE_KEY], path)
        if values.is_secret_ref(node):
            ref = node[values.SECRET_KEY]
            if not values.valid_secret_ref(ref):
                raise InputError(
                    f"{format_path(path)}: secret reference {ref!r} must be 'secret-name/key', "
                    "'vault:path#key' or 'sops:file#key'",
                    self.doc.place(path),
                )
            return node
        if isinstance(node, dict):
            return {key: self.resolve(value, (*path, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [self.resolve(value, (*path, index)) for index, value in enumerate(node)]
        return node

    def read(self, ref: str, path: KeyPath) -> values.FileText:
        """The text of the file ref names, written at path of the document."""
        place = self.doc.place(path)
        try:
            rel = repository_path(self.folder, ref)
            raw = self.tree.read_bytes(rel)
        except ReferenceError_ as exc:
            raise ReferenceError_(f"{format_path(path)}: file reference: {exc.message}", place) from None
        except InputError as exc:
            raise InputError(f"{format_path(path)}: file reference: {exc.message}", place) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ReferenceError_(
                f"{format_path(path)}: file reference {ref!r} is not UTF-8 text", place
            ) from None
        return values.FileText(text, rel)
