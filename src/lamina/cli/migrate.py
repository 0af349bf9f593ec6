"""``lamina migrate [--write]``: upgrade config files to the newest schema_version."""

from __future__ import annotations

import click

from lamina.cli import commands, output
from lamina.cli.session import session
from lamina.resolve import migrations
from lamina.source.edits import write_atomic


@click.command()
@click.option("--write", "write", is_flag=True, help="Rewrite the files in place.")
@commands.json_option
@click.pass_context
def migrate(ctx: click.Context, write: bool, as_json: bool) -> None:
    """Show (or, with --write, apply) the [[migrations]] each file still needs.

    Exits 1 when files need migrating and --write was not given.
    """
    repo = session(ctx).repository()
    files = repo.layer_files()
    todo = migrations.pending(files, repo.tree.read_bytes, repo.migrations)
    if write:
        # compute every new text first, then replace each file in one rename
        texts = {
            item.path: migrations.rewrite(repo.tree.read_bytes(item.path).decode("utf-8"), item)
            for item in todo
        }
        for path, text in texts.items():
            write_atomic(repo.root / path, text)
    if as_json:
        output.print_json(
            {"newest": repo.migrations.newest, "written": write, "files": [m.to_json() for m in todo]}
        )
    elif not todo:
        output.out.print(output.styled(f"all {len(files)} config files are at the newest version", "green"))
    else:
        for item in todo:
            output.out.print(output.styled(item.path, "bold"))
            for step in item.steps:
                output.out.print(f"  {step.describe()}")
        verb = "migrated" if write else "need migrating (run with --write)"
        output.out.print(output.styled(f"{len(todo)} of {len(files)} files {verb}", "yellow"))
    if todo and not write:
        raise click.exceptions.Exit(1)
