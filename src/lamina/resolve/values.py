"""Special values inside a config: file text that remembers its file, and secret references."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

SECRET_KEY = "secret"
FILE_KEY = "file"
_SECRET_REF = re.compile(
    r"^(vault:[^#\s]+#[^#\s]+|sops:[^#\s]+#[^#\s]+|[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[-._a-zA-Z0-9]+)\Z"
)


class FileText(str):
    """The text of a ``{file = ...}`` reference; ``source`` is its repository path."""

    source: str

    def __new__(cls, text: str, source: str) -> FileText:
        obj = super().__new__(cls, text)
        obj.source = source
        return obj

    def __deepcopy__(self, memo: dict[int, Any]) -> FileText:
        return self  # immutable

    def __copy__(self) -> FileText:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (FileText, (str(self), self.source))


def is_secret_ref(value: Any) -> bool:
    """``{secret = "name/key"}`` or ``{secret = "vault:path#key"}``: a reference, never a value."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SECRET_KEY), str)


def is_file_ref(value: Any) -> bool:
    """``{file = "prompts/x.txt"}``: replaced by the file's text when the layer is read."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(FILE_KEY), str)


def valid_secret_ref(ref: str) -> bool:
    """A Kubernetes ``secret-name/key``, a ``vault:path#key`` or a ``sops:file#key``."""
    return bool(_SECRET_REF.match(ref))


def walk(node: Any) -> Iterator[Any]:
    """node and every table, array and value under it, each table before what it holds."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def plain(value: Any) -> Any:
    """A deep copy made of builtin types only (file texts become plain strings); any other
    object, such as a diff's ``ABSENT`` marker, is kept as it is."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def with_article(kind: str) -> str:
    """``a table``, ``an array``."""
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def category(value: Any) -> str:
    """The kind of a value for type-conflict checks: table, array, string, number, boolean."""
    if isinstance(value, dict):
        return "string" if is_secret_ref(value) else "table"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null"
