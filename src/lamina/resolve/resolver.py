"""Resolve targets of one config repository: the entry point of the library.

A :class:`Repository` reads ``lamina.toml`` once and caches every parsed file, every layer
and every environment's merged overlays, so resolving a thousand targets parses base and
shared overlays once per revision, not once per target.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lamina.core import hashing
from lamina.core.paths import KeyPath, format_path, get_path, parse_path
from lamina.core.targets import TargetRef
from lamina.errors import FleetError, InputError, Place, ReferenceError_, UnknownTargetError
from lamina.fleet import loading, lockfile
from lamina.fleet.model import Cluster, Environment, Fleet
from lamina.fleet.selectors import Selector
from lamina.resolve import interpolation, merging, migrations, provenance, values
from lamina.resolve.leafindex import LeafIndex
from lamina.resolve.provenance import Layer, Setting
from lamina.source import documents
from lamina.source.documents import Document
from lamina.source.scalars import Limits
from lamina.source.trees import GitRepo, GitTree, Tree, WorkingTree, normalize

LAYER_IGNORED = {"kustomization.yaml", "kustomization.yml", "Kustomization"}


@dataclass(frozen=True)
class Explanation:
    """Every layer that set a key, the winner last, and the resolved value."""

    target: str
    key: str
    value: Any
    layers: tuple[Setting, ...]

    def to_json(self) -> dict[str, Any]:
        """The SPEC ``explain`` shape."""
        return {
            "target": self.target,
            "key": self.key,
            "value": self.value,
            "layers": [setting.to_json() for setting in self.layers],
        }


@dataclass(frozen=True)
class ResolvedConfig:
    """One target's exact config and where each value came from.

    Attributes:
        target: the target, as ``ENV`` (environment level) or ``ENV/CLUSTER``.
        data: the resolved config; treat it as read-only (it shares unchanged tables with
            other targets).
        layers: the layers merged, lowest first.
        revision: the git commit the overlays were read at, or None for the working tree.
        base_revision: the commit ``base/`` was read at (the pin), or None.
        fleet_name: ``[fleet] name``.
    """

    target: TargetRef
    data: dict[str, Any]
    layers: tuple[Layer, ...]
    environment: Environment
    cluster: Cluster | None
    revision: str | None
    base_revision: str | None
    fleet_name: str
    _hash: list[str] = field(default_factory=list, repr=False, compare=False)
    _files: list[dict[str, str]] = field(default_factory=list, repr=False, compare=False)

    @property
    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of data."""
        if not self._hash:
            self._hash.append(hashing.config_hash(self.data))
        return self._hash[0]

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of the config hash."""
        return hashing.short_hash(self.config_hash)

    def _at_revision(self, ref: TargetRef) -> ResolvedConfig:
        return replace(self, target=replace(self.target, revision=ref.revision))

    def plain(self) -> dict[str, Any]:
        """A deep copy of data made of builtin types only."""
        result: dict[str, Any] = _plain(self.data)
        return result

    def files(self) -> dict[str, str]:
        """The texts of the ``{file = ...}`` references in the config, by repository path."""
        if self._files:
            return self._files[0]
        found: dict[str, str] = {}
        for value in _leaves(self.data):
            if isinstance(value, values.FileText):
                found[value.source] = str(value)
        self._files.append(dict(sorted(found.items())))
        return self._files[0]

    def secret_refs(self) -> list[tuple[KeyPath, str]]:
        """Every ``{secret = ...}`` in the config: its path and the reference (never a value)."""
        refs: list[tuple[KeyPath, str]] = []
        _collect_secrets(self.data, (), refs)
        return refs

    def place_of(self, path: KeyPath) -> Place | None:
        """file:line of the layer that set the value at path."""
        return provenance.place_of(self.layers, path, self.data)

    def settings(self, path: KeyPath) -> list[Setting]:
        """Every layer that set path, lowest first."""
        return provenance.settings(self.layers, path, self.data)

    def explain(self, key: str) -> Explanation:
        """Every layer that set key, the winner last.

        Raises:
            UnknownTargetError: no layer sets key and it is not in the config.
        """
        try:
            path = parse_path(key)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        layers = provenance.settings(self.layers, path, self.data)
        try:
            value = get_path(self.data, path)
        except KeyError:
            if not layers:
                raise UnknownTargetError(f"no layer of {self.target} sets {key!r}") from None
            value = None
        return Explanation(str(self.target), format_path(path), _plain(value), tuple(layers))


def _plain(value: Any) -> Any:
    """A deep copy made of builtin types only (file texts become plain strings)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def _leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    else:
        yield node


