"""What git says changed between the two sides of a plan, and which targets that can touch.

Resolving every target on both sides would answer what a change does but costs the whole
fleet twice; most changes touch one environment or one cluster. So the plan asks git which
files changed first, and resolves only the targets whose inputs are among them:

- ``lamina.toml`` changed: every target (it defines the fleet, names, chains, exclusions);
- ``lamina.lock`` changed: the targets of environments whose pin moved;
- ``base/...``: the targets of environments that read ``base/`` from the compared trees
  (an environment pinned to the same revision on both sides reads neither);
- ``overlays/<A>/...``: the targets of environments whose ``extends`` chain holds A;
- ``clusters/<C>/...`` or ``clusters/<C>.<suffix>``: the target of cluster C;
- any other changed file (a prompt, a shared text under another folder): the targets one
  of whose layer files references it with ``{file = ...}``. Only the layers of targets not
  already chosen are read for this, and only files that mention the changed file's name
  are parsed. A target none of whose layer files changed reads the same layer files on
  both sides, so reading them on one side is enough.

Matching goes by folder, so a file added to a layer folder counts. A referenced file
reached through a symlink is not traced back to the symlink's target.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from lamina.core.targets import TargetRef
from lamina.errors import LaminaError
from lamina.fleet.loading import FLEET_FILE
from lamina.fleet.lockfile import LOCK_FILE
from lamina.resolve import file_refs, layers
from lamina.resolve.repository import Repository
from lamina.source import documents
from lamina.source.trees import Tree, run_git

UNTRACKED_INPUTS = ("base", "overlays", "clusters", FLEET_FILE, LOCK_FILE, "policies", "schema")
"""Where an untracked file can change a plan (tracked changes are taken from everywhere).

Git-ignored files there count too: resolution reads the folders as they are on disk, so a
git-ignored ``overlays/dev/local.toml`` changes what ``lamina build`` prints."""


def changed_files(root: Path, from_commit: str, to_commit: str | None) -> tuple[str, ...]:
    """Paths (relative to the config repository at root) that differ between from_commit and
    to_commit, or, with to_commit None, the working tree: tracked changes anywhere, plus
    untracked files (git-ignored ones included) under :data:`UNTRACKED_INPUTS`. Sorted, deleted and
    renamed files included under their old and new names.
    """
    span = [from_commit] if to_commit is None else [from_commit, to_commit]
    # run in the config folder with --relative: only its files, named relative to it
    out = run_git(root, "diff", "--name-only", "-z", "--no-renames", "--relative", *span, "--")
    names = set(_split(out))
    if to_commit is None:
        untracked = run_git(root, "ls-files", "--others", "-z", "--", *UNTRACKED_INPUTS)
        names.update(_split(untracked))
    return tuple(sorted(names))


def _split(out: bytes) -> Iterator[str]:
    for name in out.split(b"\x00"):
        if name:
            yield name.decode("utf-8", "surrogateescape")


def every_target(to_targets: Iterable[TargetRef], from_targets: Iterable[TargetRef]) -> list[TargetRef]:
    """The targets of either side, in promotion order: the new side's, then those it removes."""
    seen = dict.fromkeys(to_targets)
    for ref in from_targets:
        seen.setdefault(ref)
    return list(seen)


def candidate_targets(from_repo: Repository, to_repo: Repository, changed: Sequence[str]) -> list[TargetRef]:
    """The targets a change of these files can touch (module docstring), in promotion order."""
    everyone = every_target(to_repo.targets(), from_repo.targets())
    paths = set(changed)
    if FLEET_FILE in paths:
        return everyone
    # lamina.toml is the same on both sides: same environments, clusters and chains
    fleet = to_repo.fleet
    envs: set[str] = set()
    if LOCK_FILE in paths:
        envs.update(env for env in fleet.environments if _pin(from_repo, env) != _pin(to_repo, env))
    base_changed = any(path.startswith("base/") for path in paths)
    overlays = {path.split("/")[1] for path in paths if path.startswith("overlays/") and path.count("/") >= 2}
    clusters = {_cluster_of(path) for path in paths if path.startswith("clusters/")}
    for env in fleet.environments:
        reads_base = env not in from_repo.pins or env not in to_repo.pins
        if (base_changed and reads_base) or any(name in overlays for name in fleet.chain(env)):
            envs.add(env)
    chosen = {ref for ref in everyone if ref.environment in envs or ref.cluster in clusters}
    texts = {path for path in paths if _may_be_referenced(path)}
    rest = [ref for ref in everyone if ref not in chosen]
    if texts and rest:
        chosen.update(_Referrers(to_repo, texts).targets(rest))
    return [ref for ref in everyone if ref in chosen]


