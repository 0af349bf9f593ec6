"""Plaintext credentials in config files, found without ever showing them.

A literal string is taken for a credential when either

- the key it sits under ends with ``key``, ``token``, ``secret``, ``password`` or
  ``credential`` (case-insensitive: ``api_key``, ``apiKey``, ``auth_token``; plurals such as
  ``stop_tokens`` do not match), and it is not empty and not exactly one ``${...}`` reference;
- or it holds something shaped like a known credential anywhere: an OpenAI-style ``sk-...``
  key, an AWS access key id ``AKIA...``, a GitHub token ``ghp_...``, a Slack token
  ``xoxb-...``/``xoxp-...``, or a PEM block.

``{secret = ...}`` references and the text of ``{file = ...}`` references are never
findings. A line carrying the comment ``lamina: allow-plaintext`` is exempt. Every file of
every layer is read, not only the values that won, so a credential that a higher layer
hides is still caught: it is in git either way.

Whatever lamina prints about such a value is masked (``sk-…(masked)``); :class:`Redactor`
applies the same rule to messages other checks build from config values.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lamina.core.paths import KeyPath, format_path
from lamina.resolve import values
from lamina.source.documents import Document
from lamina.validate.diagnostics import Check, Diagnostic, Severity

NAME_SUFFIXES = ("key", "token", "secret", "password", "credential")
MASK = "…(masked)"
_ONLY_REFERENCE = re.compile(r"^\$\{[^{}]*\}\Z")


@dataclass(frozen=True)
class Shape:
    """A credential format: its name, the prefix safe to show, and how to find it."""

    name: str
    prefix: str
    pattern: re.Pattern[str]


SHAPES = (
    Shape("an OpenAI-style API key", "sk-", re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}")),
    Shape("an AWS access key id", "AKIA", re.compile(r"(?<![A-Z0-9])AKIA[0-9A-Z]{16}(?![0-9A-Z])")),
    Shape("a GitHub token", "gh", re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}")),
    Shape("a Slack token", "xox", re.compile(r"(?<![A-Za-z0-9])xox[bp]-[A-Za-z0-9-]{10,}")),
    # a PEM block runs to its END line (or to the end of the text, when cut short)
    Shape(
        "a PEM block",
        "-----BEGIN",
        re.compile(r"-----BEGIN [A-Z0-9 ]+-----(?:.*?-----END [A-Z0-9 ]+-----|.*)", re.DOTALL),
    ),
)


def is_credential_name(key: str) -> bool:
    """True when a key's name says its value is a credential (``api_key``, ``authToken``)."""
    return key.lower().endswith(NAME_SUFFIXES)


def find_shape(text: str) -> Shape | None:
    """The first known credential format found anywhere in text."""
    index = _shape_index(str(text))
    return None if index < 0 else SHAPES[index]


@functools.lru_cache(maxsize=256)
def _shape_index(text: str) -> int:
    # the same long texts (a prompt) come by once per target: search each one once
    for index, shape in enumerate(SHAPES):
        if shape.pattern.search(text):
            return index
    return -1


def looks_like_credential(key: str | None, text: str) -> bool:
    """The rule of this module for one literal string under key (None: no key)."""
    if not text or isinstance(text, values.FileText):
        return False
    if key is not None and is_credential_name(key) and not _ONLY_REFERENCE.match(text):
        return True
    return find_shape(text) is not None


def mask(text: str) -> str:
    """A credential as it may be shown: the format's public prefix at most, never the value."""
    shape = find_shape(text)
    return f"{shape.prefix}{MASK}" if shape is not None else "(masked)"


_URL_PASSWORD = re.compile(r"(?<=://)([^/@:\s]*):([^/@\s]+)@")
# what verbose HTTP clients print of a request: ``Authorization: Bearer ...``, ``X-Vault-Token: ...``
_AUTH_HEADER = re.compile(
    r"(?im)^([<>*]?\s*(?:authorization|proxy-authorization|x-[a-z-]*token)\s*:\s*)(.+)$"
)


MIN_KNOWN_SECRET = 6  # shorter values ("true", a port) would mask ordinary words


