"""What a change does to every target of the fleet, computed without resolving the ones it cannot touch.

A plan compares two states of the config repository, *from* (a git revision, HEAD by
default) and *to* (the working tree, or another revision). Resolving every target on both
sides would answer the question but costs the whole fleet twice; most changes touch one
environment or one cluster. So the plan asks git which files changed first, and resolves
only the targets whose inputs are among them:

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

import hashlib
import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina.core import hashing
from lamina.core.diffs import ABSENT, Change, diff, is_multiline, text_diff
from lamina.core.paths import format_path
from lamina.core.targets import TargetRef
from lamina.errors import InputError, LaminaError
from lamina.fleet.loading import FLEET_FILE
from lamina.fleet.lockfile import LOCK_FILE
from lamina.plan import flags as flag_rules
from lamina.plan.flags import Flag, GuardrailRules
from lamina.resolve import file_refs, layers, values
from lamina.resolve.repository import Repository
from lamina.resolve.resolved import ResolvedConfig
from lamina.source import documents
from lamina.source.trees import GitRepo, Tree, run_git
from lamina.validate import credentials
from lamina.validate.policy_files import load_policies

WORKING_TREE = "working tree"
UNTRACKED_INPUTS = ("base", "overlays", "clusters", FLEET_FILE, LOCK_FILE, "policies", "schema")
"""Where an untracked file can change a plan (tracked changes are taken from everywhere).

Git-ignored files there count too: resolution reads the folders as they are on disk, so a
git-ignored ``overlays/dev/local.toml`` changes what ``lamina build`` prints."""

Progress = Callable[[int], AbstractContextManager[Callable[[], None]]]
"""``progress(total)`` gives a context whose value is called once per target resolved."""


# -- values -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One end of a plan.

    Attributes:
        label: the revision as the user wrote it (``HEAD``, ``main~2``), or ``working tree``.
        commit: the full commit id, or None for the working tree.
    """

    label: str
    commit: str | None

    def describe(self) -> str:
        """``HEAD (1a2b3c4d5e6f)``, or ``working tree``."""
        if self.commit is None or self.label == self.commit:
            return self.label if self.commit is None else self.commit[:12]
        return f"{self.label} ({self.commit[:12]})"

    def target_label(self, target: TargetRef) -> str:
        """The target as lamina would read it on this side: ``ENV/CLUSTER@REV`` or ``ENV/CLUSTER``."""
        return str(target) if self.commit is None else f"{target}@{self.label}"

    def to_json(self) -> dict[str, Any]:
        """``{"label", "commit"}`` (commit null for the working tree)."""
        return {"label": self.label, "commit": self.commit}


@dataclass(frozen=True)
class TargetPlan:
    """What the change does to one target.

    Attributes:
        target: ``ENV/CLUSTER``.
        from_hash: the config hash before, or None when the target does not exist there.
        to_hash: the config hash after, or None when the target no longer exists.
        changes: field-level changes (plain values; a missing side is ``ABSENT``); for a
            new or removed target, its top-level keys appearing or disappearing.
        flags: the flags raised, in :data:`lamina.plan.flags.RULES` order (none for a new
            or removed target: there is nothing to compare it with).
    """

    target: TargetRef
    from_hash: str | None
    to_hash: str | None
    changes: tuple[Change, ...]
    flags: tuple[Flag, ...]

    @property
    def touched(self) -> bool:
        """True when the resolved config differs (or the target appears or disappears)."""
        return self.from_hash != self.to_hash

    @property
    def status(self) -> str:
        """``added``, ``removed``, ``changed`` or ``unchanged``."""
        if self.from_hash is None:
            return "added"
        if self.to_hash is None:
            return "removed"
        return "changed" if self.touched else "unchanged"

    @property
    def flag_names(self) -> tuple[str, ...]:
        """The names of the flags raised."""
        return tuple(flag.name for flag in self.flags)

    def to_json(self, from_side: Side, to_side: Side) -> dict[str, Any]:
        """The SPEC ``plan`` target shape, plus ``status`` and ``flag_paths``."""
        items = []
        for change in self.changes:
            item = change.to_json()
            lines = prompt_diff(
                change, from_side.target_label(self.target), to_side.target_label(self.target)
            )
            if lines:
                item["diff"] = lines
            items.append(item)
        return {
            "target": str(self.target),
            "environment": self.target.environment,
            "cluster": self.target.cluster,
            "status": self.status,
            "from_hash": self.from_hash,
            "to_hash": self.to_hash,
            "changes": items,
            "flags": list(self.flag_names),
            "flag_paths": {flag.name: [format_path(path) for path in flag.paths] for flag in self.flags},
        }


