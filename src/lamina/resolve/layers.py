"""Which files form a layer, and reading them into documents once.

A layer is one folder (``base/``, ``overlays/<env>/``, ``clusters/<name>/``) or one file
(``clusters/<name>.toml``). A folder's config files are its top-level ``*.toml``, ``*.yaml``,
``*.yml`` and ``*.json`` files in sorted name order, except ``kustomization.yaml`` and what
``[layers] exclude`` names. That rule lives here alone: resolution reads layers with it,
and ``lamina plan`` scans layers with it to find which ones reference a changed file.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Sequence
from dataclasses import replace

from lamina.errors import FleetError, Place
from lamina.resolve import file_refs, migrations
from lamina.resolve.provenance import Layer
from lamina.source import documents
from lamina.source.documents import Document
from lamina.source.scalars import Limits
from lamina.source.trees import Tree

IGNORED = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
"""File names in a layer folder that are never config (Kustomize's own file)."""


def is_config(folder: str, filename: str, exclude: Sequence[str]) -> bool:
    """True when filename, a file directly in the layer folder, is one of its config files.

    Args:
        folder: the layer folder (``overlays/production``).
        filename: the file's name inside it.
        exclude: ``[layers] exclude`` globs, matched against the name and the folder path.
    """
    if not filename.lower().endswith(documents.CONFIG_SUFFIXES) or filename in IGNORED:
        return False
    return not any(
        fnmatch.fnmatch(filename, glob) or fnmatch.fnmatch(f"{folder}/{filename}", glob) for glob in exclude
    )


def config_files(tree: Tree, rel: str, exclude: Sequence[str]) -> tuple[str, list[str]] | None:
    """The files of the layer at rel: the folder its ``{file = ...}`` paths are relative to, and
    its config files in merge order; None when rel is neither a folder nor a file of tree."""
    if tree.is_dir(rel):
        return rel, [
            f"{rel}/{entry.name}"
            for entry in tree.list_dir(rel)
            if not entry.is_dir and is_config(rel, entry.name, exclude)
        ]
    if tree.is_file(rel):
        return posixpath.dirname(rel), [rel]
    return None


def cluster_places(cluster: str) -> tuple[str, list[str]]:
    """Where cluster's layer may be: the folder ``clusters/<name>``, and the single files
    ``clusters/<name>.<suffix>``."""
    folder = f"clusters/{cluster}"
    return folder, [folder + suffix for suffix in documents.CONFIG_SUFFIXES]


class LayerReader:
    """Reads layers of one repository's trees; each layer and each file is read once.

    Args:
        exclude: ``[layers] exclude`` globs.
        limits: the parser's nesting and size limits.
        upgrades: the ``[[migrations]]`` each file is upgraded with before merging.
        parsed: parsed files by (path, content), shared with the readers of the same repository
            at other revisions, so a file that is the same on both sides is parsed once.
    """

    def __init__(
        self,
        exclude: Sequence[str],
        limits: Limits,
        upgrades: migrations.Migrations,
        parsed: dict[tuple[str, bytes], Document],
    ) -> None:
        self.exclude = exclude
        self.limits = limits
        self.upgrades = upgrades
        self._parsed = parsed
        self._docs: dict[tuple[str, str], Document] = {}
        self._defaults: dict[int, migrations.Defaults] = {}
        self._layers: dict[tuple[str, str], Layer] = {}

    def defaults(self, layers: Sequence[Layer]) -> migrations.Defaults:
        """The defaults the migrations of layers' files give, lowest layer first."""
        return tuple(
            item for layer in layers for doc in layer.documents for item in self._defaults.get(id(doc), ())
        )

    def layer(self, tree: Tree, rel: str, kind: str, name: str | None = None) -> Layer | None:
        """The layer at rel (a folder or a file), or None when tree has neither."""
        key = (tree.revision or "", rel)
        if key in self._layers:
            return self._layers[key]
        found = config_files(tree, rel, self.exclude)
        if found is None:
            return None
        folder, paths = found
        docs = tuple(self._document(tree, path, folder) for path in paths)
        layer = Layer(name or rel, kind, docs, tree.label)
        self._layers[key] = layer
        return layer

    def cluster_layer(self, tree: Tree, cluster: str) -> Layer | None:
        """The layer of cluster: its folder or its one file, or None when it has neither.

        Raises:
            FleetError: the cluster has both a folder and a file, or several files.
        """
        folder, candidates = cluster_places(cluster)
        files = [path for path in candidates if tree.is_file(path)]
        if tree.is_dir(folder):
            if files:
                raise FleetError(
                    f"cluster {cluster!r} has both {folder}/ and {files[0]}; keep one",
                    Place(files[0]),
                )
            return self.layer(tree, folder, "cluster")
        if len(files) > 1:
            raise FleetError(
                f"cluster {cluster!r} has several layer files: {', '.join(files)}",
                Place(files[1]),
            )
        if files:
            return self.layer(tree, files[0], "cluster", name=folder)
        return None

    def _document(self, tree: Tree, path: str, folder: str) -> Document:
        key = (tree.revision or "", path)
        doc = self._docs.get(key)
        if doc is None:
            raw = tree.read_bytes(path)
            found = self._parsed.get((path, raw))
            if found is None:
                found = documents.parse_document(path, raw, self.limits)
                self._parsed[(path, raw)] = found
            parsed, defaults = migrations.upgrade(found, self.upgrades)
            data = file_refs.FileRefs(tree, folder, parsed).resolve(parsed.data, ())
            doc = replace(parsed, data=data, revision=tree.revision)
            self._docs[key] = doc
            if defaults:
                self._defaults[id(doc)] = defaults  # the document lives as long as this reader
        return doc