def _pin(repo: Repository, env: str) -> str | None:
    pin = repo.pins.get(env)
    return pin.revision if pin is not None else None


def _cluster_of(path: str) -> str:
    """``clusters/x.toml`` and ``clusters/x/anything`` belong to cluster x."""
    name = path.split("/")[1]
    if "/" not in path[len("clusters/") :]:
        for suffix in documents.CONFIG_SUFFIXES:
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
    return name


def _may_be_referenced(path: str) -> bool:
    """Anything but the fleet files and the layers' own config files may be read as a text."""
    if path in (FLEET_FILE, LOCK_FILE):
        return False
    parts = path.split("/")
    is_config = parts[-1].lower().endswith(documents.CONFIG_SUFFIXES)
    layer_file = (
        (parts[0] == "base" and len(parts) == 2)
        or (parts[0] == "overlays" and len(parts) == 3)
        or (parts[0] == "clusters" and len(parts) in (2, 3))
    )
    return not (is_config and layer_file)


class _Referrers:
    """Which targets' layer files reference one of some files with ``{file = ...}``.

    Args:
        repo: the repository whose layers are read.
        wanted: repository paths of the files looked for.
    """

    def __init__(self, repo: Repository, wanted: set[str]) -> None:
        self.repo = repo
        self.wanted = wanted
        self.names = {posixpath.basename(path).encode("utf-8", "surrogateescape") for path in wanted}
        self.layers: dict[tuple[str, str], bool] = {}

    def targets(self, refs: Iterable[TargetRef]) -> list[TargetRef]:
        """Those of refs that reference a wanted file (or whose layers cannot be read)."""
        return [ref for ref in refs if self.references(ref)]

    def references(self, ref: TargetRef) -> bool:
        """True when a layer of ref references a wanted file, or cannot be read."""
        repo = self.repo
        try:
            base_tree = repo.base_tree(repo.fleet.environment(ref.environment))
            places: list[tuple[Tree, str]] = [(base_tree, "base")]
            places += [(repo.tree, f"overlays/{name}") for name in repo.fleet.chain(ref.environment)]
            if ref.cluster is not None:
                folder, files = layers.cluster_places(ref.cluster)
                places += [(repo.tree, rel) for rel in (folder, *files)]
            return any(self.layer_references(tree, rel) for tree, rel in places)
        except LaminaError:
            return True  # resolving it will say what is wrong

    def layer_references(self, tree: Tree, rel: str) -> bool:
        """True when the layer at rel of tree references a wanted file (remembered)."""
        key = (tree.label, rel)
        if key not in self.layers:
            self.layers[key] = self._scan(tree, rel)
        return self.layers[key]

    def _scan(self, tree: Tree, rel: str) -> bool:
        found = layers.config_files(tree, rel, self.repo.exclude)
        if found is None:
            return False
        folder, files = found
        for path in files:
            raw = tree.read_bytes(path)
            if not any(name in raw for name in self.names):
                continue  # cannot name a wanted file: no need to parse it
            data = documents.parse_document(path, raw).data
            if any(_reference_path(folder, ref) in self.wanted for ref in file_refs.references(data)):
                return True
        return False


def _reference_path(folder: str, ref: str) -> str:
    try:
        return file_refs.repository_path(folder, ref)
    except LaminaError:
        return ""