def _collect_secrets(node: Any, path: KeyPath, out: list[tuple[KeyPath, str]]) -> None:
    if values.is_secret_ref(node):
        out.append((path, node[values.SECRET_KEY]))
    elif isinstance(node, dict):
        for key, value in node.items():
            _collect_secrets(value, (*path, key), out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _collect_secrets(value, (*path, index), out)


class Repository:
    """A config repository, read from the working tree or, with ``revision``, from git.

    Args:
        root: the folder holding lamina.toml.
        revision: read everything as of this git revision instead of the working tree.
    """

    def __init__(
        self,
        root: Path | str,
        revision: str | None = None,
        _parsed: dict[tuple[str, bytes], Document] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.git = GitRepo.find(self.root)
        # parsed files by (path, content): shared with the repository at other revisions, so a
        # file that is the same at HEAD and in the working tree is parsed once (plan, diff @REV)
        self._parsed: dict[tuple[str, bytes], Document] = {} if _parsed is None else _parsed
        self._trees: dict[str, GitTree] = {}
        self._at: dict[str, Repository] = {}
        self._docs: dict[tuple[str, str], Document] = {}
        self._layers: dict[tuple[str, str], Layer] = {}
        self._env_merged: dict[tuple[str, str], tuple[dict[str, Any], tuple[Layer, ...]]] = {}
        self._newest: dict[str, int] | None = None
        self._head: list[str | None] = []
        self._dollars = LeafIndex(
            lambda v: isinstance(v, str) and "$" in v and not isinstance(v, values.FileText)
        )
        self._file_texts = LeafIndex(lambda v: isinstance(v, values.FileText))
        if revision is None:
            self.tree: Tree = WorkingTree(self.root)
        else:
            self.tree = self.git_tree(revision)
        self.fleet: Fleet = loading.load_fleet(self.tree)
        self.limits = self.fleet.settings.limits
        if isinstance(self.tree, WorkingTree):
            self.tree.max_file_bytes = self.limits.max_file_bytes
        self.pins = lockfile.read_pins(self.tree, self.fleet.environments)
        self.exclude = self.fleet.settings.layers.exclude
        self.migrations = migrations.Migrations.of(self.fleet.settings.migrations)

    # -- trees ------------------------------------------------------------------------------

    def git_tree(self, revision: str) -> GitTree:
        """The tree of a git revision (cached)."""
        if self.git is None:
            raise InputError(f"{self.root} is not a git repository, so revision {revision!r} cannot be read")
        commit = self.git.resolve_revision(revision)
        if commit not in self._trees:
            self._trees[commit] = GitTree(self.git, commit)
        return self._trees[commit]

    def at(self, revision: str) -> Repository:
        """This repository as of a git revision (cached)."""
        if self.git is None:
            raise InputError(f"{self.root} is not a git repository, so revision {revision!r} cannot be read")
        commit = self.git.resolve_revision(revision)
        if commit not in self._at:
            self._at[commit] = Repository(self.root, commit, self._parsed)
        return self._at[commit]

    def close(self) -> None:
        """Stop helper processes (git cat-file)."""
        for tree in self._trees.values():
            tree.close()
        if isinstance(self.tree, GitTree):
            self.tree.close()
        for other in self._at.values():
            other.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def head(self) -> str | None:
        """The commit HEAD points at (None outside git or before the first commit)."""
        if not self._head:
            self._head.append(self.git.head() if self.git is not None else None)
        return self._head[0]

    def prepare_for_fork(self, environments: Iterable[str]) -> None:
        """Do the shared work once, before worker processes fork from this one: merge each
        environment, read git history, and stop helper processes whose pipes children must
        not share (they restart on demand)."""
        for name in dict.fromkeys(environments):
            self._environment_merged(self.fleet.environment(name))
        if self.git is not None and self.head() is not None and self._newest is None:
            self._newest = self.git.newest_commits(["base", "overlays", "clusters", "lamina.toml"])
        for tree in self._trees.values():
            tree.close()

    # -- revisions --------------------------------------------------------------------------

    def source_revision(self, config: ResolvedConfig) -> str | None:
        """The newest commit that changed any file config was read from (None without git).

        Stable across commits that touch nothing of the target (rendered output, other
        clusters), so re-rendering after an unrelated commit changes nothing.
        """
        if config.revision is not None:
            return config.revision
        head = self.head()
        if self.git is None or head is None:
            return None
        if self._newest is None:
            self._newest = self.git.newest_commits(["base", "overlays", "clusters", "lamina.toml"])
        inputs = [
            doc.path for layer in config.layers if layer.tree == self.tree.label for doc in layer.documents
        ]
        inputs += list(config.files())
        inputs.append(loading.FLEET_FILE)
        positions = [self._newest[path] for path in inputs if path in self._newest]
        if not positions:
            return head
        return self.git.commit_at(min(positions))

    # -- targets ----------------------------------------------------------------------------

    def targets(self, environments: Sequence[str] = (), selector: Selector | None = None) -> list[TargetRef]:
        """Every ENV/CLUSTER target, in promotion order, optionally filtered."""
        wanted = [self.fleet.environment(env).name for env in environments]
        refs = []
        for env in self.fleet.ordered_environments():
            if wanted and env not in wanted:
                continue
            for cluster in self.fleet.clusters_of(env):
                if selector is None or selector.matches(cluster.labels):
                    refs.append(TargetRef(env, cluster.name))
        return refs

    def resolve(self, target: TargetRef | str) -> ResolvedConfig:
        """Resolve one target (``ENV``, ``ENV/CLUSTER``, optionally ``@REV``).

        Raises:
            InputError: any problem in the layers (the message names file:line).
        """
        ref = TargetRef.parse(target) if isinstance(target, str) else target
        if ref.revision is not None:
            return self.at(ref.revision).resolve(replace(ref, revision=None))._at_revision(ref)
        env = self.fleet.environment(ref.environment)
        cluster = None
        if ref.cluster is not None:
            cluster = self.fleet.cluster(ref.cluster)
            if cluster.environment != env.name:
                raise UnknownTargetError(
                    f"cluster {cluster.name!r} belongs to environment {cluster.environment!r}, "
                    f"not {env.name!r}",
                    self.fleet.document.place(("clusters", cluster.name, "environment")),
                )
        merged, layers = self._environment_merged(env)
        if cluster is not None:
            cluster_layer = self._cluster_layer(cluster)
            if cluster_layer is not None:
                below = [doc for layer in layers for doc in layer.documents]
                merged = merging.merge_documents(merged, cluster_layer.documents, below)
                layers = (*layers, cluster_layer)
        cluster_names = None
        if cluster is not None:
            cluster_names = {
                "name": cluster.name,
                "namespace": cluster.namespace,
                "labels": cluster.labels,
            }
        names = interpolation.target_names(
            {"name": env.name, "stage": env.stage}, self.fleet.name, cluster_names
        )
        final_layers = layers
        interpolator = interpolation.Interpolator(
            merged,
            names,
            lambda path: provenance.place_of(final_layers, path, merged),
            keep_cluster_refs=cluster is None,
        )
        data = interpolator.run(self._dollars.paths(merged))
        pin = self.pins.get(env.name)
        texts: dict[str, str] = {}
        # file texts are never interpolated, so the merged tree (whose tables the targets of an
        # environment share) says where they are; a whole-table ${config.x} may copy one elsewhere
        source = data if interpolator.shared_at is not None else merged
        for path in self._file_texts.paths(source):
            text = get_path(source, path)
            texts[text.source] = str(text)
        return ResolvedConfig(
            target=TargetRef(env.name, cluster.name if cluster else None),
            data=data,
            layers=layers,
            environment=env,
            cluster=cluster,
            revision=self.tree.revision,
            base_revision=pin.revision if pin else self.tree.revision,
            fleet_name=self.fleet.name,
            _files=[dict(sorted(texts.items()))],
        )

    def resolve_all(
        self, environments: Sequence[str] = (), selector: Selector | None = None
    ) -> Iterator[ResolvedConfig]:
        """Resolve every target of the fleet (or of the given environments)."""
        for ref in self.targets(environments, selector):
            yield self.resolve(ref)

    def layer_files(self) -> list[str]:
        """Every config file of every layer in this tree (base, overlays, cluster layers)."""
        paths: list[str] = []
        layers = [self._layer(self.tree, "base", "base")]
        layers += [self._layer(self.tree, f"overlays/{env}", "overlay") for env in self.fleet.environments]
        layers += [self._cluster_layer(cluster) for cluster in self.fleet.clusters.values()]
        for layer in layers:
            if layer is not None:
                paths.extend(doc.path for doc in layer.documents)
        return sorted(set(paths))

    # -- layers -----------------------------------------------------------------------------

    def _environment_merged(self, env: Environment) -> tuple[dict[str, Any], tuple[Layer, ...]]:
        base_tree = self._base_tree(env)
        key = (env.name, base_tree.revision or "")
        cached = self._env_merged.get(key)
        if cached is not None:
            return cached
        layers: list[Layer] = []
        base = self._layer(base_tree, "base", "base")
        if base is not None:
            layers.append(base)
        for name in self.fleet.chain(env.name):
            overlay = self._layer(self.tree, f"overlays/{name}", "overlay")
            if overlay is not None:
                layers.append(overlay)
        merged: dict[str, Any] = {}
        below: list[Document] = []
        for layer in layers:
            merged = merging.merge_documents(merged, layer.documents, below)
            below.extend(layer.documents)
        result = (merged, tuple(layers))
        self._env_merged[key] = result
        return result

    def _base_tree(self, env: Environment) -> Tree:
        pin = self.pins.get(env.name)
        if pin is None:
            return self.tree
        if self.git is None:
            raise FleetError(
                f"lamina.lock pins {env.name!r} but the repository is not a git repository",
                Place(lockfile.LOCK_FILE, pin.line),
            )
        try:
            return self.git_tree(pin.revision)
        except UnknownTargetError:
            raise FleetError(
                f"pin of {env.name!r} names revision {pin.revision[:12]} which git does not have",
                Place(lockfile.LOCK_FILE, pin.line),
            ) from None

    def _cluster_layer(self, cluster: Cluster) -> Layer | None:
        folder = f"clusters/{cluster.name}"
        files = [
            f"{folder}{suffix}"
            for suffix in documents.CONFIG_SUFFIXES
            if self.tree.is_file(f"{folder}{suffix}")
        ]
        if self.tree.is_dir(folder):
            if files:
                raise FleetError(
                    f"cluster {cluster.name!r} has both {folder}/ and {files[0]}; keep one",
                    Place(files[0]),
                )
            return self._layer(self.tree, folder, "cluster")
        if len(files) > 1:
            raise FleetError(
                f"cluster {cluster.name!r} has several layer files: {', '.join(files)}",
                Place(files[1]),
            )
        if files:
            return self._layer(self.tree, files[0], "cluster", name=folder)
        return None

    def _layer(self, tree: Tree, rel: str, kind: str, name: str | None = None) -> Layer | None:
        key = (tree.revision or "", rel)
        if key in self._layers:
            return self._layers[key]
        if tree.is_dir(rel):
            folder = rel
            paths = [
                f"{rel}/{entry.name}"
                for entry in tree.list_dir(rel)
                if not entry.is_dir and self._is_config(rel, entry.name)
            ]
        elif tree.is_file(rel):
            folder = posixpath.dirname(rel)
            paths = [rel]
        else:
            return None
        docs = tuple(self._document(tree, path, folder) for path in paths)
        layer = Layer(name or rel, kind, docs, tree.label)
        self._layers[key] = layer
        return layer

    def _is_config(self, folder: str, filename: str) -> bool:
        if not filename.lower().endswith(documents.CONFIG_SUFFIXES) or filename in LAYER_IGNORED:
            return False
        return not any(
            fnmatch.fnmatch(filename, glob) or fnmatch.fnmatch(f"{folder}/{filename}", glob)
            for glob in self.exclude
        )

    def _document(self, tree: Tree, path: str, folder: str) -> Document:
        key = (tree.revision or "", path)
        doc = self._docs.get(key)
        if doc is None:
            limits = Limits(max_depth=self.limits.max_depth, max_nodes=self.limits.max_nodes)
            raw = tree.read_bytes(path)
            found = self._parsed.get((path, raw))
            if found is None:
                found = documents.parse_document(path, raw, limits)
                self._parsed[(path, raw)] = found
            parsed = migrations.upgrade(found, self.migrations)
            data = _FileRefs(tree, folder, parsed).resolve(parsed.data, ())
            doc = replace(parsed, data=data, revision=tree.revision)
            self._docs[key] = doc
        return doc


class _FileRefs:
    """Replaces ``{file = ...}`` with the file's text, read from the same tree as the layer."""

    def __init__(self, tree: Tree, folder: str, doc: Document) -> None:
        self.tree = tree
        self.folder = folder
        self.doc = doc

    def resolve(self, node: Any, path: KeyPath) -> Any:
        if values.is_file_ref(node):
            return self.read(node[values.FILE_KEY], path)
        if values.is_secret_ref(node):
            ref = node[values.SECRET_KEY]
            if not values.valid_secret_ref(ref):
                raise InputError(
                    f"{format_path(path)}: secret reference {ref!r} must be 'secret-name/key' "
                    "or 'vault:path#key'",
                    self.doc.place(path),
                )
            return node
        if isinstance(node, dict):
            return {key: self.resolve(value, (*path, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [self.resolve(value, (*path, index)) for index, value in enumerate(node)]
        return node

    def read(self, ref: str, path: KeyPath) -> values.FileText:
        place = self.doc.place(path)
        try:
            if ref.startswith("/"):
                normalize(ref)
            rel = normalize(posixpath.join(self.folder, ref))
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


def find_root(start: Path) -> Path | None:
    """The nearest folder from start upward that holds lamina.toml."""
    current = start.resolve()
    for folder in (current, *current.parents):
        if os.path.lexists(folder / loading.FLEET_FILE):  # reading it then says what is wrong with it
            return folder
    return None


def resolve(root: Path | str, target: str) -> ResolvedConfig:
    """Resolve one target of the repository at root (the one-call library entry point)."""
    with Repository(root) as repo:
        return repo.resolve(target)


def iter_targets(repo: Repository, specs: Iterable[str]) -> list[TargetRef]:
    """Expand command-line target specs: ``ENV`` means every cluster of ENV."""
    out: list[TargetRef] = []
    for spec in specs:
        ref = TargetRef.parse(spec)
        if ref.cluster is None:
            env = repo.fleet.environment(ref.environment).name
            out.extend(TargetRef(env, c.name, ref.revision) for c in repo.fleet.clusters_of(env))
        else:
            out.append(ref)
    return out
