"""``lamina init [DIR]``: write a working example fleet."""

from __future__ import annotations

from pathlib import Path

import click

from lamina.cli import output
from lamina.fleet import scaffold


@click.command()
@click.argument(
    "directory",
    type=click.Path(path_type=Path),
    required=False,
    default=Path(),
    help="Where to write the example.",
)
@click.option("--git/--no-git", "git", default=True, help="Make it a git repository.")
def init(directory: Path, git: bool) -> None:
    """Write the example fleet: four environments, five clusters, a schema and a policy."""
    written = scaffold.write_example(directory, git=git)
    output.out.print(
        output.styled(f"wrote {len(written)} files to {directory}", "green")
        + (" and committed them" if git else "")
    )
    output.out.print(f"next: lamina --repo {directory} envs")
