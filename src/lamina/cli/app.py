"""The ``lamina`` entry point: global options, the verbs, and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from click.exceptions import NoArgsIsHelpError

from lamina.cli.commands import Lazy, group

# One line per command: name, where it lives (imported only when it runs), one line of help.
COMMANDS: dict[str, Lazy] = {
    "init": Lazy("lamina.cli.init:init", "Write the example fleet: environments, clusters, schema, policy."),
    "envs": Lazy("lamina.cli.envs:envs", "List environments: stage, extends, upstream, pin, clusters."),
    "clusters": Lazy("lamina.cli.envs:clusters", "List clusters: environment, namespace, labels, health."),
    "build": Lazy("lamina.cli.build:build", "Print the resolved config of a target."),
    "explain": Lazy("lamina.cli.explain:explain", "Show every layer that set KEY, the winner last."),
    "diff": Lazy("lamina.cli.diff:diff", "Field-level differences between two targets."),
    "parity": Lazy("lamina.cli.parity:parity", "Every key that differs between environments."),
    "render": Lazy("lamina.cli.render:render", "Render ConfigMaps: --print one target, --out DIR folders."),
    "plan": Lazy("lamina.cli.plan:plan", "What a change does to every target."),
    "validate": Lazy("lamina.cli.validate:validate", "Check every target and report every problem."),
    "migrate": Lazy("lamina.cli.migrate:migrate", "Show (or --write) the [[migrations]] files still need."),
    "audit": Lazy("lamina.cli.audit:audit", "Show the audit log, or verify that no row was tampered with."),
    "serve": Lazy("lamina.cli.serve:serve", "Run the API, dashboard, metrics and drift checks."),
    "token": Lazy("lamina.cli.serve:token_app", "Bearer tokens for the server."),
    "apply": Lazy("lamina.cli.apply:apply", "Vet, then apply targets' ConfigMaps wave by wave."),
    "drift": Lazy("lamina.cli.drift:drift", "Drift status per cluster with field-level differences."),
    "secrets": Lazy("lamina.cli.secrets:app", "Check the secrets configs reference (names only)."),
    "promote": Lazy("lamina.cli.promote:app", "Move an environment's pin along the promotion path."),
    "change": Lazy("lamina.cli.change:app", "Request and apply changes outside base/ on protected envs."),
    "history": Lazy("lamina.cli.history:history", "Pins, promotions and applies of ENV; --stats for DORA."),
    "rollback": Lazy("lamina.cli.history:rollback", "Request a rollback of ENV to an older revision."),
    "freeze": Lazy("lamina.cli.freeze:freeze", "Refuse promotions into ENV until a time."),
    "unfreeze": Lazy("lamina.cli.freeze:unfreeze", "Lift the manual freeze of ENV."),
    "status": Lazy("lamina.cli.status:status", "Promotion path, drift, requests awaiting you, freezes."),
    "completion": Lazy("lamina.cli.completing:completion", "Print the shell completion script."),
    "rollout": Lazy("lamina.cli.rollout:app", "Status, pause, resume or abort progressive rollouts."),
    "notices": Lazy("lamina.cli.notices:notices", "The outbox of notices; --send delivers those due."),
}


@click.group(
    cls=group(COMMANDS),
    name="lamina",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@click.option(
    "--repo",
    type=click.Path(path_type=Path),
    help="The config repository (default: $LAMINA_REPO, then the nearest lamina.toml upward).",
)
@click.option("--as", "actor", help="Act as this user (default: $LAMINA_USER, git user.email).")
@click.option(
    "--sign-with",
    type=click.Path(path_type=Path),
    help="Sign decisions with this SSH private key (default: $LAMINA_SIGNING_KEY); proves who "
    "you are on protected environments.",
)
@click.pass_context
def app(ctx: click.Context, repo: Path | None, actor: str | None, sign_with: Path | None) -> None:
    """Layered configuration for AI agents on many Kubernetes clusters."""
    from lamina.cli.session import Session

    ctx.obj = Session(repo_option=repo, actor=actor, signing_key=sign_with)
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    """Run the CLI; every lamina error ends as ``error: <where>: <what>`` and its exit code."""
    try:
        code = app.main(prog_name="lamina", complete_var="_LAMINA_COMPLETE", standalone_mode=False)
    except click.exceptions.Abort:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    except NoArgsIsHelpError as exc:  # `lamina` or `lamina promote` alone: the help, as -h prints it
        helped = exc.ctx
        sys.stdout.write(helped.get_help() + "\n" if helped is not None else exc.format_message())
        sys.exit(0)
    except click.ClickException as exc:  # a usage error: one line, like every other error, naming the command
        context = getattr(exc, "ctx", None)
        where = context.command_path if context is not None else "lamina"
        message = exc.format_message().rstrip(".")
        sys.stderr.write(f"error: {where}: {message[:1].lower()}{message[1:]} (see {where} -h)\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        from lamina.errors import LaminaError  # here, so `lamina --help` does not load it

        if isinstance(exc, LaminaError):
            sys.stderr.write(f"error: {exc}\n")
            sys.exit(exc.exit_code)
        if os.environ.get("LAMINA_DEBUG"):
            raise
        sys.stderr.write(
            f"error: internal error: {type(exc).__name__}: {exc} (set LAMINA_DEBUG=1 for details)\n"
        )
        sys.exit(70)
    sys.exit(code if isinstance(code, int) else 0)