def prompt_diff(change: Change, label_a: str, label_b: str) -> list[str]:
    """A unified diff of a multi-line change (a prompt), or [] for any other change."""
    if not (is_multiline(change.a) or is_multiline(change.b)):
        return []
    return text_diff(
        change.a if isinstance(change.a, str) else "",
        change.b if isinstance(change.b, str) else "",
        label_a,
        label_b,
    )


@dataclass(frozen=True)
class EnvironmentCount:
    """How many targets of an environment the change touches."""

    environment: str
    targets: int
    touched: int


@dataclass(frozen=True)
class Plan:
    """The plan of a change: the touched targets and how many were looked at.

    Attributes:
        changed_files: repository-relative paths that differ between the two sides.
        touched: the targets whose resolved config differs, in promotion order.
        environments: per environment, its targets and how many are touched.
        total: every target on either side.
        resolved: the targets resolved to build the plan (the others could not be touched).
    """

    from_side: Side
    to_side: Side
    changed_files: tuple[str, ...]
    touched: tuple[TargetPlan, ...]
    environments: tuple[EnvironmentCount, ...]
    total: int
    resolved: int

    @property
    def untouched(self) -> int:
        """Targets the change leaves as they are."""
        return self.total - len(self.touched)

    def flag_counts(self) -> dict[str, int]:
        """For each flag raised anywhere, the number of targets raising it (RULES order)."""
        counts = {name: 0 for name in flag_rules.FLAG_NAMES}
        for target in self.touched:
            for name in target.flag_names:
                counts[name] += 1
        return {name: count for name, count in counts.items() if count}

    def summary_json(self) -> dict[str, Any]:
        """Counts: targets, touched, untouched, resolved, per environment, per flag."""
        return {
            "targets": self.total,
            "touched": len(self.touched),
            "untouched": self.untouched,
            "resolved": self.resolved,
            "files_changed": len(self.changed_files),
            "environments": [
                {"environment": env.environment, "targets": env.targets, "touched": env.touched}
                for env in self.environments
            ],
            "flags": self.flag_counts(),
        }

    def to_json(self) -> dict[str, Any]:
        """The SPEC ``plan`` shape: only touched targets are listed; the summary counts the rest."""
        return {
            "from": self.from_side.to_json(),
            "to": self.to_side.to_json(),
            "targets": [target.to_json(self.from_side, self.to_side) for target in self.touched],
            "summary": self.summary_json(),
            "changed_files": list(self.changed_files),
        }


# -- entry points -----------------------------------------------------------------------------------


def plan_revisions(
    root: Path | str, from_rev: str = "HEAD", to_rev: str | None = None, progress: Progress | None = None
) -> Plan:
    """Plan the change from git revision from_rev to to_rev (None: the working tree).

    Opens the repository at root (at to_rev when given, so a broken working tree does not
    stop a plan between two commits) and closes it afterwards.

    Raises:
        InputError: root is not in a git repository, a revision is unknown, or a layer is
            broken on either side (the message names file:line).
    """
    root = Path(root)
    _require_git(root.resolve(), GitRepo.find(root.resolve()))
    with Repository(root, to_rev) as repo:
        return plan_change(repo, from_rev, to_rev, progress)


def plan_change(
    repo: Repository, from_rev: str = "HEAD", to_rev: str | None = None, progress: Progress | None = None
) -> Plan:
    """Plan the change from from_rev to to_rev; to_rev None means repo as it is (normally the
    working tree)."""
    try:
        return _plan_change(repo, from_rev, to_rev, progress)
    finally:
        _ENCODED.clear()


