"""``lamina serve`` and ``lamina token create``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from lamina.cli import commands, output
from lamina.cli.session import session


@click.group(cls=commands.Group, no_args_is_help=True)
def token_app() -> None:
    """Bearer tokens for the server."""


def tokens_path(ctx: click.Context) -> Path:
    """[server] tokens_file in lamina.toml, else $LAMINA_TOKENS_FILE, else .lamina/tokens.toml."""
    env = os.environ.get("LAMINA_TOKENS_FILE")
    if env:
        return Path(env)
    repo = session(ctx).repository()
    configured = repo.fleet.settings.server.tokens_file
    if configured is not None:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else repo.root / path
    return repo.root / ".lamina" / "tokens.toml"


@token_app.command("create")
@click.argument("user", help="Who the token belongs to.")
@click.option(
    "--role",
    "role",
    required=True,
    multiple=True,
    callback=commands.listed_all,
    help="viewer, editor, approver:<env> or admin (repeatable).",
)
@click.pass_context
def create(ctx: click.Context, user: str, role: list[str]) -> None:
    """Create a token for USER; it is printed once and only its hash is stored."""
    from lamina.server import tokens

    path = tokens_path(ctx)
    token = tokens.create(path, user, role)
    sys.stdout.write(token + "\n")
    output.err.print(f"stored its SHA-256 in {path} (the token is not kept anywhere)")


@click.command()
@click.option("--host", "host", default="127.0.0.1", help="Address to listen on.")
@click.option("--port", "port", type=int, default=8080, help="Port to listen on.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Run the API, the dashboard, metrics and scheduled drift checks in one process."""
    from lamina.server import runner
    from lamina.server.settings import ServerSettings

    root = session(ctx).root()
    settings = ServerSettings(
        repo_root=root.resolve(),
        tokens_file=tokens_path(ctx),
        database_url=os.environ.get("LAMINA_DATABASE_URL"),
        environ=dict(os.environ),
    )
    output.err.print(f"lamina serving {root} on http://{host}:{port}/")
    runner.run(settings, host, port)
