"""A parsed config file: its data, the line of every key, and the comments that explain them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, overload

from lamina.core.paths import KeyPath
from lamina.errors import ParseError, Place
from lamina.source import scalars

CONFIG_SUFFIXES = (".toml", ".yaml", ".yml", ".json")
ALLOW_PLAINTEXT = "lamina: allow-plaintext"


@dataclass
class Document:
    """One config file as lamina sees it.

    Attributes:
        path: repository-relative path (``overlays/production/agent-patch.toml``).
        data: the top-level table as plain Python values (dict, list, str, int, float, bool;
            YAML null stays None, meaning "remove this key").
        lines: the 1-based line of every key path the file writes.
        text_lines: the file's lines as comments see them: the text of multi-line strings
            is cut out (see :func:`comment_view`), so it never reads as a comment.
    """

    path: str
    data: dict[str, Any]
    lines: Mapping[KeyPath, int]
    text_lines: Sequence[str] = field(repr=False)
    revision: str | None = None

    def line_of(self, path: KeyPath) -> int | None:
        """The line that writes path, or the nearest enclosing key that does."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def place(self, path: KeyPath = ()) -> Place:
        """file:line of path in this document."""
        return Place(self.path, self.line_of(path) if path else None)

    def reason(self, line: int | None) -> str | None:
        """The comment on line, else the comment lines directly above it, else None."""
        if line is None or not 1 <= line <= len(self.text_lines):
            return None
        trailing = trailing_comment(self.text_lines[line - 1])
        if trailing:
            cleaned = _clean_reason(trailing)
            if cleaned:
                return cleaned
        above: list[str] = []
        index = line - 2
        while index >= 0:
            stripped = self.text_lines[index].strip()
            if not stripped.startswith("#"):
                break
            above.append(stripped.lstrip("#").strip())
            index -= 1
        text = " ".join(reversed([part for part in above if part]))
        return _clean_reason(text) or None

    def allows_plaintext(self, line: int | None) -> bool:
        """True when line carries the ``lamina: allow-plaintext`` comment."""
        if line is None or not 1 <= line <= len(self.text_lines):
            return False
        comment = trailing_comment(self.text_lines[line - 1]) or ""
        return ALLOW_PLAINTEXT in comment


def _clean_reason(text: str) -> str:
    return text.replace(ALLOW_PLAINTEXT, "").strip(" ;,-")


_QUOTES = "\"'"


def trailing_comment(line: str) -> str | None:
    """The text after a ``#`` that starts a comment on this line (outside quotes)."""
    quote: str | None = None
    escaped = False
    for index, char in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in _QUOTES:
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[index + 1 :].strip()
    return None


