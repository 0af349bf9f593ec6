"""``lamina plan``: what a change does to every target of the fleet.

A plan compares two states of the config repository, *from* (a git revision, HEAD by
default) and *to* (the working tree, or another revision). It resolves only the targets
the changed files can touch (:mod:`lamina.plan.changes`), hashes and diffs them through
one :class:`~lamina.plan.encoding.Encoder` of its own, and raises the flags a reviewer
needs (:mod:`lamina.plan.flags`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from lamina.core.diffs import ABSENT, Change, diff
from lamina.core.targets import TargetRef
from lamina.errors import InputError
from lamina.plan import changes, encoding, results
from lamina.plan import flags as flag_rules
from lamina.plan.flags import Flag, GuardrailRules
from lamina.reports import presenting
from lamina.resolve.repository import Repository
from lamina.resolve.resolved import ResolvedConfig
from lamina.source.trees import GitRepo
from lamina.validate.policy_files import load_policies

WORKING_TREE = "working tree"

Progress = Callable[[int], AbstractContextManager[Callable[[], None]]]
"""``progress(total)`` gives a context whose value is called once per target resolved."""


def plan_revisions(
    root: Path | str, from_rev: str = "HEAD", to_rev: str | None = None, progress: Progress | None = None
) -> results.Plan:
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
) -> results.Plan:
    """Plan the change from from_rev to to_rev; to_rev None means repo as it is (normally the
    working tree).

    Raises:
        InputError: the repository is not a git repository, a revision is unknown, or a
            layer is broken on either side.
    """
    git = _require_git(repo.root, repo.git)
    from_commit = _commit(git, from_rev)
    from_side = results.Side(from_rev, from_commit)
    to_repo, to_side = _to_side(repo, git, to_rev)
    from_repo = repo.at(from_commit)

    changed = changes.changed_files(repo.root, from_commit, to_side.commit)
    from_targets = from_repo.targets()
    to_targets = to_repo.targets()
    everyone = changes.every_target(to_targets, from_targets)
    candidates = changes.candidate_targets(from_repo, to_repo, changed)
    rules = guardrail_rules(from_repo, to_repo)
    encoder = encoding.Encoder()

    in_from, in_to = set(from_targets), set(to_targets)
    plans: list[results.TargetPlan] = []
    with (progress or _no_progress)(len(candidates)) as advance:
        for ref in candidates:
            old = from_repo.resolve(ref) if ref in in_from else None
            new = to_repo.resolve(ref) if ref in in_to else None
            plans.append(plan_target(ref, old, new, rules, encoder))
            advance()
    touched = tuple(plan for plan in plans if plan.touched)
    return results.Plan(
        from_side=from_side,
        to_side=to_side,
        changed_files=changed,
        touched=touched,
        environments=_environment_counts(everyone, touched),
        total=len(everyone),
        resolved=len(candidates),
    )


def plan_target(
    target: TargetRef,
    old: ResolvedConfig | None,
    new: ResolvedConfig | None,
    rules: GuardrailRules,
    encoder: encoding.Encoder,
) -> results.TargetPlan:
    """Compare one target's config before (old) and after (new); None means it does not exist there."""
    a = old.data if old is not None else {}
    b = new.data if new is not None else {}
    parts_a, parts_b = encoding.CanonicalParts.of(a, encoder), encoding.CanonicalParts.of(b, encoder)
    from_hash = parts_a.config_hash() if old is not None else None
    to_hash = parts_b.config_hash() if new is not None else None
    if from_hash == to_hash:
        return results.TargetPlan(target, from_hash, to_hash, (), ())
    keys = parts_a.differing_keys(parts_b)
    identities = {
        **(old.identities if old is not None else {}),
        **(new.identities if new is not None else {}),
    }
    found = tuple(
        Change(
            change.path,
            presenting.shown_at(change.path, change.a),
            presenting.shown_at(change.path, change.b),
        )
        for key in keys
        for change in diff(a.get(key, ABSENT), b.get(key, ABSENT), (key,), identities)
    )
    raised: tuple[Flag, ...] = ()
    if old is not None and new is not None:
        leaves = [
            change
            for key in keys
            for change in flag_rules.leaf_changes(a.get(key, ABSENT), b.get(key, ABSENT), (key,))
        ]
        raised = flag_rules.flags_of(leaves, rules)
    return results.TargetPlan(target, from_hash, to_hash, found, raised)


def guardrail_rules(from_repo: Repository, to_repo: Repository) -> GuardrailRules:
    """The guardrail rules of both sides: the new ones, plus the old ones the change removes
    (so a change cannot hide a loosening by dropping the rule in the same commit).

    Raises:
        InputError: ``[plan] guardrails`` is not a list of strings, or a policy file is broken.
    """
    ordered = list(load_policies(to_repo.tree).ordered)
    known = {rule.path for rule in ordered}
    ordered += [rule for rule in load_policies(from_repo.tree).ordered if rule.path not in known]
    globs = dict.fromkeys(to_repo.fleet.settings.plan.guardrails)
    globs.update(dict.fromkeys(from_repo.fleet.settings.plan.guardrails))
    return GuardrailRules(tuple(ordered), tuple(globs))


def _to_side(repo: Repository, git: GitRepo, to_rev: str | None) -> tuple[Repository, results.Side]:
    """The repository a plan reads its *to* side from, and that side: to_rev, or repo as it is."""
    if to_rev is not None:
        to_commit = git.resolve_revision(to_rev)
        to_repo = repo if repo.tree.revision == to_commit else repo.at(to_commit)
        return to_repo, results.Side(to_rev, to_commit)
    if repo.tree.revision is not None:
        return repo, results.Side(repo.tree.revision, repo.tree.revision)
    return repo, results.Side(WORKING_TREE, None)


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


def _environment_counts(
    targets: Sequence[TargetRef], touched: Sequence[results.TargetPlan]
) -> tuple[results.EnvironmentCount, ...]:
    totals: dict[str, int] = {}
    for ref in targets:
        totals[ref.environment] = totals.get(ref.environment, 0) + 1
    hit: dict[str, int] = {}
    for plan in touched:
        hit[plan.target.environment] = hit.get(plan.target.environment, 0) + 1
    return tuple(results.EnvironmentCount(env, count, hit.get(env, 0)) for env, count in totals.items())
