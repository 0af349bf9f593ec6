"""Resolve targets of one config repository: the entry point of the library.

A :class:`Repository` reads ``lamina.toml`` once and caches every parsed file, every layer
and every environment's merged overlays, so resolving a thousand targets parses base and
shared overlays once per revision, not once per target. Its caches live as long as it does
and are never shared with another repository opened on the same folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec

from lamina.core.paths import get_path
from lamina.core.targets import TargetRef
from lamina.errors import FleetError, InputError, Place, UnknownTargetError
from lamina.fleet import loading, lockfile
from lamina.fleet.model import Cluster, Environment, Fleet
from lamina.fleet.selectors import Selector
from lamina.resolve import interpolation, layers, merging, migrations, provenance, resolved, values
from lamina.resolve.leafindex import LeafIndex
from lamina.resolve.provenance import Layer
from lamina.source.documents import Document
from lamina.source.scalars import Limits
from lamina.source.trees import GitRepo, GitTree, Tree, WorkingTree

# what source_revision asks git the history of
_HISTORY_INPUTS = ("base", "overlays", "clusters", loading.FLEET_FILE)


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
        self._git: GitRepo | None = None
        self._git_found = False
        # parsed files by (path, content): shared with the repository at other revisions, so a
        # file that is the same at HEAD and in the working tree is parsed once (plan, diff @REV)
        self._parsed: dict[tuple[str, bytes], Document] = {} if _parsed is None else _parsed
        self._trees: dict[str, GitTree] = {}
        self._at: dict[str, Repository] = {}
        self._env_merged: dict[tuple[str, str], tuple[dict[str, Any], tuple[Layer, ...]]] = {}
        self._newest: dict[str, int] | None = None
        # not a cached_property: on Python 3.11 its lock is shared by every instance, and
        # reading HEAD runs git, so concurrent requests would queue behind each other
        self._head: str | None = None
        self._head_read = False
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
        self._reader = layers.LayerReader(
            self.exclude,
            Limits(max_depth=self.limits.max_depth, max_nodes=self.limits.max_nodes),
            self.migrations,
            self._parsed,
        )

    @property
    def git(self) -> GitRepo | None:
        """The git repository holding the root (None for a plain folder), found on first use: most
        commands that read the working tree never need git, and finding it runs a git process."""
        if not self._git_found:
            self._git = GitRepo.find(self.root)
            self._git_found = True
        return self._git

    def git_tree(self, revision: str) -> GitTree:
        """The tree of a git revision (cached)."""
        git = self._git_or_refuse(revision)
        commit = git.resolve_revision(revision)
        if commit not in self._trees:
            self._trees[commit] = GitTree(git, commit)
        return self._trees[commit]

    def at(self, revision: str) -> Repository:
        """This repository as of a git revision (cached)."""
        commit = self._git_or_refuse(revision).resolve_revision(revision)
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
        """The commit HEAD points at (None outside git or before the first commit); asked once."""
        if not self._head_read:
            self._head = self.git.head() if self.git is not None else None
            self._head_read = True
        return self._head

    def prepare_for_fork(self, environments: Iterable[str]) -> None:
        """Do the shared work once, before worker processes fork from this one: merge each
        environment, read git history, and stop helper processes whose pipes children must
        not share (they restart on demand)."""
        for name in dict.fromkeys(environments):
            self._environment_merged(self.fleet.environment(name))
        if self.git is not None and self.head() is not None:
            self._history(self.git)
        for tree in self._trees.values():
            tree.close()

    def source_revision(self, config: resolved.ResolvedConfig) -> str | None:
        """The newest commit that changed any file config was read from (None without git).

        Stable across commits that touch nothing of the target (rendered output, other
        clusters), so re-rendering after an unrelated commit changes nothing.
        """
        if config.revision is not None:
            return config.revision
        head = self.head()
        if self.git is None or head is None:
            return None
        newest = self._history(self.git)
        inputs = [
            doc.path for layer in config.layers if layer.tree == self.tree.label for doc in layer.documents
        ]
        inputs += list(config.files())
        inputs.append(loading.FLEET_FILE)
        positions = [newest[path] for path in inputs if path in newest]
        if not positions:
            return head
        return self.git.commit_at(min(positions))

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

    def resolve(self, target: TargetRef | str) -> resolved.ResolvedConfig:
        """Resolve one target (``ENV``, ``ENV/CLUSTER``, optionally ``@REV``).

        Raises:
            InputError: any problem in the layers (the message names file:line).
        """
        ref = TargetRef.parse(target) if isinstance(target, str) else target
        if ref.revision is not None:
            config = self.at(ref.revision).resolve(msgspec.structs.replace(ref, revision=None))
            return replace(config, target=msgspec.structs.replace(config.target, revision=ref.revision))
        env = self.fleet.environment(ref.environment)
        cluster = self._cluster_of(env, ref.cluster)
        merged, merged_layers = self._environment_merged(env)
        if cluster is not None:
            cluster_layer = self._reader.cluster_layer(self.tree, cluster.name)
            if cluster_layer is not None:
                below = [doc for layer in merged_layers for doc in layer.documents]
                merged = merging.merge_documents(merged, cluster_layer.documents, below)
                merged_layers = (*merged_layers, cluster_layer)
        defaults = self._reader.defaults(merged_layers)
        if defaults:  # a migration's default fills only what no layer sets
            merged = migrations.fill_defaults(merged, defaults)
        data, shared = self._interpolate(merged, merged_layers, env, cluster)
        texts: dict[str, str] = {}
        # file texts are never interpolated, so the merged tree (whose tables the targets of an
        # environment share) says where they are; a whole-table ${config.x} may copy one elsewhere
        source = data if shared else merged
        for path in self._file_texts.paths(source):
            text = get_path(source, path)
            texts[text.source] = str(text)
        pin = self.pins.get(env.name)
        return resolved.ResolvedConfig(
            target=TargetRef(env.name, cluster.name if cluster else None),
            data=data,
            layers=merged_layers,
            environment=env,
            cluster=cluster,
            revision=self.tree.revision,
            base_revision=pin.revision if pin else self.tree.revision,
            fleet_name=self.fleet.name,
            _file_texts=dict(sorted(texts.items())),
        )

    def resolve_all(
        self, environments: Sequence[str] = (), selector: Selector | None = None
    ) -> Iterator[resolved.ResolvedConfig]:
        """Resolve every target of the fleet (or of the given environments)."""
        for ref in self.targets(environments, selector):
            yield self.resolve(ref)

    def layer_files(self) -> list[str]:
        """Every config file of every layer in this tree (base, overlays, cluster layers)."""
        paths: list[str] = []
        found = [self._reader.layer(self.tree, "base", "base")]
        found += [
            self._reader.layer(self.tree, f"overlays/{env}", "overlay") for env in self.fleet.environments
        ]
        found += [
            self._reader.cluster_layer(self.tree, cluster.name) for cluster in self.fleet.clusters.values()
        ]
        for layer in found:
            if layer is not None:
                paths.extend(doc.path for doc in layer.documents)
        return sorted(set(paths))

    def base_tree(self, env: Environment) -> Tree:
        """The tree env reads ``base/`` from: its pin's revision, or this repository's tree.

        Raises:
            FleetError: env is pinned but there is no git repository, or no such revision.
        """
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

    def _git_or_refuse(self, revision: str) -> GitRepo:
        if self.git is None:
            raise InputError(f"{self.root} is not a git repository, so revision {revision!r} cannot be read")
        return self.git

    def _history(self, git: GitRepo) -> dict[str, int]:
        if self._newest is None:
            self._newest = git.newest_commits(list(_HISTORY_INPUTS))
        return self._newest

    def _cluster_of(self, env: Environment, name: str | None) -> Cluster | None:
        if name is None:
            return None
        cluster = self.fleet.cluster(name)
        if cluster.environment != env.name:
            raise UnknownTargetError(
                f"cluster {cluster.name!r} belongs to environment {cluster.environment!r}, not {env.name!r}",
                self.fleet.document.place(("clusters", cluster.name, "environment")),
            )
        return cluster

    def _interpolate(
        self,
        merged: dict[str, Any],
        merged_layers: tuple[Layer, ...],
        env: Environment,
        cluster: Cluster | None,
    ) -> tuple[dict[str, Any], bool]:
        """The config with every ``${...}`` resolved, and whether a whole-table reference
        copied a table to another place."""
        cluster_names = None
        if cluster is not None:
            cluster_names = {"name": cluster.name, "namespace": cluster.namespace, "labels": cluster.labels}
        names = interpolation.target_names(
            {"name": env.name, "stage": env.stage}, self.fleet.name, cluster_names
        )
        interpolator = interpolation.Interpolator(
            merged,
            names,
            lambda path: provenance.place_of(merged_layers, path, merged),
            keep_cluster_refs=cluster is None,
        )
        data = interpolator.run(self._dollars.paths(merged))
        return data, interpolator.shared_at is not None

    def _environment_merged(self, env: Environment) -> tuple[dict[str, Any], tuple[Layer, ...]]:
        base_tree = self.base_tree(env)
        key = (env.name, base_tree.revision or "")
        cached = self._env_merged.get(key)
        if cached is not None:
            return cached
        found: list[Layer] = []
        base = self._reader.layer(base_tree, "base", "base")
        if base is not None:
            found.append(base)
        for name in self.fleet.chain(env.name):
            overlay = self._reader.layer(self.tree, f"overlays/{name}", "overlay")
            if overlay is not None:
                found.append(overlay)
        merged: dict[str, Any] = {}
        below: list[Document] = []
        for layer in found:
            merged = merging.merge_documents(merged, layer.documents, below)
            below.extend(layer.documents)
        result = (merged, tuple(found))
        self._env_merged[key] = result
        return result


def find_root(start: Path) -> Path | None:
    """The nearest folder from start upward that holds lamina.toml."""
    current = start.resolve()
    for folder in (current, *current.parents):
        if os.path.lexists(folder / loading.FLEET_FILE):  # reading it then says what is wrong with it
            return folder
    return None


def resolve(root: Path | str, target: str) -> resolved.ResolvedConfig:
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