def decode_text(path: str, raw: bytes) -> str:
    """Decode UTF-8 strictly; name the line of the first bad byte."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raise ParseError(
            "file starts with a UTF-8 byte-order mark; save it as UTF-8 without BOM",
            Place(path, 1, 1),
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ParseError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})", Place(path, line, column)
        ) from None


def parse_document(
    path: str, raw: bytes, limits: scalars.Limits | None = None, syntax: str | None = None
) -> Document:
    """Parse a TOML, YAML or JSON config file by its suffix (or by ``syntax``: toml, yaml, json).

    Raises:
        ParseError: the file is malformed, has duplicate keys, is not a table at the top,
            nests too deep, holds an integer too long to read, or (YAML) uses aliases that
            expand too far, recursive aliases or custom tags.
    """
    limits = limits or scalars.Limits()
    text = decode_text(path, raw)
    lower = f".{syntax}" if syntax else path.lower()
    text_lines: Sequence[str] | None = None
    try:
        # each reader loads only when a file needs it (ruamel.yaml is slow to import)
        if lower.endswith(".toml"):
            from lamina.source import toml_reader

            data, scan = toml_reader.read(path, text)
            lines = scan.lines
            text_lines = CommentView(text, lambda: scan.strings)
        elif lower.endswith((".yaml", ".yml")):
            from lamina.source import yaml_reader

            data, lines, strings = yaml_reader.read(path, text, limits)
            text_lines = comment_view(text, strings)
        elif lower.endswith(".json"):
            from lamina.source import json_reader

            data, lines = json_reader.read(path, text)
        else:
            raise ParseError("not a config file (expected .toml, .yaml, .yml or .json)", Place(path))
    except RecursionError:
        # the parsers recurse per nesting level; past Python's stack it is the same error
        raise ParseError(
            f"nested deeper than {limits.max_depth} levels ([limits] max_depth)", Place(path, 1)
        ) from None
    check_shape(path, data, lines, limits)
    if text_lines is None:
        text_lines = comment_view(text, [])
    return Document(path=path, data=data, lines=lines, text_lines=text_lines)


def comment_view(text: str, strings: Iterable[scalars.TextSpan]) -> list[str]:
    """The lines of text with the text of every multi-line string cut out.

    Lines end at a line feed only, as the parsers count them (``str.splitlines`` would also
    break at U+2028 and the like, which a string may hold, and shift every line after it).
    """
    view = [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]
    for span in strings:
        if span.line <= len(view):
            view[span.line - 1] = view[span.line - 1][: span.column]
        for index in range(span.line, min(span.end_line, len(view))):
            view[index] = ""
    return view


class CommentView(Sequence[str]):
    """:func:`comment_view` of text, built on first use (TOML scans its strings lazily)."""

    def __init__(self, text: str, strings: Callable[[], Iterable[scalars.TextSpan]]) -> None:
        self._text = text
        self._strings = strings

    @cached_property
    def _view(self) -> list[str]:
        return comment_view(self._text, self._strings())

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._view[index]

    def __len__(self) -> int:
        return len(self._view)


def _check_text(path: str, text: str, at: KeyPath, lines: Mapping[KeyPath, int]) -> None:
    # JSON and YAML \u escapes can produce lone surrogates, which are not text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = ord(text[exc.start])
        raise ParseError(
            f"a string holds a lone surrogate \\u{bad:04x} (not valid Unicode text)",
            Place(path, _nearest(lines, at)),
        ) from None


def check_shape(path: str, data: Any, lines: Mapping[KeyPath, int], limits: scalars.Limits) -> None:
    """Refuse trees deeper or larger than the limits, and keys lamina cannot address."""
    if _within_shape(data, limits):
        return
    # something is wrong: walk again keeping each node's key path, to name its line
    count = 0
    stack: list[tuple[Any, KeyPath]] = [(data, ())]
    while stack:
        node, at = stack.pop()
        count += 1
        if count > limits.max_nodes:
            raise ParseError(
                f"more than {limits.max_nodes} values in one file ([limits] max_nodes)",
                Place(path, 1),
            )
        if len(at) > limits.max_depth:
            raise ParseError(
                f"nested deeper than {limits.max_depth} levels ([limits] max_depth)",
                Place(path, _nearest(lines, at)),
            )
        if isinstance(node, str):
            _check_text(path, node, at, lines)
        elif isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    raise ParseError(f"key {key!r} is not a string", Place(path, _nearest(lines, at)))
                _check_text(path, key, at, lines)
                stack.append((value, (*at, key)))
        elif isinstance(node, list):
            stack.extend((value, (*at, index)) for index, value in enumerate(node))


def _within_shape(data: Any, limits: scalars.Limits) -> bool:
    """The checks of :func:`check_shape` without key paths: True when all pass (the usual case)."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        count += 1
        if count > limits.max_nodes or depth > limits.max_depth:
            return False
        kind = type(node)
        if kind is str:
            if not (node.isascii() or _is_text(node)):
                return False
        elif kind is dict:
            for key, value in node.items():
                if type(key) is not str or not (key.isascii() or _is_text(key)):
                    return False
                push((value, depth + 1))
        elif kind is list:
            stack.extend((value, depth + 1) for value in node)
        elif isinstance(node, str | dict | list):
            return False  # a subclass: let the full walk judge it
    return True


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _nearest(lines: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
