"""``lamina secrets check ENV``: every referenced secret exists where it runs (names only)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from lamina.cli import completing, output
from lamina.cli.apply import kube_settings
from lamina.cli.session import session
from lamina.clusters import secrets as checking
from lamina.resolve.repository import Repository

app = typer.Typer(
    name="secrets",
    help="Check the secrets configs reference (names and keys only, never values).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def secret_lookups(repo: Repository) -> checking.Lookups:
    """The Kubernetes and Vault lookups of this command (close them, or use ``with``)."""
    return checking.Lookups.from_environment(os.environ, kube_settings(repo))


@app.command("check")
def check(
    ctx: typer.Context,
    environment: Annotated[
        str, typer.Argument(help="The environment to check.", autocompletion=completing.environments)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every {secret = "name/key"} of ENV's targets exists in each cluster; exit 1 when one is missing."""
    repo = session(ctx).repository()
    with secret_lookups(repo) as lookups:
        checks = checking.check_environment(repo, environment, lookups)
    if as_json:
        output.print_json([c.to_json() for c in checks])
    elif not checks:
        output.out.print(f"{environment} references no secrets")
    else:
        styles = {"present": "green", "missing": "red", "unreachable": "red", "skipped": "yellow"}
        output.print_table(
            ["CLUSTER", "SECRET", "STATUS", "DETAIL"],
            [
                [c.cluster, c.reference, output.styled(c.status, styles.get(c.status, "")), c.detail or "-"]
                for c in checks
            ],
        )
    if checking.failures(checks):
        raise typer.Exit(1)


@app.command("edit")
def edit(
    file: Annotated[Path, typer.Argument(help="The SOPS file to edit (created when new).")],
) -> None:
    """Open FILE with `sops FILE`: it decrypts into your $EDITOR and encrypts again on save."""
    import subprocess

    from lamina.secrets import sops

    done = subprocess.run([sops.binary(), str(file)], check=False)  # the terminal stays sops's
    if done.returncode != 0:
        raise typer.Exit(done.returncode)
