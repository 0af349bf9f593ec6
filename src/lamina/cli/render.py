"""``lamina render``: Kubernetes objects to stdout, or GitOps folders on disk."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from lamina.cli import completing, output
from lamina.cli.session import session
from lamina.core.targets import TargetRef
from lamina.errors import InputError
from lamina.render import configmaps, folders, sops_secrets, yamltext
from lamina.render import gitops as gitops_objects
from lamina.resolve.repository import Repository


def render(
    ctx: typer.Context,
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Environments (or one ENV/CLUSTER with --print); default: all.",
            autocompletion=completing.targets,
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write one folder per cluster here.")] = None,
    print_objects: Annotated[
        bool, typer.Option("--print", help="Print the objects of one ENV/CLUSTER as a YAML stream.")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove folders of clusters no longer in the fleet.")
    ] = False,
    gitops: Annotated[
        GitOpsTool | None,
        typer.Option("--gitops", help="Also write Argo CD ApplicationSets or Flux Kustomizations."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was written as JSON.")] = False,
) -> None:
    """Render ConfigMaps: --print for one target, --out DIR for GitOps folders.

    Without --out, each directory cluster is rendered into its own `directory`.
    """
    repo = session(ctx).repository()
    if print_objects:
        if not targets or len(targets) != 1 or TargetRef.parse(targets[0]).cluster is None:
            raise InputError("--print takes exactly one ENV/CLUSTER target")
        config = repo.resolve(targets[0])
        rendered = configmaps.render_config(
            config,
            repo.source_revision(config),
            store=repo.fleet.settings.secrets.get(config.environment.name),
        )
        sys.stdout.write(yamltext.dump_all(_objects(repo, rendered)))
        return
    environments = [TargetRef.parse(t).environment for t in targets or []]
    with output.progress("rendering", len(repo.targets(environments))) as advance:  # advance(n)
        report, keep = folders.render_fleet(repo, out, environments, _resources(repo), advance)
    if gitops is not None:
        if out is None:
            raise InputError("--gitops needs --out DIR (the folder Argo CD or Flux syncs)")
        settings = _gitops_settings(repo, out)
        if gitops is GitOpsTool.argocd:
            objects = gitops_objects.argocd_objects(repo.fleet, settings)
            folder = out / gitops_objects.ARGOCD_FOLDER
        else:
            uses_sops = any(
                name.endswith(sops_secrets.MANIFEST_SUFFIX) for name in report.written + report.unchanged
            )
            objects = gitops_objects.flux_objects(repo.fleet, settings, sops=uses_sops)
            folder = out / gitops_objects.FLUX_FOLDER
        folders.write_folder(folder, gitops_objects.gitops_files(objects), report)
    if prune and out is not None:
        folders.prune(out, keep, report)
    if as_json:
        output.print_json(
            {"written": report.written, "unchanged": report.unchanged, "removed": report.removed}
        )
        return
    output.out.print(
        output.Text(f"{len(keep)} cluster folders: ")
        + output.styled(f"{len(report.written)} files written", "green" if report.written else "dim")
        + f", {len(report.unchanged)} unchanged"
        + (f", {len(report.removed)} removed" if report.removed else "")
    )


class GitOpsTool(StrEnum):
    """GitOps tools lamina writes objects for."""

    argocd = "argocd"
    flux = "flux"


def _gitops_settings(repo: Repository, out: Path) -> gitops_objects.GitOpsSettings:
    render = repo.fleet.settings.render
    top = repo.git.toplevel if repo.git is not None else repo.root
    absolute = out.resolve()
    if absolute != top and top not in absolute.parents:
        raise InputError(
            f"--gitops: {out} is outside the repository {top}; Argo CD and Flux sync folders from git"
        )
    return gitops_objects.GitOpsSettings(
        path_prefix=absolute.relative_to(top).as_posix(),
        repo_url=repo.git.remote_url() if repo.git is not None else None,
        argocd=render.argocd,
        flux=render.flux,
    )


def _resources(repo: Repository) -> list[str]:
    return list(repo.fleet.settings.render.resources)


def _objects(repo: Repository, rendered: configmaps.RenderedConfig) -> list[dict[str, Any]]:
    objects = [*rendered.external_secrets(), rendered.configmap()]
    render = repo.fleet.settings.render
    if render.workload:
        objects.append(configmaps.workload_patch(render.workload, rendered, render.container, render.env))
    return objects
