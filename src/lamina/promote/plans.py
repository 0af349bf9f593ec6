"""The plan of a request's move, kept with the request so an approver sees what they approve.

Per target of the request's environment: the keys that change with their old and new values
(credential-like literals masked), prompts as unified diffs, and the flags a reviewer must not
miss (model changed, guardrail loosened...), in the ``lamina plan`` JSON shape. The *from* side
is what the environment is approved to run now: for a promotion or rollback, the committed
repository with the environment's current pin; for a change request, the commit of the newest
applied request into the environment (when there is none: the commit of its pin; else nothing).
"""

from __future__ import annotations

from typing import Any

from lamina.core.states import RequestKind
from lamina.core.targets import TargetRef
from lamina.guard import protection
from lamina.plan import encoding, planning, results
from lamina.plan import flags as flag_rules
from lamina.resolve.repository import Repository
from lamina.store.database import Database


def request_plan(
    repo: Repository, db: Database, moved: Repository, target: str, kind: RequestKind
) -> dict[str, Any]:
    """The plan of moving target's targets from what is approved now to moved."""
    to_side = results.Side(moved.tree.revision or "HEAD", moved.tree.revision)
    if kind is RequestKind.CHANGE:
        before = protection.covered_revision(db, target)
        label = before
        pin = repo.pins.get(target)
        if before is None and pin is not None and repo.git is not None:
            # nothing applied yet: the repository as it was when the pin was set is the
            # nearest thing to approved, and shows the edit rather than every key as new
            before, label = pin.revision, f"{target}'s pin"
        before_repo = repo.at(before) if before is not None else None
        from_side = results.Side(label or "nothing approved yet", before)
    else:
        before_repo = Repository(repo.root, moved.tree.revision)  # HEAD with the pins as they are
        from_side = results.Side(f"{target} now", moved.tree.revision)
    try:
        refs = _refs(moved, target)
        rules = planning.guardrail_rules(before_repo or moved, moved)
        encoder = encoding.Encoder()
        known = set(_refs(before_repo, target)) if before_repo is not None else set()
        targets = []
        for ref in refs:
            old = before_repo.resolve(ref) if before_repo is not None and ref in known else None
            targets.append(planning.plan_target(ref, old, moved.resolve(ref), rules, encoder))
    finally:
        if before_repo is not None and kind is not RequestKind.CHANGE:
            before_repo.close()
    touched = [plan for plan in targets if plan.touched]
    counts = {name: 0 for name in flag_rules.FLAG_NAMES}
    for plan in touched:
        for name in plan.flag_names:
            counts[name] += 1
    return {
        "from": from_side.to_json(),
        "to": to_side.to_json(),
        "targets": [plan.to_json(from_side, to_side) for plan in touched],
        "summary": {
            "targets": len(targets),
            "touched": len(touched),
            "flags": {name: count for name, count in counts.items() if count},
        },
    }


def _refs(repo: Repository, target: str) -> list[TargetRef]:
    clusters = repo.fleet.clusters_of(target)
    if not clusters:
        return [TargetRef(target)]
    return [TargetRef(target, cluster.name) for cluster in clusters]