def _plan_change(
    repo: Repository, from_rev: str = "HEAD", to_rev: str | None = None, progress: Progress | None = None
) -> Plan:
    """Plan the change from from_rev to to_rev; to_rev None means repo as it is (normally the
    working tree).

    Raises:
        InputError: the repository is not a git repository, a revision is unknown, or a
            layer is broken on either side.
    """
    git = _require_git(repo.root, repo.git)
    from_commit = _commit(git, from_rev)
    from_side = Side(from_rev, from_commit)
    to_repo = repo
    if to_rev is not None:
        to_commit = git.resolve_revision(to_rev)
        if repo.tree.revision != to_commit:
            to_repo = repo.at(to_commit)
        to_side = Side(to_rev, to_commit)
    elif repo.tree.revision is not None:
        to_side = Side(repo.tree.revision, repo.tree.revision)
    else:
        to_side = Side(WORKING_TREE, None)
    from_repo = repo.at(from_commit)

    changed = changed_files(repo.root, from_commit, to_side.commit)
    from_targets = from_repo.targets()
    to_targets = to_repo.targets()
    everyone = _union(to_targets, from_targets)
    candidates = candidate_targets(from_repo, to_repo, changed)
    rules = guardrail_rules(from_repo, to_repo)

    in_from, in_to = set(from_targets), set(to_targets)
    plans: list[TargetPlan] = []
    with (progress or _no_progress)(len(candidates)) as advance:
        for ref in candidates:
            old = from_repo.resolve(ref) if ref in in_from else None
            new = to_repo.resolve(ref) if ref in in_to else None
            plans.append(plan_target(ref, old, new, rules))
            advance()
    touched = tuple(plan for plan in plans if plan.touched)
    return Plan(
        from_side=from_side,
        to_side=to_side,
        changed_files=changed,
        touched=touched,
        environments=_environment_counts(everyone, touched),
        total=len(everyone),
        resolved=len(candidates),
    )


def plan_target(
    target: TargetRef, old: ResolvedConfig | None, new: ResolvedConfig | None, rules: GuardrailRules
) -> TargetPlan:
    """Compare one target's config before (old) and after (new); None means it does not exist there."""
    a = old.data if old is not None else {}
    b = new.data if new is not None else {}
    parts_a, parts_b = CanonicalParts.of(a), CanonicalParts.of(b)
    from_hash = parts_a.config_hash() if old is not None else None
    to_hash = parts_b.config_hash() if new is not None else None
    if from_hash == to_hash:
        return TargetPlan(target, from_hash, to_hash, (), ())
    keys = parts_a.differing_keys(parts_b)
    changes = tuple(
        Change(change.path, _shown(change.path, change.a), _shown(change.path, change.b))
        for key in keys
        for change in diff(a.get(key, ABSENT), b.get(key, ABSENT), (key,))
    )
    raised: tuple[Flag, ...] = ()
    if old is not None and new is not None:
        leaves = [
            change
            for key in keys
            for change in flag_rules.leaf_changes(a.get(key, ABSENT), b.get(key, ABSENT), (key,))
        ]
        raised = flag_rules.flags_of(leaves, rules)
    return TargetPlan(target, from_hash, to_hash, changes, raised)


@dataclass(frozen=True)
class CanonicalParts:
    """A config's canonical JSON cut at its top-level keys: one encoding gives both the config
    hash and, byte for byte, which top-level tables differ, so the field diff walks only those.

    Attributes:
        parts: the canonical JSON of each top-level value, by key.
    """

    parts: dict[str, bytes]

    @classmethod
    def of(cls, data: dict[str, Any]) -> CanonicalParts:
        """Encode each top-level value of data as :func:`lamina.core.hashing.canonical_json` does."""
        return cls({key: _encoded(value) for key, value in data.items()})

    def config_hash(self) -> str:
        """The config hash: SHA-256 of the whole canonical JSON, put together from the parts."""
        members = [hashing.canonical_json(key) + b":" + self.parts[key] for key in sorted(self.parts)]
        return hashlib.sha256(b"{" + b",".join(members) + b"}").hexdigest()

    def differing_keys(self, other: CanonicalParts) -> list[str]:
        """Top-level keys whose values differ (or exist on one side only), sorted."""
        return [
            key
            for key in sorted(self.parts.keys() | other.parts.keys())
            if self.parts.get(key) != other.parts.get(key)
        ]


