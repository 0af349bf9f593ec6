"""``lamina init [DIR]``: write a working example fleet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lamina.cli import output
from lamina.fleet import scaffold


def init(
    directory: Annotated[Path, typer.Argument(help="Where to write the example.")] = Path(),
    git: Annotated[bool, typer.Option("--git/--no-git", help="Make it a git repository.")] = True,
) -> None:
    """Write the example fleet: four environments, five clusters, a schema and a policy."""
    written = scaffold.write_example(directory, git=git)
    output.out.print(
        output.styled(f"wrote {len(written)} files to {directory}", "green")
        + (" and committed them" if git else "")
    )
    output.out.print(f"next: lamina --repo {directory} envs")
