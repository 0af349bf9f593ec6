"""``lamina secrets check ENV``: every referenced secret exists where it runs (names only)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from lamina.cli import commands, completing, output
from lamina.cli.apply import kube_settings
from lamina.cli.session import session
from lamina.clusters import secrets as checking
from lamina.resolve.repository import Repository


@click.group(cls=commands.Group, no_args_is_help=True)
def app() -> None:
    """Check the secrets configs reference (names and keys only, never values)."""


def secret_lookups(repo: Repository) -> checking.Lookups:
    """The Kubernetes and Vault lookups of this command (close them, or use ``with``)."""
    return checking.Lookups.from_environment(os.environ, kube_settings(repo))


@app.command("check")
@click.argument("environment", help="The environment to check.", shell_complete=completing.environments)
@commands.json_option
@click.pass_context
def check(ctx: click.Context, environment: str, as_json: bool) -> None:
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
        raise click.exceptions.Exit(1)


@app.command("edit")
@click.argument("file", type=click.Path(path_type=Path), help="The SOPS file to edit (created when new).")
def edit(file: Path) -> None:
    """Open FILE with `sops FILE`: it decrypts into your $EDITOR and encrypts again on save."""
    import subprocess

    from lamina.secrets import sops

    done = subprocess.run([sops.binary(), str(file)], check=False)  # the terminal stays sops's
    if done.returncode != 0:
        raise click.exceptions.Exit(done.returncode)
