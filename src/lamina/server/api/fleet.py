"""The fleet as the repository describes it: environments, clusters, configs, diffs, plans.

Read-only, for any role: each route is the CLI verb of the same name with ``--json``
(``envs``, ``clusters``, ``config``, ``explain``, ``diff``, ``validate``, ``plan``), and the
answers have the same shapes. Environment and cluster names are checked as plain DNS labels
before anything uses them, so no parameter reaches the file system.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from lamina.fleet.selectors import Selector
from lamina.reports import presenting, views
from lamina.server import api, auth, context
from lamina.server.guards import plain_name, plain_target

router = APIRouter(prefix=api.PREFIX, dependencies=[Depends(auth.reader)])


@router.get("/environments")
def list_environments(shared: context.Shared) -> list[dict[str, Any]]:
    """Environments: stage, extends, upstream, pin, clusters."""
    with shared.repository() as repo:
        return views.environments(repo)


@router.get("/clusters")
def list_clusters(shared: context.Shared, selector: str | None = None) -> list[dict[str, Any]]:
    """Clusters, optionally filtered by a label selector."""
    with shared.repository() as repo:
        return views.clusters(repo, Selector.parse(selector))


@router.get("/targets/{environment}/config")
def environment_config(environment: str, shared: context.Shared) -> dict[str, Any]:
    """The environment-level config (base and overlays)."""
    with shared.repository() as repo:
        return views.config(repo.resolve(plain_name(environment)))


@router.get("/targets/{environment}/{cluster}/config")
def target_config(environment: str, cluster: str, shared: context.Shared) -> dict[str, Any]:
    """A target's resolved config (secret references only)."""
    with shared.repository() as repo:
        return views.config(repo.resolve(f"{plain_name(environment)}/{plain_name(cluster)}"))


@router.get("/targets/{environment}/{cluster}/explain")
def explain(
    environment: str, cluster: str, shared: context.Shared, key: Annotated[str, Query(max_length=500)]
) -> dict[str, Any]:
    """Every layer that set key: file, line, value, reason; the winner last."""
    with shared.repository() as repo:
        found = repo.resolve(f"{plain_name(environment)}/{plain_name(cluster)}").explain(key)
    return presenting.explanation(found).to_json()


@router.get("/diff")
def diff(
    shared: context.Shared,
    a: Annotated[str, Query(max_length=200)],
    b: Annotated[str, Query(max_length=200)],
) -> dict[str, Any]:
    """Field-level differences between two targets (ENV or ENV/CLUSTER)."""
    with shared.repository() as repo:
        return views.diff(repo.resolve(plain_target(a)), repo.resolve(plain_target(b)), a, b)


@router.get("/validate")
def validate(shared: context.Shared, environment: list[str] | None = Query(None)) -> dict[str, Any]:
    """Every problem `lamina validate` finds."""
    from lamina.validate import runner

    names = [plain_name(e) for e in environment or []]
    with shared.repository() as repo:
        report = runner.run(repo, names)
    return {
        "ok": report.ok,
        "targets": len(report.targets),
        "problems": [d.to_json() for d in report.diagnostics],
    }


@router.get("/plan")
def plan(
    shared: context.Shared,
    from_rev: Annotated[str | None, Query(alias="from", max_length=200)] = None,
    to_rev: Annotated[str | None, Query(alias="to", max_length=200)] = None,
) -> dict[str, Any]:
    """What a change does to every target (default: HEAD to the working tree)."""
    from lamina.plan import planning

    for rev in (from_rev, to_rev):
        if rev is not None and rev.startswith("-"):
            raise HTTPException(400, "a revision cannot start with '-'")
    result: dict[str, Any] = planning.plan_revisions(
        shared.settings.repo_root, from_rev or "HEAD", to_rev
    ).to_json()
    return result
