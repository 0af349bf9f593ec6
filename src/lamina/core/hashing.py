"""The config hash: SHA-256 of a config's canonical JSON."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any


def canonical_json(data: Any) -> bytes:
    """Keys sorted, no insignificant whitespace, UTF-8: the bytes the config hash covers."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def pretty_json(data: Any) -> str:
    """Canonical content, indented for people (and for the rendered agent-config.json)."""
    text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return _YAML_HOSTILE.sub(_escape, text)


def config_hash(data: Any) -> str:
    """The full SHA-256 hex digest of the canonical JSON of data."""
    return hashlib.sha256(canonical_json(data)).hexdigest()


def short_hash(full: str) -> str:
    """The first 12 hex digits of a config hash."""
    return full[:12]


class PrettyJson:
    """:func:`pretty_json`, byte for byte, remembering the text of each table it wrote.

    Configs of one fleet share most of their tables (resolution copies on write), so a
    writer reused across targets encodes each shared table once, and each string once.
    """

    def __init__(self) -> None:
        # (id, depth) -> (the container, kept alive so its id cannot be reused; its text)
        self._memo: dict[tuple[int, int], tuple[Any, str]] = {}
        self._strings: dict[str, str] = {}  # a string -> its JSON text

    def dumps(self, data: Any) -> str:
        """The same text as ``pretty_json(data)``."""
        return self._value(data, 0) + "\n"

    def _value(self, value: Any, depth: int) -> str:
        kind = type(value)
        if kind is str:
            text = self._strings.get(value)
            if text is None:
                text = self._strings[value] = _encode_string(value)
            return text
        if kind is dict or kind is list:
            if not value:
                return "{}" if kind is dict else "[]"
            key = (id(value), depth)
            hit = self._memo.get(key)
            if hit is not None and hit[0] is value:
                return hit[1]
            pad = _PADS[depth + 1] if depth + 1 < len(_PADS) else "\n" + "  " * (depth + 1)
            strings = self._strings
            items: list[str] = []
            below = depth + 1
            for item_key in sorted(value) if kind is dict else ():
                item = value[item_key]
                name = strings.get(item_key)
                if name is None:
                    name = strings[item_key] = _encode_string(item_key)
                item_kind = type(item)
                if item_kind is str:
                    text = strings.get(item)
                    if text is None:
                        text = strings[item] = _encode_string(item)
                    items.append(name + ": " + text)
                elif item_kind is int:
                    items.append(name + ": " + int.__repr__(item))
                elif item_kind is bool:
                    items.append(name + (": true" if item else ": false"))
                else:
                    items.append(name + ": " + self._value(item, below))
            if kind is list:
                items = [self._value(item, below) for item in value]
            opening, closing = ("{", "}") if kind is dict else ("[", "]")
            text = opening + pad + ("," + pad).join(items) + pad[:-2] + closing
            self._memo[key] = (value, text)
            return text
        if isinstance(value, str):  # a str subclass: the text of a referenced file
            text = self._strings.get(value)
            if text is None:
                text = self._strings[value] = _encode_string(value)
            return text
        return _scalar(value, self._value, depth)


_PADS = ["\n" + "  " * depth for depth in range(64)]


def _scalar(value: Any, encode: Any, depth: int) -> str:
    if isinstance(value, str):
        return _encode_string(value)
    if isinstance(value, dict | list):  # a subclass: as its base class
        return str(encode(dict(value) if isinstance(value, dict) else list(value), depth))
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("Out of range float values are not JSON compliant")
        return float.__repr__(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encode_string(text: str) -> str:
    result: str = json.encoder.encode_basestring(text)
    # DEL, C1 controls, line/paragraph separators and U+FFFE/F: YAML (Kustomize's output)
    # cannot carry them raw, so the JSON spells them as escapes (the same string to any reader)
    if _YAML_HOSTILE.search(result):
        result = _YAML_HOSTILE.sub(_escape, result)
    return result


_YAML_HOSTILE = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"
