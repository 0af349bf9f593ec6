"""``lamina render``: Kubernetes objects to stdout, or GitOps folders on disk."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lamina.cli import output
from lamina.cli.session import session
from lamina.core.targets import TargetRef
from lamina.errors import InputError
from lamina.render import configmaps, folders, yamltext
from lamina.resolve.resolver import Repository


def render(
    ctx: typer.Context,
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Environments (or one ENV/CLUSTER with --print); default: all."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write one folder per cluster here.")] = None,
    print_objects: Annotated[
        bool, typer.Option("--print", help="Print the objects of one ENV/CLUSTER as a YAML stream.")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove folders of clusters no longer in the fleet.")
    ] = False,
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
        rendered = configmaps.render_config(config, repo.source_revision(config))
        sys.stdout.write(yamltext.dump_all(_objects(repo, rendered)))
        return
    environments = [TargetRef.parse(t).environment for t in targets or []]
    resources = _resources(repo)
    report = folders.WriteReport()
    keep: list[str] = []
    refs = repo.targets(environments)
    with output.progress("rendering", len(refs)) as advance:
        for ref in refs:
            config = repo.resolve(ref)
            assert config.cluster is not None
            if out is not None:
                folder = out / config.cluster.name
            elif config.cluster.directory is not None:
                folder = repo.root / config.cluster.directory
            else:
                advance()
                continue
            keep.append(config.cluster.name)
            rendered = configmaps.render_config(config, repo.source_revision(config))
            folders.write_folder(folder, folders.folder_files(rendered, resources), report)
            advance()
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


def _resources(repo: Repository) -> list[str]:
    resources = repo.fleet.section("render").get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise InputError(
            "[render] resources must be a list of paths",
            repo.fleet.document.place(("render", "resources")),
        )
    return resources


def _objects(repo: Repository, rendered: configmaps.RenderedConfig) -> list[dict[str, Any]]:
    objects = [rendered.configmap()]
    workload = repo.fleet.section("render").get("workload")
    if isinstance(workload, str) and workload:
        objects.append(configmaps.workload_patch(workload, rendered))
    return objects
