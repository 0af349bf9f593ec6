"""TOML files: values from ``tomli``, the line of every key from a small scanner.

``tomli`` (the parser Python ships as ``tomllib``, here in its compiled build, about twice
as fast) checks the syntax and builds the values; it does not say where a key was. The
scanner below walks the (already valid) text once more and records the line of every key,
table header, array-of-tables entry and array element, and where multi-line strings lie
(so a ``#`` line inside one never reads as a comment). Lines are wanted for errors and
provenance only, so the scan runs on first use: loading a large fleet file never pays it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

import tomli

from lamina.core.paths import KeyPath
from lamina.errors import ParseError, Place
from lamina.source import scalars

_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_AT_END = " (at end of document)"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_DATE_OR_TIME = re.compile(r"\d(?:\d:\d\d|\d{3}-\d\d-\d\d)")  # one digit first: a faster scan
_SCALAR_END = re.compile(r"[,\]\}\n#]")


def read(path: str, text: str) -> tuple[dict[str, Any], Scan]:
    """Parse TOML text into plain values and a (lazy) scan of its key lines."""
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        message = str(exc)
        match = _POSITION.search(message)
        if match:
            place = Place(path, int(match.group(1)), int(match.group(2)))
            message = message[: match.start()]
        elif message.endswith(_AT_END):
            last = text.rsplit("\n", 1)[-1]
            place = Place(path, text.count("\n") + 1, len(last) + 1)
            message = message[: -len(_AT_END)]
        else:
            place = Place(path)
        raise ParseError(f"invalid TOML: {message}", place) from None
    except ValueError as exc:
        if not scalars.is_digit_limit(exc):
            raise
        # tomli reads in order, so all before the long integer is valid TOML and the
        # scanner reaches the integer and names its line
        _Scanner(path, text, find_long_integer=True).scan()
        raise ParseError(scalars.too_many_digits(), Place(path)) from None
    # every TOML date or time value holds one of these shapes: without one, nothing to convert
    if _DATE_OR_TIME.search(text):
        data = _plain(data)
    return data, Scan(path, text)


class Scan:
    """The key lines and multi-line string spans of valid TOML text, scanned on first use."""

    def __init__(self, path: str, text: str) -> None:
        self._path = path
        self.text = text
        self.lines: Mapping[KeyPath, int] = _Deferred(self)

    @cached_property
    def _scanner(self) -> _Scanner:
        scanner = _Scanner(self._path, self.text)
        scanner.scan()
        return scanner

    @property
    def scanned_lines(self) -> dict[KeyPath, int]:
        return self._scanner.lines

    @property
    def strings(self) -> list[scalars.TextSpan]:
        return self._scanner.strings


class _Deferred(Mapping[KeyPath, int]):
    def __init__(self, scan: Scan) -> None:
        self._scan = scan

    def __getitem__(self, key: KeyPath) -> int:
        return self._scan.scanned_lines[key]

    def __iter__(self) -> Iterator[KeyPath]:
        return iter(self._scan.scanned_lines)

    def __len__(self) -> int:
        return len(self._scan.scanned_lines)

    def __contains__(self, key: object) -> bool:
        return key in self._scan.scanned_lines


def _plain(value: Any) -> Any:
    # TOML dates and times have no JSON form: lamina carries them as RFC 3339 strings.
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


class _Scanner:
    """Records the line of each key in valid TOML text, and where multi-line strings lie."""

    def __init__(self, path: str, text: str, *, find_long_integer: bool = False) -> None:
        self.path = path
        self.text = text
        self.find_long_integer = find_long_integer
        self.pos = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        self.strings: list[scalars.TextSpan] = []
        self.aot_last: dict[KeyPath, int] = {}  # indexed path of an array of tables -> last index
        self.table_counts: dict[KeyPath, int] = {}

    def scan(self) -> dict[KeyPath, int]:
        prefix: KeyPath = ()
        while self.pos < len(self.text):
            self._skip_space_and_comments()
            if self.pos >= len(self.text):
                break
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                prefix = self._array_header()
            elif self.text[self.pos] == "[":
                self.pos += 1
                prefix = self._table_header()
            else:
                self._key_value(prefix)
        return self.lines

    # -- low-level reading --------------------------------------------------------------

    def _skip_ws(self) -> None:
        text = self.text
        while self.pos < len(text) and text[self.pos] in " \t":
            self.pos += 1

    def _skip_space_and_comments(self) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r":
                self.pos += 1
            elif char == "\n":
                self.pos += 1
                self.line += 1
            elif char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                break

    def _read_key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self._skip_ws()
            char = self.text[self.pos]
            if char == '"' or char == "'":
                parts.append(self._single_line_string())
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if match is None:
                    return parts
                parts.append(match.group())
                self.pos = match.end()
            self._skip_ws()
            if self.pos < len(self.text) and self.text[self.pos] == ".":
                self.pos += 1
                continue
            return parts

    def _single_line_string(self, *, decode: bool = True) -> str:
        quote = self.text[self.pos]
        start = self.pos
        self.pos += 1
        while self.text[self.pos] != quote:
            if quote == '"' and self.text[self.pos] == "\\":
                self.pos += 1
            self.pos += 1
        self.pos += 1
        raw = self.text[start : self.pos]
        if quote == "'" or not decode or "\\" not in raw:
            return raw[1:-1]  # no escapes: the text between the quotes is the string
        value: str = tomli.loads(f"k = {raw}")["k"]  # a key with escapes (rare)
        return value

    def _string(self) -> None:
        text = self.text
        for quote in ('"""', "'''"):
            if text.startswith(quote, self.pos):
                end = self.pos + 3
                while True:
                    end = text.find(quote, end)
                    if quote == '"""' and _escaped(text, end):
                        end += 1
                        continue
                    break
                while text.startswith(quote[0], end + 3):  # up to two extra quotes belong inside
                    end += 1
                newlines = text.count("\n", self.pos, end)
                if newlines:
                    column = self.pos - (text.rfind("\n", 0, self.pos) + 1)
                    self.strings.append(scalars.TextSpan(self.line, column, self.line + newlines))
                self.line += newlines
                self.pos = end + 3
                return
        self._single_line_string(decode=False)  # a value: tomllib has it; only its end matters here

    # -- structure --------------------------------------------------------------------------

    def _indexed(self, keys: list[str]) -> KeyPath:
        path: KeyPath = ()
        for key in keys:
            path = (*path, key)
            if path in self.aot_last:
                path = (*path, self.aot_last[path])
        return path

    def _table_header(self) -> KeyPath:
        keys = self._read_key()
        self._skip_ws()
        self.pos += 1  # ']'
        path = self._indexed(keys)
        for end in range(1, len(path) + 1):  # [a.b.c] also defines a and a.b
            self.lines.setdefault(path[:end], self.line)
        return path

    def _array_header(self) -> KeyPath:
        keys = self._read_key()
        self._skip_ws()
        self.pos += 2  # ']]'
        parent = self._indexed(keys[:-1])
        array: KeyPath = (*parent, keys[-1])
        for end in range(1, len(parent) + 1):
            self.lines.setdefault(parent[:end], self.line)
        index = self.aot_last.get(array, -1) + 1
        self.aot_last[array] = index
        # a new element starts fresh nested arrays of tables
        for known in [p for p in self.aot_last if p[: len(array)] == array and p != array]:
            del self.aot_last[known]
        self.lines.setdefault(array, self.line)
        self.lines[(*array, index)] = self.line
        return (*array, index)

    def _key_value(self, prefix: KeyPath) -> None:
        keys = self._read_key()
        if not keys:  # not reachable on valid TOML; never loop forever
            self.pos += 1
            return
        path = prefix
        for key in keys:
            path = (*path, key)
            self.lines.setdefault(path, self.line)
        self._skip_ws()
        self.pos += 1  # '='
        self._skip_ws()
        self._value(path)

    def _value(self, path: KeyPath) -> None:
        char = self.text[self.pos]
        if char in "\"'":
            self._string()
        elif char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        else:
            match = _SCALAR_END.search(self.text, self.pos)
            end = len(self.text) if match is None else match.start()
            if self.find_long_integer and scalars.is_unreadable_integer(self.text[self.pos : end].strip()):
                raise ParseError(scalars.too_many_digits(), Place(self.path, self.line))
            self.pos = end

    def _array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while True:
            self._skip_space_and_comments()
            char = self.text[self.pos]
            if char == "]":
                self.pos += 1
                return
            if char == ",":
                self.pos += 1
                continue
            self.lines.setdefault((*path, index), self.line)
            self._value((*path, index))
            index += 1

    def _inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while True:
            self._skip_space_and_comments()
            char = self.text[self.pos]
            if char == "}":
                self.pos += 1
                return
            if char == ",":
                self.pos += 1
                continue
            keys = self._read_key()
            sub = path
            for key in keys:
                sub = (*sub, key)
                self.lines.setdefault(sub, self.line)
            self._skip_ws()
            self.pos += 1  # '='
            self._skip_ws()
            self._value(sub)


def _escaped(text: str, index: int) -> bool:
    backslashes = 0
    while index - 1 - backslashes >= 0 and text[index - 1 - backslashes] == "\\":
        backslashes += 1
    return backslashes % 2 == 1