def redact_output(text: str, known: Iterable[str]) -> str:
    """What a command printed, safe to store and show: known secret values, the passwords of
    URLs and every known credential shape masked (as CI systems mask their logs)."""
    for value in sorted({v for v in known if len(v) >= MIN_KNOWN_SECRET}, key=len, reverse=True):
        text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{MASK}", text)
    for shape in SHAPES:
        text = shape.pattern.sub(f"{shape.prefix}{MASK}", text)  # no backslash: a plain replacement
    return text


def scan_document(doc: Document, layer: str) -> list[Diagnostic]:
    """Every plaintext credential written in one config file."""
    found: list[Diagnostic] = []
    for path, key, text in _literals(doc.data, (), None):
        if not looks_like_credential(key, text):
            continue
        line = doc.line_of(path)
        if doc.allows_plaintext(line):
            continue
        shape = find_shape(text)
        what = (
            f"looks like {shape.name}" if shape is not None else f"sits under the credential-like key {key!r}"
        )
        found.append(
            Diagnostic(
                check=Check.CREDENTIALS,
                severity=Severity.ERROR,
                target=None,
                key=format_path(path) or None,
                place=doc.place(path),
                message=(
                    f"plaintext credential {mask(text)}: the literal {what}; "
                    'use {secret = "name/key"} or mark the line "# lamina: allow-plaintext"'
                ),
                layer=layer,
            )
        )
    return found


def _literals(node: Any, path: KeyPath, key: str | None) -> Iterator[tuple[KeyPath, str | None, str]]:
    """(path in the document, nearest real key, text) of every literal string under node."""
    if isinstance(node, values.FileText) or values.is_secret_ref(node):
        return
    if isinstance(node, str):
        yield path, key, node
    elif isinstance(node, dict):
        for name, value in node.items():
            if name in ("$merge_by", "$delete"):
                continue
            # directives ($replace, $append, $items...) keep the key they sit under
            yield from _literals(value, (*path, name), key if name.startswith("$") else name)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _literals(value, (*path, index), key)


class Redactor:
    """Masks, in messages built from a config's values, every string that looks like a credential."""

    def __init__(self, data: Any) -> None:
        self._data = data
        self._found: list[str] | None = None

    @property
    def _literals(self) -> list[str]:
        # found on first use: most targets produce no message to mask
        if self._found is None:
            found: set[str] = set()
            for _, key, text in _literals(self._data, (), None):
                if looks_like_credential(key, text):
                    found.add(text)
            # longest first, so a credential that contains another is masked whole
            self._found = sorted(found, key=len, reverse=True)
        return self._found

    def redact(self, text: str) -> str:
        """text with every credential of the config, and every credential shape, masked."""
        for literal in self._literals:
            text = text.replace(literal, mask(literal))
        for shape in SHAPES:
            text = shape.pattern.sub(shape.prefix + MASK, text)
        return text

    def display(self, key: str | None, value: Any, limit: int = 60, *, as_json: bool = False) -> str:
        """A config value for a message: masked when credential-like, shortened when long.

        Written as Python writes it (as jsonschema's messages do), or ``as_json``.
        """
        if isinstance(value, str) and looks_like_credential(key, value):
            return mask(value)
        plain = str(value) if isinstance(value, str) else value
        shown = json.dumps(plain, ensure_ascii=False, sort_keys=True, default=str) if as_json else repr(plain)
        shown = self.redact(shown)
        return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def mask_tree(data: Any, key: str | None = None) -> Any:
    """A copy of data with every credential-like string masked, for output to people.

    The config hash still covers the real values; only what is shown is masked.
    """
    if values.is_secret_ref(data):
        return data  # a reference names a secret; it holds no value
    if key == values.SECRET_KEY and isinstance(data, str) and values.valid_secret_ref(data):
        return data  # the inside of such a reference
    if isinstance(data, dict):
        return {k: mask_tree(v, k) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_tree(item, key) for item in data]
    if isinstance(data, str) and looks_like_credential(key, data):
        return mask(data)
    return data
