"""``lamina serve`` and ``lamina token create``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from lamina.cli import output
from lamina.cli.session import session

token_app = typer.Typer(help="Bearer tokens for the server.", no_args_is_help=True)


def tokens_path(ctx: typer.Context) -> Path:
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
def create(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="Who the token belongs to.")],
    role: Annotated[
        list[str], typer.Option("--role", help="viewer, editor, approver:<env> or admin (repeatable).")
    ],
) -> None:
    """Create a token for USER; it is printed once and only its hash is stored."""
    from lamina.server import tokens

    path = tokens_path(ctx)
    token = tokens.create(path, user, role)
    sys.stdout.write(token + "\n")
    output.err.print(f"stored its SHA-256 in {path} (the token is not kept anywhere)")


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
) -> None:
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
