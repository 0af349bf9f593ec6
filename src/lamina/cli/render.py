"""``lamina render``: Kubernetes objects to stdout, or GitOps folders on disk."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import click

from lamina.cli import commands, completing, output
from lamina.cli.session import session
from lamina.core.targets import TargetRef
from lamina.errors import InputError
from lamina.render import configmaps, folders, handoff, sops_secrets, yamltext
from lamina.render import gitops as gitops_objects
from lamina.resolve.repository import Repository


class GitOpsTool(StrEnum):
    """GitOps tools lamina writes objects for."""

    argocd = "argocd"
    flux = "flux"


@click.command()
@commands.names_argument(
    "targets", "Environments (or one ENV/CLUSTER with --print); default: all.", completing.targets
)
@click.option("--out", "out", type=click.Path(path_type=Path), help="Write one folder per cluster here.")
@click.option(
    "--print", "print_objects", is_flag=True, help="Print the objects of one ENV/CLUSTER as a YAML stream."
)
@click.option("--prune", "prune", is_flag=True, help="Remove folders of clusters no longer in the fleet.")
@click.option(
    "--gitops",
    "gitops",
    type=click.Choice(GitOpsTool),
    help="Also write Argo CD ApplicationSets or Flux Kustomizations.",
)
@click.option(
    "--commit",
    "commit",
    is_flag=True,
    help="Commit the rendered change in the git repository holding --out (pushed when [git] push).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.pass_context
def render(
    ctx: click.Context,
    targets: list[str] | None,
    out: Path | None,
    print_objects: bool,
    prune: bool,
    gitops: GitOpsTool | None,
    commit: bool,
    as_json: bool,
) -> None:
    """Render ConfigMaps: --print for one target, --out DIR for GitOps folders.

    Without --out, each directory cluster is rendered into its own `directory`.
    """
    repo = session(ctx).repository()
    if print_objects:
        if not targets or len(targets) != 1 or TargetRef.parse(targets[0]).cluster is None:
            raise InputError("--print takes exactly one ENV/CLUSTER target")
        config = repo.resolve(targets[0])
        rendered = configmaps.render_target(repo.fleet.settings, config, repo.source_revision(config))
        sys.stdout.write(yamltext.dump_all(_objects(repo, rendered)))
        return
    environments = [TargetRef.parse(t).environment for t in targets or []]
    if (gitops is not None or commit) and out is None:
        flag = "--gitops" if gitops is not None else "--commit"
        raise InputError(f"{flag} needs --out DIR (the folder Argo CD or Flux syncs)")
    place = handoff.holder(out) if out is not None and (gitops is not None or commit) else None
    gitops_files: dict[str, bytes] = {}
    if gitops is not None and place is not None:  # everything that can refuse, before anything is written
        settings = _gitops_settings(repo, place)
        if gitops is GitOpsTool.argocd:
            objects = gitops_objects.argocd_objects(repo.fleet, settings)
        else:
            objects = gitops_objects.flux_objects(repo.fleet, settings)
        gitops_files = dict(gitops_objects.gitops_files(objects))
    with output.progress("rendering", len(repo.targets(environments))) as advance:  # advance(n)
        report, keep = folders.render_fleet(repo, out, environments, _resources(repo), advance)
    if gitops is not None and out is not None:
        if gitops is GitOpsTool.argocd:
            folder = out / gitops_objects.ARGOCD_FOLDER
        else:
            folder = out / gitops_objects.FLUX_FOLDER
            uses_sops = any(
                name.endswith(sops_secrets.MANIFEST_SUFFIX) for name in report.written + report.unchanged
            )
            if uses_sops:  # Flux decrypts the SOPS Secrets the folders now hold
                assert place is not None  # --gitops with --out always has a holder
                objects = gitops_objects.flux_objects(repo.fleet, _gitops_settings(repo, place), sops=True)
                gitops_files = dict(gitops_objects.gitops_files(objects))
        folders.write_folder(folder, gitops_files, report)
    if prune and out is not None:
        folders.prune(out, keep, report)
    committed: str | None = None
    pushed = False
    if commit and place is not None:
        text = handoff.message(repo.fleet.name, repo.head(), _pinned_requests(repo))
        committed, pushed = handoff.commit(place, text, repo.fleet.settings.git)
    if as_json:
        output.print_json(
            {
                "written": report.written,
                "unchanged": report.unchanged,
                "removed": report.removed,
                **({"commit": committed, "pushed": pushed} if commit else {}),
            }
        )
        return
    if commit:
        said = (
            f"committed {committed[:12]}" + (" and pushed" if pushed else "")
            if committed
            else "nothing to commit"
        )
        output.err.print(said)
    output.out.print(
        output.Text(f"{len(keep)} cluster folders: ")
        + output.styled(f"{len(report.written)} files written", "green" if report.written else "dim")
        + f", {len(report.unchanged)} unchanged"
        + (f", {len(report.removed)} removed" if report.removed else "")
    )


def _gitops_settings(repo: Repository, place: handoff.Holder) -> gitops_objects.GitOpsSettings:
    """Paths relative to the git repository holding --out (the config or a deploy repository)."""
    render = repo.fleet.settings.render
    return gitops_objects.GitOpsSettings(
        path_prefix=place.folder,
        repo_url=place.remote_url(),
        argocd=render.argocd,
        flux=render.flux,
    )


def _pinned_requests(repo: Repository) -> list[str]:
    """The requests (``PR-<n>``) lamina.lock's pins came from."""
    from lamina.fleet import lockfile

    pins = lockfile.read_pins(repo.tree, repo.fleet.environments)
    return [pin.request for pin in pins.values() if pin.request and pin.request.startswith("PR-")]


def _resources(repo: Repository) -> list[str]:
    return list(repo.fleet.settings.render.resources)


def _objects(repo: Repository, rendered: configmaps.RenderedConfig) -> list[dict[str, Any]]:
    objects = [*rendered.kept_objects(), *rendered.external_secrets(), rendered.configmap()]
    render = repo.fleet.settings.render
    if render.workload:
        objects.append(configmaps.workload_patch(render.workload, rendered, render.container, render.env))
    return objects
