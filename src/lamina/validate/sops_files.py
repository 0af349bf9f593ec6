"""SOPS files: every file under ``secrets/`` is encrypted, and every ``sops:`` key exists.

Checked on the files as they are in git, without decrypting anything: SOPS keeps key names in
clear, so no key material is needed to validate.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from typing import Any

from lamina.core.paths import KeyPath, format_path
from lamina.errors import InputError, Place
from lamina.resolve import values
from lamina.resolve.resolved import ResolvedConfig
from lamina.secrets import sops
from lamina.source.documents import Document
from lamina.source.trees import Tree
from lamina.validate.diagnostics import Check, Diagnostic, Severity


def files_under(tree: Tree, folder: str) -> Iterator[str]:
    """Every file below folder of tree (none when it does not exist)."""
    if not tree.is_dir(folder):
        return
    for entry in tree.list_dir(folder):
        rel = posixpath.join(folder, entry.name)
        if entry.is_dir:
            yield from files_under(tree, rel)
        elif not entry.name.startswith("."):
            yield rel


def check(tree: Tree, configs: Sequence[ResolvedConfig]) -> list[Diagnostic]:
    """Plaintext files under ``secrets/``, and ``sops:`` references to a missing file or key."""
    found: list[Diagnostic] = []
    files: dict[str, sops.SopsFile | None] = {}

    def inspect(rel: str) -> sops.SopsFile | None:
        if rel not in files:
            try:
                files[rel] = sops.inspect(rel, tree.read_bytes(rel))
            except InputError as exc:
                files[rel] = None
                found.append(_problem(None, exc.place or Place(rel), exc.message))
        return files[rel]

    for rel in files_under(tree, sops.FOLDER):
        inspect(rel)
    # references are read from each layer's files once, not from a thousand resolved configs
    for doc in _documents(configs):
        for path, ref in _sops_refs_of(doc.data, ()):
            wanted = sops.SopsRef.parse(ref)
            place = doc.place(path)
            key = format_path(path)
            if not tree.is_file(wanted.path):
                found.append(_problem(key, place, f"{key}: SOPS file {wanted.path} does not exist"))
                continue
            source = inspect(wanted.path)
            if source is not None and wanted.key not in source.keys:
                names = ", ".join(sorted(source.keys)) or "none"
                found.append(
                    _problem(
                        key,
                        place,
                        f"{key}: SOPS file {wanted.path} has no key {wanted.key!r} (keys: {names})",
                    )
                )
    return found


def _documents(configs: Sequence[ResolvedConfig]) -> list[Document]:
    seen: dict[int, Document] = {}
    for config in configs:
        for layer in config.layers:
            for doc in layer.documents:
                seen.setdefault(id(doc), doc)
    return list(seen.values())


def _sops_refs_of(node: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if values.is_secret_ref(node):
        ref = node[values.SECRET_KEY]
        if sops.is_sops_ref(ref):
            yield path, ref
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _sops_refs_of(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _sops_refs_of(value, (*path, index))


def _problem(key: str | None, place: Place | None, message: str) -> Diagnostic:
    return Diagnostic(
        check=Check.SECRETS, severity=Severity.ERROR, target=None, key=key, place=place, message=message
    )
