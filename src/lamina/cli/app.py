"""The ``lamina`` entry point: global options, the verbs, and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.exceptions import TyperException

from lamina.cli import (
    apply,
    audit,
    build,
    change,
    diff,
    drift,
    envs,
    explain,
    freeze,
    history,
    init,
    migrate,
    parity,
    plan,
    promote,
    render,
    rollout,
    secrets,
    serve,
    validate,
)
from lamina.cli.session import Session
from lamina.errors import LaminaError

app = typer.Typer(
    name="lamina",
    help="Layered configuration for AI agents on many Kubernetes clusters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def global_options(
    ctx: typer.Context,
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            help="The config repository (default: $LAMINA_REPO, then the nearest lamina.toml upward).",
        ),
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--as", help="Act as this user (default: $LAMINA_USER, git user.email).")
    ] = None,
    sign_with: Annotated[
        Path | None,
        typer.Option(
            "--sign-with",
            help="Sign decisions with this SSH private key (default: $LAMINA_SIGNING_KEY); proves who "
            "you are on protected environments.",
        ),
    ] = None,
) -> None:
    """Layered configuration for AI agents on many Kubernetes clusters."""
    ctx.obj = Session(repo_option=repo, actor=actor, signing_key=sign_with)
    ctx.call_on_close(ctx.obj.close)


app.command("init")(init.init)
app.command("envs")(envs.envs)
app.command("clusters")(envs.clusters)
app.command("build")(build.build)
app.command("explain")(explain.explain)
app.command("diff")(diff.diff)
app.command("parity")(parity.parity)
app.command("render")(render.render)
app.command("plan")(plan.plan)
app.command("validate")(validate.validate)
app.command("migrate")(migrate.migrate)
app.command("audit")(audit.audit)
app.command("serve")(serve.serve)
app.add_typer(serve.token_app, name="token")
app.command("apply")(apply.apply)
app.command("drift")(drift.drift)
app.add_typer(secrets.app, name="secrets")
app.add_typer(promote.app, name="promote")
app.add_typer(change.app, name="change")
app.add_typer(rollout.app, name="rollout")
app.command("history")(history.history)
app.command("rollback")(history.rollback)
app.command("freeze")(freeze.freeze)
app.command("unfreeze")(freeze.unfreeze)


def main() -> None:
    """Run the CLI; every lamina error ends as ``error: <where>: <what>`` and its exit code."""
    try:
        code = app(prog_name="lamina", standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    except TyperException as exc:  # a usage error: one line, like every other error, naming the command
        context = getattr(exc, "ctx", None)
        where = context.command_path if context is not None else "lamina"
        message = exc.format_message().rstrip(".")
        sys.stderr.write(f"error: {where}: {message[:1].lower()}{message[1:]} (see {where} -h)\n")
        sys.exit(exc.exit_code)
    except LaminaError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("LAMINA_DEBUG"):
            raise
        sys.stderr.write(
            f"error: internal error: {type(exc).__name__}: {exc} (set LAMINA_DEBUG=1 for details)\n"
        )
        sys.exit(70)
    sys.exit(code if isinstance(code, int) else 0)