# Targets of one environment share most top-level tables (resolution copies on write), so a
# table is encoded once per plan; the memo keeps each table alive so its id is not reused.
_ENCODED: dict[int, tuple[Any, bytes]] = {}


def _encoded(value: Any) -> bytes:
    if not isinstance(value, dict | list):
        return hashing.canonical_json(value)
    hit = _ENCODED.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    text = hashing.canonical_json(value)
    _ENCODED[id(value)] = (value, text)
    return text


def _no_progress(total: int) -> AbstractContextManager[Callable[[], None]]:
    return nullcontext(lambda: None)


def _require_git(root: Path, git: GitRepo | None) -> GitRepo:
    if git is None:
        raise InputError(
            f"{root} is not a git repository; lamina plan compares git revisions "
            "(commit the folder with git first)"
        )
    return git


def _commit(git: GitRepo, rev: str) -> str:
    if rev == "HEAD" and git.head() is None:
        raise InputError("the repository has no commits yet, so there is no HEAD to plan from")
    return git.resolve_revision(rev)


def _shown(path: tuple[str | int, ...], value: Any) -> Any:
    # credential-like literals never leave lamina in a plan (the hashes cover the real values)
    if value is ABSENT:
        return value
    last = next((part for part in reversed(path) if isinstance(part, str)), None)
    if last == values.SECRET_KEY and isinstance(value, str) and values.valid_secret_ref(value):
        return str(value)  # the inside of a {secret = ...} reference: a name, not a value
    return credentials.mask_tree(values.plain(value), last)


def _union(first: Iterable[TargetRef], second: Iterable[TargetRef]) -> list[TargetRef]:
    seen = dict.fromkeys(first)
    for ref in second:
        seen.setdefault(ref)
    return list(seen)


def _environment_counts(
    targets: Sequence[TargetRef], touched: Sequence[TargetPlan]
) -> tuple[EnvironmentCount, ...]:
    totals: dict[str, int] = {}
    for ref in targets:
        totals[ref.environment] = totals.get(ref.environment, 0) + 1
    hit: dict[str, int] = {}
    for plan in touched:
        hit[plan.target.environment] = hit.get(plan.target.environment, 0) + 1
    return tuple(EnvironmentCount(env, count, hit.get(env, 0)) for env, count in totals.items())


# -- what changed -----------------------------------------------------------------------------------


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


def candidate_targets(from_repo: Repository, to_repo: Repository, changed: Sequence[str]) -> list[TargetRef]:
    """The targets a change of these files can touch (module docstring), in promotion order."""
    everyone = _union(to_repo.targets(), from_repo.targets())
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
    """Which targets' layer files reference one of some files with ``{file = ...}``."""

    def __init__(self, repo: Repository, wanted: set[str]) -> None:
        self.repo = repo
        self.wanted = wanted
        self.names = {posixpath.basename(path).encode("utf-8", "surrogateescape") for path in wanted}
        self.layers: dict[tuple[str, str], bool] = {}

    def targets(self, refs: Iterable[TargetRef]) -> list[TargetRef]:
        return [ref for ref in refs if self.references(ref)]

    def references(self, ref: TargetRef) -> bool:
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


# -- guardrails -------------------------------------------------------------------------------------


def guardrail_rules(from_repo: Repository, to_repo: Repository) -> GuardrailRules:
    """The guardrail rules of both sides: the new ones, plus the old ones the change removes
    (so a change cannot hide a loosening by dropping the rule in the same commit).

    Raises:
        InputError: ``[plan] guardrails`` is not a list of strings, or a policy file is broken.
    """
    ordered = list(load_policies(to_repo.tree).ordered)
    known = {rule.path for rule in ordered}
    ordered += [rule for rule in load_policies(from_repo.tree).ordered if rule.path not in known]
    globs = dict.fromkeys(_guardrail_globs(to_repo))
    globs.update(dict.fromkeys(_guardrail_globs(from_repo)))
    return GuardrailRules(tuple(ordered), tuple(globs))


def _guardrail_globs(repo: Repository) -> tuple[str, ...]:
    return repo.fleet.settings.plan.guardrails
