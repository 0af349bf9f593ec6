"""JSON files: values from the standard library, key lines from a small scanner.

JSON has no comments, so JSON layers never carry a reason for their values.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lamina.core.paths import KeyPath
from lamina.errors import ParseError, Place
from lamina.source import scalars

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_CONSTANT = re.compile(r"(?<![\w\"])-?(?:NaN|Infinity)(?![\w\"])")
_SCALAR = re.compile(r"[^,\]\}\s]+")


def read(path: str, text: str) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    """Parse JSON text into plain values and key lines; duplicate keys are errors."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc.msg}", Place(path, exc.lineno, exc.colno)) from None
    except ValueError as exc:
        if scalars.is_digit_limit(exc):
            # json reads in order, so all before the long integer is valid JSON and the
            # scanner reaches the integer and names its line
            _Scanner(path, text, find_long_integer=True).value(())
            raise ParseError(scalars.too_many_digits(), Place(path)) from None
        found = _CONSTANT.search(text)
        place = Place(path)
        if found:
            before = text[: found.start()]
            place = Place(path, before.count("\n") + 1, len(before.rsplit("\n", 1)[-1]) + 1)
        raise ParseError(f"invalid JSON: {exc}", place) from None
    if not isinstance(data, dict):
        raise ParseError("the top level must be an object", Place(path, 1))
    scanner = _Scanner(path, text)
    scanner.value(())
    return data, scanner.lines


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _Scanner:
    def __init__(self, path: str, text: str, *, find_long_integer: bool = False) -> None:
        self.path = path
        self.text = text
        self.find_long_integer = find_long_integer
        self.pos = 0
        self.lines: dict[KeyPath, int] = {}
        self._counted = 0
        self._line_no = 1

    def _line(self) -> int:
        # positions only move forward, so count newlines incrementally
        self._line_no += self.text.count("\n", self._counted, self.pos)
        self._counted = self.pos
        return self._line_no

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n,:":
            self.pos += 1

    def value(self, path: KeyPath) -> None:
        self._skip()
        char = self.text[self.pos]
        if char == "{":
            self.pos += 1
            seen: set[str] = set()
            while True:
                self._skip()
                if self.text[self.pos] == "}":
                    self.pos += 1
                    return
                match = _STRING.match(self.text, self.pos)
                assert match is not None
                key: str = json.loads(match.group())
                line = self._line()
                if key in seen:
                    raise ParseError(f"duplicate key {key!r}", Place(self.path, line))
                seen.add(key)
                self.lines[(*path, key)] = line
                self.pos = match.end()
                self.value((*path, key))
        elif char == "[":
            self.pos += 1
            index = 0
            while True:
                self._skip()
                if self.text[self.pos] == "]":
                    self.pos += 1
                    return
                self.lines[(*path, index)] = self._line()
                self.value((*path, index))
                index += 1
        elif char == '"':
            match = _STRING.match(self.text, self.pos)
            assert match is not None
            self.pos = match.end()
        else:
            match = _SCALAR.match(self.text, self.pos)
            assert match is not None
            if self.find_long_integer and scalars.is_unreadable_integer(match.group()):
                raise ParseError(scalars.too_many_digits(), Place(self.path, self._line()))
            self.pos = match.end()
