"""Plaintext credentials in config files, found without ever showing them.

A literal string is taken for a credential when either

- the key it sits under ends with ``key``, ``token``, ``secret``, ``password`` or
  ``credential`` (case-insensitive: ``api_key``, ``apiKey``, ``auth_token``; plurals such as
  ``stop_tokens`` do not match), and it is not empty and not exactly one ``${...}`` reference;
- or it holds something shaped like a known credential anywhere, as
  :mod:`lamina.core.credential_rules` finds it (gitleaks' published rules: Google ``AIza...``
  keys, Hugging Face ``hf_...`` and GitLab ``glpat-...`` tokens, JWTs and some 200 more;
  lamina's own: ``sk-...``, ``AKIA...``, ``ghp_...``, ``xoxb-...``, PEM blocks, passwords
  inside URLs).

``{secret = ...}`` references are never findings. The text of a ``{file = ...}`` reference
is checked for credential shapes and reported at that file's own file:line. A line carrying
``lamina: allow-plaintext`` (a comment in a config file, anywhere on the line of a referenced
text) is exempt. Every file of every layer is read, not only the values that won, so a
credential that a higher layer hides is still caught: it is in git either way.

Whatever lamina prints about such a value is masked (``sk-…(masked)``): only the credential,
never the text around it; :class:`Redactor` applies the same rule to messages other checks
build from config values, and ``reports.presenting`` to every config shown to people.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from lamina.core import credential_rules
from lamina.core.paths import KeyPath, format_path
from lamina.errors import Place
from lamina.resolve import values
from lamina.source.documents import ALLOW_PLAINTEXT, Document
from lamina.validate.diagnostics import Check, Diagnostic, Severity

NAME_SUFFIXES = ("key", "token", "secret", "password", "credential")
MASK = credential_rules.MASK
_ONLY_REFERENCE = re.compile(r"^\$\{[^{}]*\}\Z")


def is_credential_name(key: str) -> bool:
    """True when a key's name says its value is a credential (``api_key``, ``authToken``)."""
    return key.lower().endswith(NAME_SUFFIXES)


def find_shape(text: str) -> credential_rules.Finding | None:
    """The first known credential format found anywhere in text."""
    found = credential_rules.find(str(text))
    return found[0] if found else None


def by_name(key: str | None, text: str) -> bool:
    """True when text is a credential because of the key it sits under (the whole value is secret)."""
    return key is not None and bool(text) and is_credential_name(key) and not _ONLY_REFERENCE.match(text)


def looks_like_credential(key: str | None, text: str) -> bool:
    """The rule of this module for one literal string under key (None: no key)."""
    if not text or isinstance(text, values.FileText):
        return False
    return by_name(key, text) or find_shape(text) is not None


def mask(text: str) -> str:
    """A credential as it may be named in a message: the format's public prefix at most, never
    the value nor the text around it."""
    shape = find_shape(text)
    return shape.masked if shape is not None else "(masked)"


def mask_value(key: str | None, text: str) -> str:
    """text as it may be shown: whole when its key names a credential, else with only the
    credentials found in it masked (a prompt stays readable around a pasted key)."""
    if by_name(key, text):
        return mask(text)
    return credential_rules.mask_text(text)


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
    return credential_rules.mask_text(text)


def scan_document(doc: Document, layer: str) -> list[Diagnostic]:
    """Every plaintext credential written in one config file, or in a file it references
    with ``{file = ...}`` (reported at that file's own file:line)."""
    found: list[Diagnostic] = []
    for path, key, text in _literals(doc.data, (), None):
        if isinstance(text, values.FileText):
            found.extend(_scan_file_text(text, path, layer))
            continue
        if not looks_like_credential(key, text):
            continue
        line = doc.line_of(path)
        if doc.allows_plaintext(line):
            continue
        shape = find_shape(text)
        what = shape.what if shape is not None else f"sits under the credential-like key {key!r}"
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


def _scan_file_text(text: values.FileText, path: KeyPath, layer: str) -> Iterator[Diagnostic]:
    """The credentials in the text of a referenced file, each at its own line of that file."""
    lines: list[str] | None = None
    for finding in credential_rules.find(text):
        if lines is None:
            lines = text.split("\n")
        number = text.count("\n", 0, finding.start) + 1
        if ALLOW_PLAINTEXT in lines[number - 1]:
            continue
        yield Diagnostic(
            check=Check.CREDENTIALS,
            severity=Severity.ERROR,
            target=None,
            key=format_path(path) or None,
            place=Place(text.source, number),
            message=(
                f"plaintext credential {finding.masked} in the text of {text.source} (read by "
                f'{format_path(path)}): it {finding.what}; use {{secret = "name/key"}} or mark the '
                'line "lamina: allow-plaintext"'
            ),
            layer=layer,
        )


def _literals(node: Any, path: KeyPath, key: str | None) -> Iterator[tuple[KeyPath, str | None, str]]:
    """(path in the document, nearest real key, text) of every literal string under node (file
    texts included, as :class:`values.FileText`)."""
    if values.is_secret_ref(node):
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
                if not isinstance(text, values.FileText) and looks_like_credential(key, text):
                    found.add(text)
            # longest first, so a credential that contains another is masked whole
            self._found = sorted(found, key=len, reverse=True)
        return self._found

    def redact(self, text: str) -> str:
        """text with every credential of the config, and every credential shape, masked."""
        for literal in self._literals:
            text = text.replace(literal, mask(literal))
        return credential_rules.mask_text(text)

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
